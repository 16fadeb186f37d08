//! The visit rules page for security officers: per site, whether visits outside the
//! rules wait for approval and the grace before an automatic check-out, and which zones
//! are open to visitors for how long. The same store calls as the API's.

use crate::api::error::ApiError;
use crate::api::routes::site_model::not_found;
use crate::auth::permissions::{ManageVisitRules, Permission, ReadSecurityModel};
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use crate::store::{ModelError, SiteVisitSettings, VisitorZone};
use crate::visits::words;
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

pub const PATH: &str = "/admin/visit-rules";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(page))
        .route("/admin/visit-rules/sites/{site}", post(set_settings))
        .route("/admin/visit-rules/zones/{zone}", post(set_rule))
}

struct ZoneLine {
    id: Uuid,
    name: String,
    rule: String,
    escort: bool,
    vetting: bool,
    hours: String,
}

struct SiteBlock {
    id: Uuid,
    name: String,
    settings: SiteVisitSettings,
    zones: Vec<ZoneLine>,
}

#[derive(Template)]
#[template(path = "admin/visit_rules.html")]
struct RulesPage {
    chrome: Chrome,
    sites: Vec<SiteBlock>,
    may_write: bool,
}

fn line(zone: VisitorZone) -> ZoneLine {
    let rule = match zone.longest_visit_minutes {
        _ if zone.vetting_required => "Never: vetting required".to_owned(),
        None => "Closed to visitors".to_owned(),
        Some(m) => format!("Open, visits of at most {}", words::minutes(m)),
    };
    ZoneLine {
        id: zone.zone_id,
        name: zone.zone_name,
        rule,
        escort: zone.escort_required,
        vetting: zone.vetting_required,
        hours: zone
            .longest_visit_minutes
            .map_or_else(String::new, |m| format!("{}", f64::from(m) / 60.0)),
    }
}

/// `GET /admin/visit-rules`.
async fn page(
    State(state): State<AppState>,
    user: Console<ReadSecurityModel>,
) -> Result<Response, Failure> {
    let zones = state.store.visitor_zones(None, false).await?;
    let mut sites: Vec<SiteBlock> = Vec::new();
    for zone in zones {
        if sites.last().is_none_or(|s| s.id != zone.site_id) {
            sites.push(SiteBlock {
                id: zone.site_id,
                name: zone.site_name.clone(),
                settings: state.store.site_visit_settings(zone.site_id).await?,
                zones: Vec::new(),
            });
        }
        if let Some(site) = sites.last_mut() {
            site.zones.push(line(zone));
        }
    }
    Ok(render(RulesPage {
        chrome: Chrome::new(&user.principal, PATH, "Visit rules"),
        sites,
        may_write: ManageVisitRules::ROLES.contains(&user.principal.role),
    }))
}

#[derive(Deserialize)]
struct SettingsForm {
    #[serde(default)]
    approval_outside_rules: Option<String>,
    checkout_grace_minutes: String,
}

/// `POST /admin/visit-rules/sites/{site}`.
async fn set_settings(
    State(state): State<AppState>,
    user: Console<ManageVisitRules>,
    Path(site_id): Path<Uuid>,
    Form(form): Form<SettingsForm>,
) -> Result<Response, Failure> {
    let grace = form
        .checkout_grace_minutes
        .trim()
        .parse::<u32>()
        .map_err(|_| {
            ApiError::field(
                "checkout_grace_minutes",
                "must be a number of minutes from 0 to 1440",
            )
        })?;
    let settings = SiteVisitSettings {
        site_id,
        approval_outside_rules: form.approval_outside_rules.as_deref() == Some("on"),
        checkout_grace_minutes: grace,
    };
    let saved = state
        .store
        .set_site_visit_settings(settings, &user.actor())
        .await;
    saved.map_err(not_found::<ModelError>("site"))?;
    Ok(Redirect::to(PATH).into_response())
}

#[derive(Deserialize)]
struct RuleForm {
    /// Hours (decimals allowed); empty closes the zone.
    #[serde(default)]
    longest_visit_hours: String,
}

/// `POST /admin/visit-rules/zones/{zone}`.
async fn set_rule(
    State(state): State<AppState>,
    user: Console<ManageVisitRules>,
    Path(zone_id): Path<Uuid>,
    Form(form): Form<RuleForm>,
) -> Result<Response, Failure> {
    let text = form.longest_visit_hours.trim();
    let minutes = if text.is_empty() {
        None
    } else {
        let hours = text
            .replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|h| h.is_finite() && *h > 0.0);
        let minutes = hours
            .map(|h| (h * 60.0).round())
            .filter(|m| (1.0..=527_040.0).contains(m));
        // In range, so the cast is exact.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let minutes = minutes.map(|m| m as u32);
        Some(minutes.ok_or_else(|| {
            ApiError::field(
                "longest_visit_hours",
                "hours from 0.02 to 8784, or empty to close",
            )
        })?)
    };
    let saved = state
        .store
        .set_zone_visitor_rule(zone_id, minutes, &user.actor())
        .await;
    saved.map_err(not_found::<ModelError>("zone"))?;
    Ok(Redirect::to(PATH).into_response())
}
