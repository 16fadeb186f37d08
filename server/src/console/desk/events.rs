//! Events and "why was this denied?": search by person or visitor name, card number,
//! site, zone (with the incidents and alarms at the doors leading into it), door, kind,
//! outcome, reason and period (site-local), with a link to export the same records
//! for auditors; an event's page shows the rules the door checked at the time (the
//! trace the agent recorded), not today's.

use super::access::{TraceLine, trace_lines};
use crate::api::error::ApiError;
use crate::api::filters::{self, Kinds};
use crate::auth::permissions::{Permission, QueryAccess, ReadAlarms, ReadAudit, ReadEvents};
use crate::console::labels;
use crate::console::names::{Names, PeopleNames};
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time;
use crate::state::AppState;
use crate::store::{AlarmFilter, EventFilter, EventRecord, now};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use chrono_tz::Tz;
use gatehouse_core::decide::{Outcome, Reason};
use gatehouse_core::local_time::in_zone;
use gatehouse_core::model::normalize_card;
use serde::Deserialize;
use strum::IntoEnumIterator;
use uuid::Uuid;

const SHOWN: u32 = 200;

/// Alarms listed under a zone's or site's events (the rest are on `/alarms`).
const ALARMS_SHOWN: usize = 50;

#[derive(Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    name: String,
    #[serde(default)]
    card: String,
    #[serde(default)]
    site: String,
    #[serde(default)]
    zone: String,
    #[serde(default)]
    door: String,
    #[serde(default)]
    kind: String,
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

impl Search {
    /// The search as query parameters, with `after` (the next page) or without.
    fn query(&self, after: &str) -> String {
        serde_urlencoded::to_string([
            ("name", self.name.as_str()),
            ("card", self.card.as_str()),
            ("site", self.site.as_str()),
            ("zone", self.zone.as_str()),
            ("door", self.door.as_str()),
            ("kind", self.kind.as_str()),
            ("outcome", self.outcome.as_str()),
            ("reason", self.reason.as_str()),
            ("from", self.from.as_str()),
            ("to", self.to.as_str()),
            ("after", after),
        ])
        .unwrap_or_default()
    }
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

struct AlarmLine {
    at: String,
    what: &'static str,
    door: String,
}

#[derive(Template)]
#[template(path = "events.html")]
struct EventsPage {
    chrome: Chrome,
    search: Search,
    sites: Vec<(String, String, bool)>,
    zones: Vec<(String, String, bool)>,
    doors: Vec<(String, String, bool)>,
    kinds: Vec<(&'static str, &'static str, bool)>,
    outcomes: Vec<(&'static str, &'static str, bool)>,
    reasons: Vec<(&'static str, &'static str, bool)>,
    zone_label: String,
    rows: Vec<EventLine>,
    next: Option<String>,
    /// Under a zone or site filter, for roles that read alarms.
    alarms: Option<Vec<AlarmLine>>,
    alarms_link: String,
    /// For roles that read the audit trail: `/audit` with this page's filters.
    export: Option<String>,
}

fn option(text: &str) -> Option<&str> {
    Some(text.trim()).filter(|t| !t.is_empty())
}

/// A chosen id: empty is none, anything but one of the choices is refused.
fn chosen(field: &str, text: &str, known: impl Fn(Uuid) -> bool) -> Result<Option<Uuid>, Failure> {
    match option(text) {
        None => Ok(None),
        Some(text) => match Uuid::parse_str(text) {
            Ok(id) if known(id) => Ok(Some(id)),
            _ => Err(ApiError::field(field, "is not one of the choices").into()),
        },
    }
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
    let site_id = chosen("site", &search.site, |id| names.sites.contains_key(&id))?;
    let zone_id = chosen("zone", &search.zone, |id| names.zones.contains_key(&id))?;
    // Times are read in the chosen site's zone (the door's, the zone's), or the only
    // site's, else UTC.
    let site = site_id
        .or_else(|| zone_id.and_then(|z| names.zones.get(&z).map(|z| z.site_id)))
        .or_else(|| door_id.and_then(|d| names.door_site(d)))
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
    let kind = filters::kind(option(&search.kind), Kinds::Events)?;
    let filter = EventFilter {
        door_id,
        zone_id,
        site_id,
        from: Some(from),
        to,
        outcome: outcome.map(|o| o.to_string()),
        reason: reason.map(|r| r.to_string()),
        kind: kind.clone(),
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
        search.query(&last)
    });
    let role = user.principal.role;
    let alarms = match (zone_id, site_id) {
        (None, None) => None,
        _ if !ReadAlarms::ROLES.contains(&role) => None,
        _ => Some(alarms_at_doors(&state, &names, zone_id, site_id, from, to).await?),
    };
    let alarms_link = match site {
        Some(site) if site_id.is_some() || zone_id.is_some() => {
            serde_urlencoded::to_string([("site", site.to_string())]).unwrap_or_default()
        }
        _ => String::new(),
    };
    let export = ReadAudit::ROLES
        .contains(&role)
        .then(|| export_query(&search, from, zone));
    let doors = names.door_choices(door_id);
    let sites = names
        .sites_by_name()
        .into_iter()
        .map(|(id, name)| (id.to_string(), name.to_owned(), site_id == Some(id)))
        .collect();
    let kinds = labels::EVENT_KINDS
        .iter()
        .map(|(code, words)| (*code, *words, kind.as_deref() == Some(*code)))
        .collect();
    let outcomes = Outcome::iter()
        .map(|o| (o.as_str(), labels::outcome(o), outcome == Some(o)))
        .collect();
    let reasons = Reason::iter()
        .map(|r| (r.as_str(), labels::reason(r), reason == Some(r)))
        .collect();
    Ok(render(EventsPage {
        chrome: Chrome::new(&user.principal, "/events", "Events"),
        zones: zone_choices(&names, zone_id),
        search,
        sites,
        doors,
        kinds,
        outcomes,
        reasons,
        zone_label: zone.name().to_owned(),
        rows,
        next,
        alarms,
        alarms_link,
        export,
    }))
}

