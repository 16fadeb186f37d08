//! What the server's health page reads of its own database, each cheap: the last
//! migration applied and the database's size on disk.

use super::conn::{Either, on};
use super::{Store, StoreError};

/// Facts about the database for the health page.
pub struct DatabaseFacts {
    /// The version of the last migration applied.
    pub migration: Option<i64>,
    /// Bytes on disk (SQLite: the main file's pages; PostgreSQL: the database).
    pub size_bytes: Option<i64>,
}

impl Store {
    /// The last migration applied and the size of the database.
    #[tracing::instrument(skip_all)]
    pub async fn database_facts(&self) -> Result<DatabaseFacts, StoreError> {
        const MIGRATION: &str = "SELECT MAX(version) FROM _sqlx_migrations WHERE success";
        let migration = on!(self.pool(), |pool| {
            sqlx::query_scalar::<_, Option<i64>>(MIGRATION)
                .fetch_one(pool)
                .await?
        });
        let size_bytes = match self.pool() {
            Either::Sqlite(pool) => {
                sqlx::query_scalar::<_, Option<i64>>(
                    "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()",
                )
                .fetch_one(pool)
                .await?
            }
            Either::Postgres(pool) => {
                sqlx::query_scalar::<_, Option<i64>>("SELECT pg_database_size(current_database())")
                    .fetch_one(pool)
                    .await?
            }
        };
        Ok(DatabaseFacts {
            migration,
            size_bytes,
        })
    }
}
