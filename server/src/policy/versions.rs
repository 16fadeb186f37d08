//! The policy version as this server last saw it, for the agents' policy long-polls to
//! wait on together: one task per server reads the version when it may have changed and
//! wakes every waiting request at once, instead of each request re-reading the database
//! on a timer (a revocation then reaches a waiting agent as soon as it commits, and a
//! thousand waiting agents cost one query, not thousands).
//!
//! On PostgreSQL every transaction that bumps the version also sends a notification on
//! [`CHANNEL`], delivered when it commits, to every replica. The task that listens is
//! the one that follows every agent feed (`crate::feeds`, which says how it reads on
//! each database); this is its policy side.

use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

use crate::feeds::Feeds;
use crate::store::Store;

/// The PostgreSQL notification channel of policy changes.
pub const CHANNEL: &str = "gatehouse_policy";

/// The last version seen; cloned into every waiting request.
#[derive(Clone)]
pub struct PolicyVersions {
    seen: watch::Receiver<i64>,
}

impl PolicyVersions {
    /// Reads the version now and starts the task that follows it (see [`Feeds::start`]).
    pub async fn start(store: Store) -> anyhow::Result<PolicyVersions> {
        Ok(Feeds::start(store).await?.policy_versions())
    }

    /// [`Self::start`], reading the version every `postgres_every` besides the
    /// notifications on PostgreSQL (tests make it long to prove the notifications work).
    pub async fn start_with(
        store: Store,
        postgres_every: Duration,
    ) -> anyhow::Result<PolicyVersions> {
        Ok(Feeds::start_with(store, postgres_every)
            .await?
            .policy_versions())
    }

    /// The versions a feeds task follows.
    pub(crate) fn new(seen: watch::Receiver<i64>) -> PolicyVersions {
        PolicyVersions { seen }
    }

    /// Waits until a version above `have` is seen or `deadline` passes: whether one was.
    pub async fn wait_above(&self, have: i64, deadline: Instant) -> bool {
        let mut seen = self.seen.clone();
        let above = seen.wait_for(|version| *version > have);
        matches!(tokio::time::timeout_at(deadline, above).await, Ok(Ok(_)))
    }
}
