//! Ingest decides record by record and writes by the batch (one query for the stored
//! hashes, multi-row inserts, the audit chain and presence appended at once): a batch
//! mixing new records, duplicates, gaps, a number reused and a broken chain stores,
//! acknowledges, alarms and moves people exactly as the same records uploaded one at a
//! time, on both backends; and a batch larger than one multi-row statement is whole.

use super::site_support::{new_door, site, zone};
use super::support::presentation_at;
use crate::common::TestDb;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::decide::{Direction, Outcome};
use gatehouse_core::event::{EventKind, GENESIS_HASH, chain_hash};
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::verify::verify;
use gatehouse_server::store::{Actor, EventFilter, NewAgent, Store, UploadRecord, now};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

conformance!(
    batches_store_what_records_one_at_a_time_store,
    a_batch_larger_than_one_statement_is_stored_whole,
);

/// One agent at a door of its own site, its holders, and its journal.
struct Side {
    site: Uuid,
    door: Uuid,
    inner: Uuid,
    agent: Uuid,
    holders: Vec<Uuid>,
    /// Records 1..=n, chained: index `seq - 1`.
    journal: Vec<UploadRecord>,
}

impl Side {
    async fn new(store: &Store, name: &str, n: u64, start: DateTime<Utc>) -> Side {
        let site = site(store, name).await.id;
        let outer = zone(store, site, None, 0).await;
        let inner = zone(store, site, Some(outer.id), 1).await;
        let door = store
            .create_door(new_door(outer.id, inner.id), &Actor::cli())
            .await
            .unwrap()
            .id;
        let agent = store
            .create_agent(
                NewAgent {
                    name: name.into(),
                    door_ids: vec![door],
                    code_hash: name.as_bytes().to_vec(),
                    code_expires_at: now() + Duration::minutes(15),
                },
                &Actor::cli(),
            )
            .await
            .unwrap()
            .id;
        let holders: Vec<Uuid> = (0..5).map(|_| Uuid::now_v7()).collect();
        let mut previous = GENESIS_HASH;
        let journal = (1..=n)
            .map(|seq| {
                let record = record(door, &holders, seq, start, &previous);
                previous = record.hash;
                record
            })
            .collect();
        Side {
            site,
            door,
            inner: inner.id,
            agent,
            holders,
            journal,
        }
    }

    /// The records numbered `seqs`, as journalled.
    fn records(&self, seqs: &[u64]) -> Vec<UploadRecord> {
        seqs.iter()
            .map(|s| clone(&self.journal[usize::try_from(s - 1).unwrap()]))
            .collect()
    }

