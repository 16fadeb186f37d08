//! People (staff and contractors) and their vetting history. People are never deleted:
//! set status `left`. Anyone who looks up people (receptionists too, to find a host)
//! sees who they are; their vetting, groups and clearance only roles that read the
//! security model (left out while serialising, see `auth::visibility`).

use super::site_model::{not_found, nullable};
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::api::time::Timestamp;
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadPeople, ReadSecurityModel, WriteSecurityModel};
use crate::domain::person;
use crate::state::AppState;
use crate::store::{NewPerson, NewVetting, PersonChange, PersonRecord, VettingRecord, now};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::DateTime;
use gatehouse_core::model::{PersonKind, PersonStatus, VettingStatus};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_people, create_person))
        .routes(routes!(get_person, update_person))
        .routes(routes!(vetting_history, record_vetting))
        .routes(routes!(set_email))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePerson {
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: String,
    kind: PersonKind,
    /// The company a contractor works for.
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    employer: Option<String>,
    /// Clearance level, 0 to 255.
    #[schema(maximum = 255)]
    clearance: u8,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdatePerson {
    /// HR's key for the person (employee number), as the bulk import matches it; `null`
    /// clears it. 409 when another person has it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "\\S", min_length = 1, max_length = 128)]
    external_id: Option<Option<String>>,
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: Option<String>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, pattern = "\\S", min_length = 1, max_length = 128)]
    employer: Option<Option<String>>,
    #[schema(maximum = 255)]
    clearance: Option<u8>,
    /// `left` for someone who has left; people are never deleted.
    status: Option<PersonStatus>,
}

/// A vetting decision. `cleared_until` goes only with `cleared` and must be in the
/// future; `cleared` without it is a clearance with no end.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordVetting {
    status: VettingStatus,
    cleared_until: Option<Timestamp>,
    /// The check's reference, e.g. the vetting agency's case number.
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    reference: Option<String>,
    #[schema(pattern = "\\S", min_length = 1, max_length = 2000)]
    note: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListPeople {
    /// Only people whose name contains this, ignoring case.
    #[param(min_length = 1, max_length = 128)]
    q: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List people in creation order, optionally by name.
#[utoipa::path(get, path = "/people", tag = "people", security(("bearer" = [])),
    params(ListPeople),
    responses((status = 200, body = Page<PersonRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_people(
    State(state): State<AppState>,
    _auth: Authorized<ReadPeople>,
    ApiQuery(query): ApiQuery<ListPeople>,
) -> Result<Json<Page<PersonRecord>>, ApiError> {
    let q = person::name_query(query.q.as_deref())?;
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let rows = state
        .store
        .list_people(page.cursor()?, q.as_deref(), limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |p| p.id)))
}

/// Register a person (status `active`, no vetting yet).
#[utoipa::path(post, path = "/people", tag = "people", security(("bearer" = [])),
    request_body = CreatePerson,
    responses((status = 201, body = PersonRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn create_person(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiJson(request): ApiJson<CreatePerson>,
) -> Result<(StatusCode, Json<PersonRecord>), ApiError> {
    let new = NewPerson {
        name: request.name,
        kind: request.kind,
        employer: request.employer,
        clearance: request.clearance,
    }
    .checked()?;
    let person = state.store.create_person(new, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(person)))
}

/// One person, with current vetting and groups.
#[utoipa::path(get, path = "/people/{id}", tag = "people", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = PersonRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_person(
    State(state): State<AppState>,
    _auth: Authorized<ReadPeople>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<PersonRecord>, ApiError> {
    Ok(Json(
        state.store.person(id).await.map_err(not_found("person"))?,
    ))
}

/// Change external id, name, employer, clearance or status (`active`, `suspended`, `left`).
#[utoipa::path(patch, path = "/people/{id}", tag = "people", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdatePerson,
    responses((status = 200, body = PersonRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "external_id taken", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn update_person(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<UpdatePerson>,
) -> Result<Json<PersonRecord>, ApiError> {
    let change = PersonChange {
        external_id: request.external_id,
        name: request.name,
        employer: request.employer,
        clearance: request.clearance,
        status: request.status,
    }
    .checked()?;
    let person = state
        .store
        .update_person(id, change, &auth.actor())
        .await
        .map_err(not_found("person"))?;
    Ok(Json(person))
}

/// A person's vetting records, newest first.
#[utoipa::path(get, path = "/people/{id}/vetting", tag = "people", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Vec<VettingRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn vetting_history(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Vec<VettingRecord>>, ApiError> {
    let history = state
        .store
        .vetting_history(id)
        .await
        .map_err(not_found("person"))?;
    Ok(Json(history))
}

/// Record a vetting decision (checked by the calling operator, now); it becomes the
/// person's current vetting. Earlier records stay in the history.
#[utoipa::path(put, path = "/people/{id}/vetting", tag = "people", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = RecordVetting,
    responses((status = 200, body = PersonRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn record_vetting(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<RecordVetting>,
) -> Result<Json<PersonRecord>, ApiError> {
    let new = NewVetting {
        status: request.status,
        cleared_until: request.cleared_until.map(DateTime::from),
        reference: request.reference,
        note: request.note,
    }
    .checked(now())?;
    let person = state
        .store
        .record_vetting(id, new, &auth.actor())
        .await
        .map_err(not_found("person"))?;
    Ok(Json(person))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonEmail {
    /// Where the person is told their visitors arrived; `null` clears it.
    #[schema(max_length = 254)]
    email: Option<String>,
}

/// Set or clear the person's email address (a host's arrival notices go there).
#[utoipa::path(put, path = "/people/{id}/email", tag = "people", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = PersonEmail,
    responses((status = 204), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn set_email(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<PersonEmail>,
) -> Result<StatusCode, ApiError> {
    let email = crate::domain::checks::optional_email("email", request.email.as_deref())?;
    match state.store.set_person_email(id, email, &auth.actor()).await {
        Err(crate::store::ModelError::Invalid {
            field: "person_id", ..
        }) => Err(ApiError::NotFound("person")),
        other => other.map(|()| StatusCode::NO_CONTENT).map_err(Into::into),
    }
}
