//! The zone tree. Security officers and admins write; auditors read.

use super::site_model::{ListQuery, delete_record, get_record, list_records, not_found, nullable};
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::Page;
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadSecurityModel, WriteSecurityModel};
use crate::state::AppState;
use crate::store::{NewZone, ZoneChange, ZoneRecord, ZoneRules};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_core::model::{AntiPassback, Assurance};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_zones, create_zone))
        .routes(routes!(get_zone, update_zone, delete_zone))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateZone {
    site_id: Uuid,
    /// The enclosing zone, on the same site; absent for a root zone.
    parent_id: Option<Uuid>,
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: String,
    /// Security level, 0 (public) to 255.
    #[schema(maximum = 255)]
    level: u8,
    #[serde(default)]
    vetting_required: bool,
    #[serde(default)]
    escort_required: bool,
    #[serde(default)]
    two_person: bool,
    #[serde(default)]
    pin_required: bool,
    #[serde(default)]
    anti_passback: AntiPassback,
    /// Seconds, 1 to 2592000 (30 days).
    #[schema(minimum = 1, maximum = 2_592_000)]
    anti_passback_timeout_s: Option<u32>,
    /// How many holders may be inside at once (this zone and the zones within it),
    /// 1 to 1000000; an entry beyond it is refused with `zone_full`. Absent or `null`:
    /// no limit.
    #[schema(minimum = 1, maximum = 1_000_000)]
    max_occupancy: Option<u32>,
    /// The weakest card entry accepts (default `uid`): `secure` refuses UID cards with
    /// `assurance_insufficient`.
    #[serde(default)]
    min_assurance: Assurance,
}

/// Absent fields stay; `null` clears `parent_id` (the zone becomes a root),
/// `anti_passback_timeout_s` and `max_occupancy`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateZone {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Uuid>, nullable)]
    parent_id: Option<Option<Uuid>>,
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: Option<String>,
    #[schema(maximum = 255)]
    level: Option<u8>,
    vetting_required: Option<bool>,
    escort_required: Option<bool>,
    two_person: Option<bool>,
    pin_required: Option<bool>,
    anti_passback: Option<AntiPassback>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, nullable, minimum = 1, maximum = 2_592_000)]
    anti_passback_timeout_s: Option<Option<u32>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u32>, nullable, minimum = 1, maximum = 1_000_000)]
    max_occupancy: Option<Option<u32>>,
    min_assurance: Option<Assurance>,
}

/// List zones in creation order, of one site or of all.
#[utoipa::path(get, path = "/zones", tag = "zones", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = Page<ZoneRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_zones(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<ZoneRecord>>, ApiError> {
    list_records(&state, query.site_id, &query.page()).await
}

/// Create a zone. The site must exist and the parent be a zone of that site (422).
#[utoipa::path(post, path = "/zones", tag = "zones", security(("bearer" = [])),
    request_body = CreateZone,
    responses((status = 201, body = ZoneRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn create_zone(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiJson(request): ApiJson<CreateZone>,
) -> Result<(StatusCode, Json<ZoneRecord>), ApiError> {
    let new = NewZone {
        site_id: request.site_id,
        parent_id: request.parent_id,
        name: request.name,
        level: request.level,
        rules: ZoneRules {
            vetting_required: request.vetting_required,
            escort_required: request.escort_required,
            two_person: request.two_person,
            pin_required: request.pin_required,
            anti_passback: request.anti_passback,
            anti_passback_timeout_s: request.anti_passback_timeout_s,
            max_occupancy: request.max_occupancy,
            min_assurance: request.min_assurance,
        },
    }
    .checked()?;
    let zone = state.store.create_zone(new, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(zone)))
}

/// One zone.
#[utoipa::path(get, path = "/zones/{id}", tag = "zones", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ZoneRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_zone(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ZoneRecord>, ApiError> {
    get_record(&state, id, "zone").await
}

/// Change a zone. A new parent must be a zone of the same site, and not the zone itself
/// or one of its descendants (422).
#[utoipa::path(patch, path = "/zones/{id}", tag = "zones", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateZone,
    responses((status = 200, body = ZoneRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn update_zone(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<UpdateZone>,
) -> Result<Json<ZoneRecord>, ApiError> {
    let change = ZoneChange {
        parent_id: request.parent_id,
        name: request.name,
        level: request.level,
        vetting_required: request.vetting_required,
        escort_required: request.escort_required,
        two_person: request.two_person,
        pin_required: request.pin_required,
        anti_passback: request.anti_passback,
        anti_passback_timeout_s: request.anti_passback_timeout_s,
        max_occupancy: request.max_occupancy,
        min_assurance: request.min_assurance,
    }
    .checked()?;
    let zone = state
        .store
        .update_zone(id, change, &auth.actor())
        .await
        .map_err(not_found("zone"))?;
    Ok(Json(zone))
}

/// Delete a zone. Refused (409) while it has child zones or doors, or grants or visits
/// refer to it.
#[utoipa::path(delete, path = "/zones/{id}", tag = "zones", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "still in use", body = ErrorResponse)))]
async fn delete_zone(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    delete_record::<ZoneRecord>(&state, &auth.actor(), id, "zone").await
}
