//! The security desk's live doors: every door's state (`GET /doors/status`), its live
//! stream (`GET /doors/status/stream`), and remote commands (`POST /doors/{id}/release`,
//! `POST /doors/{id}/mode`, `GET /doors/commands/{id}`).
//!
//! The stream reads the database every 250 ms and sends each door whose state (or agent
//! online flag) changed since it last sent it, so a console on any replica sees a change
//! an agent reported to another, within a quarter second of it being stored. Like the
//! alarm stream it lasts at most 25 s (the client reconnects: the first event says
//! `retry: 1000`) and ends when the session does or the server stops. Every connection
//! starts with every door: the board needs no cursor.
//!
//! A command is accepted only while the door's agent is online (409 otherwise, naming
//! the agent and when it was last heard from: nothing is queued); it expires
//! [`COMMAND_TTL`] after it is given, so an agent that comes back later never executes
//! it. The answer waits up to [`ANSWER_WAIT`] for the agent to fetch it, so the
//! operator sees `delivered` (or `done`) rather than guessing.

use crate::alarms::{AgentLiveness, StreamShutdown};
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::sse::{self, LIFETIME, RETRY, SESSION_CHECK_EVERY};
use crate::auth::extract::Authorized;
use crate::auth::permissions::Permission;
use crate::auth::permissions::{ControlDoors, ReadDoorStatus};
use crate::auth::stream_holder::StreamHolder;
use crate::state::AppState;
use crate::store::{Actor, Principal};
use crate::store::{
    CommandRecord, CommandRefused, CommandStatus, DoorStatus, NewCommand, Store, now,
};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::response::sse::Event;
use axum::{Extension, Json};
use gatehouse_core::model::DoorMode;
use gatehouse_core::protocol::{CommandAction, RELEASE_SECONDS, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::{Instant, sleep};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// How long a command waits for its agent before it expires unexecuted.
pub const COMMAND_TTL: Duration = Duration::from_secs(10);
/// How long a command's answer waits for the agent to fetch it.
const ANSWER_WAIT: Duration = Duration::from_secs(2);
const ANSWER_POLL: Duration = Duration::from_millis(50);

const POLL_EVERY: Duration = Duration::from_millis(250);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(door_status))
        .routes(routes!(door_status_stream))
        .routes(routes!(release_door))
        .routes(routes!(set_door_mode))
        .routes(routes!(get_command))
}

/// Which doors `GET /doors/status` lists.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct StatusQuery {
    /// Only doors of this site.
    site_id: Option<Uuid>,
}

/// Every door's live state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DoorBoard {
    /// In site name, door name order.
    doors: Vec<DoorStatus>,
    /// An agent not heard from for this many seconds is offline.
    agent_offline_after_s: u64,
    /// When this was read.
    at: chrono::DateTime<chrono::Utc>,
}

/// Every door with its site and zones by name, its agent (online or not), its lock,
/// contact, mode in force, standing alarms and last event, as its agent last reported.
#[utoipa::path(get, path = "/doors/status", tag = "doors", security(("bearer" = [])),
    params(StatusQuery),
    responses((status = 200, body = DoorBoard), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn door_status(
    State(state): State<AppState>,
    _auth: Authorized<ReadDoorStatus>,
    liveness: Option<Extension<AgentLiveness>>,
    ApiQuery(query): ApiQuery<StatusQuery>,
) -> Result<Json<DoorBoard>, ApiError> {
    let offline_after = AgentLiveness::of(liveness);
    let doors = state
        .store
        .door_statuses(query.site_id, offline_after)
        .await?;
    Ok(Json(DoorBoard {
        doors,
        agent_offline_after_s: offline_after.as_secs(),
        at: now(),
    }))
}

/// Live door states (Server-Sent Events).
///
/// `event: door` carries one door as `GET /doors/status` lists it (every site: a
/// console filters), sent for every door
/// on connecting and then whenever its state or its agent's online flag changes
/// (within 250 ms of the change being stored, on any replica); `event: door_removed`
/// (data: `{"door_id"}`) a door deleted meanwhile. The stream ends after 25 s
/// (reconnect), when the session ends, and at shutdown.
#[utoipa::path(get, path = "/doors/status/stream", tag = "doors", security(("bearer" = [])),
    responses(
        (status = 200, description = "`door` and `door_removed` events",
            content_type = "text/event-stream", body = String),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse)))]
async fn door_status_stream(
    State(state): State<AppState>,
    auth: Authorized<ReadDoorStatus>,
    headers: HeaderMap,
    liveness: Option<Extension<AgentLiveness>>,
    shutdown: Option<Extension<StreamShutdown>>,
) -> Result<impl IntoResponse, ApiError> {
    let holder = StreamHolder::bearer(&state.tokens, &headers)?;
    Ok(board_stream(
        &state,
        holder,
        &auth.principal,
        liveness,
        shutdown,
    ))
}

