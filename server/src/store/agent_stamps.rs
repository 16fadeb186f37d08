//! Agents' last-seen stamps, written in batches. Every agent call stamps its agent; one
//! transaction each made the calls queue behind each other on SQLite (fsynced, through
//! the write gate: 1,000 agents re-polling after a revocation queued about two seconds
//! of them) and on PostgreSQL held a pooled connection through a WAL flush each
//! (BENCHMARKS.md, "1,000 agents"). A caller's stamp joins the next
//! batch; one caller at a time writes a batch, in one transaction, and everyone whose
//! stamp it held returns when it commits (a group commit). So a stamp is stored when
//! the call that made it goes on, as before, but 1,000 stamps cost a few transactions.

use super::{Store, StoreError, on};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use uuid::Uuid;

/// Stamps waiting for a batch, and the batches written.
#[derive(Default)]
pub(crate) struct AgentStamps {
    state: Mutex<State>,
    /// Held by the one caller writing a batch.
    writing: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct State {
    pending: HashMap<Uuid, DateTime<Utc>>,
    /// The batch pending stamps will be written in.
    next: u64,
    /// The last batch written.
    written: u64,
}

impl AgentStamps {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        // Plain data, never left half-changed: carry on after a panic elsewhere.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Store {
    /// Stamps `agent` seen at `at`, in the next batch; returns once that batch is
    /// written (by this caller or another).
    pub(super) async fn stamp_agent_seen(
        &self,
        agent: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let stamps = &self.agent_stamps;
        let batch = {
            let mut state = stamps.state();
            let seen = state.pending.entry(agent).or_insert(at);
            *seen = (*seen).max(at);
            state.next + 1
        };
        let _writing = stamps.writing.lock().await;
        let taken = {
            let mut state = stamps.state();
            if state.written >= batch {
                return Ok(());
            }
            state.next += 1;
            std::mem::take(&mut state.pending)
        };
        self.write_stamps(&taken).await?;
        let mut state = stamps.state();
        state.written = state.next;
        Ok(())
    }

    async fn write_stamps(&self, stamps: &HashMap<Uuid, DateTime<Utc>>) -> Result<(), StoreError> {
        if stamps.is_empty() {
            return Ok(());
        }
        on!(self.write().await?, |mut tx| {
            for (agent, at) in stamps {
                sqlx::query(
                    "UPDATE agents SET last_seen_at = $2 WHERE id = $1 \
                     AND (last_seen_at IS NULL OR last_seen_at < $2)",
                )
                .bind(agent)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }
}
