//! `/screenings`: the security officer's desk for watchlist matches. Matches awaiting a
//! decision come first (visitor, the entry matched, score, the two names compared, the
//! entry's reason), each with an allow/refuse form and a required note; decided matches
//! follow, so a false match stays reviewable. Deciding calls the same store code as
//! `POST /api/v1/screenings/{id}/decision`.

use crate::api::error::ApiError;
use crate::api::routes::site_model::not_found;
use crate::auth::permissions::{ManageVisitRules, Permission, ReadWatchlist};
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use crate::store::watchlist::{
    ScreeningDecision, ScreeningFilter, ScreeningOutcome, ScreeningRecord, ScreeningStage,
};
use crate::store::{Store, StoreError};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::{Form, Router, routing};
use serde::Deserialize;
use std::collections::HashMap;
use uuid::Uuid;

const PATH: &str = "/screenings";
/// Screenings shown in each list.
const SHOWN: u32 = 200;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, routing::get(page))
        .route("/screenings/{id}/decision", routing::post(decide))
}

struct MatchLine {
    entry: String,
    listed_name: String,
    candidate_name: String,
    score: String,
    block: bool,
    reason: String,
}

struct Line {
    id: Uuid,
    visitor: String,
    stage: &'static str,
    at: String,
    block: bool,
    matches: Vec<MatchLine>,
    list_version: i64,
    algorithm: String,
    decision: String,
    decided: String,
    note: String,
}

#[derive(Template)]
#[template(path = "screenings.html")]
struct ScreeningsPage {
    chrome: Chrome,
    pending: Vec<Line>,
    decided: Vec<Line>,
    may_decide: bool,
}

/// The site of a visit (from its first zone), for its local time; looked up once a visit.
async fn visit_site(
    store: &Store,
    names: &Names,
    sites: &mut HashMap<Uuid, Option<Uuid>>,
    visit_id: Uuid,
) -> Result<Option<Uuid>, StoreError> {
    if let Some(site) = sites.get(&visit_id) {
        return Ok(*site);
    }
    let site = match store.visit(visit_id).await {
        Ok(visit) => visit
            .allowed_zone_ids
            .first()
            .and_then(|z| names.zones.get(z))
            .map(|z| z.site_id),
        Err(StoreError::NotFound) => None,
        Err(other) => return Err(other),
    };
    sites.insert(visit_id, site);
    Ok(site)
}

fn line(s: ScreeningRecord, names: &Names, site: Option<Uuid>) -> Line {
    let decided = match (&s.decided_by, s.decided_at) {
        (Some(by), Some(at)) => format!("{by}, {}", names.time(at, site)),
        _ => String::new(),
    };
    Line {
        id: s.id,
        stage: match s.stage {
            ScreeningStage::Invitation => "at invitation",
            ScreeningStage::CheckIn => "at check-in",
        },
        at: names.time(s.at, site),
        block: s.outcome == ScreeningOutcome::Block,
        matches: s
            .matches
            .into_iter()
            .map(|m| MatchLine {
                block: m.action == crate::store::watchlist::WatchAction::Block,
                entry: m.entry_name,
                listed_name: m.listed_name,
                candidate_name: m.candidate_name,
                score: format!("{:.0} %", m.score * 100.0),
                reason: m.reason,
            })
            .collect(),
        list_version: s.list_version,
        algorithm: s.algorithm,
        decision: s.decision.map(|d| d.to_string()).unwrap_or_default(),
        decided,
        note: s.note.unwrap_or_default(),
        visitor: s.candidate_name,
    }
}

/// `GET /screenings`.
async fn page(
    State(state): State<AppState>,
    user: Console<ReadWatchlist>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let mut sites = HashMap::new();
    let mut lists = [Vec::new(), Vec::new()];
    for (list, pending) in lists.iter_mut().zip([true, false]) {
        let filter = ScreeningFilter {
            pending: Some(pending),
            visit_id: None,
        };
        for s in state.store.list_screenings(filter, None, SHOWN).await? {
            let site = visit_site(&state.store, &names, &mut sites, s.visit_id).await?;
            list.push(line(s, &names, site));
        }
    }
    let [pending, decided] = lists;
    Ok(render(ScreeningsPage {
        chrome: Chrome::new(&user.principal, PATH, "Watchlist screening"),
        pending,
        decided,
        may_decide: ManageVisitRules::ROLES.contains(&user.principal.role),
    }))
}

#[derive(Deserialize)]
struct DecisionForm {
    #[serde(default)]
    decision: String,
    #[serde(default)]
    note: String,
}

/// `POST /screenings/{id}/decision`: allow or refuse, with a note.
async fn decide(
    State(state): State<AppState>,
    user: Console<ManageVisitRules>,
    Path(id): Path<Uuid>,
    Form(form): Form<DecisionForm>,
) -> Result<Response, Failure> {
    let decision: ScreeningDecision = form
        .decision
        .parse()
        .map_err(|_| Failure::from(ApiError::field("decision", "must be allowed or refused")))?;
    state
        .store
        .decide_screening(id, decision, &form.note, &user.actor())
        .await
        .map_err(not_found("screening"))?;
    Ok(Redirect::to(PATH).into_response())
}
