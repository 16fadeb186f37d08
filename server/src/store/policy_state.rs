//! The policy version, bumped with every change to the security model.

use super::{Store, StoreError, with_pool};

/// Bumps the policy version through `$executor` (the transaction making the change).
macro_rules! bump_policy_version {
    ($executor:expr) => {{
        sqlx::query("UPDATE policy_state SET version = version + 1, changed_at = $1 WHERE id = 1")
            .bind($crate::store::now())
            .execute($executor)
            .await?
    }};
}
pub(crate) use bump_policy_version;

impl Store {
    /// The current policy version.
    pub async fn policy_version(&self) -> Result<i64, StoreError> {
        let version = with_pool!(self, pool => {
            sqlx::query_scalar::<_, i64>("SELECT version FROM policy_state WHERE id = 1")
                .fetch_one(pool)
                .await?
        });
        Ok(version)
    }
}
