//! The policy version as this server last saw it, for the agents' policy long-polls to
//! wait on together: one task per server reads the version when it may have changed and
//! wakes every waiting request at once, instead of each request re-reading the database
//! on a timer (a revocation then reaches a waiting agent as soon as it commits, and a
//! thousand waiting agents cost one query, not thousands).
//!
//! On PostgreSQL every transaction that bumps the version also sends a notification on
//! [`CHANNEL`], delivered when it commits, to every replica: the task listens and reads
//! the version when told (and every [`POSTGRES_EVERY`] anyway, for a notification lost
//! while the listening connection was down). On SQLite, whose one file has no way to
//! tell other connections of a commit, the task reads the version every
//! [`SQLITE_EVERY`]: a point read of one row.

use crate::store::{DatabaseKind, Store};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The PostgreSQL notification channel of policy changes.
pub const CHANNEL: &str = "gatehouse_policy";
/// How often the version is read on SQLite.
const SQLITE_EVERY: Duration = Duration::from_millis(20);
/// How often the version is read on PostgreSQL besides the notifications.
const POSTGRES_EVERY: Duration = Duration::from_secs(1);

/// The last version seen; cloned into every waiting request.
#[derive(Clone)]
pub struct PolicyVersions {
    seen: watch::Receiver<i64>,
}

impl PolicyVersions {
    /// Reads the version now and starts the task that follows it (it ends when the last
    /// `PolicyVersions` is dropped, or when the store's pool is closed).
    pub async fn start(store: Store) -> anyhow::Result<PolicyVersions> {
        Self::start_with(store, POSTGRES_EVERY).await
    }

    /// [`Self::start`], reading the version every `postgres_every` besides the
    /// notifications on PostgreSQL (tests make it long to prove the notifications work).
    pub async fn start_with(
        store: Store,
        postgres_every: Duration,
    ) -> anyhow::Result<PolicyVersions> {
        let (tx, seen) = watch::channel(store.policy_version().await?);
        match store.kind() {
            DatabaseKind::Sqlite => tokio::spawn(follow_sqlite(store, tx)),
            DatabaseKind::Postgres => tokio::spawn(follow_postgres(store, tx, postgres_every)),
        };
        Ok(PolicyVersions { seen })
    }

    /// Waits until a version above `have` is seen or `deadline` passes: whether one was.
    pub async fn wait_above(&self, have: i64, deadline: Instant) -> bool {
        let mut seen = self.seen.clone();
        let above = seen.wait_for(|version| *version > have);
        matches!(tokio::time::timeout_at(deadline, above).await, Ok(Ok(_)))
    }
}

/// Reads the version and tells the waiters when it went up; `false` once nobody waits
/// any more (the server stopped).
async fn read(store: &Store, tx: &watch::Sender<i64>) -> bool {
    match store.policy_version().await {
        Ok(version) => {
            tx.send_if_modified(|seen| {
                let newer = version > *seen;
                if newer {
                    *seen = version;
                }
                newer
            });
        }
        // Busy or briefly unreachable: the next read will tell.
        Err(error) => tracing::debug!(%error, "cannot read the policy version"),
    }
    !tx.is_closed()
}

async fn follow_sqlite(store: Store, tx: watch::Sender<i64>) {
    let mut every = tokio::time::interval(SQLITE_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        if !read(&store, &tx).await {
            return;
        }
    }
}

async fn follow_postgres(store: Store, tx: watch::Sender<i64>, every: Duration) {
    let mut listener = None;
    loop {
        if listener.is_none() {
            listener = listen(&store).await;
        }
        match &mut listener {
            Some(l) => match tokio::time::timeout(every, l.recv()).await {
                Ok(Ok(_)) | Err(_) => {}
                Ok(Err(sqlx::Error::PoolClosed)) => return,
                Ok(Err(error)) => {
                    tracing::warn!(%error, "the policy notifications stopped; listening again");
                    listener = None;
                    tokio::time::sleep(every).await;
                }
            },
            None => tokio::time::sleep(every).await,
        }
        if !read(&store, &tx).await {
            return;
        }
    }
}

/// A listener on [`CHANNEL`], or `None` (logged) when none can be had now.
async fn listen(store: &Store) -> Option<sqlx::postgres::PgListener> {
    let pool = store.postgres_pool()?;
    let listening = async {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener.listen(CHANNEL).await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match listening.await {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for policy changes; reading the version");
            None
        }
    }
}
