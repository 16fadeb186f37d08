//! The door board: every door by site, with its mode.

use crate::auth::permissions::ReadAgents;
use crate::console::labels;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;

/// Who may watch the door board.
pub type ReadDoorBoard = ReadAgents;

struct DoorRow {
    name: String,
    site: String,
    into: String,
    mode: &'static str,
}

#[derive(Template)]
#[template(path = "doors.html")]
struct DoorBoard {
    chrome: Chrome,
    doors: Vec<DoorRow>,
}

pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadDoorBoard>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let mut doors: Vec<DoorRow> = names
        .doors
        .values()
        .map(|door| DoorRow {
            name: door.name.clone(),
            site: names.site(door.site_id).to_owned(),
            into: names.zone(door.to_zone_id).to_owned(),
            mode: labels::door_mode(door.mode),
        })
        .collect();
    doors.sort_by(|a, b| (&a.site, &a.name).cmp(&(&b.site, &b.name)));
    Ok(render(DoorBoard {
        chrome: Chrome::new(&user.principal, "/desk", "Door board"),
        doors,
    }))
}
