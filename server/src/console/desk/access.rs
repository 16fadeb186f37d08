//! "Would this card open that door now?": the door's engine on the current policy (the
//! API's `/access/check`, logged the same way), with every rule it checked.

use crate::api::error::ApiError;
use crate::api::routes::access::check_access;
use crate::auth::permissions::QueryAccess;
use crate::console::labels;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::Utc;
use gatehouse_core::decide::{Direction, Presentation, TraceStep};
use serde::Deserialize;
use uuid::Uuid;

/// One rule of a trace, as the page shows it.
pub struct TraceLine {
    pub rule: &'static str,
    pub passed: bool,
    pub detail: String,
}

pub fn trace_lines(trace: &[TraceStep]) -> Vec<TraceLine> {
    trace
        .iter()
        .map(|step| TraceLine {
            rule: labels::check(step.check),
            passed: step.passed,
            detail: step.detail.to_string(),
        })
        .collect()
}

#[derive(Deserialize, Default)]
pub struct Question {
    #[serde(default)]
    door: String,
    #[serde(default)]
    card: String,
    /// Site-local `YYYY-MM-DDTHH:MM` (an HTML datetime-local field); empty for now.
    #[serde(default)]
    at: String,
    #[serde(default)]
    direction: String,
}

struct Answer {
    outcome: &'static str,
    granted: bool,
    reason: &'static str,
    holder: String,
    at: String,
    trace: Vec<TraceLine>,
    policy_version: i64,
}

#[derive(Template)]
#[template(path = "access.html")]
struct AccessPage {
    chrome: Chrome,
    doors: Vec<(String, String, bool)>,
    card: String,
    at: String,
    exit: bool,
    answer: Option<Answer>,
}

pub async fn page(
    State(state): State<AppState>,
    user: Console<QueryAccess>,
    Query(question): Query<Question>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let door_id = match question.door.as_str() {
        "" => None,
        text => Some(
            Uuid::parse_str(text)
                .map_err(|_| ApiError::field("door", "is not one of the choices"))?,
        ),
    };
    let direction = match question.direction.as_str() {
        "" | "entry" => Direction::Entry,
        "exit" => Direction::Exit,
        _ => return Err(ApiError::field("direction", "is entry or exit").into()),
    };
    let answer = match door_id {
        Some(door_id) if !question.card.trim().is_empty() => {
            let site = names.door_site(door_id);
            let at =
                time::parse_local("at", &question.at, names.tz(site))?.unwrap_or_else(Utc::now);
            let asked = Presentation {
                card: question.card.clone(),
                pin: None,
                door_id,
                direction,
                at,
                authentication: Default::default(),
            };
            let (decision, policy_version) =
                check_access(&state, &user.actor(), asked, None).await?;
            let holder = match decision.person_id {
                Some(id) => state
                    .store
                    .person(id)
                    .await
                    .map(|p| p.name)
                    .unwrap_or_default(),
                None if decision.visit_id.is_some() => "a visitor".to_owned(),
                None => "nobody (unknown card)".to_owned(),
            };
            Some(Answer {
                outcome: labels::outcome(decision.outcome),
                granted: decision.granted(),
                reason: labels::reason(decision.reason),
                holder,
                at: names.time(at, site),
                trace: trace_lines(&decision.trace),
                policy_version,
            })
        }
        _ => None,
    };
    let doors = names.door_choices(door_id);
    Ok(render(AccessPage {
        chrome: Chrome::new(
            &user.principal,
            "/access",
            "Would this card open that door?",
        ),
        doors,
        card: question.card,
        at: question.at,
        exit: direction == Direction::Exit,
        answer,
    }))
}
