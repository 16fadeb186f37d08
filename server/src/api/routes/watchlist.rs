//! The watchlist security keeps (read: `ReadWatchlist`; change: `ManageVisitRules`) and
//! the screenings of visitors against it, with the officer's decision on a match. Every
//! change is an operator-log entry; the screening itself is made by the visit flow
//! (`crate::screening::screen_visit`).

use super::site_model::{not_found, nullable};
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ManageVisitRules, ReadWatchlist};
use crate::import::{ImportError, LineError};
use crate::state::AppState;
use crate::store::Actor;
use crate::store::watchlist::WatchlistImport;
use crate::store::watchlist::{
    ScreeningDecision, ScreeningFilter, ScreeningRecord, WatchAction, WatchlistEntry,
    WatchlistInput,
};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_watchlist, create_entry))
        .routes(routes!(import_watchlist_csv))
        .routes(routes!(get_entry, update_entry, delete_entry))
        .routes(routes!(list_screenings))
        .routes(routes!(get_screening))
        .routes(routes!(decide))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateEntry {
    #[schema(pattern = "\\S", min_length = 1, max_length = 200)]
    name: String,
    /// Other names the person is known by (at most 20).
    #[serde(default)]
    #[schema(max_items = 20)]
    aliases: Vec<String>,
    /// `YYYY-MM-DD`. When both the entry and the visitor have one and they differ, the
    /// entry does not match.
    date_of_birth: Option<NaiveDate>,
    #[schema(max_length = 200)]
    organisation: Option<String>,
    /// Why the person is listed; shown to the officer deciding a match.
    #[schema(pattern = "\\S", min_length = 1, max_length = 1000)]
    reason: String,
    action: WatchAction,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateEntry {
    #[schema(pattern = "\\S", min_length = 1, max_length = 200)]
    name: Option<String>,
    #[schema(max_items = 20)]
    aliases: Option<Vec<String>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<NaiveDate>)]
    date_of_birth: Option<Option<NaiveDate>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 200)]
    organisation: Option<Option<String>>,
    #[schema(pattern = "\\S", min_length = 1, max_length = 1000)]
    reason: Option<String>,
    action: Option<WatchAction>,
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct WatchlistQuery {
    /// Entries whose name or an alias holds these words (case, accents and script do
    /// not matter).
    search: Option<String>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    cursor: Option<String>,
}

/// List the watchlist in the order entries were added.
#[utoipa::path(get, path = "/watchlist", tag = "watchlist", security(("bearer" = [])),
    params(WatchlistQuery),
    responses((status = 200, body = Page<WatchlistEntry>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_watchlist(
    State(state): State<AppState>,
    _auth: Authorized<ReadWatchlist>,
    ApiQuery(query): ApiQuery<WatchlistQuery>,
) -> Result<Json<Page<WatchlistEntry>>, ApiError> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let rows = state
        .store
        .list_watchlist(query.search.as_deref(), page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |e| e.id)))
}

/// Largest watchlist file accepted, in bytes (100,000 rows of about 200 bytes fit).
pub const MAX_IMPORT_BYTES: usize = 32 * 1024 * 1024;

