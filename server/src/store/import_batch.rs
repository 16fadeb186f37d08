//! Import batches: how a large import is written without holding a write lock for long
//! ([`crate::store::import`] decides what to write; this module writes it).
//!
//! A batch is one attempt at an import. Its id is in `import_pending` while it is being
//! written, and every row it writes (people, vetting records, credentials, operator-log
//! entries) carries it in `import_batch`. Readers read the `visible_*` views, which leave
//! out rows of pending batches, so the rows are written in short transactions that
//! commit on their own ([`Store::write_import_chunk`]) and nobody sees them until
//! [`Store::publish_import`] deletes the batch's `import_pending` row, in one short
//! transaction with the few changes to existing rows, the policy version and the audit
//! chain. A batch that fails, or whose server died, is swept ([`Store::sweep_import`]):
//! its rows deleted, then its `import_pending` row, so nothing of it is ever visible.
//!
//! The batch's operator-log entries are listed, with their digests, in
//! `audit_import_members` as they are written; the chain gets one entry for the whole
//! batch, the import's summary entry (`person.import`, whose id is the batch's), whose
//! digest commits to that list ([`crate::audit::batch_digest`]).

use super::conn::{Either, Tx};
use super::credentials::WithPin;
use super::people::PersonRecord;
use super::vetting::VettingRecord;
use super::{CredentialRecord, DatabaseKind, Store, StoreError, now, on};
use crate::audit::records::{OperatorRow, Source};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Rows deleted per statement (and transaction) when sweeping a batch.
const SWEEP_ROWS: i64 = 5_000;

/// Deleting up to `$2` rows of batch `$1`, table by table: the members (listed under the
/// batch's id, which is its summary entry's), then rows that refer to people before the
/// people.
const SWEEP: [&str; 5] = [
    "DELETE FROM audit_import_members WHERE batch = $1 AND pos IN \
     (SELECT pos FROM audit_import_members WHERE batch = $1 LIMIT $2)",
    "DELETE FROM operator_log WHERE id IN \
     (SELECT id FROM operator_log WHERE import_batch = $1 LIMIT $2)",
    "DELETE FROM credentials WHERE id IN \
     (SELECT id FROM credentials WHERE import_batch = $1 LIMIT $2)",
    "DELETE FROM vetting_records WHERE id IN \
     (SELECT id FROM vetting_records WHERE import_batch = $1 LIMIT $2)",
    // Only people whose cards and vetting are gone: a step deletes some of each table,
    // not necessarily the same people's.
    "DELETE FROM people WHERE id IN (SELECT id FROM people p WHERE import_batch = $1 \
     AND NOT EXISTS (SELECT 1 FROM credentials c WHERE c.person_id = p.id) \
     AND NOT EXISTS (SELECT 1 FROM vetting_records v WHERE v.person_id = p.id) LIMIT $2)",
];

/// What one chunk of a batch writes.
pub(crate) struct Chunk<'a> {
    pub people: Vec<&'a PersonRecord>,
    pub vetting: Vec<&'a VettingRecord>,
    pub credentials: Vec<WithPin<'a>>,
    pub log: Vec<OperatorRow>,
    /// The digest of each of `log`.
    pub digests: Vec<[u8; 32]>,
    /// The position in the batch of the first of `log`.
    pub first_pos: i64,
}

/// What publishing a batch changes besides making its rows visible.
pub(crate) struct Publish<'a> {
    /// The policy version the plan was made on, when the plan changes existing rows
    /// (which must not have changed since).
    pub expect_version: Option<i64>,
    pub people: Vec<&'a PersonRecord>,
    pub credentials: Vec<&'a CredentialRecord>,
    /// People whose groups the file sets, with all their groups (the `groups` column).
    pub memberships: Vec<(Uuid, &'a [Uuid])>,
    pub bump_policy: bool,
    /// The import's summary entry (its id is the batch's), chained with the members.
    pub entry: OperatorRow,
    /// The members' running hash and count.
    pub members: ([u8; 32], i64),
}

/// Why a batch was not published.
pub(crate) enum NotPublished {
    /// People or cards changed since the plan: plan again.
    Changed,
    /// The batch was swept meanwhile (taken for abandoned).
    Swept,
}

impl Store {
    /// Starts batch `batch`: its rows are invisible from now until it is published.
    pub(crate) async fn begin_import(&self, batch: Uuid) -> Result<(), StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query("INSERT INTO import_pending (batch, updated_at) VALUES ($1, $2)")
                .bind(batch)
                .bind(now())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Writes `chunk` of batch `batch` in a transaction of its own; how long the write
    /// lock was held. Fails as [`StoreError::Rejected`] when the batch was swept.
    pub(crate) async fn write_import_chunk(
        &self,
        batch: Uuid,
        chunk: &Chunk<'_>,
    ) -> Result<std::time::Duration, StoreError> {
        let mut tx = self.write().await?;
        let locked = std::time::Instant::now();
        match write_chunk(&mut tx, batch, chunk).await {
            Ok(()) => tx.commit().await?,
            Err(error) => {
                // At once: on PostgreSQL a dropped transaction keeps its locks (the
                // batch's row among them, which the sweep then waits for) until its
                // connection is used again.
                on!(tx, |tx| tx.rollback().await?);
                return Err(error);
            }
        }
        Ok(locked.elapsed())
    }

