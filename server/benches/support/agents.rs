//! Door agents for benches: an API client, agents enrolled through it (a site with a
//! door per agent), and an agent's journal of chained presentation events, built before
//! the clock starts and uploaded as `door-agent`'s uploader does.

use super::{ADMIN_PASSWORD, Result, text};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Duration as TimeDelta, Utc};
use gatehouse_core::decide::{Direction, Outcome, Reason};
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, PresentationRecord, chain_hash};
use serde_json::{Value, json};
use uuid::Uuid;

/// An agent's uploads in order: the `records` array of each batch as JSON text.
pub struct Batch {
    pub records: String,
    pub first: u64,
    pub last: u64,
}

/// `n` chained presentation events at `door`, as the agent's journal would hold them.
pub fn journal(door: Uuid, n: usize, batch: usize) -> Result<Vec<Batch>> {
    let start: DateTime<Utc> = "2026-11-23T08:00:00Z".parse()?;
    let mut previous = GENESIS_HASH;
    let mut batches = Vec::new();
    let mut records = Vec::with_capacity(batch);
    for i in 0..n {
        let seq = u64::try_from(i)? + 1;
        let payload =
            presentation(door, i, start + TimeDelta::milliseconds(i64::try_from(i)?)).encode()?;
        let hash = chain_hash(&previous, seq, &payload);
        previous = hash;
        records.push(json!({
            "seq": seq,
            "payload": STANDARD.encode(&payload),
            "hash": hex::encode(hash),
        }));
        if records.len() == batch || i + 1 == n {
            let count = u64::try_from(records.len())?;
            batches.push(Batch {
                records: serde_json::to_string(&records)?,
                first: seq + 1 - count,
                last: seq,
            });
            records.clear();
        }
    }
    Ok(batches)
}

/// A card presentation as the agent journals it: nine in ten granted.
pub fn presentation(door: Uuid, i: usize, at: DateTime<Utc>) -> DoorEvent {
    let person = i % 250_000;
    let granted = !i.is_multiple_of(10);
    DoorEvent {
        occurred_at: at,
        door_id: Some(door),
        kind: EventKind::Presentation(PresentationRecord {
            reader: "front-in".into(),
            card: format!("{:014X}", 0x04_0000_0000_0000usize + person),
            direction: if i.is_multiple_of(2) {
                Direction::Entry
            } else {
                Direction::Exit
            },
            outcome: if granted {
                Outcome::Granted
            } else {
                Outcome::Denied
            },
            reason: if granted {
                Reason::Granted
            } else {
                Reason::NoGrant
            },
            person_id: Some(Uuid::from_u128(4 << 96 | person as u128)),
            visit_id: None,
            credential_id: Some(Uuid::from_u128(6 << 96 | person as u128)),
            zone_id: Some(Uuid::from_u128(2 << 96 | 1)),
            alarms: vec![],
            policy_version: 42,
            trace: None,
        }),
    }
}

#[derive(Clone)]
pub struct Agent {
    pub id: String,
    pub token: String,
    pub door: Uuid,
}

/// A site with one door per agent, each agent registered for its door and enrolled.
pub async fn enrol(api: &Api, admin: &str, agents: usize) -> Result<Vec<Agent>> {
    let site = api
        .post("/sites", admin, json!({"name": "Bench", "timezone": "UTC"}))
        .await?;
    let zone = |name: &str, level: u8| json!({"site_id": site["id"], "name": name, "level": level});
    let lobby = api.post("/zones", admin, zone("Lobby", 0)).await?;
    let office = api.post("/zones", admin, zone("Office", 1)).await?;
    let mut enrolled = Vec::new();
    for n in 0..agents {
        let door = api
            .post(
                "/doors",
                admin,
                json!({"name": format!("Door {n}"), "from_zone_id": lobby["id"], "to_zone_id": office["id"]}),
            )
            .await?;
        let agent = api
            .post(
                "/agents",
                admin,
                json!({"name": format!("agent {n}"), "door_ids": [door["id"]]}),
            )
            .await?;
        let answer = api
            .client
            .post(format!("{}/agent/enroll", api.base))
            .json(&json!({"code": agent["enrollment_code"]}))
            .send()
            .await?
            .error_for_status()?
            .json::<Value>()
            .await?;
        enrolled.push(Agent {
            id: text(&agent["id"])?,
            token: text(&answer["token"])?,
            door: text(&door["id"])?.parse()?,
        });
    }
    Ok(enrolled)
}

#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    pub base: String,
}

impl Api {
    pub async fn login(&self) -> Result<String> {
        let body = json!({"username": "admin", "password": ADMIN_PASSWORD});
        let answer: Value = self
            .client
            .post(format!("{}/auth/login", self.base))
            .json(&body)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        text(&answer["access_token"])
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Result<Value> {
        let response = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await?;
        let status = response.status();
        let answer: Value = response.json().await?;
        if !status.is_success() {
            return Err(format!("POST {path}: {status} {answer}").into());
        }
        Ok(answer)
    }

    pub async fn get(&self, path: &str, token: &str) -> Result<Value> {
        Ok(self
            .client
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?)
    }

    /// The agent's first whole snapshot (`GET /agent/policy`, successful). At millions
    /// of credentials the server's first compile outlasts a request's timeout (408) and
    /// goes on without it: ask again, as the agent does, for up to ten minutes.
    pub async fn first_snapshot(&self, token: &str) -> Result<reqwest::Response> {
        let url = format!("{}/agent/policy?wait_s=0", self.base);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
        loop {
            let answer = self.client.get(&url).bearer_auth(token).send().await?;
            let status = answer.status();
            if status.is_success() {
                return Ok(answer);
            }
            let retry =
                [408, 503].contains(&status.as_u16()) && std::time::Instant::now() < deadline;
            if !retry {
                return Err(format!("the first snapshot: {status}").into());
            }
        }
    }
}

/// Uploads one batch as `agent` (as its uploader does): the HTTP status, and the
/// round trip in ms. A success that does not store the batch exactly is an error.
pub async fn upload(api: &Api, agent: &Agent, batch: &Batch) -> Result<(u16, f64)> {
    let body = format!(
        r#"{{"agent_time":"{}","records":{}}}"#,
        Utc::now().to_rfc3339(),
        batch.records
    );
    let sent = std::time::Instant::now();
    let response = api
        .client
        .post(format!("{}/agent/events", api.base))
        .bearer_auth(&agent.token)
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await?;
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    let ms = sent.elapsed().as_secs_f64() * 1e3;
    let expected = json!(batch.last - batch.first + 1);
    if status.is_success()
        && (answer["acked_through"] != json!(batch.last)
            || answer["stored"] != expected
            || answer["duplicates"] != json!(0))
    {
        let (first, last) = (batch.first, batch.last);
        return Err(format!("upload of seq {first}..={last}: {status} {answer}").into());
    }
    Ok((status.as_u16(), ms))
}
