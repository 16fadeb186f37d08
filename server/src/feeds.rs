//! What the agents' long-polls wait on: the policy version, the presence feed and the
//! door commands, as this server last saw them. One task per server follows all three
//! and wakes every request waiting on a feed at once when it moves, instead of each
//! request re-reading the database on a timer: a thousand waiting agents cost one
//! reader, not thousands of queries a second, and a change reaches them as soon as it
//! commits.
//!
//! On PostgreSQL each transaction that changes a feed also sends a notification on its
//! channel ([`crate::policy::versions::CHANNEL`], [`PRESENCE_CHANNEL`],
//! [`COMMANDS_CHANNEL`]), delivered at commit to every replica; the task listens on all
//! three over one connection, reads the marks when told (one statement) and wakes that
//! feed's waiters, and reads them every [`POSTGRES_EVERY`] anyway for a notification
//! lost while the listening connection was down. On SQLite, whose one file has no way
//! to tell other connections of a commit, the task reads the marks every
//! [`SQLITE_EVERY`]: three index look-ups in one statement.
//!
//! A waiter takes its [`Wake`] before it reads its feed, so a change that commits while
//! it reads still wakes it; being woken means "read again", not "there is something for
//! you": a presence change wakes the agents of every site, and each finds out with one
//! query whether it concerns them.

use crate::policy::versions::{self, PolicyVersions};
use crate::store::{DatabaseKind, FeedMarks, Store};
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// The PostgreSQL notification channel of presence changes (passages recorded).
pub const PRESENCE_CHANNEL: &str = "gatehouse_presence";
/// The PostgreSQL notification channel of new door commands.
pub const COMMANDS_CHANNEL: &str = "gatehouse_commands";
/// How often the marks are read on SQLite.
const SQLITE_EVERY: Duration = Duration::from_millis(20);
/// How often the marks are read on PostgreSQL besides the notifications.
const POSTGRES_EVERY: Duration = Duration::from_secs(1);

/// The feeds as last seen; cloned into the application state.
#[derive(Clone)]
pub struct Feeds {
    policy: watch::Receiver<i64>,
    presence: watch::Receiver<u64>,
    commands: watch::Receiver<u64>,
}

impl Feeds {
    /// Reads the marks now and starts the task that follows them (it ends when the last
    /// `Feeds`, [`PolicyVersions`] and [`Wake`] are dropped, or the store's pool closes).
    pub async fn start(store: Store) -> anyhow::Result<Feeds> {
        Self::start_with(store, POSTGRES_EVERY).await
    }

    /// [`Self::start`], reading the marks every `postgres_every` besides the
    /// notifications on PostgreSQL (tests make it long to prove the notifications work).
    pub async fn start_with(store: Store, postgres_every: Duration) -> anyhow::Result<Feeds> {
        let marks = store.feed_marks().await?;
        let (policy, policy_rx) = watch::channel(marks.policy_version);
        let (presence, presence_rx) = watch::channel(0);
        let (commands, commands_rx) = watch::channel(0);
        let kind = store.kind();
        let follower = Follower {
            store,
            marks,
            policy,
            presence,
            commands,
        };
        match kind {
            DatabaseKind::Sqlite => tokio::spawn(follower.follow_sqlite()),
            DatabaseKind::Postgres => tokio::spawn(follower.follow_postgres(postgres_every)),
        };
        Ok(Feeds {
            policy: policy_rx,
            presence: presence_rx,
            commands: commands_rx,
        })
    }

    /// The policy version, for the policy long-polls.
    pub fn policy_versions(&self) -> PolicyVersions {
        PolicyVersions::new(self.policy.clone())
    }

    /// A wait on the presence feed, from now on.
    pub fn presence(&self) -> Wake {
        Wake::new(&self.presence)
    }

    /// A wait on the door commands, from now on.
    pub fn commands(&self) -> Wake {
        Wake::new(&self.commands)
    }
}

/// One waiting request's view of a feed: whether it moved since the view was taken.
pub struct Wake(watch::Receiver<u64>);

impl Wake {
    fn new(feed: &watch::Receiver<u64>) -> Wake {
        let mut seen = feed.clone();
        seen.mark_unchanged();
        Wake(seen)
    }

