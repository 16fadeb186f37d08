//! The retention job: once an hour (and at start), purge the personal data of visits that
//! ended more than `retention.visitor_personal_data_days` ago (see `Store::purge_visitor_data`),
//! and the policy change log of all but the last [`POLICY_CHANGES_KEPT`] versions.

use crate::store::{Actor, PurgeSummary, Store, StoreError};
use chrono::Utc;
use std::time::Duration;

/// How long visitors' personal data is kept (`[retention]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetentionSettings {
    /// Days after a visit's window ends before the visitor's name and organisation, and
    /// the operator log's before/after about the visit, are purged (1 to 3650).
    pub visitor_personal_data_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            visitor_personal_data_days: 90,
        }
    }
}

/// Versions of the policy change log kept: an agent (or a server) further behind
/// fetches a whole snapshot (compiles in full) instead of the changes.
pub const POLICY_CHANGES_KEPT: i64 = 1_000;

/// Purges what is due now.
pub async fn purge_due(
    store: &Store,
    settings: RetentionSettings,
) -> Result<PurgeSummary, StoreError> {
    let cutoff =
        Utc::now() - chrono::Duration::days(i64::from(settings.visitor_personal_data_days));
    store.purge_visitor_data(cutoff, &Actor::system()).await
}

/// Runs [`purge_due`] at start and every hour, until the task is dropped.
pub async fn run(store: Store, settings: RetentionSettings) {
    loop {
        match purge_due(&store, settings).await {
            Ok(summary) if summary.visits > 0 => {
                tracing::info!(
                    visits = summary.visits,
                    log_entries = summary.log_entries,
                    "purged visitors' personal data"
                );
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "could not purge visitors' personal data"),
        }
        if let Err(error) = store.prune_policy_changes(POLICY_CHANGES_KEPT).await {
            tracing::warn!(%error, "could not prune the policy change log");
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}
