//! Alarms for the security desk: the list (with filters), acknowledging one with a note,
//! and the live stream (`stream`). Admins, security officers and auditors read; admins
//! and security officers acknowledge.

pub(crate) mod stream;

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::api::time::Timestamp;
use crate::auth::extract::Authorized;
use crate::auth::permissions::{AcknowledgeAlarms, ReadAlarms};
use crate::domain::note;
use crate::state::AppState;
use crate::store::{Alarm, AlarmFilter, AlarmKind, StoreError};
use axum::Json;
use axum::extract::State;
use chrono::DateTime;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_alarms))
        .routes(routes!(acknowledge_alarm))
        .routes(routes!(stream::alarm_stream))
}

/// Filters (all optional) and the page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AlarmQuery {
    /// Only acknowledged (`true`) or only open (`false`) alarms.
    acknowledged: Option<bool>,
    kind: Option<AlarmKind>,
    /// Alarms of this site's doors, and server alarms of agents serving them.
    site_id: Option<Uuid>,
    /// Alarms of this door, and server alarms of the agent serving it.
    door_id: Option<Uuid>,
    agent_id: Option<Uuid>,
    /// Occurred at or after (RFC 3339).
    from: Option<Timestamp>,
    /// Occurred before (RFC 3339).
    to: Option<Timestamp>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List alarms, oldest first.
#[utoipa::path(get, path = "/alarms", tag = "alarms", security(("bearer" = [])),
    params(AlarmQuery),
    responses((status = 200, body = Page<Alarm>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_alarms(
    State(state): State<AppState>,
    _auth: Authorized<ReadAlarms>,
    ApiQuery(query): ApiQuery<AlarmQuery>,
) -> Result<Json<Page<Alarm>>, ApiError> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let filter = AlarmFilter {
        acknowledged: query.acknowledged,
        kind: query.kind,
        agent_id: query.agent_id,
        door_id: query.door_id,
        site_id: query.site_id,
        from: query.from.map(DateTime::from),
        to: query.to.map(DateTime::from),
    };
    let rows = state
        .store
        .list_alarms(&filter, page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |a| a.id)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Acknowledge {
    /// What the officer found or did (1 to 2000 characters).
    #[schema(pattern = "\\S", min_length = 1, max_length = 2000)]
    note: String,
}

/// Acknowledge an alarm with a note; recorded in the operator log. Once per alarm.
#[utoipa::path(post, path = "/alarms/{id}/ack", tag = "alarms", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = Acknowledge,
    responses((status = 200, body = Alarm), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "acknowledged already", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn acknowledge_alarm(
    State(state): State<AppState>,
    auth: Authorized<AcknowledgeAlarms>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<Acknowledge>,
) -> Result<Json<Alarm>, ApiError> {
    let note = note::alarm_note(&request.note)?;
    let acknowledged = state
        .store
        .acknowledge_alarm(id, note, &auth.actor())
        .await
        .map_err(|error| match error {
            StoreError::NotFound => ApiError::NotFound("alarm"),
            other => other.into(),
        })?;
    Ok(Json(acknowledged))
}
