//! The policy version, bumped with every change to the security model.

use super::conn::Either;
use super::{Db, Store, StoreError, now, on};

impl Db<'_> {
    /// Bumps the policy version, in the transaction making the change, and stamps the
    /// change log's rows of this transaction (and any left unstamped) with it (see
    /// migration 0030). On PostgreSQL it also notifies every server's waiting agents,
    /// once the transaction commits (see `crate::policy::versions`).
    pub(crate) async fn bump_policy_version(mut self) -> Result<(), StoreError> {
        on!(self.re(), |c| {
            let version = sqlx::query_scalar::<_, i64>(
                "UPDATE policy_state SET version = version + 1, changed_at = $1 WHERE id = 1 \
                 RETURNING version",
            )
            .bind(now())
            .fetch_one(&mut *c)
            .await?;
            sqlx::query("UPDATE policy_changes SET version = $1 WHERE version IS NULL")
                .bind(version)
                .execute(c)
                .await?;
        });
        if let Either::Postgres(c) = self {
            sqlx::query("SELECT pg_notify($1, '')")
                .bind(crate::policy::versions::CHANNEL)
                .execute(c)
                .await?;
        }
        Ok(())
    }

    /// The current policy version, as this transaction sees it.
    pub(crate) async fn policy_version(self) -> Result<i64, StoreError> {
        let sql = "SELECT version FROM policy_state WHERE id = 1";
        Ok(on!(self, |c| sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(c)
            .await?))
    }
}

impl Store {
    /// The current policy version.
    #[tracing::instrument(skip_all)]
    pub async fn policy_version(&self) -> Result<i64, StoreError> {
        let sql = "SELECT version FROM policy_state WHERE id = 1";
        Ok(on!(self.pool(), |pool| sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(pool)
            .await?))
    }
}
