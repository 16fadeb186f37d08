//! Who is where: the last granted passage of each person and visit, updated from the
//! door events as they are ingested, and what is read from it — a zone's occupancy and
//! the list of everyone inside a site. A passage leads into the door's `to_zone` when
//! entering and its `from_zone` when leaving. A zone that no door leads into (only ever
//! a door's `from_zone`: the street, the car park) is the site's outside: nobody there is
//! "inside the site".

use super::people_common::MAX_BINDS;
use super::stored_time::StoredTime;
use super::{Db, Store, StoreError, on};
use crate::audit::records::EventRow;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// A granted passage of a known holder.
#[derive(Debug, Clone)]
pub(crate) struct Passage {
    pub holder_id: Uuid,
    pub person_id: Option<Uuid>,
    pub visit_id: Option<Uuid>,
    pub door_id: Uuid,
    pub direction: String,
    pub since: DateTime<Utc>,
    pub event_id: Uuid,
    /// The event's position among the entries its upload appends to the audit chain.
    pub chain_index: i64,
}

impl Passage {
    /// The passage an ingested event records, if it is a granted presentation of a known
    /// person or visit at a door, or a waiting holder's entry released by another's
    /// presentation (`released_entry`: the escorted visitor, the first of a pair, whose
    /// own `pending` presentation was no passage); `chain_index` as in [`Passage`].
    pub fn of(row: &EventRow, chain_index: usize) -> Option<Passage> {
        let passes = matches!(row.kind.as_str(), "presentation" | "released_entry");
        if !passes || row.outcome.as_deref() != Some("granted") {
            return None;
        }
        Some(Passage {
            holder_id: row.person_id.or(row.visit_id)?,
            person_id: row.person_id,
            visit_id: row.visit_id,
            door_id: row.door_id?,
            direction: row.direction.clone()?,
            since: row.occurred_at,
            event_id: row.id,
            chain_index: i64::try_from(chain_index).ok()?,
        })
    }
}

impl Db<'_> {
    /// Records `passages`: each holder's presence moves to the zone the passage led
    /// into, unless a later passage is already recorded. Passages at a door that no
    /// longer exists are skipped. `first_seq` is the audit chain seq of the upload's
    /// first chained entry: a passage's revision is its event's chain seq, so revisions
    /// grow in commit order and the presence feed never skips a change.
    ///
    /// Applied one by one, a holder's row would end at their last passage of the latest
    /// time (each replaces one no later than itself): only that one is written, all the
    /// holders in a few statements, the doors' zones read in one.
    pub(crate) async fn record_passages(
        mut self,
        passages: &[Passage],
        first_seq: i64,
    ) -> Result<(), StoreError> {
        let mut doors: Vec<Uuid> = passages.iter().map(|p| p.door_id).collect();
        doors.sort_unstable();
        doors.dedup();
        let zones = self.re().door_zones(&doors).await?;
        // Each holder's winning passage, in the order holders first pass.
        let mut winners: Vec<(&Passage, Uuid)> = Vec::new();
        let mut slot: HashMap<Uuid, usize> = HashMap::new();
        for p in passages {
            let Some(&(from, to)) = zones.get(&p.door_id) else {
                continue;
            };
            let zone = if p.direction == "exit" { from } else { to };
            match slot.get(&p.holder_id) {
                Some(&i) => {
                    if let Some(w) = winners.get_mut(i)
                        && w.0.since <= p.since
                    {
                        *w = (p, zone);
                    }
                }
                None => {
                    slot.insert(p.holder_id, winners.len());
                    winners.push((p, zone));
                }
            }
        }
        let per_insert = crate::store::events::rows_per_insert(&self, 9);
        on!(self.re(), |c| {
            for chunk in winners.chunks(per_insert) {
                let mut query = sqlx::QueryBuilder::new(
                    "INSERT INTO presence (holder_id, person_id, visit_id, zone_id, door_id, \
                     direction, since, event_id, revision) ",
                );
                query.push_values(chunk, |mut row, (p, zone)| {
                    row.push_bind(p.holder_id)
                        .push_bind(p.person_id)
                        .push_bind(p.visit_id)
                        .push_bind(*zone)
                        .push_bind(p.door_id)
                        .push_bind(&p.direction)
                        .push_bind(p.since)
                        .push_bind(p.event_id)
                        .push_bind(first_seq + p.chain_index);
                });
                query.push(
                    " ON CONFLICT (holder_id) DO UPDATE SET \
                     zone_id = excluded.zone_id, door_id = excluded.door_id, \
                     direction = excluded.direction, since = excluded.since, \
                     event_id = excluded.event_id, revision = excluded.revision \
                     WHERE presence.since <= excluded.since",
                );
                query.build().execute(&mut *c).await?;
            }
        });
        if !winners.is_empty() {
            // The waiting presence long-polls of every server, at commit.
            self.notify_feed(crate::feeds::PRESENCE_CHANNEL).await?;
        }
        Ok(())
    }

    /// The zones (from, to) of the doors among `doors` that exist.
    async fn door_zones(self, doors: &[Uuid]) -> Result<HashMap<Uuid, (Uuid, Uuid)>, StoreError> {
        let mut zones = HashMap::with_capacity(doors.len());
        on!(self, |c| {
            for chunk in doors.chunks(MAX_BINDS) {
                let mut query = sqlx::QueryBuilder::new(
                    "SELECT id, from_zone_id, to_zone_id FROM doors WHERE id IN (",
                );
                let mut list = query.separated(", ");
                for door in chunk {
                    list.push_bind(*door);
                }
                query.push(")");
                let rows = query
                    .build_query_as::<(Uuid, Uuid, Uuid)>()
                    .fetch_all(&mut *c)
                    .await?;
                zones.extend(rows.into_iter().map(|(id, from, to)| (id, (from, to))));
            }
        });
        Ok(zones)
    }
}

