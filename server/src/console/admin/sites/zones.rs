//! A site's zones: create one (under a parent or as a root), change its rules or its
//! place in the tree, delete it while nothing depends on it; the zone's own page shows
//! its doors and links to who may open it.

use super::fields::{self, failure};
use super::tree::{self, ZoneLine};
use super::{PATH, may_write};
use crate::api::error::ApiError;
use crate::api::routes::site_model::{delete_record, not_found};
use crate::auth::permissions::{ReadSecurityModel, WriteSecurityModel};
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use crate::store::{ModelError, NewZone, ZoneChange, ZoneRecord, ZoneRules};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gatehouse_core::model::{AntiPassback, Assurance};
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/sites/{site}/zones", post(create))
        .route("/admin/sites/{site}/zones/{zone}", get(page).post(update))
        .route("/admin/sites/{site}/zones/{zone}/delete", post(delete))
}

/// What a zone form shows: a zone's values, or the defaults of a new one.
pub struct ZoneValues {
    pub name: String,
    pub parent: Option<Uuid>,
    pub level: u8,
    pub vetting_required: bool,
    pub escort_required: bool,
    pub two_person: bool,
    pub pin_required: bool,
    pub anti_passback: &'static str,
    pub anti_passback_timeout_s: String,
    pub max_occupancy: String,
    /// `uid` or `secure`.
    pub min_assurance: &'static str,
}

impl ZoneValues {
    pub fn new_zone() -> ZoneValues {
        ZoneValues {
            name: String::new(),
            parent: None,
            level: 0,
            vetting_required: false,
            escort_required: false,
            two_person: false,
            pin_required: false,
            anti_passback: "off",
            anti_passback_timeout_s: String::new(),
            max_occupancy: String::new(),
            min_assurance: Assurance::Uid.as_str(),
        }
    }

    fn of(zone: &ZoneRecord) -> ZoneValues {
        let rules = &zone.rules;
        ZoneValues {
            name: zone.name.clone(),
            parent: zone.parent_id,
            level: zone.level,
            vetting_required: rules.vetting_required,
            escort_required: rules.escort_required,
            two_person: rules.two_person,
            pin_required: rules.pin_required,
            anti_passback: rules.anti_passback.into(),
            anti_passback_timeout_s: rules
                .anti_passback_timeout_s
                .map_or_else(String::new, |s| s.to_string()),
            max_occupancy: rules
                .max_occupancy
                .map_or_else(String::new, |m| m.to_string()),
            min_assurance: rules.min_assurance.as_str(),
        }
    }
}

/// The anti-passback choices: value and words.
pub const ANTI_PASSBACK: [(&str, &str); 3] = [
    ("off", "off"),
    ("soft", "soft: re-entry allowed, alarm raised"),
    ("hard", "hard: re-entry refused"),
];

struct DoorLine {
    name: String,
    from: String,
    to: String,
    site: Uuid,
    id: Uuid,
}

#[derive(Template)]
#[template(path = "admin/zone.html")]
struct ZonePage {
    chrome: Chrome,
    site_id: Uuid,
    site_name: String,
    zone_id: Uuid,
    path: String,
    rules: Vec<String>,
    doors: Vec<DoorLine>,
    may_write: bool,
    values: ZoneValues,
    zone_choices: Vec<(Uuid, String)>,
    anti_passback: [(&'static str, &'static str); 3],
}

