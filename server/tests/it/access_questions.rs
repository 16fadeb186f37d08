//! The security desk's questions through the API, on a small policy whose answers are
//! known: why a card opens a door or not, who can enter a zone, where a person can go,
//! whose vetting expires soon, and that a revocation changes the answer at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::{Duration, Utc};
use common::{TestApp, created, error_of, expect};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Lobby (level 0) → door → lab (level 2, vetting required). Alice may enter; Bob's
/// clearance is too low; Carol is not vetted.
struct Fixture {
    app: TestApp,
    token: String,
    lab: String,
    door: String,
    alice: String,
    bob: String,
    alice_card: String,
    _db: common::TestDb,
}

async fn person(
    app: &TestApp,
    token: &str,
    name: &str,
    clearance: u8,
    vetted_days: Option<i64>,
) -> String {
    let id = created(
        app.post(
            "/api/v1/people",
            token,
            json!({"name": name, "kind": "staff", "clearance": clearance}),
        )
        .await,
    )
    .await;
    if let Some(days) = vetted_days {
        let vetting =
            json!({"status": "cleared", "cleared_until": Utc::now() + Duration::days(days)});
        let path = format!("/api/v1/people/{id}/vetting");
        let response = app
            .request(Method::PUT, &path, Some(token))
            .json(&vetting)
            .send()
            .await
            .unwrap();
        expect(response, StatusCode::OK).await;
    }
    id
}

async fn fixture() -> Fixture {
    let (app, db) = TestApp::start().await;
    let token = app.admin_token().await;
    let site = created(
        app.post(
            "/api/v1/sites",
            &token,
            json!({"name": "Plant", "timezone": "UTC"}),
        )
        .await,
    )
    .await;
    let lobby = created(
        app.post(
            "/api/v1/zones",
            &token,
            json!({"site_id": site, "name": "Lobby", "level": 0}),
        )
        .await,
    )
    .await;
    let lab = created(
        app.post("/api/v1/zones", &token, json!({"site_id": site, "parent_id": lobby, "name": "Lab", "level": 2, "vetting_required": true}))
            .await,
    )
    .await;
    let door = created(
        app.post(
            "/api/v1/doors",
            &token,
            json!({"name": "Lab door", "from_zone_id": lobby, "to_zone_id": lab}),
        )
        .await,
    )
    .await;

    let alice = person(&app, &token, "Alice", 3, Some(10)).await;
    let bob = person(&app, &token, "Bob", 1, Some(100)).await;
    let carol = person(&app, &token, "Carol", 3, None).await;
    let mut alice_card = String::new();
    for (who, card) in [
        (&alice, "04A1B2C3D4E5F6"),
        (&bob, "04B0B0B0B0B0B0"),
        (&carol, "04CCCCCCCCCCCC"),
    ] {
        let credential = created(
            app.post(
                "/api/v1/credentials",
                &token,
                json!({"person_id": who, "card": card}),
            )
            .await,
        )
        .await;
        created(
            app.post(
                "/api/v1/grants",
                &token,
                json!({"person_id": who, "zone_id": lab}),
            )
            .await,
        )
        .await;
        if who == &alice {
            alice_card = credential;
        }
    }
    Fixture {
        app,
        token,
        lab,
        door,
        alice,
        bob,
        alice_card,
        _db: db,
    }
}

async fn check(f: &Fixture, card: &str) -> Value {
    let body = json!({"door_id": f.door, "card": card});
    expect(
        f.app.post("/api/v1/access/check", &f.token, body).await,
        StatusCode::OK,
    )
    .await
}

