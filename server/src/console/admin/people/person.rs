//! One person's page: details, status, vetting history, cards, groups, and "what can
//! this person open": every door with the engine's answer now for each of their cards
//! (the API's `/people/{id}/access`, from the same decision function), the reason in
//! words wherever the answer is no.

use super::{may_write, words};
use crate::api::routes::access::{can_enter, current, entry_decision};
use crate::api::routes::site_model::not_found;
use crate::auth::permissions::{Permission, ReadSecurityModel};
use crate::console::admin::groups::all_groups;
use crate::console::labels;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time;
use crate::state::AppState;
use crate::store::{CredentialFilter, PersonRecord};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::Response;
use chrono::Utc;
use gatehouse_core::model::{CredentialState, Holder, PersonStatus};
use uuid::Uuid;

struct Vetting {
    status: &'static str,
    until: String,
    reference: String,
    note: String,
    checked: String,
}

struct Card {
    id: Uuid,
    card: String,
    kind: &'static str,
    state: &'static str,
    validity: String,
    has_pin: bool,
    /// The states it may move to (a revoked card is final).
    moves: Vec<(&'static str, &'static str)>,
}

struct Door {
    door: String,
    card: String,
    opens: bool,
    answer: &'static str,
    reason: &'static str,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin/people_person.html")]
struct PersonPage {
    chrome: Chrome,
    person: PersonRecord,
    kind: &'static str,
    status: &'static str,
    active: bool,
    left: bool,
    vetting: Vec<Vetting>,
    cards: Vec<Card>,
    groups: Vec<(Uuid, String)>,
    other_groups: Vec<(Uuid, String)>,
    doors: Vec<Door>,
    opens: usize,
    now: String,
    zone_name: String,
    may_write: bool,
    /// Where the person is told their visitors arrived.
    email: Option<String>,
    /// Sites to issue a secure card for, on the desk reader.
    sites: Vec<(Uuid, String)>,
    /// Whether this server has a desk reader (else the section says so, with no form).
    desk_reader: bool,
    /// Why the desk reader did not start, shown next to its form.
    desk_refusal: Option<DeskRefusal>,
    no_desk_reader: &'static str,
}

/// Why the desk reader did not start issuing, and for which site (still chosen).
pub(crate) struct DeskRefusal {
    pub site_id: Uuid,
    pub why: String,
}

/// What the person page says where a server has no desk reader.
pub(crate) const NO_DESK_READER: &str = "This server has no desk reader, so secure cards \
    cannot be issued here. An administrator adds one: a PC/SC reader on the server machine \
    and the server built with PC/SC support (README, “Secure cards”).";

/// `GET /admin/people/{id}`.
pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadSecurityModel>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    show(&state, &user, id, None).await
}