/// `GET /admin/sites/{site}/zones/{zone}`.
async fn page(
    State(state): State<AppState>,
    user: Console<ReadSecurityModel>,
    Path((site_id, zone_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let zone = names
        .zones
        .get(&zone_id)
        .filter(|z| z.site_id == site_id)
        .ok_or_else(|| Failure::not_found("zone"))?;
    let lines: Vec<ZoneLine> = tree::lines(&names, site_id);
    let path = lines
        .iter()
        .find(|l| l.id == zone_id)
        .map_or_else(|| zone.name.clone(), |l| l.path.clone());
    let mut doors: Vec<DoorLine> = names
        .doors
        .values()
        .filter(|d| d.from_zone_id == zone_id || d.to_zone_id == zone_id)
        .map(|d| DoorLine {
            name: d.name.clone(),
            from: names.zone(d.from_zone_id).to_owned(),
            to: names.zone(d.to_zone_id).to_owned(),
            site: d.site_id,
            id: d.id,
        })
        .collect();
    doors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(render(ZonePage {
        chrome: Chrome::new(&user.principal, PATH, format!("Zone {}", zone.name)),
        site_id,
        site_name: names.site(site_id).to_owned(),
        zone_id,
        path,
        rules: tree::rules(zone),
        doors,
        may_write: may_write(&user),
        values: ZoneValues::of(zone),
        zone_choices: lines
            .iter()
            .filter(|l| l.id != zone_id)
            .map(|l| (l.id, l.path.clone()))
            .collect(),
        anti_passback: ANTI_PASSBACK,
    }))
}

/// The zone form as the browser sends it.
#[derive(Deserialize)]
struct ZoneForm {
    name: String,
    #[serde(default)]
    parent: String,
    level: String,
    #[serde(default)]
    vetting_required: Option<String>,
    #[serde(default)]
    escort_required: Option<String>,
    #[serde(default)]
    two_person: Option<String>,
    #[serde(default)]
    pin_required: Option<String>,
    #[serde(default)]
    anti_passback: String,
    #[serde(default)]
    anti_passback_timeout_s: String,
    #[serde(default)]
    max_occupancy: String,
    #[serde(default)]
    min_assurance: String,
}

/// The form's fields read, each refusal naming its field (all at once, as the API's).
struct ReadZone {
    parent: Option<Uuid>,
    level: u8,
    rules: ZoneRules,
}

impl ZoneForm {
    fn read(&self) -> Result<ReadZone, ApiError> {
        let mut problems = fields::Problems::default();
        let parent = problems.keep(fields::id("parent_id", &self.parent));
        let level = problems.keep(fields::required::<u8>(
            "level",
            &self.level,
            "must be a number from 0 to 255",
        ));
        let anti_passback = problems.keep(
            fields::choice::<AntiPassback>(
                "anti_passback",
                &self.anti_passback,
                "must be off, soft or hard",
            )
            .map(Option::unwrap_or_default),
        );
        let timeout = problems.keep(fields::number::<u32>(
            "anti_passback_timeout_s",
            &self.anti_passback_timeout_s,
            "must be a number of seconds from 1 to 2592000, or empty",
        ));
        let max = problems.keep(fields::number::<u32>(
            "max_occupancy",
            &self.max_occupancy,
            "must be a number from 1 to 1000000, or empty for no limit",
        ));
        let assurance = problems.keep(
            fields::choice::<Assurance>(
                "min_assurance",
                &self.min_assurance,
                "must be uid or secure",
            )
            .map(Option::unwrap_or_default),
        );
        match (parent, level, anti_passback, timeout, max, assurance) {
            (
                Some(parent),
                Some(level),
                Some(anti_passback),
                Some(timeout),
                Some(max),
                Some(min_assurance),
            ) if problems.0.is_empty() => Ok(ReadZone {
                parent,
                level,
                rules: ZoneRules {
                    vetting_required: fields::ticked(&self.vetting_required),
                    escort_required: fields::ticked(&self.escort_required),
                    two_person: fields::ticked(&self.two_person),
                    pin_required: fields::ticked(&self.pin_required),
                    anti_passback,
                    anti_passback_timeout_s: timeout,
                    max_occupancy: max,
                    min_assurance,
                },
            }),
            _ => Err(problems.refusal()),
        }
    }
}

/// `POST /admin/sites/{site}/zones`: a new zone, then the site's page.
async fn create(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(site_id): Path<Uuid>,
    Form(form): Form<ZoneForm>,
) -> Result<Response, Failure> {
    let read = form.read()?;
    let new = NewZone {
        site_id,
        parent_id: read.parent,
        name: form.name,
        level: read.level,
        rules: read.rules,
    }
    .checked()
    .map_err(failure)?;
    state
        .store
        .create_zone(new, &user.actor())
        .await
        .map_err(failure)?;
    Ok(Redirect::to(&format!("{PATH}/{site_id}")).into_response())
}

/// `POST /admin/sites/{site}/zones/{zone}`: the zone as the form has it.
async fn update(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path((site_id, zone_id)): Path<(Uuid, Uuid)>,
    Form(form): Form<ZoneForm>,
) -> Result<Response, Failure> {
    let read = form.read()?;
    let rules = read.rules;
    let change = ZoneChange {
        parent_id: Some(read.parent),
        name: Some(form.name),
        level: Some(read.level),
        vetting_required: Some(rules.vetting_required),
        escort_required: Some(rules.escort_required),
        two_person: Some(rules.two_person),
        pin_required: Some(rules.pin_required),
        anti_passback: Some(rules.anti_passback),
        anti_passback_timeout_s: Some(rules.anti_passback_timeout_s),
        max_occupancy: Some(rules.max_occupancy),
        min_assurance: Some(rules.min_assurance),
    }
    .checked()
    .map_err(failure)?;
    state
        .store
        .update_zone(zone_id, change, &user.actor())
        .await
        .map_err(not_found::<ModelError>("zone"))?;
    Ok(Redirect::to(&format!("{PATH}/{site_id}")).into_response())
}

/// `POST /admin/sites/{site}/zones/{zone}/delete`: refused (409) while it has child
/// zones or doors, or grants or visits refer to it.
async fn delete(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path((site_id, zone_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, Failure> {
    delete_record::<ZoneRecord>(&state, &user.actor(), zone_id, "zone").await?;
    Ok(Redirect::to(&format!("{PATH}/{site_id}")).into_response())
}

impl ZoneValues {
    /// Whether the chooser's zone `id` is this zone's parent.
    pub fn is_parent(&self, id: &Uuid) -> bool {
        self.parent == Some(*id)
    }
}
