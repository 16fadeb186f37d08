//! Storing an upload: each (agent, seq) exactly once and append-only, in one
//! transaction with the alarms it raises, the audit chain entries and who is where.

use super::{IngestOutcome, MAX_CLOCK_OFFSET_MS, UploadRecord};
use crate::audit::records::{EventRow, Source};
use crate::store::presence::Passage;
use crate::store::{AlarmKind, Db, Store, StoreError, now, on};
use chrono::{DateTime, SubsecRound, Utc};
use gatehouse_core::decide::{Direction, Outcome, Reason};
use gatehouse_core::event::{EventKind, GENESIS_HASH, chain_hash};
use std::collections::HashMap;
use uuid::Uuid;

impl Store {
    /// Stores an upload in one transaction, in sequence order (the caller sorts and
    /// checks the records). A record already stored with the same hash is a duplicate;
    /// with another hash it raises `seq_conflict` and stops. A record whose predecessor
    /// is neither in the batch nor stored is kept and raises `journal_gap`; otherwise its
    /// hash must chain from the predecessor's, or `chain_broken` is raised and nothing
    /// from it on is stored. The clock offset is kept on the agent; crossing
    /// [`MAX_CLOCK_OFFSET_MS`] raises `clock_offset` (once, not at every sync).
    ///
    /// Decided record by record, written by the batch: the stored hashes the checks need
    /// are read in one query, the new events written by multi-row `INSERT`s (see
    /// [`super::batch`]) and appended to the audit chain together.
    #[tracing::instrument(skip_all)]
    pub async fn ingest_events(
        &self,
        agent_id: Uuid,
        records: &[UploadRecord],
        clock_offset_ms: i64,
    ) -> Result<IngestOutcome, StoreError> {
        let received_at = now();
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
                chained.push(
                    Db::from(&mut *tx)
                        .insert_agent_alarm(agent_id, AlarmKind::ClockOffset, detail)
                        .await?,
                );
            }
            // The stored hash of every number the loop asks about (each record's own and
            // its predecessor's), read at once; the records stored here are added as they
            // are, so each lookup sees what the table would hold at that point.
            let mut wanted: Vec<i64> = records
                .iter()
                .filter_map(|r| i64::try_from(r.seq).ok())
                .flat_map(|seq| [seq - 1, seq])
                .collect();
            wanted.sort_unstable();
            wanted.dedup();
            let mut hashes = Db::from(&mut *tx).stored_hashes(agent_id, &wanted).await?;
            // This upload's new rows, written together (before the rare query that reads
            // the table, and at the end); their ids by seq for a release naming one.
            let mut pending: Vec<EventRow> = Vec::new();
            let mut ids: HashMap<i64, Uuid> = HashMap::new();
            let mut previous: Option<(u64, [u8; 32])> = None;
            // Each door's zone, read once per upload (an upload is one agent's doors).
            let mut door_zones = DoorZones::default();
            for record in records {
                let Ok(seq) = i64::try_from(record.seq) else {
                    break;
                };
                if let Some(hash) = hashes.get(&seq) {
                    if *hash != record.hash {
                        let detail = format!("seq {seq} is stored already with another hash");
                        chained.push(
                            Db::from(&mut *tx)
                                .insert_agent_alarm(agent_id, AlarmKind::SeqConflict, detail)
                                .await?,
                        );
                        break;
                    }
                    outcome.duplicates += 1;
                } else {
                    let before = match previous {
                        Some((p, hash)) if p + 1 == record.seq => Some(hash),
                        _ if seq == 1 => Some(GENESIS_HASH),
                        _ => hashes
                            .get(&(seq - 1))
                            .and_then(|h| <[u8; 32]>::try_from(h.as_slice()).ok()),
                    };
                    match before {
                        None => {
                            Db::from(&mut *tx).insert_events(&pending).await?;
                            pending.clear();
                            let stored_below = sqlx::query_scalar::<_, Option<i64>>(
                                "SELECT MAX(seq) FROM access_events \
                                 WHERE agent_id = $1 AND seq < $2",
                            )
                            .bind(agent_id)
                            .bind(seq)
                            .fetch_one(&mut *tx)
                            .await?
                            .unwrap_or(0);
                            let batch_below =
                                previous.map_or(0, |(p, _)| i64::try_from(p).unwrap_or(0));
                            let first = stored_below.max(batch_below) + 1;
                            let detail = missing(first, seq - 1);
                            chained.push(
                                Db::from(&mut *tx)
                                    .insert_agent_alarm(agent_id, AlarmKind::JournalGap, detail)
                                    .await?,
                            );
                        }
                        Some(before)
                            if chain_hash(&before, record.seq, &record.payload) != record.hash =>
                        {
                            let detail = format!("seq {seq} does not chain from seq {}", seq - 1);
                            chained.push(
                                Db::from(&mut *tx)
                                    .insert_agent_alarm(agent_id, AlarmKind::ChainBroken, detail)
                                    .await?,
                            );
                            break;
                        }
                        Some(_) => {}
                    }
                    let mut row = event_row(agent_id, record, received_at);
                    if let EventKind::ReleasedEntry(r) = &record.event.kind {
                        // The releasing presentation precedes it in the journal: stored
                        // already, or earlier in this upload.
                        let by_seq = i64::try_from(r.release_of).unwrap_or(i64::MAX);
                        row.release_of = match ids.get(&by_seq) {
                            Some(id) => Some(*id),
                            None => Db::from(&mut *tx).event_id(agent_id, by_seq).await?,
                        };
                    }
                    row.zone_id = door_zones
                        .zone_of(Db::from(&mut *tx), row.door_id, row.zone_id)
                        .await?;
                    passages.extend(Passage::of(&row, chained.len()));
                    chained.push((Source::Event, row.id, row.digest()));
                    hashes.insert(seq, row.hash.clone());
                    ids.insert(seq, row.id);
                    pending.push(row);
                    outcome.stored += 1;
                }
                previous = Some((record.seq, record.hash));
                outcome.acked_through = Some(record.seq);
            }
            Db::from(&mut *tx).insert_events(&pending).await?;
            Db::from(&mut *tx)
                .raise_ingest_alarms(&mut chained, agent_id, records)
                .await?;
            // Passages after chaining: their revisions are their events' chain seqs.
            if let Some(first_seq) = Db::from(&mut *tx).chain_records(&chained).await? {
                Db::from(&mut *tx)
                    .record_passages(&passages, first_seq)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(outcome)
    }
}

