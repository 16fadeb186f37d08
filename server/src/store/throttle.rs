//! Failed logins, counted per key (`user:NAME`, `ip:ADDR`) in the database so that every
//! replica throttles the same client. An attempt is reserved (and counted as a failure)
//! before its password is checked, atomically with the check of the budget, so parallel
//! attempts cannot all pass the check before any of them is counted. An attempt cut
//! short (a crash between reservation and answer) stays counted as a failure: the
//! throttle errs on the side of refusing.

use super::stored_time::OptionalStoredTime;
use super::{Store, StoreError, on};
use chrono::{DateTime, Utc};

/// Failures of one key since some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    pub count: i64,
    pub last: Option<DateTime<Utc>>,
}

/// The answer to a request for a login attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// The attempt was taken (and counts as a failure until released).
    Taken(AttemptIds),
    /// A key must wait until then; nothing was taken.
    Refused { wait_until: DateTime<Utc> },
}

/// The failure records one reserved attempt wrote, one per key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptIds(Vec<i64>);

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn login_failures(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<FailureCount, StoreError> {
        let (count, last) = on!(self.pool(), |pool| {
            sqlx::query_as::<_, (i64, OptionalStoredTime)>(
                "SELECT COUNT(*), MAX(at) FROM login_failures WHERE key = $1 AND at > $2",
            )
            .bind(key)
            .bind(since)
            .fetch_one(pool)
            .await?
        });
        Ok(FailureCount {
            count,
            last: last.into(),
        })
    }

    /// Records one failure for each key and forgets failures older than `forget_before`.
    #[tracing::instrument(skip_all)]
    pub async fn record_login_failure(
        &self,
        keys: &[String],
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on!(self.write().await?, |mut tx| {
            for key in keys {
                sqlx::query("INSERT INTO login_failures (key, at) VALUES ($1, $2)")
                    .bind(key)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query("DELETE FROM login_failures WHERE at < $1")
                .bind(forget_before)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Takes one attempt from the budget of every key, or none: in one write transaction
    /// it counts each key's failures since `since` and asks `wait_until` whether the key
    /// must wait; if none must, it records a failure for every key now, before the
    /// password is checked, so attempts in flight count as failures until
    /// [`Store::release_login_attempt`] takes back the one of a successful login.
    ///
    /// SQLite serialises the transactions with `BEGIN IMMEDIATE`; PostgreSQL with a
    /// transaction-scoped advisory lock per key (taken in key order, so two attempts
    /// never wait on each other), which also holds across replicas on one database.
    /// Failures older than `since` are forgotten afterwards.
    #[tracing::instrument(skip_all)]
    pub async fn reserve_login_attempt(
        &self,
        keys: &[String],
        at: DateTime<Utc>,
        since: DateTime<Utc>,
        wait_until: impl Fn(FailureCount) -> Option<DateTime<Utc>>,
    ) -> Result<Reservation, StoreError> {
        let mut sorted: Vec<&String> = keys.iter().collect();
        sorted.sort();
        sorted.dedup();
        let postgres = matches!(self.kind(), super::DatabaseKind::Postgres);
        let reservation = on!(self.write().await?, |mut tx| {
            if postgres {
                for key in &sorted {
                    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
                        .bind(format!("gatehouse login {key}"))
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let mut refused = None;
            for key in &sorted {
                let (count, last) = sqlx::query_as::<_, (i64, OptionalStoredTime)>(
                    "SELECT COUNT(*), MAX(at) FROM login_failures WHERE key = $1 AND at > $2",
                )
                .bind(key.as_str())
                .bind(since)
                .fetch_one(&mut *tx)
                .await?;
                let until = wait_until(FailureCount {
                    count,
                    last: last.into(),
                });
                refused = refused.max(until);
            }
            let reservation = match refused {
                Some(until) => Reservation::Refused { wait_until: until },
                None => {
                    let mut ids = Vec::with_capacity(sorted.len());
                    for key in &sorted {
                        let id: i64 = sqlx::query_scalar(
                            "INSERT INTO login_failures (key, at) VALUES ($1, $2) RETURNING id",
                        )
                        .bind(key.as_str())
                        .bind(at)
                        .fetch_one(&mut *tx)
                        .await?;
                        ids.push(id);
                    }
                    Reservation::Taken(AttemptIds(ids))
                }
            };
            tx.commit().await?;
            reservation
        });
        // Forgetting old failures is outside the reservation: under its locks, it would
        // make logins of different keys wait on each other's rows.
        on!(self.pool(), |pool| {
            sqlx::query("DELETE FROM login_failures WHERE at <= $1")
                .bind(since)
                .execute(pool)
                .await?;
        });
        Ok(reservation)
    }

    /// Gives back the attempts a successful login took, so a success never counts as a
    /// failure.
    #[tracing::instrument(skip_all)]
    pub async fn release_login_attempt(&self, attempt: &AttemptIds) -> Result<(), StoreError> {
        on!(self.pool(), |pool| {
            for id in &attempt.0 {
                sqlx::query("DELETE FROM login_failures WHERE id = $1")
                    .bind(id)
                    .execute(pool)
                    .await?;
            }
        });
        Ok(())
    }

    #[tracing::instrument(skip_all)]
    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query("DELETE FROM login_failures WHERE key = $1")
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
