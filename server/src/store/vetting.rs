//! Vetting (background-check) records: append-only history per person, the newest being
//! the person's current vetting. Recording one is a change of the security model, made
//! through the person ([`Store::record_vetting`]).

use super::operator_log::Actor;
use super::people_common::{MAX_BINDS, Table};
use super::site_model::parse;
use super::{Db, Store, StoreError, now, on};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Utc};
use gatehouse_core::model::VettingStatus;
use serde::Serialize;
use uuid::Uuid;

/// One vetting decision, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VettingRecord {
    pub id: Uuid,
    pub person_id: Uuid,
    pub status: VettingStatus,
    /// End of the clearance (exclusive); `null` = no end. Only with status `cleared`.
    pub cleared_until: Option<DateTime<Utc>>,
    /// The check's reference, e.g. a case number at the vetting agency.
    pub reference: Option<String>,
    pub note: Option<String>,
    /// Username of the operator who recorded it (or `cli` / `system`).
    pub checked_by: String,
    pub checked_by_id: Option<Uuid>,
    pub checked_at: DateTime<Utc>,
}

/// A vetting decision about to be recorded.
#[derive(Debug, Clone)]
pub struct NewVetting {
    pub status: VettingStatus,
    pub cleared_until: Option<DateTime<Utc>>,
    pub reference: Option<String>,
    pub note: Option<String>,
}

#[derive(sqlx::FromRow)]
struct VettingRow {
    id: Uuid,
    person_id: Uuid,
    status: String,
    #[sqlx(try_from = "OptionalStoredTime")]
    cleared_until: Option<DateTime<Utc>>,
    reference: Option<String>,
    note: Option<String>,
    checked_by: String,
    checked_by_id: Option<Uuid>,
    #[sqlx(try_from = "StoredTime")]
    checked_at: DateTime<Utc>,
}

impl TryFrom<VettingRow> for VettingRecord {
    type Error = sqlx::Error;

    fn try_from(row: VettingRow) -> Result<Self, Self::Error> {
        Ok(VettingRecord {
            id: row.id,
            person_id: row.person_id,
            status: parse(&row.status, "vetting status")?,
            cleared_until: row.cleared_until,
            reference: row.reference,
            note: row.note,
            checked_by: row.checked_by,
            checked_by_id: row.checked_by_id,
            checked_at: row.checked_at,
        })
    }
}

impl Db<'_> {
    /// Appends `records` to the vetting history, many per statement.
    pub(crate) async fn insert_vetting(
        mut self,
        records: &[&VettingRecord],
        batch: Option<Uuid>,
    ) -> Result<(), StoreError> {
        for records in records.chunks(MAX_BINDS / 10) {
            on!(self.re(), |c| {
                let mut query = sqlx::QueryBuilder::new(
                    "INSERT INTO vetting_records (id, person_id, status, cleared_until, \
                     reference, note, checked_by, checked_by_id, checked_at, import_batch) ",
                );
                query.push_values(records, |mut row, r| {
                    row.push_bind(r.id)
                        .push_bind(r.person_id)
                        .push_bind(r.status.as_ref())
                        .push_bind(r.cleared_until)
                        .push_bind(&r.reference)
                        .push_bind(&r.note)
                        .push_bind(&r.checked_by)
                        .push_bind(r.checked_by_id)
                        .push_bind(r.checked_at)
                        .push_bind(batch);
                });
                query.build().execute(c).await?;
            });
        }
        Ok(())
    }
}

impl VettingRecord {
    /// A record of `new` about `person_id`, checked by `actor` now.
    pub(crate) fn checked(person_id: Uuid, new: NewVetting, actor: &Actor) -> VettingRecord {
        VettingRecord {
            id: Uuid::now_v7(),
            person_id,
            status: new.status,
            cleared_until: new.cleared_until,
            reference: new.reference,
            note: new.note,
            checked_by: actor.name.clone(),
            checked_by_id: actor.id,
            checked_at: now(),
        }
    }
}

impl Store {
    /// Every vetting record of a person, newest first.
    #[tracing::instrument(skip_all, fields(%person_id))]
    pub async fn vetting_history(&self, person_id: Uuid) -> Result<Vec<VettingRecord>, StoreError> {
        const SQL: &str = concat!(
            "SELECT id, person_id, status, cleared_until, reference, note, checked_by, ",
            "checked_by_id, checked_at FROM visible_vetting_records WHERE person_id = $1 ",
            "ORDER BY checked_at DESC, id DESC"
        );
        let mut tx = self.read().await?;
        if !tx.db().exists(Table::People, person_id).await? {
            return Err(StoreError::NotFound);
        }
        let rows = on!(tx.db(), |c| {
            sqlx::query_as::<_, VettingRow>(SQL)
                .bind(person_id)
                .fetch_all(c)
                .await?
        });
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(VettingRecord::try_from)
            .collect::<Result<_, _>>()?)
    }
}