/// Add the entries of a CSV file (columns in the README: `name`, `aliases`,
/// `date_of_birth`, `organisation`, `reason`, `action`). Every row is checked first: one
/// bad row and nothing is added (422, `line N: column`). Rows already on the list are
/// skipped, so importing the same file again adds nothing.
#[utoipa::path(post, path = "/watchlist/import", tag = "watchlist", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv",
        description = "Header row, then one row per entry"),
    responses((status = 200, body = WatchlistImport), (status = 400, body = ErrorResponse),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 413, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn import_watchlist_csv(
    State(state): State<AppState>,
    auth: Authorized<ManageVisitRules>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<WatchlistImport>, ApiError> {
    let csv = super::import::read_csv(&headers, body, MAX_IMPORT_BYTES).await?;
    match import_watchlist(&state, csv, &auth.actor()).await? {
        Ok(summary) => Ok(Json(summary)),
        Err(lines) => Err(ApiError::Validation(super::import::line_fields(&lines))),
    }
}

/// Reads `csv` (on a blocking thread) and adds its entries as `actor`: what was added,
/// or the file's problems (nothing added). The API's and the console's upload.
pub(crate) async fn import_watchlist(
    state: &AppState,
    csv: Vec<u8>,
    actor: &Actor,
) -> Result<Result<WatchlistImport, Vec<LineError>>, ApiError> {
    let parsed = tokio::task::spawn_blocking(move || crate::screening::import::parse(&csv))
        .await
        .map_err(anyhow::Error::from)?;
    let rows = match parsed {
        Ok(rows) => rows,
        Err(lines) => return Ok(Err(lines)),
    };
    match state.store.import_watchlist(rows, actor).await {
        Ok(summary) => Ok(Ok(summary)),
        Err(ImportError::Invalid(lines)) => Ok(Err(lines)),
        Err(ImportError::Store(e)) => Err(e.into()),
        Err(e) => Err(ApiError::Internal(e.into())),
    }
}

/// Add an entry (the list's version is bumped).
#[utoipa::path(post, path = "/watchlist", tag = "watchlist", security(("bearer" = [])),
    request_body = CreateEntry,
    responses((status = 201, body = WatchlistEntry), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn create_entry(
    State(state): State<AppState>,
    auth: Authorized<ManageVisitRules>,
    ApiJson(request): ApiJson<CreateEntry>,
) -> Result<(StatusCode, Json<WatchlistEntry>), ApiError> {
    let input = WatchlistInput {
        name: request.name,
        aliases: request.aliases,
        date_of_birth: request.date_of_birth,
        organisation: request.organisation,
        reason: request.reason,
        action: request.action,
    };
    let entry = state
        .store
        .create_watchlist_entry(input, &auth.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(entry)))
}

/// One entry.
#[utoipa::path(get, path = "/watchlist/{id}", tag = "watchlist", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = WatchlistEntry), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_entry(
    State(state): State<AppState>,
    _auth: Authorized<ReadWatchlist>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<WatchlistEntry>, ApiError> {
    let entry = state.store.watchlist_entry(id).await;
    Ok(Json(entry.map_err(not_found("watchlist entry"))?))
}

/// Change an entry (the list's version is bumped).
#[utoipa::path(patch, path = "/watchlist/{id}", tag = "watchlist", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateEntry,
    responses((status = 200, body = WatchlistEntry), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn update_entry(
    State(state): State<AppState>,
    auth: Authorized<ManageVisitRules>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<UpdateEntry>,
) -> Result<Json<WatchlistEntry>, ApiError> {
    let before = state
        .store
        .watchlist_entry(id)
        .await
        .map_err(not_found("watchlist entry"))?;
    let input = WatchlistInput {
        name: request.name.unwrap_or(before.name),
        aliases: request.aliases.unwrap_or(before.aliases),
        date_of_birth: request.date_of_birth.unwrap_or(before.date_of_birth),
        organisation: request.organisation.unwrap_or(before.organisation),
        reason: request.reason.unwrap_or(before.reason),
        action: request.action.unwrap_or(before.action),
    };
    let entry = state
        .store
        .update_watchlist_entry(id, input, &auth.actor())
        .await
        .map_err(not_found("watchlist entry"))?;
    Ok(Json(entry))
}

/// Remove an entry (the list's version is bumped; screenings keep what they matched).
#[utoipa::path(delete, path = "/watchlist/{id}", tag = "watchlist", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn delete_entry(
    State(state): State<AppState>,
    auth: Authorized<ManageVisitRules>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    let deleted = state.store.delete_watchlist_entry(id, &auth.actor()).await;
    deleted.map_err(not_found("watchlist entry"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ScreeningQuery {
    /// `true`: matches awaiting a decision; `false`: decided matches.
    pending: Option<bool>,
    /// Only this visit's screenings.
    visit_id: Option<Uuid>,
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    cursor: Option<String>,
}

/// List screenings, newest first.
#[utoipa::path(get, path = "/screenings", tag = "watchlist", security(("bearer" = [])),
    params(ScreeningQuery),
    responses((status = 200, body = Page<ScreeningRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_screenings(
    State(state): State<AppState>,
    _auth: Authorized<ReadWatchlist>,
    ApiQuery(query): ApiQuery<ScreeningQuery>,
) -> Result<Json<Page<ScreeningRecord>>, ApiError> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let filter = ScreeningFilter {
        pending: query.pending,
        visit_id: query.visit_id,
    };
    let rows = state
        .store
        .list_screenings(filter, page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |s| s.id)))
}

/// One screening.
#[utoipa::path(get, path = "/screenings/{id}", tag = "watchlist", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ScreeningRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_screening(
    State(state): State<AppState>,
    _auth: Authorized<ReadWatchlist>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ScreeningRecord>, ApiError> {
    let screening = state.store.screening(id).await;
    Ok(Json(screening.map_err(not_found("screening"))?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    /// `allowed` lets a blocked visitor check in; `refused` keeps the visit blocked.
    decision: ScreeningDecision,
    /// Why (required; kept in the audit trail).
    #[schema(pattern = "\\S", min_length = 1, max_length = 1000)]
    note: String,
}

/// Decide on a match (a note is required). 409 when it matched nothing or is decided.
#[utoipa::path(post, path = "/screenings/{id}/decision", tag = "watchlist",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = Decide,
    responses((status = 200, body = ScreeningRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn decide(
    State(state): State<AppState>,
    auth: Authorized<ManageVisitRules>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<Decide>,
) -> Result<Json<ScreeningRecord>, ApiError> {
    let decided = state
        .store
        .decide_screening(id, request.decision, &request.note, &auth.actor())
        .await;
    Ok(Json(decided.map_err(not_found("screening"))?))
}
