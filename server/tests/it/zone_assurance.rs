//! Assurance per zone through the API, on SQLite and PostgreSQL: a zone's
//! `min_assurance` and a site's `secure_cards_from_threat_level` are stored, served,
//! validated (422 naming the field, nothing changed) and written only by the roles that
//! write the security model; the desk's questions explain the two new refusals, and a
//! change reaches the compiled policy at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::support::access::{self, Api, expect_reasons, last_detail};

use common::{TestApp, TestDb, created, expect, invalid};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

conformance!(
    zones_and_sites_carry_their_assurance,
    the_desk_is_told_why_a_card_is_not_secure_enough,
);

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> reqwest::Response {
    app.request(Method::PUT, path, Some(token))
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn zones_and_sites_carry_their_assurance(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let site = created(
        app.post(
            "/api/v1/sites",
            &admin,
            json!({"name": "Plant", "timezone": "UTC"}),
        )
        .await,
    )
    .await;
    let site_path = format!("/api/v1/sites/{site}");
    assert_eq!(
        app.get_json(&site_path, &admin).await["secure_cards_from_threat_level"],
        Value::Null,
        "never, by default"
    );
    let lobby = expect(
        app.post(
            "/api/v1/zones",
            &admin,
            json!({"site_id": site, "name": "Lobby", "level": 0}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(lobby["min_assurance"], "uid", "UID cards by default");
    let vault = expect(
        app.post(
            "/api/v1/zones",
            &admin,
            json!({"site_id": site, "name": "Vault", "level": 1, "min_assurance": "secure"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(vault["min_assurance"], "secure");
    let vault_path = format!("/api/v1/zones/{}", vault["id"].as_str().unwrap());
    assert_eq!(app.get_json(&vault_path, &admin).await, vault);

    // Refusals name the field and change nothing.
    // (A number or a boolean where a name belongs is malformed for serde_json's enum
    // reader: a 400, as for every enum field of the API.)
    for bad in [json!("gold"), json!("SECURE"), json!("")] {
        let body = json!({"site_id": site, "name": "X", "level": 1, "min_assurance": bad});
        invalid(
            app.post("/api/v1/zones", &admin, body).await,
            "min_assurance",
        )
        .await;
        let patch = json!({"min_assurance": bad});
        invalid(app.patch(&vault_path, &admin, patch).await, "min_assurance").await;
    }
    assert_eq!(app.get_json(&vault_path, &admin).await, vault);
    for bad in [json!(256), json!(-1), json!("3"), json!(1.5)] {
        let body = json!({"secure_cards_from_threat_level": bad});
        invalid(
            app.patch(&site_path, &admin, body).await,
            "secure_cards_from_threat_level",
        )
        .await;
        let body = json!({"name": "Y", "timezone": "UTC", "secure_cards_from_threat_level": bad});
        invalid(
            app.post("/api/v1/sites", &admin, body).await,
            "secure_cards_from_threat_level",
        )
        .await;
    }

    // A zone's minimum goes down again; a site's threshold is set and cleared.
    let lowered = expect(
        app.patch(&vault_path, &admin, json!({"min_assurance": "uid"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(lowered["min_assurance"], "uid");
    let unchanged = expect(
        app.patch(&vault_path, &admin, json!({"name": "Strong room"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged["min_assurance"], "uid", "absent: kept");
    let set = expect(
        app.patch(
            &site_path,
            &admin,
            json!({"secure_cards_from_threat_level": 3}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(set["secure_cards_from_threat_level"], 3);
    let renamed = expect(
        app.patch(&site_path, &admin, json!({"name": "Works"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renamed["secure_cards_from_threat_level"], 3, "absent: kept");
    // Setting the threat level leaves the threshold alone.
    let threat = json!({"level": 3, "clearance_raise": 0, "lockdown": false});
    let raised = expect(
        put(&app, &admin, &format!("{site_path}/threat-level"), threat).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(raised["secure_cards_from_threat_level"], 3);
    let cleared = expect(
        app.patch(
            &site_path,
            &admin,
            json!({"secure_cards_from_threat_level": null}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cleared["secure_cards_from_threat_level"], Value::Null);

    // Security officers write the model; auditors and receptionists only read or not.
    app.create_operator(&admin, "sec", "security").await;
    app.create_operator(&admin, "aud", "auditor").await;
    app.create_operator(&admin, "desk", "receptionist").await;
    let sec = app.login("sec", common::PASSWORD).await;
    let aud = app.login("aud", common::PASSWORD).await;
    let desk = app.login("desk", common::PASSWORD).await;
    let secure = json!({"min_assurance": "secure"});
    let by_security = expect(
        app.patch(&vault_path, &sec, secure.clone()).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(by_security["min_assurance"], "secure");
    assert_eq!(
        app.get_json(&vault_path, &aud).await["min_assurance"],
        "secure"
    );
    for token in [&aud, &desk] {
        let lower = json!({"min_assurance": "uid"});
        let refused = app.patch(&vault_path, token, lower).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
        let site_change = json!({"secure_cards_from_threat_level": 0});
        let refused = app.patch(&site_path, token, site_change).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(
        app.get_json(&vault_path, &admin).await["min_assurance"],
        "secure"
    );
    app.stop().await;
}

const ALICE: &str = "04A1A1A1";
const SAM: &str = "04C5C5C5";
const STRANGER: &str = "04EEEEEE";

/// Lobby → door → lab. Alice holds a UID card, Sam a secure one; both have a grant.
async fn the_desk_is_told_why_a_card_is_not_secure_enough(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let token = app.admin_token().await;
    let api = Api {
        app: &app,
        token: &token,
    };
    let site = json!({"name": "Plant", "timezone": "UTC", "secure_cards_from_threat_level": 2});
    let site = api.create("/api/v1/sites", site).await;
    let lobby = api.zone(&site, None, "Lobby", 0).await;
    let lab = api.zone(&site, Some(&lobby), "Lab", 1).await;
    let door = api.door("Lab door", &lobby, &lab).await;
    api.card_holder("Alice", ALICE, "uid", &lab).await;
    api.card_holder("Sam", SAM, "secure", &lab).await;
    let ask = |card| access::ask(&door, card);

    // A UID zone: both in, each card read as issued; a clone of Sam's UID, or a card
    // that fails authentication, is not authentic.
    let uid_zone = [
        ("a UID card", ask(ALICE), "granted"),
        ("a secure card", ask(SAM), "granted"),
        (
            "Sam's UID cloned",
            ask(SAM).read_as("not_attempted"),
            "credential_not_authentic",
        ),
        (
            "a forged card",
            ask(STRANGER).read_as("failed"),
            "credential_not_authentic",
        ),
        ("an unknown card", ask(STRANGER), "unknown_credential"),
    ];
    expect_reasons(&app, &token, &uid_zone).await;
    let clone = ask(SAM).read_as("not_attempted").answer(&app, &token).await;
    assert_eq!(clone["alarms"], json!(["credential_not_authentic"]));
    let bad = ask(ALICE).read_as("maybe").body();
    invalid(
        app.post("/api/v1/access/check", &token, bad).await,
        "authentication",
    )
    .await;

    // The lab needs secure cards: the answer changes at once, and says why.
    let lab_path = format!("/api/v1/zones/{lab}");
    let secure = json!({"min_assurance": "secure"});
    expect(app.patch(&lab_path, &token, secure).await, StatusCode::OK).await;
    let secure_zone = [
        ("a UID card", ask(ALICE), "assurance_insufficient"),
        ("a secure card", ask(SAM), "granted"),
        (
            "a UID card leaving (egress is never blocked)",
            ask(ALICE).exit(),
            "granted",
        ),
    ];
    expect_reasons(&app, &token, &secure_zone).await;
    let alice = ask(ALICE).answer(&app, &token).await;
    assert_eq!(
        last_detail(&alice),
        "this zone requires a secure card; the card is UID-only"
    );
    let who = app
        .get_json(&format!("/api/v1/zones/{lab}/access"), &token)
        .await;
    assert_eq!(who["items"].as_array().unwrap().len(), 1, "only Sam: {who}");

    // Back to UID cards, then the site's threat level reaches its threshold.
    let uid = json!({"min_assurance": "uid"});
    expect(app.patch(&lab_path, &token, uid).await, StatusCode::OK).await;
    expect_reasons(&app, &token, &[("a UID card", ask(ALICE), "granted")]).await;
    let threat = json!({"level": 2, "clearance_raise": 0, "lockdown": false});
    let path = format!("/api/v1/sites/{site}/threat-level");
    expect(put(&app, &token, &path, threat).await, StatusCode::OK).await;
    let raised = [
        ("a UID card", ask(ALICE), "assurance_insufficient"),
        ("a secure card", ask(SAM), "granted"),
    ];
    expect_reasons(&app, &token, &raised).await;
    let alice = ask(ALICE).answer(&app, &token).await;
    assert!(last_detail(&alice).contains("threat level"), "{alice}");
    app.stop().await;
}
