//! Differential test: for random policies built through the API, the decision the
//! server gives at `POST /access/check` equals the decision a door agent makes from its
//! signed snapshot and PIN key (fetched through the agent API and verified) — outcome,
//! reason and trace, for random cards, PINs, doors, directions and times.
//!
//! The operators' snapshot (`GET /policy/snapshot`) withholds PIN verifiers: decided
//! from it, every presentation comes out the same up to the PIN check, and where a PIN
//! would have been checked, it is refused as uncheckable.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration, TimeZone, Utc};
use common::{TestApp, TestDb, created};
use gatehouse_core::decide::{
    Check, Decision, Direction, EngineState, Presentation, Reason, decide,
};
use gatehouse_core::model::{PinKey, PinVerifier};
use gatehouse_core::policy::verify_and_load;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

const SEEDS: u64 = 6;
const PRESENTATIONS: usize = 60;
const TIMEZONES: [&str; 4] = ["Europe/Berlin", "America/New_York", "Asia/Kolkata", "UTC"];
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

struct Built {
    zones: Vec<String>,
    credentials: Vec<String>,
    doors: Vec<String>,
    cards: Vec<String>,
}

/// `Some(make(rng))` half of the time.
fn maybe<T>(rng: &mut StdRng, make: impl FnOnce(&mut StdRng) -> T) -> Option<T> {
    if rng.gen_bool(0.5) {
        Some(make(rng))
    } else {
        None
    }
}

fn instant(base: DateTime<Utc>, rng: &mut StdRng) -> DateTime<Utc> {
    base + Duration::minutes(rng.gen_range(-3 * 24 * 60..10 * 24 * 60))
}

