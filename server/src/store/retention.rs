//! Retention of visitors' personal data: visits whose window ended before a cutoff lose
//! the visitor's name and organisation, and the operator log entries about them lose
//! their before/after (keeping the salted hash the audit chain commits to, so the chain
//! still verifies). Door events name visits by id only and are kept whole.

use super::operator_log::{Actor, NewLogEntry};
use super::{Db, Store, StoreError, now, on};
use crate::audit::records::OperatorRow;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// What a visitor's name reads after the purge.
pub const PURGED_NAME: &str = "(purged)";
/// Visits purged per transaction, so a first run on a large backlog commits as it goes.
const BATCH: i64 = 200;

/// What one purge removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PurgeSummary {
    pub visits: u64,
    pub log_entries: u64,
}

impl Store {
    /// Purges the personal data of every visit whose window ended before `cutoff`, and
    /// records the purge (with its counts) in the operator log when it removed anything.
    #[tracing::instrument(skip_all)]
    pub async fn purge_visitor_data(
        &self,
        cutoff: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<PurgeSummary, StoreError> {
        let mut total = PurgeSummary::default();
        loop {
            let batch = self.purge_batch(cutoff, actor).await?;
            total.visits += batch.visits;
            total.log_entries += batch.log_entries;
            if batch.visits < BATCH as u64 {
                return Ok(total);
            }
        }
    }

    async fn purge_batch(
        &self,
        cutoff: DateTime<Utc>,
        actor: &Actor,
    ) -> Result<PurgeSummary, StoreError> {
        let mut summary = PurgeSummary::default();
        let at = now();
        on!(self.write().await?, |mut tx| {
            let visits = sqlx::query_scalar::<_, Uuid>(
                "SELECT id FROM visits WHERE window_end < $1 AND purged_at IS NULL \
                 ORDER BY window_end LIMIT $2",
            )
            .bind(cutoff)
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
            for visit in &visits {
                sqlx::query(
                    "UPDATE visits SET visitor_name = $2, visitor_organisation = NULL, \
                     purged_at = $3, updated_at = $3 WHERE id = $1 AND purged_at IS NULL",
                )
                .bind(visit)
                .bind(PURGED_NAME)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                // The visitor's details go with the last of their visits to be purged.
                sqlx::query(
                    "UPDATE visitors SET name = $2, organisation = NULL, email = NULL, \
                     phone = NULL, date_of_birth = NULL, id_document_type = NULL, \
                     id_document_last_digits = NULL, photo = NULL, photo_type = NULL, \
                     purged_at = $3, updated_at = $3 \
                     WHERE id = (SELECT visitor_id FROM visits WHERE id = $1) \
                     AND purged_at IS NULL AND NOT EXISTS (SELECT 1 FROM visits o \
                     WHERE o.visitor_id = visitors.id AND o.purged_at IS NULL)",
                )
                .bind(visit)
                .bind(PURGED_NAME)
                .bind(at)
                .execute(&mut *tx)
                .await?;
                Db::from(&mut *tx)
                    .purge_document_signatures(*visit, at)
                    .await?;
                Db::from(&mut *tx).purge_screenings(*visit).await?;
                let entries = sqlx::query_as::<_, OperatorRow>(
                    "SELECT id, at, actor_id, actor, action, target_type, target_id, before, \
                     after, request_id, detail_salt, detail_hash FROM operator_log \
                     WHERE target_type = 'visit' AND target_id = $1 AND detail_salt IS NOT NULL",
                )
                .bind(visit.to_string())
                .fetch_all(&mut *tx)
                .await?;
                for entry in &entries {
                    sqlx::query(
                        "UPDATE operator_log SET before = NULL, after = NULL, detail_salt = NULL, \
                         detail_hash = $2 WHERE id = $1 AND detail_salt IS NOT NULL",
                    )
                    .bind(entry.id)
                    .bind(entry.detail_hash())
                    .execute(&mut *tx)
                    .await?;
                }
                summary.visits += 1;
                summary.log_entries += entries.len() as u64;
            }
            Db::from(&mut *tx)
                .purge_notifications(&visits, cutoff, at)
                .await?;
            if summary.visits > 0 {
                let details = serde_json::json!({"cutoff": cutoff, "summary": summary});
                let entry = NewLogEntry::new(
                    actor,
                    "retention.purge",
                    "retention",
                    "visitors",
                    None,
                    Some(&details),
                );
                Db::from(&mut *tx).insert_log(&entry).await?;
            }
            tx.commit().await?;
        });
        Ok(summary)
    }
}
