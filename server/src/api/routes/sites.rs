//! Sites and their threat level. Security officers and admins write; auditors read.

use super::site_model::{delete_record, get_record, list_records, not_found, nullable};
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadSecurityModel, WriteSecurityModel};
use crate::state::AppState;
use crate::store::{NewSite, SiteChange, SiteRecord, Threat};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_sites, create_site))
        .routes(routes!(get_site, update_site, delete_site))
        .routes(routes!(set_threat_level))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSite {
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: String,
    /// IANA time zone name, e.g. `Europe/Berlin`.
    #[schema(example = "Europe/Berlin", max_length = 64)]
    timezone: String,
    /// From this threat level on (0–255), every zone of the site needs secure cards;
    /// absent or `null`: never.
    #[schema(maximum = 255)]
    secure_cards_from_threat_level: Option<u8>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSite {
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: Option<String>,
    /// IANA time zone name.
    #[schema(max_length = 64)]
    timezone: Option<String>,
    /// From this threat level on (0–255), every zone of the site needs secure cards;
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<u8>, nullable, maximum = 255)]
    secure_cards_from_threat_level: Option<Option<u8>>,
}

/// List sites, in creation order.
#[utoipa::path(get, path = "/sites", tag = "sites", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<SiteRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_sites(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<SiteRecord>>, ApiError> {
    list_records(&state, None, &page).await
}

/// Create a site, at threat level 0.
#[utoipa::path(post, path = "/sites", tag = "sites", security(("bearer" = [])),
    request_body = CreateSite,
    responses((status = 201, body = SiteRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn create_site(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiJson(request): ApiJson<CreateSite>,
) -> Result<(StatusCode, Json<SiteRecord>), ApiError> {
    let new = NewSite {
        name: request.name,
        timezone: request.timezone,
        secure_cards_from_threat_level: request.secure_cards_from_threat_level,
    }
    .checked()?;
    let site = state.store.create_site(new, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(site)))
}

/// One site.
#[utoipa::path(get, path = "/sites/{id}", tag = "sites", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SiteRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_site(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<SiteRecord>, ApiError> {
    get_record(&state, id, "site").await
}

/// Rename a site, change its time zone (schedules follow the new zone) or the threat
/// level from which its zones need secure cards.
#[utoipa::path(patch, path = "/sites/{id}", tag = "sites", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateSite,
    responses((status = 200, body = SiteRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn update_site(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<UpdateSite>,
) -> Result<Json<SiteRecord>, ApiError> {
    let change = SiteChange {
        name: request.name,
        timezone: request.timezone,
        secure_cards_from_threat_level: request.secure_cards_from_threat_level,
    }
    .checked()?;
    let site = state
        .store
        .update_site(id, change, &auth.actor())
        .await
        .map_err(not_found("site"))?;
    Ok(Json(site))
}

/// Delete a site. Refused (409) while zones, doors or schedules belong to it.
#[utoipa::path(delete, path = "/sites/{id}", tag = "sites", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "still in use", body = ErrorResponse)))]
async fn delete_site(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    delete_record::<SiteRecord>(&state, &auth.actor(), id, "site").await
}

/// Set a site's threat level: `clearance_raise` is added to every zone's level to get
/// the minimum clearance; `lockdown` makes every door of the site refuse entry except to
/// the exempt people. Exempt ids are not checked against the people register: an id
/// that names no one never matches anyone.
#[utoipa::path(put, path = "/sites/{id}/threat-level", tag = "sites", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = Threat,
    responses((status = 200, body = SiteRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn set_threat_level(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(threat): ApiJson<Threat>,
) -> Result<Json<SiteRecord>, ApiError> {
    let threat = threat.checked()?;
    let site = state
        .store
        .set_threat_level(id, threat, &auth.actor())
        .await
        .map_err(not_found("site"))?;
    Ok(Json(site))
}
