//! The events door agents uploaded, searchable by period, door, person, credential,
//! zone, outcome, reason and kind. Admins, security officers and auditors read them.

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
use gatehouse_core::decide::{Outcome, Reason};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_events))
}

/// The longest value any of the filters accepts.
const MAX_VALUE_LEN: usize = 64;

/// Filters (all optional, combined with AND) and the page. Each value is read here, so
/// that a bad one is a 422 naming its parameter.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct EventQuery {
    /// Occurred at or after (RFC 3339; the agent's clock).
    #[param(value_type = Option<DateTime<Utc>>, max_length = 64)]
    from: Option<String>,
    /// Occurred before (RFC 3339); after `from`.
    #[param(value_type = Option<DateTime<Utc>>, max_length = 64)]
    to: Option<String>,
    #[param(value_type = Option<uuid::Uuid>, max_length = 64)]
    door_id: Option<String>,
    #[param(value_type = Option<uuid::Uuid>, max_length = 64)]
    person_id: Option<String>,
    #[param(value_type = Option<uuid::Uuid>, max_length = 64)]
    credential_id: Option<String>,
    /// The zone the door leads into (presentations).
    #[param(value_type = Option<uuid::Uuid>, max_length = 64)]
    zone_id: Option<String>,
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

/// `value` parsed, or a 422 naming `field`.
fn parse<T: std::str::FromStr>(
    field: &str,
    value: Option<&str>,
    expected: &str,
) -> Result<Option<T>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.len() > MAX_VALUE_LEN {
        return Err(ApiError::field(field, "at most 64 characters"));
    }
    value
        .parse()
        .map(Some)
        .map_err(|_| ApiError::field(field, format!("must be {expected}")))
}

/// `value` as one of the names of `T` (a snake_case enum), or a 422 naming `field`.
fn parse_name<T: DeserializeOwned>(
    field: &str,
    value: Option<&str>,
    expected: &str,
) -> Result<Option<T>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    if value.len() > MAX_VALUE_LEN {
        return Err(ApiError::field(field, "at most 64 characters"));
    }
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map(Some)
        .map_err(|_| ApiError::field(field, format!("must be {expected}")))
}

impl EventQuery {
    fn filter(&self) -> Result<EventFilter, ApiError> {
        const UUID: &str = "a UUID";
        const TIME: &str = "an RFC 3339 time, e.g. 2026-11-23T08:00:00Z";
        let from = parse::<DateTime<Utc>>("from", self.from.as_deref(), TIME)?;
        let to = parse::<DateTime<Utc>>("to", self.to.as_deref(), TIME)?;
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err(ApiError::field("to", "must be after from"));
        }
        let outcome = parse_name::<Outcome>(
            "outcome",
            self.outcome.as_deref(),
            "granted, denied or pending",
        )?;
        let reason = parse_name::<Reason>(
            "reason",
            self.reason.as_deref(),
            "a reason code, e.g. no_grant",
        )?;
        let kind = match self.kind.as_deref() {
            Some(kind) if kind.len() > MAX_VALUE_LEN => {
                return Err(ApiError::field("kind", "at most 64 characters"));
            }
            Some(kind)
                if kind.is_empty()
                    || !kind.bytes().all(|b| b.is_ascii_lowercase() || b == b'_') =>
            {
                return Err(ApiError::field(
                    "kind",
                    "must be an event kind: lower case letters and _",
                ));
            }
            kind => kind.map(str::to_owned),
        };
        Ok(EventFilter {
            door_id: parse("door_id", self.door_id.as_deref(), UUID)?,
            person_id: parse("person_id", self.person_id.as_deref(), UUID)?,
            credential_id: parse("credential_id", self.credential_id.as_deref(), UUID)?,
            zone_id: parse("zone_id", self.zone_id.as_deref(), UUID)?,
            from,
            to,
            outcome: outcome.map(|o| o.as_str().to_owned()),
            reason: reason.map(|r| r.as_str().to_owned()),
            kind,
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
