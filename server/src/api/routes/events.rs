//! The events door agents uploaded, searchable by door, person, time, outcome and kind.
//! Admins, security officers and auditors read them.

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::ApiQuery;
use crate::api::pagination::{Page, PageParams};
use crate::auth::extract::Authorized;
use crate::auth::permissions::ReadEvents;
use crate::state::AppState;
use crate::store::{EventFilter, EventRecord};
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use gatehouse_core::decide::Outcome;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

/// Filters (all optional) and the page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    door_id: Option<Uuid>,
    person_id: Option<Uuid>,
    /// Occurred at or after (RFC 3339).
    from: Option<DateTime<Utc>>,
    /// Occurred before (RFC 3339).
    to: Option<DateTime<Utc>>,
    /// Presentations with this outcome.
    outcome: Option<Outcome>,
    /// `presentation`, `forced_open`, `held_open`, ...
    #[param(max_length = 64)]
    kind: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List events in arrival order.
#[utoipa::path(get, path = "/events", tag = "events", security(("bearer" = [])),
    params(EventQuery),
    responses((status = 200, body = Page<EventRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_events(
    State(state): State<AppState>,
    _auth: Authorized<ReadEvents>,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> Result<Json<Page<EventRecord>>, ApiError> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    if query.kind.as_ref().is_some_and(|k| k.len() > 64) {
        return Err(ApiError::field("kind", "at most 64 characters"));
    }
    let filter = EventFilter {
        door_id: query.door_id,
        person_id: query.person_id,
        from: query.from,
        to: query.to,
        outcome: query.outcome.map(|o| o.as_str().to_owned()),
        kind: query.kind,
    };
    let rows = state
        .store
        .list_events(&filter, page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |e| e.id)))
}
