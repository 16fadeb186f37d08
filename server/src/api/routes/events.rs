//! The events door agents uploaded, searchable by period, door, person (by id or name),
//! credential, card, zone (with the incidents at its doors), site, outcome, reason and
//! kind, and one event in full with names and the decision trace the door computed
//! ("why was this denied?"). Admins, security officers and auditors read them.

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiPath, ApiQuery};
use crate::api::filters::{self, Kinds, parse};
use crate::api::pagination::{Page, PageParams};
use crate::api::time::Timestamp;
use crate::auth::extract::Authorized;
use crate::auth::permissions::ReadEvents;
use crate::state::AppState;
use crate::store::{EventDetail, EventFilter, EventRecord, StoreError};
use axum::Json;
use axum::extract::State;
use chrono::DateTime;
use gatehouse_core::decide::{Outcome, Reason};
use gatehouse_core::model::normalize_card;
use gatehouse_core::text::{Lines, text_problem};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_events))
        .routes(routes!(event_detail))
}

/// Filters (all optional, combined with AND) and the page. Each value is read here, so
/// that a bad one is a 422 naming its parameter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Occurred at or after (RFC 3339; the agent's clock).
    #[param(value_type = Option<Timestamp>, max_length = 64)]
    from: Option<String>,
    /// Occurred before (RFC 3339); after `from`.
    #[param(value_type = Option<Timestamp>, max_length = 64)]
    to: Option<String>,
    #[param(value_type = Option<uuid::Uuid>, max_length = 64)]
    door_id: Option<String>,
    #[param(value_type = Option<uuid::Uuid>, max_length = 64)]
    person_id: Option<String>,
    #[param(value_type = Option<uuid::Uuid>, max_length = 64)]
    credential_id: Option<String>,
    /// Presentations of this card number (hex; `:`, `-` and spaces are ignored).
    #[param(
        pattern = "^[:\\- ]*(?:[0-9A-Fa-f][:\\- ]*[0-9A-Fa-f][:\\- ]*){1,32}$",
        max_length = 128
    )]
    card: Option<String>,
    /// Events of a person or visitor whose name contains this (case-insensitive; on
    /// SQLite for ASCII letters only): 1 to 64 characters of one line, trimmed.
    #[param(min_length = 1, max_length = 64)]
    person_name: Option<String>,
    /// Events in this zone: presentations into it, and the door incidents
    /// (`forced_open`, `held_open`, `lock_fault`, `tamper`, ...) at the doors leading
    /// into it.
    #[param(value_type = Option<uuid::Uuid>, max_length = 64)]
    zone_id: Option<String>,
    /// Events at this site's doors.
    #[param(value_type = Option<uuid::Uuid>, max_length = 64)]
    site_id: Option<String>,
    /// Presentations with this outcome.
    #[param(value_type = Option<Outcome>)]
    outcome: Option<String>,
    /// Presentations decided for this reason (`granted` or the rule that refused).
    #[param(value_type = Option<Reason>)]
    reason: Option<String>,
    /// The event kind: `presentation`, `forced_open`, `held_open`, ... (lower case
    /// letters and `_`).
    #[param(max_length = 64, pattern = "^[a-z_]+$")]
    kind: Option<String>,
    /// Items per page, 1 to 500 (default 50).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500)]
    limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(max_length = 64)]
    cursor: Option<String>,
}

impl EventQuery {
    fn filter(&self) -> Result<EventFilter, ApiError> {
        const UUID: &str = "a UUID";
        const TIME: &str = "an RFC 3339 time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z";
        let from = parse::<Timestamp>("from", self.from.as_deref(), TIME)?.map(DateTime::from);
        let to = parse::<Timestamp>("to", self.to.as_deref(), TIME)?.map(DateTime::from);
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err(ApiError::field("to", "must be after from"));
        }
        let outcome = filters::outcome(self.outcome.as_deref())?;
        let reason = filters::reason(self.reason.as_deref())?;
        let kind = filters::kind(self.kind.as_deref(), Kinds::Events)?;
        let card = (self.card.as_deref().map(normalize_card).transpose())
            .map_err(|e| ApiError::field("card", e.to_string()))?;
        // Read as names are written (one line, no control characters: PostgreSQL
        // refuses a NUL), and searched for trimmed, as names are stored.
        let person_name = match self.person_name.as_deref() {
            Some(name) => match text_problem(name, 64, Lines::Single) {
                Some(problem) => return Err(ApiError::field("person_name", problem)),
                None => Some(name.trim().to_owned()),
            },
            None => None,
        };
        Ok(EventFilter {
            door_id: parse("door_id", self.door_id.as_deref(), UUID)?,
            person_id: parse("person_id", self.person_id.as_deref(), UUID)?,
            credential_id: parse("credential_id", self.credential_id.as_deref(), UUID)?,
            zone_id: parse("zone_id", self.zone_id.as_deref(), UUID)?,
            site_id: parse("site_id", self.site_id.as_deref(), UUID)?,
            from,
            to,
            outcome: outcome.map(|o| o.to_string()),
            reason: reason.map(|r| r.to_string()),
            kind,
            card,
            person_name,
        })
    }
}

/// List events in arrival order (the order of `id`), each filter narrowing the list.
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
        limit: parse(
            "limit",
            query.limit.as_deref(),
            "a whole number from 1 to 500",
        )?,
        cursor: query.cursor.clone(),
    };
    let limit = page.limit()?;
    let filter = query.filter()?;
    let rows = state
        .store
        .list_events(&filter, page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |e| e.id)))
}

/// One event in full: its names (person or visitor, organisation, host, door, zone,
/// site, agent) and, for a presentation, the decision trace the door computed at the
/// time, with the rules it held then (absent when the agent did not record one).
#[utoipa::path(get, path = "/events/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EventDetail), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn event_detail(
    State(state): State<AppState>,
    _auth: Authorized<ReadEvents>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<EventDetail>, ApiError> {
    let detail = state
        .store
        .event_detail(id)
        .await
        .map_err(|error| match error {
            StoreError::NotFound => ApiError::NotFound("event"),
            other => other.into(),
        })?;
    Ok(Json(detail))
}
