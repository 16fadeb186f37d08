//! Zones: the tree of security zones of a site, each with its security level and the
//! flags the decision engine applies at its doors. A zone's parent is on the same site
//! (the database enforces it too) and the tree never has a cycle.

use super::operator_log::{Actor, NewLogEntry};
use super::policy_changes::changed_since;
use super::site_model::{ModelError, Record, narrow, parse};
use super::{Db, Store, StoreError, now, on};
use crate::store::stored_time::StoredTime;
use chrono::{DateTime, Utc};
use gatehouse_core::model::{AntiPassback, Assurance, Zone};
use serde::Serialize;
use std::ops::RangeInclusive;
use uuid::Uuid;

/// How deep the zone tree may go; deeper means a cycle in damaged data.
const MAX_DEPTH: usize = 1000;

/// A zone as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ZoneRecord {
    pub id: Uuid,
    pub site_id: Uuid,
    /// The enclosing zone; absent for a root zone.
    pub parent_id: Option<Uuid>,
    pub name: String,
    /// Security level: 0 = public, higher = more sensitive.
    pub level: u8,
    #[serde(flatten)]
    pub rules: ZoneRules,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The flags of a zone the decision engine applies.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ZoneRules {
    /// Entry needs a vetting cleared at the time of entry.
    pub vetting_required: bool,
    /// Visitors whose visit requires an escort wait for one here.
    pub escort_required: bool,
    /// Entry needs two different authorised people at the door.
    pub two_person: bool,
    /// Entry needs card and PIN.
    pub pin_required: bool,
    pub anti_passback: AntiPassback,
    /// After this many seconds inside, re-entry no longer counts as passback.
    pub anti_passback_timeout_s: Option<u32>,
    /// How many holders may be inside at once (this zone and the zones within it); the
    /// decision engine refuses an entry beyond it (`zone_full`). Within
    /// [`ZoneRules::MAX_OCCUPANCY`]; `None`: no limit.
    pub max_occupancy: Option<u32>,
    /// The weakest card entry accepts: `secure` refuses UID cards
    /// (`assurance_insufficient`). The site's threat level may raise it.
    pub min_assurance: Assurance,
}

impl ZoneRules {
    /// The limits a zone's `max_occupancy` may take (the database refuses others too).
    pub const MAX_OCCUPANCY: RangeInclusive<u32> = 1..=1_000_000;
}

/// Refuses a `max_occupancy` outside [`ZoneRules::MAX_OCCUPANCY`]: 0 would shut the zone
/// to everyone, which is what door mode `locked` is for.
fn check_occupancy(limit: Option<u32>) -> Result<(), ModelError> {
    match limit {
        Some(n) if !ZoneRules::MAX_OCCUPANCY.contains(&n) => Err(ModelError::invalid(
            "max_occupancy",
            "must be between 1 and 1000000",
        )),
        _ => Ok(()),
    }
}

/// A new zone.
pub struct NewZone {
    pub site_id: Uuid,
    pub parent_id: Option<Uuid>,
    pub name: String,
    pub level: u8,
    pub rules: ZoneRules,
}

/// Fields of a zone that may change; `None` keeps the current value, `Some(None)`
/// clears an optional one (`parent_id: Some(None)` makes the zone a root).
#[derive(Debug, Default)]
pub struct ZoneChange {
    pub parent_id: Option<Option<Uuid>>,
    pub name: Option<String>,
    pub level: Option<u8>,
    pub vetting_required: Option<bool>,
    pub escort_required: Option<bool>,
    pub two_person: Option<bool>,
    pub pin_required: Option<bool>,
    pub anti_passback: Option<AntiPassback>,
    pub anti_passback_timeout_s: Option<Option<u32>>,
    pub max_occupancy: Option<Option<u32>>,
    pub min_assurance: Option<Assurance>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct ZoneRow {
    id: Uuid,
    site_id: Uuid,
    parent_id: Option<Uuid>,
    name: String,
    level: i32,
    vetting_required: bool,
    escort_required: bool,
    two_person: bool,
    pin_required: bool,
    anti_passback: String,
    anti_passback_timeout_s: Option<i64>,
    max_occupancy: Option<i64>,
    min_assurance: String,
    #[sqlx(try_from = "StoredTime")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    updated_at: DateTime<Utc>,
}

impl TryFrom<ZoneRow> for ZoneRecord {
    type Error = StoreError;

