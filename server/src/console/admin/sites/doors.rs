//! A site's doors: create one between two of its zones, change it, delete it. The door's
//! page shows its zones, its agent and the edit form.

use super::fields::{self, failure};
use super::tree;
use super::{PATH, may_write};
use crate::alarms::AgentLiveness;
use crate::api::error::ApiError;
use crate::api::routes::site_model::{delete_record, not_found};
use crate::auth::permissions::{ReadSecurityModel, WriteSecurityModel};
use crate::console::labels;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::domain::site_model::{DEFAULT_HELD_OPEN_MS, DEFAULT_UNLOCK_MS};
use crate::state::AppState;
use crate::store::{DoorChange, DoorRecord, ModelError, NewDoor};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use gatehouse_core::model::DoorMode;
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/sites/{site}/doors", post(create))
        .route("/admin/sites/{site}/doors/{door}", get(page).post(update))
        .route("/admin/sites/{site}/doors/{door}/delete", post(delete))
}

/// The mode choices: value and words.
pub const MODES: [(&str, &str); 3] = [
    ("normal", "Normal (cards decide)"),
    ("locked", "Locked (only responders)"),
    ("unlocked", "Unlocked (open to all)"),
];

/// What a door form shows.
pub struct DoorValues {
    pub name: String,
    pub from: Option<Uuid>,
    pub to: Option<Uuid>,
    pub mode: &'static str,
    pub unlock_ms: u32,
    pub held_open_ms: u32,
}

impl DoorValues {
    pub fn new_door() -> DoorValues {
        DoorValues {
            name: String::new(),
            from: None,
            to: None,
            mode: "normal",
            unlock_ms: DEFAULT_UNLOCK_MS,
            held_open_ms: DEFAULT_HELD_OPEN_MS,
        }
    }
}

#[derive(Template)]
#[template(path = "admin/door.html")]
struct DoorPage {
    chrome: Chrome,
    site_id: Uuid,
    site_name: String,
    door_id: Uuid,
    summary: String,
    agent: String,
    may_write: bool,
    door_values: DoorValues,
    zone_choices: Vec<(Uuid, String)>,
    modes: [(&'static str, &'static str); 3],
}

