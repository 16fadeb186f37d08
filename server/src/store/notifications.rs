//! The notifications outbox: invitation emails and arrival notices (email, webhook), each
//! written in the transaction of what it tells of ([`Db::enqueue_notification`]) and sent
//! later by `crate::notify::worker`, which claims due rows, sends them and records each
//! attempt's result here.
//!
//! Guarantees: a notification is sent at least once while the server runs (a claim is a
//! lease: a worker that dies mid-send leaves the row to be claimed again when the lease
//! runs out), and two workers (replicas) never send the same attempt, since a claim is a
//! conditional update that only one of them wins. The message is stored whole, so every
//! attempt sends the same bytes.

use super::operator_log::{Actor, NewLogEntry};
use super::retention::PURGED_NAME;
use super::{Db, Store, StoreError, now, on};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a notification tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum NotificationKind {
    /// The visitor's invitation email.
    Invitation,
    /// The host's notice that the visitor arrived.
    Arrival,
}

/// How a notification travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum Channel {
    Email,
    Webhook,
}

/// Where a notification is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum NotificationState {
    /// Waiting for its (next) attempt.
    Pending,
    /// Delivered (the SMTP server accepted it, or the webhook answered 2xx).
    Sent,
    /// Given up on; `last_error` says why. An operator may retry it.
    Failed,
}

macro_rules! text_column {
    ($($t:ty),*) => {$(
        /// For the `#[sqlx(try_from = "String")]` column.
        impl TryFrom<String> for $t {
            type Error = String;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                s.parse().map_err(|_| format!("unknown {} {s:?}", stringify!($t)))
            }
        }
    )*};
}
text_column!(NotificationKind, Channel, NotificationState);

/// A notification to enqueue, built by `crate::notify::content`.
#[derive(Clone)]
pub struct NewNotification {
    pub id: Uuid,
    pub kind: NotificationKind,
    pub channel: Channel,
    /// The email address, or the webhook URL's host (what people see).
    pub recipient: String,
    /// A webhook's whole URL (it may carry a token: never served, never in `Debug`).
    pub endpoint: Option<String>,
    pub subject: String,
    pub visit_id: Option<Uuid>,
    /// The RFC 5322 message, or the webhook's JSON body.
    pub message: Vec<u8>,
}

impl std::fmt::Debug for NewNotification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewNotification")
            .field("id", &self.id)
            .field("kind", &self.kind)
            .field("channel", &self.channel)
            .field("visit_id", &self.visit_id)
            .field("message_bytes", &self.message.len())
            .finish_non_exhaustive()
    }
}

/// A notification as served: never its message or a webhook's URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = Notification)]
pub struct NotificationRecord {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub kind: NotificationKind,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    /// The email address, or the webhook URL's host.
    pub recipient: String,
    pub subject: String,
    pub visit_id: Option<Uuid>,
    /// The visit's visitor, when the notification is about a visit.
    pub visitor_name: Option<String>,
    /// The visit's site (its time zone shows the times), when known.
    pub site_id: Option<Uuid>,
    #[sqlx(try_from = "String")]
    pub state: NotificationState,
    /// Attempts made so far.
    pub attempts: i32,
    /// When a pending notification is tried next.
    #[sqlx(try_from = "StoredTime")]
    pub next_attempt_at: DateTime<Utc>,
    /// Why the last attempt failed (no secrets).
    pub last_error: Option<String>,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub delivered_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "StoredTime")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    pub updated_at: DateTime<Utc>,
}

/// `SELECT <NotificationRecord columns> FROM notifications n LEFT JOIN visits v <rest>`.
macro_rules! select_notification {
    ($rest:literal) => {
        concat!(
            "SELECT n.id, n.kind, n.channel, n.recipient, n.subject, n.visit_id, ",
            "v.visitor_name, v.site_id, n.state, n.attempts, n.next_attempt_at, ",
            "n.last_error, n.delivered_at, n.created_at, n.updated_at ",
            "FROM notifications n LEFT JOIN visits v ON v.id = n.visit_id ",
            $rest
        )
    };
}

/// Which notifications to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct NotificationFilter {
    pub visit_id: Option<Uuid>,
    pub state: Option<NotificationState>,
}

/// A notification claimed for one attempt (see [`Store::claim_due_notifications`]).
#[derive(Clone, sqlx::FromRow)]
pub struct Outgoing {
    pub id: Uuid,
    #[sqlx(try_from = "String")]
    pub channel: Channel,
    pub recipient: String,
    pub endpoint: Option<String>,
    pub message: Vec<u8>,
    /// This attempt's number (1 for the first).
    pub attempts: i32,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// What an attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    Sent,
    /// Failed; tried again at `at`.
    Retry {
        error: String,
        at: DateTime<Utc>,
    },
    /// Failed for good (attempts used up, or nothing to send it with).
    Failed {
        error: String,
    },
}