    /// Publishes batch `batch` in one short transaction: its rows become visible, the
    /// changes to existing rows are written, the policy version bumped and the batch
    /// chained. Returns the policy version after it.
    pub(crate) async fn publish_import(
        &self,
        batch: Uuid,
        publish: Publish<'_>,
    ) -> Result<Result<i64, NotPublished>, StoreError> {
        let mut tx = self.write().await?;
        let read_version = match tx.kind() {
            DatabaseKind::Postgres => "SELECT version FROM policy_state WHERE id = 1 FOR UPDATE",
            DatabaseKind::Sqlite => "SELECT version FROM policy_state WHERE id = 1",
        };
        let locked = std::time::Instant::now();
        let version = on!(tx.db(), |c| {
            sqlx::query_scalar::<_, i64>(read_version)
                .fetch_one(c)
                .await?
        });
        if publish.expect_version.is_some_and(|v| v != version) {
            on!(tx, |tx| tx.rollback().await?);
            return Ok(Err(NotPublished::Changed));
        }
        let version = match publish_rows(&mut tx, batch, &publish).await {
            Ok(Some(version)) => version,
            outcome => {
                // At once, for the reason told in `write_import_chunk`.
                on!(tx, |tx| tx.rollback().await?);
                return match outcome {
                    Err(error) => Err(error),
                    _ => Ok(Err(NotPublished::Swept)),
                };
            }
        };
        tx.commit().await?;
        tracing::info!(
            held_ms = locked.elapsed().as_millis() as u64,
            updated = publish.people.len() + publish.credentials.len(),
            "import published"
        );
        self.vacuum_policy_changes().await;
        Ok(Ok(version))
    }

    /// On PostgreSQL, clears the dead rows the publish's stamp of the change log left
    /// (each of the import's rows there was updated from no version to the new one).
    /// Until autovacuum came by, every reader of unstamped changes (`version IS NULL`,
    /// a bitmap index scan that never skips dead entries) walked them all: a revocation
    /// after importing 250,000 people took 0.9 s to reach an agent instead of 20 ms.
    /// The import is committed: a failure here is only logged.
    async fn vacuum_policy_changes(&self) {
        let Either::Postgres(pool) = self.pool() else {
            return;
        };
        if let Err(error) = sqlx::query("VACUUM (ANALYZE) policy_changes")
            .execute(pool)
            .await
        {
            tracing::warn!(%error, "vacuuming the policy change log after an import");
        }
    }

    /// Deletes every row of batch `batch`, then the batch, in short transactions. Never
    /// publishes any of it: the rows stay invisible until the last one is gone.
    #[tracing::instrument(skip_all, fields(%batch))]
    pub async fn sweep_import(&self, batch: Uuid) -> Result<u64, StoreError> {
        let mut removed = 0;
        loop {
            let (count, done) = self.sweep_step(batch, false).await?;
            removed += count;
            if done {
                break;
            }
        }
        // Last, under the batch's row lock, so that a chunk committing meanwhile cannot
        // leave rows behind a batch that is no longer pending (they would be visible).
        removed += self.sweep_step(batch, true).await?.0;
        Ok(removed)
    }

    /// Deletes up to [`SWEEP_ROWS`] rows of each table of `batch` in one transaction
    /// (all of them, and the batch itself, when `finish`): how many, and whether none
    /// were left.
    async fn sweep_step(&self, batch: Uuid, finish: bool) -> Result<(u64, bool), StoreError> {
        let mut tx = self.write().await?;
        let lock = match tx.kind() {
            DatabaseKind::Postgres => {
                "SELECT batch FROM import_pending WHERE batch = $1 FOR UPDATE"
            }
            DatabaseKind::Sqlite => "SELECT batch FROM import_pending WHERE batch = $1",
        };
        let pending = on!(tx.db(), |c| {
            sqlx::query(lock)
                .bind(batch)
                .fetch_optional(c)
                .await?
                .is_some()
        });
        if !pending {
            on!(tx, |tx| tx.rollback().await?);
            return Ok((0, true));
        }
        let limit = if finish { i64::MAX } else { SWEEP_ROWS };
        let mut removed = 0;
        for sql in SWEEP {
            removed += on!(tx.db(), |c| {
                sqlx::query(sql)
                    .bind(batch)
                    .bind(limit)
                    .execute(c)
                    .await?
                    .rows_affected()
            });
        }
        if finish {
            on!(tx.db(), |c| {
                sqlx::query("DELETE FROM import_pending WHERE batch = $1")
                    .bind(batch)
                    .execute(c)
                    .await?;
            });
        }
        tx.commit().await?;
        Ok((removed, removed == 0))
    }

