//! Builders shared by the agent tests: doors through the API, enrolled agents, and a
//! journal that numbers and chains records the way the door agent does (core's
//! `DoorEvent::encode` and `chain_hash`).

use crate::common::{TestApp, expect};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use gatehouse_core::decide::{Direction, Outcome, Reason};
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, PresentationRecord, chain_hash};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

/// A site with two zones and a door between them, through the API: (site id, door id).
pub async fn door(app: &TestApp, admin: &str, site: &str) -> (Uuid, Uuid) {
    let body = json!({"name": site, "timezone": "Europe/Berlin"});
    let site = expect(
        app.post("/api/v1/sites", admin, body).await,
        StatusCode::CREATED,
    )
    .await;
    let mut zones = Vec::new();
    for level in [0, 1] {
        let body = json!({"site_id": site["id"], "name": format!("zone {level}"), "level": level});
        let zone = expect(
            app.post("/api/v1/zones", admin, body).await,
            StatusCode::CREATED,
        )
        .await;
        zones.push(zone["id"].clone());
    }
    let body = json!({"name": "door", "from_zone_id": zones[0], "to_zone_id": zones[1]});
    let door = expect(
        app.post("/api/v1/doors", admin, body).await,
        StatusCode::CREATED,
    )
    .await;
    (id(&site["id"]), id(&door["id"]))
}

pub fn id(value: &Value) -> Uuid {
    value.as_str().unwrap().parse().unwrap()
}

/// Registers an agent for `doors`; the answer with its code.
pub async fn register(app: &TestApp, admin: &str, doors: &[Uuid]) -> Value {
    let body = json!({"name": "front desk agent", "door_ids": doors});
    expect(
        app.post("/api/v1/agents", admin, body).await,
        StatusCode::CREATED,
    )
    .await
}

pub async fn enroll(app: &TestApp, code: &str) -> Response {
    app.request(Method::POST, "/api/v1/agent/enroll", None)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap()
}

/// A registered and enrolled agent for `doors`: (agent id, token).
pub async fn agent(app: &TestApp, admin: &str, doors: &[Uuid]) -> (Uuid, String) {
    let created = register(app, admin, doors).await;
    let code = created["enrollment_code"].as_str().unwrap();
    let enrolled = expect(enroll(app, code).await, StatusCode::OK).await;
    (
        id(&enrolled["agent_id"]),
        enrolled["token"].as_str().unwrap().to_owned(),
    )
}

/// A card presentation at `door`.
pub fn presentation(door: Uuid, card: &str, outcome: Outcome, person: Option<Uuid>) -> DoorEvent {
    presentation_at(door, card, outcome, person, Utc::now())
}

pub fn presentation_at(
    door: Uuid,
    card: &str,
    outcome: Outcome,
    person_id: Option<Uuid>,
    occurred_at: DateTime<Utc>,
) -> DoorEvent {
    let reason = match outcome {
        Outcome::Granted => Reason::Granted,
        _ => Reason::NoGrant,
    };
    DoorEvent {
        occurred_at,
        door_id: Some(door),
        kind: EventKind::Presentation(PresentationRecord {
            reader: "reader-1".into(),
            card: card.into(),
            direction: Direction::Entry,
            outcome,
            reason,
            person_id,
            visit_id: None,
            credential_id: None,
            zone_id: None,
            alarms: vec![],
            policy_version: 7,
            trace: None,
        }),
    }
}

/// The agent's journal: numbers records from 1 and chains each to the one before.
pub struct Journal {
    pub next_seq: u64,
    previous: [u8; 32],
}

impl Journal {
    pub fn new() -> Journal {
        Journal {
            next_seq: 1,
            previous: GENESIS_HASH,
        }
    }

    /// The next record as uploaded: `{"seq","payload","hash"}`.
    pub fn append(&mut self, event: &DoorEvent) -> Value {
        let payload = event.encode().unwrap();
        let seq = self.next_seq;
        let hash = chain_hash(&self.previous, seq, &payload);
        self.previous = hash;
        self.next_seq += 1;
        record(seq, &payload, &hash)
    }
}

pub fn record(seq: u64, payload: &[u8], hash: &[u8; 32]) -> Value {
    json!({"seq": seq, "payload": STANDARD.encode(payload), "hash": hex::encode(hash)})
}

/// Uploads records with the agent's clock at `agent_time`.
pub async fn upload_at(
    app: &TestApp,
    token: &str,
    records: &[Value],
    agent_time: DateTime<Utc>,
) -> Response {
    let body = json!({"agent_time": agent_time.to_rfc3339(), "records": records});
    app.post("/api/v1/agent/events", token, body).await
}

pub async fn upload(app: &TestApp, token: &str, records: &[Value]) -> Value {
    expect(
        upload_at(app, token, records, Utc::now()).await,
        StatusCode::OK,
    )
    .await
}

/// The kinds of an agent's ingest alarms, oldest first.
pub async fn alarms(app: &TestApp, admin: &str, agent: Uuid) -> Vec<Value> {
    let page = app
        .get_json(&format!("/api/v1/agents/{agent}/alarms"), admin)
        .await;
    page["items"].as_array().unwrap().clone()
}

pub fn kinds(alarms: &[Value]) -> Vec<&str> {
    alarms.iter().map(|a| a["kind"].as_str().unwrap()).collect()
}