/// The person's page; a desk reader's refusal is shown in its section (the page answers
/// 200; the refusal's caller sets its status).
pub(crate) async fn show<P: Permission>(
    state: &AppState,
    user: &Console<P>,
    id: Uuid,
    desk_refusal: Option<DeskRefusal>,
) -> Result<Response, Failure> {
    let person = state.store.person(id).await.map_err(not_found("person"))?;
    let names = Names::load(&state.store).await?;
    let tz = names.tz(names.only_site());
    let vetting = state
        .store
        .vetting_history(id)
        .await
        .map_err(not_found("person"))?
        .into_iter()
        .map(|v| Vetting {
            status: words::vetting(v.status),
            until: v
                .cleared_until
                .map_or_else(|| "no end".to_owned(), |t| time::local(t, tz)),
            reference: v.reference.unwrap_or_default(),
            note: v.note.unwrap_or_default(),
            checked: format!("{} by {}", time::local(v.checked_at, tz), v.checked_by),
        })
        .collect();
    let filter = CredentialFilter {
        person_id: Some(id),
        visit_id: None,
    };
    let cards = state
        .store
        .list_credentials(filter, None, 500)
        .await?
        .into_iter()
        .map(|c| Card {
            id: c.id,
            card: c.card,
            kind: words::card_kind(c.kind),
            state: words::card_state(c.state),
            validity: match (c.valid_from, c.valid_until) {
                (None, None) => "always".to_owned(),
                (from, until) => format!(
                    "{} to {}",
                    time::local_or_dash(from, tz),
                    time::local_or_dash(until, tz)
                ),
            },
            has_pin: c.has_pin,
            moves: moves(c.state),
        })
        .collect();
    let groups = all_groups(&state.store).await?;
    let (mine, others): (Vec<_>, Vec<_>) = groups
        .into_iter()
        .map(|g| (g.id, g.name))
        .partition(|(g, _)| person.group_ids.contains(g));
    let doors = doors(state, &names, id).await?;
    let now = Utc::now();
    Ok(render(PersonPage {
        chrome: Chrome::new(&user.principal, "/admin/people", person.name.clone()),
        kind: words::kind(person.kind),
        status: words::status(person.status),
        active: person.status == PersonStatus::Active,
        left: person.status == PersonStatus::Left,
        vetting,
        cards,
        groups: mine,
        other_groups: others,
        opens: doors.iter().filter(|d| d.opens).count(),
        doors,
        now: time::local(now, tz),
        zone_name: tz.name().to_owned(),
        may_write: may_write(user),
        email: state.store.person_email(id).await?,
        sites: names
            .sites_by_name()
            .into_iter()
            .map(|(id, name)| (id, name.to_owned()))
            .collect(),
        desk_reader: state.desk.present(),
        desk_refusal,
        no_desk_reader: NO_DESK_READER,
        person,
    }))
}

/// The engine's answer in words: opens, opens once a condition is met at the door, or
/// refused.
pub(crate) fn answer(decision: &gatehouse_core::decide::Decision) -> &'static str {
    if decision.granted() {
        "Opens"
    } else if can_enter(decision) {
        "Opens on a condition"
    } else {
        "Refused"
    }
}

/// The states a card in `state` may be put in, with the button's words.
fn moves(state: CredentialState) -> Vec<(&'static str, &'static str)> {
    let all = [
        (CredentialState::Active, "active", "Reactivate"),
        (CredentialState::Suspended, "suspended", "Suspend"),
        (CredentialState::Lost, "lost", "Report lost"),
        (CredentialState::Revoked, "revoked", "Revoke"),
    ];
    if state == CredentialState::Revoked {
        return Vec::new();
    }
    all.into_iter()
        .filter(|(s, _, _)| *s != state)
        .map(|(_, code, words)| (code, words))
        .collect()
}

/// Every door, for each of the person's cards in the current policy: the engine's
/// entry decision now, doors by name.
async fn doors(state: &AppState, names: &Names, id: Uuid) -> Result<Vec<Door>, Failure> {
    let compiled = current(state).await?;
    let policy = &compiled.policy;
    let at = Utc::now();
    let mut doors: Vec<_> = policy
        .source()
        .doors
        .iter()
        .map(|d| {
            let site = names.door_site(d.id).map_or("", |s| names.site(s));
            (format!("{} · {site}", names.door(d.id)), d.id)
        })
        .collect();
    doors.sort();
    let mut rows = Vec::new();
    let cards = policy
        .source()
        .credentials
        .iter()
        .filter(|c| c.holder == Holder::Person(id));
    for card in cards {
        for (label, door_id) in &doors {
            let decision = entry_decision(policy, &card.card, *door_id, at);
            let detail = decision
                .trace
                .iter()
                .find(|s| !s.passed)
                .map(|s| s.detail.to_string())
                .unwrap_or_default();
            rows.push(Door {
                door: label.clone(),
                card: card.card.to_string(),
                opens: can_enter(&decision),
                answer: answer(&decision),
                reason: labels::reason(decision.reason),
                detail,
            });
        }
    }
    Ok(rows)
}
