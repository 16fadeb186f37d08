//! Grants: a person or a group may enter a zone (and its descendants of the same or
//! lower level), optionally on a schedule and within a validity period. Grants are not
//! edited: delete one (access ends with the next policy) and create another.

use super::site_model::not_found;
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::api::time::Timestamp;
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadSecurityModel, WriteSecurityModel};
use crate::domain::grant::GrantInput;
use crate::state::AppState;
use crate::store::{GrantFilter, GrantRecord, NewGrant};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::DateTime;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_grants, create_grant))
        .routes(routes!(get_grant, delete_grant))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGrant {
    /// Exactly one of `person_id` and `group_id`.
    person_id: Option<Uuid>,
    group_id: Option<Uuid>,
    zone_id: Uuid,
    /// When the grant applies; absent = at all times.
    schedule_id: Option<Uuid>,
    valid_from: Option<Timestamp>,
    valid_until: Option<Timestamp>,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListGrants {
    /// Only grants to this person (not those through groups).
    person_id: Option<Uuid>,
    /// Only grants to this group.
    group_id: Option<Uuid>,
    /// Only grants on this zone.
    zone_id: Option<Uuid>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List grants in creation order, filtered.
#[utoipa::path(get, path = "/grants", tag = "grants", security(("bearer" = [])),
    params(ListGrants),
    responses((status = 200, body = Page<GrantRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_grants(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiQuery(query): ApiQuery<ListGrants>,
) -> Result<Json<Page<GrantRecord>>, ApiError> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let filter = GrantFilter {
        person_id: query.person_id,
        group_id: query.group_id,
        zone_id: query.zone_id,
    };
    let rows = state
        .store
        .list_grants(filter, page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |g| g.id)))
}

/// Grant a person or a group access to a zone. Every id must exist (422 naming it).
#[utoipa::path(post, path = "/grants", tag = "grants", security(("bearer" = [])),
    request_body = CreateGrant,
    responses((status = 201, body = GrantRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn create_grant(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiJson(request): ApiJson<CreateGrant>,
) -> Result<(StatusCode, Json<GrantRecord>), ApiError> {
    let new = NewGrant::parse(GrantInput {
        person_id: request.person_id,
        group_id: request.group_id,
        zone_id: request.zone_id,
        schedule_id: request.schedule_id,
        valid_from: request.valid_from.map(DateTime::from),
        valid_until: request.valid_until.map(DateTime::from),
    })?;
    let grant = state.store.create_grant(new, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(grant)))
}

/// One grant.
#[utoipa::path(get, path = "/grants/{id}", tag = "grants", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = GrantRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_grant(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<GrantRecord>, ApiError> {
    Ok(Json(
        state.store.grant(id).await.map_err(not_found("grant"))?,
    ))
}

/// Delete a grant: the access it gave ends with the next policy. Logged.
#[utoipa::path(delete, path = "/grants/{id}", tag = "grants", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn delete_grant(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_grant(id, &auth.actor())
        .await
        .map_err(not_found("grant"))?;
    Ok(StatusCode::NO_CONTENT)
}