impl Db<'_> {
    /// The id of an agent's stored record `seq`, if stored.
    pub(crate) async fn event_id(
        self,
        agent_id: Uuid,
        seq: i64,
    ) -> Result<Option<Uuid>, StoreError> {
        let sql = "SELECT id FROM access_events WHERE agent_id = $1 AND seq = $2";
        Ok(on!(self, |c| {
            sqlx::query_scalar::<_, Uuid>(sql)
                .bind(agent_id)
                .bind(seq)
                .fetch_optional(c)
                .await?
        }))
    }
}

/// The zone each door leads into, read once per upload (an upload is one agent's doors).
#[derive(Default)]
struct DoorZones(HashMap<Uuid, Option<Uuid>>);

impl DoorZones {
    /// The zone a presentation the agent put in `zone_id` at `door_id` is stored with:
    /// the zone the server's own door leads into, whatever the agent named (its decision
    /// names exactly that zone, so an honest agent's is unchanged; a forged upload
    /// naming another site's vault is not believed), or none for a door the server does
    /// not know. A presentation the agent decided without a zone keeps none.
    async fn zone_of(
        &mut self,
        db: Db<'_>,
        door_id: Option<Uuid>,
        zone_id: Option<Uuid>,
    ) -> Result<Option<Uuid>, StoreError> {
        let (Some(door_id), Some(_)) = (door_id, zone_id) else {
            return Ok(None);
        };
        if let Some(zone) = self.0.get(&door_id) {
            return Ok(*zone);
        }
        let sql = "SELECT to_zone_id FROM doors WHERE id = $1";
        let zone = on!(db, |c| {
            sqlx::query_scalar::<_, Uuid>(sql)
                .bind(door_id)
                .fetch_optional(c)
                .await?
        });
        self.0.insert(door_id, zone);
        Ok(zone)
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
        kind: <&str>::from(&record.event.kind).to_owned(),
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
        trace: None,
    };
    match &record.event.kind {
        EventKind::Presentation(p) => {
            row.reader = Some(p.reader.clone());
            row.direction = Some(p.direction.as_ref().to_owned());
            row.card = Some(p.card.clone());
            row.outcome = Some(p.outcome.as_ref().to_owned());
            row.reason = Some(p.reason.as_ref().to_owned());
            row.person_id = p.person_id;
            row.visit_id = p.visit_id;
            row.credential_id = p.credential_id;
            row.zone_id = p.zone_id;
            // A version beyond i64 cannot come from this server: left out, kept in the payload.
            row.policy_version = i64::try_from(p.policy_version).ok();
            // Kept as the agent sent it, the rules the door held at the time; an agent
            // that sent none (older) leaves it out.
            row.trace = p.trace.as_ref().and_then(|t| serde_json::to_string(t).ok());
        }
        // A waiting holder's entry, released by another's presentation: a granted entry
        // (their passage) naming who released it; `release_of` is resolved by ingest.
        EventKind::ReleasedEntry(r) => {
            row.reader = Some(r.reader.clone());
            row.direction = Some(Direction::Entry.as_ref().to_owned());
            row.card = r.card.clone();
            row.outcome = Some(Outcome::Granted.as_ref().to_owned());
            row.reason = Some(Reason::Granted.as_ref().to_owned());
            row.person_id = r.person_id;
            row.visit_id = r.visit_id;
            row.credential_id = Some(r.credential_id);
            row.zone_id = r.zone_id;
            row.policy_version = i64::try_from(r.policy_version).ok();
            row.released_by = Some(r.released_by);
        }
        EventKind::ReaderError { reader, .. } => row.reader = Some(reader.clone()),
        // An operator's remote command: what was done and by whom, in `reason` (the
        // payload holds the command and operator ids).
        EventKind::RemoteCommand(c) => {
            let action = gatehouse_core::protocol::CommandAction::from(c.action.clone());
            row.reason = Some(format!("{} by {}", action.describe(), c.operator));
        }
        _ => {}
    }
    row
}
