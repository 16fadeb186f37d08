//! The operator log, for admins and auditors: every change, filtered by actor, action,
//! object and period.

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::ApiQuery;
use crate::api::pagination::{Page, PageParams};
use crate::api::time::Timestamp;
use crate::auth::extract::Authorized;
use crate::auth::permissions::ReadOperatorLog;
use crate::state::AppState;
use crate::store::{LogFilter, LogRecord};
use axum::Json;
use axum::extract::State;
use chrono::DateTime;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_operator_log))
}

/// Filters (all optional, combined with AND) and the page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct LogQuery {
    /// Entries by this operator (their username), `cli` or `system`.
    #[param(min_length = 1, max_length = 64)]
    actor: Option<String>,
    /// This action (`site.threat_level`), or every action of a kind of object when it
    /// ends in `.` (`site.`).
    #[param(min_length = 1, max_length = 64, pattern = "^[a-z_.]+$")]
    action: Option<String>,
    /// Entries about this kind of object (`site`, `door`, `person`, ...).
    #[param(min_length = 1, max_length = 64, pattern = "^[a-z_]+$")]
    target_type: Option<String>,
    /// Entries about this object (its id).
    #[param(min_length = 1, max_length = 64)]
    target_id: Option<String>,
    /// At or after (RFC 3339).
    from: Option<Timestamp>,
    /// Before (RFC 3339); after `from`.
    to: Option<Timestamp>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// A filter value of at most 64 characters, or a 422 naming it.
fn text(
    field: &str,
    value: Option<String>,
    allowed: impl Fn(char) -> bool,
) -> Result<Option<String>, ApiError> {
    match value {
        Some(v) if v.is_empty() || v.chars().count() > 64 || !v.chars().all(&allowed) => {
            Err(ApiError::field(field, "is not a value this filter takes"))
        }
        v => Ok(v),
    }
}

impl LogQuery {
    /// The filter and the page, every value checked.
    pub fn read(self) -> Result<(LogFilter, PageParams), ApiError> {
        let (from, to) = (self.from.map(DateTime::from), self.to.map(DateTime::from));
        if let (Some(from), Some(to)) = (from, to)
            && to <= from
        {
            return Err(ApiError::field("to", "must be after from"));
        }
        let code = |c: char| c.is_ascii_lowercase() || c == '_';
        let filter = LogFilter {
            actor: text("actor", self.actor, |c| !c.is_control())?,
            action: text("action", self.action, |c| code(c) || c == '.')?,
            target_type: text("target_type", self.target_type, code)?,
            target_id: text("target_id", self.target_id, |c| !c.is_control())?,
            from,
            to,
        };
        let page = PageParams {
            limit: self.limit,
            cursor: self.cursor,
        };
        Ok((filter, page))
    }
}

/// Every change operators made, oldest first, with before and after; filtered by actor,
/// action, object and period.
#[utoipa::path(get, path = "/operator-log", tag = "operators", security(("bearer" = [])),
    params(LogQuery),
    responses((status = 200, body = Page<LogRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_operator_log(
    State(state): State<AppState>,
    _auth: Authorized<ReadOperatorLog>,
    ApiQuery(query): ApiQuery<LogQuery>,
) -> Result<Json<Page<LogRecord>>, ApiError> {
    let (filter, page) = query.read()?;
    let limit = page.limit()?;
    let rows = state
        .store
        .search_operator_log(&filter, page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |r| r.seq)))
}
