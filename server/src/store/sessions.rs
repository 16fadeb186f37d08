//! Login sessions. A token is only as good as its session row: logout, disabling the
//! operator or changing their role revokes it, on every replica at once.

use super::stored_time::StoredTime;
use super::{Store, StoreError, now, on};
use chrono::{DateTime, Utc};
use gatehouse_core::role::Role;
use uuid::Uuid;

/// A session opened by a successful login.
#[derive(Debug, Clone)]
pub struct Session {
    pub id: Uuid,
    pub operator_id: Uuid,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A console session: a session row found by its cookie's hash, ended by idleness too.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub session: Session,
    /// The SHA-256 of the cookie (the cookie itself is never stored).
    pub cookie_hash: [u8; 32],
    pub idle_expires_at: DateTime<Utc>,
}

/// The operator behind a live session.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Principal {
    pub session_id: Uuid,
    pub operator_id: Uuid,
    pub username: String,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
}

impl Store {
    /// Stores a new session and forgets sessions that have expired.
    #[tracing::instrument(skip_all)]
    pub async fn create_session(&self, session: &Session) -> Result<(), StoreError> {
        self.insert_session(session, None).await
    }

    /// Stores a new console session (see [`ConsoleSession`]).
    #[tracing::instrument(skip_all)]
    pub async fn create_console_session(&self, console: &ConsoleSession) -> Result<(), StoreError> {
        let cookie = (&console.cookie_hash[..], console.idle_expires_at);
        self.insert_session(&console.session, Some(cookie)).await
    }

    /// A session row, with a console session's cookie hash and idle end.
    async fn insert_session(
        &self,
        session: &Session,
        console: Option<(&[u8], DateTime<Utc>)>,
    ) -> Result<(), StoreError> {
        on!(self.write().await?, |mut tx| {
            sqlx::query("DELETE FROM sessions WHERE expires_at < $1")
                .bind(session.created_at)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sessions \
                 (id, operator_id, created_at, expires_at, cookie_hash, idle_expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(session.id)
            .bind(session.operator_id)
            .bind(session.created_at)
            .bind(session.expires_at)
            .bind(console.map(|(hash, _)| hash))
            .bind(console.map(|(_, idle)| idle))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The active operator of a session that is neither revoked nor expired at `at`.
    #[tracing::instrument(skip_all)]
    pub async fn session_principal(
        &self,
        session_id: Uuid,
        at: DateTime<Utc>,
    ) -> Result<Option<Principal>, StoreError> {
        let row = on!(self.pool(), |pool| {
            sqlx::query_as::<_, Principal>(
                "SELECT s.id AS session_id, o.id AS operator_id, o.username, o.display_name, \
                 o.role FROM sessions s JOIN operators o ON o.id = s.operator_id \
                 WHERE s.id = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
                 AND o.status = 'active'",
            )
            .bind(session_id)
            .bind(at)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    #[tracing::instrument(skip_all)]
    pub async fn revoke_session(&self, session_id: Uuid) -> Result<(), StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                .bind(session_id)
                .bind(now())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The active operator of the console session whose cookie hashes to `cookie_hash`,
    /// when it is neither revoked, past its lifetime nor idle at `at`; with the time it
    /// goes idle.
    #[tracing::instrument(skip_all)]
    pub async fn console_principal(
        &self,
        cookie_hash: &[u8; 32],
        at: DateTime<Utc>,
    ) -> Result<Option<(Principal, DateTime<Utc>)>, StoreError> {
        let row = on!(self.pool(), |pool| {
            sqlx::query_as::<_, ConsolePrincipalRow>(
                "SELECT s.id AS session_id, o.id AS operator_id, o.username, o.display_name, \
                 o.role, s.idle_expires_at FROM sessions s \
                 JOIN operators o ON o.id = s.operator_id \
                 WHERE s.cookie_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 \
                 AND s.idle_expires_at > $2 AND o.status = 'active'",
            )
            .bind(&cookie_hash[..])
            .bind(at)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(|r| (r.principal, r.idle_expires_at.into())))
    }

    /// Moves a live console session's idle end to `idle_expires_at` (never earlier).
    #[tracing::instrument(skip_all)]
    pub async fn touch_console_session(
        &self,
        session_id: Uuid,
        idle_expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query(
                "UPDATE sessions SET idle_expires_at = $2 \
                 WHERE id = $1 AND revoked_at IS NULL AND idle_expires_at < $2",
            )
            .bind(session_id)
            .bind(idle_expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }
}

#[derive(sqlx::FromRow)]
struct ConsolePrincipalRow {
    #[sqlx(flatten)]
    principal: Principal,
    idle_expires_at: StoredTime,
}
