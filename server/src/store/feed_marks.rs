//! Where the agents' feeds stand (`crate::feeds`): the policy version, the last presence
//! revision and the newest door command, read in one statement by the one task per
//! server that the long-polls wait on; and the PostgreSQL notification a writing
//! transaction sends so that every server's task learns of its change at commit.

use super::conn::Either;
use super::{Db, Store, StoreError, on};
use uuid::Uuid;

/// Where the feeds stand: a change to any of them moves its mark.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FeedMarks {
    pub policy_version: i64,
    /// The highest presence revision (0 with nobody recorded): every recorded passage
    /// raises it, in commit order (see `record_passages`).
    pub presence_revision: i64,
    /// The newest door command's id (ids are UUIDv7, so a new command is the newest
    /// one given by this server; PostgreSQL's notification covers other replicas).
    pub last_command: Option<Uuid>,
}

impl Db<'_> {
    /// Tells every server listening on `channel` that this transaction changed its feed,
    /// when it commits (nothing on SQLite, whose servers read the marks instead).
    pub(crate) async fn notify_feed(self, channel: &str) -> Result<(), StoreError> {
        if let Either::Postgres(c) = self {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(channel)
                .execute(c)
                .await?;
        }
        Ok(())
    }
}

impl Store {
    /// The feeds' marks now: three index look-ups in one statement.
    #[tracing::instrument(skip_all)]
    pub async fn feed_marks(&self) -> Result<FeedMarks, StoreError> {
        let sql = "SELECT (SELECT version FROM policy_state WHERE id = 1), \
                   (SELECT COALESCE(MAX(revision), 0) FROM presence), \
                   (SELECT id FROM door_commands ORDER BY id DESC LIMIT 1)";
        let (policy_version, presence_revision, last_command) = on!(self.pool(), |pool| {
            sqlx::query_as::<_, (i64, i64, Option<Uuid>)>(sql)
                .fetch_one(pool)
                .await?
        });
        Ok(FeedMarks {
            policy_version,
            presence_revision,
            last_command,
        })
    }
}
