//! A site for visit tests: a lobby open to visitors for 8 hours, a lab open for 2 hours
//! with an escort, a vault (level 3, vetting) and a zone at another site; a host with a
//! grant on the lobby and the lab.

use crate::common::{TestApp, expect};
use crate::people_model::api::send;
use chrono::{DateTime, Duration, Utc};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

pub struct Site {
    pub admin: String,
    pub site: String,
    pub lobby: String,
    pub lab: String,
    pub vault: String,
    pub closed: String,
    pub elsewhere: String,
    pub host: String,
    pub other_host: String,
}

async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> String {
    let record = expect(app.post(path, token, body).await, StatusCode::CREATED).await;
    record["id"].as_str().unwrap().to_owned()
}

pub async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> Response {
    send(app, Method::PUT, path, token, Some(body)).await
}

pub async fn open(app: &TestApp, token: &str, zone: &str, minutes: Option<u32>) {
    let path = format!("/api/v1/zones/{zone}/visitor-rule");
    let body = json!({"longest_visit_minutes": minutes});
    expect(put(app, token, &path, body).await, StatusCode::OK).await;
}

pub async fn site(app: &TestApp) -> Site {
    let admin = app.admin_token().await;
    let site = json!({"name": "Harbour", "timezone": "Europe/Berlin"});
    let site = created(app, &admin, "/api/v1/sites", site).await;
    let zone = |name: &str, level: u8, extra: Value| {
        let mut body = json!({"site_id": site, "name": name, "level": level});
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    let lobby = created(app, &admin, "/api/v1/zones", zone("Lobby", 0, json!({}))).await;
    let lab = zone("Lab", 1, json!({"escort_required": true}));
    let lab = created(app, &admin, "/api/v1/zones", lab).await;
    let vault = zone("Vault", 3, json!({"vetting_required": true}));
    let vault = created(app, &admin, "/api/v1/zones", vault).await;
    let closed = created(
        app,
        &admin,
        "/api/v1/zones",
        zone("Plant room", 0, json!({})),
    )
    .await;
    let other = json!({"name": "Docks", "timezone": "Europe/Berlin"});
    let other = created(app, &admin, "/api/v1/sites", other).await;
    let elsewhere = json!({"site_id": other, "name": "Quay", "level": 0});
    let elsewhere = created(app, &admin, "/api/v1/zones", elsewhere).await;
    let person = |name: &str| json!({"name": name, "kind": "staff", "clearance": 1});
    let host = created(app, &admin, "/api/v1/people", person("Hana Host")).await;
    let other_host = created(app, &admin, "/api/v1/people", person("Otto Other")).await;
    for (who, zone) in [
        (&host, &lobby),
        (&host, &lab),
        (&host, &closed),
        (&other_host, &lobby),
    ] {
        let grant = json!({"person_id": who, "zone_id": zone});
        created(app, &admin, "/api/v1/grants", grant).await;
    }
    open(app, &admin, &lobby, Some(480)).await;
    open(app, &admin, &lab, Some(120)).await;
    open(app, &admin, &elsewhere, Some(480)).await;
    Site {
        admin,
        site,
        lobby,
        lab,
        vault,
        closed,
        elsewhere,
        host,
        other_host,
    }
}

/// A window from `start` for `hours`.
pub fn window(start: DateTime<Utc>, minutes: i64) -> (DateTime<Utc>, DateTime<Utc>) {
    (start, start + Duration::minutes(minutes))
}

/// A visit body to `zones` for `minutes` from an hour ago.
pub fn visit(host: &str, zones: &[&str], minutes: i64) -> Value {
    let (start, end) = window(Utc::now() - Duration::minutes(30), minutes);
    json!({"visitor_name": "Vera Visitor", "visitor_organisation": "Acme",
        "host_person_id": host, "window_start": start, "window_end": end,
        "allowed_zone_ids": zones})
}

/// A token for a new operator of `role`.
pub async fn operator(app: &TestApp, admin: &str, name: &str, role: &str) -> (String, String) {
    let id = app.create_operator(admin, name, role).await;
    (id, app.login(name, crate::common::PASSWORD).await)
}
