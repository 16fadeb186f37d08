//! `/admin/sites`: the site model without curl. The list of sites; a site's page with its
//! zones as a tree (each zone's rules in words), its doors (from and to zones, the agent
//! serving each and its state); forms to create, change and delete sites, zones and doors
//! for the roles that may write the model. Each action builds the API's request types'
//! equivalents, runs the same checks (`checked()`) and store calls (so the same operator
//! log entries), and shows a refusal as the error page naming its fields.

mod card_keys;
mod doors;
pub(super) mod fields;
mod tree;
mod zones;

use crate::alarms::AgentLiveness;
use crate::api::error::ApiError;
use crate::api::routes::site_model::{delete_record, not_found};
use crate::auth::permissions::{ManageCardKeys, Permission, ReadSecurityModel, WriteSecurityModel};
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use crate::store::{NewSite, SiteChange, SiteRecord};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use fields::failure;
use serde::Deserialize;
use tree::ZoneLine;
use uuid::Uuid;

const PATH: &str = "/admin/sites";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(list).post(create))
        .route("/admin/sites/{site}", get(page).post(update))
        .route("/admin/sites/{site}/delete", post(delete))
        .merge(zones::router())
        .merge(doors::router())
        .merge(card_keys::router())
}

/// Whether the operator may change the model (forms are shown only then).
fn may_write(user: &Console<ReadSecurityModel>) -> bool {
    WriteSecurityModel::ROLES.contains(&user.principal.role)
}

/// Every IANA time zone name, for the sites' chooser, with `chosen` marked.
fn timezones(chosen: &str) -> Vec<(&'static str, bool)> {
    chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| (tz.name(), tz.name() == chosen))
        .collect()
}

struct SiteRow {
    id: Uuid,
    name: String,
    timezone: String,
    zones: usize,
    doors: usize,
    threat: String,
}

