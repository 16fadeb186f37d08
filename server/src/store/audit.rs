//! The audit chain's storage: appending entries in the writer's transaction
//! ([`Db::chain_records`]), checkpoints, and the pages `audit::verify` reads.

use super::{Db, Store, StoreError, now, on};
use crate::audit::records::{AlarmRow, EventRow, OperatorRow, Source};
use crate::store::stored_time::StoredTime;
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// One entry of the chain, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ChainEntry {
    pub seq: i64,
    pub source: String,
    pub record_id: Uuid,
    pub digest: Vec<u8>,
    pub hash: Vec<u8>,
    #[sqlx(try_from = "StoredTime")]
    pub recorded_at: DateTime<Utc>,
}

/// A signed checkpoint: the chain hash at entry `seq`.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Checkpoint {
    pub seq: i64,
    pub hash: Vec<u8>,
    #[sqlx(try_from = "StoredTime")]
    pub signed_at: DateTime<Utc>,
    pub signature: Vec<u8>,
}

/// A whole-trail verification as recorded when it finished.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Verification {
    #[sqlx(try_from = "StoredTime")]
    pub finished_at: DateTime<Utc>,
    pub ok: bool,
    pub records: i64,
    pub checkpoints: i64,
    /// The first problem found, in words.
    pub problem: Option<String>,
}

/// An entry for the chain: which record, its digest.
pub(crate) type ChainItem = (Source, Uuid, [u8; 32]);

impl Db<'_> {
    /// Appends `entries` to the audit chain, in order. Taking the head row first makes
    /// concurrent writers extend the chain one after the other (the row lock on
    /// PostgreSQL, the write lock on SQLite); call it late in the transaction to hold
    /// that briefly. Returns the chain seq of the first entry (`None` when there are
    /// none): numbers given out in commit order, which the presence feed uses as its
    /// revisions.
    pub(crate) async fn chain_records(
        self,
        entries: &[ChainItem],
    ) -> Result<Option<i64>, StoreError> {
        if entries.is_empty() {
            return Ok(None);
        }
        let count = i64::try_from(entries.len()).unwrap_or(i64::MAX);
        // Several rows per statement: a bulk import chains millions, an upload thousands.
        let per_insert = super::events::rows_per_insert(&self, 6);
        let first = on!(self, |c| {
            let (last, head): (i64, Vec<u8>) = sqlx::query_as(
                "UPDATE audit_head SET seq = seq + $1 WHERE id = 1 RETURNING seq, hash",
            )
            .bind(count)
            .fetch_one(&mut *c)
            .await?;
            let first = last - count + 1;
            let recorded_at = now();
            let mut previous = crate::audit::hash32(&head);
            let mut seqs = first..;
            for batch in entries.chunks(per_insert) {
                let mut rows = Vec::with_capacity(batch.len());
                for ((source, record_id, digest), seq) in batch.iter().zip(&mut seqs) {
                    let hash = crate::audit::chain_hash(
                        &previous,
                        seq,
                        *source,
                        *record_id,
                        digest,
                        recorded_at,
                    );
                    rows.push((seq, source.as_ref(), *record_id, *digest, hash));
                    previous = hash;
                }
                let mut query = sqlx::QueryBuilder::new(
                    "INSERT INTO audit_chain (seq, source, record_id, digest, hash, recorded_at) ",
                );
                query.push_values(rows, |mut row, (seq, source, record_id, digest, hash)| {
                    row.push_bind(seq)
                        .push_bind(source)
                        .push_bind(record_id)
                        .push_bind(digest.to_vec())
                        .push_bind(hash.to_vec())
                        .push_bind(recorded_at);
                });
                query.build().execute(&mut *c).await?;
            }
            sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
                .bind(&previous[..])
                .execute(&mut *c)
                .await?;
            first
        });
        Ok(Some(first))
    }
}

