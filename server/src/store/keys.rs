//! Server secrets kept in the database, so every replica uses the same ones.

use super::{Store, StoreError, now, on};

impl Store {
    /// Returns the secret stored under `name`, storing `candidate` first if there is
    /// none. When replicas race on first start, all of them end up with the winner's.
    #[tracing::instrument(skip_all)]
    pub async fn secret_or_insert(
        &self,
        name: &str,
        candidate: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let secret = on!(self.pool(), |pool| {
            sqlx::query(
                "INSERT INTO server_keys (name, secret, created_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(name)
            .bind(candidate)
            .bind(now())
            .execute(pool)
            .await?;
            sqlx::query_scalar::<_, Vec<u8>>("SELECT secret FROM server_keys WHERE name = $1")
                .bind(name)
                .fetch_one(pool)
                .await?
        });
        Ok(secret)
    }
}