/// Zones as `(id, "zone · site", chosen)`, by that label.
fn zone_choices(names: &Names, chosen: Option<Uuid>) -> Vec<(String, String, bool)> {
    let mut zones: Vec<_> = names
        .zones
        .values()
        .map(|z| {
            let label = format!("{} · {}", z.name, names.site(z.site_id));
            (z.id.to_string(), label, chosen == Some(z.id))
        })
        .collect();
    zones.sort_by(|a, b| a.1.cmp(&b.1));
    zones
}

/// The query of `/audit` (its export form) with this page's filters: ids for site,
/// zone and door, the `datetime-local` texts for the period (`from` as the page read
/// it when left empty).
fn export_query(search: &Search, from: chrono::DateTime<chrono::Utc>, zone: Tz) -> String {
    let from_text = match option(&search.from) {
        Some(text) => text.to_owned(),
        None => in_zone(from, zone).format("%Y-%m-%dT%H:%M").to_string(),
    };
    serde_urlencoded::to_string([
        ("from", from_text.as_str()),
        ("to", search.to.trim()),
        ("site", search.site.trim()),
        ("zone", search.zone.trim()),
        ("door", search.door.trim()),
        ("outcome", search.outcome.trim()),
        ("reason", search.reason.trim()),
        ("kind", search.kind.trim()),
    ])
    .unwrap_or_default()
}

/// The alarms in the period at the doors of the zone (those leading into it) or of the
/// site, newest last, at most [`ALARMS_SHOWN`].
async fn alarms_at_doors(
    state: &AppState,
    names: &Names,
    zone_id: Option<Uuid>,
    site_id: Option<Uuid>,
    from: chrono::DateTime<chrono::Utc>,
    to: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<Vec<AlarmLine>, Failure> {
    let base = AlarmFilter {
        site_id,
        from: Some(from),
        to,
        ..AlarmFilter::default()
    };
    let limit = u32::try_from(ALARMS_SHOWN).unwrap_or(u32::MAX);
    let mut found = Vec::new();
    match zone_id {
        Some(zone) => {
            let mut doors: Vec<Uuid> = (names.doors.values())
                .filter(|d| d.to_zone_id == zone)
                .map(|d| d.id)
                .collect();
            doors.sort();
            for door in doors {
                let filter = AlarmFilter {
                    door_id: Some(door),
                    ..base.clone()
                };
                found.extend(state.store.list_alarms(&filter, None, limit).await?);
            }
        }
        None => found = state.store.list_alarms(&base, None, limit).await?,
    }
    // Server alarms concern an agent; only those at these doors are listed here.
    found.retain(|a| a.door_id.is_some());
    found.sort_by_key(|a| a.id);
    found.dedup_by_key(|a| a.id);
    found.truncate(ALARMS_SHOWN);
    Ok(found
        .iter()
        .map(|alarm| AlarmLine {
            at: names.time(alarm.occurred_at, alarm.site_id),
            what: labels::alarm_kind(alarm.kind),
            door: alarm
                .door_id
                .map(|d| names.door(d).to_owned())
                .unwrap_or_default(),
        })
        .collect())
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
        what: labels::event_kind(&event.kind),
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