impl Store {
    /// Chains the records written before the audit chain existed (a database migrated
    /// from before it), once, while the chain is empty: operator log, then events, then
    /// alarms, each in stored order. Afterwards an unchained record is tampering.
    #[tracing::instrument(skip_all)]
    pub async fn chain_records_older_than_the_chain(&self) -> Result<u64, StoreError> {
        let mut count = 0;
        on!(self.write().await?, |mut tx| {
            let empty = sqlx::query_scalar::<_, i64>(
                "UPDATE audit_head SET seq = seq WHERE id = 1 AND seq = 0 RETURNING seq",
            )
            .fetch_optional(&mut *tx)
            .await?
            .is_some();
            if empty {
                let operators = sqlx::query_as::<_, OperatorRow>(
                    "SELECT id, at, actor_id, actor, action, target_type, target_id, before, \
                     after, request_id, detail_salt, detail_hash FROM operator_log ORDER BY seq",
                )
                .fetch_all(&mut *tx)
                .await?;
                let events = sqlx::query_as::<_, EventRow>(
                    "SELECT id, agent_id, seq, hash, payload, occurred_at, received_at, door_id, \
                     kind, reader, direction, card, outcome, reason, person_id, visit_id, \
                     credential_id, zone_id, policy_version, released_by, release_of, trace \
                     FROM access_events ORDER BY id",
                )
                .fetch_all(&mut *tx)
                .await?;
                let alarms = sqlx::query_as::<_, AlarmRow>(
                    "SELECT id, agent_id, at, kind, detail FROM agent_alarms ORDER BY id",
                )
                .fetch_all(&mut *tx)
                .await?;
                let entries: Vec<(Source, Uuid, [u8; 32])> = operators
                    .iter()
                    .map(|r| (Source::Operator, r.id, r.digest()))
                    .chain(events.iter().map(|r| (Source::Event, r.id, r.digest())))
                    .chain(alarms.iter().map(|r| (Source::Alarm, r.id, r.digest())))
                    .collect();
                count = entries.len() as u64;
                Db::from(&mut *tx).chain_records(&entries).await?;
            }
            tx.commit().await?;
        });
        Ok(count)
    }

    /// The first entry recorded at or after `from` and the last recorded before `to`.
    #[tracing::instrument(skip_all)]
    pub async fn chain_bounds(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Option<(i64, i64)>, StoreError> {
        let (first, last): (Option<i64>, Option<i64>) = on!(self.pool(), |pool| {
            sqlx::query_as(
                "SELECT (SELECT MIN(seq) FROM audit_chain WHERE recorded_at >= $1), \
                 (SELECT MAX(seq) FROM audit_chain WHERE recorded_at < $2)",
            )
            .bind(from)
            .bind(to)
            .fetch_one(pool)
            .await?
        });
        Ok(first.zip(last))
    }

    /// The position and hash of the chain's last entry (0 and zeros when empty).
    #[tracing::instrument(skip_all)]
    pub async fn audit_head(&self) -> Result<(i64, [u8; 32]), StoreError> {
        let (seq, hash): (i64, Vec<u8>) = on!(self.pool(), |pool| {
            sqlx::query_as("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_one(pool)
                .await?
        });
        Ok((seq, crate::audit::hash32(&hash)))
    }

    /// The checkpoint of the highest position, if any.
    #[tracing::instrument(skip_all)]
    pub async fn last_checkpoint(&self) -> Result<Option<Checkpoint>, StoreError> {
        let row = on!(self.pool(), |pool| {
            sqlx::query_as::<_, Checkpoint>(
                "SELECT seq, hash, signed_at, signature FROM audit_checkpoints \
                 ORDER BY seq DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    /// Stores a checkpoint; one for the same position already stored stands.
    #[tracing::instrument(skip_all)]
    pub async fn insert_checkpoint(&self, checkpoint: &Checkpoint) -> Result<(), StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query(
                "INSERT INTO audit_checkpoints (seq, hash, signed_at, signature) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (seq) DO NOTHING",
            )
            .bind(checkpoint.seq)
            .bind(&checkpoint.hash)
            .bind(checkpoint.signed_at)
            .bind(&checkpoint.signature)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Records a finished whole-trail verification.
    #[tracing::instrument(skip_all)]
    pub async fn record_verification(&self, done: &Verification) -> Result<(), StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query(
                "INSERT INTO audit_verifications \
                 (finished_at, ok, records, checkpoints, problem) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(done.finished_at)
            .bind(done.ok)
            .bind(done.records)
            .bind(done.checkpoints)
            .bind(&done.problem)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// The verification that finished last, if any ever did.
    pub async fn last_verification(&self) -> Result<Option<Verification>, StoreError> {
        let row = on!(self.pool(), |pool| {
            sqlx::query_as::<_, Verification>(
                "SELECT finished_at, ok, records, checkpoints, problem \
                 FROM audit_verifications ORDER BY id DESC LIMIT 1",
            )
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }
}
