//! Doors: a portal from one zone into another of the same site. Entry readers lead into
//! `to_zone_id`, exit readers lead out of it back into `from_zone_id`.

use super::operator_log::{Actor, NewLogEntry};
use super::policy_changes::changed_since;
use super::site_model::{ModelError, Record, narrow, parse};
use super::{Db, Store, StoreError, now, on};
use crate::store::stored_time::StoredTime;
use chrono::{DateTime, Utc};
use gatehouse_core::model::{Door, DoorMode};
use serde::Serialize;
use uuid::Uuid;

/// A door as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DoorRecord {
    pub id: Uuid,
    /// The site of both zones.
    pub site_id: Uuid,
    pub name: String,
    /// The zone on the outside.
    pub from_zone_id: Uuid,
    /// The zone an entry leads into.
    pub to_zone_id: Uuid,
    pub mode: DoorMode,
    /// How long the lock releases on a grant, in milliseconds.
    pub unlock_ms: u32,
    /// How long the door may stand open before it alarms, in milliseconds.
    pub held_open_ms: u32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A new door; its site is the site of its zones.
pub struct NewDoor {
    pub name: String,
    pub from_zone_id: Uuid,
    pub to_zone_id: Uuid,
    pub mode: DoorMode,
    pub unlock_ms: u32,
    pub held_open_ms: u32,
}

/// Fields of a door that may change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct DoorChange {
    pub name: Option<String>,
    pub from_zone_id: Option<Uuid>,
    pub to_zone_id: Option<Uuid>,
    pub mode: Option<DoorMode>,
    pub unlock_ms: Option<u32>,
    pub held_open_ms: Option<u32>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct DoorRow {
    id: Uuid,
    site_id: Uuid,
    name: String,
    from_zone_id: Uuid,
    to_zone_id: Uuid,
    mode: String,
    unlock_ms: i64,
    held_open_ms: i64,
    #[sqlx(try_from = "StoredTime")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    updated_at: DateTime<Utc>,
}

impl TryFrom<DoorRow> for DoorRecord {
    type Error = StoreError;