/// A random site: a zone tree, doors between zones, schedules, people with vetting,
/// groups, credentials and grants.
async fn build_policy(app: &TestApp, token: &str, rng: &mut StdRng, base: DateTime<Utc>) -> Built {
    let tz = TIMEZONES.choose(rng).unwrap();
    let site = created(
        app.post(
            "/api/v1/sites",
            token,
            json!({"name": "site", "timezone": tz}),
        )
        .await,
    )
    .await;
    let threat = json!({
        "level": rng.gen_range(0..3),
        "clearance_raise": rng.gen_range(0..2),
        "lockdown": rng.gen_bool(0.1),
        "exempt_person_ids": [],
    });
    let put = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/sites/{site}/threat-level"),
            Some(token),
        )
        .json(&threat)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);

    let mut zones: Vec<String> = Vec::new();
    for n in 0..rng.gen_range(2..6) {
        let parent = zones.choose(rng).cloned();
        let anti_passback = ["off", "soft", "hard"].choose(rng).copied();
        let body = json!({
            "site_id": site, "parent_id": parent, "name": format!("zone {n}"),
            "level": rng.gen_range(0..4),
            "vetting_required": rng.gen_bool(0.3),
            "escort_required": rng.gen_bool(0.2),
            "two_person": rng.gen_bool(0.1),
            "pin_required": rng.gen_bool(0.2),
            "anti_passback": anti_passback,
        });
        zones.push(created(app.post("/api/v1/zones", token, body).await).await);
    }
    let mut doors = Vec::new();
    for n in 0..rng.gen_range(2..5) {
        let from = zones.choose(rng).unwrap().clone();
        let to = zones
            .iter()
            .filter(|z| **z != from)
            .collect::<Vec<_>>()
            .choose(rng)
            .map(|z| (*z).clone())
            .unwrap();
        let mode = if rng.gen_bool(0.1) {
            "locked"
        } else {
            "normal"
        };
        let body = json!({"name": format!("door {n}"), "from_zone_id": from, "to_zone_id": to, "mode": mode});
        doors.push(created(app.post("/api/v1/doors", token, body).await).await);
    }
    let mut schedules = Vec::new();
    for n in 0..2 {
        let start = rng.gen_range(0..24);
        let end = rng.gen_range(0..24);
        let days: Vec<&str> = DAYS.iter().copied().filter(|_| rng.gen_bool(0.6)).collect();
        let holiday = (base + Duration::days(rng.gen_range(0..7)))
            .format("%Y-%m-%d")
            .to_string();
        let body = json!({
            "site_id": site, "name": format!("schedule {n}"),
            "windows": [{"days": days, "start": format!("{start:02}:00"), "end": format!("{end:02}:30")}],
            "holidays": [holiday],
        });
        schedules.push(created(app.post("/api/v1/schedules", token, body).await).await);
    }
    let group = created(
        app.post(
            "/api/v1/groups",
            token,
            json!({"name": format!("crew {}", Uuid::new_v4())}),
        )
        .await,
    )
    .await;

    let mut people = Vec::new();
    let mut cards = Vec::new();
    let mut credentials = Vec::new();
    for n in 0..rng.gen_range(3..8) {
        let kind = if rng.gen_bool(0.7) {
            "staff"
        } else {
            "contractor"
        };
        let body =
            json!({"name": format!("person {n}"), "kind": kind, "clearance": rng.gen_range(0..5)});
        let person = created(app.post("/api/v1/people", token, body).await).await;
        if rng.gen_bool(0.7) {
            let status = ["cleared", "cleared", "pending", "expired", "revoked"]
                .choose(rng)
                .unwrap();
            // The API takes an end of clearance only for `cleared`, and only in the future.
            let until = maybe(rng, |r| {
                base + Duration::minutes(r.gen_range(60..10 * 24 * 60))
            });
            let until = until.filter(|_| *status == "cleared");
            let vetting = json!({"status": status, "cleared_until": until});
            let put = app
                .request(
                    reqwest::Method::PUT,
                    &format!("/api/v1/people/{person}/vetting"),
                    Some(token),
                )
                .json(&vetting)
                .send()
                .await
                .unwrap();
            assert_eq!(put.status(), StatusCode::OK);
        }
        if rng.gen_bool(0.2) {
            let status = ["suspended", "left"].choose(rng).unwrap();
            assert_eq!(
                app.patch(
                    &format!("/api/v1/people/{person}"),
                    token,
                    json!({"status": status})
                )
                .await
                .status(),
                StatusCode::OK
            );
        }
        let card = format!("04{:012X}", rng.r#gen::<u64>() & 0xFFFF_FFFF_FFFF);
        let (from, until) = (
            maybe(rng, |_| base - Duration::days(1)),
            maybe(rng, |r| instant(base, r) + Duration::days(3)),
        );
        let body = json!({"person_id": person, "card": card, "valid_from": from, "valid_until": until, "pin": maybe(rng, |_| "1234")});
        let credential = created(app.post("/api/v1/credentials", token, body).await).await;
        if rng.gen_bool(0.15) {
            let state = ["suspended", "lost", "revoked"].choose(rng).unwrap();
            assert_eq!(
                app.patch(
                    &format!("/api/v1/credentials/{credential}"),
                    token,
                    json!({"state": state})
                )
                .await
                .status(),
                StatusCode::OK
            );
        }
        cards.push(card);
        credentials.push(credential);
        people.push(person);
    }
    let members: Vec<&String> = people.iter().filter(|_| rng.gen_bool(0.4)).collect();
    let put = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/groups/{group}/members"),
            Some(token),
        )
        .json(&json!({"person_ids": members}))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());

    for _ in 0..rng.gen_range(3..10) {
        let subject = if rng.gen_bool(0.8) {
            json!({"person_id": people.choose(rng).unwrap()})
        } else {
            json!({"group_id": group})
        };
        let mut body = subject;
        body["zone_id"] = json!(zones.choose(rng).unwrap());
        body["schedule_id"] = json!(maybe(rng, |r| schedules.choose(r).unwrap()));
        body["valid_until"] = json!(maybe(rng, |r| instant(base, r) + Duration::days(2)));
        created(app.post("/api/v1/grants", token, body).await).await;
    }
    cards.push("DEADBEEF".to_owned());
    Built {
        zones,
        credentials,
        doors,
        cards,
    }
}

