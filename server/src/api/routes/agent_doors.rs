//! The agent side of live doors: `POST /agent/door-state` (each door's state, on every
//! change and as the agent's heartbeat) and `POST /agent/commands` (the long-poll that
//! hands an agent the remote commands for its own doors and takes back those it did).
//! Agent tokens only, like the rest of `/agent/*`; the bodies are the wire contract in
//! `gatehouse_core::protocol`.

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::ApiJson;
use crate::auth::agent::AuthenticatedAgent;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_core::protocol::{CommandPage, CommandPoll, DoorStateReport};
use std::time::Duration;
use tokio::time::Instant;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Longest and default command wait, in seconds (below the smallest request timeout).
const MAX_WAIT_S: u64 = 25;
/// Most doors in one report, most ids in `done`.
const MAX_DOORS: usize = 256;
const MAX_DONE: usize = 1000;
const MAX_KIND: usize = 64;
const MAX_DETAIL: usize = 256;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(report_door_state))
        .routes(routes!(poll_commands))
}

/// The current state of the agent's doors: sent on every change and at least every
/// heartbeat interval (it keeps the agent online). Every door must be one the agent
/// serves (403 otherwise, nothing stored).
#[utoipa::path(post, path = "/agent/door-state", tag = "agent", security(("bearer" = [])),
    request_body = DoorStateReport,
    responses((status = 204, description = "taken"), (status = 401, body = ErrorResponse),
        (status = 403, description = "a door this agent does not serve", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn report_door_state(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    ApiJson(report): ApiJson<DoorStateReport>,
) -> Result<StatusCode, ApiError> {
    if report.doors.len() > MAX_DOORS {
        return Err(ApiError::field("doors", "at most 256 doors per report"));
    }
    for (i, door) in report.doors.iter().enumerate() {
        if let Some(last) = &door.last_event {
            if last.kind.chars().count() > MAX_KIND {
                let field = format!("doors[{i}].last_event.kind");
                return Err(ApiError::field(&field, "at most 64 characters"));
            }
            if last
                .detail
                .as_ref()
                .is_some_and(|d| d.chars().count() > MAX_DETAIL)
            {
                let field = format!("doors[{i}].last_event.detail");
                return Err(ApiError::field(&field, "at most 256 characters"));
            }
        }
    }
    let doors = state.store.agent(agent.agent_id).await?.door_ids;
    if report.doors.iter().any(|d| !doors.contains(&d.door_id)) {
        return Err(ApiError::Forbidden);
    }
    state
        .store
        .report_door_states(agent.agent_id, &report.doors)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Marks the commands in `done` executed, then answers with the commands waiting for
/// the agent's doors, as soon as there are any within `wait_s` seconds (an empty list
/// when the wait ends first). A command is handed out until it is reported done or
/// expires: the agent executes each id once.
#[utoipa::path(post, path = "/agent/commands", tag = "agent", security(("bearer" = [])),
    request_body = CommandPoll,
    responses((status = 200, body = CommandPage), (status = 401, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn poll_commands(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    ApiJson(poll): ApiJson<CommandPoll>,
) -> Result<Json<CommandPage>, ApiError> {
    let wait_s = poll.wait_s.unwrap_or(MAX_WAIT_S);
    if wait_s > MAX_WAIT_S {
        return Err(ApiError::field("wait_s", "must be between 0 and 25"));
    }
    if poll.done.len() > MAX_DONE {
        return Err(ApiError::field("done", "at most 1000 ids"));
    }
    let deadline = Instant::now() + Duration::from_secs(wait_s);
    // Read again only when the server's feeds task sees a new command (given on any
    // replica): see `crate::feeds`.
    let mut given = state.feeds.commands();
    let mut done = poll.done.as_slice();
    let commands = loop {
        let commands = state.store.agent_commands(agent.agent_id, done).await?;
        done = &[];
        if !commands.is_empty() || !given.changed_by(deadline).await {
            break commands;
        }
    };
    Ok(Json(CommandPage { commands }))
}
