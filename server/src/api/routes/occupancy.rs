//! Who is inside: a zone's occupancy and a site's (each zone counted against its
//! `max_occupancy`, see `counts`), the live muster list of a site, and musters
//! (evacuation roll calls) that officers start, mark people on and close. Lists come as
//! JSON, CSV or a printable HTML page (`?format=`, see `render`); each person with their
//! organisation and, for a visitor, their host. Times are RFC 3339 UTC in JSON.

mod counts;
pub(crate) mod render;

pub use counts::ZoneCount;

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadOccupancy, RunMuster};
use crate::domain::note;
use crate::state::AppState;
use crate::store::{MusterRecord, Occupant, Store, StoreError, ZoneRecord};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use chrono::Utc;
use counts::zone_counts;
use render::{Row, minute, render};
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(zone_occupancy))
        .routes(routes!(site_occupancy))
        .routes(routes!(site_muster))
        .routes(routes!(start_muster))
        .routes(routes!(get_muster))
        .routes(routes!(account_for))
        .routes(routes!(close_muster))
}

/// How a list is served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ListFormat {
    #[default]
    Json,
    Csv,
    Html,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct FormatQuery {
    /// `json` (default), `csv` or `html` (a printable page).
    #[param(inline)]
    format: Option<ListFormat>,
}

/// Everyone inside a zone (it and the zones below it).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Occupancy {
    pub zone_id: Uuid,
    pub zone_name: String,
    /// Everyone inside: what `max_occupancy` limits.
    pub count: usize,
    /// How many may be inside at once; `null`: no limit.
    pub max_occupancy: Option<u32>,
    /// Per zone, for this zone and the zones below that are occupied.
    pub zones: Vec<ZoneCount>,
    pub occupants: Vec<Occupant>,
}

/// Everyone inside a site, and every zone of it counted.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteOccupancy {
    pub site_id: Uuid,
    pub site_name: String,
    /// Everyone inside the site (in a zone some door leads into).
    pub count: usize,
    /// Every zone of the site, occupied or not, in creation order.
    pub zones: Vec<ZoneCount>,
    pub occupants: Vec<Occupant>,
}

/// Every zone of `site_id`, in creation order.
async fn site_zones(store: &Store, site_id: Uuid) -> Result<Vec<ZoneRecord>, StoreError> {
    const PAGE: u32 = 500;
    let mut zones: Vec<ZoneRecord> = Vec::new();
    loop {
        let after = zones.last().map(|z| z.id);
        let page = store.list_zones(Some(site_id), after, PAGE).await?;
        let more = page.len() == PAGE as usize;
        zones.extend(page);
        if !more {
            return Ok(zones);
        }
    }
}

/// Who is inside a zone and the zones below it now, from their last granted passage.
#[utoipa::path(get, path = "/zones/{id}/occupancy", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = Occupancy), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn zone_occupancy(
    State(state): State<AppState>,
    _auth: Authorized<ReadOccupancy>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<Occupancy>, ApiError> {
    let zone = state.store.zone(id).await?;
    let occupants = state.store.zone_occupants(id).await?;
    let occupied: HashSet<Uuid> = occupants.iter().map(|o| o.zone_id).collect();
    let zones = zone_counts(&site_zones(&state.store, zone.site_id).await?, &occupants)
        .into_iter()
        .filter(|z| occupied.contains(&z.zone_id))
        .collect();
    Ok(Json(Occupancy {
        zone_id: id,
        zone_name: zone.name,
        count: occupants.len(),
        max_occupancy: zone.rules.max_occupancy,
        zones,
        occupants,
    }))
}

/// Who is inside a site now, and every zone of it with how many are inside against its
/// `max_occupancy`.
#[utoipa::path(get, path = "/sites/{id}/occupancy", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = SiteOccupancy), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn site_occupancy(
    State(state): State<AppState>,
    _auth: Authorized<ReadOccupancy>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<SiteOccupancy>, ApiError> {
    let site = state.store.site(id).await?;
    let occupants = state.store.site_occupants(id).await?;
    let zones = zone_counts(&site_zones(&state.store, id).await?, &occupants);
    Ok(Json(SiteOccupancy {
        site_id: id,
        site_name: site.name,
        count: occupants.len(),
        zones,
        occupants,
    }))
}

/// Everyone inside the site now (last seen in a zone some door leads into), with the
/// last door and time: the list to take outside at an evacuation.
#[utoipa::path(get, path = "/sites/{id}/muster", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path), FormatQuery),
    responses((status = 200, body = Vec<Occupant>,
            content((Vec<Occupant> = "application/json"), (String = "text/csv; charset=utf-8"),
                (String = "text/html; charset=utf-8"))),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn site_muster(
    State(state): State<AppState>,
    _auth: Authorized<ReadOccupancy>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<FormatQuery>,
) -> Result<Response, ApiError> {
    let site = state.store.site(id).await?;
    let occupants = state.store.site_occupants(id).await?;
    let rows: Vec<Row> = occupants.iter().map(Row::from).collect();
    let title = format!("Inside {} at {}", site.name, minute(Utc::now()));
    Ok(render(
        query.format.unwrap_or_default(),
        &title,
        &rows,
        &occupants,
    ))
}

/// Starts a muster of the site: the list of everyone inside now, to mark off.
#[utoipa::path(post, path = "/sites/{id}/musters", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 201, body = MusterRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn start_muster(
    State(state): State<AppState>,
    auth: Authorized<RunMuster>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<MusterRecord>), ApiError> {
    let muster = state.store.start_muster(id, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(muster)))
}

/// A muster with who is accounted for.
#[utoipa::path(get, path = "/musters/{id}", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path), FormatQuery),
    responses((status = 200, body = MusterRecord,
            content((MusterRecord = "application/json"), (String = "text/csv; charset=utf-8"),
                (String = "text/html; charset=utf-8"))),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn get_muster(
    State(state): State<AppState>,
    _auth: Authorized<ReadOccupancy>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<FormatQuery>,
) -> Result<Response, ApiError> {
    let muster = state.store.muster(id).await?;
    let rows: Vec<Row> = muster.people.iter().map(Row::from).collect();
    let title = format!(
        "Muster started {} by {} — {} of {} not accounted for",
        minute(muster.started_at),
        muster.started_by,
        muster.unaccounted,
        muster.people.len()
    );
    Ok(render(
        query.format.unwrap_or_default(),
        &title,
        &rows,
        &muster,
    ))
}

/// Who was found, and how.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountedFor {
    /// The `holder_id` on the list.
    pub holder_id: Uuid,
    /// E.g. "at the assembly point".
    #[schema(max_length = 500)]
    pub note: Option<String>,
}

/// Marks someone on the list accounted for (once; not after the muster is closed).
#[utoipa::path(post, path = "/musters/{id}/accounted", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = AccountedFor,
    responses((status = 200, body = MusterRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn account_for(
    State(state): State<AppState>,
    auth: Authorized<RunMuster>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(body): ApiJson<AccountedFor>,
) -> Result<Json<MusterRecord>, ApiError> {
    let note = note::muster_note(body.note.as_deref())?;
    let muster = state
        .store
        .account_for(id, body.holder_id, note, &auth.actor())
        .await?;
    Ok(Json(muster))
}

/// Closes a muster; it can then only be read.
#[utoipa::path(post, path = "/musters/{id}/close", tag = "occupancy", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MusterRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse)))]
async fn close_muster(
    State(state): State<AppState>,
    auth: Authorized<RunMuster>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<MusterRecord>, ApiError> {
    Ok(Json(state.store.close_muster(id, &auth.actor()).await?))
}
