//! Event upload and the events list: each (agent, seq) stored once and in order across
//! retried uploads, gaps, broken chains, reused numbers and clock drift raised as
//! alarms, events of another agent's door refused whole.

use super::support::{
    Journal, agent, alarms, door, kinds, presentation, presentation_at, record, upload, upload_at,
};
use crate::common::{TestApp, expect, invalid};
use chrono::{Duration, Utc};
use gatehouse_core::decide::Outcome;
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, chain_hash};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

async fn events(app: &TestApp, admin: &str, query: &str) -> Vec<Value> {
    let page = app
        .get_json(&format!("/api/v1/events?limit=500&{query}"), admin)
        .await;
    page["items"].as_array().unwrap().clone()
}

fn seqs(events: &[Value]) -> Vec<i64> {
    events.iter().map(|e| e["seq"].as_i64().unwrap()).collect()
}

#[tokio::test]
async fn retried_uploads_store_each_event_once_and_in_order() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (agent_id, token) = agent(&app, &admin, &[front]).await;
    let mut journal = Journal::new();
    let records: Vec<Value> = (0..5)
        .map(|n| {
            journal.append(&presentation(
                front,
                &format!("0{n}"),
                Outcome::Granted,
                None,
            ))
        })
        .collect();

    let first = upload(&app, &token, &records[..3]).await;
    assert_eq!(
        first,
        json!({"acked_through": 3, "stored": 3, "duplicates": 0, "clock_offset_ms": first["clock_offset_ms"]})
    );
    // Shuffled and overlapping: the server sorts and skips what it has.
    let mut again = records.clone();
    again.reverse();
    let second = upload(&app, &token, &again).await;
    assert_eq!(
        (
            second["acked_through"].clone(),
            second["stored"].clone(),
            second["duplicates"].clone()
        ),
        (json!(5), json!(2), json!(3))
    );
    assert_eq!(upload(&app, &token, &records).await["duplicates"], 5);

    let stored = events(&app, &admin, "").await;
    assert_eq!(seqs(&stored), vec![1, 2, 3, 4, 5]);
    let first = &stored[0];
    assert_eq!(
        (first["agent_id"].clone(), first["door_id"].clone()),
        (json!(agent_id), json!(front))
    );
    assert_eq!(
        (
            first["kind"].as_str(),
            first["outcome"].as_str(),
            first["reason"].as_str()
        ),
        (Some("presentation"), Some("granted"), Some("granted"))
    );
    assert_eq!(
        (
            first["direction"].as_str(),
            first["card"].as_str(),
            first["policy_version"].as_i64()
        ),
        (Some("entry"), Some("00"), Some(7))
    );
    assert!(alarms(&app, &admin, agent_id).await.is_empty());
    assert_eq!(
        upload(&app, &token, &[]).await["acked_through"],
        Value::Null
    );
}

#[tokio::test]
async fn gaps_broken_chains_and_reused_numbers_raise_alarms() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (agent_id, token) = agent(&app, &admin, &[front]).await;
    let mut journal = Journal::new();
    let records: Vec<Value> = (0..8)
        .map(|_| journal.append(&presentation(front, "0A", Outcome::Denied, None)))
        .collect();

    // 3 and 4 never arrive: 5 is kept and the gap reported.
    let answer = upload(
        &app,
        &token,
        &[records[0].clone(), records[1].clone(), records[4].clone()],
    )
    .await;
    assert_eq!(
        (answer["acked_through"].clone(), answer["stored"].clone()),
        (json!(5), json!(3))
    );
    let raised = alarms(&app, &admin, agent_id).await;
    assert_eq!(kinds(&raised), vec!["journal_gap"]);
    assert!(
        raised[0]["detail"].as_str().unwrap().contains("3 to 4"),
        "{raised:?}"
    );

    // Record 6 altered in transit: not stored, nothing after it acknowledged.
    let mut altered = records[5].clone();
    let other = DoorEvent {
        kind: EventKind::ForcedOpen,
        ..presentation(front, "0A", Outcome::Denied, None)
    };
    altered["payload"] = record(6, &other.encode().unwrap(), &GENESIS_HASH)["payload"].clone();
    let answer = upload(&app, &token, &[altered, records[6].clone()]).await;
    assert_eq!(
        (answer["acked_through"].clone(), answer["stored"].clone()),
        (Value::Null, json!(0))
    );
    assert_eq!(
        kinds(&alarms(&app, &admin, agent_id).await),
        vec!["journal_gap", "chain_broken"]
    );
    assert_eq!(seqs(&events(&app, &admin, "").await), vec![1, 2, 5]);

    // The genuine records still go in; then seq 1 reused with other content is refused.
    let answer = upload(&app, &token, &records[5..8]).await;
    assert_eq!(answer["acked_through"], 8);
    let payload = other.encode().unwrap();
    let reused = record(1, &payload, &chain_hash(&GENESIS_HASH, 1, &payload));
    assert_eq!(
        upload(&app, &token, &[reused]).await["acked_through"],
        Value::Null
    );
    let raised = alarms(&app, &admin, agent_id).await;
    assert_eq!(
        kinds(&raised),
        vec!["journal_gap", "chain_broken", "seq_conflict"]
    );
    assert_eq!(
        seqs(&events(&app, &admin, "").await),
        vec![1, 2, 5, 6, 7, 8]
    );
}

