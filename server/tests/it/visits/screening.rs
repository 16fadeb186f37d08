//! Watchlist screening in the visit flow: a visitor is screened when invited; a block
//! match stops the check-in until a security officer allows it (with a note); the
//! screening and the decision are in the chained operator log.

use super::support::{operator, site, visit};
use crate::common::{TestApp, TestDb, error_of, expect};
use reqwest::StatusCode;
use serde_json::json;

conformance!(a_blocked_visitor_waits_for_an_officers_decision);

async fn a_blocked_visitor_waits_for_an_officers_decision(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let (_, desk) = operator(&app, &s.admin, "rita", "receptionist").await;
    let (_, officer) = operator(&app, &s.admin, "sam", "security").await;
    let entry =
        json!({"name": "VISITOR, Véra", "reason": "Banned after an incident", "action": "block"});
    expect(
        app.post("/api/v1/watchlist", &officer, entry).await,
        StatusCode::CREATED,
    )
    .await;
    let listed = expect(
        app.post("/api/v1/visits", &desk, visit(&s.host, &[&s.lobby], 60))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = listed["id"].as_str().unwrap();
    let clear = expect(
        app.post("/api/v1/visits", &desk, {
            let mut v = visit(&s.host, &[&s.lobby], 60);
            v["visitor_name"] = json!("Carl Clean");
            v
        })
        .await,
        StatusCode::CREATED,
    )
    .await;
    // The listed visitor is held; the other checks in.
    let held = app
        .post(&format!("/api/v1/visits/{id}/check-in"), &desk, json!({}))
        .await;
    assert_eq!(held.status(), StatusCode::CONFLICT);
    assert!(
        error_of(held).await["message"]
            .as_str()
            .unwrap()
            .contains("security officer must decide")
    );
    let other = app
        .post(
            &format!("/api/v1/visits/{}/check-in", clear["id"].as_str().unwrap()),
            &desk,
            json!({}),
        )
        .await;
    expect(other, StatusCode::OK).await;
    // The officer finds the pending match and allows it, with a note.
    let pending = app
        .get_json(
            &format!("/api/v1/screenings?pending=true&visit_id={id}"),
            &officer,
        )
        .await;
    let screening = &pending["items"][0];
    assert_eq!(screening["outcome"], "block", "{pending}");
    assert!(screening["best_score"].as_f64().unwrap() >= 0.92);
    let path = format!(
        "/api/v1/screenings/{}/decision",
        screening["id"].as_str().unwrap()
    );
    let by_desk = app
        .post(&path, &desk, json!({"decision": "allowed", "note": "x"}))
        .await;
    assert_eq!(by_desk.status(), StatusCode::FORBIDDEN);
    let decided = json!({"decision": "allowed", "note": "A namesake: different date of birth on her passport"});
    expect(app.post(&path, &officer, decided).await, StatusCode::OK).await;
    let inside = app
        .post(&format!("/api/v1/visits/{id}/check-in"), &desk, json!({}))
        .await;
    assert_eq!(expect(inside, StatusCode::OK).await["status"], "checked_in");
    let log = app
        .get_json("/api/v1/operator-log?limit=500", &s.admin)
        .await
        .to_string();
    assert!(log.contains("visit.screening") && log.contains("visit.screening_decision"));
}
