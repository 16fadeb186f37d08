//! What door agents upload: their hash-chained events, stored each (agent, seq) exactly
//! once and append-only, and the alarms raised while ingesting them (a gap in the
//! numbers, a broken chain, a number reused with other content, a drifting clock).
//!
//! Alarms are minimal here (kind and a sentence); issue 5 builds full alarm handling.

use super::audit::chain_records;
use super::presence::{Passage, record_passages};
use super::{Store, StoreError, on};
use crate::audit::records::{AlarmRow, EventRow, Source};
use chrono::{DateTime, SubsecRound, Utc};
use gatehouse_core::decide::{Direction, Outcome, Reason};
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
    /// On a `released_entry` (a waiting holder let in by another's presentation): the
    /// person or visit whose presentation released it (the escort, the second person).
    pub released_by: Option<Uuid>,
    /// On a `released_entry`: the id of the releasing presentation's event.
    pub release_of: Option<Uuid>,
}

/// Which events to list; `None` matches all. `from` is inclusive, `to` exclusive (both on
/// `occurred_at`, the agent's clock).
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub door_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub credential_id: Option<Uuid>,
    pub zone_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub reason: Option<String>,
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

/// The zone a presentation the agent put in `$zone_id` at `$door_id` is stored with:
/// the zone the server's own door leads into, whatever the agent named (its decision
/// names exactly that zone, so an honest agent's is unchanged; a forged upload naming
/// another site's vault is not believed), or none for a door the server does not know.
/// A presentation the agent decided without a zone keeps none. `$zones` holds the doors
/// already read in this upload.
macro_rules! zone_of_door {
    ($tx:ident, $zones:ident, $door_id:expr, $zone_id:expr) => {
        match ($door_id, $zone_id) {
            (Some(door_id), Some(_)) => match $zones.get(&door_id) {
                Some(zone) => *zone,
                None => {
                    let zone =
                        sqlx::query_scalar::<_, Uuid>("SELECT to_zone_id FROM doors WHERE id = $1")
                            .bind(door_id)
                            .fetch_optional(&mut *$tx)
                            .await?;
                    $zones.insert(door_id, zone);
                    zone
                }
            },
            _ => None,
        }
    };
}

/// The start of every events-list query, up to its `WHERE`.
macro_rules! select_events {
    () => {
        "SELECT id, agent_id, seq, occurred_at, received_at, door_id, kind, reader, direction, \
         card, outcome, reason, person_id, visit_id, credential_id, zone_id, policy_version, \
         released_by, release_of FROM access_events WHERE "
    };
}

/// Every filter as a test of the row (parameters as [`bind_page!`] binds them), none of
/// them usable as an index range: `$n IS NULL OR` and `COALESCE` keep both databases
/// from choosing an index other than the one the query names.
macro_rules! event_tests {
    () => {
        " AND ($1 IS NULL OR door_id = $1) AND ($2 IS NULL OR person_id = $2) \
         AND ($3 IS NULL OR credential_id = $3) AND ($4 IS NULL OR zone_id = $4) \
         AND ($5 IS NULL OR outcome = $5) AND ($6 IS NULL OR reason = $6) \
         AND ($7 IS NULL OR kind = $7) \
         AND ($8 IS NULL OR COALESCE(occurred_at, occurred_at) >= $8) \
         AND ($9 IS NULL OR COALESCE(occurred_at, occurred_at) < $9)"
    };
}

/// A walk in id order through `($10, $12)` along the `(column, id)` index of `$drive`
/// (`"door_id = $1 AND "`), or along the primary key (`""`).
macro_rules! walk {
    ($drive:literal) => {
        concat!(
            select_events!(),
            $drive,
            "id > $10 AND id < $12",
            event_tests!(),
            " ORDER BY id LIMIT $11"
        )
    };
}