#[tokio::test]
async fn why_a_card_opens_a_door_or_not() {
    let f = fixture().await;
    let alice = check(&f, "04:a1:b2:c3:d4:e5:f6").await;
    assert_eq!(
        (alice["outcome"].as_str(), alice["reason"].as_str()),
        (Some("granted"), Some("granted"))
    );
    assert_eq!(alice["person_id"], f.alice.as_str());
    assert_eq!(alice["zone_id"], f.lab.as_str());
    assert!(
        alice["trace"]
            .as_array()
            .unwrap()
            .iter()
            .all(|step| step["passed"] == true)
    );

    let cases = [
        ("04B0B0B0B0B0B0", "insufficient_clearance"),
        ("04CCCCCCCCCCCC", "vetting_invalid"),
        ("0499999999", "unknown_credential"),
    ];
    for (card, reason) in cases {
        let decision = check(&f, card).await;
        assert_eq!(decision["outcome"], "denied", "{card}");
        assert_eq!(decision["reason"], reason, "{card}");
        let trace = decision["trace"].as_array().unwrap();
        assert_eq!(
            trace.last().unwrap()["passed"],
            false,
            "the last step is the failing rule: {trace:?}"
        );
    }

    // Vetting ends in 10 days: at that instant Alice is refused.
    let later = Utc::now() + Duration::days(11);
    let body = json!({"door_id": f.door, "card": "04A1B2C3D4E5F6", "at": later});
    let decision = expect(
        f.app.post("/api/v1/access/check", &f.token, body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(decision["reason"], "vetting_invalid");

    // Exits are never blocked.
    let body = json!({"door_id": f.door, "card": "04B0B0B0B0B0B0", "direction": "exit"});
    let decision = expect(
        f.app.post("/api/v1/access/check", &f.token, body).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(decision["outcome"], "granted");

    let bad_card = f
        .app
        .post(
            "/api/v1/access/check",
            &f.token,
            json!({"door_id": f.door, "card": "not hex"}),
        )
        .await;
    assert_eq!(bad_card.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(error_of(bad_card).await["fields"]["card"].is_string());
    let no_door = f
        .app
        .post(
            "/api/v1/access/check",
            &f.token,
            json!({"door_id": uuid::Uuid::new_v4(), "card": "04"}),
        )
        .await;
    assert_eq!(no_door.status(), StatusCode::NOT_FOUND);

    // Each question is accountable: in the operator log, never with a PIN.
    let body = json!({"door_id": f.door, "card": "04A1B2C3D4E5F6", "pin": "4711"});
    expect(
        f.app.post("/api/v1/access/check", &f.token, body).await,
        StatusCode::OK,
    )
    .await;
    let log = f
        .app
        .get_json("/api/v1/operator-log?limit=500", &f.token)
        .await;
    let checks: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "access.check")
        .collect();
    assert_eq!(
        checks.len(),
        7,
        "every answered question; refused ones are not logged"
    );
    assert_eq!(checks[0]["after"]["outcome"], "granted");
    assert_eq!(checks[0]["target_id"], f.door.as_str());
    assert!(
        !log.to_string().contains("4711"),
        "a PIN never reaches the log"
    );
}

#[tokio::test]
async fn a_revocation_changes_the_answer_at_once() {
    let f = fixture().await;
    let before = check(&f, "04A1B2C3D4E5F6").await;
    assert_eq!(before["outcome"], "granted");
    let path = format!("/api/v1/credentials/{}", f.alice_card);
    expect(
        f.app
            .patch(&path, &f.token, json!({"state": "revoked"}))
            .await,
        StatusCode::OK,
    )
    .await;
    let after = check(&f, "04A1B2C3D4E5F6").await;
    assert_eq!(after["reason"], "credential_inactive");
    assert!(after["policy_version"].as_i64() > before["policy_version"].as_i64());
}

#[tokio::test]
async fn who_can_enter_and_where_can_they_go() {
    let f = fixture().await;
    let zone = f
        .app
        .get_json(&format!("/api/v1/zones/{}/access", f.lab), &f.token)
        .await;
    let people: Vec<&str> = zone["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["person_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        people,
        [f.alice.as_str()],
        "only Alice can enter the lab: {zone}"
    );
    assert_eq!(zone["items"][0]["door_id"], f.door.as_str());

    let bob = f
        .app
        .get_json(&format!("/api/v1/people/{}/access", f.bob), &f.token)
        .await;
    let items = bob["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "one credential, one door: {bob}");
    assert_eq!(items[0]["reason"], "insufficient_clearance");

    let missing = f
        .app
        .get(
            &format!("/api/v1/zones/{}/access", uuid::Uuid::new_v4()),
            &f.token,
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let bad_time = f
        .app
        .get(
            &format!("/api/v1/people/{}/access?at=yesterday", f.bob),
            &f.token,
        )
        .await;
    assert_eq!(bad_time.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

#[tokio::test]
async fn whose_vetting_expires_soon() {
    let f = fixture().await;
    let soon = f
        .app
        .get_json("/api/v1/vetting/expiring?within_days=30", &f.token)
        .await;
    let ids: Vec<&str> = soon["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["person_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [f.alice.as_str()],
        "Alice (10 days) but not Bob (100 days): {soon}"
    );
    let sooner = f
        .app
        .get_json("/api/v1/vetting/expiring?within_days=5", &f.token)
        .await;
    assert!(sooner["items"].as_array().unwrap().is_empty());
    let all = f
        .app
        .get_json("/api/v1/vetting/expiring?within_days=365", &f.token)
        .await;
    assert_eq!(
        all["items"].as_array().unwrap().len(),
        2,
        "soonest first: {all}"
    );
    assert_eq!(all["items"][0]["person_id"], f.alice.as_str());
    for bad in ["0", "3651", "x"] {
        let response = f
            .app
            .get(
                &format!("/api/v1/vetting/expiring?within_days={bad}"),
                &f.token,
            )
            .await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}
