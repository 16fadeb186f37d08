//! "Who can open this zone": for each card of a person in the current policy, the
//! engine's entry decision now at every door into the zone (the API's
//! `/zones/{id}/access`, from the same decision function). Those it lets in are listed
//! with the door; people who hold a grant covering the zone (directly or through a
//! group, as the policy tells) but are refused are listed with the engine's reason, e.g.
//! vetting expired or card lost.

use crate::api::error::ApiError;
use crate::api::routes::access::{can_enter, current, entry_decision};
use crate::auth::permissions::ReadSecurityModel;
use crate::console::admin::groups::zone_choices;
use crate::console::admin::people::person::answer;
use crate::console::labels;
use crate::console::names::{Names, PeopleNames};
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time;
use crate::state::AppState;
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::Utc;
use gatehouse_core::model::Holder;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize, Default)]
pub struct Which {
    #[serde(default)]
    zone: String,
}

struct Row {
    person_id: Uuid,
    person: String,
    card: String,
    door: String,
    answer: &'static str,
    reason: &'static str,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin/groups_who.html")]
struct WhoPage {
    chrome: Chrome,
    zones: Vec<(Uuid, String)>,
    zone: Option<Uuid>,
    zone_label: String,
    doors: usize,
    now: String,
    allowed: Vec<Row>,
    refused: Vec<Row>,
}

/// `GET /admin/groups/who?zone=…`.
pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadSecurityModel>,
    Query(which): Query<Which>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let zone = match which.zone.as_str() {
        "" => None,
        text => Some(
            Uuid::parse_str(text)
                .map_err(|_| ApiError::field("zone", "is not one of the choices"))?,
        ),
    };
    let zones = zone_choices(&names);
    let mut page = WhoPage {
        chrome: Chrome::new(&user.principal, "/admin/groups", "Who can open this zone"),
        zone_label: zone
            .and_then(|z| zones.iter().find(|(id, _)| *id == z))
            .map(|(_, label)| label.clone())
            .unwrap_or_default(),
        zones,
        zone,
        doors: 0,
        now: String::new(),
        allowed: Vec::new(),
        refused: Vec::new(),
    };
    let Some(zone_id) = zone else {
        return Ok(render(page));
    };
    let compiled = current(&state).await?;
    let policy = &compiled.policy;
    if policy.zone(zone_id).is_none() {
        return Err(Failure::not_found("zone"));
    }
    let at = Utc::now();
    let site = names.zones.get(&zone_id).map(|z| z.site_id);
    page.now = time::local(at, names.tz(site));
    let doors: Vec<Uuid> = policy
        .source()
        .doors
        .iter()
        .filter(|d| d.to_zone_id == zone_id)
        .map(|d| d.id)
        .collect();
    page.doors = doors.len();
    let mut people = PeopleNames::default();
    for credential in &policy.source().credentials {
        let Holder::Person(person_id) = credential.holder else {
            continue;
        };
        let decisions: Vec<_> = doors
            .iter()
            .map(|&door| (door, entry_decision(policy, &credential.card, door, at)))
            .collect();
        let (door, decision, allowed) = match decisions.iter().find(|(_, d)| can_enter(d)) {
            Some((door, decision)) => (door, decision, true),
            None => {
                // Only those a grant was meant to let in: a grant covering the zone.
                let granted = policy.person(person_id).is_some_and(|p| {
                    policy
                        .grants_of(p)
                        .any(|g| policy.covers(g.zone_id, zone_id))
                });
                match decisions.first() {
                    Some((door, decision)) if granted => (door, decision, false),
                    _ => continue,
                }
            }
        };
        let row = Row {
            person_id,
            person: people.name(&state.store, person_id).await?,
            card: credential.card.to_string(),
            door: names.door(*door).to_owned(),
            answer: answer(decision),
            reason: labels::reason(decision.reason),
            detail: decision
                .trace
                .iter()
                .find(|s| !s.passed)
                .map(|s| s.detail.to_string())
                .unwrap_or_default(),
        };
        if allowed {
            page.allowed.push(row);
        } else {
            page.refused.push(row);
        }
    }
    page.allowed.sort_by(|a, b| a.person.cmp(&b.person));
    page.refused.sort_by(|a, b| a.person.cmp(&b.person));
    Ok(render(page))
}
