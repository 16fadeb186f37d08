//! People and cards: vetting that ends soon and people who may enter a vetting zone
//! without valid vetting (from the grants, direct or through a group, that cover the
//! zone now), and cards that have not been presented for 90 days.

use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use crate::store::{Store, StoreError, ZoneRecord, on};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// How far ahead expiring vetting is shown, and how long a card may sit unused.
pub const HORIZON_DAYS: i64 = 90;

/// A person whose vetting ends within 90 days.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expiring {
    pub person_id: Uuid,
    pub name: String,
    pub until: DateTime<Utc>,
    /// Whole days left from now (rounded up): 30, 60 or 90 is the band it falls in.
    pub days_left: i64,
}

/// A person with access to vetting zones and no valid vetting now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unvetted {
    pub person_id: Uuid,
    pub name: String,
    /// The person's current vetting status (`none` when never vetted).
    pub vetting: String,
    pub cleared_until: Option<DateTime<Utc>>,
    /// The vetting zones their grants cover, by name.
    pub zones: Vec<String>,
}

#[derive(sqlx::FromRow)]
struct Holder {
    id: Uuid,
    name: String,
    status: Option<String>,
    #[sqlx(try_from = "OptionalStoredTime")]
    cleared_until: Option<DateTime<Utc>>,
}

/// Active people holding a grant valid now on zone `$1` (directly or through a group),
/// with their current (newest) vetting; `$2` now.
const HOLDERS: &str = "SELECT p.id, p.name, v.status, v.cleared_until FROM visible_people p \
     LEFT JOIN visible_vetting_records v ON v.id = (SELECT l.id FROM visible_vetting_records l \
     WHERE l.person_id = p.id ORDER BY l.checked_at DESC, l.id DESC LIMIT 1) \
     WHERE p.status = 'active' AND p.id IN (SELECT g.person_id FROM grants g \
     WHERE g.zone_id = $1 AND g.person_id IS NOT NULL \
     AND (g.valid_until IS NULL OR g.valid_until > $2) \
     UNION SELECT m.person_id FROM grants g JOIN group_members m ON m.group_id = g.group_id \
     WHERE g.zone_id = $1 AND (g.valid_until IS NULL OR g.valid_until > $2))";

/// The zones whose grants cover `target`: itself and each enclosing zone of the same or
/// a higher level (the engine's rule, `Policy::covers`).
fn covering(zones: &HashMap<Uuid, ZoneRecord>, target: &ZoneRecord) -> Vec<Uuid> {
    let mut out = vec![target.id];
    let mut at = target.parent_id;
    // A parent chain longer than the zones is a cycle: stop.
    for _ in 0..zones.len() {
        let Some(zone) = at.and_then(|id| zones.get(&id)) else {
            break;
        };
        if zone.level >= target.level {
            out.push(zone.id);
        }
        at = zone.parent_id;
    }
    out
}

/// Expiring vetting (within 90 days) and missing vetting, of the people whose grants
/// cover a vetting zone of the site.
pub async fn vetting(
    store: &Store,
    site_id: Uuid,
    now: DateTime<Utc>,
) -> Result<(Vec<Expiring>, Vec<Unvetted>), StoreError> {
    let mut zones: HashMap<Uuid, ZoneRecord> = HashMap::new();
    let mut after = None;
    loop {
        let page = store.list_zones(Some(site_id), after, 1000).await?;
        after = page.last().map(|z| z.id);
        let full = page.len() == 1000;
        zones.extend(page.into_iter().map(|z| (z.id, z)));
        if !full {
            break;
        }
    }
    let mut vetting_zones: Vec<&ZoneRecord> = zones
        .values()
        .filter(|z| z.rules.vetting_required)
        .collect();
    vetting_zones.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
    let mut holders: BTreeMap<Uuid, (Holder, Vec<String>)> = BTreeMap::new();
    for target in vetting_zones {
        let mut found: HashMap<Uuid, Holder> = HashMap::new();
        for zone_id in covering(&zones, target) {
            let rows = on!(store.pool(), |c| sqlx::query_as::<_, Holder>(HOLDERS)
                .bind(zone_id)
                .bind(now)
                .fetch_all(c)
                .await?);
            found.extend(rows.into_iter().map(|h| (h.id, h)));
        }
        for (id, holder) in found {
            holders
                .entry(id)
                .or_insert_with(|| (holder, Vec::new()))
                .1
                .push(target.name.clone());
        }
    }
    let horizon = now + Duration::days(HORIZON_DAYS);
    let mut expiring = Vec::new();
    let mut unvetted = Vec::new();
    for (holder, zones) in holders.into_values() {
        let valid = holder.status.as_deref() == Some("cleared")
            && holder.cleared_until.is_none_or(|until| until > now);
        if !valid {
            unvetted.push(Unvetted {
                person_id: holder.id,
                name: holder.name,
                vetting: holder.status.unwrap_or_else(|| "none".to_owned()),
                cleared_until: holder.cleared_until,
                zones,
            });
        } else if let Some(until) = holder.cleared_until.filter(|u| *u <= horizon) {
            let seconds = (until - now).num_seconds();
            expiring.push(Expiring {
                person_id: holder.id,
                name: holder.name,
                until,
                days_left: (seconds + 86_399) / 86_400,
            });
        }
    }
    expiring.sort_by(|a, b| a.until.cmp(&b.until).then(a.name.cmp(&b.name)));
    unvetted.sort_by(|a, b| a.name.cmp(&b.name).then(a.person_id.cmp(&b.person_id)));
    Ok((expiring, unvetted))
}

/// An active card of an active person with access at the site, not presented at any
/// door for 90 days (or never, when issued more than 90 days ago).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct Dormant {
    pub credential_id: Uuid,
    pub card: String,
    pub person_id: Uuid,
    pub name: String,
    #[sqlx(try_from = "StoredTime")]
    pub issued_at: DateTime<Utc>,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub last_used: Option<DateTime<Utc>>,
}

/// `$1` site, `$2` 90 days ago. The last use is one look-up per card in the
/// `(credential_id, occurred_at)` index (migration 0022).
const DORMANT: &str = "SELECT * FROM (SELECT c.id AS credential_id, c.card, p.id AS person_id, \
     p.name, c.created_at AS issued_at, (SELECT max(e.occurred_at) FROM access_events e \
     WHERE e.credential_id = c.id) AS last_used FROM visible_credentials c \
     JOIN visible_people p ON p.id = c.person_id \
     WHERE c.state = 'active' AND p.status = 'active' AND p.id IN ( \
     SELECT g.person_id FROM grants g JOIN zones z ON z.id = g.zone_id \
     WHERE z.site_id = $1 AND g.person_id IS NOT NULL \
     UNION SELECT m.person_id FROM grants g JOIN zones z ON z.id = g.zone_id \
     JOIN group_members m ON m.group_id = g.group_id WHERE z.site_id = $1)) t \
     WHERE t.last_used < $2 OR (t.last_used IS NULL AND t.issued_at < $2) \
     ORDER BY t.name, t.card";

pub async fn dormant(
    store: &Store,
    site_id: Uuid,
    now: DateTime<Utc>,
) -> Result<Vec<Dormant>, StoreError> {
    let since = now - Duration::days(HORIZON_DAYS);
    Ok(on!(store.pool(), |c| sqlx::query_as::<_, Dormant>(DORMANT)
        .bind(site_id)
        .bind(since)
        .fetch_all(c)
        .await?))
}
