//! `GET /alarms/stream`: Server-Sent Events for consoles. Each replica reads the database
//! every 500 ms for alarms and acknowledgements chained after the last one it sent (see
//! `store::alarms::feed`), so a console may connect to any replica and misses nothing.
//!
//! Events: `alarm` (data: the alarm) and `ack` (data: who acknowledged which alarm),
//! each with its audit-chain position as `id`; a keep-alive comment every 15 s. A stream
//! lasts at most 25 s, like the agents' policy long-poll: the client reconnects (the
//! first event says `retry: 1000`) with `Last-Event-ID` and carries on where it was. It
//! also ends as soon as the session is revoked or the token expires (checked every 5 s),
//! and when the server shuts down.
//!
//! The position read up to moves on with everything chained, alarm or not; an event
//! with only an `id` (which clients take as the last event id without dispatching
//! anything) passes it on at most every 5 s and when the stream ends, so a reconnecting
//! console does not read the same stretch of the chain again.

use crate::alarm_desk::AlarmDesk;
use crate::alarms::StreamShutdown;
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::sse::{self, LIFETIME, RETRY, SESSION_CHECK_EVERY};
use crate::auth::extract::Authorized;
use crate::auth::permissions::{Permission, ReadAlarms};
use crate::auth::stream_holder::StreamHolder;
use crate::state::AppState;
use crate::store::{FEED_WINDOW, FeedItem, Principal, Store};
use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::HeaderName;
use axum::response::IntoResponse;
use axum::response::sse::Event;
use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, sleep};

const POLL_EVERY: Duration = Duration::from_millis(500);
const POSITION_EVERY: Duration = Duration::from_secs(5);
const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");

/// Live alarms (Server-Sent Events).
///
/// `event: alarm` carries an alarm as `GET /alarms` shows it, `event: ack` an
/// acknowledgement (`alarm_id`, `at`, `operator_id`, `operator`, `note`); each `id` is a
/// position in the audit chain; an event with only an `id` passes on the position read
/// up to. Without a `Last-Event-ID` header the stream starts with what is raised after
/// connecting; with one, after that position. The stream ends after 25 s (reconnect
/// with `Last-Event-ID`), when the session ends, and at shutdown.
#[utoipa::path(get, path = "/alarms/stream", tag = "alarms", security(("bearer" = [])),
    responses(
        (status = 200, description = "`alarm` and `ack` events", content_type = "text/event-stream",
            body = String),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 422, description = "`Last-Event-ID` is not a position this stream gave out",
            body = ErrorResponse)))]
pub(super) async fn alarm_stream(
    State(state): State<AppState>,
    auth: Authorized<ReadAlarms>,
    headers: HeaderMap,
    shutdown: Option<Extension<StreamShutdown>>,
) -> Result<impl IntoResponse, ApiError> {
    let holder = StreamHolder::bearer(&state.tokens, &headers)?;
    stream(&state, holder, &auth.principal, &headers, shutdown).await
}

/// The alarm stream for an authenticated operator (API or console).
pub(crate) async fn stream(
    state: &AppState,
    holder: StreamHolder,
    principal: &Principal,
    headers: &HeaderMap,
    shutdown: Option<Extension<StreamShutdown>>,
) -> Result<impl IntoResponse + use<>, ApiError> {
    let after = match headers.get(LAST_EVENT_ID) {
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok())
            .filter(|seq| *seq >= 0)
            .ok_or_else(|| {
                ApiError::field("last-event-id", "is not a position this stream gave out")
            })?,
        None => state.store.audit_head().await?.0,
    };
    let feed = Feed {
        store: state.store.clone(),
        desk: state.alarm_desk.clone(),
        holder,
        principal: principal.clone(),
        after,
        sent_position: after,
        next_position_at: Instant::now() + POSITION_EVERY,
        ended: false,
        pending: VecDeque::from([Event::default().comment("alarms").retry(RETRY)]),
        ends_at: Instant::now() + LIFETIME,
        next_session_check: Instant::now() + SESSION_CHECK_EVERY,
        shutdown: shutdown.map(|Extension(StreamShutdown(stop))| stop),
    };
    let events = futures_util::stream::unfold(feed, |mut feed| async move {
        let event = feed.next().await?;
        Some((Ok::<Event, Infallible>(event), feed))
    });
    Ok(sse::answer(events))
}