    /// What the store holds for this side: stored seqs, alarms (kind, detail), and each
    /// holder's presence (holder index, inside, since).
    async fn state(&self, store: &Store) -> State {
        let filter = EventFilter {
            door_id: Some(self.door),
            ..EventFilter::default()
        };
        let mut seqs: Vec<i64> = store
            .list_events(&filter, None, 10_000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        seqs.sort_unstable();
        let alarms = store
            .list_agent_alarms(self.agent, None, 100)
            .await
            .unwrap()
            .into_iter()
            .map(|a| (a.kind, a.detail))
            .collect();
        let sites = BTreeSet::from([self.site]);
        let presence = store
            .presence_changes(&sites, None, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter_map(|p| {
                let holder = self.holders.iter().position(|h| *h == p.holder_id)?;
                Some((holder, (p.zone_id == Some(self.inner), p.since)))
            })
            .collect();
        State {
            seqs,
            alarms,
            presence,
        }
    }
}

#[derive(Debug, PartialEq)]
struct State {
    seqs: Vec<i64>,
    alarms: Vec<(String, String)>,
    presence: BTreeMap<usize, (bool, DateTime<Utc>)>,
}

/// Record `seq`: a granted passage of one of five holders, entries and exits, at times
/// out of order and some equal (which passage wins a holder's presence is tested too).
fn record(
    door: Uuid,
    holders: &[Uuid],
    seq: u64,
    start: DateTime<Utc>,
    previous: &[u8; 32],
) -> UploadRecord {
    let holder = holders[usize::try_from(seq % 5).unwrap()];
    let at = start + Duration::seconds(i64::try_from(seq * 7 % 11).unwrap());
    let mut event = presentation_at(door, "0A", Outcome::Granted, Some(holder), at);
    if let EventKind::Presentation(p) = &mut event.kind
        && seq.is_multiple_of(3)
    {
        p.direction = Direction::Exit;
    }
    let payload = event.encode().unwrap();
    let hash = chain_hash(previous, seq, &payload);
    UploadRecord {
        seq,
        payload,
        hash,
        event,
    }
}

fn clone(r: &UploadRecord) -> UploadRecord {
    UploadRecord {
        seq: r.seq,
        payload: r.payload.clone(),
        hash: r.hash,
        event: r.event.clone(),
    }
}

/// Uploads `records` in one batch; returns (acked through, stored, duplicates).
async fn batch(store: &Store, agent: Uuid, records: &[UploadRecord]) -> (Option<u64>, u32, u32) {
    let o = store.ingest_events(agent, records, 0).await.unwrap();
    (o.acked_through, o.stored, o.duplicates)
}

/// Uploads `records` one per call, as far as the first refused; the sums.
async fn one_at_a_time(
    store: &Store,
    agent: Uuid,
    records: &[UploadRecord],
) -> (Option<u64>, u32, u32) {
    let mut sum = (None, 0, 0);
    for record in records {
        let o = store
            .ingest_events(agent, std::slice::from_ref(record), 0)
            .await
            .unwrap();
        sum.1 += o.stored;
        sum.2 += o.duplicates;
        match o.acked_through {
            Some(seq) => sum.0 = Some(seq),
            None => break,
        }
    }
    sum
}

async fn batches_store_what_records_one_at_a_time_store(db: &TestDb) {
    let store = db.store().await;
    let key = AuditKey::load(&store).await.unwrap();
    let start = now() - Duration::hours(1);
    let batched = Side::new(&store, "batched", 40, start).await;
    let single = Side::new(&store, "single", 40, start).await;
    // Each upload: its seqs, and what to spoil (a record reusing a number with other
    // content, or one that does not chain from its predecessor).
    let conflict = |side: &Side, seq: u64| {
        let mut r = clone(&side.journal[usize::try_from(seq - 1).unwrap()]);
        r.payload.push(1);
        let previous = &side.journal[usize::try_from(seq - 2).unwrap()].hash;
        r.hash = chain_hash(previous, seq, &r.payload);
        r
    };
    let broken = |side: &Side, seq: u64| {
        let mut r = clone(&side.journal[usize::try_from(seq - 1).unwrap()]);
        r.payload.push(1);
        r
    };
    type Spoil = fn(&Side, u64) -> UploadRecord;
    type Upload = (Vec<u64>, Option<(u64, Spoil)>);
    let uploads: Vec<Upload> = vec![
        (vec![1, 2, 3], None),
        // 4 to 9 missing: a gap, stored.
        (vec![10, 11, 12], None),
        // Duplicates around the missing ones; 13's predecessor is stored, not sent.
        (vec![2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14], None),
        // A broken chain at 16: 15 stored, nothing from 16 on.
        ((15..=18).collect(), Some((16, broken))),
        // A number reused with other content: the duplicate before it acknowledged.
        (vec![13, 14, 15], Some((14, conflict))),
        ((16..=20).collect(), None),
        // All duplicates.
        ((1..=20).collect(), None),
        // A gap, then a run; a break at the end.
        ((25..=40).collect(), Some((33, broken))),
    ];
    for (seqs, spoil) in uploads {
        let mut outcomes = Vec::new();
        for (side, single_records) in [(&batched, false), (&single, true)] {
            let mut records = side.records(&seqs);
            if let Some((seq, spoil)) = spoil {
                let at = seqs.iter().position(|s| *s == seq).unwrap();
                records[at] = spoil(side, seq);
            }
            outcomes.push(if single_records {
                one_at_a_time(&store, side.agent, &records).await
            } else {
                batch(&store, side.agent, &records).await
            });
        }
        assert_eq!(outcomes[0], outcomes[1], "upload of {seqs:?}");
        assert_eq!(
            batched.state(&store).await,
            single.state(&store).await,
            "after {seqs:?}"
        );
    }
    let state = batched.state(&store).await;
    let mut expected: Vec<i64> = (1..=20).collect();
    expected.extend(25..=32);
    assert_eq!(state.seqs, expected);
    let kinds: Vec<&str> = state.alarms.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "journal_gap",
            "chain_broken",
            "seq_conflict",
            "journal_gap",
            "chain_broken"
        ]
    );
    assert_eq!(state.presence.len(), 5);
    let report = verify(&store, &key.public_key()).await.unwrap();
    assert!(report.ok, "{report:?}");
}

async fn a_batch_larger_than_one_statement_is_stored_whole(db: &TestDb) {
    let store = db.store().await;
    let key = AuditKey::load(&store).await.unwrap();
    // Larger than PostgreSQL's rows per statement (30,000 binds / 22 columns) and many
    // times SQLite's.
    let n = 1_500;
    let side = Side::new(&store, "large", n, now() - Duration::hours(1)).await;
    // Every 97th stored before, each upload a gap after the first.
    let early: Vec<u64> = (1..=n).filter(|s| s % 97 == 1).collect();
    for seq in &early {
        let answer = batch(&store, side.agent, &side.records(&[*seq])).await;
        assert_eq!(answer, (Some(*seq), 1, 0));
    }
    let all: Vec<u64> = (1..=n).collect();
    let answer = batch(&store, side.agent, &side.records(&all)).await;
    let early_count = u32::try_from(early.len()).unwrap();
    let n32 = u32::try_from(n).unwrap();
    assert_eq!(answer, (Some(n), n32 - early_count, early_count));
    let state = side.state(&store).await;
    assert_eq!(
        state.seqs,
        (1..=i64::try_from(n).unwrap()).collect::<Vec<_>>()
    );
    assert_eq!(state.alarms.len(), early.len() - 1);
    assert!(state.alarms.iter().all(|(k, _)| k == "journal_gap"));
    assert_eq!(state.presence.len(), 5);
    // Again: all duplicates, nothing stored twice.
    let again = batch(&store, side.agent, &side.records(&all)).await;
    assert_eq!(again, (Some(n), 0, n32));
    assert_eq!(side.state(&store).await, state);
    let report = verify(&store, &key.public_key()).await.unwrap();
    assert!(report.ok, "{report:?}");
}
