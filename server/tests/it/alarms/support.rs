//! Builders for the alarm tests: a site with two doors served by two enrolled agents in
//! the store, each with a journal that numbers and chains records as the door agent
//! does; door events of every kind; and a reader for a Server-Sent Events response.

use super::site_support::{new_door, site, zone};
use crate::common::TestDb;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::decide::{Alarm, Direction, Outcome, Reason};
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, PresentationRecord, chain_hash};
use gatehouse_core::role::Role;
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::verify::verify;
use gatehouse_server::store::{
    Actor, Alarm as AlarmRecord, AlarmFilter, NewAgent, NewOperator, Store, UploadRecord, now,
};
use serde_json::Value;
use uuid::Uuid;

/// One agent's journal, as the store receives it.
pub struct StoreJournal {
    next_seq: u64,
    previous: [u8; 32],
}

impl StoreJournal {
    pub fn new() -> StoreJournal {
        StoreJournal {
            next_seq: 1,
            previous: GENESIS_HASH,
        }
    }

    pub fn append(&mut self, event: DoorEvent) -> UploadRecord {
        let payload = event.encode().unwrap();
        let seq = self.next_seq;
        let hash = chain_hash(&self.previous, seq, &payload);
        self.previous = hash;
        self.next_seq += 1;
        UploadRecord {
            seq,
            payload,
            hash,
            event,
        }
    }

    /// Skips `n` numbers (a gap the server will notice).
    pub fn skip(&mut self, n: u64) {
        self.next_seq += n;
    }
}

/// A site with doors `doors[0]` and `doors[1]`, served by `agents[0]` and `agents[1]`;
/// an admin operator to acknowledge with.
pub struct Fixture {
    pub store: Store,
    pub site: Uuid,
    pub doors: [Uuid; 2],
    pub agents: [Uuid; 2],
    pub journals: [StoreJournal; 2],
    pub officer: Actor,
}

impl Fixture {
    pub async fn new(db: &TestDb) -> Fixture {
        let store = db.store().await;
        let site = site(&store, "HQ").await;
        let outer = zone(&store, site.id, None, 0).await;
        let inner = zone(&store, site.id, Some(outer.id), 1).await;
        let mut doors = Vec::new();
        let mut agents = Vec::new();
        for n in 0..2u8 {
            let door = store
                .create_door(new_door(outer.id, inner.id), &Actor::cli())
                .await
                .unwrap();
            let code = format!("code-{n}");
            let agent = store
                .create_agent(
                    NewAgent {
                        name: format!("agent {n}"),
                        door_ids: vec![door.id],
                        code_hash: code.as_bytes().to_vec(),
                        code_expires_at: now() + Duration::minutes(15),
                    },
                    &Actor::cli(),
                )
                .await
                .unwrap();
            store
                .enroll_agent(code.as_bytes(), format!("token-{n}").as_bytes(), now())
                .await
                .unwrap()
                .unwrap();
            doors.push(door.id);
            agents.push(agent.id);
        }
        let officer = store
            .create_operator(
                NewOperator {
                    username: "grace".into(),
                    display_name: "Grace".into(),
                    role: Role::Security,
                    password_hash: "not a hash".into(),
                },
                &Actor::cli(),
            )
            .await
            .unwrap();
        Fixture {
            store,
            site: site.id,
            doors: [doors[0], doors[1]],
            agents: [agents[0], agents[1]],
            journals: [StoreJournal::new(), StoreJournal::new()],
            officer: Actor {
                id: Some(officer.id),
                name: "grace".into(),
                request_id: Some("req-ack".into()),
            },
        }
    }

    /// Uploads `events` as agent `n`'s next records.
    pub async fn upload(&mut self, n: usize, events: Vec<DoorEvent>) -> Vec<UploadRecord> {
        let records: Vec<UploadRecord> = events
            .into_iter()
            .map(|e| self.journals[n].append(e))
            .collect();
        self.store
            .ingest_events(self.agents[n], &records, 0)
            .await
            .unwrap();
        records
    }

    pub async fn alarms(&self, filter: AlarmFilter) -> Vec<AlarmRecord> {
        self.store.list_alarms(&filter, None, 500).await.unwrap()
    }

    pub async fn kinds(&self, filter: AlarmFilter) -> Vec<&'static str> {
        let mut kinds: Vec<_> = self
            .alarms(filter)
            .await
            .iter()
            .map(|a| a.kind.as_str())
            .collect();
        kinds.sort_unstable();
        kinds
    }

    /// The audit chain verifies, with every record chained.
    pub async fn assert_chain_verifies(&self) {
        let key = AuditKey::load(&self.store).await.unwrap();
        let report = verify(&self.store, &key.public_key()).await.unwrap();
        assert!(report.ok, "{report:?}");
    }
}

/// A door incident at `door`, now.
pub fn incident(door: Uuid, kind: EventKind) -> DoorEvent {
    DoorEvent {
        occurred_at: Utc::now(),
        door_id: Some(door),
        kind,
    }
}

/// A presentation of `card` at `door`, with the decision's alarms.
pub fn presented(
    door: Uuid,
    card: &str,
    outcome: Outcome,
    alarms: Vec<Alarm>,
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
            person_id: None,
            visit_id: None,
            credential_id: None,
            zone_id: None,
            alarms,
            policy_version: 1,
            trace: None,
        }),
    }
}

/// A denial of `card` at `door` at `occurred_at`.
pub fn denied(door: Uuid, card: &str, occurred_at: DateTime<Utc>) -> DoorEvent {
    presented(door, card, Outcome::Denied, vec![], occurred_at)
}

/// One event of a Server-Sent Events stream.
#[derive(Debug, Default, Clone)]
pub struct SseEvent {
    pub event: Option<String>,
    pub id: Option<String>,
    pub data: String,
}

impl SseEvent {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).unwrap()
    }
}

/// Reads a `text/event-stream` response event by event.
pub struct SseReader {
    response: reqwest::Response,
    buffer: String,
    /// Also return events that carry only an `id` (a position).
    pub positions: bool,
}

impl SseReader {
    pub fn new(response: reqwest::Response) -> SseReader {
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        SseReader {
            response,
            buffer: String::new(),
            positions: false,
        }
    }

    /// The next dispatched event (comments, `retry`-only blocks and, unless
    /// `positions`, `id`-only blocks are skipped); `None` when the stream ends. Fails
    /// after `within`.
    pub async fn next(&mut self, within: std::time::Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent::default();
                let mut has_data = false;
                for line in block.lines() {
                    let (field, value) = line.split_once(':').unwrap_or((line, ""));
                    let value = value.strip_prefix(' ').unwrap_or(value);
                    match field {
                        "event" => event.event = Some(value.to_owned()),
                        "id" => event.id = Some(value.to_owned()),
                        "data" => {
                            if has_data {
                                event.data.push('\n');
                            }
                            event.data.push_str(value);
                            has_data = true;
                        }
                        _ => {}
                    }
                }
                if has_data || (self.positions && event.id.is_some()) {
                    return Some(event);
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .expect("no event in time")
                .unwrap()?;
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    /// The next event named `name`, skipping others.
    pub async fn next_named(&mut self, name: &str, within: std::time::Duration) -> SseEvent {
        loop {
            let event = self.next(within).await.expect("the stream ended");
            if event.event.as_deref() == Some(name) {
                return event;
            }
        }
    }
}
