//! Visits, minimal for now: a visitor coming to see a host within a window, allowed into
//! a list of zones, possibly only with an escort. A visit holds credentials; they work
//! only while the visit is checked in, not out, and inside its window. Checking out also
//! revokes the visit's credentials, so the card can go back into the drawer.

use super::credentials::{CredentialRow, select_credential};
use super::operator_log::{Actor, NewLogEntry};
use super::people_common::{Table, by_owner};
use super::{Db, ModelError, Store, StoreError, now, on};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Utc};
use gatehouse_core::model::CredentialState;
use serde::Serialize;
use std::collections::BTreeSet;
use uuid::Uuid;

/// A visit as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
#[schema(as = Visit)]
pub struct VisitRecord {
    pub id: Uuid,
    pub visitor_name: String,
    pub visitor_organisation: Option<String>,
    /// The person the visitor comes to see.
    pub host_person_id: Uuid,
    /// Start of the expected window (inclusive).
    #[sqlx(try_from = "StoredTime")]
    pub window_start: DateTime<Utc>,
    /// End of the expected window (exclusive).
    #[sqlx(try_from = "StoredTime")]
    pub window_end: DateTime<Utc>,
    /// Zones the visit may enter (exactly these; no inheritance), ordered by id.
    #[sqlx(skip)]
    pub allowed_zone_ids: Vec<Uuid>,
    pub escort_required: bool,
    #[sqlx(skip)]
    pub checked_in: bool,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub checked_in_at: Option<DateTime<Utc>>,
    #[sqlx(skip)]
    pub checked_out: bool,
    #[sqlx(try_from = "OptionalStoredTime")]
    pub checked_out_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "StoredTime")]
    pub created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    pub updated_at: DateTime<Utc>,
}

impl VisitRecord {
    fn with_zones(mut self, allowed_zone_ids: Vec<Uuid>) -> VisitRecord {
        self.allowed_zone_ids = allowed_zone_ids;
        self.checked_in = self.checked_in_at.is_some();
        self.checked_out = self.checked_out_at.is_some();
        self
    }

    /// The visit as the decision engine sees it.
    pub fn engine(&self) -> gatehouse_core::model::Visit {
        gatehouse_core::model::Visit {
            id: self.id,
            host_person_id: self.host_person_id,
            window_start: self.window_start,
            window_end: self.window_end,
            checked_in: self.checked_in,
            checked_out: self.checked_out,
            allowed_zone_ids: self.allowed_zone_ids.clone(),
            escort_required: self.escort_required,
        }
    }
}

/// A visit to register.
#[derive(Debug, Clone)]
pub struct NewVisit {
    pub visitor_name: String,
    pub visitor_organisation: Option<String>,
    pub host_person_id: Uuid,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub allowed_zone_ids: BTreeSet<Uuid>,
    pub escort_required: bool,
}

/// `SELECT <VisitRecord columns> FROM visits <rest>`.
macro_rules! select_visit {
    ($rest:literal) => {
        concat!(
            "SELECT id, visitor_name, visitor_organisation, host_person_id, window_start, ",
            "window_end, escort_required, checked_in_at, checked_out_at, created_at, updated_at ",
            "FROM visits ",
            $rest
        )
    };
}
pub(crate) use select_visit;

impl Db<'_> {
    /// One visit with its zones ([`StoreError::NotFound`] when none).
    async fn visit(self, id: Uuid) -> Result<VisitRecord, StoreError> {
        let (visit, zones) = on!(self, |c| {
            let visit = sqlx::query_as::<_, VisitRecord>(select_visit!("WHERE id = $1"))
                .bind(id)
                .fetch_one(&mut *c)
                .await?;
            let zones = sqlx::query_scalar::<_, Uuid>(
                "SELECT zone_id FROM visit_zones WHERE visit_id = $1 ORDER BY zone_id",
            )
            .bind(id)
            .fetch_all(c)
            .await?;
            (visit, zones)
        });
        Ok(visit.with_zones(zones))
    }
}