/// `GET /admin/sites/{site}/doors/{door}`.
async fn page(
    State(state): State<AppState>,
    user: Console<ReadSecurityModel>,
    liveness: Option<Extension<AgentLiveness>>,
    Path((site_id, door_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let door = names
        .doors
        .get(&door_id)
        .filter(|d| d.site_id == site_id)
        .ok_or_else(|| Failure::not_found("door"))?;
    let statuses = state
        .store
        .door_statuses(Some(site_id), AgentLiveness::of(liveness))
        .await?;
    let agent = match statuses.iter().find(|s| s.door_id == door_id) {
        Some(s) => match &s.agent {
            Some(name) if s.agent_online => format!("{name} (online)"),
            Some(name) => format!("{name} (offline)"),
            None => "no door agent".to_owned(),
        },
        None => "no door agent".to_owned(),
    };
    let summary = format!(
        "From {} into {}; {}; unlocks for {} ms; alarms when held open over {} ms.",
        names.zone(door.from_zone_id),
        names.zone(door.to_zone_id),
        labels::door_mode(door.mode),
        door.unlock_ms,
        door.held_open_ms
    );
    Ok(render(DoorPage {
        chrome: Chrome::new(&user.principal, PATH, format!("Door {}", door.name)),
        site_id,
        site_name: names.site(site_id).to_owned(),
        door_id,
        summary,
        agent,
        may_write: may_write(&user),
        door_values: DoorValues {
            name: door.name.clone(),
            from: Some(door.from_zone_id),
            to: Some(door.to_zone_id),
            mode: door.mode.into(),
            unlock_ms: door.unlock_ms,
            held_open_ms: door.held_open_ms,
        },
        zone_choices: tree::lines(&names, site_id)
            .into_iter()
            .map(|l| (l.id, l.path))
            .collect(),
        modes: MODES,
    }))
}

#[derive(Deserialize)]
struct DoorForm {
    name: String,
    #[serde(default)]
    from_zone_id: String,
    #[serde(default)]
    to_zone_id: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    unlock_ms: String,
    #[serde(default)]
    held_open_ms: String,
}

struct ReadDoor {
    from: Uuid,
    to: Uuid,
    mode: DoorMode,
    unlock_ms: u32,
    held_open_ms: u32,
}

impl DoorForm {
    fn read(&self) -> Result<ReadDoor, ApiError> {
        let mut problems = fields::Problems::default();
        let zone = |field: &str, text: &str| {
            fields::id(field, text)?.ok_or_else(|| ApiError::field(field, "choose a zone"))
        };
        let from = problems.keep(zone("from_zone_id", &self.from_zone_id));
        let to = problems.keep(zone("to_zone_id", &self.to_zone_id));
        let mode = problems.keep(
            fields::choice::<DoorMode>("mode", &self.mode, "is normal, locked or unlocked")
                .map(Option::unwrap_or_default),
        );
        let unlock_ms = problems.keep(fields::number::<u32>(
            "unlock_ms",
            &self.unlock_ms,
            "must be a number of milliseconds from 1000 to 60000",
        ));
        let held_open_ms = problems.keep(fields::number::<u32>(
            "held_open_ms",
            &self.held_open_ms,
            "must be a number of milliseconds from 1000 to 3600000",
        ));
        match (from, to, mode, unlock_ms, held_open_ms) {
            (Some(from), Some(to), Some(mode), Some(unlock), Some(held))
                if problems.0.is_empty() =>
            {
                Ok(ReadDoor {
                    from,
                    to,
                    mode,
                    unlock_ms: unlock.unwrap_or(DEFAULT_UNLOCK_MS),
                    held_open_ms: held.unwrap_or(DEFAULT_HELD_OPEN_MS),
                })
            }
            _ => Err(problems.refusal()),
        }
    }
}

/// `POST /admin/sites/{site}/doors`: a new door between two zones of the site.
async fn create(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(site_id): Path<Uuid>,
    Form(form): Form<DoorForm>,
) -> Result<Response, Failure> {
    let read = form.read()?;
    let new = NewDoor {
        name: form.name,
        from_zone_id: read.from,
        to_zone_id: read.to,
        mode: read.mode,
        unlock_ms: read.unlock_ms,
        held_open_ms: read.held_open_ms,
    }
    .checked()
    .map_err(failure)?;
    let door = state
        .store
        .create_door(new, &user.actor())
        .await
        .map_err(failure)?;
    if door.site_id != site_id {
        // The zones chose the site; show the door where it is.
        return Ok(Redirect::to(&format!("{PATH}/{}", door.site_id)).into_response());
    }
    Ok(Redirect::to(&format!("{PATH}/{site_id}")).into_response())
}

/// `POST /admin/sites/{site}/doors/{door}`.
async fn update(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path((site_id, door_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<DoorForm>,
) -> Result<Response, Failure> {
    let read = form.read()?;
    let change = DoorChange {
        name: Some(form.name),
        from_zone_id: Some(read.from),
        to_zone_id: Some(read.to),
        mode: Some(read.mode),
        unlock_ms: Some(read.unlock_ms),
        held_open_ms: Some(read.held_open_ms),
    }
    .checked()
    .map_err(failure)?;
    state
        .store
        .update_door(door_id, change, &user.actor())
        .await
        .map_err(not_found::<ModelError>("door"))?;
    Ok(Redirect::to(&format!("{PATH}/{site_id}")).into_response())
}

/// `POST /admin/sites/{site}/doors/{door}/delete`.
async fn delete(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path((site_id, door_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, Failure> {
    delete_record::<DoorRecord>(&state, &user.actor(), door_id, "door").await?;
    Ok(Redirect::to(&format!("{PATH}/{site_id}")).into_response())
}

impl DoorValues {
    pub fn is_from(&self, id: &Uuid) -> bool {
        self.from == Some(*id)
    }

    pub fn is_to(&self, id: &Uuid) -> bool {
        self.to == Some(*id)
    }
}