/// Longest `last_error` kept: an SMTP server's answer may be long.
const MAX_ERROR_CHARS: usize = 500;

fn clip(error: &str) -> String {
    error.chars().take(MAX_ERROR_CHARS).collect()
}

impl Db<'_> {
    /// Adds `new` to the outbox as pending and due now, in the caller's transaction, so
    /// it exists exactly when what it tells of was committed. Wake the worker after the
    /// commit (`crate::notify::Notifier::wake`), or it is sent at its next poll.
    pub(crate) async fn enqueue_notification(
        self,
        new: &NewNotification,
    ) -> Result<(), StoreError> {
        let at = now();
        on!(self, |c| {
            sqlx::query(
                "INSERT INTO notifications (id, kind, channel, recipient, endpoint, subject, \
                 visit_id, message, state, attempts, next_attempt_at, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'pending', 0, $9, $9, $9)",
            )
            .bind(new.id)
            .bind(new.kind.as_ref())
            .bind(new.channel.as_ref())
            .bind(&new.recipient)
            .bind(&new.endpoint)
            .bind(&new.subject)
            .bind(new.visit_id)
            .bind(&new.message)
            .bind(at)
            .execute(c)
            .await?;
        });
        Ok(())
    }

    /// Retention: removes the recipient, subject and message of the notifications about
    /// `visits`, and of those about no visit created before `cutoff`. A pending one is
    /// failed (there is nothing left to send). The delivery record itself stays.
    pub(crate) async fn purge_notifications(
        self,
        visits: &[Uuid],
        cutoff: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        const SET: &str = "UPDATE notifications SET recipient = $1, subject = $1, \
            message = $2, endpoint = NULL, last_error = CASE WHEN state = 'pending' \
            THEN 'purged before delivery' ELSE last_error END, state = CASE WHEN \
            state = 'pending' THEN 'failed' ELSE state END, purged_at = $3, updated_at = $3 \
            WHERE purged_at IS NULL AND ";
        let mut purged = 0;
        on!(self, |c| {
            for visit in visits {
                let sql = format!("{SET}visit_id = $4");
                purged += sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(PURGED_NAME)
                    .bind(Vec::<u8>::new())
                    .bind(at)
                    .bind(visit)
                    .execute(&mut *c)
                    .await?
                    .rows_affected();
            }
            let sql = format!("{SET}visit_id IS NULL AND created_at < $4");
            purged += sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(PURGED_NAME)
                .bind(Vec::<u8>::new())
                .bind(at)
                .bind(cutoff)
                .execute(&mut *c)
                .await?
                .rows_affected();
        });
        Ok(purged)
    }
}

