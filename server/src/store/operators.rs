//! Operator accounts. Every change is written together with its operator-log entry, in
//! one transaction: a change without its record cannot happen.

use super::operator_log::{Actor, NewLogEntry};
use super::people_common::Table;
use super::site_model::ModelError;
use super::{Db, Store, StoreError, now, on};
use crate::store::stored_time::StoredTime;
use chrono::{DateTime, Utc};
use gatehouse_core::role::Role;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Whether an operator may log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "lowercase")]
pub enum OperatorStatus {
    Active,
    Disabled,
}

/// For the `#[sqlx(try_from = "String")]` column.
impl TryFrom<String> for OperatorStatus {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
            .map_err(|_| format!("unknown operator status {s:?}"))
    }
}

/// An operator account (never with its password hash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Operator {
    pub id: Uuid,
    pub username: String,
    pub display_name: String,
    #[sqlx(try_from = "String")]
    pub role: Role,
    #[sqlx(try_from = "String")]
    pub status: OperatorStatus,
    /// The person this account is (a host invites that person's visitors); absent when
    /// not linked.
    pub person_id: Option<Uuid>,
    #[sqlx(try_from = "StoredTime")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    pub updated_at: DateTime<Utc>,
}

impl Operator {
    fn is_active_admin(&self) -> bool {
        self.role == Role::Admin && self.status == OperatorStatus::Active
    }
}

/// `SELECT <columns of Operator> FROM operators <rest>`, as a static string.
macro_rules! select_operator {
    ($($rest:literal)?) => {
        concat!(
            "SELECT id, username, display_name, role, status, person_id, created_at, updated_at",
            " FROM operators ",
            $($rest)?
        )
    };
}

/// A new account; the password is already hashed.
pub struct NewOperator {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub password_hash: String,
}