/// Attaches the zones in `zones` (visit → zone pairs) to each visit.
pub(crate) fn attach_zones(visits: Vec<VisitRecord>, zones: Vec<(Uuid, Uuid)>) -> Vec<VisitRecord> {
    let mut zones = by_owner(zones);
    visits
        .into_iter()
        .map(|v| {
            let ids = zones.remove(&v.id).unwrap_or_default();
            v.with_zones(ids)
        })
        .collect()
}

impl Store {
    /// Registers a visit; the host and every zone must exist (422 naming the field).
    #[tracing::instrument(skip_all)]
    pub async fn create_visit(
        &self,
        new: NewVisit,
        actor: &Actor,
    ) -> Result<VisitRecord, ModelError> {
        if new.window_start >= new.window_end {
            return Err(ModelError::invalid(
                "window_end",
                "must be after window_start",
            ));
        }
        let at = now();
        let visit = VisitRecord {
            id: Uuid::now_v7(),
            visitor_name: new.visitor_name,
            visitor_organisation: new.visitor_organisation,
            host_person_id: new.host_person_id,
            window_start: new.window_start,
            window_end: new.window_end,
            allowed_zone_ids: new.allowed_zone_ids.iter().copied().collect(),
            escort_required: new.escort_required,
            checked_in: false,
            checked_in_at: None,
            checked_out: false,
            checked_out_at: None,
            created_at: at,
            updated_at: at,
        };
        let entry = NewLogEntry::new(actor, "visit.create", "visit", visit.id, None, Some(&visit));
        on!(self.write().await?, |mut tx| {
            Db::from(&mut *tx)
                .require_row(Table::People, visit.host_person_id, "host_person_id")
                .await?;
            for &zone_id in &visit.allowed_zone_ids {
                Db::from(&mut *tx)
                    .require_row(Table::Zones, zone_id, "allowed_zone_ids")
                    .await?;
            }
            sqlx::query(
                "INSERT INTO visits (id, visitor_name, visitor_organisation, host_person_id, \
                 window_start, window_end, escort_required, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(visit.id)
            .bind(&visit.visitor_name)
            .bind(&visit.visitor_organisation)
            .bind(visit.host_person_id)
            .bind(visit.window_start)
            .bind(visit.window_end)
            .bind(visit.escort_required)
            .bind(visit.created_at)
            .bind(visit.updated_at)
            .execute(&mut *tx)
            .await?;
            for zone_id in &visit.allowed_zone_ids {
                sqlx::query("INSERT INTO visit_zones (visit_id, zone_id) VALUES ($1, $2)")
                    .bind(visit.id)
                    .bind(zone_id)
                    .execute(&mut *tx)
                    .await?;
            }
            Db::from(&mut *tx).log_change(&entry).await?;
            tx.commit().await?;
        });
        Ok(visit)
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn visit(&self, id: Uuid) -> Result<VisitRecord, StoreError> {
        let mut tx = self.read().await?;
        let visit = tx.db().visit(id).await?;
        tx.commit().await?;
        Ok(visit)
    }

    /// Visits ordered by id (registration order), after the cursor id.
    #[tracing::instrument(skip_all)]
    pub async fn list_visits(
        &self,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<VisitRecord>, StoreError> {
        let (visits, zones) = on!(self.read().await?, |mut tx| {
            let visits = sqlx::query_as::<_, VisitRecord>(select_visit!(
                "WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2"
            ))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            let zones = sqlx::query_as::<_, (Uuid, Uuid)>(
                "SELECT visit_id, zone_id FROM visit_zones WHERE visit_id IN \
                 (SELECT id FROM visits WHERE ($1 IS NULL OR id > $1) ORDER BY id LIMIT $2) \
                 ORDER BY zone_id",
            )
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            (visits, zones)
        });
        Ok(attach_zones(visits, zones))
    }

    /// Visits whose window overlaps `from..to`, by window start, at most `limit`.
    #[tracing::instrument(skip_all)]
    pub async fn visits_overlapping(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        limit: u32,
    ) -> Result<Vec<VisitRecord>, StoreError> {
        let (visits, zones) = on!(self.read().await?, |mut tx| {
            let visits = sqlx::query_as::<_, VisitRecord>(select_visit!(
                "WHERE window_start < $2 AND window_end > $1 ORDER BY window_start, id LIMIT $3"
            ))
            .bind(from)
            .bind(to)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            let zones = sqlx::query_as::<_, (Uuid, Uuid)>(
                "SELECT visit_id, zone_id FROM visit_zones WHERE visit_id IN \
                 (SELECT id FROM visits WHERE window_start < $2 AND window_end > $1 \
                 ORDER BY window_start, id LIMIT $3) ORDER BY zone_id",
            )
            .bind(from)
            .bind(to)
            .bind(i64::from(limit))
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            (visits, zones)
        });
        Ok(attach_zones(visits, zones))
    }

    /// Checks a visitor in. Refused (409) when already in, checked out, or the window
    /// has ended; an early arrival may check in, the card works from `window_start`.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn check_in_visit(&self, id: Uuid, actor: &Actor) -> Result<VisitRecord, StoreError> {
        let after = on!(self.write().await?, |mut tx| {
            let before = Db::from(&mut *tx).visit(id).await?;
            let at = now();
            if before.checked_out {
                return Err(StoreError::Rejected("the visit is checked out"));
            }
            if before.checked_in {
                return Err(StoreError::Rejected("the visit is already checked in"));
            }
            if at >= before.window_end {
                return Err(StoreError::Rejected("the visit's window has ended"));
            }
            sqlx::query("UPDATE visits SET checked_in_at = $2, updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            let after = VisitRecord {
                checked_in_at: Some(at),
                checked_in: true,
                updated_at: at,
                ..before.clone()
            };
            let entry = NewLogEntry::new(
                actor,
                "visit.check_in",
                "visit",
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

    /// Checks a visitor out and revokes the visit's credentials that are not revoked yet
    /// (each revocation logged). Refused (409) unless checked in and not yet out.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn check_out_visit(
        &self,
        id: Uuid,
        actor: &Actor,
    ) -> Result<VisitRecord, StoreError> {
        let after = on!(self.write().await?, |mut tx| {
            let before = Db::from(&mut *tx).visit(id).await?;
            let at = now();
            if !before.checked_in {
                return Err(StoreError::Rejected("the visit is not checked in"));
            }
            if before.checked_out {
                return Err(StoreError::Rejected("the visit is already checked out"));
            }
            sqlx::query("UPDATE visits SET checked_out_at = $2, updated_at = $2 WHERE id = $1")
                .bind(id)
                .bind(at)
                .execute(&mut *tx)
                .await?;
            let after = VisitRecord {
                checked_out_at: Some(at),
                checked_out: true,
                updated_at: at,
                ..before.clone()
            };
            let entry = NewLogEntry::new(
                actor,
                "visit.check_out",
                "visit",
                id,
                Some(&before),
                Some(&after),
            );
            Db::from(&mut *tx).insert_log(&entry).await?;
            let live = sqlx::query_as::<_, CredentialRow>(select_credential!(
                "WHERE visit_id = $1 AND state <> 'revoked' ORDER BY id"
            ))
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            for row in live {
                let before = row.record()?;
                let revoked = super::CredentialRecord {
                    state: CredentialState::Revoked,
                    updated_at: at,
                    ..before.clone()
                };
                sqlx::query("UPDATE credentials SET state = $2, updated_at = $3 WHERE id = $1")
                    .bind(revoked.id)
                    .bind(revoked.state.as_ref())
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                let entry = NewLogEntry::new(
                    actor,
                    "credential.update",
                    "credential",
                    revoked.id,
                    Some(&before),
                    Some(&revoked),
                );
                Db::from(&mut *tx).insert_log(&entry).await?;
            }
            Db::from(&mut *tx).bump_policy_version().await?;
            tx.commit().await?;
            after
        });
        Ok(after)
    }
}