#[derive(Template)]
#[template(path = "admin/sites.html")]
struct SitesPage {
    chrome: Chrome,
    sites: Vec<SiteRow>,
    may_write: bool,
    timezones: Vec<(&'static str, bool)>,
    site_values: Option<String>,
    /// The site form's threat level from which zones need secure cards ("": never).
    secure_from: String,
}

/// A site's threat level in words.
fn threat_words(site: &SiteRecord) -> String {
    let threat = &site.threat;
    let mut words = format!("threat level {}", threat.level);
    if threat.clearance_raise > 0 {
        words.push_str(&format!(", clearance raised by {}", threat.clearance_raise));
    }
    if threat.lockdown {
        words.push_str(", LOCKDOWN");
    }
    if site
        .secure_cards_from_threat_level
        .is_some_and(|l| threat.level >= l)
    {
        words.push_str(", secure cards only");
    }
    words
}

/// Every site, by name.
async fn all_sites(state: &AppState) -> Result<Vec<SiteRecord>, Failure> {
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
    Ok(sites)
}

/// `GET /admin/sites`.
async fn list(
    State(state): State<AppState>,
    user: Console<ReadSecurityModel>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let sites = all_sites(&state)
        .await?
        .into_iter()
        .map(|site| SiteRow {
            zones: names
                .zones
                .values()
                .filter(|z| z.site_id == site.id)
                .count(),
            doors: names
                .doors
                .values()
                .filter(|d| d.site_id == site.id)
                .count(),
            threat: threat_words(&site),
            id: site.id,
            name: site.name,
            timezone: site.timezone,
        })
        .collect();
    Ok(render(SitesPage {
        chrome: Chrome::new(&user.principal, PATH, "Sites, zones and doors"),
        sites,
        may_write: may_write(&user),
        timezones: timezones("UTC"),
        site_values: None,
        secure_from: String::new(),
    }))
}

/// A door of the site as its page lists it.
struct DoorRow {
    id: Uuid,
    name: String,
    from: String,
    to: String,
    mode: &'static str,
    agent: String,
    online: Option<bool>,
    /// Lock and contact as the agent last reported them.
    state: String,
}

#[derive(Template)]
#[template(path = "admin/site.html")]
struct SitePage {
    chrome: Chrome,
    site: SiteRecord,
    threat: String,
    zones: Vec<ZoneLine>,
    doors: Vec<DoorRow>,
    may_write: bool,
    timezones: Vec<(&'static str, bool)>,
    /// `(id, name)` of the site's zones, for the parent and door choosers.
    zone_choices: Vec<(Uuid, String)>,
    site_values: Option<String>,
    secure_from: String,
    values: zones::ZoneValues,
    anti_passback: [(&'static str, &'static str); 3],
    door_values: doors::DoorValues,
    modes: [(&'static str, &'static str); 3],
    /// The card keys panel, for admins only.
    card_keys: Option<card_keys::KeyPanel>,
}

/// `GET /admin/sites/{site}`.
async fn page(
    State(state): State<AppState>,
    user: Console<ReadSecurityModel>,
    liveness: Option<Extension<AgentLiveness>>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    let site = state
        .store
        .site(id)
        .await
        .map_err(Failure::unless_found("site"))?;
    let names = Names::load(&state.store).await?;
    let statuses = state
        .store
        .door_statuses(Some(id), AgentLiveness::of(liveness))
        .await?;
    let zones = tree::lines(&names, id);
    let mut doors: Vec<DoorRow> = names
        .doors
        .values()
        .filter(|d| d.site_id == id)
        .map(|door| {
            let status = statuses.iter().find(|s| s.door_id == door.id);
            let agent = status.and_then(|s| s.agent.clone());
            DoorRow {
                state: status.map_or_else(String::new, door_state),
                id: door.id,
                name: door.name.clone(),
                from: names.zone(door.from_zone_id).to_owned(),
                to: names.zone(door.to_zone_id).to_owned(),
                mode: crate::console::labels::door_mode(door.mode),
                online: agent.as_ref().and(status.map(|s| s.agent_online)),
                agent: agent.unwrap_or_else(|| "no door agent".to_owned()),
            }
        })
        .collect();
    doors.sort_by(|a, b| a.name.cmp(&b.name));
    let zone_choices = zones.iter().map(|z| (z.id, z.path.clone())).collect();
    let card_keys = if ManageCardKeys::ROLES.contains(&user.principal.role) {
        let versions = state.card_keys.versions(id).await;
        let versions = versions.map_err(|e| Failure::from(crate::api::error::ApiError::from(e)))?;
        let zone = site.timezone.parse().unwrap_or(chrono_tz::Tz::UTC);
        let time = |at| crate::console::time::local(at, zone);
        Some(card_keys::KeyPanel::new(&versions, time))
    } else {
        None
    };
    Ok(render(SitePage {
        card_keys,
        chrome: Chrome::new(&user.principal, PATH, site.name.clone()),
        threat: threat_words(&site),
        may_write: may_write(&user),
        timezones: timezones(&site.timezone),
        site_values: Some(site.name.clone()),
        secure_from: (site.secure_cards_from_threat_level)
            .map_or_else(String::new, |l| l.to_string()),
        values: zones::ZoneValues::new_zone(),
        anti_passback: zones::ANTI_PASSBACK,
        door_values: doors::DoorValues::new_door(),
        modes: doors::MODES,
        site,
        zones,
        doors,
        zone_choices,
    }))
}

/// A door's lock and contact in words, as last reported.
fn door_state(status: &crate::store::DoorStatus) -> String {
    use gatehouse_core::protocol::{ContactState, LockState};
    match (status.lock, status.contact) {
        (None, None) => "not reported yet".to_owned(),
        (lock, contact) => {
            let lock = match lock {
                Some(LockState::Locked) => "locked",
                Some(LockState::Released) => "released",
                None => "lock not reported",
            };
            let contact = match contact {
                Some(ContactState::Open) => "open",
                Some(ContactState::Closed) => "closed",
                None => "contact not reported",
            };
            format!("{lock}, {contact}")
        }
    }
}

#[derive(Deserialize)]
struct SiteForm {
    name: String,
    timezone: String,
    #[serde(default)]
    secure_cards_from_threat_level: String,
}

impl SiteForm {
    /// The threat level from which every zone needs secure cards; empty: never.
    fn secure_from(&self) -> Result<Option<u8>, ApiError> {
        fields::number(
            "secure_cards_from_threat_level",
            &self.secure_cards_from_threat_level,
            "must be a threat level from 0 to 255, or empty for never",
        )
    }
}

/// `POST /admin/sites`: a new site, then its page.
async fn create(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Form(form): Form<SiteForm>,
) -> Result<Response, Failure> {
    let new = NewSite {
        secure_cards_from_threat_level: form.secure_from()?,
        name: form.name,
        timezone: form.timezone,
    }
    .checked()
    .map_err(failure)?;
    let site = state.store.create_site(new, &user.actor()).await?;
    Ok(Redirect::to(&format!("{PATH}/{}", site.id)).into_response())
}

/// `POST /admin/sites/{site}`: rename it or change its time zone.
async fn update(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
    Form(form): Form<SiteForm>,
) -> Result<Response, Failure> {
    let change = SiteChange {
        secure_cards_from_threat_level: Some(form.secure_from()?),
        name: Some(form.name),
        timezone: Some(form.timezone),
    }
    .checked()
    .map_err(failure)?;
    state
        .store
        .update_site(id, change, &user.actor())
        .await
        .map_err(not_found::<crate::store::StoreError>("site"))?;
    Ok(Redirect::to(&format!("{PATH}/{id}")).into_response())
}

/// `POST /admin/sites/{site}/delete`: refused (409) while zones, doors or schedules
/// belong to it.
async fn delete(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    delete_record::<SiteRecord>(&state, &user.actor(), id, "site").await?;
    Ok(Redirect::to(PATH).into_response())
}
