//! Operator administration (admins only).

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::auth::extract::Authorized;
use crate::auth::password;
use crate::auth::permissions::ManageOperators;
use crate::domain::operator;
use crate::state::AppState;
use crate::store::{NewOperator, Operator, OperatorChange, OperatorStatus, StoreError};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_core::role::Role;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_operators, create_operator))
        .routes(routes!(get_operator, update_operator))
        .routes(routes!(set_password))
        .routes(routes!(link_person))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOperator {
    /// 1–64 characters: lower-case letters, digits, `.`, `_`, `-`.
    #[schema(pattern = "^[a-z0-9._-]{1,64}$")]
    username: String,
    /// 12 to 1024 characters.
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 1024)]
    password: SecretString,
    role: Role,
    /// Defaults to the username.
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    display_name: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOperator {
    role: Option<Role>,
    status: Option<OperatorStatus>,
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    display_name: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LinkPerson {
    /// The person the account is; `null` unlinks.
    person_id: Option<Uuid>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPassword {
    /// 12 to 1024 characters.
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 1024)]
    password: SecretString,
}

/// List operator accounts.
#[utoipa::path(get, path = "/operators", tag = "operators", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<Operator>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_operators(
    State(state): State<AppState>,
    _auth: Authorized<ManageOperators>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<Operator>>, ApiError> {
    let limit = page.limit()?;
    let rows = state
        .store
        .list_operators(page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |o| o.id)))
}

/// Create an operator account.
#[utoipa::path(post, path = "/operators", tag = "operators", security(("bearer" = [])),
    request_body = CreateOperator,
    responses((status = 201, body = Operator), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 409, description = "username taken", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn create_operator(
    State(state): State<AppState>,
    auth: Authorized<ManageOperators>,
    ApiJson(request): ApiJson<CreateOperator>,
) -> Result<(StatusCode, Json<Operator>), ApiError> {
    let display_name = operator::check_new(
        &request.username,
        request.password.expose_secret(),
        request.display_name.as_deref(),
    )?;
    let new = NewOperator {
        display_name,
        username: request.username,
        role: request.role,
        password_hash: password::hash(request.password).await?,
    };
    let operator = state.store.create_operator(new, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(operator)))
}

/// One operator account.
#[utoipa::path(get, path = "/operators/{id}", tag = "operators", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Operator), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_operator(
    State(state): State<AppState>,
    _auth: Authorized<ManageOperators>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Operator>, ApiError> {
    Ok(Json(state.store.operator(id).await.map_err(not_found)?))
}

/// Change role, status or display name. A change of role or status ends the operator's
/// sessions at once. The last active admin cannot be disabled or demoted (409).
#[utoipa::path(patch, path = "/operators/{id}", tag = "operators", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateOperator,
    responses((status = 200, body = Operator), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn update_operator(
    State(state): State<AppState>,
    auth: Authorized<ManageOperators>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<UpdateOperator>,
) -> Result<Json<Operator>, ApiError> {
    let change = OperatorChange {
        display_name: operator::display_name(request.display_name.as_deref())?,
        role: request.role,
        status: request.status,
    };
    let operator = state
        .store
        .update_operator(id, change, &auth.actor())
        .await
        .map_err(not_found)?;
    Ok(Json(operator))
}

/// Link the account to the person it is, or unlink it (`null`). A host invites, sees
/// and is told about the visitors of that person. The person must exist (422); a
/// person has at most one account (409).
#[utoipa::path(put, path = "/operators/{id}/person", tag = "operators", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = LinkPerson,
    responses((status = 200, body = Operator), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn link_person(
    State(state): State<AppState>,
    auth: Authorized<ManageOperators>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<LinkPerson>,
) -> Result<Json<Operator>, ApiError> {
    let linked = state
        .store
        .link_operator_person(id, request.person_id, &auth.actor())
        .await;
    Ok(Json(
        linked.map_err(super::site_model::not_found("operator"))?,
    ))
}

/// Set an operator's password; ends their sessions.
#[utoipa::path(put, path = "/operators/{id}/password", tag = "operators", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = SetPassword,
    responses((status = 204), (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn set_password(
    State(state): State<AppState>,
    auth: Authorized<ManageOperators>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<SetPassword>,
) -> Result<StatusCode, ApiError> {
    operator::check_password("password", request.password.expose_secret())?;
    let hash = password::hash(request.password).await?;
    state
        .store
        .set_operator_password(id, &hash, &auth.actor())
        .await
        .map_err(not_found)?;
    Ok(StatusCode::NO_CONTENT)
}

fn not_found(error: StoreError) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::NotFound("operator"),
        other => other.into(),
    }
}
