//! PINs: no operator role receives anything that tests a PIN guess (the operator
//! snapshot withholds the verifiers, keeping only that a PIN is set), agents get keyed
//! verifiers in their snapshot and the key on their own channel only, and a snapshot
//! without that key checks no PIN.

use super::support::{agent, id};
use crate::common::{PASSWORD, TestApp, TestDb, expect};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use ed25519_dalek::VerifyingKey;
use gatehouse_core::decide::{Alarm, Decision, EngineState, Presentation, Reason, decide};
use gatehouse_core::model::{PinKey, PinVerifier};
use gatehouse_core::policy::{Policy, verify_and_load};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::Row;
use uuid::Uuid;

const CARD: &str = "04A1B2C3";
const PIN: &str = "1234";

async fn post_created(app: &TestApp, admin: &str, path: &str, body: Value) -> Value {
    expect(app.post(path, admin, body).await, StatusCode::CREATED).await
}

/// A site whose inner zone needs a PIN, a door into it, and a person granted there
/// with card [`CARD`] and PIN [`PIN`]: (door id, credential id).
async fn pin_door(app: &TestApp, admin: &str) -> (Uuid, Uuid) {
    let site = json!({"name": "HQ", "timezone": "UTC"});
    let site = post_created(app, admin, "/api/v1/sites", site).await;
    let outside = json!({"site_id": site["id"], "name": "lobby", "level": 0});
    let outside = post_created(app, admin, "/api/v1/zones", outside).await;
    let inside = json!({"site_id": site["id"], "name": "vault", "level": 0, "pin_required": true});
    let inside = post_created(app, admin, "/api/v1/zones", inside).await;
    let door = json!({"name": "door", "from_zone_id": outside["id"], "to_zone_id": inside["id"]});
    let door = post_created(app, admin, "/api/v1/doors", door).await;
    let person = json!({"name": "Ada", "kind": "staff", "clearance": 1});
    let person = post_created(app, admin, "/api/v1/people", person).await;
    let grant = json!({"person_id": person["id"], "zone_id": inside["id"]});
    post_created(app, admin, "/api/v1/grants", grant).await;
    let card = json!({"person_id": person["id"], "card": CARD, "pin": PIN});
    let credential = post_created(app, admin, "/api/v1/credentials", card).await;
    (id(&door["id"]), id(&credential["id"]))
}

async fn public_key(app: &TestApp) -> VerifyingKey {
    let key = app.public_json("/api/v1/policy/public-key").await;
    let key = STANDARD
        .decode(key["public_key"].as_str().unwrap())
        .unwrap();
    VerifyingKey::from_bytes(&key.try_into().unwrap()).unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn pin_key(text: &Value) -> PinKey {
    let bytes = STANDARD.decode(text.as_str().unwrap()).unwrap();
    PinKey::from_bytes(bytes.try_into().unwrap())
}

fn entry(policy: &Policy, door: Uuid, pin: &str) -> Decision {
    let presentation = Presentation {
        card: CARD.into(),
        pin: Some(pin.into()),
        door_id: door,
        direction: Default::default(),
        at: Utc::now(),
        authentication: Default::default(),
    };
    decide(policy, &presentation, &mut EngineState::default())
}

/// The stored salt and SHA-256(salt ‖ PIN), read as someone with database access would.
async fn stored_pin(db: &TestDb) -> (Vec<u8>, Vec<u8>) {
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let row = sqlx::query("SELECT pin_salt, pin_hash FROM credentials")
        .fetch_one(&pool)
        .await
        .unwrap();
    (row.get("pin_salt"), row.get("pin_hash"))
}

#[tokio::test]
async fn no_operator_role_receives_pin_verification_material() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (door, credential) = pin_door(&app, &admin).await;
    // What the door gets, to know exactly which bytes must not reach an operator.
    let (_, agent_token) = agent(&app, &admin, &[door]).await;
    let agent_bytes = app.get("/api/v1/agent/policy?wait_s=0", &agent_token).await;
    let agent_bytes = agent_bytes.bytes().await.unwrap();
    let agent_policy = verify_and_load(&agent_bytes, &public_key(&app).await, 0).unwrap();
    let Some(PinVerifier::Keyed { salt, tag }) =
        agent_policy.source().credentials[0].pin.as_deref().cloned()
    else {
        panic!("the agent's snapshot carries a keyed verifier")
    };
    let (stored_salt, stored) = stored_pin(&db).await;
    assert_eq!(stored_salt, salt);
    let expected: [u8; 32] = Sha256::new()
        .chain_update(salt)
        .chain_update(PIN)
        .finalize()
        .into();
    assert_eq!(stored, expected, "the database holds SHA-256(salt ‖ PIN)");

    for role in ["admin", "security", "auditor"] {
        let token = if role == "admin" {
            admin.clone()
        } else {
            app.create_operator(&admin, role, role).await;
            app.login(role, PASSWORD).await
        };
        let response = app.get("/api/v1/policy/snapshot", &token).await;
        assert_eq!(response.status(), StatusCode::OK, "{role}");
        let bytes = response.bytes().await.unwrap();
        for (what, secret) in [
            ("salt", &salt[..]),
            ("hash", &stored[..]),
            ("tag", &tag[..]),
        ] {
            assert!(
                !contains(&bytes, secret),
                "{role}: the PIN {what} is in the snapshot"
            );
        }
        let policy = verify_and_load(&bytes, &public_key(&app).await, 0).unwrap();
        let pins: Vec<_> = policy
            .source()
            .credentials
            .iter()
            .map(|c| c.pin.as_deref())
            .collect();
        assert_eq!(
            pins,
            [Some(&PinVerifier::Withheld)],
            "{role}: only that a PIN is set"
        );
        let shown = app
            .get(&format!("/api/v1/credentials/{credential}"), &token)
            .await;
        if shown.status() == StatusCode::OK {
            let shown: Value = shown.json().await.unwrap();
            assert_eq!(shown["has_pin"], json!(true), "{role}");
            let text = shown.to_string();
            assert!(
                !text.contains("salt") && !text.contains("pin_hash"),
                "{role}: {text}"
            );
        }
        // The PIN key is for agents only.
        let key = app.get("/api/v1/agent/pin-key", &token).await;
        assert_eq!(key.status(), StatusCode::UNAUTHORIZED, "{role}");
    }
}

