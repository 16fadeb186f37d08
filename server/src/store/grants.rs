//! Grants: a person or a group may enter a zone (and its descendants of the same or
//! lower level), optionally on a schedule and within a validity period. Deleting a grant
//! takes the access away; both are logged.

use super::credentials::WINDOW;
use super::operator_log::{Actor, NewLogEntry};
use super::people_common::{Table, window_ok};
use super::{Db, ModelError, Store, StoreError, now, on};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Utc};
use gatehouse_core::model::Subject;
use serde::Serialize;
use uuid::Uuid;

/// A grant as stored and served: exactly one of `person_id` and `group_id` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = Grant)]
pub struct GrantRecord {
    pub id: Uuid,
    pub person_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
    pub zone_id: Uuid,
    /// When the grant applies; `null` = at all times.
    pub schedule_id: Option<Uuid>,
    /// Start of validity (inclusive).
    #[sqlx(try_from = "OptionalStoredTime")]
    pub valid_from: Option<DateTime<Utc>>,
    /// End of validity (exclusive).
    #[sqlx(try_from = "OptionalStoredTime")]
    pub valid_until: Option<DateTime<Utc>>,
    #[sqlx(try_from = "StoredTime")]
    pub created_at: DateTime<Utc>,
}

impl GrantRecord {
    /// The grant as the decision engine sees it; `None` if the row names no subject.
    pub fn engine(&self) -> Option<gatehouse_core::model::Grant> {
        let subject = match (self.person_id, self.group_id) {
            (Some(person), None) => Subject::Person(person),
            (None, Some(group)) => Subject::Group(group),
            _ => return None,
        };
        Some(gatehouse_core::model::Grant {
            id: self.id,
            subject,
            zone_id: self.zone_id,
            schedule_id: self.schedule_id,
            valid_from: self.valid_from,
            valid_until: self.valid_until,
        })
    }
}

/// A grant to create.
#[derive(Debug, Clone)]
pub struct NewGrant {
    pub subject: Subject,
    pub zone_id: Uuid,
    pub schedule_id: Option<Uuid>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

/// Which grants to list; every given field must match.
#[derive(Debug, Clone, Default)]
pub struct GrantFilter {
    pub person_id: Option<Uuid>,
    pub group_id: Option<Uuid>,
    pub zone_id: Option<Uuid>,
}

/// `SELECT <GrantRecord columns> FROM grants <rest>`.
macro_rules! select_grant {
    ($rest:expr) => {
        concat!(
            "SELECT id, person_id, group_id, zone_id, schedule_id, valid_from, valid_until, ",
            "created_at FROM grants ",
            $rest
        )
    };
}
pub(crate) use select_grant;

impl Db<'_> {
    /// One grant ([`StoreError::NotFound`] when none).
    async fn grant(self, id: Uuid) -> Result<GrantRecord, StoreError> {
        let grant = on!(self, |c| {
            sqlx::query_as::<_, GrantRecord>(select_grant!("WHERE id = $1"))
                .bind(id)
                .fetch_one(c)
                .await?
        });
        Ok(grant)
    }
}

impl Store {
    /// Creates a grant; every id it names must exist (422 naming the field).
    #[tracing::instrument(skip_all)]
    pub async fn create_grant(
        &self,
        new: NewGrant,
        actor: &Actor,
    ) -> Result<GrantRecord, ModelError> {
        if !window_ok(new.valid_from, new.valid_until) {
            return Err(ModelError::invalid("valid_until", WINDOW));
        }
        let (person_id, group_id) = match new.subject {
            Subject::Person(id) => (Some(id), None),
            Subject::Group(id) => (None, Some(id)),
        };
        let grant = GrantRecord {
            id: Uuid::now_v7(),
            person_id,
            group_id,
            zone_id: new.zone_id,
            schedule_id: new.schedule_id,
            valid_from: new.valid_from,
            valid_until: new.valid_until,
            created_at: now(),
        };
        let entry = NewLogEntry::new(actor, "grant.create", "grant", grant.id, None, Some(&grant));
        let (table, subject_id, field) = match new.subject {
            Subject::Person(id) => (Table::People, id, "person_id"),
            Subject::Group(id) => (Table::Groups, id, "group_id"),
        };
        on!(self.write().await?, |mut tx| {
            Db::from(&mut *tx)
                .require_row(table, subject_id, field)
                .await?;
            Db::from(&mut *tx)
                .require_row(Table::Zones, grant.zone_id, "zone_id")
                .await?;
            if let Some(schedule_id) = grant.schedule_id {
                Db::from(&mut *tx)
                    .require_row(Table::Schedules, schedule_id, "schedule_id")
                    .await?;
            }
            sqlx::query(
                "INSERT INTO grants (id, person_id, group_id, zone_id, schedule_id, valid_from, \
                 valid_until, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            )
            .bind(grant.id)
            .bind(grant.person_id)
            .bind(grant.group_id)
            .bind(grant.zone_id)
            .bind(grant.schedule_id)
            .bind(grant.valid_from)
            .bind(grant.valid_until)
            .bind(grant.created_at)
            .execute(&mut *tx)
            .await?;
            Db::from(&mut *tx).log_change(&entry).await?;
            tx.commit().await?;
        });
        Ok(grant)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn grant(&self, id: Uuid) -> Result<GrantRecord, StoreError> {
        on!(self.pool(), |pool| {
            Db::from(&mut *pool.acquire().await?).grant(id).await
        })
    }

    /// Grants ordered by id (creation order) after the cursor, filtered.
    #[tracing::instrument(skip_all)]
    pub async fn list_grants(
        &self,
        filter: GrantFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<GrantRecord>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, GrantRecord>(select_grant!(
                "WHERE ($1 IS NULL OR person_id = $1) AND ($2 IS NULL OR group_id = $2) \
                 AND ($3 IS NULL OR zone_id = $3) AND ($4 IS NULL OR id > $4) ORDER BY id LIMIT $5"
            ))
            .bind(filter.person_id)
            .bind(filter.group_id)
            .bind(filter.zone_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Deletes a grant; the access it gave ends with the next policy.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn delete_grant(&self, id: Uuid, actor: &Actor) -> Result<(), StoreError> {
        on!(self.write().await?, |mut tx| {
            let before = Db::from(&mut *tx).grant(id).await?;
            sqlx::query("DELETE FROM grants WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let entry = NewLogEntry::new(actor, "grant.delete", "grant", id, Some(&before), None);
            Db::from(&mut *tx).log_change(&entry).await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
