//! What door agents upload: their hash-chained events, stored each (agent, seq) exactly
//! once and append-only, and the alarms raised while ingesting them (a gap in the
//! numbers, a broken chain, a number reused with other content, a drifting clock).
//!
//! Alarms are minimal here (kind and a sentence); issue 5 builds full alarm handling.

use super::audit::chain_records;
use super::presence::{Passage, record_passages};
use super::{Store, StoreError, with_pool};
use crate::audit::records::{AlarmRow, EventRow, Source};
use chrono::{DateTime, SubsecRound, Utc};
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, chain_hash};
use serde::Serialize;
use uuid::Uuid;

/// Offsets beyond this (either way) raise a `clock_offset` alarm (IEC 60839-11-1: ±10 s).
pub const MAX_CLOCK_OFFSET_MS: i64 = 10_000;

/// One journal record as uploaded, its payload already decoded.
pub struct UploadRecord {
    pub seq: u64,
    pub payload: Vec<u8>,
    pub hash: [u8; 32],
    pub event: DoorEvent,
}

/// What an upload achieved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IngestOutcome {
    /// The last sequence number processed (stored now or before); `null` when the first
    /// record already failed. Nothing after a failed record is acknowledged.
    pub acked_through: Option<u64>,
    pub stored: u32,
    pub duplicates: u32,
}

/// An event as served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EventRecord {
    pub id: Uuid,
    pub agent_id: Uuid,
    /// The agent's sequence number.
    pub seq: i64,
    /// By the agent's clock.
    pub occurred_at: DateTime<Utc>,
    /// By the server's clock.
    pub received_at: DateTime<Utc>,
    pub door_id: Option<Uuid>,
    /// e.g. `presentation`, `forced_open`, `held_open`.
    pub kind: String,
    pub reader: Option<String>,
    pub direction: Option<String>,
    pub card: Option<String>,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub person_id: Option<Uuid>,
    pub visit_id: Option<Uuid>,
    pub credential_id: Option<Uuid>,
    pub zone_id: Option<Uuid>,
    pub policy_version: Option<i64>,
}

/// Which events to list; `None` matches all. `from` is inclusive, `to` exclusive.
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub door_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub kind: Option<String>,
}

/// An ingest alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AlarmRecord {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub at: DateTime<Utc>,
    /// `journal_gap`, `chain_broken`, `clock_offset` or `seq_conflict`.
    pub kind: String,
    pub detail: String,
}

