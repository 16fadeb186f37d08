//! People (staff and contractors): kind, employer, clearance, status, with their current
//! vetting and group memberships. People are never deleted: one who leaves gets status
//! `left`, so records that name them keep meaning something.

use super::operator_log::{Actor, NewLogEntry};
use super::people_common::{MAX_BINDS, Table, by_owner};
use super::site_model::{ModelError, narrow, parse};
use super::vetting::{NewVetting, VettingRecord};
use super::{Db, Store, StoreError, now, on};
use crate::auth::permissions::{PersonClearance, PersonGroups, PersonVetting};
use crate::auth::visibility::hidden;
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Utc};
use gatehouse_core::model::{PersonKind, PersonStatus};
use serde::Serialize;
use uuid::Uuid;

/// A person, with their current vetting and groups.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = Person)]
pub struct PersonRecord {
    pub id: Uuid,
    /// HR's key for the person (the employee number), set by the bulk import or a PATCH;
    /// unique when present.
    pub external_id: Option<String>,
    pub name: String,
    pub kind: PersonKind,
    /// The company a contractor (or seconded staff member) works for.
    pub employer: Option<String>,
    /// Clearance level, compared with zone security levels. Only for roles that read the
    /// security model.
    #[serde(skip_serializing_if = "hidden::<PersonClearance, _>")]
    pub clearance: u8,
    pub status: PersonStatus,
    /// The latest vetting record; `null` when none was ever recorded. Only for roles that
    /// read the security model.
    #[serde(skip_serializing_if = "hidden::<PersonVetting, _>")]
    pub vetting: Option<VettingRecord>,
    /// Groups the person belongs to. Only for roles that read the security model.
    #[serde(skip_serializing_if = "hidden::<PersonGroups, _>")]
    pub group_ids: Vec<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl PersonRecord {
    /// The person as the decision engine sees them.
    pub fn engine(&self) -> gatehouse_core::model::Person {
        gatehouse_core::model::Person {
            id: self.id,
            kind: self.kind,
            status: self.status,
            clearance: self.clearance,
            vetting: self
                .vetting
                .as_ref()
                .map(|v| gatehouse_core::model::Vetting {
                    status: v.status,
                    cleared_until: v.cleared_until,
                }),
            group_ids: self.group_ids.as_slice().into(),
        }
    }
}

/// A new person; always created `active`, without vetting or groups.
#[derive(Debug, Clone)]
pub struct NewPerson {
    pub name: String,
    pub kind: PersonKind,
    pub employer: Option<String>,
    pub clearance: u8,
}

/// Fields that may change; `None` keeps the current value (`employer: Some(None)` clears).
#[derive(Debug, Clone, Default)]
pub struct PersonChange {
    pub external_id: Option<Option<String>>,
    pub name: Option<String>,
    pub employer: Option<Option<String>>,
    pub clearance: Option<u8>,
    pub status: Option<PersonStatus>,
}

/// A person's columns and those of their latest vetting record (all null when none).
#[derive(sqlx::FromRow)]
pub(crate) struct PersonRow {
    pub(crate) id: Uuid,
    external_id: Option<String>,
    name: String,
    kind: String,
    employer: Option<String>,
    clearance: i32,
    status: String,
    #[sqlx(try_from = "StoredTime")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    updated_at: DateTime<Utc>,
    v_id: Option<Uuid>,
    v_status: Option<String>,
    #[sqlx(try_from = "OptionalStoredTime")]
    v_cleared_until: Option<DateTime<Utc>>,
    v_reference: Option<String>,
    v_note: Option<String>,
    v_checked_by: Option<String>,
    v_checked_by_id: Option<Uuid>,
    #[sqlx(try_from = "OptionalStoredTime")]
    v_checked_at: Option<DateTime<Utc>>,
}

impl PersonRow {
    pub(crate) fn into_record(self, group_ids: Vec<Uuid>) -> Result<PersonRecord, sqlx::Error> {
        let vetting = match (
            self.v_id,
            self.v_status,
            self.v_checked_by,
            self.v_checked_at,
        ) {
            (Some(id), Some(status), Some(checked_by), Some(checked_at)) => Some(VettingRecord {
                id,
                person_id: self.id,
                status: parse(&status, "vetting status")?,
                cleared_until: self.v_cleared_until,
                reference: self.v_reference,
                note: self.v_note,
                checked_by,
                checked_by_id: self.v_checked_by_id,
                checked_at,
            }),
            _ => None,
        };
        Ok(PersonRecord {
            id: self.id,
            external_id: self.external_id,
            name: self.name,
            kind: parse(&self.kind, "person kind")?,
            employer: self.employer,
            clearance: narrow(self.clearance, "clearance")?,
            status: parse(&self.status, "person status")?,
            vetting,
            group_ids,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// `SELECT <PersonRow columns> FROM people p <joined latest vetting> <rest>`.
macro_rules! select_person {
    ($($rest:expr)?) => {
        concat!(
            "SELECT p.id, p.external_id, p.name, p.kind, p.employer, p.clearance, p.status, ",
            "p.created_at, p.updated_at, v.id AS v_id, v.status AS v_status, ",
            "v.cleared_until AS v_cleared_until, v.reference AS v_reference, v.note AS v_note, ",
            "v.checked_by AS v_checked_by, v.checked_by_id AS v_checked_by_id, ",
            "v.checked_at AS v_checked_at FROM visible_people p ",
            "LEFT JOIN visible_vetting_records v ON v.id = ",
            "(SELECT l.id FROM visible_vetting_records l WHERE l.person_id = p.id ",
            "ORDER BY l.checked_at DESC, l.id DESC LIMIT 1) ",
            $($rest)?
        )
    };
}
pub(crate) use select_person;

impl Db<'_> {
    /// One person with their vetting and groups ([`StoreError::NotFound`] when none).
    pub(crate) async fn person(self, id: Uuid) -> Result<PersonRecord, StoreError> {
        let (row, groups) = on!(self, |c| {
            let row = sqlx::query_as::<_, PersonRow>(select_person!("WHERE p.id = $1"))
                .bind(id)
                .fetch_one(&mut *c)
                .await?;
            let groups = sqlx::query_scalar::<_, Uuid>(
                "SELECT group_id FROM group_members WHERE person_id = $1 ORDER BY group_id",
            )
            .bind(id)
            .fetch_all(c)
            .await?;
            (row, groups)
        });
        Ok(row.into_record(groups)?)
    }

    /// Inserts `people` (their own columns: not vetting or groups), many per statement;
    /// rows of an import's `batch` stay invisible until it is published.
    pub(crate) async fn insert_people(
        mut self,
        people: &[&PersonRecord],
        batch: Option<Uuid>,
    ) -> Result<(), StoreError> {
        for people in people.chunks(MAX_BINDS / 10) {
            on!(self.re(), |c| {
                let mut query = sqlx::QueryBuilder::new(
                    "INSERT INTO people (id, external_id, name, kind, employer, clearance, \
                     status, created_at, updated_at, import_batch) ",
                );
                query.push_values(people, |mut row, p| {
                    row.push_bind(p.id)
                        .push_bind(&p.external_id)
                        .push_bind(&p.name)
                        .push_bind(p.kind.as_ref())
                        .push_bind(&p.employer)
                        .push_bind(i32::from(p.clearance))
                        .push_bind(p.status.as_ref())
                        .push_bind(p.created_at)
                        .push_bind(p.updated_at)
                        .push_bind(batch);
                });
                query.build().execute(c).await?;
            });
        }
        Ok(())
    }

    /// Writes the columns of `person` over its row (not vetting or groups).
    pub(crate) async fn update_person_row(self, p: &PersonRecord) -> Result<(), StoreError> {
        on!(self, |c| {
            sqlx::query(
                "UPDATE people SET external_id = $2, name = $3, kind = $4, employer = $5, \
                 clearance = $6, status = $7, updated_at = $8 WHERE id = $1",
            )
            .bind(p.id)
            .bind(&p.external_id)
            .bind(&p.name)
            .bind(p.kind.as_ref())
            .bind(&p.employer)
            .bind(i32::from(p.clearance))
            .bind(p.status.as_ref())
            .bind(p.updated_at)
            .execute(c)
            .await?;
        });
        Ok(())
    }
}

/// The page filter of [`Store::list_people`]: `$1` cursor, `$2` name pattern, `$3` limit.
macro_rules! people_page {
    () => {
        "WHERE ($1 IS NULL OR p.id > $1) AND ($2 IS NULL OR LOWER(p.name) LIKE $2 ESCAPE '\\') \
         ORDER BY p.id LIMIT $3"
    };
}

/// The people of `rows` with the groups in `members` (person → group pairs).
pub(crate) fn attach_groups(
    rows: Vec<PersonRow>,
    members: Vec<(Uuid, Uuid)>,
) -> Result<Vec<PersonRecord>, sqlx::Error> {
    let mut groups = by_owner(members);
    rows.into_iter()
        .map(|row| {
            let ids = groups.remove(&row.id).unwrap_or_default();
            row.into_record(ids)
        })
        .collect()
}

/// A `LIKE` pattern matching names that contain `q`, case-insensitively.
pub(crate) fn contains_pattern(q: &str) -> String {
    let mut pattern = String::from("%");
    for c in q.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_person(
        &self,
        new: NewPerson,
        actor: &Actor,
    ) -> Result<PersonRecord, StoreError> {
        let at = now();
        let person = PersonRecord {
            id: Uuid::now_v7(),
            external_id: None,
            name: new.name,
            kind: new.kind,
            employer: new.employer,
            clearance: new.clearance,
            status: PersonStatus::Active,
            vetting: None,
            group_ids: Vec::new(),
            created_at: at,
            updated_at: at,
        };
        let entry = NewLogEntry::new(
            actor,
            "person.create",
            "person",
            person.id,
            None,
            Some(&person),
        );
        let mut tx = self.write().await?;
        tx.db().insert_people(&[&person], None).await?;
        tx.db().log_change(&entry).await?;
        tx.commit().await?;
        Ok(person)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn person(&self, id: Uuid) -> Result<PersonRecord, StoreError> {
        let mut tx = self.read().await?;
        let person = tx.db().person(id).await?;
        tx.commit().await?;
        Ok(person)
    }

    /// People ordered by id (creation order) after the cursor; `name_contains` filters
    /// by name, ignoring case (on SQLite, case of ASCII letters only).
    #[tracing::instrument(skip_all)]
    pub async fn list_people(
        &self,
        after: Option<Uuid>,
        name_contains: Option<&str>,
        limit: u32,
    ) -> Result<Vec<PersonRecord>, StoreError> {
        let pattern = name_contains.map(contains_pattern);
        let (rows, memberships) = on!(self.read().await?, |mut tx| {
            let rows = sqlx::query_as::<_, PersonRow>(select_person!(people_page!()))
                .bind(after)
                .bind(&pattern)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            let memberships = sqlx::query_as::<_, (Uuid, Uuid)>(concat!(
                "SELECT person_id, group_id FROM group_members WHERE person_id IN ",
                "(SELECT p.id FROM visible_people p ",
                people_page!(),
                ") ORDER BY group_id"
            ))
            .bind(after)
            .bind(&pattern)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            (rows, memberships)
        });
        Ok(attach_groups(rows, memberships)?)
    }

    /// Changes a person's HR key, name, employer, clearance or status (a taken
    /// `external_id` is a conflict).
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn update_person(
        &self,
        id: Uuid,
        change: PersonChange,
        actor: &Actor,
    ) -> Result<PersonRecord, StoreError> {
        let mut tx = self.write().await?;
        let before = tx.db().person(id).await?;
        let after = PersonRecord {
            external_id: change
                .external_id
                .unwrap_or_else(|| before.external_id.clone()),
            name: change.name.unwrap_or_else(|| before.name.clone()),
            employer: change.employer.unwrap_or_else(|| before.employer.clone()),
            clearance: change.clearance.unwrap_or(before.clearance),
            status: change.status.unwrap_or(before.status),
            updated_at: now(),
            ..before.clone()
        };
        tx.db().update_person_row(&after).await?;
        let entry = NewLogEntry::new(
            actor,
            "person.update",
            "person",
            id,
            Some(&before),
            Some(&after),
        );
        tx.db().log_change(&entry).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Appends a vetting record for a person (checked by `actor`, now) and returns the
    /// person with it as their current vetting.
    #[tracing::instrument(skip_all, fields(%person_id))]
    pub async fn record_vetting(
        &self,
        person_id: Uuid,
        new: NewVetting,
        actor: &Actor,
    ) -> Result<PersonRecord, StoreError> {
        let record = VettingRecord::checked(person_id, new, actor);
        let mut tx = self.write().await?;
        let before = tx.db().person(person_id).await?;
        tx.db().insert_vetting(&[&record], None).await?;
        let entry = NewLogEntry::new(
            actor,
            "person.vetting",
            "person",
            person_id,
            before.vetting.as_ref(),
            Some(&record),
        );
        tx.db().log_change(&entry).await?;
        tx.commit().await?;
        Ok(PersonRecord {
            vetting: Some(record),
            ..before
        })
    }
}

impl Store {
    /// Where a host is told their visitors arrived (`None`: no address on record).
    #[tracing::instrument(skip_all, fields(%person_id))]
    pub async fn person_email(&self, person_id: Uuid) -> Result<Option<String>, StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query_scalar::<_, Option<String>>("SELECT email FROM people WHERE id = $1")
                .bind(person_id)
                .fetch_one(pool)
                .await
                .map_err(StoreError::from)
        })
    }

    /// Sets (or clears) a person's email address. Logged as `person.email`.
    #[tracing::instrument(skip_all, fields(%person_id))]
    pub async fn set_person_email(
        &self,
        person_id: Uuid,
        email: Option<String>,
        actor: &Actor,
    ) -> Result<(), ModelError> {
        on!(self.write().await?, |mut tx| {
            Db::from(&mut *tx)
                .require_row(Table::People, person_id, "person_id")
                .await?;
            let before =
                sqlx::query_scalar::<_, Option<String>>("SELECT email FROM people WHERE id = $1")
                    .bind(person_id)
                    .fetch_one(&mut *tx)
                    .await?;
            sqlx::query("UPDATE people SET email = $2 WHERE id = $1")
                .bind(person_id)
                .bind(&email)
                .execute(&mut *tx)
                .await?;
            let (before, after) = (
                serde_json::json!({"email": before}),
                serde_json::json!({"email": email}),
            );
            let entry = NewLogEntry::new(
                actor,
                "person.email",
                "person",
                person_id,
                Some(&before),
                Some(&after),
            );
            Db::from(&mut *tx).insert_log(&entry).await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