/// The door stream for an authenticated operator (API or console).
pub(crate) fn board_stream(
    state: &AppState,
    holder: StreamHolder,
    principal: &Principal,
    liveness: Option<Extension<AgentLiveness>>,
    shutdown: Option<Extension<StreamShutdown>>,
) -> impl IntoResponse + use<> {
    let board = Board {
        store: state.store.clone(),
        holder,
        principal: principal.clone(),
        offline_after: AgentLiveness::of(liveness),
        sent: BTreeMap::new(),
        pending: VecDeque::from([Event::default().comment("doors").retry(RETRY)]),
        ended: false,
        ends_at: Instant::now() + LIFETIME,
        next_session_check: Instant::now() + SESSION_CHECK_EVERY,
        next_read: Instant::now(),
        shutdown: shutdown.map(|Extension(StreamShutdown(stop))| stop),
    };
    let events = futures_util::stream::unfold(board, |mut board| async move {
        let event = board.next().await?;
        Some((Ok::<Event, Infallible>(event), board))
    });
    sse::answer(events)
}

/// The state of one door stream.
struct Board {
    store: Store,
    holder: StreamHolder,
    /// Whose stream it is (re-checked as it runs).
    principal: Principal,
    offline_after: Duration,
    /// Each door as last sent.
    sent: BTreeMap<Uuid, DoorStatus>,
    pending: VecDeque<Event>,
    ended: bool,
    ends_at: Instant,
    next_session_check: Instant,
    next_read: Instant,
    shutdown: Option<watch::Receiver<bool>>,
}

/// `event: door_removed`.
#[derive(Serialize)]
struct Removed {
    door_id: Uuid,
}

impl Board {
    /// The next event, or `None` when the stream ends.
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.ended {
                return None;
            }
            let wait = self
                .next_read
                .saturating_duration_since(Instant::now())
                .min(self.ends_at.saturating_duration_since(Instant::now()));
            if !wait.is_zero() {
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
            let at = Instant::now();
            let stopping = self.shutdown.as_ref().is_some_and(|s| *s.borrow());
            let live = if at >= self.next_session_check {
                self.next_session_check = at + SESSION_CHECK_EVERY;
                self.holder
                    .still_allowed(&self.store, &self.principal, ReadDoorStatus::ROLES)
                    .await
            } else {
                true
            };
            if at >= self.ends_at || stopping || !live {
                self.ended = true;
                return None;
            }
            self.next_read = at + POLL_EVERY;
            match self.store.door_statuses(None, self.offline_after).await {
                Ok(doors) => self.changes(doors),
                Err(error) => {
                    // The client reconnects and gets every door again.
                    tracing::warn!(%error, "door stream: could not read the doors");
                    self.ended = true;
                    return None;
                }
            }
        }
    }

    /// Queues the doors that differ from what was sent, and the doors gone.
    fn changes(&mut self, doors: Vec<DoorStatus>) {
        // A heartbeat moves only `agent_last_seen_at`: not a change worth an event (every
        // open board would re-read itself every few seconds per agent).
        fn same_state(sent: &DoorStatus, now: &DoorStatus) -> bool {
            let heard = DoorStatus {
                agent_last_seen_at: now.agent_last_seen_at,
                ..sent.clone()
            };
            heard == *now
        }
        let mut seen = BTreeMap::new();
        for door in doors {
            seen.insert(door.door_id, ());
            if self
                .sent
                .get(&door.door_id)
                .is_some_and(|sent| same_state(sent, &door))
            {
                continue;
            }
            match Event::default().event("door").json_data(&door) {
                Ok(event) => self.pending.push_back(event),
                Err(error) => tracing::warn!(%error, "door stream: could not encode a door"),
            }
            self.sent.insert(door.door_id, door);
        }
        let gone: Vec<Uuid> = self
            .sent
            .keys()
            .filter(|id| !seen.contains_key(id))
            .copied()
            .collect();
        for door_id in gone {
            self.sent.remove(&door_id);
            if let Ok(event) = Event::default()
                .event("door_removed")
                .json_data(Removed { door_id })
            {
                self.pending.push_back(event);
            }
        }
    }
}

/// A momentary release.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// How long the lock stays released, 1 to 300 seconds (it relocks sooner when the
    /// door closes after opening).
    #[schema(minimum = 1, maximum = 300)]
    seconds: u32,
}

