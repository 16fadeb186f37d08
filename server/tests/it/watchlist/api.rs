//! The watchlist and screening endpoints: who may do what, 422 naming the field with
//! nothing changed, search and paging, and an officer's decision unblocking a visit.

use crate::common::{TestApp, created, expect, invalid};
use crate::support::site_model::{site, zone};
use gatehouse_core::model::PersonKind;
use gatehouse_server::screening::{Candidate, screen_visit};
use gatehouse_server::store::watchlist::ScreeningStage;
use gatehouse_server::store::{Actor, NewPerson, NewVisit, now};
use reqwest::StatusCode;
use serde_json::{Value, json};

#[tokio::test]
async fn security_keeps_the_list_and_auditors_only_read_it() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "sofia", "security").await;
    app.create_operator(&admin, "audrey", "auditor").await;
    app.create_operator(&admin, "rita", "receptionist").await;
    let security = app.login("sofia", crate::common::PASSWORD).await;
    let auditor = app.login("audrey", crate::common::PASSWORD).await;
    let reception = app.login("rita", crate::common::PASSWORD).await;

    let body = json!({"name": "Иван Петров", "aliases": ["Vanya"], "date_of_birth": "1970-03-01",
        "reason": "Trespass order 2025-114", "action": "block"});
    let id = created(app.post("/api/v1/watchlist", &security, body.clone()).await).await;
    let denied = app.post("/api/v1/watchlist", &auditor, body.clone()).await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let denied = app.get("/api/v1/watchlist", &reception).await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);

    // 422 naming the field, and nothing changed.
    for (change, field) in [
        (json!({"name": "  "}), "name"),
        (json!({"action": "shoot"}), "action"),
        (json!({"date_of_birth": "1970-13-01"}), "date_of_birth"),
        (json!({"reason": ""}), "reason"),
        (json!({"aliases": ["ok", "!!"]}), "aliases"),
    ] {
        let mut bad = body.clone();
        for (k, v) in change.as_object().unwrap() {
            bad[k] = v.clone();
        }
        invalid(app.post("/api/v1/watchlist", &security, bad).await, field).await;
        invalid(
            app.patch(&format!("/api/v1/watchlist/{id}"), &security, change)
                .await,
            field,
        )
        .await;
    }
    let page = app.get_json("/api/v1/watchlist", &auditor).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["name"], "Иван Петров");

    let changed = expect(
        app.patch(
            &format!("/api/v1/watchlist/{id}"),
            &security,
            json!({"action": "flag", "date_of_birth": null}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(changed["action"], "flag");
    assert_eq!(changed["date_of_birth"], Value::Null);
    assert_eq!(changed["aliases"], json!(["Vanya"]));

    created(
        app.post(
            "/api/v1/watchlist",
            &security,
            json!({"name": "Catherine Smith", "reason": "r", "action": "flag"}),
        )
        .await,
    )
    .await;
    let found = app
        .get_json("/api/v1/watchlist?search=petrov%20IVAN", &auditor)
        .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);
    let first = app.get_json("/api/v1/watchlist?limit=1", &auditor).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second = app
        .get_json(
            &format!("/api/v1/watchlist?limit=1&cursor={cursor}"),
            &auditor,
        )
        .await;
    assert_eq!(second["items"][0]["name"], "Catherine Smith");

    let gone = app
        .request(
            reqwest::Method::DELETE,
            &format!("/api/v1/watchlist/{id}"),
            Some(&security),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    let missing = app.get(&format!("/api/v1/watchlist/{id}"), &auditor).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let log = app
        .get_json("/api/v1/operator-log?action=watchlist.", &admin)
        .await;
    let actions: Vec<_> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        actions,
        [
            "watchlist.create",
            "watchlist.update",
            "watchlist.create",
            "watchlist.delete"
        ]
    );
}

#[tokio::test]
async fn an_officer_decides_a_blocked_match_through_the_api() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "sofia", "security").await;
    let security = app.login("sofia", crate::common::PASSWORD).await;
    created(
        app.post(
            "/api/v1/watchlist",
            &security,
            json!({"name": "José García", "reason": "Banned 2024", "action": "block"}),
        )
        .await,
    )
    .await;
    let store = db.store().await;
    let site = site(&store, "HQ").await;
    let lobby = zone(&store, site.id, None, 0).await;
    let host = store
        .create_person(
            NewPerson {
                name: "Hana".into(),
                kind: PersonKind::Staff,
                employer: None,
                clearance: 1,
            },
            &Actor::cli(),
        )
        .await
        .unwrap();
    let visit = store
        .create_visit(
            NewVisit {
                visitor_name: "Jose Garcia".into(),
                visitor_organisation: None,
                host_person_id: host.id,
                window_start: now(),
                window_end: now() + chrono::Duration::hours(2),
                allowed_zone_ids: [lobby.id].into(),
                escort_required: false,
                ..Default::default()
            },
            &Actor::cli(),
        )
        .await
        .unwrap();
    let candidate = Candidate {
        name: "Jose Garcia".into(),
        date_of_birth: None,
        organisation: None,
    };
    let stage = ScreeningStage::Invitation;
    let screening = screen_visit(&store, visit.id, candidate, stage, &Actor::cli())
        .await
        .unwrap();
    let pending = app
        .get_json("/api/v1/screenings?pending=true", &security)
        .await;
    assert_eq!(pending["items"][0]["id"], screening.id.to_string());
    assert_eq!(pending["items"][0]["matches"][0]["reason"], "Banned 2024");
    assert!(store.check_in_blocked(visit.id).await.unwrap().is_some());

    let path = format!("/api/v1/screenings/{}/decision", screening.id);
    invalid(
        app.post(&path, &security, json!({"decision": "allowed", "note": ""}))
            .await,
        "note",
    )
    .await;
    invalid(
        app.post(&path, &security, json!({"decision": "maybe", "note": "x"}))
            .await,
        "decision",
    )
    .await;
    let decided = expect(
        app.post(
            &path,
            &security,
            json!({"decision": "allowed", "note": "Other person, passport checked"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(decided["decided_by"], "sofia");
    assert_eq!(store.check_in_blocked(visit.id).await.unwrap(), None);
    let again = app
        .post(
            &path,
            &security,
            json!({"decision": "refused", "note": "x"}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let none = app
        .get_json("/api/v1/screenings?pending=true", &security)
        .await;
    assert!(none["items"].as_array().unwrap().is_empty());
    let one = app
        .get_json(&format!("/api/v1/screenings/{}", screening.id), &security)
        .await;
    assert_eq!(one["decision"], "allowed");
}
