//! Visits, minimal for now: registration, check-in and check-out. A visit's credentials
//! work only while it is checked in, not out, and inside its window; check-out also
//! revokes them, so the card can be issued again.

use super::site_model::not_found;
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::api::time::Timestamp;
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadVisits, WriteVisits};
use crate::domain::visit::VisitInput;
use crate::state::AppState;
use crate::store::{NewVisit, VisitRecord};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_visits, create_visit))
        .routes(routes!(get_visit))
        .routes(routes!(check_in))
        .routes(routes!(check_out))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVisit {
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    visitor_name: String,
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    visitor_organisation: Option<String>,
    host_person_id: Uuid,
    window_start: Timestamp,
    /// After `window_start`.
    window_end: Timestamp,
    /// Zones the visitor may enter (exactly these, no descendants).
    #[schema(max_items = 1000)]
    allowed_zone_ids: Vec<Uuid>,
    /// Default false.
    escort_required: Option<bool>,
}

/// List visits in registration order.
#[utoipa::path(get, path = "/visits", tag = "visits", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<VisitRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_visits(
    State(state): State<AppState>,
    _auth: Authorized<ReadVisits>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<VisitRecord>>, ApiError> {
    let limit = page.limit()?;
    let rows = state.store.list_visits(page.cursor()?, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |v| v.id)))
}

/// Register a visit. The host and every zone must exist (422 naming the field).
#[utoipa::path(post, path = "/visits", tag = "visits", security(("bearer" = [])),
    request_body = CreateVisit,
    responses((status = 201, body = VisitRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn create_visit(
    State(state): State<AppState>,
    auth: Authorized<WriteVisits>,
    ApiJson(request): ApiJson<CreateVisit>,
) -> Result<(StatusCode, Json<VisitRecord>), ApiError> {
    let new = NewVisit::parse(VisitInput {
        visitor_name: request.visitor_name,
        visitor_organisation: request.visitor_organisation,
        host_person_id: request.host_person_id,
        window_start: *request.window_start,
        window_end: *request.window_end,
        allowed_zone_ids: request.allowed_zone_ids,
        escort_required: request.escort_required,
    })?;
    let visit = state.store.create_visit(new, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(visit)))
}

/// One visit.
#[utoipa::path(get, path = "/visits/{id}", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = VisitRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_visit(
    State(state): State<AppState>,
    _auth: Authorized<ReadVisits>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<VisitRecord>, ApiError> {
    Ok(Json(
        state.store.visit(id).await.map_err(not_found("visit"))?,
    ))
}

/// Check the visitor in. Refused (409) when already in, checked out, or the window has
/// ended; an early arrival may check in (the card works from `window_start`).
#[utoipa::path(post, path = "/visits/{id}/check-in", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = VisitRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse)))]
async fn check_in(
    State(state): State<AppState>,
    auth: Authorized<WriteVisits>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<VisitRecord>, ApiError> {
    let visit = state
        .store
        .check_in_visit(id, &auth.actor())
        .await
        .map_err(not_found("visit"))?;
    Ok(Json(visit))
}

/// Check the visitor out and revoke the visit's credentials. Refused (409) unless
/// checked in and not yet out.
#[utoipa::path(post, path = "/visits/{id}/check-out", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = VisitRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse)))]
async fn check_out(
    State(state): State<AppState>,
    auth: Authorized<WriteVisits>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<VisitRecord>, ApiError> {
    let visit = state
        .store
        .check_out_visit(id, &auth.actor())
        .await
        .map_err(not_found("visit"))?;
    Ok(Json(visit))
}