    fn try_from(row: ZoneRow) -> Result<Self, StoreError> {
        let anti_passback = parse(&row.anti_passback, "anti-passback mode")?;
        let min_assurance = parse(&row.min_assurance, "minimum assurance")?;
        let optional = |v: Option<i64>, what| v.map(|v| narrow(v, what)).transpose();
        Ok(ZoneRecord {
            id: row.id,
            site_id: row.site_id,
            parent_id: row.parent_id,
            name: row.name,
            level: narrow(row.level, "zone level")?,
            rules: ZoneRules {
                vetting_required: row.vetting_required,
                escort_required: row.escort_required,
                two_person: row.two_person,
                pin_required: row.pin_required,
                anti_passback,
                anti_passback_timeout_s: optional(row.anti_passback_timeout_s, "timeout")?,
                max_occupancy: optional(row.max_occupancy, "max occupancy")?,
                min_assurance,
            },
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl ZoneRecord {
    /// The zone in the decision engine's terms.
    pub fn to_model(self) -> Zone {
        let rules = self.rules;
        Zone {
            id: self.id,
            site_id: self.site_id,
            parent_id: self.parent_id,
            level: self.level,
            vetting_required: rules.vetting_required,
            escort_required: rules.escort_required,
            two_person: rules.two_person,
            pin_required: rules.pin_required,
            anti_passback: rules.anti_passback,
            anti_passback_timeout_s: rules.anti_passback_timeout_s,
            max_occupancy: rules.max_occupancy,
            min_assurance: rules.min_assurance,
        }
    }
}

macro_rules! select_zone {
    ($rest:expr) => {
        concat!(
            "SELECT id, site_id, parent_id, name, level, vetting_required, escort_required, ",
            "two_person, pin_required, anti_passback, anti_passback_timeout_s, max_occupancy, ",
            "min_assurance, created_at, updated_at FROM zones ",
            $rest
        )
    };
}

impl Record for ZoneRecord {
    type Row = ZoneRow;
    const KIND: &'static str = "zone";
    const BY_ID: &'static str = select_zone!("WHERE id = $1");
    const ALL: &'static str = select_zone!("ORDER BY id");
    const CHANGED: &'static str = select_zone!(changed_since!("zone"));
    const DELETE: &'static str = "DELETE FROM zones WHERE id = $1";
    const DELETE_ACTION: &'static str = "zone.delete";
    const BY_SITE: &'static str = select_zone!(
        "WHERE ($1 IS NULL OR site_id = $1) AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
    );

    fn id(&self) -> Uuid {
        self.id
    }
}

const INSERT: &str = "INSERT INTO zones (id, site_id, parent_id, name, level, \
    vetting_required, escort_required, two_person, pin_required, anti_passback, \
    anti_passback_timeout_s, max_occupancy, min_assurance, created_at, updated_at) \
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)";
const UPDATE: &str = "UPDATE zones SET site_id = $2, parent_id = $3, name = $4, level = $5, \
    vetting_required = $6, escort_required = $7, two_person = $8, pin_required = $9, \
    anti_passback = $10, anti_passback_timeout_s = $11, max_occupancy = $12, \
    min_assurance = $13, created_at = $14, updated_at = $15 WHERE id = $1";

impl Db<'_> {
    /// Writes every column of `zone` with `sql` ([`INSERT`] or [`UPDATE`], which take
    /// them in the same order).
    async fn put_zone(self, sql: &'static str, zone: &ZoneRecord) -> Result<(), StoreError> {
        let rules = &zone.rules;
        on!(self, |c| {
            sqlx::query(sql)
                .bind(zone.id)
                .bind(zone.site_id)
                .bind(zone.parent_id)
                .bind(&zone.name)
                .bind(i32::from(zone.level))
                .bind(rules.vetting_required)
                .bind(rules.escort_required)
                .bind(rules.two_person)
                .bind(rules.pin_required)
                .bind(rules.anti_passback.as_ref())
                .bind(rules.anti_passback_timeout_s.map(i64::from))
                .bind(rules.max_occupancy.map(i64::from))
                .bind(rules.min_assurance.as_str())
                .bind(zone.created_at)
                .bind(zone.updated_at)
                .execute(c)
                .await?;
        });
        Ok(())
    }

    /// Refuses, inside the writing transaction, a parent that is not a zone of the
    /// zone's site, or that is the zone itself or one of its descendants.
    async fn check_parent(mut self, zone: &ZoneRecord) -> Result<(), ModelError> {
        let mut next = zone.parent_id;
        let mut depth = 0;
        while let Some(current) = next {
            if current == zone.id {
                return Err(ModelError::invalid(
                    "parent_id",
                    "would put the zone inside itself",
                ));
            }
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(ModelError::invalid(
                    "parent_id",
                    "the zone tree is too deep",
                ));
            }
            let row = on!(self.re(), |c| {
                sqlx::query_as::<_, (Uuid, Option<Uuid>)>(
                    "SELECT site_id, parent_id FROM zones WHERE id = $1",
                )
                .bind(current)
                .fetch_optional(c)
                .await?
            });
            next = match row {
                Some((site_id, parent)) if site_id == zone.site_id => parent,
                _ => {
                    return Err(ModelError::invalid(
                        "parent_id",
                        "no such zone on this site",
                    ));
                }
            };
        }
        Ok(())
    }
}

impl Store {
    /// Creates a zone. An unknown site, a parent that is not a zone of that site, or a
    /// `max_occupancy` out of range is refused as [`ModelError::Invalid`].
    #[tracing::instrument(skip_all)]
    pub async fn create_zone(&self, new: NewZone, actor: &Actor) -> Result<ZoneRecord, ModelError> {
        check_occupancy(new.rules.max_occupancy)?;
        let at = now();
        let zone = ZoneRecord {
            id: Uuid::now_v7(),
            site_id: new.site_id,
            parent_id: new.parent_id,
            name: new.name,
            level: new.level,
            rules: new.rules,
            created_at: at,
            updated_at: at,
        };
        let entry = NewLogEntry::new(actor, "zone.create", "zone", zone.id, None, Some(&zone));
        let mut tx = self.write().await?;
        tx.db().site_exists(zone.site_id).await?;
        tx.db().check_parent(&zone).await?;
        tx.db().put_zone(INSERT, &zone).await?;
        tx.db().log_change(&entry).await?;
        tx.commit().await?;
        Ok(zone)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn zone(&self, id: Uuid) -> Result<ZoneRecord, StoreError> {
        self.model_record(id).await
    }

    /// Zones in creation order after the cursor id, of one site or of all.
    #[tracing::instrument(skip_all)]
    pub async fn list_zones(
        &self,
        site_id: Option<Uuid>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<ZoneRecord>, StoreError> {
        self.list_model_records(site_id, after, limit).await
    }

    /// Changes a zone. A new parent must be a zone of the same site and not the zone
    /// itself or one of its descendants.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn update_zone(
        &self,
        id: Uuid,
        change: ZoneChange,
        actor: &Actor,
    ) -> Result<ZoneRecord, ModelError> {
        check_occupancy(change.max_occupancy.flatten())?;
        let mut tx = self.write().await?;
        let before: ZoneRecord = tx.db().model_record(id).await?;
        let after = apply(&before, change);
        if after.parent_id != before.parent_id {
            tx.db().check_parent(&after).await?;
        }
        tx.db().put_zone(UPDATE, &after).await?;
        let entry = NewLogEntry::new(
            actor,
            "zone.update",
            "zone",
            id,
            Some(&before),
            Some(&after),
        );
        tx.db().log_change(&entry).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Deletes a zone; refused with [`StoreError::InUse`] while it has child zones,
    /// doors, or anything else referring to it (grants, visits).
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn delete_zone(&self, id: Uuid, actor: &Actor) -> Result<(), StoreError> {
        self.delete_model_record::<ZoneRecord>(id, actor).await
    }
}

fn apply(before: &ZoneRecord, change: ZoneChange) -> ZoneRecord {
    let rules = &before.rules;
    ZoneRecord {
        parent_id: change.parent_id.unwrap_or(before.parent_id),
        name: change.name.unwrap_or_else(|| before.name.clone()),
        level: change.level.unwrap_or(before.level),
        rules: ZoneRules {
            vetting_required: change.vetting_required.unwrap_or(rules.vetting_required),
            escort_required: change.escort_required.unwrap_or(rules.escort_required),
            two_person: change.two_person.unwrap_or(rules.two_person),
            pin_required: change.pin_required.unwrap_or(rules.pin_required),
            anti_passback: change.anti_passback.unwrap_or(rules.anti_passback),
            anti_passback_timeout_s: change
                .anti_passback_timeout_s
                .unwrap_or(rules.anti_passback_timeout_s),
            max_occupancy: change.max_occupancy.unwrap_or(rules.max_occupancy),
            min_assurance: change.min_assurance.unwrap_or(rules.min_assurance),
        },
        updated_at: now(),
        ..before.clone()
    }
}