    /// Sweeps the batches not written since `silent_since` (all pending batches when
    /// `None`: at start, on SQLite, where this server is the only writer): those of
    /// imports whose server stopped or died. How many batches were swept.
    #[tracing::instrument(skip_all)]
    pub async fn sweep_abandoned_imports(
        &self,
        silent_since: Option<DateTime<Utc>>,
    ) -> Result<u64, StoreError> {
        let batches: Vec<Uuid> = on!(self.pool(), |pool| {
            sqlx::query_scalar(
                "SELECT batch FROM import_pending WHERE $1 IS NULL OR updated_at < $1",
            )
            .bind(silent_since)
            .fetch_all(pool)
            .await?
        });
        for batch in &batches {
            let rows = self.sweep_import(*batch).await?;
            tracing::warn!(%batch, rows, "swept the rows of an abandoned import");
        }
        Ok(batches.len() as u64)
    }
}

/// The statements of [`Store::write_import_chunk`], in its transaction.
async fn write_chunk(tx: &mut Tx, batch: Uuid, chunk: &Chunk<'_>) -> Result<(), StoreError> {
    // The batch's row first: on PostgreSQL its lock orders this chunk against a sweep.
    let alive = on!(tx.db(), |c| {
        sqlx::query("UPDATE import_pending SET updated_at = $2 WHERE batch = $1")
            .bind(batch)
            .bind(now())
            .execute(c)
            .await?
            .rows_affected()
    });
    if alive == 0 {
        return Err(StoreError::Rejected(
            "the import was taken for abandoned and removed; nothing was imported",
        ));
    }
    tx.db().insert_people(&chunk.people, Some(batch)).await?;
    tx.db().insert_vetting(&chunk.vetting, Some(batch)).await?;
    tx.db()
        .insert_credentials(&chunk.credentials, Some(batch))
        .await?;
    tx.db().insert_logs(&chunk.log, Some(batch)).await?;
    let members: Vec<_> = chunk.log.iter().zip(&chunk.digests).collect();
    for (offset, rows) in members.chunks(1_000).enumerate() {
        let first = chunk.first_pos + (offset * 1_000) as i64;
        on!(tx.db(), |c| {
            let mut query = sqlx::QueryBuilder::new(
                "INSERT INTO audit_import_members (batch, pos, record_id, digest) ",
            );
            query.push_values(
                rows.iter().zip(first..),
                |mut row, ((entry, digest), pos)| {
                    row.push_bind(batch)
                        .push_bind(pos)
                        .push_bind(entry.id)
                        .push_bind(digest.to_vec());
                },
            );
            query.build().execute(c).await?;
        });
    }
    Ok(())
}

/// The statements of [`Store::publish_import`] after the version check: the policy
/// version after them, or `None` when the batch is no longer pending.
async fn publish_rows(
    tx: &mut Tx,
    batch: Uuid,
    publish: &Publish<'_>,
) -> Result<Option<i64>, StoreError> {
    let published = on!(tx.db(), |c| {
        sqlx::query("DELETE FROM import_pending WHERE batch = $1")
            .bind(batch)
            .execute(c)
            .await?
            .rows_affected()
    });
    if published == 0 {
        return Ok(None);
    }
    for person in &publish.people {
        tx.db().update_person_row(person).await?;
    }
    for after in &publish.credentials {
        on!(tx.db(), |c| {
            sqlx::query(
                "UPDATE credentials SET valid_from = $2, valid_until = $3, \
                 updated_at = $4 WHERE id = $1",
            )
            .bind(after.id)
            .bind(after.valid_from)
            .bind(after.valid_until)
            .bind(after.updated_at)
            .execute(c)
            .await?;
        });
    }
    for (person_id, groups) in &publish.memberships {
        on!(tx.db(), |c| {
            sqlx::query("DELETE FROM group_members WHERE person_id = $1")
                .bind(person_id)
                .execute(&mut *c)
                .await?;
            for group_id in *groups {
                sqlx::query("INSERT INTO group_members (group_id, person_id) VALUES ($1, $2)")
                    .bind(group_id)
                    .bind(person_id)
                    .execute(&mut *c)
                    .await?;
            }
        });
    }
    if publish.bump_policy {
        tx.db().bump_policy_version().await?;
    }
    let version = tx.db().policy_version().await?;
    let entry = &publish.entry;
    tx.db()
        .insert_logs(std::slice::from_ref(entry), None)
        .await?;
    let (members, count) = publish.members;
    let digest = crate::audit::batch_digest(&entry.digest(), &members, count);
    tx.db()
        .chain_records(&[(Source::Operator, entry.id, digest)])
        .await?;
    Ok(Some(version))
}