/// Someone inside, where they are and how they got there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Occupant {
    /// The person's id, or the visit's for a visitor.
    pub holder_id: Uuid,
    /// `person` or `visitor`.
    pub kind: String,
    pub name: String,
    pub zone_id: Uuid,
    pub zone_name: String,
    /// The door of the last passage.
    pub door_id: Uuid,
    pub door_name: Option<String>,
    /// `entry` or `exit`.
    pub direction: String,
    /// When they passed (by the door agent's clock).
    #[sqlx(try_from = "StoredTime")]
    pub since: DateTime<Utc>,
    /// A person's employer, a visitor's organisation.
    pub organisation: Option<String>,
    /// For a visitor: their host.
    pub host_person_id: Option<Uuid>,
    pub host_name: Option<String>,
}

/// `$prefix SELECT $columns` + the columns of [`Occupant`] over `presence p` joined with
/// zones `z`, doors, people `pe`, visits `v` and hosts `h` (`$more`: the columns after
/// `since`, `organisation` and the host's, or none), `WHERE $where`; visitors checked out
/// at reception after their last passage are gone.
macro_rules! select_occupants {
    ($prefix:literal, $columns:literal, $more:expr, $where:literal) => {
        concat!(
            $prefix,
            "SELECT ",
            $columns,
            "p.holder_id, CASE WHEN p.person_id IS NULL THEN 'visitor' ELSE 'person' END \
             AS kind, COALESCE(pe.name, v.visitor_name, '') AS name, p.zone_id, \
             z.name AS zone_name, p.door_id, d.name AS door_name, p.direction, p.since",
            $more,
            " FROM presence p JOIN zones z ON z.id = p.zone_id \
             LEFT JOIN doors d ON d.id = p.door_id \
             LEFT JOIN people pe ON pe.id = p.person_id \
             LEFT JOIN visits v ON v.id = p.visit_id \
             LEFT JOIN people h ON h.id = v.host_person_id \
             WHERE (v.checked_out_at IS NULL OR v.checked_out_at < p.since) AND ",
            $where,
            " ORDER BY z.name, name, p.holder_id"
        )
    };
}
pub(crate) use select_occupants;

/// The columns of [`Occupant`] after `since` (see [`select_occupants!`]).
macro_rules! occupant_more {
    () => {
        ", COALESCE(pe.employer, v.visitor_organisation) AS organisation, \
         v.host_person_id, h.name AS host_name"
    };
}

impl Store {
    /// Everyone whose last passage led into `zone_id` or a zone below it.
    #[tracing::instrument(skip_all)]
    pub async fn zone_occupants(&self, zone_id: Uuid) -> Result<Vec<Occupant>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, Occupant>(select_occupants!(
                "WITH RECURSIVE tree (id) AS (SELECT id FROM zones WHERE id = $1 \
                 UNION ALL SELECT c.id FROM zones c JOIN tree t ON c.parent_id = t.id) ",
                "",
                occupant_more!(),
                "p.zone_id IN (SELECT id FROM tree)"
            ))
            .bind(zone_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Everyone inside site `site_id`: in one of its zones that some door leads into.
    #[tracing::instrument(skip_all)]
    pub async fn site_occupants(&self, site_id: Uuid) -> Result<Vec<Occupant>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, Occupant>(select_occupants!(
                "",
                "",
                occupant_more!(),
                "z.site_id = $1 AND EXISTS (SELECT 1 FROM doors inward \
                 WHERE inward.to_zone_id = p.zone_id)"
            ))
            .bind(site_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}

/// A presence change as the feed gives it to one agent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresenceChange {
    pub holder_id: Uuid,
    /// The zone the holder passed into, or `None` when it is not in the agent's sites.
    pub zone_id: Option<Uuid>,
    pub since: DateTime<Utc>,
    /// The feed position of this change (see `record_passages!`).
    pub revision: i64,
}

impl Store {
    /// The presence changes after `after` (every presence when `None`), in revision
    /// order, at most `limit`; zones outside `sites` are given as `None`.
    #[tracing::instrument(skip_all)]
    pub async fn presence_changes(
        &self,
        sites: &std::collections::BTreeSet<Uuid>,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<PresenceChange>, StoreError> {
        let rows: Vec<(Uuid, Uuid, Uuid, StoredTime, i64)> = on!(self.pool(), |pool| {
            sqlx::query_as(
                "SELECT p.holder_id, p.zone_id, z.site_id, p.since, p.revision \
                 FROM presence p JOIN zones z ON z.id = p.zone_id \
                 WHERE p.revision > $1 ORDER BY p.revision LIMIT $2",
            )
            .bind(after.unwrap_or(-1))
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows
            .into_iter()
            .map(
                |(holder_id, zone_id, site_id, since, revision)| PresenceChange {
                    holder_id,
                    zone_id: sites.contains(&site_id).then_some(zone_id),
                    since: since.into(),
                    revision,
                },
            )
            .collect())
    }
}
