//! Muster: start one for a site, mark people accounted for (large buttons for a tablet
//! at the assembly point), print the list, close it. The store calls are the API's, so
//! each step is in the operator log the same way.

use crate::api::error::ApiError;
use crate::auth::permissions::{Permission, ReadOccupancy, RunMuster};
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::domain::note;
use crate::state::AppState;
use crate::store::{MusterPerson, MusterRecord, now};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

/// Musters listed: those of the last week and any still open.
const RECENT_DAYS: i64 = 7;
const RECENT_SHOWN: u32 = 50;

struct MusterLine {
    id: Uuid,
    site: String,
    started: String,
    started_by: String,
    closed: Option<String>,
}

#[derive(Template)]
#[template(path = "muster_list.html")]
struct MusterList {
    chrome: Chrome,
    may_run: bool,
    sites: Vec<(String, String)>,
    musters: Vec<MusterLine>,
}

pub async fn list(
    State(state): State<AppState>,
    user: Console<ReadOccupancy>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let since = now() - chrono::Duration::days(RECENT_DAYS);
    let musters = state.store.recent_musters(since, RECENT_SHOWN).await?;
    let musters = musters
        .into_iter()
        .map(|m| MusterLine {
            id: m.id,
            site: names.site(m.site_id).to_owned(),
            started: names.time(m.started_at, Some(m.site_id)),
            started_by: m.started_by,
            closed: m.closed_at.map(|at| names.time(at, Some(m.site_id))),
        })
        .collect();
    Ok(render(MusterList {
        chrome: Chrome::new(&user.principal, "/muster", "Muster"),
        may_run: RunMuster::ROLES.contains(&user.principal.role),
        sites: names
            .sites_by_name()
            .into_iter()
            .map(|(id, name)| (id.to_string(), name.to_owned()))
            .collect(),
        musters,
    }))
}

#[derive(Deserialize)]
pub struct Start {
    site: Uuid,
}

/// `POST /muster`: starts a muster of the chosen site.
pub async fn start(
    State(state): State<AppState>,
    user: Console<RunMuster>,
    Form(form): Form<Start>,
) -> Result<Response, Failure> {
    let muster = state
        .store
        .start_muster(form.site, &user.actor())
        .await
        .map_err(Failure::unless_found("site"))?;
    Ok(Redirect::to(&format!("/muster/{}", muster.id)).into_response())
}

struct PersonLine {
    holder_id: Uuid,
    name: String,
    kind: &'static str,
    /// Their organisation, and for a visitor their host and phone.
    with: String,
    last_seen: String,
    accounted: Option<String>,
}

#[derive(Template)]
#[template(path = "muster.html")]
struct MusterPage {
    chrome: Chrome,
    id: Uuid,
    started: String,
    started_by: String,
    closed: Option<String>,
    unaccounted: usize,
    total: usize,
    people: Vec<PersonLine>,
    may_run: bool,
    print: bool,
}

/// "Acme Ltd, host Ada Lovelace".
pub fn organisation_and_host(organisation: Option<&str>, host: Option<&str>) -> String {
    match (organisation, host) {
        (Some(org), Some(host)) => format!("{org}, host {host}"),
        (Some(org), None) => org.to_owned(),
        (None, Some(host)) => format!("host {host}"),
        (None, None) => String::new(),
    }
}

async fn muster_page(
    state: &AppState,
    principal: &crate::store::Principal,
    id: Uuid,
    print: bool,
) -> Result<Response, Failure> {
    let muster: MusterRecord = state
        .store
        .muster(id)
        .await
        .map_err(Failure::unless_found("muster"))?;
    let names = Names::load(&state.store).await?;
    let site = Some(muster.site_id);
    let line = |p: &MusterPerson| PersonLine {
        holder_id: p.holder_id,
        name: p.name.clone(),
        kind: if p.kind == "visitor" {
            "Visitor"
        } else {
            "Staff"
        },
        with: {
            let with = organisation_and_host(p.organisation.as_deref(), p.host_name.as_deref());
            match (&p.phone, with.is_empty()) {
                (Some(phone), true) => format!("phone {phone}"),
                (Some(phone), false) => format!("{with}, phone {phone}"),
                (None, _) => with,
            }
        },
        last_seen: match p.zone_id {
            Some(_) => format!(
                "{} via {}, {}",
                p.zone_name,
                p.door_name.as_deref().unwrap_or("(removed door)"),
                names.time(p.since, site)
            ),
            // A checked-in visitor who never badged: `since` is the check-in.
            None => format!("{}, checked in {}", p.zone_name, names.time(p.since, site)),
        },
        accounted: p.accounted_at.map(|at| {
            let by = p.accounted_by.as_deref().unwrap_or("?");
            let note = p
                .note
                .as_deref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default();
            format!("{} by {by}{note}", names.time(at, site))
        }),
    };
    let title = format!("Muster of {}", names.site(muster.site_id));
    Ok(render(MusterPage {
        chrome: Chrome::new(principal, "/muster", title),
        id: muster.id,
        started: names.time(muster.started_at, site),
        started_by: muster.started_by.clone(),
        closed: muster.closed_at.map(|at| names.time(at, site)),
        unaccounted: muster.unaccounted,
        total: muster.people.len(),
        people: muster.people.iter().map(line).collect(),
        may_run: RunMuster::ROLES.contains(&principal.role),
        print,
    }))
}

/// `GET /muster/{id}`.
pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadOccupancy>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    muster_page(&state, &user.principal, id, false).await
}

/// `GET /muster/{id}/print`: the list alone, for paper.
pub async fn print(
    State(state): State<AppState>,
    user: Console<ReadOccupancy>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    muster_page(&state, &user.principal, id, true).await
}

#[derive(Deserialize)]
pub struct Accounted {
    holder_id: Uuid,
    #[serde(default)]
    note: String,
}

/// `POST /muster/{id}/accounted`.
pub async fn accounted(
    State(state): State<AppState>,
    user: Console<RunMuster>,
    Path(id): Path<Uuid>,
    Form(form): Form<Accounted>,
) -> Result<Response, Failure> {
    let text = Some(form.note.as_str()).filter(|n| !n.trim().is_empty());
    let note = note::muster_note(text).map_err(ApiError::Validation)?;
    state
        .store
        .account_for(id, form.holder_id, note, &user.actor())
        .await
        .map_err(Failure::unless_found("person on this muster"))?;
    Ok(Redirect::to(&format!("/muster/{id}#p-{}", form.holder_id)).into_response())
}

/// `POST /muster/{id}/close`.
pub async fn close(
    State(state): State<AppState>,
    user: Console<RunMuster>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    state
        .store
        .close_muster(id, &user.actor())
        .await
        .map_err(Failure::unless_found("muster"))?;
    Ok(Redirect::to(&format!("/muster/{id}")).into_response())
}
