//! Doors between zones. Security officers and admins write; auditors read.

use super::site_model::{delete_record, get_record, not_found};
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadSecurityModel, WriteSecurityModel};
use crate::domain::site_model::{DEFAULT_HELD_OPEN_MS, DEFAULT_UNLOCK_MS};
use crate::state::AppState;
use crate::store::{DoorChange, DoorRecord, NewDoor};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_core::model::DoorMode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_doors, create_door))
        .routes(routes!(get_door, update_door, delete_door))
        // live state and remote commands
        .merge(super::door_live::router())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDoor {
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: String,
    /// The zone on the outside.
    from_zone_id: Uuid,
    /// The zone an entry leads into; a different zone of the same site.
    to_zone_id: Uuid,
    /// Milliseconds, 1000 to 60000 (default 5000).
    #[schema(minimum = 1000, maximum = 60000)]
    unlock_ms: Option<u32>,
    /// Milliseconds, 1000 to 3600000 (default 30000).
    #[schema(minimum = 1000, maximum = 3600000)]
    held_open_ms: Option<u32>,
    /// Default `normal`.
    mode: Option<DoorMode>,
}

/// Absent fields stay.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDoor {
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: Option<String>,
    from_zone_id: Option<Uuid>,
    to_zone_id: Option<Uuid>,
    #[schema(minimum = 1000, maximum = 60000)]
    unlock_ms: Option<u32>,
    #[schema(minimum = 1000, maximum = 3600000)]
    held_open_ms: Option<u32>,
    mode: Option<DoorMode>,
}

/// A list of doors: of one site, into or out of one zone, and the page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DoorQuery {
    /// Only doors of this site.
    site_id: Option<Uuid>,
    /// Only doors leading into or out of this zone.
    zone_id: Option<Uuid>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List doors in creation order.
#[utoipa::path(get, path = "/doors", tag = "doors", security(("bearer" = [])),
    params(DoorQuery),
    responses((status = 200, body = Page<DoorRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_doors(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiQuery(query): ApiQuery<DoorQuery>,
) -> Result<Json<Page<DoorRecord>>, ApiError> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let rows = state
        .store
        .list_doors(query.site_id, query.zone_id, page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |d| d.id)))
}

/// Create a door between two different zones of one site (422 otherwise).
#[utoipa::path(post, path = "/doors", tag = "doors", security(("bearer" = [])),
    request_body = CreateDoor,
    responses((status = 201, body = DoorRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn create_door(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiJson(request): ApiJson<CreateDoor>,
) -> Result<(StatusCode, Json<DoorRecord>), ApiError> {
    let new = NewDoor {
        name: request.name,
        from_zone_id: request.from_zone_id,
        to_zone_id: request.to_zone_id,
        mode: request.mode.unwrap_or_default(),
        unlock_ms: request.unlock_ms.unwrap_or(DEFAULT_UNLOCK_MS),
        held_open_ms: request.held_open_ms.unwrap_or(DEFAULT_HELD_OPEN_MS),
    }
    .checked()?;
    let door = state.store.create_door(new, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(door)))
}

/// One door.
#[utoipa::path(get, path = "/doors/{id}", tag = "doors", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = DoorRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_door(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<DoorRecord>, ApiError> {
    get_record(&state, id, "door").await
}

/// Change a door; new zones obey the rules of creation.
#[utoipa::path(patch, path = "/doors/{id}", tag = "doors", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateDoor,
    responses((status = 200, body = DoorRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn update_door(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<UpdateDoor>,
) -> Result<Json<DoorRecord>, ApiError> {
    let change = DoorChange {
        name: request.name,
        from_zone_id: request.from_zone_id,
        to_zone_id: request.to_zone_id,
        mode: request.mode,
        unlock_ms: request.unlock_ms,
        held_open_ms: request.held_open_ms,
    }
    .checked()?;
    let door = state
        .store
        .update_door(id, change, &auth.actor())
        .await
        .map_err(not_found("door"))?;
    Ok(Json(door))
}

/// Delete a door.
#[utoipa::path(delete, path = "/doors/{id}", tag = "doors", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "still in use", body = ErrorResponse)))]
async fn delete_door(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    delete_record::<DoorRecord>(&state, &auth.actor(), id, "door").await
}