impl Store {
    /// [`Db::enqueue_notification`] for each of `new`, in a transaction of its own.
    #[tracing::instrument(skip_all)]
    pub async fn enqueue_notifications(&self, new: &[NewNotification]) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        for one in new {
            tx.db().enqueue_notification(one).await?;
        }
        tx.commit().await
    }

    /// Notifications newest first, after the cursor id (the last of the previous page).
    #[tracing::instrument(skip_all)]
    pub async fn notifications(
        &self,
        filter: NotificationFilter,
        before: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, NotificationRecord>(select_notification!(
                "WHERE ($1 IS NULL OR n.id < $1) AND ($2 IS NULL OR n.visit_id = $2) \
                 AND ($3 IS NULL OR n.state = $3) ORDER BY n.id DESC LIMIT $4"
            ))
            .bind(before)
            .bind(filter.visit_id)
            .bind(filter.state.map(|s| s.as_ref().to_owned()))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Every notification about one visit, oldest first (for the visit's page).
    #[tracing::instrument(skip_all)]
    pub async fn notifications_for_visit(
        &self,
        visit_id: Uuid,
    ) -> Result<Vec<NotificationRecord>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, NotificationRecord>(select_notification!(
                "WHERE n.visit_id = $1 ORDER BY n.id"
            ))
            .bind(visit_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// One notification ([`StoreError::NotFound`] when none).
    #[tracing::instrument(skip_all)]
    pub async fn notification(&self, id: Uuid) -> Result<NotificationRecord, StoreError> {
        let row = on!(self.pool(), |pool| {
            sqlx::query_as::<_, NotificationRecord>(select_notification!("WHERE n.id = $1"))
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }

    /// Puts a failed notification back in the queue, due now, with a fresh count of
    /// attempts; recorded in the operator log. Refused (409) unless it failed, or when
    /// retention purged its message.
    #[tracing::instrument(skip_all)]
    pub async fn retry_notification(
        &self,
        id: Uuid,
        actor: &Actor,
    ) -> Result<NotificationRecord, StoreError> {
        let at = now();
        let mut tx = self.write().await?;
        let changed = on!(tx.db(), |c| {
            let state = sqlx::query_as::<_, (String, Option<StoredTime>)>(
                "SELECT state, purged_at FROM notifications WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&mut *c)
            .await?;
            if state.1.is_some() {
                return Err(StoreError::Rejected("the notification was purged"));
            }
            if state.0 != NotificationState::Failed.as_ref() {
                return Err(StoreError::Rejected(
                    "only a failed notification can be retried",
                ));
            }
            sqlx::query(
                "UPDATE notifications SET state = 'pending', attempts = 0, \
                 next_attempt_at = $2, updated_at = $2 WHERE id = $1 AND state = 'failed'",
            )
            .bind(id)
            .bind(at)
            .execute(c)
            .await?
            .rows_affected()
        });
        if changed != 1 {
            return Err(StoreError::Rejected(
                "only a failed notification can be retried",
            ));
        }
        let entry =
            NewLogEntry::new::<()>(actor, "notification.retry", "notification", id, None, None);
        tx.db().insert_log(&entry).await?;
        tx.commit().await?;
        self.notification(id).await
    }

    /// Claims up to `limit` pending notifications due at `at` for one attempt each: each
    /// gets its attempt counted and is hidden from other workers until `lease_until`
    /// (then, if no result was recorded, it is due again).
    #[tracing::instrument(skip_all)]
    pub async fn claim_due_notifications(
        &self,
        at: DateTime<Utc>,
        lease_until: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<Outgoing>, StoreError> {
        let due = on!(self.pool(), |pool| {
            sqlx::query_as::<_, Outgoing>(
                "SELECT id, channel, recipient, endpoint, message, attempts FROM notifications \
                 WHERE state = 'pending' AND next_attempt_at <= $1 \
                 ORDER BY next_attempt_at, id LIMIT $2",
            )
            .bind(at)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        let mut claimed = Vec::with_capacity(due.len());
        for mut one in due {
            let won = on!(self.pool(), |pool| {
                sqlx::query(
                    "UPDATE notifications SET attempts = attempts + 1, next_attempt_at = $3, \
                     updated_at = $4 WHERE id = $1 AND state = 'pending' AND attempts = $2 \
                     AND next_attempt_at <= $4",
                )
                .bind(one.id)
                .bind(one.attempts)
                .bind(lease_until)
                .bind(at)
                .execute(pool)
                .await?
                .rows_affected()
            });
            if won == 1 {
                one.attempts += 1;
                claimed.push(one);
            }
        }
        Ok(claimed)
    }

    /// Records what attempt number `attempt` of `id` came to. Ignored (`false`) when the
    /// notification moved on meanwhile (an operator's retry, another worker after the
    /// lease ran out).
    #[tracing::instrument(skip_all)]
    pub async fn record_delivery(
        &self,
        id: Uuid,
        attempt: i32,
        delivery: &Delivery,
    ) -> Result<bool, StoreError> {
        let at = now();
        let (state, error, next) = match delivery {
            Delivery::Sent => (NotificationState::Sent, None, at),
            Delivery::Retry { error, at: next } => {
                (NotificationState::Pending, Some(clip(error)), *next)
            }
            Delivery::Failed { error } => (NotificationState::Failed, Some(clip(error)), at),
        };
        let delivered = (state == NotificationState::Sent).then_some(at);
        let changed = on!(self.pool(), |pool| {
            sqlx::query(
                "UPDATE notifications SET state = $3, last_error = $4, next_attempt_at = $5, \
                 delivered_at = $6, updated_at = $7 \
                 WHERE id = $1 AND attempts = $2 AND state = 'pending'",
            )
            .bind(id)
            .bind(attempt)
            .bind(state.as_ref())
            .bind(error)
            .bind(next)
            .bind(delivered)
            .bind(at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(changed == 1)
    }

    /// When the earliest pending notification is due, if any (the worker sleeps until
    /// then).
    #[tracing::instrument(skip_all)]
    pub async fn next_notification_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let next = on!(self.pool(), |pool| {
            sqlx::query_scalar::<_, OptionalStoredTime>(
                "SELECT MIN(next_attempt_at) FROM notifications WHERE state = 'pending'",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(next.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::wire_names::names_match_serde;
    use strum::IntoEnumIterator;

    fn reads_back<T>()
    where
        T: IntoEnumIterator + AsRef<str> + TryFrom<String> + std::fmt::Debug + PartialEq,
    {
        for value in T::iter() {
            assert!(T::try_from(value.as_ref().to_owned()).is_ok_and(|v| v == value));
        }
        assert!(T::try_from("no such name".to_owned()).is_err());
    }

    #[test]
    fn stored_names_are_served_names() {
        names_match_serde::<NotificationKind>();
        names_match_serde::<Channel>();
        names_match_serde::<NotificationState>();
        reads_back::<NotificationKind>();
        reads_back::<Channel>();
        reads_back::<NotificationState>();
    }
}
