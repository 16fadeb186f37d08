//! Reading the policy change log (migration 0030): the records of the security model
//! changed after a policy version, as they are now, in the decision engine's types — a
//! [`PolicyDelta`] from that version to the current one, read in one snapshot. The
//! server brings its compiled policy forward with it, and agents receive it (cut down
//! to their sites, signed) instead of a whole snapshot.

use super::credentials::{CredentialRow, select_credential};
use super::grants::{GrantRecord, select_grant};
use super::people::{PersonRecord, PersonRow, attach_groups, select_person};
use super::people_load::one_per_card;
use super::visits::{VisitRecord, attach_zones, select_visit};
use super::{DoorRecord, ScheduleRecord, SiteRecord, Store, StoreError, ZoneRecord, on};
use gatehouse_core::model::PinKey;
use gatehouse_core::policy::{Changes, PolicyDelta, Record};
use std::collections::{BTreeSet, HashSet};
use uuid::Uuid;

/// `WHERE id IN (<ids of records of this kind the change log names after version $1>)`.
macro_rules! changed_since {
    ($kind:literal) => {
        concat!(
            "WHERE id IN (SELECT id FROM policy_changes WHERE kind = '",
            $kind,
            "' AND (version > $1 OR version IS NULL)) "
        )
    };
}
pub(crate) use changed_since;

/// The change log's rows after `$1`: stamped later, or not stamped yet (see the
/// migration: a change written after its transaction's bump, or one that did not bump,
/// is committed all the same and must not be missed).
const CHANGED_ROWS: &str = "SELECT DISTINCT kind, id FROM policy_changes \
     WHERE version > $1 OR version IS NULL";

/// What changed after a version: the version now, and the changes (settings left at
/// their default: they come from the server's configuration, not the database).
pub struct ModelChanges {
    /// The policy version the records were read at.
    pub version: i64,
    /// The records changed since, as they are at `version`.
    pub delta: PolicyDelta,
}

/// The ids the change log names, by kind.
#[derive(Default)]
struct Named {
    sites: BTreeSet<Uuid>,
    zones: BTreeSet<Uuid>,
    doors: BTreeSet<Uuid>,
    schedules: BTreeSet<Uuid>,
    people: BTreeSet<Uuid>,
    visits: BTreeSet<Uuid>,
    credentials: BTreeSet<Uuid>,
    grants: BTreeSet<Uuid>,
}

