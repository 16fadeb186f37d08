//! What every live stream (Server-Sent Events) shares: its timings and how it is
//! answered — kept alive by a comment every 15 s, never buffered by a reverse proxy.
//! Streams end after [`LIFETIME`] (clients reconnect, told to wait [`RETRY`]) and re-check
//! their holder every [`SESSION_CHECK_EVERY`] (`auth::stream_holder`).

use axum::http::{HeaderName, HeaderValue};
use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use std::convert::Infallible;
use std::time::Duration;

pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
pub const LIFETIME: Duration = Duration::from_secs(25);
pub const SESSION_CHECK_EVERY: Duration = Duration::from_secs(5);
pub const RETRY: Duration = Duration::from_secs(1);

/// The answer carrying `events`.
pub fn answer<S>(events: S) -> impl IntoResponse + use<S>
where
    S: Stream<Item = Result<Event, Infallible>> + Send + 'static,
{
    let sse = Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE));
    // Reverse proxies (nginx) would otherwise buffer the stream.
    let no_buffering = [(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    )];
    (no_buffering, sse)
}
