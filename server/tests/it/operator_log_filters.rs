//! The operator log filtered by actor, action (whole or a prefix ending in `.`), object
//! and period, through the API and the console, on both databases.

use crate::common::{PASSWORD, TestApp, TestDb, expect, invalid};
use reqwest::StatusCode;
use serde_json::json;

async fn actions(app: &TestApp, token: &str, query: &str) -> Vec<String> {
    let page = app
        .get_json(&format!("/api/v1/operator-log?limit=500&{query}"), token)
        .await;
    page["items"]
        .as_array()
        .unwrap_or_else(|| panic!("{query}: {page}"))
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["actor"].as_str().unwrap(),
                e["action"].as_str().unwrap()
            )
        })
        .collect()
}

async fn filters(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "grace", "security").await;
    let grace = app.login("grace", PASSWORD).await;
    let site = expect(
        app.post(
            "/api/v1/sites",
            &grace,
            json!({"name": "HQ", "timezone": "Europe/Berlin"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let site_id = site["id"].as_str().unwrap().to_owned();
    let threat = json!({"level": 2, "clearance_raise": 0, "lockdown": true});
    let set = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/sites/{site_id}/threat-level"),
            Some(&grace),
        )
        .json(&threat)
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), StatusCode::OK);
    let middle = chrono::Utc::now();
    let zone = json!({"site_id": site_id, "name": "Lobby", "level": 0});
    expect(
        app.post("/api/v1/zones", &admin, zone).await,
        StatusCode::CREATED,
    )
    .await;

    assert_eq!(
        actions(&app, &admin, "actor=grace").await,
        ["grace site.create", "grace site.threat_level"]
    );
    assert_eq!(
        actions(&app, &admin, "action=site.threat_level").await,
        ["grace site.threat_level"]
    );
    assert_eq!(
        actions(&app, &admin, "action=site.").await,
        ["grace site.create", "grace site.threat_level"]
    );
    // A whole name is not a prefix: `site` matches no action.
    assert!(actions(&app, &admin, "action=site").await.is_empty());
    assert_eq!(
        actions(&app, &admin, "target_type=zone").await,
        ["admin zone.create"]
    );
    assert_eq!(
        actions(&app, &admin, &format!("target_id={site_id}&actor=grace")).await,
        ["grace site.create", "grace site.threat_level"]
    );
    let from = serde_urlencoded::to_string([("from", middle.to_rfc3339())]).unwrap();
    assert_eq!(actions(&app, &admin, &from).await, ["admin zone.create"]);
    let to = serde_urlencoded::to_string([("to", middle.to_rfc3339())]).unwrap();
    assert!(
        !actions(&app, &admin, &to)
            .await
            .contains(&"admin zone.create".to_owned())
    );

    for (query, field) in [
        ("action=Site!", "action"),
        ("target_type=a.b", "target_type"),
        ("actor=", "actor"),
    ] {
        invalid(
            app.get(&format!("/api/v1/operator-log?{query}"), &admin)
                .await,
            field,
        )
        .await;
    }
    let backwards = format!(
        "/api/v1/operator-log?{}&{}",
        serde_urlencoded::to_string([("from", middle.to_rfc3339())]).unwrap(),
        serde_urlencoded::to_string([("to", (middle - chrono::Duration::hours(1)).to_rfc3339())])
            .unwrap()
    );
    invalid(app.get(&backwards, &admin).await, "to").await;

    // The console shows the same entries, with what changed.
    let console =
        crate::console::client::Console::login(&app, "admin", crate::common::ADMIN_PASSWORD).await;
    let page = console.get("/operator-log?action=site.threat_level").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("site HQ"), "{}", page.body);
    assert!(
        page.body.contains("<strong>threat</strong>"),
        "{}",
        page.body
    );
    assert!(!page.body.contains("zone.create"));
    app.stop().await;
}

conformance!(filters);