#[tokio::test]
async fn events_of_another_agents_door_are_refused_whole() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (_, back) = door(&app, &admin, "Plant").await;
    let (_, token) = agent(&app, &admin, &[front]).await;
    agent(&app, &admin, &[back]).await;
    let mut journal = Journal::new();
    let mine = journal.append(&presentation(front, "0A", Outcome::Granted, None));
    let theirs = journal.append(&presentation(back, "0A", Outcome::Granted, None));
    let refused = upload_at(&app, &token, &[mine, theirs], Utc::now()).await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(events(&app, &admin, "").await.is_empty());

    // Malformed records: 422 naming the field, nothing stored.
    let mut bad = journal.append(&presentation(front, "0A", Outcome::Granted, None));
    bad["payload"] = json!("AAEC");
    invalid(
        upload_at(&app, &token, &[bad.clone()], Utc::now()).await,
        "records[0].payload",
    )
    .await;
    bad["hash"] = json!("+f".repeat(32));
    invalid(
        upload_at(&app, &token, &[bad], Utc::now()).await,
        "records[0].hash",
    )
    .await;
    let zero = json!({"seq": 0, "payload": "", "hash": "00".repeat(32)});
    invalid(
        upload_at(&app, &token, &[zero], Utc::now()).await,
        "records[0].seq",
    )
    .await;
    assert!(events(&app, &admin, "").await.is_empty());
}

#[tokio::test]
async fn a_clock_off_by_more_than_ten_seconds_is_an_alarm() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (agent_id, token) = agent(&app, &admin, &[front]).await;
    let close = expect(
        upload_at(&app, &token, &[], Utc::now() - Duration::seconds(2)).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        (1_000..10_000).contains(&close["clock_offset_ms"].as_i64().unwrap()),
        "{close}"
    );
    assert!(alarms(&app, &admin, agent_id).await.is_empty());
    let late = expect(
        upload_at(&app, &token, &[], Utc::now() - Duration::seconds(30)).await,
        StatusCode::OK,
    )
    .await;
    assert!(
        late["clock_offset_ms"].as_i64().unwrap() >= 30_000,
        "{late}"
    );
    let raised = alarms(&app, &admin, agent_id).await;
    assert_eq!(kinds(&raised), vec!["clock_offset"]);
    assert!(
        raised[0]["detail"].as_str().unwrap().contains("behind"),
        "{raised:?}"
    );
    let shown = app
        .get_json(&format!("/api/v1/agents/{agent_id}"), &admin)
        .await;
    assert!(
        shown["clock_offset_ms"].as_i64().unwrap() >= 30_000 && shown["last_seen_at"].is_string()
    );
}

#[tokio::test]
async fn events_filter_and_page() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (_, back) = door(&app, &admin, "Plant").await;
    let (_, token) = agent(&app, &admin, &[front, back]).await;
    let ada = Uuid::now_v7();
    let t0 = Utc::now() - Duration::hours(1);
    let mut journal = Journal::new();
    let plan = [
        (front, Outcome::Granted, Some(ada)),
        (back, Outcome::Denied, None),
        (front, Outcome::Denied, Some(ada)),
        (back, Outcome::Granted, Some(ada)),
    ];
    let mut records: Vec<Value> = plan
        .iter()
        .enumerate()
        .map(|(i, &(door, outcome, person))| {
            let at = t0 + Duration::minutes(i64::try_from(i).unwrap() * 10);
            journal.append(&presentation_at(door, "0A", outcome, person, at))
        })
        .collect();
    let forced = DoorEvent {
        occurred_at: t0,
        door_id: Some(back),
        kind: EventKind::ForcedOpen,
    };
    records.push(journal.append(&forced));
    upload(&app, &token, &records).await;

    assert_eq!(
        seqs(&events(&app, &admin, &format!("door_id={front}")).await),
        vec![1, 3]
    );
    assert_eq!(
        seqs(&events(&app, &admin, &format!("person_id={ada}")).await),
        vec![1, 3, 4]
    );
    assert_eq!(
        seqs(&events(&app, &admin, "outcome=denied").await),
        vec![2, 3]
    );
    assert_eq!(
        seqs(&events(&app, &admin, "kind=forced_open").await),
        vec![5]
    );
    let from = (t0 + Duration::minutes(10)).format("%Y-%m-%dT%H:%M:%S%.6fZ");
    let to = (t0 + Duration::minutes(30)).format("%Y-%m-%dT%H:%M:%S%.6fZ");
    assert_eq!(
        seqs(&events(&app, &admin, &format!("from={from}&to={to}")).await),
        vec![2, 3]
    );
    assert_eq!(
        seqs(&events(&app, &admin, &format!("door_id={back}&outcome=granted")).await),
        vec![4]
    );

    let mut seen = Vec::new();
    let mut path = "/api/v1/events?limit=2".to_owned();
    loop {
        let page = app.get_json(&path, &admin).await;
        seen.extend(seqs(page["items"].as_array().unwrap()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/v1/events?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, vec![1, 2, 3, 4, 5]);
    invalid(app.get("/api/v1/events?limit=0", &admin).await, "limit").await;
    let auditor = app.create_operator(&admin, "auditor", "auditor").await;
    let _ = auditor;
    let token = app.login("auditor", crate::common::PASSWORD).await;
    assert_eq!(
        app.get("/api/v1/events", &token).await.status(),
        StatusCode::OK
    );
}

/// An upload of a full batch of denials of different cards (the repeated-denial check
/// reads them all at once) is stored, on SQLite too, whose expressions have a depth
/// limit.
#[tokio::test]
async fn a_batch_of_a_thousand_different_denied_cards_is_stored() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (_, token) = agent(&app, &admin, &[front]).await;
    let mut journal = Journal::new();
    let records: Vec<Value> = (0..1_000)
        .map(|n| {
            let card = format!("{n:08X}");
            journal.append(&presentation(front, &card, Outcome::Denied, None))
        })
        .collect();
    let answer = upload(&app, &token, &records).await;
    assert_eq!(answer["stored"], 1_000, "{answer}");
}
