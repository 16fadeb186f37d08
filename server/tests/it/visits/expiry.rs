//! A visit nobody approved before its window ended is expired by the automatic end, and
//! every step the API offers then refuses it with a 409 that says so.

use super::support::{operator, site, visit};
use crate::common::{TestApp, TestDb, expect};
use crate::documents::id_sql;
use gatehouse_server::store::{Actor, now};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

conformance!(an_expired_visit_refuses_every_step);

async fn an_expired_visit_refuses_every_step(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let store = db.store().await;
    let s = site(&app).await;
    let (_, desk) = operator(&app, &s.admin, "rita", "receptionist").await;
    let created = app
        .post("/api/v1/visits", &desk, visit(&s.host, &[&s.lobby], 60))
        .await;
    let id = expect(created, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // As if it had been registered outside the rules, waiting for a security officer.
    let uuid: Uuid = id.parse().unwrap();
    db.raw_execute(&format!(
        "UPDATE visits SET status = 'awaiting_approval' WHERE id = {}",
        id_sql(db, uuid)
    ))
    .await
    .unwrap();
    let ended = store
        .end_overdue_visits(now() + chrono::Duration::hours(1), &Actor::system())
        .await
        .unwrap();
    assert_eq!(ended.expired, [uuid]);
    let shown = app.get_json(&format!("/api/v1/visits/{id}"), &desk).await;
    assert_eq!(shown["status"], "expired");
    assert!(shown["ended_at"].is_string());

    for (token, step) in [
        (&desk, "check-in"),
        (&s.admin, "approve"),
        (&desk, "cancel"),
    ] {
        let refused = app
            .post(&format!("/api/v1/visits/{id}/{step}"), token, json!({}))
            .await;
        let body = expect(refused, StatusCode::CONFLICT).await;
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("expired"), "{step}: {message}");
    }
    let edit = app
        .patch(
            &format!("/api/v1/visits/{id}"),
            &desk,
            json!({"purpose": "try again"}),
        )
        .await;
    let body = expect(edit, StatusCode::CONFLICT).await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
    let after = app.get_json(&format!("/api/v1/visits/{id}"), &desk).await;
    assert_eq!(after["status"], "expired", "nothing moved it");
    assert_eq!(after["purpose"], shown["purpose"]);
}
