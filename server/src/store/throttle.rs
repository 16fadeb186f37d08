//! Failed logins, counted per key (`user:NAME`, `ip:ADDR`) in the database so that every
//! replica throttles the same client.

use super::{Store, StoreError, with_pool};
use chrono::{DateTime, Utc};

/// Failures of one key since some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureCount {
    pub count: i64,
    pub last: Option<DateTime<Utc>>,
}

impl Store {
    pub async fn login_failures(
        &self,
        key: &str,
        since: DateTime<Utc>,
    ) -> Result<FailureCount, StoreError> {
        let (count, last) = with_pool!(self, pool => {
            sqlx::query_as::<_, (i64, Option<DateTime<Utc>>)>(
                "SELECT COUNT(*), MAX(at) FROM login_failures WHERE key = $1 AND at > $2",
            )
            .bind(key)
            .bind(since)
            .fetch_one(pool)
            .await?
        });
        Ok(FailureCount { count, last })
    }

    /// Records one failure for each key and forgets failures older than `forget_before`.
    pub async fn record_login_failure(
        &self,
        keys: &[String],
        at: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        with_pool!(self, pool, begin => {
            let mut tx = pool.begin_with(begin).await?;
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

    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        with_pool!(self, pool => {
            sqlx::query("DELETE FROM login_failures WHERE key = $1")
                .bind(key)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
