//! Sites: a facility, its IANA time zone (schedules are evaluated in it) and its current
//! threat level.

use super::operator_log::{Actor, NewLogEntry};
use super::policy_changes::changed_since;
use super::site_model::{Record, decode_error, narrow};
use super::{Db, Store, StoreError, now, on};
use crate::store::stored_time::StoredTime;
use chrono::{DateTime, Utc};
use gatehouse_core::model::{Site, ThreatLevel};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

/// A site as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SiteRecord {
    pub id: Uuid,
    pub name: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    pub threat: Threat,
    /// From this threat level on (`threat.level` at or above it), every zone of the site
    /// needs secure cards, whatever its own `min_assurance`; absent: never.
    #[schema(maximum = 255)]
    pub secure_cards_from_threat_level: Option<u8>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A site's threat level. `exempt_person_ids` are not checked against the people
/// register: an id that names no person simply never matches anyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Threat {
    /// The level as operators name it, 0–255 (informational).
    #[schema(maximum = 255)]
    pub level: u8,
    /// Added to every zone's level to get the minimum clearance, 0–255.
    #[schema(maximum = 255)]
    pub clearance_raise: u8,
    /// Every door of the site refuses entry, except to exempt people.
    pub lockdown: bool,
    /// Responders who pass a lockdown and doors in locked mode (at most 1000).
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub exempt_person_ids: Vec<Uuid>,
}

/// A new site; the time zone is already validated.
pub struct NewSite {
    pub name: String,
    pub timezone: String,
    pub secure_cards_from_threat_level: Option<u8>,
}

/// Fields of a site that may change; `None` keeps the current value.
#[derive(Debug, Default)]
pub struct SiteChange {
    pub name: Option<String>,
    pub timezone: Option<String>,
    /// `Some(None)` clears the threshold.
    pub secure_cards_from_threat_level: Option<Option<u8>>,
}

#[derive(sqlx::FromRow)]
pub(crate) struct SiteRow {
    id: Uuid,
    name: String,
    timezone: String,
    threat_level: i32,
    threat_clearance_raise: i32,
    threat_lockdown: bool,
    threat_exempt: Json<Vec<Uuid>>,
    secure_cards_from_threat_level: Option<i32>,
    #[sqlx(try_from = "StoredTime")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    updated_at: DateTime<Utc>,
}

impl TryFrom<SiteRow> for SiteRecord {
    type Error = StoreError;