/// The early (`$class` `"received_at < occurred_at AND "`: received before they
/// occurred, by the clocks) or late (`"arrived_late AND "`: received more than an hour
/// after) events of the period with ids in `($10, $12]`, read from that class's partial
/// index on `$drive` (`"door_id = $1 AND "`) or on the period alone (`""`).
macro_rules! outliers {
    ($class:literal, $drive:literal) => {
        concat!(
            select_events!(),
            $class,
            $drive,
            "occurred_at >= $8 AND occurred_at < $9 \
             AND COALESCE(id, id) > $10 AND COALESCE(id, id) <= $12",
            event_tests!(),
            " ORDER BY COALESCE(id, id) LIMIT $11"
        )
    };
}

/// `sqlx::query_as($sql)` with the page's parameters `$1` to `$12`.
macro_rules! bind_page {
    ($sql:expr, $page:expr) => {{
        let page: &EventPage<'_> = $page;
        sqlx::query_as::<_, EventRecord>($sql)
            .bind(page.filter.door_id)
            .bind(page.filter.person_id)
            .bind(page.filter.credential_id)
            .bind(page.filter.zone_id)
            .bind(page.filter.outcome.as_deref())
            .bind(page.filter.reason.as_deref())
            .bind(page.filter.kind.as_deref())
            .bind(page.from)
            .bind(page.to)
            .bind(page.after)
            .bind(page.limit)
            .bind(page.before)
    }};
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
        on!(self.write().await?, |mut tx| {
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
                let way = if clock_offset_ms > 0 {
                    "behind"
                } else {
                    "ahead"
                };
                let detail = format!("the agent's clock is {} ms {way}", clock_offset_ms.abs());
                insert_alarm!(&mut *tx, chained, agent_id, "clock_offset", detail);
            }
            let mut previous: Option<(u64, [u8; 32])> = None;
            // Each door's zone, read once per upload (an upload is one agent's doors).
            let mut door_zones: std::collections::HashMap<Uuid, Option<Uuid>> =
                std::collections::HashMap::new();
            for record in records {
                let Ok(seq) = i64::try_from(record.seq) else {
                    break;
                };
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
                            let batch_below =
                                previous.map_or(0, |(p, _)| i64::try_from(p).unwrap_or(0));
                            let first = stored_below.max(batch_below) + 1;
                            insert_alarm!(
                                &mut *tx,
                                chained,
                                agent_id,
                                "journal_gap",
                                missing(first, seq - 1)
                            );
                        }
                        Some(before)
                            if chain_hash(&before, record.seq, &record.payload) != record.hash =>
                        {
                            let detail = format!("seq {seq} does not chain from seq {}", seq - 1);
                            insert_alarm!(&mut *tx, chained, agent_id, "chain_broken", detail);
                            break;
                        }
                        Some(_) => {}
                    }
                    let mut row = event_row(agent_id, record, received_at);
                    if let EventKind::ReleasedEntry(r) = &record.event.kind {
                        // The releasing presentation precedes it in the journal: stored
                        // already, or earlier in this upload.
                        let by_seq = i64::try_from(r.release_of).unwrap_or(i64::MAX);
                        row.release_of = sqlx::query_scalar::<_, Uuid>(
                            "SELECT id FROM access_events WHERE agent_id = $1 AND seq = $2",
                        )
                        .bind(agent_id)
                        .bind(by_seq)
                        .fetch_optional(&mut *tx)
                        .await?;
                    }
                    row.zone_id = zone_of_door!(tx, door_zones, row.door_id, row.zone_id);
                    sqlx::query(
                        "INSERT INTO access_events (id, agent_id, seq, hash, payload, occurred_at, \
                         received_at, door_id, kind, reader, direction, card, outcome, reason, \
                         person_id, visit_id, credential_id, zone_id, policy_version, \
                         released_by, release_of) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, \
                         $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
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
                    .bind(row.released_by)
                    .bind(row.release_of)
                    .execute(&mut *tx)
                    .await?;
                    passages.extend(Passage::of(&row, chained.len()));
                    chained.push((Source::Event, row.id, row.digest()));
                    outcome.stored += 1;
                }
                previous = Some((record.seq, record.hash));
                outcome.acked_through = Some(record.seq);
            }
            super::alarms::ingest::raise_ingest_alarms(&mut *tx, &mut chained, agent_id, records)
                .await?;
            // Passages after chaining: their revisions are their events' chain seqs.
            if let Some(first_seq) = chain_records!(&mut *tx, &chained) {
                record_passages!(&mut *tx, &passages, first_seq);
            }
            tx.commit().await?;
        });
        Ok(outcome)
    }

    /// Events in id (≈ arrival) order after the cursor id, at most `limit`. Every
    /// combination of filters reads its page from an index: see "The events list" below.
    pub async fn list_events(
        &self,
        filter: &EventFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let Some(page) = EventPage::new(filter, after, limit) else {
            return Ok(Vec::new());
        };
        let (floor, ceiling) = id_window(filter);
        let drive = Drive::of(filter);
        let mut rows = Vec::new();
        // Below the window: early events only.
        if let Some(floor) = floor.filter(|floor| page.after < *floor) {
            let early = EventPage {
                before: floor,
                ..page
            };
            rows = on!(self.pool(), |pool| {
                bind_page!(drive.early(), &early).fetch_all(pool).await?
            });
        }
        // The window, walked.
        let start = floor.map_or(page.after, |floor| floor.max(page.after));
        if rows.len() < page.wanted() && start < ceiling {
            let walk = EventPage {
                after: start,
                before: ceiling,
                limit: page.limit - rows.len() as i64,
                ..page
            };
            let walked = on!(self.pool(), |pool| {
                bind_page!(drive.walk(), &walk).fetch_all(pool).await?
            });
            rows.extend(walked);
        }
        // Above the window: late events only.
        if rows.len() < page.wanted() && ceiling < Uuid::max() {
            let late = EventPage {
                // Just below the ceiling: the window ends before it.
                after: Uuid::from_u128(ceiling.as_u128() - 1).max(page.after),
                before: Uuid::max(),
                limit: page.limit - rows.len() as i64,
                ..page
            };
            let late = on!(self.pool(), |pool| {
                bind_page!(drive.late(), &late).fetch_all(pool).await?
            });
            rows.extend(late);
        }
        Ok(rows)
    }

    /// An agent's ingest alarms, oldest first, after the cursor id.
    pub async fn list_agent_alarms(
        &self,
        agent_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<AlarmRecord>, StoreError> {
        let rows = on!(self.pool(), |pool| {
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
        released_by: None,
        release_of: None,
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
        // A waiting holder's entry, released by another's presentation: a granted entry
        // (their passage) naming who released it; `release_of` is resolved by ingest.
        EventKind::ReleasedEntry(r) => {
            row.reader = Some(r.reader.clone());
            row.direction = Some(Direction::Entry.as_str().to_owned());
            row.card = r.card.clone();
            row.outcome = Some(Outcome::Granted.as_str().to_owned());
            row.reason = Some(Reason::Granted.as_str().to_owned());
            row.person_id = r.person_id;
            row.visit_id = r.visit_id;
            row.credential_id = Some(r.credential_id);
            row.zone_id = r.zone_id;
            row.policy_version = i64::try_from(r.policy_version).ok();
            row.released_by = Some(r.released_by);
        }
        EventKind::ReaderError { reader, .. } => row.reader = Some(reader.clone()),
        _ => {}
    }
    row
}

// The events list.
//
// A page is the first `limit` matching events in id order after the cursor. Ids are
// UUIDv7 taken when an event is stored, so id order is arrival order: new events land at
// the end, and a client paging through never misses one. Every combination of filters
// must find its page from an index at 10 million events (migration 0008):
//
// - One equality filter drives the page: its `(column, id)` index is read in id order
//   from the cursor, the other filters tested on each row, until the page is full
//   (credential, person, door, zone, reason, kind, by that preference: the most
//   selective first). With none of them, the primary key is read the same way.
// - The period is on `occurred_at`, which is not id order, so it cannot be a range of
//   those indexes; but an event is normally stored seconds after it occurred. An event
//   that occurred in `[from, to)` and was received no earlier than it occurred, and at
//   most an hour later, has an id inside a window ([`id_window`]): from the smallest
//   UUIDv7 of `from` to the largest of `to` plus an hour (plus margins). The walk stays
//   inside that window: it neither reads the years before `from` nor, once the
//   period's events are listed, the years after `to`.
// - The events outside the window are the early ones (received before they occurred,
//   by the clocks: an agent whose clock runs ahead) below it and the late ones
//   (`arrived_late`, a generated column: received more than an hour after, an agent
//   that was offline) above it. Each kind has partial indexes of its own, one per drive
//   `(column, occurred_at)` and one on `(occurred_at)`: the period's early (late) events
//   of the drive are read from it and sorted by id, before (after) the walk. They are
//   few, and the late ones are read only when the walk leaves the page short.
//
// Which index a query uses is spelled out in its SQL rather than left to each
// database's planner: the filters that must not drive are written as row tests
// (`$n IS NULL OR`, `COALESCE`), which neither SQLite nor PostgreSQL takes as an index
// range, so both backends run the same plan.
//
// This relies on how ingest takes ids: after `received_at`, on the same clock, within
// [`ID_AFTER_RECEIVED_S`] of it (a transaction is far shorter).

/// How long after `received_at` an event's id may be taken (ingest takes `received_at`
/// when an upload arrives and the ids as it stores the events, in the same transaction).
const ID_AFTER_RECEIVED_S: i64 = 600;

/// Margin for a clock stepped back between reading `received_at` and taking an id.
const ID_BEFORE_RECEIVED_S: i64 = 60;

/// Received more than this long after it occurred, an event `arrived_late` (the
/// generated column of migration 0008 says the same).
const LATE_AFTER_S: i64 = 3600;

/// The ids of the events of `filter`'s period that are neither early nor late lie
/// strictly inside `(floor, ceiling)`: `floor` just below the smallest UUIDv7 of `from`
/// less a margin (`None` without `from`), `ceiling` the smallest UUIDv7 of `to` plus an
/// hour and a margin (the largest id without `to`).
fn id_window(filter: &EventFilter) -> (Option<Uuid>, Uuid) {
    let floor = filter.from.map(|from| {
        let at = from - chrono::Duration::seconds(ID_BEFORE_RECEIVED_S);
        Uuid::from_u128(smallest_v7(at).saturating_sub(1))
    });
    let ceiling = filter.to.map_or(Uuid::max(), |to| {
        let at = to + chrono::Duration::seconds(LATE_AFTER_S + ID_AFTER_RECEIVED_S + 1);
        Uuid::from_u128(smallest_v7(at))
    });
    (floor, ceiling)
}

/// The smallest UUIDv7 of the millisecond of `at`: 48 bits of milliseconds, version 7,
/// variant `0b10`, every other bit zero.
fn smallest_v7(at: DateTime<Utc>) -> u128 {
    let millis = u128::try_from(at.timestamp_millis()).unwrap_or(0);
    (millis.min((1 << 48) - 1) << 80) | (0x7 << 76) | (0b10 << 62)
}

/// A page request with its period normalised: both ends set (the open one at the end of
/// the calendar) or neither; rounded up to the microsecond the databases store.
#[derive(Clone, Copy)]
struct EventPage<'a> {
    filter: &'a EventFilter,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    /// Exclusive; the nil id before the first page.
    after: Uuid,
    /// The exclusive (walk) or inclusive (early, late) upper bound of the ids to read.
    before: Uuid,
    limit: i64,
}

impl<'a> EventPage<'a> {
    /// `None` when the period is empty.
    fn new(filter: &'a EventFilter, after: Option<Uuid>, limit: u32) -> Option<EventPage<'a>> {
        let (from, to) = match (filter.from, filter.to) {
            (None, None) => (None, None),
            (from, to) => {
                // Years 0000 and 9999: SQLite compares the stored text, which sorts
                // right only within four-digit years.
                let first = DateTime::from_timestamp(-62_167_219_200, 0);
                let last = DateTime::from_timestamp(253_402_300_799, 999_999_000);
                let from = ceil_micros(from.or(first)?);
                let to = ceil_micros(to.or(last)?);
                if from >= to {
                    return None;
                }
                (Some(from), Some(to))
            }
        };
        Some(EventPage {
            filter,
            from,
            to,
            after: after.unwrap_or(Uuid::nil()),
            before: Uuid::max(),
            limit: i64::from(limit),
        })
    }

    fn wanted(&self) -> usize {
        usize::try_from(self.limit).unwrap_or(usize::MAX)
    }
}

/// `at` rounded up to the microsecond: stored times have microseconds, so
/// `t >= at` ⇔ `t >= ceil(at)` and `t < at` ⇔ `t < ceil(at)` on both backends.
fn ceil_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    let down = at.trunc_subsecs(6);
    if down < at {
        down.checked_add_signed(chrono::Duration::microseconds(1))
            .unwrap_or(down)
    } else {
        down
    }
}

/// The filter whose index the walk reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drive {
    Credential,
    Person,
    Door,
    Zone,
    Reason,
    Kind,
    /// The primary key: no equality filter.
    Arrival,
}

