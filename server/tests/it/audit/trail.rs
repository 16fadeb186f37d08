//! A trail written through the store, and the means to tamper with it.

use super::site_support::{new_door, site, zone};
use crate::common::TestDb;
use gatehouse_core::decide::{Direction, Outcome, Reason};
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, PresentationRecord, chain_hash};
use gatehouse_server::audit::checkpoint::{AuditKey, CheckpointSettings, checkpoint_if_due};
use gatehouse_server::audit::verify::{VerifyReport, verify};
use gatehouse_server::store::{
    Actor, ChainEntry, EventFilter, EventRecord, NewAgent, Store, UploadRecord, now,
};
use uuid::Uuid;

/// A trail with operator actions (the site model), six door events, an ingest alarm,
/// a checkpoint, and two more events after it.
pub struct Trail {
    pub store: Store,
    pub key: AuditKey,
    pub events: Vec<EventRecord>,
}

fn presentation(door: Uuid, card: &str) -> DoorEvent {
    DoorEvent {
        occurred_at: now(),
        door_id: Some(door),
        kind: EventKind::Presentation(PresentationRecord {
            reader: "front".into(),
            card: card.into(),
            direction: Direction::Entry,
            outcome: Outcome::Denied,
            reason: Reason::UnknownCredential,
            person_id: None,
            visit_id: None,
            credential_id: None,
            zone_id: None,
            alarms: vec![],
            policy_version: 1,
            trace: None,
        }),
    }
}

/// Records `1..=n` of an agent's journal.
fn journal(door: Uuid, n: u64) -> Vec<UploadRecord> {
    let mut previous = GENESIS_HASH;
    (1..=n)
        .map(|seq| {
            // One card a spreadsheet would take for a formula: exports must defuse it.
            let card = if seq == 4 {
                "=1+2".to_owned()
            } else {
                format!("{seq:02X}")
            };
            let event = presentation(door, &card);
            let payload = event.encode().unwrap();
            let hash = chain_hash(&previous, seq, &payload);
            previous = hash;
            UploadRecord {
                seq,
                payload,
                hash,
                event,
            }
        })
        .collect()
}

/// A store with a door and its agent: (store, key, door, agent).
async fn door_and_agent(db: &TestDb) -> (Store, AuditKey, Uuid, Uuid) {
    let store = db.store().await;
    let key = AuditKey::load(&store).await.unwrap();
    let site = site(&store, "HQ").await;
    let outer = zone(&store, site.id, None, 0).await;
    let inner = zone(&store, site.id, Some(outer.id), 1).await;
    let door = store
        .create_door(new_door(outer.id, inner.id), &Actor::cli())
        .await
        .unwrap();
    let agent = store
        .create_agent(
            NewAgent {
                name: "front".into(),
                door_ids: vec![door.id],
                code_hash: b"code".to_vec(),
                code_expires_at: now() + chrono::Duration::minutes(15),
            },
            &Actor::cli(),
        )
        .await
        .unwrap()
        .id;
    (store, key, door.id, agent)
}

/// A trail of `n` door events (uploaded 500 at a time, a checkpoint signed after each
/// upload), long enough to span several pages of an export and of the verifier. (Not
/// 1,000: on SQLite an upload of 1,000 distinct denied cards fails, "Expression tree is
/// too large", in the repeated-denial query of `store/alarms/ingest.rs`.)
pub async fn long_trail(db: &TestDb, n: u64) -> Trail {
    let (store, key, door, agent) = door_and_agent(db).await;
    let every_record = CheckpointSettings {
        checkpoint_records: 1,
        ..CheckpointSettings::default()
    };
    for batch in journal(door, n).chunks(500) {
        store.ingest_events(agent, batch, 0).await.unwrap();
        checkpoint_if_due(&store, &key, every_record).await.unwrap();
    }
    Trail {
        store,
        key,
        events: Vec::new(),
    }
}

pub async fn trail(db: &TestDb) -> Trail {
    let (store, key, door, agent) = door_and_agent(db).await;
    let records = journal(door, 8);
    store.ingest_events(agent, &records[..6], 0).await.unwrap();
    // A drifting clock: an alarm in the trail.
    store.ingest_events(agent, &[], 60_000).await.unwrap();
    let every_record = CheckpointSettings {
        checkpoint_records: 1,
        ..CheckpointSettings::default()
    };
    assert!(
        checkpoint_if_due(&store, &key, every_record)
            .await
            .unwrap()
            .is_some()
    );
    store.ingest_events(agent, &records[6..], 0).await.unwrap();
    let events = store
        .list_events(&EventFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(events.len(), 8);
    Trail { store, key, events }
}

impl Trail {
    pub async fn verify(&self) -> VerifyReport {
        verify(&self.store, &self.key.public_key()).await.unwrap()
    }

    /// The chain entry naming `record_id`.
    pub async fn entry_of(&self, record_id: Uuid) -> ChainEntry {
        self.chain()
            .await
            .into_iter()
            .find(|e| e.record_id == record_id)
            .unwrap()
    }

    pub async fn chain(&self) -> Vec<ChainEntry> {
        self.store.chain_page(0, 100_000).await.unwrap()
    }

    /// Asserts the report fails with `problem` at `entry` (position, table and record).
    pub async fn assert_bad_at(&self, problem: &str, entry: &ChainEntry) {
        let report = self.verify().await;
        assert!(!report.ok, "{report:?}");
        let bad = report.first_bad.clone().unwrap();
        assert_eq!(bad.problem, problem, "{report:?}");
        assert_eq!(bad.seq, Some(entry.seq), "{report:?}");
        assert_eq!(bad.record_id, Some(entry.record_id), "{report:?}");
        assert_eq!(bad.source.as_deref(), Some(entry.source.as_str()));
        assert_eq!(report.records, entry.seq - 1, "checked up to the bad one");
    }
}

pub fn postgres(db: &TestDb) -> bool {
    db.url.starts_with("postgres")
}

/// Drops `table`'s append-only triggers, as someone with database access could.
pub async fn drop_guards(db: &TestDb, table: &str) {
    let statements = if postgres(db) {
        vec![format!("DROP TRIGGER {table}_append_only ON {table}")]
    } else {
        vec![
            format!("DROP TRIGGER {table}_no_update"),
            format!("DROP TRIGGER {table}_no_delete"),
        ]
    };
    for sql in statements {
        db.raw_execute(&sql).await.unwrap();
    }
}