/// Appends an alarm through `$tx` (the ingesting transaction) and notes it in
/// `$chained` for the audit chain.
macro_rules! insert_alarm {
    ($tx:expr, $chained:expr, $agent_id:expr, $kind:literal, $detail:expr) => {{
        let row = AlarmRow {
            id: Uuid::now_v7(),
            agent_id: $agent_id,
            at: super::now(),
            kind: $kind.to_owned(),
            detail: $detail,
        };
        sqlx::query(
            "INSERT INTO agent_alarms (id, agent_id, at, kind, detail) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(row.id)
        .bind(row.agent_id)
        .bind(row.at)
        .bind(&row.kind)
        .bind(&row.detail)
        .execute($tx)
        .await?;
        $chained.push((Source::Alarm, row.id, row.digest()));
    }};
}

/// The stored hash of an agent's record `seq`, if stored.
macro_rules! stored_hash {
    ($tx:ident, $agent_id:expr, $seq:expr) => {
        sqlx::query_scalar::<_, Vec<u8>>(
            "SELECT hash FROM access_events WHERE agent_id = $1 AND seq = $2",
        )
        .bind($agent_id)
        .bind($seq)
        .fetch_optional(&mut *$tx)
        .await?
    };
}

impl Store {
    /// Stores an upload in one transaction, in sequence order (the caller sorts and
    /// checks the records). A record already stored with the same hash is a duplicate;
    /// with another hash it raises `seq_conflict` and stops. A record whose predecessor
    /// is neither in the batch nor stored is kept and raises `journal_gap`; otherwise its
    /// hash must chain from the predecessor's, or `chain_broken` is raised and nothing
    /// from it on is stored. The clock offset is kept on the agent; crossing
    /// [`MAX_CLOCK_OFFSET_MS`] raises `clock_offset` (once, not at every sync).
    pub async fn ingest_events(
        &self,
        agent_id: Uuid,
        records: &[UploadRecord],
        clock_offset_ms: i64,
    ) -> Result<IngestOutcome, StoreError> {
        let received_at = super::now();
        let mut outcome = IngestOutcome {
            acked_through: None,
            stored: 0,
            duplicates: 0,
        };
        // What this upload adds to the audit trail, in order: chained at the end.
        let mut chained = Vec::new();
        // Granted passages of known holders: who is where (see `presence`).
        let mut passages = Vec::new();
        with_pool!(self, pool, begin => {
            let mut tx = pool.begin_with(begin).await?;
            // Locks the agent's row (PostgreSQL): one upload per agent at a time.
            let previous = sqlx::query_scalar::<_, Option<i64>>(
                "UPDATE agents SET last_seen_at = $2 WHERE id = $1 RETURNING clock_offset_ms",
            )
            .bind(agent_id)
            .bind(received_at)
            .fetch_one(&mut *tx)
            .await?;
            sqlx::query("UPDATE agents SET clock_offset_ms = $2 WHERE id = $1")
                .bind(agent_id)
                .bind(clock_offset_ms)
                .execute(&mut *tx)
                .await?;
            let was_off = previous.is_some_and(|o| o.abs() > MAX_CLOCK_OFFSET_MS);
            if clock_offset_ms.abs() > MAX_CLOCK_OFFSET_MS && !was_off {
                let way = if clock_offset_ms > 0 { "behind" } else { "ahead" };
                let detail = format!("the agent's clock is {} ms {way}", clock_offset_ms.abs());
                insert_alarm!(&mut *tx, chained, agent_id, "clock_offset", detail);
            }
            let mut previous: Option<(u64, [u8; 32])> = None;
            for record in records {
                let Ok(seq) = i64::try_from(record.seq) else { break };
                if let Some(hash) = stored_hash!(tx, agent_id, seq) {
                    if hash != record.hash {
                        let detail = format!("seq {seq} is stored already with another hash");
                        insert_alarm!(&mut *tx, chained, agent_id, "seq_conflict", detail);
                        break;
                    }
                    outcome.duplicates += 1;
                } else {
                    let before = match previous {
                        Some((p, hash)) if p + 1 == record.seq => Some(hash),
                        _ if seq == 1 => Some(GENESIS_HASH),
                        _ => stored_hash!(tx, agent_id, seq - 1)
                            .and_then(|h| <[u8; 32]>::try_from(h).ok()),
                    };
                    match before {
                        None => {
                            let stored_below = sqlx::query_scalar::<_, Option<i64>>(
                                "SELECT MAX(seq) FROM access_events WHERE agent_id = $1 AND seq < $2",
                            )
                            .bind(agent_id)
                            .bind(seq)
                            .fetch_one(&mut *tx)
                            .await?
                            .unwrap_or(0);
                            let batch_below = previous.map_or(0, |(p, _)| i64::try_from(p).unwrap_or(0));
                            let first = stored_below.max(batch_below) + 1;
                            insert_alarm!(&mut *tx, chained, agent_id, "journal_gap", missing(first, seq - 1));
                        }
                        Some(before) if chain_hash(&before, record.seq, &record.payload) != record.hash => {
                            let detail = format!("seq {seq} does not chain from seq {}", seq - 1);
                            insert_alarm!(&mut *tx, chained, agent_id, "chain_broken", detail);
                            break;
                        }
                        Some(_) => {}
                    }
                    let row = event_row(agent_id, record, received_at);
                    sqlx::query(
                        "INSERT INTO access_events (id, agent_id, seq, hash, payload, occurred_at, \
                         received_at, door_id, kind, reader, direction, card, outcome, reason, \
                         person_id, visit_id, credential_id, zone_id, policy_version) VALUES \
                         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
                         $17, $18, $19)",
                    )
                    .bind(row.id)
                    .bind(row.agent_id)
                    .bind(row.seq)
                    .bind(&row.hash)
                    .bind(&row.payload)
                    .bind(row.occurred_at)
                    .bind(row.received_at)
                    .bind(row.door_id)
                    .bind(&row.kind)
                    .bind(&row.reader)
                    .bind(&row.direction)
                    .bind(&row.card)
                    .bind(&row.outcome)
                    .bind(&row.reason)
                    .bind(row.person_id)
                    .bind(row.visit_id)
                    .bind(row.credential_id)
                    .bind(row.zone_id)
                    .bind(row.policy_version)
                    .execute(&mut *tx)
                    .await?;
                    chained.push((Source::Event, row.id, row.digest()));
                    passages.extend(Passage::of(&row));
                    outcome.stored += 1;
                }
                previous = Some((record.seq, record.hash));
                outcome.acked_through = Some(record.seq);
            }
            record_passages!(&mut *tx, &passages);
            super::alarms::ingest::raise_ingest_alarms(&mut *tx, &mut chained, agent_id, records).await?;
            chain_records!(&mut *tx, &chained);
            tx.commit().await?;
        });
        Ok(outcome)
    }

    /// Events in id (≈ arrival) order after the cursor id.
    pub async fn list_events(
        &self,
        filter: &EventFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, EventRecord>(
                "SELECT id, agent_id, seq, occurred_at, received_at, door_id, kind, reader, \
                 direction, card, outcome, reason, person_id, visit_id, credential_id, zone_id, \
                 policy_version FROM access_events \
                 WHERE ($1 IS NULL OR door_id = $1) AND ($2 IS NULL OR person_id = $2) \
                 AND ($3 IS NULL OR occurred_at >= $3) AND ($4 IS NULL OR occurred_at < $4) \
                 AND ($5 IS NULL OR outcome = $5) AND ($6 IS NULL OR kind = $6) \
                 AND ($7 IS NULL OR id > $7) ORDER BY id LIMIT $8",
            )
            .bind(filter.door_id)
            .bind(filter.person_id)
            .bind(filter.from)
            .bind(filter.to)
            .bind(&filter.outcome)
            .bind(&filter.kind)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// An agent's ingest alarms, oldest first, after the cursor id.
    pub async fn list_agent_alarms(
        &self,
        agent_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<AlarmRecord>, StoreError> {
        let rows = with_pool!(self, pool => {
            sqlx::query_as::<_, AlarmRecord>(
                "SELECT id, agent_id, at, kind, detail FROM agent_alarms \
                 WHERE agent_id = $1 AND ($2 IS NULL OR id > $2) \
                 AND kind IN ('journal_gap', 'chain_broken', 'clock_offset', 'seq_conflict') \
                 ORDER BY id LIMIT $3",
            )
            .bind(agent_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}

/// The alarm detail for the numbers `first..=last` that never arrived.
fn missing(first: i64, last: i64) -> String {
    if first >= last {
        format!("seq {last} is missing")
    } else {
        format!("seq {first} to {last} are missing")
    }
}

/// The row storing `record`: its bytes and chain hash as uploaded, and the searchable
/// columns decoded from it.
fn event_row(agent_id: Uuid, record: &UploadRecord, received_at: DateTime<Utc>) -> EventRow {
    let mut row = EventRow {
        id: Uuid::now_v7(),
        agent_id,
        // The caller stops at a seq beyond i64.
        seq: i64::try_from(record.seq).unwrap_or(i64::MAX),
        hash: record.hash.to_vec(),
        payload: record.payload.clone(),
        occurred_at: record.event.occurred_at.trunc_subsecs(6),
        received_at,
        door_id: record.event.door_id,
        kind: record.event.kind.name().to_owned(),
        reader: None,
        direction: None,
        card: None,
        outcome: None,
        reason: None,
        person_id: None,
        visit_id: None,
        credential_id: None,
        zone_id: None,
        policy_version: None,
    };
    match &record.event.kind {
        EventKind::Presentation(p) => {
            row.reader = Some(p.reader.clone());
            row.direction = Some(p.direction.as_str().to_owned());
            row.card = Some(p.card.clone());
            row.outcome = Some(p.outcome.as_str().to_owned());
            row.reason = Some(p.reason.as_str().to_owned());
            row.person_id = p.person_id;
            row.visit_id = p.visit_id;
            row.credential_id = p.credential_id;
            row.zone_id = p.zone_id;
            // A version beyond i64 cannot come from this server: left out, kept in the payload.
            row.policy_version = i64::try_from(p.policy_version).ok();
        }
        EventKind::ReaderError { reader, .. } => row.reader = Some(reader.clone()),
        _ => {}
    }
    row
}
