//! Assurance per zone through the API, on SQLite and PostgreSQL: a zone's
//! `min_assurance` and a site's `secure_cards_from_threat_level` are stored, served,
//! validated (422 naming the field, nothing changed) and written only by the roles that
//! write the security model; the desk's questions explain the two new refusals, and a
//! change reaches the compiled policy at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

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

/// Lobby → door → lab. Alice holds a UID card, Sam a secure one; both have a grant.
async fn the_desk_is_told_why_a_card_is_not_secure_enough(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let token = app.admin_token().await;
    let site = created(
        app.post(
            "/api/v1/sites",
            &token,
            json!({"name": "Plant", "timezone": "UTC", "secure_cards_from_threat_level": 2}),
        )
        .await,
    )
    .await;
    let zone = |body: Value| {
        let app = &app;
        let token = &token;
        async move { created(app.post("/api/v1/zones", token, body).await).await }
    };
    let lobby = zone(json!({"site_id": site, "name": "Lobby", "level": 0})).await;
    let lab = zone(json!({"site_id": site, "parent_id": lobby, "name": "Lab", "level": 1})).await;
    let door = created(
        app.post(
            "/api/v1/doors",
            &token,
            json!({"name": "Lab door", "from_zone_id": lobby, "to_zone_id": lab}),
        )
        .await,
    )
    .await;
    for (name, card, kind) in [("Alice", "04A1A1A1", "uid"), ("Sam", "04C5C5C5", "secure")] {
        let person = created(
            app.post(
                "/api/v1/people",
                &token,
                json!({"name": name, "kind": "staff", "clearance": 1}),
            )
            .await,
        )
        .await;
        let credential = json!({"person_id": person, "card": card, "kind": kind});
        created(app.post("/api/v1/credentials", &token, credential).await).await;
        let grant = json!({"person_id": person, "zone_id": lab});
        created(app.post("/api/v1/grants", &token, grant).await).await;
    }
    let check = |card: &'static str, read: Option<&'static str>| {
        let (app, token, door) = (&app, &token, &door);
        async move {
            let mut body = json!({"door_id": door, "card": card});
            if let Some(read) = read {
                body["authentication"] = json!(read);
            }
            expect(
                app.post("/api/v1/access/check", token, body).await,
                StatusCode::OK,
            )
            .await
        }
    };
    let reason = |d: &Value| d["reason"].as_str().unwrap().to_owned();
    let last_detail = |d: &Value| {
        let trace = d["trace"].as_array().unwrap();
        trace.last().unwrap()["detail"].as_str().unwrap().to_owned()
    };
    // A UID zone: both in, each card read as issued.
    assert_eq!(reason(&check("04A1A1A1", None).await), "granted");
    assert_eq!(reason(&check("04C5C5C5", None).await), "granted");
    // A clone of Sam's UID, or a card that fails authentication: not authentic.
    let clone = check("04C5C5C5", Some("not_attempted")).await;
    assert_eq!(reason(&clone), "credential_not_authentic");
    assert_eq!(clone["alarms"], json!(["credential_not_authentic"]));
    let forged = check("04EEEEEE", Some("failed")).await;
    assert_eq!(reason(&forged), "credential_not_authentic");
    assert_eq!(reason(&check("04EEEEEE", None).await), "unknown_credential");
    let bad = json!({"door_id": door, "card": "04A1A1A1", "authentication": "maybe"});
    invalid(
        app.post("/api/v1/access/check", &token, bad).await,
        "authentication",
    )
    .await;

    // The lab needs secure cards: the answer changes at once, and says why.
    let lab_path = format!("/api/v1/zones/{lab}");
    let secure = json!({"min_assurance": "secure"});
    expect(app.patch(&lab_path, &token, secure).await, StatusCode::OK).await;
    let alice = check("04A1A1A1", None).await;
    assert_eq!(reason(&alice), "assurance_insufficient");
    assert_eq!(
        last_detail(&alice),
        "this zone requires a secure card; the card is UID-only"
    );
    assert_eq!(reason(&check("04C5C5C5", None).await), "granted");
    let who = app
        .get_json(&format!("/api/v1/zones/{lab}/access"), &token)
        .await;
    assert_eq!(who["items"].as_array().unwrap().len(), 1, "only Sam: {who}");
    let exit = json!({"door_id": door, "card": "04A1A1A1", "direction": "exit"});
    let out = expect(
        app.post("/api/v1/access/check", &token, exit).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(reason(&out), "granted", "egress is never blocked");

    // Back to UID cards, then the site's threat level reaches its threshold.
    let uid = json!({"min_assurance": "uid"});
    expect(app.patch(&lab_path, &token, uid).await, StatusCode::OK).await;
    assert_eq!(reason(&check("04A1A1A1", None).await), "granted");
    let threat = json!({"level": 2, "clearance_raise": 0, "lockdown": false});
    let path = format!("/api/v1/sites/{site}/threat-level");
    expect(put(&app, &token, &path, threat).await, StatusCode::OK).await;
    let alice = check("04A1A1A1", None).await;
    assert_eq!(reason(&alice), "assurance_insufficient");
    assert!(last_detail(&alice).contains("threat level"), "{alice}");
    assert_eq!(reason(&check("04C5C5C5", None).await), "granted");
    app.stop().await;
}