/// Fields an administrator may change; `None` keeps the current value.
#[derive(Debug, Default, Clone)]
pub struct OperatorChange {
    pub display_name: Option<String>,
    pub role: Option<Role>,
    pub status: Option<OperatorStatus>,
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_operator(
        &self,
        new: NewOperator,
        actor: &Actor,
    ) -> Result<Operator, StoreError> {
        let at = now();
        let operator = Operator {
            id: Uuid::now_v7(),
            username: new.username,
            display_name: new.display_name,
            role: new.role,
            status: OperatorStatus::Active,
            person_id: None,
            created_at: at,
            updated_at: at,
        };
        let entry = NewLogEntry::new(
            actor,
            "operator.create",
            "operator",
            operator.id,
            None,
            Some(&operator),
        );
        on!(self.write().await?, |mut tx| {
            sqlx::query(
                "INSERT INTO operators \
                 (id, username, display_name, role, status, password_hash, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(operator.id)
            .bind(&operator.username)
            .bind(&operator.display_name)
            .bind(operator.role.as_ref())
            .bind(operator.status.as_ref())
            .bind(&new.password_hash)
            .bind(operator.created_at)
            .bind(operator.updated_at)
            .execute(&mut *tx)
            .await?;
            Db::from(&mut *tx).insert_log(&entry).await?;
            tx.commit().await?;
        });
        Ok(operator)
    }

    #[tracing::instrument(skip_all)]
    pub async fn operator(&self, id: Uuid) -> Result<Operator, StoreError> {
        let row = on!(self.pool(), |pool| {
            sqlx::query_as::<_, Operator>(select_operator!("WHERE id = $1"))
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }

    #[tracing::instrument(skip_all)]
    pub async fn operator_by_username(&self, username: &str) -> Result<Operator, StoreError> {
        let row = on!(self.pool(), |pool| {
            sqlx::query_as::<_, Operator>(select_operator!("WHERE username = $1"))
                .bind(username)
                .fetch_one(pool)
                .await?
        });
        Ok(row)
    }

    /// The account and its password hash, for checking a login.
    #[tracing::instrument(skip_all)]
    pub async fn operator_with_hash(
        &self,
        username: &str,
    ) -> Result<Option<(Operator, String)>, StoreError> {
        const SQL: &str = concat!(
            "SELECT id, username, display_name, role, status, person_id, created_at, updated_at, ",
            "password_hash FROM operators WHERE username = $1"
        );
        let row = on!(self.pool(), |pool| {
            sqlx::query(SQL)
                .bind(username)
                .fetch_optional(pool)
                .await?
                .map(|row| -> Result<(Operator, String), sqlx::Error> {
                    use sqlx::{FromRow, Row};
                    Ok((Operator::from_row(&row)?, row.try_get("password_hash")?))
                })
                .transpose()?
        });
        Ok(row)
    }

    /// Accounts ordered by id (creation order), after the cursor id.
    #[tracing::instrument(skip_all)]
    pub async fn list_operators(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Operator>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, Operator>(select_operator!(
                "WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
            ))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    #[tracing::instrument(skip_all)]
    pub async fn count_operators(&self) -> Result<i64, StoreError> {
        let n = on!(self.pool(), |pool| {
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM operators")
                .fetch_one(pool)
                .await?
        });
        Ok(n)
    }

    /// Changes an account. A change of role or status ends the operator's sessions at
    /// once; the last active admin cannot be disabled or demoted.
    #[tracing::instrument(skip_all)]
    pub async fn update_operator(
        &self,
        id: Uuid,
        change: OperatorChange,
        actor: &Actor,
    ) -> Result<Operator, StoreError> {
        let after = on!(self.write().await?, |mut tx| {
            let before = sqlx::query_as::<_, Operator>(select_operator!("WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            let after = Operator {
                display_name: change
                    .display_name
                    .clone()
                    .unwrap_or_else(|| before.display_name.clone()),
                role: change.role.unwrap_or(before.role),
                status: change.status.unwrap_or(before.status),
                updated_at: now(),
                ..before.clone()
            };
            if before.is_active_admin() && !after.is_active_admin() {
                let other_admins = sqlx::query_scalar::<_, i64>(
                    "SELECT COUNT(*) FROM operators \
                     WHERE role = 'admin' AND status = 'active' AND id <> $1",
                )
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
                if other_admins == 0 {
                    return Err(StoreError::Rejected(
                        "at least one active admin must remain",
                    ));
                }
            }
            sqlx::query(
                "UPDATE operators SET display_name = $2, role = $3, status = $4, updated_at = $5 \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(&after.display_name)
            .bind(after.role.as_ref())
            .bind(after.status.as_ref())
            .bind(after.updated_at)
            .execute(&mut *tx)
            .await?;
            if before.role != after.role || before.status != after.status {
                sqlx::query(
                    "UPDATE sessions SET revoked_at = $2 \
                     WHERE operator_id = $1 AND revoked_at IS NULL",
                )
                .bind(id)
                .bind(after.updated_at)
                .execute(&mut *tx)
                .await?;
            }
            Db::from(&mut *tx)
                .insert_log(&NewLogEntry::new(
                    actor,
                    "operator.update",
                    "operator",
                    id,
                    Some(&before),
                    Some(&after),
                ))
                .await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }

    /// Links the account to the person it is (`None` unlinks). The person must exist
    /// (422 on `person_id`); a person has at most one account (409).
    #[tracing::instrument(skip_all)]
    pub async fn link_operator_person(
        &self,
        id: Uuid,
        person_id: Option<Uuid>,
        actor: &Actor,
    ) -> Result<Operator, ModelError> {
        let after = on!(self.write().await?, |mut tx| {
            let before = sqlx::query_as::<_, Operator>(select_operator!("WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?;
            if let Some(person_id) = person_id {
                Db::from(&mut *tx)
                    .require_row(Table::People, person_id, "person_id")
                    .await?;
            }
            let after = Operator {
                person_id,
                updated_at: now(),
                ..before.clone()
            };
            sqlx::query("UPDATE operators SET person_id = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(person_id)
                .bind(after.updated_at)
                .execute(&mut *tx)
                .await?;
            let entry = NewLogEntry::new(
                actor,
                "operator.link_person",
                "operator",
                id,
                Some(&before),
                Some(&after),
            );
            Db::from(&mut *tx).insert_log(&entry).await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }

    /// Replaces an operator's password hash and ends their sessions. The log records
    /// that it changed, never the hash.
    #[tracing::instrument(skip_all)]
    pub async fn set_operator_password(
        &self,
        id: Uuid,
        password_hash: &str,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        self.replace_operator_password(id, password_hash, actor, None)
            .await
    }

    /// Replaces an operator's password hash and ends their sessions except `keep` (the
    /// session of an operator changing their own password), all in one transaction with
    /// the log entry. The log records that it changed, never the hash.
    #[tracing::instrument(skip_all)]
    pub async fn replace_operator_password(
        &self,
        id: Uuid,
        password_hash: &str,
        actor: &Actor,
        keep: Option<Uuid>,
    ) -> Result<(), StoreError> {
        let at = now();
        // No session has the nil id, so `None` ends them all.
        let keep = keep.unwrap_or(Uuid::nil());
        on!(self.write().await?, |mut tx| {
            let changed = sqlx::query(
                "UPDATE operators SET password_hash = $2, updated_at = $3 WHERE id = $1",
            )
            .bind(id)
            .bind(password_hash)
            .bind(at)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if changed == 0 {
                return Err(StoreError::NotFound);
            }
            sqlx::query(
                "UPDATE sessions SET revoked_at = $2 \
                 WHERE operator_id = $1 AND revoked_at IS NULL AND id <> $3",
            )
            .bind(id)
            .bind(at)
            .bind(keep)
            .execute(&mut *tx)
            .await?;
            Db::from(&mut *tx)
                .insert_log(&NewLogEntry::new::<()>(
                    actor,
                    "operator.set_password",
                    "operator",
                    id,
                    None,
                    None,
                ))
                .await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
