//! Events and "why was this denied?": search by person or visitor name, card number,
//! door, outcome and period (site-local); an event's page shows the rules the door
//! checked at the time (the trace the agent recorded), not today's.

use super::access::{TraceLine, trace_lines};
use crate::api::error::ApiError;
use crate::api::filters;
use crate::auth::permissions::{Permission, QueryAccess, ReadEvents};
use crate::console::labels;
use crate::console::names::{Names, PeopleNames};
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time;
use crate::state::AppState;
use crate::store::{EventFilter, EventRecord, now};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use gatehouse_core::decide::{Outcome, Reason};
use gatehouse_core::model::normalize_card;
use serde::Deserialize;
use strum::IntoEnumIterator;
use uuid::Uuid;

const SHOWN: u32 = 200;

#[derive(Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    name: String,
    #[serde(default)]
    card: String,
    #[serde(default)]
    door: String,
    #[serde(default)]
    outcome: String,
    #[serde(default)]
    reason: String,
    /// Site-local `YYYY-MM-DDTHH:MM`; empty: 24 hours ago.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    after: String,
}

struct EventLine {
    id: Uuid,
    at: String,
    what: String,
    who: String,
    card: String,
    door: String,
    outcome: String,
    denied: bool,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    chrome: Chrome,
    search: Search,
    doors: Vec<(String, String, bool)>,
    outcomes: Vec<(&'static str, &'static str, bool)>,
    reasons: Vec<(&'static str, &'static str, bool)>,
    zone_label: String,
    rows: Vec<EventLine>,
    next: Option<String>,
}

fn option(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|t| !t.is_empty())
}

pub async fn list(
    State(state): State<AppState>,
    user: Console<ReadEvents>,
    Query(search): Query<Search>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let door_id = match option(&search.door) {
        None => None,
        Some(text) => Some(
            Uuid::parse_str(text)
                .map_err(|_| ApiError::field("door", "is not one of the choices"))?,
        ),
    };
    // Times are read in the door's site's zone, or the only site's, else UTC.
    let site = door_id
        .and_then(|d| names.door_site(d))
        .or_else(|| names.only_site());
    let zone = names.tz(site);
    let from = time::parse_local("from", &search.from, zone)?
        .unwrap_or(now() - chrono::Duration::hours(24));
    let to = time::parse_local("to", &search.to, zone)?;
    if to.is_some_and(|to| to <= from) {
        return Err(ApiError::field("to", "must be after from").into());
    }
    let card = option(&search.card)
        .map(normalize_card)
        .transpose()
        .map_err(|e| ApiError::field("card", e.to_string()))?;
    let name = option(&search.name).map(str::to_owned);
    if name.as_ref().is_some_and(|n| n.chars().count() > 64) {
        return Err(ApiError::field("name", "at most 64 characters").into());
    }
    let outcome = filters::outcome(option(&search.outcome))?;
    let reason = filters::reason(option(&search.reason))?;
    let filter = EventFilter {
        door_id,
        from: Some(from),
        to,
        outcome: outcome.map(|o| o.to_string()),
        reason: reason.map(|r| r.to_string()),
        card,
        person_name: name,
        ..EventFilter::default()
    };
    let after = option(&search.after)
        .map(Uuid::parse_str)
        .transpose()
        .map_err(|_| ApiError::field("after", "is not a position in this list"))?;
    let mut events = state.store.list_events(&filter, after, SHOWN + 1).await?;
    let more = events.len() > SHOWN as usize;
    events.truncate(SHOWN as usize);
    let mut people = PeopleNames::default();
    let mut rows = Vec::with_capacity(events.len());
    for event in &events {
        rows.push(line(&state, &names, &mut people, event).await?);
    }
    let next = more.then(|| {
        let last = events.last().map(|e| e.id.to_string()).unwrap_or_default();
        serde_urlencoded::to_string([
            ("name", search.name.as_str()),
            ("card", search.card.as_str()),
            ("door", search.door.as_str()),
            ("outcome", search.outcome.as_str()),
            ("reason", search.reason.as_str()),
            ("from", search.from.as_str()),
            ("to", search.to.as_str()),
            ("after", last.as_str()),
        ])
        .unwrap_or_default()
    });
    let doors = names.door_choices(door_id);
    let outcomes = Outcome::iter()
        .map(|o| (o.as_str(), labels::outcome(o), outcome == Some(o)))
        .collect();
    let reasons = Reason::iter()
        .map(|r| (r.as_str(), labels::reason(r), reason == Some(r)))
        .collect();
    Ok(render(EventsPage {
        chrome: Chrome::new(&user.principal, "/events", "Events"),
        search,
        doors,
        outcomes,
        reasons,
        zone_label: zone.name().to_owned(),
        rows,
        next,
    }))
}

