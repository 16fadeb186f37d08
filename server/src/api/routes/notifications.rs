//! Notifications: the outbox of invitation emails and arrival notices, with each one's
//! delivery result, and a retry for a failed one (see `crate::notify`).

use super::site_model::not_found;
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadNotifications, WriteVisits};
use crate::state::AppState;
use crate::store::notifications::{NotificationFilter, NotificationRecord, NotificationState};
use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_notifications))
        .routes(routes!(retry_notification))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListNotifications {
    /// Only notifications about this visit.
    visit_id: Option<Uuid>,
    /// Only notifications in this state.
    state: Option<NotificationState>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    limit: Option<u32>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

/// List notifications, newest first, with their delivery results.
#[utoipa::path(get, path = "/notifications", tag = "notifications", security(("bearer" = [])),
    params(ListNotifications),
    responses((status = 200, body = Page<NotificationRecord>),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn list_notifications(
    State(state): State<AppState>,
    _auth: Authorized<ReadNotifications>,
    ApiQuery(query): ApiQuery<ListNotifications>,
) -> Result<Json<Page<NotificationRecord>>, ApiError> {
    let page = PageParams {
        limit: query.limit,
        cursor: query.cursor,
    };
    let limit = page.limit()?;
    let filter = NotificationFilter {
        visit_id: query.visit_id,
        state: query.state,
    };
    let rows = state
        .store
        .notifications(filter, page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |n| n.id)))
}

/// Send a failed notification again: it goes back to pending, due now, with a fresh count
/// of attempts (the same message). Refused (409) unless it failed.
#[utoipa::path(post, path = "/notifications/{id}/retry", tag = "notifications",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = NotificationRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse)))]
async fn retry_notification(
    State(state): State<AppState>,
    auth: Authorized<WriteVisits>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<NotificationRecord>, ApiError> {
    let record = state
        .store
        .retry_notification(id, &auth.actor())
        .await
        .map_err(not_found("notification"))?;
    state.notifier.wake();
    Ok(Json(record))
}
