//! The rules security sets for visits: which zones are open to visitors (and for how
//! long a visit may last there), and per site whether a visit outside them waits for
//! approval and how long after a window's end a visit is checked out automatically.
//! Server-side only: the decision engine never sees them (a visit's zones do).

use super::operator_log::{Actor, NewLogEntry};
use super::people_common::Table;
use super::site_model::{ModelError, narrow};
use super::{Db, Store, StoreError, now, on};
use serde::Serialize;
use uuid::Uuid;

/// Longest visit window a rule may allow: a year (the database refuses more too).
pub const MAX_VISIT_MINUTES: u32 = 527_040;
/// Longest grace after a window's end before an automatic check-out: a day.
pub const MAX_GRACE_MINUTES: u32 = 1440;
/// Grace when a site has no settings.
pub const DEFAULT_GRACE_MINUTES: u32 = 60;

/// A zone as visit rules see it, open to visitors or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VisitorZone {
    pub zone_id: Uuid,
    pub zone_name: String,
    pub site_id: Uuid,
    pub site_name: String,
    /// The zone's security level (0 = public).
    pub level: u8,
    /// Visitors are never admitted where vetting is required.
    pub vetting_required: bool,
    /// A visitor needs an escort here (the zone's own flag, which doors apply).
    pub escort_required: bool,
    /// Longest visit allowed here, in minutes; absent: closed to visitors.
    pub longest_visit_minutes: Option<u32>,
}

impl VisitorZone {
    pub fn open(&self) -> bool {
        self.longest_visit_minutes.is_some()
    }
}

/// A [`VisitorZone`] as selected (integers as the databases give them).
#[derive(sqlx::FromRow)]
struct VisitorZoneRow {
    zone_id: Uuid,
    zone_name: String,
    site_id: Uuid,
    site_name: String,
    level: i64,
    vetting_required: bool,
    escort_required: bool,
    longest_visit_minutes: Option<i64>,
}

impl TryFrom<VisitorZoneRow> for VisitorZone {
    type Error = StoreError;

    fn try_from(r: VisitorZoneRow) -> Result<Self, StoreError> {
        Ok(VisitorZone {
            zone_id: r.zone_id,
            zone_name: r.zone_name,
            site_id: r.site_id,
            site_name: r.site_name,
            level: narrow(r.level, "zone level")?,
            vetting_required: r.vetting_required,
            escort_required: r.escort_required,
            longest_visit_minutes: r
                .longest_visit_minutes
                .map(|m| narrow(m, "longest visit"))
                .transpose()?,
        })
    }
}

/// A site's visit settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SiteVisitSettings {
    pub site_id: Uuid,
    /// A visit to zones outside the rules waits for a security officer's approval
    /// instead of being refused.
    pub approval_outside_rules: bool,
    /// Minutes after a window's end before a visit still checked in is checked out.
    pub checkout_grace_minutes: u32,
}

impl SiteVisitSettings {
    pub fn default_for(site_id: Uuid) -> SiteVisitSettings {
        SiteVisitSettings {
            site_id,
            approval_outside_rules: false,
            checkout_grace_minutes: DEFAULT_GRACE_MINUTES,
        }
    }
}

/// `SELECT <VisitorZone columns> FROM zones ... <rest>`.
macro_rules! select_visitor_zone {
    ($rest:literal) => {
        concat!(
            "SELECT z.id AS zone_id, z.name AS zone_name, z.site_id, s.name AS site_name, ",
            "CAST(z.level AS BIGINT) AS level, z.vetting_required, z.escort_required, ",
            "CAST(r.longest_visit_minutes AS BIGINT) AS longest_visit_minutes ",
            "FROM zones z JOIN sites s ON s.id = z.site_id ",
            "LEFT JOIN zone_visitor_rules r ON r.zone_id = z.id ",
            $rest
        )
    };
}

#[derive(Serialize)]
struct RuleLog<'a> {
    zone: &'a VisitorZone,
}

impl Db<'_> {
    /// The zones with these ids as visit rules see them (unknown ids left out).
    pub(crate) async fn visitor_zones_by_id(
        self,
        ids: &[Uuid],
    ) -> Result<Vec<VisitorZone>, StoreError> {
        let mut zones = Vec::with_capacity(ids.len());
        on!(self, |c| {
            for &id in ids {
                let zone =
                    sqlx::query_as::<_, VisitorZoneRow>(select_visitor_zone!("WHERE z.id = $1"))
                        .bind(id)
                        .fetch_optional(&mut *c)
                        .await?;
                zones.extend(zone.map(VisitorZone::try_from).transpose()?);
            }
        });
        Ok(zones)
    }

    /// A site's visit settings (defaults when none were set).
    pub(crate) async fn site_visit_settings(
        self,
        site_id: Uuid,
    ) -> Result<SiteVisitSettings, StoreError> {
        let row = on!(self, |c| {
            sqlx::query_as::<_, (bool, i64)>(
                "SELECT approval_outside_rules, CAST(checkout_grace_minutes AS BIGINT) \
                 FROM site_visit_settings WHERE site_id = $1",
            )
            .bind(site_id)
            .fetch_optional(c)
            .await?
        });
        Ok(match row {
            None => SiteVisitSettings::default_for(site_id),
            Some((approval_outside_rules, grace)) => SiteVisitSettings {
                site_id,
                approval_outside_rules,
                checkout_grace_minutes: u32::try_from(grace).unwrap_or(DEFAULT_GRACE_MINUTES),
            },
        })
    }
}

