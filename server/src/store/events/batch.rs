//! The statements of an upload made per batch instead of per record: the stored hashes
//! of the numbers it touches read in one query, and its new events written by multi-row
//! `INSERT`s. An upload of 1,000 records is a handful of statements, not thousands (on
//! PostgreSQL each one a round trip).

use crate::audit::records::EventRow;
use crate::store::conn::Either;
use crate::store::people_common::MAX_BINDS;
use crate::store::{Db, StoreError, on};
use std::collections::HashMap;
use uuid::Uuid;

/// The columns [`Db::insert_events`] writes per row.
const EVENT_COLUMNS: usize = 22;

/// Rows per SQLite `INSERT`: measured with the audit_trail bench (BENCHMARKS.md, "Large
/// sites"), 200 ingested fastest (1: 7k events/s, 10: 11k, 50: 13k, 200: 15-19k, 500:
/// 16k, 1,000 in one: 12k). PostgreSQL's rate is the same at 500 as at 1,363 rows.
const SQLITE_ROWS_PER_INSERT: usize = 200;

/// Rows per multi-row statement of `columns` binds each on `db`'s backend: on PostgreSQL
/// as many as the bind limit allows (each statement a round trip), on SQLite
/// [`SQLITE_ROWS_PER_INSERT`].
pub(crate) fn rows_per_insert(db: &Db<'_>, columns: usize) -> usize {
    match db {
        Either::Sqlite(_) => SQLITE_ROWS_PER_INSERT,
        Either::Postgres(_) => MAX_BINDS / columns.max(1),
    }
}

impl Db<'_> {
    /// The stored hashes of the agent's records numbered `seqs` (ascending, no repeats),
    /// in one query (more only beyond the bind limit). A run of numbers with few holes is
    /// read as a range; scattered numbers by list, so a far-off number never reads the
    /// records between.
    pub(super) async fn stored_hashes(
        self,
        agent_id: Uuid,
        seqs: &[i64],
    ) -> Result<HashMap<i64, Vec<u8>>, StoreError> {
        let mut hashes = HashMap::with_capacity(seqs.len());
        let (Some(&first), Some(&last)) = (seqs.first(), seqs.last()) else {
            return Ok(hashes);
        };
        let span = u64::try_from(last.saturating_sub(first)).unwrap_or(u64::MAX);
        let dense = span < 2 * seqs.len() as u64;
        on!(self, |c| {
            if dense {
                let rows = sqlx::query_as::<_, (i64, Vec<u8>)>(
                    "SELECT seq, hash FROM access_events \
                     WHERE agent_id = $1 AND seq >= $2 AND seq <= $3",
                )
                .bind(agent_id)
                .bind(first)
                .bind(last)
                .fetch_all(&mut *c)
                .await?;
                hashes.extend(rows);
            } else {
                for chunk in seqs.chunks(MAX_BINDS - 1) {
                    let mut query = sqlx::QueryBuilder::new(
                        "SELECT seq, hash FROM access_events WHERE agent_id = ",
                    );
                    query.push_bind(agent_id).push(" AND seq IN (");
                    let mut list = query.separated(", ");
                    for seq in chunk {
                        list.push_bind(*seq);
                    }
                    query.push(")");
                    let rows = query
                        .build_query_as::<(i64, Vec<u8>)>()
                        .fetch_all(&mut *c)
                        .await?;
                    hashes.extend(rows);
                }
            }
        });
        Ok(hashes)
    }

    /// Inserts `rows` into `access_events`, several to a statement (cut by the bind limit
    /// on PostgreSQL, by [`SQLITE_ROWS_PER_INSERT`] on SQLite).
    pub(super) async fn insert_events(self, rows: &[EventRow]) -> Result<(), StoreError> {
        let per_insert = rows_per_insert(&self, EVENT_COLUMNS);
        on!(self, |c| {
            for chunk in rows.chunks(per_insert) {
                let mut query = sqlx::QueryBuilder::new(
                    "INSERT INTO access_events (id, agent_id, seq, hash, payload, occurred_at, \
                     received_at, door_id, kind, reader, direction, card, outcome, reason, \
                     person_id, visit_id, credential_id, zone_id, policy_version, \
                     released_by, release_of, trace) ",
                );
                query.push_values(chunk, |mut b, row| {
                    b.push_bind(row.id)
                        .push_bind(row.agent_id)
                        .push_bind(row.seq)
                        .push_bind(&row.hash)
                        .push_bind(&row.payload)
                        .push_bind(row.occurred_at)
                        .push_bind(row.received_at)
                        .push_bind(row.door_id)
                        .push_bind(&row.kind)
                        .push_bind(&row.reader)
                        .push_bind(&row.direction)
                        .push_bind(&row.card)
                        .push_bind(&row.outcome)
                        .push_bind(&row.reason)
                        .push_bind(row.person_id)
                        .push_bind(row.visit_id)
                        .push_bind(row.credential_id)
                        .push_bind(row.zone_id)
                        .push_bind(row.policy_version)
                        .push_bind(row.released_by)
                        .push_bind(row.release_of)
                        .push_bind(&row.trace);
                });
                query.build().execute(&mut *c).await?;
            }
        });
        Ok(())
    }
}