async fn line(
    state: &AppState,
    names: &Names,
    people: &mut PeopleNames,
    event: &EventRecord,
) -> Result<EventLine, Failure> {
    let site = event.door_id.and_then(|d| names.door_site(d));
    let who = match event.person_id {
        Some(id) => people.name(&state.store, id).await?,
        None if event.visit_id.is_some() => "Visitor".to_owned(),
        None => String::new(),
    };
    let outcome = labels::decision(event.outcome.as_deref(), event.reason.as_deref());
    Ok(EventLine {
        id: event.id,
        at: names.time(event.occurred_at, site),
        what: event.kind.replace('_', " "),
        who,
        card: event.card.clone().unwrap_or_default(),
        door: event
            .door_id
            .map(|d| names.door(d).to_owned())
            .unwrap_or_default(),
        denied: event.outcome.as_deref() == Some("denied"),
        outcome,
    })
}

#[derive(Template)]
#[template(path = "event.html")]
struct EventPage {
    chrome: Chrome,
    at: String,
    received: String,
    what: String,
    who: String,
    organisation: String,
    host: String,
    card: String,
    place: String,
    direction: String,
    outcome: String,
    policy_version: String,
    agent: String,
    trace: Vec<TraceLine>,
    has_trace: bool,
    check_link: Option<String>,
}

/// `GET /events/{id}`.
pub async fn detail(
    State(state): State<AppState>,
    user: Console<ReadEvents>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    let detail = state
        .store
        .event_detail(id)
        .await
        .map_err(Failure::unless_found("event"))?;
    let names = Names::load(&state.store).await?;
    let event = &detail.event;
    let zone = names.tz(detail.site_id);
    let who = detail
        .person_name
        .clone()
        .or_else(|| {
            detail
                .visitor_name
                .as_ref()
                .map(|v| format!("{v} (visitor)"))
        })
        .unwrap_or_else(|| "nobody known".to_owned());
    let outcome = labels::decision(event.outcome.as_deref(), event.reason.as_deref());
    let trace = trace_lines(detail.trace.as_deref().unwrap_or_default());
    let check_link = match (event.door_id, &event.card) {
        (Some(door), Some(card)) if QueryAccess::ROLES.contains(&user.principal.role) => Some(
            serde_urlencoded::to_string([("door", door.to_string()), ("card", card.clone())])
                .unwrap_or_default(),
        ),
        _ => None,
    };
    Ok(render(EventPage {
        chrome: Chrome::new(&user.principal, "/events", "Event"),
        at: time::local(event.occurred_at, zone),
        received: time::local(event.received_at, zone),
        what: event.kind.replace('_', " "),
        who,
        organisation: detail.organisation.clone().unwrap_or_default(),
        host: detail.host_name.clone().unwrap_or_default(),
        card: event.card.clone().unwrap_or_default(),
        place: format!(
            "{} into {} at {}",
            detail.door_name.as_deref().unwrap_or("(no door)"),
            detail.zone_name.as_deref().unwrap_or("(no zone)"),
            detail.site_name.as_deref().unwrap_or("(no site)")
        ),
        direction: event.direction.clone().unwrap_or_default(),
        outcome,
        policy_version: event
            .policy_version
            .map(|v| v.to_string())
            .unwrap_or_default(),
        agent: detail.agent_name.clone(),
        has_trace: detail.trace.is_some(),
        trace,
        check_link,
    }))
}
