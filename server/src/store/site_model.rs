//! What the model stores share: the error that names a bad input field, decoding stored
//! values, and for the site model (sites, zones, doors, schedules) reading and deleting
//! any of their records through the [`Record`] trait. The loader for the policy compiler
//! is in `site_model_load.rs`.
//!
//! Every change is one transaction holding the change, its operator-log entry and a bump
//! of the policy version ([`Db::log_change`]); a refused change rolls back all three.

use super::operator_log::{Actor, NewLogEntry};
use super::{Db, Store, StoreError, on};
use crate::audit::records::OperatorRow;
use serde::Serialize;
use sqlx::FromRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
use std::str::FromStr;
use uuid::Uuid;

/// Why a change to the site model failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The input names something that does not fit (an unknown site, a parent on another
    /// site, a cycle in the zone tree): a 422 on `field`.
    #[error("{field}: {problem}")]
    Invalid {
        field: &'static str,
        problem: &'static str,
    },
}

impl From<sqlx::Error> for ModelError {
    fn from(error: sqlx::Error) -> Self {
        ModelError::Store(error.into())
    }
}

impl ModelError {
    pub(super) fn invalid(field: &'static str, problem: &'static str) -> ModelError {
        ModelError::Invalid { field, problem }
    }
}

/// A stored value the server cannot have written (a manual edit of the database).
pub(super) fn decode_error(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} is out of range").into())
}

/// A stored integer as the narrower type the model uses.
pub(super) fn narrow<T: TryFrom<i64>>(value: impl Into<i64>, what: &str) -> Result<T, sqlx::Error> {
    T::try_from(value.into()).map_err(|_| decode_error(what))
}

/// A stored enum column (its strum name, equal to the serde name) as its type.
pub(super) fn parse<T: FromStr>(text: &str, what: &str) -> Result<T, sqlx::Error> {
    text.parse().map_err(|_| decode_error(what))
}

/// A record of the site model: how to read it and how to name it in the operator log.
pub(crate) trait Record: Serialize + Sized + Send {
    /// The row as selected; converted to the record after reading.
    type Row: for<'r> FromRow<'r, SqliteRow>
        + for<'r> FromRow<'r, PgRow>
        + TryInto<Self, Error = StoreError>
        + Send
        + Unpin;
    /// `target_type` in the operator log, and the action prefix (`zone.delete`).
    const KIND: &'static str;
    /// `SELECT <columns> FROM <table> WHERE id = $1`.
    const BY_ID: &'static str;
    /// `SELECT <columns> FROM <table> ORDER BY id`: every record, for the loader.
    const ALL: &'static str;
    /// `SELECT <columns> FROM <table> WHERE id IN (<ids the change log names after $1>)`.
    const CHANGED: &'static str;
    /// `DELETE FROM <table> WHERE id = $1`.
    const DELETE: &'static str;
    /// The action written to the log for a delete.
    const DELETE_ACTION: &'static str;
    /// `SELECT ... WHERE ($1 IS NULL OR site_id = $1) AND ($2 IS NULL OR id > $2)
    /// ORDER BY id LIMIT $3`: a page of one site's records, or of all.
    const BY_SITE: &'static str;

    /// The record's id (its list cursor).
    fn id(&self) -> Uuid;
}

impl Db<'_> {
    /// One record of the site model by id ([`StoreError::NotFound`] when none).
    pub(crate) async fn model_record<R: Record>(self, id: Uuid) -> Result<R, StoreError> {
        let row = on!(self, |c| {
            sqlx::query_as::<_, R::Row>(R::BY_ID)
                .bind(id)
                .fetch_one(c)
                .await?
        });
        row.try_into()
    }

    /// The records of one kind the policy change log names after version `after` (see
    /// `store::policy_changes`), as they are now; one deleted since is not among them.
    pub(crate) async fn changed_model_records<R: Record>(
        self,
        after: i64,
    ) -> Result<Vec<R>, StoreError> {
        let rows = on!(self, |c| {
            sqlx::query_as::<_, R::Row>(R::CHANGED)
                .bind(after)
                .fetch_all(c)
                .await?
        });
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Every record of one kind, in creation order.
    pub(crate) async fn all_model_records<R: Record>(self) -> Result<Vec<R>, StoreError> {
        let rows = on!(self, |c| {
            sqlx::query_as::<_, R::Row>(R::ALL).fetch_all(c).await?
        });
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Refuses a change naming a site that does not exist (a 422 on `site_id`).
    pub(crate) async fn site_exists(self, site_id: Uuid) -> Result<(), ModelError> {
        let found = on!(self, |c| {
            sqlx::query("SELECT id FROM sites WHERE id = $1")
                .bind(site_id)
                .fetch_optional(c)
                .await?
                .is_some()
        });
        if found {
            Ok(())
        } else {
            Err(ModelError::invalid("site_id", "no such site"))
        }
    }

    /// Writes the operator-log entry of a change to the security model and bumps the
    /// policy version, in the transaction making the change (which then commits).
    pub(crate) async fn log_change(mut self, entry: &OperatorRow) -> Result<(), StoreError> {
        self.re().insert_log(entry).await?;
        self.bump_policy_version().await
    }
}

impl Store {
    /// One record of the site model by id.
    #[tracing::instrument(skip_all, fields(kind = R::KIND, %id))]
    pub(crate) async fn model_record<R: Record>(&self, id: Uuid) -> Result<R, StoreError> {
        on!(self.pool(), |pool| {
            Db::from(&mut *pool.acquire().await?).model_record(id).await
        })
    }

    /// Records in creation order after the cursor id, of one site or of all.
    #[tracing::instrument(skip_all, fields(kind = R::KIND))]
    pub(crate) async fn list_model_records<R: Record>(
        &self,
        site_id: Option<Uuid>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<R>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, R::Row>(R::BY_SITE)
                .bind(site_id)
                .bind(after)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?
        });
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// Deletes a record. Refused with [`StoreError::InUse`] while other records
    /// reference it (the foreign keys decide), and then nothing is written.
    #[tracing::instrument(skip_all, fields(kind = R::KIND, %id))]
    pub(crate) async fn delete_model_record<R: Record>(
        &self,
        id: Uuid,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        on!(self.write().await?, |mut tx| {
            let before: R = Db::from(&mut *tx).model_record(id).await?;
            sqlx::query(R::DELETE).bind(id).execute(&mut *tx).await?;
            let entry = NewLogEntry::new(actor, R::DELETE_ACTION, R::KIND, id, Some(&before), None);
            Db::from(&mut *tx).log_change(&entry).await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
