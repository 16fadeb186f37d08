//! The visit rules security sets: which zones are open to visitors and for how long,
//! and per site whether a visit outside them waits for approval and the grace before
//! an automatic check-out. Receptionists and hosts read them to choose zones.

use super::site_model::not_found;
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ManageVisitRules, ReadVisitRules};
use crate::state::AppState;
use crate::store::{SiteVisitSettings, VisitorZone};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(visitor_zones))
        .routes(routes!(set_visitor_rule))
        .routes(routes!(get_site_settings, set_site_settings))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct VisitorZoneQuery {
    /// Only this site's zones.
    site_id: Option<Uuid>,
    /// Also the zones closed to visitors (default: only the open ones).
    all: Option<bool>,
}

/// Zones open to visitors (or all, with `all=true`), by site and name, with the
/// longest visit each allows and whether a visitor needs an escort there.
#[utoipa::path(get, path = "/visitor-zones", tag = "visits", security(("bearer" = [])),
    params(VisitorZoneQuery),
    responses((status = 200, body = Vec<VisitorZone>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn visitor_zones(
    State(state): State<AppState>,
    _auth: Authorized<ReadVisitRules>,
    ApiQuery(query): ApiQuery<VisitorZoneQuery>,
) -> Result<Json<Vec<VisitorZone>>, ApiError> {
    let open_only = !query.all.unwrap_or(false);
    Ok(Json(
        state.store.visitor_zones(query.site_id, open_only).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitorRule {
    /// Longest visit allowed in the zone, 1 to 527040 minutes (a year); `null` closes
    /// the zone to visitors. A zone requiring vetting cannot be opened (422).
    #[schema(minimum = 1, maximum = 527040)]
    longest_visit_minutes: Option<u32>,
}

/// Open a zone to visitors, or close it (`null`).
#[utoipa::path(put, path = "/zones/{id}/visitor-rule", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = VisitorRule,
    responses((status = 200, body = VisitorZone), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn set_visitor_rule(
    State(state): State<AppState>,
    auth: Authorized<ManageVisitRules>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(rule): ApiJson<VisitorRule>,
) -> Result<Json<VisitorZone>, ApiError> {
    let zone = state
        .store
        .set_zone_visitor_rule(id, rule.longest_visit_minutes, &auth.actor())
        .await;
    match zone {
        // An unknown zone in the path is a 404, not a field error.
        Err(crate::store::ModelError::Invalid {
            field: "zone_id", ..
        }) => Err(ApiError::NotFound("zone")),
        other => Ok(Json(other.map_err(not_found("zone"))?)),
    }
}

/// A site's visit settings (the defaults when never set).
#[utoipa::path(get, path = "/sites/{id}/visit-settings", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SiteVisitSettings), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_site_settings(
    State(state): State<AppState>,
    _auth: Authorized<ReadVisitRules>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<SiteVisitSettings>, ApiError> {
    state
        .store
        .model_record::<crate::store::SiteRecord>(id)
        .await
        .map_err(not_found("site"))?;
    Ok(Json(state.store.site_visit_settings(id).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VisitSettings {
    /// A visit to zones outside the rules waits for a security officer's approval
    /// instead of being refused.
    approval_outside_rules: bool,
    /// Minutes after a window's end before a visit still checked in is checked out
    /// automatically: 0 to 1440.
    #[schema(minimum = 0, maximum = 1440)]
    checkout_grace_minutes: u32,
}

/// Set a site's visit settings.
#[utoipa::path(put, path = "/sites/{id}/visit-settings", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = VisitSettings,
    responses((status = 200, body = SiteVisitSettings), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn set_site_settings(
    State(state): State<AppState>,
    auth: Authorized<ManageVisitRules>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<VisitSettings>,
) -> Result<Json<SiteVisitSettings>, ApiError> {
    let settings = SiteVisitSettings {
        site_id: id,
        approval_outside_rules: request.approval_outside_rules,
        checkout_grace_minutes: request.checkout_grace_minutes,
    };
    let saved = state
        .store
        .set_site_visit_settings(settings, &auth.actor())
        .await;
    Ok(Json(saved.map_err(not_found("site"))?))
}