impl Store {
    /// Zones as visit rules see them, by site and name; `open_only` leaves out the
    /// zones closed to visitors.
    #[tracing::instrument(skip_all)]
    pub async fn visitor_zones(
        &self,
        site_id: Option<Uuid>,
        open_only: bool,
    ) -> Result<Vec<VisitorZone>, StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query_as::<_, VisitorZoneRow>(select_visitor_zone!(
                "WHERE ($1 IS NULL OR z.site_id = $1) \
                 AND (NOT $2 OR r.longest_visit_minutes IS NOT NULL) \
                 ORDER BY s.name, z.name, z.id"
            ))
            .bind(site_id)
            .bind(open_only)
            .fetch_all(pool)
            .await?
            .into_iter()
            .map(VisitorZone::try_from)
            .collect()
        })
    }

    /// The zones with these ids as visit rules see them (unknown ids left out).
    #[tracing::instrument(skip_all)]
    pub async fn visitor_zones_by_id(&self, ids: &[Uuid]) -> Result<Vec<VisitorZone>, StoreError> {
        let mut tx = self.read().await?;
        let zones = tx.db().visitor_zones_by_id(ids).await?;
        tx.commit().await?;
        Ok(zones)
    }

    /// Opens a zone to visitors for visits of at most `longest_visit_minutes`, or closes
    /// it (`None`). A zone that requires vetting cannot be opened (visitors are never
    /// vetted). Logged as `zone.visitor_rule`.
    #[tracing::instrument(skip_all, fields(%zone_id))]
    pub async fn set_zone_visitor_rule(
        &self,
        zone_id: Uuid,
        longest_visit_minutes: Option<u32>,
        actor: &Actor,
    ) -> Result<VisitorZone, ModelError> {
        if longest_visit_minutes.is_some_and(|m| m == 0 || m > MAX_VISIT_MINUTES) {
            return Err(ModelError::invalid(
                "longest_visit_minutes",
                "must be 1 to 527040 (a year)",
            ));
        }
        let at = now();
        let after = on!(self.write().await?, |mut tx| {
            Db::from(&mut *tx)
                .require_row(Table::Zones, zone_id, "zone_id")
                .await?;
            let mut found = Db::from(&mut *tx).visitor_zones_by_id(&[zone_id]).await?;
            let before = found.pop().ok_or(StoreError::NotFound)?;
            if before.vetting_required && longest_visit_minutes.is_some() {
                return Err(ModelError::invalid(
                    "longest_visit_minutes",
                    "the zone requires vetting, and visitors are never vetted",
                ));
            }
            match longest_visit_minutes {
                Some(minutes) => {
                    sqlx::query(
                        "INSERT INTO zone_visitor_rules \
                         (zone_id, longest_visit_minutes, updated_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (zone_id) DO UPDATE \
                         SET longest_visit_minutes = $2, updated_at = $3",
                    )
                    .bind(zone_id)
                    .bind(i64::from(minutes))
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                None => {
                    sqlx::query("DELETE FROM zone_visitor_rules WHERE zone_id = $1")
                        .bind(zone_id)
                        .execute(&mut *tx)
                        .await?;
                }
            }
            let after = VisitorZone {
                longest_visit_minutes,
                ..before.clone()
            };
            let entry = NewLogEntry::new(
                actor,
                "zone.visitor_rule",
                "zone",
                zone_id,
                Some(&RuleLog { zone: &before }),
                Some(&RuleLog { zone: &after }),
            );
            Db::from(&mut *tx).insert_log(&entry).await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }

    #[tracing::instrument(skip_all, fields(%site_id))]
    pub async fn site_visit_settings(
        &self,
        site_id: Uuid,
    ) -> Result<SiteVisitSettings, StoreError> {
        let mut tx = self.read().await?;
        let settings = tx.db().site_visit_settings(site_id).await?;
        tx.commit().await?;
        Ok(settings)
    }

    /// Sets a site's visit settings (the site must exist). Logged as
    /// `site.visit_settings`.
    #[tracing::instrument(skip_all)]
    pub async fn set_site_visit_settings(
        &self,
        settings: SiteVisitSettings,
        actor: &Actor,
    ) -> Result<SiteVisitSettings, ModelError> {
        if settings.checkout_grace_minutes > MAX_GRACE_MINUTES {
            return Err(ModelError::invalid(
                "checkout_grace_minutes",
                "must be 0 to 1440 (a day)",
            ));
        }
        let at = now();
        on!(self.write().await?, |mut tx| {
            let exists = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM sites WHERE id = $1")
                .bind(settings.site_id)
                .fetch_one(&mut *tx)
                .await?;
            if exists == 0 {
                return Err(StoreError::NotFound.into());
            }
            let before = Db::from(&mut *tx)
                .site_visit_settings(settings.site_id)
                .await?;
            sqlx::query(
                "INSERT INTO site_visit_settings \
                 (site_id, approval_outside_rules, checkout_grace_minutes, updated_at) \
                 VALUES ($1, $2, $3, $4) ON CONFLICT (site_id) DO UPDATE \
                 SET approval_outside_rules = $2, checkout_grace_minutes = $3, updated_at = $4",
            )
            .bind(settings.site_id)
            .bind(settings.approval_outside_rules)
            .bind(i64::from(settings.checkout_grace_minutes))
            .bind(at)
            .execute(&mut *tx)
            .await?;
            let entry = NewLogEntry::new(
                actor,
                "site.visit_settings",
                "site",
                settings.site_id,
                Some(&before),
                Some(&settings),
            );
            Db::from(&mut *tx).insert_log(&entry).await?;
            tx.commit().await?;
        });
        Ok(settings)
    }
}
