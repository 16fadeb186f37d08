//! Groups of people, the subjects of group grants. A group that grants still name
//! cannot be deleted.

use super::operator_log::{Actor, NewLogEntry};
use super::people_common::{Table, by_owner};
use super::{Db, ModelError, Store, StoreError, now, on};
use crate::store::stored_time::StoredTime;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeSet;
use uuid::Uuid;

/// A group and its members.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = Group)]
pub struct GroupRecord {
    pub id: Uuid,
    pub name: String,
    /// Members, ordered by id.
    #[sqlx(skip)]
    pub person_ids: Vec<Uuid>,
    #[sqlx(try_from = "StoredTime")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    pub updated_at: DateTime<Utc>,
}

/// `SELECT <GroupRecord columns> FROM person_groups <rest>`.
macro_rules! select_group {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, created_at, updated_at FROM person_groups ",
            $rest
        )
    };
}

impl Db<'_> {
    /// One group with its members ([`StoreError::NotFound`] when none).
    async fn group(self, id: Uuid) -> Result<GroupRecord, StoreError> {
        let group = on!(self, |c| {
            let group = sqlx::query_as::<_, GroupRecord>(select_group!("WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *c)
                .await?;
            let person_ids = sqlx::query_scalar::<_, Uuid>(
                "SELECT person_id FROM group_members WHERE group_id = $1 ORDER BY person_id",
            )
            .bind(id)
            .fetch_all(c)
            .await?;
            GroupRecord {
                person_ids,
                ..group
            }
        });
        Ok(group)
    }
}

impl Store {
    #[tracing::instrument(skip_all)]
    pub async fn create_group(
        &self,
        name: String,
        actor: &Actor,
    ) -> Result<GroupRecord, StoreError> {
        let at = now();
        let group = GroupRecord {
            id: Uuid::now_v7(),
            name,
            person_ids: Vec::new(),
            created_at: at,
            updated_at: at,
        };
        let entry = NewLogEntry::new(actor, "group.create", "group", group.id, None, Some(&group));
        on!(self.write().await?, |mut tx| {
            sqlx::query(
                "INSERT INTO person_groups (id, name, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4)",
            )
            .bind(group.id)
            .bind(&group.name)
            .bind(group.created_at)
            .bind(group.updated_at)
            .execute(&mut *tx)
            .await?;
            Db::from(&mut *tx).log_change(&entry).await?;
            tx.commit().await?;
        });
        Ok(group)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn group(&self, id: Uuid) -> Result<GroupRecord, StoreError> {
        let mut tx = self.read().await?;
        let group = tx.db().group(id).await?;
        tx.commit().await?;
        Ok(group)
    }

    /// Groups ordered by id (creation order), after the cursor id.
    #[tracing::instrument(skip_all)]
    pub async fn list_groups(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<GroupRecord>, StoreError> {
        let (mut groups, members) = on!(self.read().await?, |mut tx| {
            let groups = sqlx::query_as::<_, GroupRecord>(select_group!(
                "WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
            ))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            let members = sqlx::query_as::<_, (Uuid, Uuid)>(
                "SELECT group_id, person_id FROM group_members WHERE group_id IN \
                 (SELECT id FROM person_groups WHERE ($1 IS NULL OR id > $1) \
                 ORDER BY id LIMIT $2) ORDER BY person_id",
            )
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            (groups, members)
        });
        let mut by_group = by_owner(members);
        for group in &mut groups {
            group.person_ids = by_group.remove(&group.id).unwrap_or_default();
        }
        Ok(groups)
    }

    /// Replaces the members of a group. Every id must name a person (422 otherwise).
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn set_group_members(
        &self,
        id: Uuid,
        person_ids: BTreeSet<Uuid>,
        actor: &Actor,
    ) -> Result<GroupRecord, ModelError> {
        let after = on!(self.write().await?, |mut tx| {
            let before = Db::from(&mut *tx).group(id).await?;
            sqlx::query("DELETE FROM group_members WHERE group_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            for &person_id in &person_ids {
                Db::from(&mut *tx)
                    .require_row(Table::People, person_id, "person_ids")
                    .await?;
                sqlx::query("INSERT INTO group_members (group_id, person_id) VALUES ($1, $2)")
                    .bind(id)
                    .bind(person_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let after = GroupRecord {
                person_ids: person_ids.iter().copied().collect(),
                updated_at: now(),
                ..before.clone()
            };
            sqlx::query("UPDATE person_groups SET updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(after.updated_at)
                .execute(&mut *tx)
                .await?;
            let entry = NewLogEntry::new(
                actor,
                "group.set_members",
                "group",
                id,
                Some(&before),
                Some(&after),
            );
            Db::from(&mut *tx).log_change(&entry).await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }

    /// Deletes a group and its memberships; refused while a grant names the group.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn delete_group(&self, id: Uuid, actor: &Actor) -> Result<(), StoreError> {
        on!(self.write().await?, |mut tx| {
            let before = Db::from(&mut *tx).group(id).await?;
            let grants =
                sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM grants WHERE group_id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            if grants > 0 {
                return Err(StoreError::Rejected(
                    "the group is still in use by grants; delete them first",
                ));
            }
            sqlx::query("DELETE FROM group_members WHERE group_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM person_groups WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let entry = NewLogEntry::new(actor, "group.delete", "group", id, Some(&before), None);
            Db::from(&mut *tx).log_change(&entry).await?;
            tx.commit().await?;
        });
        Ok(())
    }
}