    /// Waits until the feed moves or `deadline` passes: whether it moved (the next wait
    /// is then for the move after this one).
    pub async fn changed_by(&mut self, deadline: Instant) -> bool {
        let changed = self.0.changed();
        matches!(tokio::time::timeout_at(deadline, changed).await, Ok(Ok(())))
    }
}

/// The task's side: the marks last read and the senders of each feed.
struct Follower {
    store: Store,
    marks: FeedMarks,
    policy: watch::Sender<i64>,
    presence: watch::Sender<u64>,
    commands: watch::Sender<u64>,
}

/// The feeds a batch of notifications named (the policy is always read for its value).
#[derive(Default)]
struct Told {
    presence: bool,
    commands: bool,
}

impl Follower {
    /// Nobody can wait on any feed any more (the server stopped).
    fn closed(&self) -> bool {
        self.policy.is_closed() && self.presence.is_closed() && self.commands.is_closed()
    }

    /// Reads the marks and wakes the waiters of each feed that moved or that `told`
    /// names (another replica's command may have an older id than the newest one);
    /// `false` once nobody waits any more.
    async fn read(&mut self, told: Told) -> bool {
        match self.store.feed_marks().await {
            Ok(marks) => {
                let version = marks.policy_version;
                self.policy.send_if_modified(|seen| {
                    let newer = version > *seen;
                    if newer {
                        *seen = version;
                    }
                    newer
                });
                if told.presence || marks.presence_revision != self.marks.presence_revision {
                    self.presence.send_modify(|n| *n = n.wrapping_add(1));
                }
                if told.commands || marks.last_command != self.marks.last_command {
                    self.commands.send_modify(|n| *n = n.wrapping_add(1));
                }
                self.marks = marks;
            }
            Err(error) => {
                // Busy or briefly unreachable: wake the feeds we were told of anyway
                // (their waiters read for themselves); the next read tells the rest.
                tracing::debug!(%error, "cannot read the feeds' marks");
                if told.presence {
                    self.presence.send_modify(|n| *n = n.wrapping_add(1));
                }
                if told.commands {
                    self.commands.send_modify(|n| *n = n.wrapping_add(1));
                }
            }
        }
        !self.closed()
    }

    async fn follow_sqlite(mut self) {
        let mut every = tokio::time::interval(SQLITE_EVERY);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            every.tick().await;
            if !self.read(Told::default()).await {
                return;
            }
        }
    }

    async fn follow_postgres(mut self, every: Duration) {
        let mut fallback = tokio::time::interval(every);
        fallback.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut listener = None;
        loop {
            if listener.is_none() {
                listener = listen(&self.store).await;
            }
            let Some(l) = &mut listener else {
                fallback.tick().await;
                if !self.read(Told::default()).await {
                    return;
                }
                continue;
            };
            tokio::select! {
                _ = fallback.tick() => {
                    if !self.read(Told::default()).await {
                        return;
                    }
                }
                heard = l.recv() => match heard {
                    Ok(first) => {
                        // Everything already received, in one read.
                        let mut told = Told::default();
                        let mut next = Some(first);
                        while let Some(notification) = next {
                            match notification.channel() {
                                PRESENCE_CHANNEL => told.presence = true,
                                COMMANDS_CHANNEL => told.commands = true,
                                _ => {}
                            }
                            next = l.next_buffered();
                        }
                        if !self.read(told).await {
                            return;
                        }
                    }
                    Err(sqlx::Error::PoolClosed) => return,
                    Err(error) => {
                        tracing::warn!(%error, "the feeds' notifications stopped; listening again");
                        listener = None;
                        tokio::time::sleep(every).await;
                    }
                },
            }
        }
    }
}

/// A listener on every feed's channel, or `None` (logged) when none can be had now.
async fn listen(store: &Store) -> Option<sqlx::postgres::PgListener> {
    let pool = store.postgres_pool()?;
    let listening = async {
        let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
        listener
            .listen_all([versions::CHANNEL, PRESENCE_CHANNEL, COMMANDS_CHANNEL])
            .await?;
        Ok::<_, sqlx::Error>(listener)
    };
    match listening.await {
        Ok(listener) => Some(listener),
        Err(error) => {
            tracing::warn!(%error, "cannot listen for the feeds' changes; reading them");
            None
        }
    }
}
