//! Alarms through the HTTP API (the real server on SQLite): every kind shows in
//! `GET /alarms`, acknowledging works once and only for security officers and admins,
//! the background task raises `agent_offline` once per outage, and the audit trail still
//! verifies.

use super::agent_support::{Journal, agent, door, record, upload, upload_at};
use super::support::{denied, incident, presented};
use crate::common::{PASSWORD, TestApp, TestDb, error_of, expect, invalid};
use chrono::{Duration, Utc};
use gatehouse_core::decide::{Alarm, Outcome};
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, chain_hash};
use gatehouse_server::store::AlarmKind;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use strum::IntoEnumIterator;
use uuid::Uuid;

/// Alarms listed for `query`.
pub async fn listed(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let page = expect(
        app.get(&format!("/api/v1/alarms?limit=500&{query}"), token)
            .await,
        StatusCode::OK,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

fn kinds(alarms: &[Value]) -> Vec<String> {
    let mut kinds: Vec<String> = alarms
        .iter()
        .map(|a| a["kind"].as_str().unwrap().to_owned())
        .collect();
    kinds.sort();
    kinds
}

/// Waits (up to 20 s) until `query` lists `count` alarms; returns them.
async fn wait_for(app: &TestApp, token: &str, query: &str, count: usize) -> Vec<Value> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let alarms = listed(app, token, query).await;
        if alarms.len() >= count {
            return alarms;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{query}: {} of {count} alarms",
            alarms.len()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn assert_trail_verifies(app: &TestApp, admin: &str) {
    let report = app.get_json("/api/v1/audit/verify", admin).await;
    assert_eq!(report["ok"], true, "{report}");
}

#[tokio::test]
async fn every_kind_of_alarm_is_listed() {
    let db = TestDb::sqlite();
    let mut settings = db.settings();
    settings.alarms.agent_offline_after_s = 1;
    settings.alarms.repeated_denials = 2;
    let app = TestApp::start_with(settings).await;
    let admin = app.admin_token().await;
    let (site, front) = door(&app, &admin, "HQ").await;
    let (agent_id, token) = agent(&app, &admin, &[front]).await;
    // A visitor card not returned (raised by the automatic end of visits).
    crate::visitor_cards::unreturned_card_alarm(&db, site, front).await;
    let mut journal = Journal::new();
    let t = Utc::now();
    let events: Vec<DoorEvent> = vec![
        incident(front, EventKind::ForcedOpen),
        incident(front, EventKind::HeldOpen),
        incident(
            front,
            EventKind::LockFault {
                detail: "stuck".into(),
            },
        ),
        incident(front, EventKind::PolicyStale),
        incident(front, EventKind::Tamper),
        incident(front, EventKind::TamperCleared),
        incident(front, EventKind::JournalFull),
        incident(front, EventKind::ClockOffset { offset_ms: -15_000 }),
        presented(front, "04D0", Outcome::Granted, vec![Alarm::Duress], t),
        presented(front, "04P1", Outcome::Denied, vec![Alarm::PinLockout], t),
        presented(
            front,
            "04A9",
            Outcome::Granted,
            vec![Alarm::AntiPassbackViolation],
            t,
        ),
        presented(
            front,
            "04C1",
            Outcome::Denied,
            vec![Alarm::CredentialNotAuthentic],
            t,
        ),
        denied(front, "04RD", t),
        denied(front, "04RD", t + Duration::seconds(1)),
    ];
    let records: Vec<Value> = events.iter().map(|e| journal.append(e)).collect();
    upload(&app, &token, &records).await;
    // Two numbers never arrive.
    journal.next_seq += 2;
    let after_gap = journal.append(&incident(front, EventKind::DoorOpened));
    upload(&app, &token, &[after_gap]).await;
    // A record altered after it was chained.
    let mut altered = journal.append(&incident(front, EventKind::DoorClosed));
    let other = incident(front, EventKind::ExitRequested).encode().unwrap();
    altered["payload"] = record(1, &other, &GENESIS_HASH)["payload"].clone();
    upload(&app, &token, &[altered]).await;
    // Number 1 again, with other content.
    upload(
        &app,
        &token,
        &[record(1, &other, &chain_hash(&GENESIS_HASH, 1, &other))],
    )
    .await;
    // A clock 30 s behind.
    expect(
        upload_at(&app, &token, &[], Utc::now() - Duration::seconds(30)).await,
        StatusCode::OK,
    )
    .await;
    // Then silence: the agent goes offline.
    let offline = wait_for(&app, &admin, "kind=agent_offline", 1).await;
    assert_eq!(offline[0]["agent_id"], json!(agent_id));

    let all = listed(&app, &admin, "").await;
    let seen: BTreeSet<String> = kinds(&all).into_iter().collect();
    let every: BTreeSet<String> = AlarmKind::iter().map(|k| k.as_str().to_owned()).collect();
    assert_eq!(seen, every);
    for alarm in &all {
        let origin = alarm["origin"].as_str().unwrap();
        assert_eq!(alarm["event_id"].is_string(), origin == "door", "{alarm}");
        assert_eq!(alarm["acknowledgement"], Value::Null);
    }
    let duress = listed(&app, &admin, "kind=duress").await;
    assert_eq!(duress.len(), 1);
    assert_eq!(
        (&duress[0]["card"], &duress[0]["door_id"]),
        (&json!("04D0"), &json!(front))
    );
    // Clock offsets come from both sides: the agent's own record and the server's
    // measurement.
    let offsets = listed(&app, &admin, "kind=clock_offset").await;
    let origins: BTreeSet<&str> = offsets
        .iter()
        .map(|a| a["origin"].as_str().unwrap())
        .collect();
    assert_eq!(origins, BTreeSet::from(["door", "server"]));
    let tampered = listed(&app, &admin, "kind=tamper").await;
    assert_eq!(tampered.len(), 1, "the switch opening, not its closing");
    let unknown = app.get("/api/v1/alarms?kind=smoke", &admin).await;
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = error_of(unknown).await;
    assert!(error["fields"]["kind"].is_string(), "{error}");
    assert_trail_verifies(&app, &admin).await;
}

#[tokio::test]
async fn an_officer_acknowledges_an_alarm_once_with_a_note() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (site, front) = door(&app, &admin, "HQ").await;
    let (_, token) = agent(&app, &admin, &[front]).await;
    let mut journal = Journal::new();
    let records = [
        journal.append(&incident(front, EventKind::ForcedOpen)),
        journal.append(&incident(front, EventKind::HeldOpen)),
    ];
    upload(&app, &token, &records).await;
    for (name, role) in [
        ("grace", "security"),
        ("audrey", "auditor"),
        ("rita", "receptionist"),
    ] {
        app.create_operator(&admin, name, role).await;
    }
    let grace = app.login("grace", PASSWORD).await;
    let audrey = app.login("audrey", PASSWORD).await;
    let rita = app.login("rita", PASSWORD).await;

    let alarms = listed(&app, &audrey, "").await;
    assert_eq!(kinds(&alarms), vec!["forced_open", "held_open"]);
    let forced = alarms.iter().find(|a| a["kind"] == "forced_open").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ack = format!("/api/v1/alarms/{forced}/ack");
    let note = json!({"note": "Checked: a delivery door propped by the wind."});
    assert_eq!(
        app.get("/api/v1/alarms", &rita).await.status(),
        StatusCode::FORBIDDEN
    );
    for reader in [&audrey, &rita] {
        let refused = app.post(&ack, reader, note.clone()).await;
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(listed(&app, &admin, "acknowledged=false").await.len(), 2);

    invalid(
        app.post(&ack, &grace, json!({"note": "  \n "})).await,
        "note",
    )
    .await;
    let missing = app.post(&ack, &grace, json!({})).await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = error_of(missing).await;
    assert!(
        error["fields"]["body"].as_str().unwrap().contains("note"),
        "{error}"
    );
    invalid(
        app.post(&ack, &grace, json!({"note": "x".repeat(2001)}))
            .await,
        "note",
    )
    .await;
    let unknown = app
        .post(
            &format!("/api/v1/alarms/{}/ack", Uuid::now_v7()),
            &grace,
            note.clone(),
        )
        .await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let acked = expect(app.post(&ack, &grace, note.clone()).await, StatusCode::OK).await;
    // The answers have the shapes the OpenAPI document declares.
    let doc = app.public_json("/api/v1/openapi.json").await;
    let path = "/api/v1/alarms/{id}/ack";
    super::openapi::assert_declared(&doc, path, "post", "200", &acked);
    let page = app.get_json("/api/v1/alarms", &grace).await;
    super::openapi::assert_declared(&doc, "/api/v1/alarms", "get", "200", &page);
    assert_eq!(acked["id"], json!(forced));
    assert_eq!(
        (
            &acked["acknowledgement"]["operator"],
            &acked["acknowledgement"]["note"]
        ),
        (&json!("grace"), &note["note"])
    );
    let again = app.post(&ack, &admin, json!({"note": "me too"})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert_eq!(error_of(again).await["code"], "conflict");

    let log = app.get_json("/api/v1/operator-log?limit=500", &admin).await;
    let entries: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "alarm.acknowledge")
        .collect();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (
            &entries[0]["actor"],
            &entries[0]["target_id"],
            &entries[0]["after"]["note"]
        ),
        (&json!("grace"), &json!(forced), &note["note"])
    );

    let done = listed(&app, &audrey, "acknowledged=true").await;
    assert_eq!(kinds(&done), vec!["forced_open"]);
    assert_eq!(done[0]["acknowledgement"]["note"], note["note"]);
    assert_eq!(
        kinds(&listed(&app, &grace, "acknowledged=false").await),
        vec!["held_open"]
    );
    assert_eq!(
        listed(&app, &grace, &format!("site_id={site}")).await.len(),
        2
    );
    assert_eq!(
        listed(&app, &grace, &format!("door_id={}", Uuid::now_v7()))
            .await
            .len(),
        0
    );
    let page = app.get_json("/api/v1/alarms?limit=1", &grace).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app
        .get_json(&format!("/api/v1/alarms?limit=1&cursor={cursor}"), &grace)
        .await;
    assert_eq!(rest["items"][0]["kind"], "held_open");
    assert_eq!(rest["next_cursor"], Value::Null);
    assert_trail_verifies(&app, &admin).await;
}

#[tokio::test]
async fn an_agent_gone_quiet_raises_agent_offline_once_per_outage() {
    let db = TestDb::sqlite();
    let mut settings = db.settings();
    settings.alarms.agent_offline_after_s = 1;
    let app = TestApp::start_with(settings).await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (_, back) = door(&app, &admin, "Depot").await;
    let (agent_id, token) = agent(&app, &admin, &[front]).await;
    // Registered but never enrolled: not watched.
    super::agent_support::register(&app, &admin, &[back]).await;

    let first = wait_for(&app, &admin, "kind=agent_offline", 1).await;
    assert_eq!(first.len(), 1);
    assert_eq!(first[0]["agent_id"], json!(agent_id));
    // The agent asks for its policy: heard from again. Then quiet: a second outage.
    let asked = app
        .request(Method::GET, "/api/v1/agent/policy?wait_s=0", Some(&token))
        .send()
        .await
        .unwrap();
    assert!(asked.status().is_success(), "{}", asked.status());
    let both = wait_for(&app, &admin, "kind=agent_offline", 2).await;
    assert_eq!(both.len(), 2, "one alarm per outage: {both:?}");
    assert!(both.iter().all(|a| a["agent_id"] == json!(agent_id)));
    assert_trail_verifies(&app, &admin).await;
}