#[tokio::test]
async fn agents_get_the_key_on_their_channel_and_the_snapshot_alone_checks_no_pin() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (door, _) = pin_door(&app, &admin).await;
    let created = expect(
        app.post(
            "/api/v1/agents",
            &admin,
            json!({"name": "a", "door_ids": [door]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let enrolled = app
        .request(Method::POST, "/api/v1/agent/enroll", None)
        .json(&json!({"code": created["enrollment_code"]}))
        .send()
        .await
        .unwrap();
    let enrolled = expect(enrolled, StatusCode::OK).await;
    let token = enrolled["token"].as_str().unwrap();
    let key = pin_key(&enrolled["pin_key"]);
    let fetched = expect(
        app.get("/api/v1/agent/pin-key", token).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(pin_key(&fetched["pin_key"]), key, "the same key both ways");
    let anonymous = app.request(Method::GET, "/api/v1/agent/pin-key", None);
    let anonymous = anonymous.send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);

    let bytes = app.get("/api/v1/agent/policy?wait_s=0", token).await;
    let bytes = bytes.bytes().await.unwrap();
    assert!(
        !contains(&bytes, key.as_bytes()),
        "the key is not in the snapshot"
    );
    let copied = verify_and_load(&bytes, &public_key(&app).await, 0).unwrap();
    let alone = entry(&copied, door, PIN);
    assert_eq!(alone.reason, Reason::PinIncorrect, "{alone:?}");
    let wrong_key = copied.clone().with_pin_key(PinKey::from_bytes([0; 32]));
    assert_eq!(entry(&wrong_key, door, PIN).reason, Reason::PinIncorrect);

    let door_policy = copied.with_pin_key(key);
    assert!(entry(&door_policy, door, PIN).granted());
    let duress = entry(&door_policy, door, "1235");
    assert!(
        duress.granted() && duress.alarms == [Alarm::Duress],
        "{duress:?}"
    );
    assert_eq!(
        entry(&door_policy, door, "4321").reason,
        Reason::PinIncorrect
    );
    // The server checks no PIN, so an operator cannot test guesses through
    // `/access/check`: the right PIN, the duress PIN and a wrong one answer alike.
    let mut answers = Vec::new();
    for pin in [PIN, "1235", "4321"] {
        let body = json!({"card": CARD, "pin": pin, "door_id": door, "at": Utc::now()});
        let answer = expect(
            app.post("/api/v1/access/check", &admin, body).await,
            StatusCode::OK,
        )
        .await;
        answers.push((
            answer["outcome"].clone(),
            answer["reason"].clone(),
            answer["alarms"].clone(),
        ));
    }
    assert_eq!(
        answers,
        vec![(json!("denied"), json!("pin_incorrect"), json!([])); 3],
        "the server's answers tell PINs apart"
    );
}
