//! Lockdown and threat levels: each site's current level; a change is shown for
//! confirmation before it applies (the API's check and operator-log entry). Lifting a
//! lockdown keeps the level, clearance raise and exempt people as they are.

use crate::api::error::ApiError;
use crate::auth::permissions::WriteSecurityModel;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use crate::store::{SiteRecord, Threat};
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Template)]
#[template(path = "threat.html")]
struct ThreatPage {
    chrome: Chrome,
    sites: Vec<SiteRecord>,
}

pub async fn page(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
) -> Result<Response, Failure> {
    let mut sites = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.list_sites(after, 1000).await?;
        after = page.last().map(|s| s.id);
        let full = page.len() == 1000;
        sites.extend(page);
        if !full {
            break;
        }
    }
    sites.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(render(ThreatPage {
        chrome: Chrome::new(&user.principal, "/threat", "Lockdown and threat levels"),
        sites,
    }))
}

/// The change asked for; the exempt people are kept as they are.
#[derive(Deserialize)]
pub struct Change {
    level: String,
    clearance_raise: String,
    #[serde(default)]
    lockdown: Option<String>,
}

impl Change {
    fn threat(&self, current: &Threat) -> Result<Threat, Failure> {
        let number = |field: &str, text: &str| {
            text.trim().parse::<u8>().map_err(|_| {
                Failure::from(ApiError::field(field, "must be a number from 0 to 255"))
            })
        };
        let threat = Threat {
            level: number("level", &self.level)?,
            clearance_raise: number("clearance_raise", &self.clearance_raise)?,
            lockdown: self.lockdown.as_deref() == Some("on"),
            exempt_person_ids: current.exempt_person_ids.clone(),
        };
        Ok(threat.checked().map_err(ApiError::Validation)?)
    }
}

#[derive(Template)]
#[template(path = "threat_confirm.html")]
struct ConfirmPage {
    chrome: Chrome,
    site: SiteRecord,
    new: Threat,
}

async fn site(state: &AppState, id: Uuid) -> Result<SiteRecord, Failure> {
    state
        .store
        .site(id)
        .await
        .map_err(Failure::unless_found("site"))
}

/// `GET /threat/{site}?level=…`: what would change, and a button to apply it.
pub async fn confirm(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
    Query(change): Query<Change>,
) -> Result<Response, Failure> {
    let site = site(&state, id).await?;
    let new = change.threat(&site.threat)?;
    Ok(render(ConfirmPage {
        chrome: Chrome::new(&user.principal, "/threat", "Confirm the change"),
        site,
        new,
    }))
}

/// `POST /threat/{site}`: applies the confirmed change.
pub async fn apply(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
    Form(change): Form<Change>,
) -> Result<Response, Failure> {
    let current = site(&state, id).await?;
    let threat = change.threat(&current.threat)?;
    state
        .store
        .set_threat_level(id, threat, &user.actor())
        .await
        .map_err(Failure::unless_found("site"))?;
    Ok(Redirect::to("/threat").into_response())
}
