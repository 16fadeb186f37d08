//! The musters of the last days, newest first, for the console's muster page (the
//! lists themselves are read one muster at a time).

use super::{MusterRecord, Store, StoreError, on};
use chrono::{DateTime, Utc};

impl Store {
    /// Musters started after `since` or still open, newest first, at most `limit`;
    /// without their lists.
    #[tracing::instrument(skip_all)]
    pub async fn recent_musters(
        &self,
        since: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<MusterRecord>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, MusterRecord>(
                "SELECT id, site_id, started_at, started_by, closed_at FROM musters \
                 WHERE started_at > $1 OR closed_at IS NULL \
                 ORDER BY started_at DESC, id DESC LIMIT $2",
            )
            .bind(since)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}
