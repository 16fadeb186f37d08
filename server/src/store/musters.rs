//! Musters (evacuation roll calls): starting one takes the list of everyone inside the
//! site at that moment; officers then mark people accounted for, and close it. Each step
//! is in the operator log, so the muster is part of the audit trail.

use super::operator_log::{Actor, NewLogEntry};
use super::presence::select_occupants;
use super::{Db, Store, StoreError, now, on};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

/// Someone on a muster's list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MusterPerson {
    pub holder_id: Uuid,
    /// `person` or `visitor`.
    pub kind: String,
    pub name: String,
    /// Where they were last seen, and through which door, when. A checked-in visitor who
    /// never badged has no zone or door (`zone_name` says so) and `since` is the check-in.
    pub zone_id: Option<Uuid>,
    pub zone_name: String,
    pub door_id: Option<Uuid>,
    pub door_name: Option<String>,
    #[sqlx(try_from = "StoredTime")]
    pub since: DateTime<Utc>,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub accounted_at: Option<DateTime<Utc>>,
    /// The officer who marked them.
    pub accounted_by: Option<String>,
    pub note: Option<String>,
    /// A person's employer, a visitor's organisation (as they are now).
    pub organisation: Option<String>,
    /// For a visitor: their host (as now).
    pub host_person_id: Option<Uuid>,
    pub host_name: Option<String>,
    /// For a visitor: their phone (as now), to call them when they are not at the
    /// assembly point.
    pub phone: Option<String>,
}

/// `zone_name` of a checked-in visitor who never presented a card.
pub const NEVER_BADGED: &str = "Location unknown (never badged)";

/// A muster and its list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct MusterRecord {
    pub id: Uuid,
    pub site_id: Uuid,
    #[sqlx(try_from = "StoredTime")]
    pub started_at: DateTime<Utc>,
    pub started_by: String,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub closed_at: Option<DateTime<Utc>>,
    #[sqlx(skip)]
    pub people: Vec<MusterPerson>,
    /// People not yet accounted for.
    #[sqlx(skip)]
    pub unaccounted: usize,
}

impl Db<'_> {
    /// A muster and its list; `NotFound` when unknown.
    async fn fetch_muster(self, id: Uuid) -> Result<MusterRecord, StoreError> {
        let (mut muster, people) = on!(self, |c| {
            let muster = sqlx::query_as::<_, MusterRecord>(
                "SELECT id, site_id, started_at, started_by, closed_at FROM musters WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&mut *c)
            .await?;
            let people = sqlx::query_as::<_, MusterPerson>(
                "SELECT m.holder_id, m.kind, m.name, m.zone_id, m.zone_name, m.door_id, \
                 m.door_name, m.since, m.accounted_at, m.accounted_by, m.note, \
                 COALESCE(pe.employer, v.visitor_organisation) AS organisation, \
                 v.host_person_id, h.name AS host_name, vi.phone FROM muster_people m \
                 LEFT JOIN people pe ON m.kind = 'person' AND pe.id = m.holder_id \
                 LEFT JOIN visits v ON m.kind = 'visitor' AND v.id = m.holder_id \
                 LEFT JOIN visitors vi ON vi.id = v.visitor_id \
                 LEFT JOIN people h ON h.id = v.host_person_id WHERE m.muster_id = $1 \
                 ORDER BY m.zone_name, m.name, m.holder_id",
            )
            .bind(id)
            .fetch_all(&mut *c)
            .await?;
            (muster, people)
        });
        muster.unaccounted = people.iter().filter(|p| p.accounted_at.is_none()).count();
        muster.people = people;
        Ok(muster)
    }
}

