//! The visit rules, on both databases: the escalation of issue 13 (a receptionist's
//! visit to any zone, any window) is refused; approval where the site allows it; the
//! rules are checked again at check-in.

use super::support::{open, operator, put, site, visit};
use crate::common::{TestApp, TestDb, error_of, expect, invalid};
use reqwest::StatusCode;
use serde_json::json;

conformance!(
    a_receptionist_cannot_send_a_visitor_anywhere,
    outside_the_rules_waits_for_approval_where_the_site_allows,
    check_in_judges_the_rules_again,
    visitor_zones_list_what_security_opened,
);

async fn a_receptionist_cannot_send_a_visitor_anywhere(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let (_, desk) = operator(&app, &s.admin, "rita", "receptionist").await;
    // The escalation as found: the vault (level 3, vetting), a 10-year window.
    let mut escalation = visit(&s.host, &[&s.vault], 10 * 365 * 24 * 60);
    escalation["escort_required"] = json!(false);
    let refused = app.post("/api/v1/visits", &desk, escalation).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = error_of(refused).await;
    let why = error["fields"]["allowed_zone_ids"].as_str().unwrap();
    assert!(why.contains("Vault") && why.contains("vetting"), "{why}");
    let cases = [
        (
            vec![s.closed.as_str()],
            60,
            "Plant room is not open to visitors",
        ),
        (
            vec![s.lobby.as_str()],
            481,
            "Lobby allows visits of at most 8 hours",
        ),
        (
            vec![s.lobby.as_str(), s.elsewhere.as_str()],
            60,
            "a visit is at one site",
        ),
    ];
    for (zones, minutes, want) in cases {
        let response = app
            .post("/api/v1/visits", &desk, visit(&s.host, &zones, minutes))
            .await;
        let error = error_of(response).await;
        let why = error["fields"]["allowed_zone_ids"]
            .as_str()
            .unwrap_or_default();
        assert!(why.contains(want), "{want}: {error}");
    }
    // The host may not enter the lab: refused naming the host.
    let response = app
        .post("/api/v1/visits", &desk, visit(&s.other_host, &[&s.lab], 60))
        .await;
    let error = error_of(response).await;
    assert!(
        error["fields"]["allowed_zone_ids"]
            .as_str()
            .unwrap()
            .contains("the host may not enter Lab")
    );
    // Nothing was registered by the refusals.
    let all = app.get_json("/api/v1/visits", &s.admin).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 0);
    // Within the rules: accepted, escorted because the lab requires it, at the site.
    let ok = expect(
        app.post("/api/v1/visits", &desk, visit(&s.host, &[&s.lab], 120))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(ok["status"], "invited");
    assert_eq!(ok["escort_required"], true);
    assert_eq!(ok["site_id"], s.site.as_str());
    assert_eq!(ok["check_in_code"].as_str().unwrap().len(), 10);
}

async fn outside_the_rules_waits_for_approval_where_the_site_allows(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let path = format!("/api/v1/sites/{}/visit-settings", s.site);
    let settings = json!({"approval_outside_rules": true, "checkout_grace_minutes": 30});
    expect(put(&app, &s.admin, &path, settings).await, StatusCode::OK).await;
    let (_, desk) = operator(&app, &s.admin, "rita", "receptionist").await;
    let (_, officer) = operator(&app, &s.admin, "sam", "security").await;
    let waiting = app
        .post("/api/v1/visits", &desk, visit(&s.host, &[&s.closed], 60))
        .await;
    let waiting = expect(waiting, StatusCode::CREATED).await;
    assert_eq!(waiting["status"], "awaiting_approval");
    assert!(
        waiting["approval_reason"]
            .as_str()
            .unwrap()
            .contains("Plant room")
    );
    let id = waiting["id"].as_str().unwrap();
    // Not before approval, and not approved by the desk.
    let early = app
        .post(&format!("/api/v1/visits/{id}/check-in"), &desk, json!({}))
        .await;
    assert_eq!(early.status(), StatusCode::CONFLICT);
    let desk_approves = app
        .post(&format!("/api/v1/visits/{id}/approve"), &desk, json!({}))
        .await;
    assert_eq!(desk_approves.status(), StatusCode::FORBIDDEN);
    let approved = app
        .post(&format!("/api/v1/visits/{id}/approve"), &officer, json!({}))
        .await;
    assert_eq!(expect(approved, StatusCode::OK).await["status"], "invited");
    let inside = app
        .post(&format!("/api/v1/visits/{id}/check-in"), &desk, json!({}))
        .await;
    assert_eq!(expect(inside, StatusCode::OK).await["status"], "checked_in");
    // A vetting zone is never open, approval or not.
    let vault = app
        .post("/api/v1/visits", &desk, visit(&s.host, &[&s.vault], 60))
        .await;
    invalid(vault, "allowed_zone_ids").await;
    let bad = json!({"approval_outside_rules": true, "checkout_grace_minutes": 1441});
    let bad = put(&app, &s.admin, &path, bad).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let kept = app.get_json(&path, &desk).await;
    assert_eq!(
        kept["checkout_grace_minutes"], 30,
        "a refused change changes nothing"
    );
}

async fn check_in_judges_the_rules_again(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let (_, desk) = operator(&app, &s.admin, "rita", "receptionist").await;
    let invited = app
        .post("/api/v1/visits", &desk, visit(&s.host, &[&s.lobby], 60))
        .await;
    let id = expect(invited, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Security closes the lobby before the visitor arrives.
    open(&app, &s.admin, &s.lobby, None).await;
    let refused = app
        .post(&format!("/api/v1/visits/{id}/check-in"), &desk, json!({}))
        .await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    assert!(
        error_of(refused).await["message"]
            .as_str()
            .unwrap()
            .contains("Lobby is not open")
    );
    open(&app, &s.admin, &s.lobby, Some(60)).await;
    let inside = app
        .post(&format!("/api/v1/visits/{id}/check-in"), &desk, json!({}))
        .await;
    expect(inside, StatusCode::OK).await;
}

async fn visitor_zones_list_what_security_opened(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let (_, host) = operator(&app, &s.admin, "hana", "host").await;
    let open = app
        .get_json(&format!("/api/v1/visitor-zones?site_id={}", s.site), &host)
        .await;
    let names: Vec<&str> = open
        .as_array()
        .unwrap()
        .iter()
        .map(|z| z["zone_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Lab", "Lobby"]);
    let all = app
        .get_json(
            &format!("/api/v1/visitor-zones?site_id={}&all=true", s.site),
            &host,
        )
        .await;
    assert_eq!(all.as_array().unwrap().len(), 4);
    // A vetting zone cannot be opened; an unknown zone is 404; a host cannot set rules.
    let path = format!("/api/v1/zones/{}/visitor-rule", s.vault);
    let vault = put(&app, &s.admin, &path, json!({"longest_visit_minutes": 60})).await;
    invalid(vault, "longest_visit_minutes").await;
    let unknown = format!("/api/v1/zones/{}/visitor-rule", uuid::Uuid::new_v4());
    let unknown = put(
        &app,
        &s.admin,
        &unknown,
        json!({"longest_visit_minutes": 60}),
    )
    .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let by_host = put(&app, &host, &path, json!({"longest_visit_minutes": null})).await;
    assert_eq!(by_host.status(), StatusCode::FORBIDDEN);
    let log = app
        .get_json("/api/v1/operator-log?limit=500", &s.admin)
        .await
        .to_string();
    assert!(log.contains("zone.visitor_rule"));
}