/// Registers and enrols an agent for `doors`: its token and the PIN key it was given.
async fn enrol(app: &TestApp, token: &str, doors: &[String]) -> (String, PinKey) {
    let body = json!({"name": format!("agent {}", Uuid::new_v4()), "door_ids": doors});
    let created: Value = app
        .post("/api/v1/agents", token, body)
        .await
        .json()
        .await
        .unwrap();
    let enrolled: Value = app
        .request(reqwest::Method::POST, "/api/v1/agent/enroll", None)
        .json(&json!({"code": created["enrollment_code"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = STANDARD
        .decode(enrolled["pin_key"].as_str().unwrap())
        .unwrap();
    (
        enrolled["token"].as_str().unwrap().to_owned(),
        PinKey::from_bytes(key.try_into().unwrap()),
    )
}

/// `trace` with the detail of a PIN step that could not be checked made the same
/// whether the policy withheld the verifier (operators' snapshot) or had no key (the
/// server's own policy).
fn uncheckable_pins_alike(trace: &Value) -> Value {
    let mut trace = trace.clone();
    for step in trace.as_array_mut().into_iter().flatten() {
        let uncheckable = step["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("PIN cannot be checked"));
        if uncheckable {
            step["detail"] = json!("PIN cannot be checked");
        }
    }
    trace
}

/// Whether the door's decision checked a PIN; asserts that the decision from the
/// operators' snapshot is the same, except that such a PIN is refused as uncheckable.
fn same_but_the_pin_check(door: &Decision, operator: &Decision, context: &str) -> bool {
    let verdicts = ["PIN correct", "duress PIN", "wrong PIN"];
    let checked = door
        .trace
        .iter()
        .any(|s| s.check == Check::Pin && verdicts.iter().any(|v| s.detail.starts_with(v)));
    if !checked {
        assert_eq!(operator, door, "{context}");
        return false;
    }
    let at = door
        .trace
        .iter()
        .position(|s| s.check == Check::Pin)
        .unwrap();
    assert_eq!(operator.trace[..at], door.trace[..at], "{context}");
    let step = &operator.trace[at];
    assert!(
        !step.passed && step.detail.contains("withholds"),
        "{context}: {step:?}"
    );
    assert_eq!(operator.reason, Reason::PinIncorrect, "{context}");
    true
}

#[tokio::test]
async fn server_decisions_equal_snapshot_decisions_on_sqlite() {
    server_decisions_equal_snapshot_decisions(&TestDb::sqlite()).await;
}

#[tokio::test]
async fn server_decisions_equal_snapshot_decisions_on_postgres() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    server_decisions_equal_snapshot_decisions(&db).await;
}

async fn server_decisions_equal_snapshot_decisions(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let token = app.admin_token().await;
    let key: Value = app.public_json("/api/v1/policy/public-key").await;
    let key_bytes: [u8; 32] = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        key["public_key"].as_str().unwrap(),
    )
    .unwrap()
    .try_into()
    .unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key_bytes).unwrap();
    // On the hour, an hour from now: vetting ends must lie in the future.
    let hour = Utc::now().timestamp() / 3600 * 3600 + 3600;
    let base = Utc.timestamp_opt(hour, 0).unwrap();

    let (mut granted, mut pins_checked) = (0, 0);
    for seed in 0..SEEDS {
        let mut rng = StdRng::seed_from_u64(seed);
        let built = build_policy(&app, &token, &mut rng, base).await;
        let (agent_token, pin_key) = enrol(&app, &token, &built.doors).await;
        // Then again with a PIN needed everywhere and set on every card: a random policy
        // rarely lets a card as far as the PIN check (rule 10), where the door and the
        // server must agree too.
        for pins_everywhere in [false, true] {
            if pins_everywhere {
                let zones = built.zones.iter().map(|z| {
                    let body = json!({"pin_required": true});
                    (format!("/api/v1/zones/{z}"), body)
                });
                let cards = built.credentials.iter().map(|c| {
                    let body = json!({"pin": "1234"});
                    (format!("/api/v1/credentials/{c}"), body)
                });
                for (path, body) in zones.chain(cards) {
                    let patched = app.patch(&path, &token, body).await;
                    // A revoked card is final (409) and stays without a PIN.
                    let status = patched.status();
                    assert!(
                        status == StatusCode::OK || status == StatusCode::CONFLICT,
                        "{path}"
                    );
                }
            }
            let door = Door {
                agent_token: &agent_token,
                pin_key: &pin_key,
                key: &key,
            };
            let pass = Pass {
                seed,
                base,
                always_a_pin: pins_everywhere,
            };
            let (g, p) = compare(&app, &token, &door, &built, &mut rng, &pass).await;
            (granted, pins_checked) = (granted + g, pins_checked + p);
        }
    }
    assert!(pins_checked >= 5, "only {pins_checked} PINs checked");
    // The comparison means little if nothing is ever granted.
    assert!(
        granted >= 10,
        "only {granted} grants in {} presentations",
        SEEDS as usize * PRESENTATIONS * 2
    );
}

/// What the door agent has: its token, PIN key, and the snapshot signing key.
struct Door<'a> {
    agent_token: &'a str,
    pin_key: &'a PinKey,
    key: &'a ed25519_dalek::VerifyingKey,
}

/// One round of presentations: the seed, the time they are around, and whether every
/// entry carries a PIN (else half of them do).
struct Pass {
    seed: u64,
    base: DateTime<Utc>,
    always_a_pin: bool,
}

/// Decides random presentations at the door (agent snapshot and PIN key), at the server
/// and from the operators' snapshot: (grants, PINs checked).
async fn compare(
    app: &TestApp,
    token: &str,
    door: &Door<'_>,
    built: &Built,
    rng: &mut StdRng,
    pass: &Pass,
) -> (usize, usize) {
    let Pass {
        seed,
        base,
        always_a_pin,
    } = *pass;
    let response = app
        .get("/api/v1/agent/policy?wait_s=0", door.agent_token)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.unwrap();
    let policy = verify_and_load(&bytes, door.key, 0)
        .unwrap()
        .with_pin_key(door.pin_key.clone());
    let response = app.get("/api/v1/policy/snapshot", token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let operator = verify_and_load(&response.bytes().await.unwrap(), door.key, 0)
        .unwrap()
        .with_pin_key(door.pin_key.clone());
    assert_eq!(operator.version(), policy.version());
    assert!(
        operator
            .source()
            .credentials
            .iter()
            .all(|c| matches!(c.pin.as_deref(), None | Some(PinVerifier::Withheld)))
    );
    let (mut granted, mut pins_checked) = (0, 0);
    for _ in 0..PRESENTATIONS {
        let presentation = Presentation {
            card: built.cards.choose(rng).unwrap().clone(),
            pin: if always_a_pin || rng.gen_bool(0.5) {
                Some(["1234", "1235", "0000"].choose(rng).unwrap().to_string())
            } else {
                None
            },
            door_id: built.doors.choose(rng).unwrap().parse::<Uuid>().unwrap(),
            direction: if rng.gen_bool(0.85) {
                Direction::Entry
            } else {
                Direction::Exit
            },
            at: instant(base, rng),
            authentication: Default::default(),
        };
        let local = decide(&policy, &presentation, &mut EngineState::default());
        // The server checks no PIN (an operator could test guesses): it answers as the
        // operators' snapshot decides, which is the door's decision but for the PIN.
        let seen = decide(&operator, &presentation, &mut EngineState::default());
        let response = app
            .post(
                "/api/v1/access/check",
                token,
                serde_json::to_value(&presentation).unwrap(),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let server: Value = response.json().await.unwrap();
        let context = format!("seed {seed}, {presentation:?}");
        assert_eq!(server["outcome"], json!(seen.outcome), "{context}");
        assert_eq!(server["reason"], json!(seen.reason), "{context}");
        assert_eq!(
            uncheckable_pins_alike(&server["trace"]),
            uncheckable_pins_alike(&json!(seen.trace)),
            "{context}"
        );
        assert_eq!(server["person_id"], json!(seen.person_id), "{context}");
        granted += usize::from(local.granted());
        pins_checked += usize::from(same_but_the_pin_check(&local, &seen, &context));
    }
    (granted, pins_checked)
}
