//! "Would this card open that door now?": the door's engine on the current policy (the
//! API's `/access/check`, logged the same way), with every rule it checked.

use crate::api::error::ApiError;
use crate::api::routes::access::check_access;
use crate::auth::permissions::QueryAccess;
use crate::console::labels;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use gatehouse_core::decide::{Decision, Direction};
use serde::Deserialize;
use uuid::Uuid;

/// One rule of a trace, as the page shows it.
pub struct TraceLine {
    pub rule: &'static str,
    pub passed: bool,
    pub detail: String,
}

pub fn trace_lines(decision: &Decision) -> Vec<TraceLine> {
    decision
        .trace
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
            let at = site_local(&question.at, names.tz(site))?;
            let (decision, policy_version) = check_access(
                &state,
                &user.actor(),
                door_id,
                &question.card,
                at,
                direction,
                None,
            )
            .await?;
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
                trace: trace_lines(&decision),
                policy_version,
            })
        }
        _ => None,
    };
    let mut doors: Vec<_> = names
        .doors
        .values()
        .map(|d| {
            let label = format!("{} · {}", d.name, names.site(d.site_id));
            (d.id.to_string(), label, door_id == Some(d.id))
        })
        .collect();
    doors.sort_by(|a, b| a.1.cmp(&b.1));
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

/// A site-local `YYYY-MM-DDTHH:MM[:SS]` as UTC; empty is now. A time that does not exist
/// or is ambiguous at a clock change is refused, naming the field.
fn site_local(text: &str, zone: chrono_tz::Tz) -> Result<DateTime<Utc>, Failure> {
    if text.trim().is_empty() {
        return Ok(Utc::now());
    }
    let naive = NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text.trim(), "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| ApiError::field("at", "is not a date and time (YYYY-MM-DDTHH:MM)"))?;
    zone.from_local_datetime(&naive)
        .single()
        .map(|at| at.with_timezone(&Utc))
        .ok_or_else(|| {
            ApiError::field("at", "does not exist or is ambiguous at a clock change").into()
        })
}

#[cfg(test)]
mod tests {
    use super::site_local;

    #[test]
    fn site_local_times() -> anyhow::Result<()> {
        let berlin = chrono_tz::Europe::Berlin;
        let at = site_local("2026-12-06T14:30", berlin).map_err(|_| anyhow::anyhow!("refused"))?;
        assert_eq!(at.to_rfc3339(), "2026-12-06T13:30:00+00:00");
        // 02:30 on the spring-forward night does not exist in Berlin.
        assert!(site_local("2026-03-29T02:30", berlin).is_err());
        // 02:30 on the fall-back night happens twice.
        assert!(site_local("2026-10-25T02:30", berlin).is_err());
        assert!(site_local("yesterday", berlin).is_err());
        Ok(())
    }
}