impl Store {
    /// The records changed after policy version `after`, as they are now, read in one
    /// snapshot with the version they make. `None` when the log no longer reaches back
    /// to `after` (pruned) or names more than `max_records` records: then a full
    /// compile or snapshot is the cheaper answer.
    ///
    /// Credentials are read by card: the policy holds one credential per card (see
    /// [`Store::load_people_model`]), so a change to any of a card's credentials may
    /// change which one it holds. Every credential of a changed card not chosen is in
    /// `removed`, whichever version a reader holds.
    #[tracing::instrument(skip_all, fields(after))]
    pub async fn model_changes_since(
        &self,
        after: i64,
        pin_key: &PinKey,
        max_records: usize,
    ) -> Result<Option<ModelChanges>, StoreError> {
        let mut tx = self.read().await?;
        let (version, changes_from) = on!(tx.db(), |c| {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT version, changes_from FROM policy_state WHERE id = 1",
            )
            .fetch_one(c)
            .await?
        });
        if after < changes_from {
            return Ok(None);
        }
        let rows = on!(tx.db(), |c| {
            sqlx::query_as::<_, (String, Uuid)>(CHANGED_ROWS)
                .bind(after)
                .fetch_all(c)
                .await?
        });
        if rows.len() > max_records {
            return Ok(None);
        }
        let named = named(rows);
        let sites = tx.db().changed_model_records::<SiteRecord>(after).await?;
        let zones = tx.db().changed_model_records::<ZoneRecord>(after).await?;
        let doors = tx.db().changed_model_records::<DoorRecord>(after).await?;
        let schedules = tx
            .db()
            .changed_model_records::<ScheduleRecord>(after)
            .await?;
        let (people, members, visits, visit_zones, credentials, grants) = on!(tx, |mut tx| {
            let people = sqlx::query_as::<_, PersonRow>(select_person!(
                "WHERE p.id IN (SELECT id FROM policy_changes WHERE kind = 'person' \
                     AND (version > $1 OR version IS NULL)) ORDER BY p.id"
            ))
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
            let members = sqlx::query_as::<_, (Uuid, Uuid)>(
                "SELECT person_id, group_id FROM group_members WHERE person_id IN \
                     (SELECT id FROM policy_changes WHERE kind = 'person' \
                     AND (version > $1 OR version IS NULL)) ORDER BY group_id",
            )
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
            let visits = sqlx::query_as::<_, VisitRecord>(select_visit!(concat!(
                changed_since!("visit"),
                "ORDER BY id"
            )))
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
            let visit_zones = sqlx::query_as::<_, (Uuid, Uuid)>(
                "SELECT visit_id, zone_id FROM visit_zones WHERE visit_id IN \
                     (SELECT id FROM policy_changes WHERE kind = 'visit' \
                     AND (version > $1 OR version IS NULL)) ORDER BY zone_id",
            )
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
            let credentials = sqlx::query_as::<_, CredentialRow>(select_credential!(
                "WHERE card IN (SELECT card FROM policy_changes WHERE kind = 'credential' \
                     AND (version > $1 OR version IS NULL)) ORDER BY id"
            ))
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
            let grants = sqlx::query_as::<_, GrantRecord>(select_grant!(concat!(
                changed_since!("grant"),
                "ORDER BY id"
            )))
            .bind(after)
            .fetch_all(&mut *tx)
            .await?;
            tx.commit().await?;
            (people, members, visits, visit_zones, credentials, grants)
        });
        let people = attach_groups(people, members)?;
        let visits = attach_zones(visits, visit_zones);
        let credentials = credentials
            .iter()
            .map(|row| row.engine(pin_key))
            .collect::<Result<Vec<_>, _>>()?;
        let mut card_ids: BTreeSet<Uuid> = credentials.iter().map(|c| c.id).collect();
        let chosen = one_per_card(credentials);
        card_ids.extend(&named.credentials);
        let delta = PolicyDelta {
            settings: Default::default(),
            sites: changes(to_models(sites, SiteRecord::to_model)?, &named.sites),
            zones: changes(
                zones.into_iter().map(ZoneRecord::to_model).collect(),
                &named.zones,
            ),
            doors: changes(
                doors.into_iter().map(DoorRecord::to_model).collect(),
                &named.doors,
            ),
            schedules: changes(
                schedules
                    .into_iter()
                    .map(ScheduleRecord::to_model)
                    .collect(),
                &named.schedules,
            ),
            people: changes(
                people.iter().map(PersonRecord::engine).collect(),
                &named.people,
            ),
            visits: changes(
                visits.iter().map(VisitRecord::engine).collect(),
                &named.visits,
            ),
            credentials: changes(chosen, &card_ids),
            grants: changes(
                grants.iter().filter_map(GrantRecord::engine).collect(),
                &named.grants,
            ),
        };
        Ok(Some(ModelChanges { version, delta }))
    }

    /// Forgets the change log of all but the last `keep` versions: a reader further
    /// behind gets a full compile or snapshot. Returns how many rows it removed.
    #[tracing::instrument(skip_all)]
    pub async fn prune_policy_changes(&self, keep: i64) -> Result<u64, StoreError> {
        on!(self.write().await?, |mut tx| {
            let version =
                sqlx::query_scalar::<_, i64>("SELECT version FROM policy_state WHERE id = 1")
                    .fetch_one(&mut *tx)
                    .await?;
            let horizon = version.saturating_sub(keep);
            let removed = sqlx::query("DELETE FROM policy_changes WHERE version <= $1")
                .bind(horizon)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            sqlx::query(
                "UPDATE policy_state SET changes_from = $1 WHERE id = 1 AND changes_from < $1",
            )
            .bind(horizon)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(removed)
        })
    }
}

fn named(rows: Vec<(String, Uuid)>) -> Named {
    let mut named = Named::default();
    for (kind, id) in rows {
        let set = match kind.as_str() {
            "site" => &mut named.sites,
            "zone" => &mut named.zones,
            "door" => &mut named.doors,
            "schedule" => &mut named.schedules,
            "person" => &mut named.people,
            "visit" => &mut named.visits,
            "credential" => &mut named.credentials,
            "grant" => &mut named.grants,
            // Written only by the migration's triggers: nothing else can appear.
            _ => continue,
        };
        set.insert(id);
    }
    named
}

fn to_models<R, T>(
    records: Vec<R>,
    to_model: impl Fn(R) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    records.into_iter().map(to_model).collect()
}

/// The records read, upserted; the ids named and not read (deleted, or hidden by a
/// pending import), removed.
fn changes<T: Record>(upserted: Vec<T>, named: &BTreeSet<Uuid>) -> Changes<T> {
    let present: HashSet<Uuid> = upserted.iter().map(Record::id).collect();
    Changes {
        removed: named
            .iter()
            .filter(|id| !present.contains(id))
            .copied()
            .collect(),
        upserted,
    }
}