impl Store {
    /// Starts a muster of site `site_id` with everyone inside it now.
    #[tracing::instrument(skip_all)]
    pub async fn start_muster(
        &self,
        site_id: Uuid,
        actor: &Actor,
    ) -> Result<MusterRecord, StoreError> {
        let id = Uuid::now_v7();
        let muster = on!(self.write().await?, |mut tx| {
            sqlx::query_scalar::<_, Uuid>("SELECT id FROM sites WHERE id = $1")
                .bind(site_id)
                .fetch_one(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO musters (id, site_id, started_at, started_by) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(site_id)
            .bind(now())
            .bind(&actor.name)
            .execute(&mut *tx)
            .await?;
            sqlx::query(select_occupants!(
                "INSERT INTO muster_people (muster_id, holder_id, kind, name, zone_id, zone_name, \
                 door_id, door_name, direction, since) ",
                "$2, ",
                "",
                "z.site_id = $1 AND EXISTS (SELECT 1 FROM doors inward \
                 WHERE inward.to_zone_id = p.zone_id)"
            ))
            .bind(site_id)
            .bind(id)
            .execute(&mut *tx)
            .await?;
            // Every checked-in visitor of the site is on the list, even one who never
            // presented a card (no presence): the desk cannot know where they are.
            sqlx::query(
                "INSERT INTO muster_people (muster_id, holder_id, kind, name, zone_id, \
                 zone_name, door_id, door_name, direction, since) \
                 SELECT $2, v.id, 'visitor', v.visitor_name, NULL, $3, NULL, NULL, 'in', \
                 COALESCE(v.checked_in_at, $4) FROM visits v \
                 WHERE v.status = 'checked_in' AND (v.site_id = $1 OR (v.site_id IS NULL \
                 AND EXISTS (SELECT 1 FROM visit_zones vz JOIN zones z ON z.id = vz.zone_id \
                 WHERE vz.visit_id = v.id AND z.site_id = $1))) \
                 AND NOT EXISTS (SELECT 1 FROM presence p WHERE p.visit_id = v.id)",
            )
            .bind(site_id)
            .bind(id)
            .bind(NEVER_BADGED)
            .bind(now())
            .execute(&mut *tx)
            .await?;
            let muster = Db::from(&mut *tx).fetch_muster(id).await?;
            let details = serde_json::json!({"site_id": site_id, "inside": muster.people.len()});
            Db::from(&mut *tx)
                .insert_log(&NewLogEntry::new(
                    actor,
                    "muster.start",
                    "muster",
                    id,
                    None,
                    Some(&details),
                ))
                .await?;
            tx.commit().await?;
            muster
        });
        Ok(muster)
    }

    /// A muster and its list.
    #[tracing::instrument(skip_all)]
    pub async fn muster(&self, id: Uuid) -> Result<MusterRecord, StoreError> {
        // One pooled connection, no snapshot: cheaper on PostgreSQL.
        on!(self.pool(), |pool| {
            Db::from(&mut *pool.acquire().await?).fetch_muster(id).await
        })
    }

    /// Marks `holder_id` accounted for. Refused (409) once the muster is closed or when
    /// they are already marked; `NotFound` when they are not on the list.
    #[tracing::instrument(skip_all)]
    pub async fn account_for(
        &self,
        muster_id: Uuid,
        holder_id: Uuid,
        note: Option<String>,
        actor: &Actor,
    ) -> Result<MusterRecord, StoreError> {
        let muster = on!(self.write().await?, |mut tx| {
            let before = Db::from(&mut *tx).fetch_muster(muster_id).await?;
            if before.closed_at.is_some() {
                return Err(StoreError::Rejected("the muster is closed"));
            }
            let Some(person) = before.people.iter().find(|p| p.holder_id == holder_id) else {
                return Err(StoreError::NotFound);
            };
            if person.accounted_at.is_some() {
                return Err(StoreError::Rejected("already accounted for"));
            }
            sqlx::query(
                "UPDATE muster_people SET accounted_at = $3, accounted_by = $4, note = $5 \
                 WHERE muster_id = $1 AND holder_id = $2",
            )
            .bind(muster_id)
            .bind(holder_id)
            .bind(now())
            .bind(&actor.name)
            .bind(&note)
            .execute(&mut *tx)
            .await?;
            let details =
                serde_json::json!({"holder_id": holder_id, "name": person.name, "note": note});
            Db::from(&mut *tx)
                .insert_log(&NewLogEntry::new(
                    actor,
                    "muster.account",
                    "muster",
                    muster_id,
                    None,
                    Some(&details),
                ))
                .await?;
            let after = Db::from(&mut *tx).fetch_muster(muster_id).await?;
            tx.commit().await?;
            after
        });
        Ok(muster)
    }

    /// Closes a muster (once).
    #[tracing::instrument(skip_all)]
    pub async fn close_muster(&self, id: Uuid, actor: &Actor) -> Result<MusterRecord, StoreError> {
        let muster = on!(self.write().await?, |mut tx| {
            let closed = sqlx::query(
                "UPDATE musters SET closed_at = $2 WHERE id = $1 AND closed_at IS NULL",
            )
            .bind(id)
            .bind(now())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if closed == 0 {
                Db::from(&mut *tx).fetch_muster(id).await?;
                return Err(StoreError::Rejected("the muster is closed"));
            }
            let muster = Db::from(&mut *tx).fetch_muster(id).await?;
            let details = serde_json::json!({"unaccounted": muster.unaccounted});
            Db::from(&mut *tx)
                .insert_log(&NewLogEntry::new(
                    actor,
                    "muster.close",
                    "muster",
                    id,
                    None,
                    Some(&details),
                ))
                .await?;
            tx.commit().await?;
            muster
        });
        Ok(muster)
    }
}
