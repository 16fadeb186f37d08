//! Credentials: cards issued to one person or one visit. The card identifier is
//! normalised (upper-case hex, no separators); the PIN, 4 to 8 digits, is stored hashed
//! and never returned (`has_pin` says whether one is set). A revoked credential is final
//! (409 on any change); its card may then be issued again.

use super::site_model::{not_found, nullable};
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::api::time::Timestamp;
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadSecurityModel, WriteSecurityModel};
use crate::domain::credential::{CredentialChangeInput, CredentialInput};
use crate::state::AppState;
use crate::store::{CredentialChange, CredentialFilter, CredentialRecord, NewCredential};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::DateTime;
use gatehouse_core::model::{CardKind, CredentialState};
use secrecy::SecretString;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_credentials, create_credential))
        .routes(routes!(get_credential, update_credential))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCredential {
    /// The holder, when a person (exactly one of `person_id` and `visit_id`).
    person_id: Option<Uuid>,
    /// The holder, when a visit.
    visit_id: Option<Uuid>,
    /// Card identifier in hex; `:`, `-` and spaces between digits are ignored.
    // The pattern is gatehouse_core::model::CARD_PATTERN (a test compares them).
    #[schema(
        pattern = "^[:\\- ]*(?:[0-9A-Fa-f][:\\- ]*[0-9A-Fa-f][:\\- ]*){1,32}$",
        max_length = 128
    )]
    card: String,
    /// Default `uid`.
    kind: Option<CardKind>,
    valid_from: Option<Timestamp>,
    valid_until: Option<Timestamp>,
    /// 4 to 8 digits.
    #[schema(value_type = Option<String>, format = Password, pattern = "^[0-9]{4,8}$")]
    pin: Option<SecretString>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateCredential {
    /// A revoked credential cannot change.
    state: Option<CredentialState>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Timestamp>)]
    valid_from: Option<Option<Timestamp>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Timestamp>)]
    valid_until: Option<Option<Timestamp>>,
    /// 4 to 8 digits; `null` removes the PIN.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, format = Password, pattern = "^[0-9]{4,8}$")]
    pin: Option<Option<SecretString>>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListCredentials {
    /// Only credentials of this person.
    person_id: Option<Uuid>,
    /// Only credentials of this visit.
    visit_id: Option<Uuid>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List credentials in issue order, of one person or visit or of all.
#[utoipa::path(get, path = "/credentials", tag = "credentials", security(("bearer" = [])),
    params(ListCredentials),
    responses((status = 200, body = Page<CredentialRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_credentials(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiQuery(query): ApiQuery<ListCredentials>,
) -> Result<Json<Page<CredentialRecord>>, ApiError> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let filter = CredentialFilter {
        person_id: query.person_id,
        visit_id: query.visit_id,
    };
    let rows = state
        .store
        .list_credentials(filter, page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |c| c.id)))
}

/// Issue a credential to a person or a visit (not to a visit that is checked out).
#[utoipa::path(post, path = "/credentials", tag = "credentials", security(("bearer" = [])),
    request_body = CreateCredential,
    responses((status = 201, body = CredentialRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 409, description = "card already issued, or the visit is over", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn create_credential(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiJson(request): ApiJson<CreateCredential>,
) -> Result<(StatusCode, Json<CredentialRecord>), ApiError> {
    let new = NewCredential::parse(CredentialInput {
        person_id: request.person_id,
        visit_id: request.visit_id,
        card: request.card,
        kind: request.kind,
        valid_from: request.valid_from.map(DateTime::from),
        valid_until: request.valid_until.map(DateTime::from),
        pin: request.pin,
    })?;
    let credential = state.store.create_credential(new, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(credential)))
}

/// One credential.
#[utoipa::path(get, path = "/credentials/{id}", tag = "credentials", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CredentialRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_credential(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CredentialRecord>, ApiError> {
    let credential = state
        .store
        .credential(id)
        .await
        .map_err(not_found("credential"))?;
    Ok(Json(credential))
}

/// Change state (`active`, `suspended`, `lost`, `revoked`), validity or PIN. A revoked
/// credential cannot change (409): issue a new one.
#[utoipa::path(patch, path = "/credentials/{id}", tag = "credentials", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateCredential,
    responses((status = 200, body = CredentialRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "the credential is revoked", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn update_credential(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<UpdateCredential>,
) -> Result<Json<CredentialRecord>, ApiError> {
    let change = CredentialChange::parse(CredentialChangeInput {
        state: request.state,
        valid_from: request.valid_from.map(|v| v.map(DateTime::from)),
        valid_until: request.valid_until.map(|v| v.map(DateTime::from)),
        pin: request.pin,
    })?;
    let credential = state
        .store
        .update_credential(id, change, &auth.actor())
        .await
        .map_err(not_found("credential"))?;
    Ok(Json(credential))
}