/// The state of one stream.
struct Feed {
    store: Store,
    /// Each alarm's priority and instructions.
    desk: Arc<AlarmDesk>,
    holder: StreamHolder,
    /// Whose stream it is (re-checked as it runs).
    principal: Principal,
    /// The chain position read up to.
    after: i64,
    /// The last position sent as an event `id`, and when to send the next one.
    sent_position: i64,
    next_position_at: Instant,
    /// The last event (the position) is sent: nothing more.
    ended: bool,
    /// Read but not yet sent.
    pending: VecDeque<Event>,
    ends_at: Instant,
    next_session_check: Instant,
    shutdown: Option<watch::Receiver<bool>>,
}

impl Feed {
    /// The next event, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            let at = Instant::now();
            let stopping = self.shutdown.as_ref().is_some_and(|s| *s.borrow());
            let live = if at >= self.next_session_check {
                self.next_session_check = at + SESSION_CHECK_EVERY;
                self.session_live().await
            } else {
                true
            };
            if at >= self.ends_at || stopping || !live {
                self.ended = true;
                return self.position();
            }
            let before = self.after;
            match self.store.alarm_feed(self.after).await {
                Ok((mut items, next)) => {
                    self.after = next;
                    for item in &mut items {
                        if let FeedItem::Alarm { alarm, .. } = item {
                            self.desk.annotate(alarm);
                        }
                    }
                    if let Some(last) = items.last() {
                        self.sent_position = last.seq();
                    }
                    self.pending.extend(events(&items));
                    if !self.pending.is_empty() {
                        continue;
                    }
                }
                Err(error) => {
                    // The client reconnects and resumes from the last id it received.
                    tracing::warn!(%error, "alarm stream: could not read alarms");
                    self.ended = true;
                    return None;
                }
            }
            if Instant::now() >= self.next_position_at
                && let Some(position) = self.position()
            {
                return Some(position);
            }
            if self.after - before >= FEED_WINDOW {
                // Catching up from far back: read on at once.
                continue;
            }
            let wait = POLL_EVERY.min(self.ends_at.saturating_duration_since(Instant::now()));
            match self.shutdown.as_mut() {
                Some(stop) => {
                    tokio::select! {
                        () = sleep(wait) => {}
                        _ = stop.wait_for(|stopped| *stopped) => {}
                    }
                }
                None => sleep(wait).await,
            }
        }
    }

    /// An event carrying only the position read up to, when it moved since the last one
    /// sent.
    fn position(&mut self) -> Option<Event> {
        self.next_position_at = Instant::now() + POSITION_EVERY;
        if self.after <= self.sent_position {
            return None;
        }
        self.sent_position = self.after;
        Some(Event::default().id(self.after.to_string()))
    }

    /// Whether the session still holds, for an operator who may still read alarms.
    async fn session_live(&self) -> bool {
        self.holder
            .still_allowed(&self.store, &self.principal, ReadAlarms::ROLES)
            .await
    }
}

/// The SSE events of feed items. Several alarms of one door event share its chain
/// position: only the last of them carries it as `id`, so a client that reconnects
/// after the first gets them all again rather than missing one.
fn events(items: &[FeedItem]) -> Vec<Event> {
    let mut out = Vec::with_capacity(items.len());
    for (n, item) in items.iter().enumerate() {
        let event = match item {
            FeedItem::Alarm { alarm, .. } => Event::default().event("alarm").json_data(alarm),
            FeedItem::Ack { ack, .. } => Event::default().event("ack").json_data(ack),
        };
        let event = match event {
            Ok(event) => event,
            Err(error) => {
                tracing::warn!(%error, "alarm stream: could not encode an event");
                continue;
            }
        };
        let last_at_position = items.get(n + 1).is_none_or(|next| next.seq() != item.seq());
        out.push(if last_at_position {
            event.id(item.seq().to_string())
        } else {
            event
        });
    }
    out
}