    fn try_from(row: DoorRow) -> Result<Self, StoreError> {
        let mode = parse(&row.mode, "door mode")?;
        Ok(DoorRecord {
            id: row.id,
            site_id: row.site_id,
            name: row.name,
            from_zone_id: row.from_zone_id,
            to_zone_id: row.to_zone_id,
            mode,
            unlock_ms: narrow(row.unlock_ms, "unlock time")?,
            held_open_ms: narrow(row.held_open_ms, "held-open time")?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl DoorRecord {
    /// The door in the decision engine's terms.
    pub fn to_model(self) -> Door {
        Door {
            id: self.id,
            site_id: self.site_id,
            from_zone_id: self.from_zone_id,
            to_zone_id: self.to_zone_id,
            mode: self.mode,
            unlock_ms: self.unlock_ms,
            held_open_ms: self.held_open_ms,
        }
    }
}

macro_rules! select_door {
    ($rest:expr) => {
        concat!(
            "SELECT id, site_id, name, from_zone_id, to_zone_id, mode, unlock_ms, held_open_ms, ",
            "created_at, updated_at FROM doors ",
            $rest
        )
    };
}

impl Record for DoorRecord {
    type Row = DoorRow;
    const KIND: &'static str = "door";
    const BY_ID: &'static str = select_door!("WHERE id = $1");
    const ALL: &'static str = select_door!("ORDER BY id");
    const CHANGED: &'static str = select_door!(changed_since!("door"));
    const DELETE: &'static str = "DELETE FROM doors WHERE id = $1";
    const DELETE_ACTION: &'static str = "door.delete";
    const BY_SITE: &'static str = select_door!(
        "WHERE ($1 IS NULL OR site_id = $1) AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
    );

    fn id(&self) -> Uuid {
        self.id
    }
}

const INSERT: &str = "INSERT INTO doors (id, site_id, name, from_zone_id, to_zone_id, mode, \
    unlock_ms, held_open_ms, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const UPDATE: &str = "UPDATE doors SET site_id = $2, name = $3, from_zone_id = $4, \
    to_zone_id = $5, mode = $6, unlock_ms = $7, held_open_ms = $8, created_at = $9, \
    updated_at = $10 WHERE id = $1";

impl Db<'_> {
    /// Writes every column of `door` with `sql` ([`INSERT`] or [`UPDATE`], which take
    /// them in the same order).
    async fn put_door(self, sql: &'static str, door: &DoorRecord) -> Result<(), StoreError> {
        on!(self, |c| {
            sqlx::query(sql)
                .bind(door.id)
                .bind(door.site_id)
                .bind(&door.name)
                .bind(door.from_zone_id)
                .bind(door.to_zone_id)
                .bind(door.mode.as_ref())
                .bind(i64::from(door.unlock_ms))
                .bind(i64::from(door.held_open_ms))
                .bind(door.created_at)
                .bind(door.updated_at)
                .execute(c)
                .await?;
        });
        Ok(())
    }

    /// The site of the door's zones, read inside the writing transaction. Refused when a
    /// zone is unknown, the zones are on different sites, or they are the same zone.
    async fn door_site(mut self, door: &DoorRecord) -> Result<Uuid, ModelError> {
        let mut sites = Vec::with_capacity(2);
        for (field, zone_id) in [
            ("from_zone_id", door.from_zone_id),
            ("to_zone_id", door.to_zone_id),
        ] {
            let site = on!(self.re(), |c| {
                sqlx::query_scalar::<_, Uuid>("SELECT site_id FROM zones WHERE id = $1")
                    .bind(zone_id)
                    .fetch_optional(c)
                    .await?
            });
            sites.push(site.ok_or(ModelError::invalid(field, "no such zone"))?);
        }
        if door.from_zone_id == door.to_zone_id {
            return Err(ModelError::invalid(
                "to_zone_id",
                "must differ from from_zone_id",
            ));
        }
        if sites[0] != sites[1] {
            return Err(ModelError::invalid(
                "to_zone_id",
                "is on another site than from_zone_id",
            ));
        }
        Ok(sites[0])
    }
}

impl Store {
    /// Creates a door between two different zones of one site.
    #[tracing::instrument(skip_all)]
    pub async fn create_door(&self, new: NewDoor, actor: &Actor) -> Result<DoorRecord, ModelError> {
        let at = now();
        let mut door = DoorRecord {
            id: Uuid::now_v7(),
            site_id: Uuid::nil(),
            name: new.name,
            from_zone_id: new.from_zone_id,
            to_zone_id: new.to_zone_id,
            mode: new.mode,
            unlock_ms: new.unlock_ms,
            held_open_ms: new.held_open_ms,
            created_at: at,
            updated_at: at,
        };
        let mut tx = self.write().await?;
        door.site_id = tx.db().door_site(&door).await?;
        tx.db().put_door(INSERT, &door).await?;
        let entry = NewLogEntry::new(actor, "door.create", "door", door.id, None, Some(&door));
        tx.db().log_change(&entry).await?;
        tx.commit().await?;
        Ok(door)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn door(&self, id: Uuid) -> Result<DoorRecord, StoreError> {
        self.model_record(id).await
    }

    /// Doors in creation order after the cursor id; of one site, and leading into or out
    /// of one zone, when given.
    #[tracing::instrument(skip_all)]
    pub async fn list_doors(
        &self,
        site_id: Option<Uuid>,
        zone_id: Option<Uuid>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<DoorRecord>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, DoorRow>(select_door!(
                "WHERE ($1 IS NULL OR site_id = $1) \
                 AND ($2 IS NULL OR from_zone_id = $2 OR to_zone_id = $2) \
                 AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4"
            ))
            .bind(site_id)
            .bind(zone_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(DoorRecord::try_from).collect()
    }

    /// Changes a door; new zones obey the rules of [`Store::create_door`].
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn update_door(
        &self,
        id: Uuid,
        change: DoorChange,
        actor: &Actor,
    ) -> Result<DoorRecord, ModelError> {
        let mut tx = self.write().await?;
        let before: DoorRecord = tx.db().model_record(id).await?;
        let mut after = DoorRecord {
            name: change.name.unwrap_or_else(|| before.name.clone()),
            from_zone_id: change.from_zone_id.unwrap_or(before.from_zone_id),
            to_zone_id: change.to_zone_id.unwrap_or(before.to_zone_id),
            mode: change.mode.unwrap_or(before.mode),
            unlock_ms: change.unlock_ms.unwrap_or(before.unlock_ms),
            held_open_ms: change.held_open_ms.unwrap_or(before.held_open_ms),
            updated_at: now(),
            ..before.clone()
        };
        after.site_id = tx.db().door_site(&after).await?;
        tx.db().put_door(UPDATE, &after).await?;
        let entry = NewLogEntry::new(
            actor,
            "door.update",
            "door",
            id,
            Some(&before),
            Some(&after),
        );
        tx.db().log_change(&entry).await?;
        tx.commit().await?;
        Ok(after)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn delete_door(&self, id: Uuid, actor: &Actor) -> Result<(), StoreError> {
        self.delete_model_record::<DoorRecord>(id, actor).await
    }
}
