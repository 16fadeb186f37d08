//! Notifications (`/notifications`): every invitation email and arrival notice with its
//! delivery result, newest first, filtered by state; a failed one can be sent again (the
//! API's retry: same check, same operator-log entry).

use crate::auth::permissions::{Permission, ReadNotifications, WriteVisits};
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use crate::store::notifications::{
    Channel, NotificationFilter, NotificationKind, NotificationRecord, NotificationState,
};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

/// Notifications a page.
const SHOWN: u32 = 100;

#[derive(Deserialize, Default)]
pub struct Filter {
    #[serde(default)]
    state: String,
    /// The last notification of the previous page.
    #[serde(default)]
    before: String,
}

struct Row {
    id: Uuid,
    created: String,
    kind: &'static str,
    recipient: String,
    visitor: String,
    state: &'static str,
    delivered: String,
    attempts: i32,
    next_attempt: String,
    last_error: String,
    failed: bool,
}

#[derive(Template)]
#[template(path = "notifications.html")]
struct NotificationsPage {
    chrome: Chrome,
    rows: Vec<Row>,
    state: String,
    may_retry: bool,
    next: Option<String>,
}

fn kind(kind: NotificationKind, channel: Channel) -> &'static str {
    match (kind, channel) {
        (NotificationKind::Invitation, Channel::Email) => "Invitation (email)",
        (NotificationKind::Invitation, Channel::Webhook) => "Invitation (webhook)",
        (NotificationKind::Arrival, Channel::Email) => "Arrival notice (email)",
        (NotificationKind::Arrival, Channel::Webhook) => "Arrival notice (webhook)",
    }
}

fn state_label(state: NotificationState) -> &'static str {
    match state {
        NotificationState::Pending => "Waiting to be sent",
        NotificationState::Sent => "Sent",
        NotificationState::Failed => "Failed",
    }
}

fn row(n: NotificationRecord, names: &Names) -> Row {
    let site = n.site_id.or_else(|| names.only_site());
    let pending = n.state == NotificationState::Pending;
    Row {
        id: n.id,
        created: names.time(n.created_at, site),
        kind: kind(n.kind, n.channel),
        recipient: n.recipient,
        visitor: n.visitor_name.unwrap_or_default(),
        state: state_label(n.state),
        delivered: n
            .delivered_at
            .map(|at| names.time(at, site))
            .unwrap_or_default(),
        attempts: n.attempts,
        next_attempt: match pending && n.attempts > 0 {
            true => names.time(n.next_attempt_at, site),
            false => String::new(),
        },
        last_error: n.last_error.unwrap_or_default(),
        failed: n.state == NotificationState::Failed,
    }
}

/// `GET /notifications`.
pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadNotifications>,
    Query(filter): Query<Filter>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let wanted = filter.state.parse::<NotificationState>().ok();
    let before = filter.before.parse::<Uuid>().ok();
    let found = state
        .store
        .notifications(
            NotificationFilter {
                visit_id: None,
                state: wanted,
            },
            before,
            SHOWN + 1,
        )
        .await?;
    let more = found.len() > SHOWN as usize;
    let rows: Vec<Row> = found
        .into_iter()
        .take(SHOWN as usize)
        .map(|n| row(n, &names))
        .collect();
    let next = match (more, rows.last()) {
        (true, Some(last)) => Some(format!(
            "state={}&before={}",
            wanted.map(|s| s.as_ref().to_owned()).unwrap_or_default(),
            last.id
        )),
        _ => None,
    };
    Ok(render(NotificationsPage {
        chrome: Chrome::new(&user.principal, "/notifications", "Notifications"),
        rows,
        state: wanted.map(|s| s.as_ref().to_owned()).unwrap_or_default(),
        may_retry: WriteVisits::ROLES.contains(&user.principal.role),
        next,
    }))
}

/// `POST /notifications/{id}/retry`: a failed notification back in the queue.
pub async fn retry(
    State(state): State<AppState>,
    user: Console<WriteVisits>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    state
        .store
        .retry_notification(id, &user.actor())
        .await
        .map_err(Failure::unless_found("notification"))?;
    state.notifier.wake();
    Ok(Redirect::to("/notifications").into_response())
}