    fn try_from(row: SiteRow) -> Result<Self, StoreError> {
        Ok(SiteRecord {
            id: row.id,
            name: row.name,
            timezone: row.timezone,
            threat: Threat {
                level: narrow(row.threat_level, "threat level")?,
                clearance_raise: narrow(row.threat_clearance_raise, "clearance raise")?,
                lockdown: row.threat_lockdown,
                exempt_person_ids: row.threat_exempt.0,
            },
            secure_cards_from_threat_level: row
                .secure_cards_from_threat_level
                .map(|v| narrow(v, "secure cards threshold"))
                .transpose()?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

impl SiteRecord {
    /// The site in the decision engine's terms.
    pub fn to_model(self) -> Result<Site, StoreError> {
        Ok(Site {
            id: self.id,
            timezone: self
                .timezone
                .parse()
                .map_err(|_| decode_error("time zone"))?,
            name: self.name,
            threat: ThreatLevel {
                level: self.threat.level,
                clearance_raise: self.threat.clearance_raise,
                lockdown: self.threat.lockdown,
                exempt: self.threat.exempt_person_ids.into_iter().collect(),
            },
            secure_cards_from_threat_level: self.secure_cards_from_threat_level,
        })
    }
}

macro_rules! select_site {
    ($rest:expr) => {
        concat!(
            "SELECT id, name, timezone, threat_level, threat_clearance_raise, threat_lockdown, ",
            "threat_exempt, secure_cards_from_threat_level, created_at, updated_at FROM sites ",
            $rest
        )
    };
}

impl Record for SiteRecord {
    type Row = SiteRow;
    const KIND: &'static str = "site";
    const BY_ID: &'static str = select_site!("WHERE id = $1");
    const ALL: &'static str = select_site!("ORDER BY id");
    const CHANGED: &'static str = select_site!(changed_since!("site"));
    const DELETE: &'static str = "DELETE FROM sites WHERE id = $1";
    const DELETE_ACTION: &'static str = "site.delete";
    const BY_SITE: &'static str = select_site!(
        "WHERE ($1 IS NULL OR id = $1) AND ($2 IS NULL OR id > $2) ORDER BY id LIMIT $3"
    );

    fn id(&self) -> Uuid {
        self.id
    }
}

const INSERT: &str = "INSERT INTO sites (id, name, timezone, threat_level, \
    threat_clearance_raise, threat_lockdown, threat_exempt, secure_cards_from_threat_level, \
    created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
const UPDATE: &str = "UPDATE sites SET name = $2, timezone = $3, threat_level = $4, \
    threat_clearance_raise = $5, threat_lockdown = $6, threat_exempt = $7, \
    secure_cards_from_threat_level = $8, created_at = $9, updated_at = $10 WHERE id = $1";

impl Db<'_> {
    /// Writes every column of `site` with `sql` ([`INSERT`] or [`UPDATE`], which take
    /// them in the same order).
    async fn put_site(self, sql: &'static str, site: &SiteRecord) -> Result<(), StoreError> {
        on!(self, |c| {
            sqlx::query(sql)
                .bind(site.id)
                .bind(&site.name)
                .bind(&site.timezone)
                .bind(i32::from(site.threat.level))
                .bind(i32::from(site.threat.clearance_raise))
                .bind(site.threat.lockdown)
                .bind(Json(&site.threat.exempt_person_ids))
                .bind(site.secure_cards_from_threat_level.map(i32::from))
                .bind(site.created_at)
                .bind(site.updated_at)
                .execute(c)
                .await?;
        });
        Ok(())
    }
}

impl Store {
    /// Creates a site at threat level 0 (no raise, no lockdown).
    #[tracing::instrument(skip_all)]
    pub async fn create_site(&self, new: NewSite, actor: &Actor) -> Result<SiteRecord, StoreError> {
        let at = now();
        let site = SiteRecord {
            id: Uuid::now_v7(),
            name: new.name,
            timezone: new.timezone,
            threat: Threat::default(),
            secure_cards_from_threat_level: new.secure_cards_from_threat_level,
            created_at: at,
            updated_at: at,
        };
        let entry = NewLogEntry::new(actor, "site.create", "site", site.id, None, Some(&site));
        let mut tx = self.write().await?;
        tx.db().put_site(INSERT, &site).await?;
        tx.db().log_change(&entry).await?;
        tx.commit().await?;
        Ok(site)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn site(&self, id: Uuid) -> Result<SiteRecord, StoreError> {
        self.model_record(id).await
    }

    /// Sites in creation order, after the cursor id.
    #[tracing::instrument(skip_all)]
    pub async fn list_sites(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<SiteRecord>, StoreError> {
        self.list_model_records(None, after, limit).await
    }

    /// Renames a site or changes its time zone.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn update_site(
        &self,
        id: Uuid,
        change: SiteChange,
        actor: &Actor,
    ) -> Result<SiteRecord, StoreError> {
        self.change_site(id, "site.update", actor, |before| SiteRecord {
            name: change.name.unwrap_or_else(|| before.name.clone()),
            timezone: change.timezone.unwrap_or_else(|| before.timezone.clone()),
            secure_cards_from_threat_level: change
                .secure_cards_from_threat_level
                .unwrap_or(before.secure_cards_from_threat_level),
            ..before.clone()
        })
        .await
    }

    /// Replaces a site's threat level; takes effect with the next policy version.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn set_threat_level(
        &self,
        id: Uuid,
        mut threat: Threat,
        actor: &Actor,
    ) -> Result<SiteRecord, StoreError> {
        threat.exempt_person_ids.sort_unstable();
        threat.exempt_person_ids.dedup();
        self.change_site(id, "site.threat_level", actor, |before| SiteRecord {
            threat,
            ..before.clone()
        })
        .await
    }

    /// Deletes a site; refused with [`StoreError::InUse`] while zones, doors or
    /// schedules belong to it.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn delete_site(&self, id: Uuid, actor: &Actor) -> Result<(), StoreError> {
        self.delete_model_record::<SiteRecord>(id, actor).await
    }

    async fn change_site(
        &self,
        id: Uuid,
        action: &'static str,
        actor: &Actor,
        change: impl FnOnce(&SiteRecord) -> SiteRecord,
    ) -> Result<SiteRecord, StoreError> {
        let mut tx = self.write().await?;
        let before: SiteRecord = tx.db().model_record(id).await?;
        let after = SiteRecord {
            updated_at: now(),
            ..change(&before)
        };
        tx.db().put_site(UPDATE, &after).await?;
        let entry = NewLogEntry::new(actor, action, "site", id, Some(&before), Some(&after));
        tx.db().log_change(&entry).await?;
        tx.commit().await?;
        Ok(after)
    }
}
