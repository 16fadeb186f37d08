//! What the site model stores (sites, zones, doors, schedules) share: the error that
//! names a bad input field, reading and deleting any of their records, and loading the
//! whole model in the decision engine's types for the policy compiler.
//!
//! Every change is one transaction holding the change, its operator-log entry and a bump
//! of the policy version; a refused change rolls back all three.

use super::operator_log::{Actor, NewLogEntry};
use super::{DoorRecord, ScheduleRecord, SiteRecord, Store, StoreError, ZoneRecord, on};
use gatehouse_core::model::{Door, Schedule, Site, Zone};
use serde::Serialize;
use sqlx::FromRow;
use sqlx::postgres::PgRow;
use sqlx::sqlite::SqliteRow;
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
pub(super) fn corrupt(what: &str) -> StoreError {
    StoreError::Database(sqlx::Error::Decode(
        format!("stored {what} is out of range").into(),
    ))
}

/// A stored integer as the narrower type the model uses.
pub(super) fn narrow<T: TryFrom<i64>>(value: impl Into<i64>, what: &str) -> Result<T, StoreError> {
    T::try_from(value.into()).map_err(|_| corrupt(what))
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

/// Reads one record by id within `$executor` (a pool or a transaction).
macro_rules! fetch_record {
    ($ty:ty, $executor:expr, $id:expr) => {{
        let row = sqlx::query_as::<_, <$ty as $crate::store::site_model::Record>::Row>(
            <$ty as $crate::store::site_model::Record>::BY_ID,
        )
        .bind($id)
        .fetch_one($executor)
        .await?;
        let record: $ty = row.try_into()?;
        record
    }};
}
pub(super) use fetch_record;

/// Returns a 422 on `site_id` from the function unless the site exists (checked in the
/// writing transaction `$tx`).
macro_rules! site_exists {
    ($tx:ident, $site_id:expr) => {
        let found = sqlx::query("SELECT id FROM sites WHERE id = $1")
            .bind($site_id)
            .fetch_optional(&mut *$tx)
            .await?;
        if found.is_none() {
            return Err($crate::store::site_model::ModelError::invalid(
                "site_id",
                "no such site",
            ));
        }
    };
}
pub(super) use site_exists;

/// Writes the log entry and bumps the policy version in `$tx`, then commits.
macro_rules! commit_change {
    ($tx:ident, $entry:expr) => {{
        $crate::store::operator_log::insert_log!(&mut *$tx, $entry);
        $crate::store::bump_policy_version!(&mut *$tx);
        $tx.commit().await?;
    }};
}
pub(super) use commit_change;

impl Store {
    /// One record of the site model by id.
    pub(crate) async fn model_record<R: Record>(&self, id: Uuid) -> Result<R, StoreError> {
        let record = on!(self.pool(), |pool| fetch_record!(R, pool, id));
        Ok(record)
    }

    /// Records in creation order after the cursor id, of one site or of all.
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
    pub(crate) async fn delete_model_record<R: Record>(
        &self,
        id: Uuid,
        actor: &Actor,
    ) -> Result<(), StoreError> {
        on!(self.write().await?, |mut tx| {
            let before = fetch_record!(R, &mut *tx, id);
            sqlx::query(R::DELETE).bind(id).execute(&mut *tx).await?;
            let entry = NewLogEntry::new(actor, R::DELETE_ACTION, R::KIND, id, Some(&before), None);
            commit_change!(tx, entry);
        });
        Ok(())
    }

    /// The whole site model in the decision engine's types, read in one transaction so
    /// the four lists are consistent with each other (the policy compiler's input).
    pub async fn load_site_model(
        &self,
    ) -> Result<(Vec<Site>, Vec<Zone>, Vec<Door>, Vec<Schedule>), StoreError> {
        let (sites, zones, doors, schedules) = on!(self.read().await?, |mut tx| {
            let sites = sqlx::query_as::<_, <SiteRecord as Record>::Row>(super::sites::SELECT_ALL)
                .fetch_all(&mut *tx)
                .await?;
            let zones = sqlx::query_as::<_, <ZoneRecord as Record>::Row>(super::zones::SELECT_ALL)
                .fetch_all(&mut *tx)
                .await?;
            let doors = sqlx::query_as::<_, <DoorRecord as Record>::Row>(super::doors::SELECT_ALL)
                .fetch_all(&mut *tx)
                .await?;
            let schedules =
                sqlx::query_as::<_, <ScheduleRecord as Record>::Row>(super::schedules::SELECT_ALL)
                    .fetch_all(&mut *tx)
                    .await?;
            tx.commit().await?;
            (sites, zones, doors, schedules)
        });
        Ok((
            convert(sites, SiteRecord::to_model)?,
            convert(zones, |z: ZoneRecord| Ok(z.to_model()))?,
            convert(doors, |d: DoorRecord| Ok(d.to_model()))?,
            convert(schedules, |s: ScheduleRecord| Ok(s.to_model()))?,
        ))
    }
}

fn convert<R: Record, M>(
    rows: Vec<R::Row>,
    to_model: impl Fn(R) -> Result<M, StoreError>,
) -> Result<Vec<M>, StoreError> {
    rows.into_iter()
        .map(|row| row.try_into().and_then(&to_model))
        .collect()
}