impl Drive {
    fn of(filter: &EventFilter) -> Drive {
        if filter.credential_id.is_some() {
            Drive::Credential
        } else if filter.person_id.is_some() {
            Drive::Person
        } else if filter.door_id.is_some() {
            Drive::Door
        } else if filter.zone_id.is_some() {
            Drive::Zone
        } else if filter.reason.is_some() {
            Drive::Reason
        } else if filter.kind.is_some() {
            Drive::Kind
        } else {
            Drive::Arrival
        }
    }

    /// The walk along this drive's index.
    fn walk(self) -> &'static str {
        match self {
            Drive::Credential => walk!("credential_id = $3 AND "),
            Drive::Person => walk!("person_id = $2 AND "),
            Drive::Door => walk!("door_id = $1 AND "),
            Drive::Zone => walk!("zone_id = $4 AND "),
            Drive::Reason => walk!("reason = $6 AND "),
            Drive::Kind => walk!("kind = $7 AND "),
            Drive::Arrival => walk!(""),
        }
    }

    /// The early events of the period from this drive's partial index.
    fn early(self) -> &'static str {
        match self {
            Drive::Credential => {
                outliers!("received_at < occurred_at AND ", "credential_id = $3 AND ")
            }
            Drive::Person => outliers!("received_at < occurred_at AND ", "person_id = $2 AND "),
            Drive::Door => outliers!("received_at < occurred_at AND ", "door_id = $1 AND "),
            Drive::Zone => outliers!("received_at < occurred_at AND ", "zone_id = $4 AND "),
            Drive::Reason => outliers!("received_at < occurred_at AND ", "reason = $6 AND "),
            Drive::Kind => outliers!("received_at < occurred_at AND ", "kind = $7 AND "),
            Drive::Arrival => outliers!("received_at < occurred_at AND ", ""),
        }
    }

    /// The late events of the period from this drive's partial index.
    fn late(self) -> &'static str {
        match self {
            Drive::Credential => outliers!("arrived_late AND ", "credential_id = $3 AND "),
            Drive::Person => outliers!("arrived_late AND ", "person_id = $2 AND "),
            Drive::Door => outliers!("arrived_late AND ", "door_id = $1 AND "),
            Drive::Zone => outliers!("arrived_late AND ", "zone_id = $4 AND "),
            Drive::Reason => outliers!("arrived_late AND ", "reason = $6 AND "),
            Drive::Kind => outliers!("arrived_late AND ", "kind = $7 AND "),
            Drive::Arrival => outliers!("arrived_late AND ", ""),
        }
    }
}