/// A mode for the door.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeRequest {
    mode: DoorMode,
    /// When the door goes back to the mode its policy gives it; absent: at the next
    /// mode command (or the agent's restart). Must be in the future.
    until: Option<Timestamp>,
}

/// Release a door's lock for `seconds`, now. The door's agent must be online: 409
/// otherwise, and nothing is sent. Journalled at the door as a `remote_command` event
/// naming the operator, and in the operator log (`door.release`).
#[utoipa::path(post, path = "/doors/{id}/release", tag = "doors", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ReleaseRequest,
    responses((status = 202, description = "accepted; `status` says whether the agent \
            has it yet", body = CommandRecord),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "the door's agent is offline, or no agent serves it",
            body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn release_door(
    State(state): State<AppState>,
    auth: Authorized<ControlDoors>,
    liveness: Option<Extension<AgentLiveness>>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<ReleaseRequest>,
) -> Result<(StatusCode, Json<CommandRecord>), ApiError> {
    let action = CommandAction::Release {
        seconds: request.seconds,
    };
    let record = send_command(&state, &auth.actor(), liveness, id, action).await?;
    Ok((StatusCode::ACCEPTED, Json(record)))
}

/// Put a door in a mode (`locked`, `unlocked` or `normal`), until `until` or the next
/// mode command. The mode applies at the door at once, and to the cards decided there
/// (a door locked this way refuses everyone but exempt people). The door's agent must
/// be online: 409 otherwise. Journalled at the door and in the operator log
/// (`door.set_mode`). The mode the site model gives the door is not changed.
#[utoipa::path(post, path = "/doors/{id}/mode", tag = "doors", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = ModeRequest,
    responses((status = 202, description = "accepted; `status` says whether the agent \
            has it yet", body = CommandRecord),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse),
        (status = 409, description = "the door's agent is offline, or no agent serves it",
            body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn set_door_mode(
    State(state): State<AppState>,
    auth: Authorized<ControlDoors>,
    liveness: Option<Extension<AgentLiveness>>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<ModeRequest>,
) -> Result<(StatusCode, Json<CommandRecord>), ApiError> {
    let action = CommandAction::SetMode {
        mode: request.mode,
        until: request.until.map(|t| t.0),
    };
    let record = send_command(&state, &auth.actor(), liveness, id, action).await?;
    Ok((StatusCode::ACCEPTED, Json(record)))
}

/// A 422 naming the field when `action` cannot be sent: a release of 1 to 300 seconds,
/// a mode's end in the future.
fn check(action: &CommandAction) -> Result<(), ApiError> {
    match action {
        CommandAction::Release { seconds } if !RELEASE_SECONDS.contains(seconds) => {
            Err(ApiError::field("seconds", "must be between 1 and 300"))
        }
        CommandAction::SetMode {
            until: Some(until), ..
        } if *until <= now() => Err(ApiError::field("until", "must be in the future")),
        _ => Ok(()),
    }
}

/// Checks and stores a command and waits a little for the agent to fetch it (the API's
/// and the console's).
pub(crate) async fn send_command(
    state: &AppState,
    actor: &Actor,
    liveness: Option<Extension<AgentLiveness>>,
    door_id: Uuid,
    action: CommandAction,
) -> Result<CommandRecord, ApiError> {
    check(&action)?;
    let new = NewCommand {
        door_id,
        action,
        ttl: COMMAND_TTL,
    };
    let record = state
        .store
        .create_door_command(new, AgentLiveness::of(liveness), actor)
        .await
        .map_err(|refused| match refused {
            CommandRefused::NoDoor => ApiError::NotFound("door"),
            CommandRefused::Store(error) => error.into(),
            other => ApiError::Conflict(other.to_string()),
        })?;
    let deadline = Instant::now() + ANSWER_WAIT;
    let mut latest = record;
    while latest.status == CommandStatus::Pending && Instant::now() < deadline {
        sleep(ANSWER_POLL).await;
        match state.store.door_command(latest.id).await {
            Ok(now) => latest = now,
            // Stored and logged already: answer with what is known.
            Err(error) => {
                tracing::warn!(%error, "could not follow a door command");
                break;
            }
        }
    }
    Ok(latest)
}

/// A remote command and where it stands (`pending`, `delivered`, `done`, `expired`).
#[utoipa::path(get, path = "/doors/commands/{id}", tag = "doors", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CommandRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_command(
    State(state): State<AppState>,
    _auth: Authorized<ReadDoorStatus>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<CommandRecord>, ApiError> {
    let record = state.store.door_command(id).await.map_err(|e| match e {
        crate::store::StoreError::NotFound => ApiError::NotFound("command"),
        other => other.into(),
    })?;
    Ok(Json(record))
}
