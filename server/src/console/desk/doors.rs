//! The door board: every door by site with its agent online or not, lock, contact, mode
//! in force, standing alarms and last event, updated live (the page listens to
//! `/desk/stream`, the API's door stream for the console session, and re-reads its
//! board). Officers who may control doors release a door for N seconds or set its mode
//! (the API's commands: journalled at the door naming them, in the operator log, refused
//! for a door whose agent is offline).

use crate::alarms::{AgentLiveness, StreamShutdown};
use crate::api::error::ApiError;
use crate::api::routes::door_live::{board_stream, send_command};
use crate::auth::permissions::{ControlDoors, Permission, ReadDoorStatus};
use crate::auth::stream_holder::StreamHolder;
use crate::console::labels;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::{Console, cookie_hash};
use crate::console::time;
use crate::state::AppState;
use crate::store::{CommandRecord, CommandStatus, DoorStatus, StoreError};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Extension, Form};
use gatehouse_core::model::DoorMode;
use gatehouse_core::protocol::{CommandAction, ContactState, DoorAlarm, LockState};
use serde::Deserialize;
use uuid::Uuid;

/// Who may watch the door board.
pub type ReadDoorBoard = ReadDoorStatus;

struct Tile {
    id: Uuid,
    name: String,
    into: String,
    online: bool,
    agent: String,
    lock: &'static str,
    contact: &'static str,
    open: bool,
    mode: String,
    alarms: Vec<&'static str>,
    last_event: String,
}

struct SiteBoard {
    name: String,
    doors: Vec<Tile>,
}

#[derive(Template)]
#[template(path = "doors.html")]
struct DoorBoard {
    chrome: Chrome,
    sites: Vec<SiteBoard>,
    may_control: bool,
    notice: Option<String>,
    offline_after_s: u64,
}

fn alarm_label(alarm: DoorAlarm) -> &'static str {
    match alarm {
        DoorAlarm::ForcedOpen => "FORCED OPEN",
        DoorAlarm::HeldOpen => "HELD OPEN",
        DoorAlarm::Tamper => "TAMPER",
    }
}

fn tile(door: &DoorStatus, zone: chrono_tz::Tz) -> Tile {
    let mode = match (door.mode, door.mode_until) {
        (Some(mode), Some(until)) => {
            format!(
                "{} until {}",
                labels::door_mode(mode),
                time::local(until, zone)
            )
        }
        (Some(mode), None) => labels::door_mode(mode).to_owned(),
        (None, _) => format!("{} (configured)", labels::door_mode(door.configured_mode)),
    };
    let last_event = door.last_event.as_ref().map_or_else(String::new, |e| {
        let what = e.detail.clone().unwrap_or_else(|| e.kind.replace('_', " "));
        format!("{what}, {}", time::local(e.at, zone))
    });
    Tile {
        id: door.door_id,
        name: door.door.clone(),
        into: door.to_zone.clone(),
        online: door.agent_online,
        agent: match (&door.agent, door.agent_last_seen_at) {
            (Some(agent), Some(seen)) => format!("{agent}, last heard {}", time::local(seen, zone)),
            (Some(agent), None) => format!("{agent}, never heard from"),
            (None, _) => "no door agent".to_owned(),
        },
        lock: match door.lock {
            Some(LockState::Locked) => "Locked",
            Some(LockState::Released) => "Released",
            None => "not reported",
        },
        contact: match door.contact {
            Some(ContactState::Open) => "Open",
            Some(ContactState::Closed) => "Closed",
            None => "not reported",
        },
        open: door.contact == Some(ContactState::Open),
        mode,
        alarms: door.alarms.iter().copied().map(alarm_label).collect(),
        last_event,
    }
}

#[derive(Deserialize, Default)]
pub struct Shown {
    /// A command just sent, to say where it stands.
    #[serde(default)]
    command: Option<Uuid>,
}

pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadDoorBoard>,
    liveness: Option<Extension<AgentLiveness>>,
    Query(shown): Query<Shown>,
) -> Result<Response, Failure> {
    let offline_after = AgentLiveness::of(liveness);
    let statuses = state.store.door_statuses(None, offline_after).await?;
    let names = Names::load(&state.store).await?;
    let mut sites: Vec<SiteBoard> = Vec::new();
    for door in &statuses {
        let zone = names.tz(Some(door.site_id));
        match sites.last_mut() {
            Some(site) if site.name == door.site => site.doors.push(tile(door, zone)),
            _ => sites.push(SiteBoard {
                name: door.site.clone(),
                doors: vec![tile(door, zone)],
            }),
        }
    }
    let notice = match shown.command {
        Some(id) => match state.store.door_command(id).await {
            Ok(command) => Some(command_notice(&command, &names)),
            Err(StoreError::NotFound) => None,
            Err(other) => return Err(other.into()),
        },
        None => None,
    };
    Ok(render(DoorBoard {
        chrome: Chrome::new(&user.principal, "/desk", "Door board"),
        sites,
        may_control: ControlDoors::ROLES.contains(&user.principal.role),
        notice,
        offline_after_s: offline_after.as_secs(),
    }))
}

fn command_notice(command: &CommandRecord, names: &Names) -> String {
    let door = names.door(command.door_id);
    let what = match command.action {
        CommandAction::Release { seconds } => format!("Release of {door} for {seconds} s"),
        CommandAction::SetMode { mode, .. } => {
            format!("{door} set to {}", labels::door_mode(mode))
        }
    };
    let status = match command.status {
        CommandStatus::Pending => "sent, not yet fetched by the door agent",
        CommandStatus::Delivered => "received by the door agent",
        CommandStatus::Done => "done at the door",
        CommandStatus::Expired => "expired: the door agent did not fetch it in time",
    };
    format!("{what}: {status}.")
}

/// `GET /desk/stream`: the API's door stream for the console's session.
pub async fn live(
    State(state): State<AppState>,
    user: Console<ReadDoorBoard>,
    headers: HeaderMap,
    liveness: Option<Extension<AgentLiveness>>,
    shutdown: Option<Extension<StreamShutdown>>,
) -> Result<Response, Failure> {
    let cookie_hash = cookie_hash(&headers).ok_or_else(Failure::forbidden)?;
    let holder = StreamHolder::Console { cookie_hash };
    Ok(board_stream(&state, holder, &user.principal, liveness, shutdown).into_response())
}

#[derive(Deserialize)]
pub struct Release {
    seconds: String,
}

/// `POST /desk/doors/{id}/release`.
pub async fn release(
    State(state): State<AppState>,
    user: Console<ControlDoors>,
    liveness: Option<Extension<AgentLiveness>>,
    Path(id): Path<Uuid>,
    Form(form): Form<Release>,
) -> Result<Response, Failure> {
    let seconds = form
        .seconds
        .trim()
        .parse::<u32>()
        .map_err(|_| ApiError::field("seconds", "must be a number from 1 to 300"))?;
    let action = CommandAction::Release { seconds };
    let command = send_command(&state, &user.actor(), liveness, id, action).await?;
    Ok(Redirect::to(&format!("/desk?command={}", command.id)).into_response())
}

#[derive(Deserialize)]
pub struct SetMode {
    mode: String,
    /// Site-local `YYYY-MM-DDTHH:MM`; empty: until the next mode command.
    #[serde(default)]
    until: String,
}

/// `POST /desk/doors/{id}/mode`.
pub async fn set_mode(
    State(state): State<AppState>,
    user: Console<ControlDoors>,
    liveness: Option<Extension<AgentLiveness>>,
    Path(id): Path<Uuid>,
    Form(form): Form<SetMode>,
) -> Result<Response, Failure> {
    let mode = form
        .mode
        .parse::<DoorMode>()
        .map_err(|_| ApiError::field("mode", "is normal, locked or unlocked"))?;
    let names = Names::load(&state.store).await?;
    let zone = names.tz(names.door_site(id));
    let until = time::parse_local("until", &form.until, zone)?;
    let action = CommandAction::SetMode { mode, until };
    let command = send_command(&state, &user.actor(), liveness, id, action).await?;
    Ok(Redirect::to(&format!("/desk?command={}", command.id)).into_response())
}
