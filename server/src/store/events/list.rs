//! Listing events and an agent's ingest alarms. Every combination of filters reads its
//! page from an index: see "The events list" below.

use super::{AlarmRecord, EventFilter, EventRecord};
use crate::store::conn::Either;
use crate::store::{Store, StoreError, on};
use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

/// The start of every events-list query, up to its `WHERE`.
macro_rules! select_events {
    () => {
        "SELECT id, agent_id, seq, occurred_at, received_at, door_id, kind, reader, direction, \
         card, outcome, reason, person_id, visit_id, credential_id, zone_id, policy_version, \
         released_by, release_of FROM access_events WHERE "
    };
}

/// [`super::INCIDENT_KINDS`] as an SQL list, spelled exactly as the predicate of the
/// partial index `access_events_incident` (migration 0021), so both databases use it.
macro_rules! incident_kinds {
    () => {
        "('forced_open', 'held_open', 'held_open_cleared', 'not_opened_after_grant', \
         'policy_stale', 'journal_full', 'reader_error', 'agent_started', 'lock_fault', \
         'clock_offset', 'tamper', 'tamper_cleared', 'presence_unconfirmed')"
    };
}

/// Every filter as a test of the row (parameters as [`bind_page!`] binds them), none of
/// them usable as an index range: `$n IS NULL OR` keeps a generic plan from it and
/// `COALESCE` a plan made for the values (where PostgreSQL folds `$n IS NULL` away and
/// would otherwise read, say, the zone's and the incidents' indexes and sort, rather
/// than walk the drive's), so both databases walk the index the query names.
macro_rules! event_tests {
    () => {
        concat!(
            " AND ($1 IS NULL OR COALESCE(door_id, door_id) = $1) \
             AND ($2 IS NULL OR COALESCE(person_id, person_id) = $2) \
             AND ($3 IS NULL OR COALESCE(credential_id, credential_id) = $3) \
             AND ($4 IS NULL OR COALESCE(zone_id, zone_id) = $4 \
               OR (COALESCE(kind, kind) IN ",
            incident_kinds!(),
            " AND COALESCE(door_id, door_id) IN (SELECT id FROM doors WHERE to_zone_id = $4))) \
             AND ($15 IS NULL OR COALESCE(door_id, door_id) IN \
               (SELECT id FROM doors WHERE site_id = $15)) \
             AND ($5 IS NULL OR COALESCE(outcome, outcome) = $5) \
             AND ($6 IS NULL OR COALESCE(reason, reason) = $6) \
             AND ($7 IS NULL OR COALESCE(kind, kind) = $7) \
             AND ($8 IS NULL OR COALESCE(occurred_at, occurred_at) >= $8) \
             AND ($9 IS NULL OR COALESCE(occurred_at, occurred_at) < $9) \
             AND ($13 IS NULL OR COALESCE(card, card) = $13) \
             AND ($14 IS NULL OR COALESCE(person_id, person_id) IN (SELECT id FROM people \
                 WHERE LOWER(name) LIKE $14 ESCAPE '\\') \
               OR COALESCE(visit_id, visit_id) IN (SELECT id FROM visits \
                 WHERE LOWER(visitor_name) LIKE $14 ESCAPE '\\'))"
        )
    };
}

/// A walk in id order through `($10, $12)` along the `(column, id)` index of `$drive`
/// (`"door_id = $1 AND "`), or along the primary key (`""`).
macro_rules! walk {
    ($drive:expr) => {
        concat!(
            select_events!(),
            $drive,
            "id > $10 AND id < $12",
            event_tests!(),
            " ORDER BY id LIMIT $11"
        )
    };
}

/// [`walk!`] along the `(column, id)` index of `$column = $param`, the id range written
/// as row values of that index (PostgreSQL only): the primary key cannot serve them, so
/// the planner walks the drive's index rather than the primary key (which it chose,
/// in parallel, for a zone: 13 ms instead of under 1).
macro_rules! walk_rows {
    ($column:literal, $param:literal) => {
        concat!(
            select_events!(),
            $column,
            " = ",
            $param,
            " AND (",
            $column,
            ", id) > (",
            $param,
            ", $10) AND (",
            $column,
            ", id) < (",
            $param,
            ", $12)",
            event_tests!(),
            " ORDER BY id LIMIT $11"
        )
    };
}

/// The early (`$class` `"arrived_early AND "`: received before they
/// occurred, by the clocks) or late (`"arrived_late AND "`: received more than an hour
/// after) events of the period with ids in `($10, $12]`, read from that class's partial
/// index on `$drive` (`"door_id = $1 AND "`) or on the period alone (`""`).
macro_rules! outliers {
    ($class:literal, $drive:literal) => {
        concat!(
            select_events!(),
            $class,
            $drive,
            "occurred_at >= $8 AND occurred_at < $9 \
             AND COALESCE(id, id) > $10 AND COALESCE(id, id) <= $12",
            event_tests!(),
            " ORDER BY COALESCE(id, id) LIMIT $11"
        )
    };
}

/// `sqlx::query_as($sql)` with the page's parameters `$1` to `$15`.
macro_rules! bind_page {
    ($sql:expr, $page:expr) => {
        bind_params!(sqlx::query_as::<_, EventRecord>($sql), $page)
    };
}

/// `$query` with the page's parameters `$1` to `$15`.
macro_rules! bind_params {
    ($query:expr, $page:expr) => {{
        let page: &EventPage<'_> = $page;
        $query
            .bind(page.filter.door_id)
            .bind(page.filter.person_id)
            .bind(page.filter.credential_id)
            .bind(page.filter.zone_id)
            .bind(page.filter.outcome.as_deref())
            .bind(page.filter.reason.as_deref())
            .bind(page.filter.kind.as_deref())
            .bind(page.from)
            .bind(page.to)
            .bind(page.after)
            .bind(page.limit)
            .bind(page.before)
            .bind(page.filter.card.as_deref())
            .bind(page.filter.person_name.as_deref().map(name_pattern))
            .bind(page.filter.site_id)
    }};
}

impl Store {
    /// Events in id (≈ arrival) order after the cursor id, at most `limit`. Every
    /// combination of filters reads its page from an index: see "The events list" below.
    #[tracing::instrument(skip_all)]
    pub async fn list_events(
        &self,
        filter: &EventFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<EventRecord>, StoreError> {
        self.list_events_explained(filter, after, limit, None).await
    }

    /// [`Store::list_events`], and with `plans` each statement's plan as it ran
    /// (`EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite):
    /// for the `event_search` bench.
    #[doc(hidden)]
    pub async fn list_events_explained(
        &self,
        filter: &EventFilter,
        after: Option<Uuid>,
        limit: u32,
        mut plans: Option<&mut Vec<String>>,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let Some(page) = EventPage::new(filter, after, limit) else {
            return Ok(Vec::new());
        };
        let (floor, ceiling) = id_window(filter);
        let drives: Vec<(Drive, Option<Uuid>)> = match self.named_people(filter).await? {
            Named::Any => Drive::of(filter)
                .into_iter()
                .map(|drive| (drive, None))
                .collect(),
            Named::Few(people) => people
                .into_iter()
                .map(|id| (Drive::Person, Some(id)))
                .collect(),
        };
        if drives.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows = Vec::new();
        // Below the window: early events only.
        if let Some(floor) = floor.filter(|floor| page.after < *floor) {
            let early = EventPage {
                before: floor,
                ..page
            };
            rows = self
                .read_part(&drives, Drive::early, &early, plans.as_deref_mut())
                .await?;
        }
        // The window, walked.
        let start = floor.map_or(page.after, |floor| floor.max(page.after));
        if rows.len() < page.wanted() && start < ceiling {
            let walk = EventPage {
                after: start,
                before: ceiling,
                limit: page.limit - rows.len() as i64,
                ..page
            };
            let sql = match self.pool() {
                Either::Sqlite(_) => Drive::walk,
                Either::Postgres(_) => Drive::walk_rows,
            };
            rows.extend(
                self.read_part(&drives, sql, &walk, plans.as_deref_mut())
                    .await?,
            );
        }
        // Above the window: late events only.
        if rows.len() < page.wanted() && ceiling < Uuid::max() {
            let late = EventPage {
                // Just below the ceiling: the window ends before it.
                after: Uuid::from_u128(ceiling.as_u128() - 1).max(page.after),
                before: Uuid::max(),
                limit: page.limit - rows.len() as i64,
                ..page
            };
            rows.extend(self.read_part(&drives, Drive::late, &late, plans).await?);
        }
        Ok(rows)
    }

    /// The people a name search can drive by: `Few` when the name is searched alone
    /// (no credential, card or person), matches no visitor and at most
    /// [`NAMED_DRIVES`] people (none: an empty page).
    async fn named_people(&self, filter: &EventFilter) -> Result<Named, StoreError> {
        let Some(name) = filter.person_name.as_deref() else {
            return Ok(Named::Any);
        };
        if filter.credential_id.is_some() || filter.card.is_some() || filter.person_id.is_some() {
            return Ok(Named::Any);
        }
        let pattern = name_pattern(name);
        let (people, visitors) = on!(self.pool(), |pool| {
            let people: Vec<Uuid> = sqlx::query_scalar(
                "SELECT id FROM people WHERE LOWER(name) LIKE $1 ESCAPE '\\' LIMIT $2",
            )
            .bind(&pattern)
            .bind(NAMED_DRIVES as i64 + 1)
            .fetch_all(pool)
            .await?;
            let visitors: Vec<Uuid> = sqlx::query_scalar(
                "SELECT id FROM visits WHERE LOWER(visitor_name) LIKE $1 ESCAPE '\\' LIMIT 1",
            )
            .bind(&pattern)
            .fetch_all(pool)
            .await?;
            (people, visitors)
        });
        Ok(if people.len() > NAMED_DRIVES || !visitors.is_empty() {
            Named::Any
        } else {
            Named::Few(people)
        })
    }

    /// One part of a page (early, walked or late) read along each of `drives` (for a
    /// person's drive, that person): the first `page.limit` of their rows in id order.
    async fn read_part(
        &self,
        drives: &[(Drive, Option<Uuid>)],
        sql: fn(Drive) -> &'static str,
        page: &EventPage<'_>,
        mut plans: Option<&mut Vec<String>>,
    ) -> Result<Vec<EventRecord>, StoreError> {
        let mut rows = Vec::new();
        for (drive, person) in drives {
            let named;
            let page = match person {
                Some(id) => {
                    // The name matched this person: not tested again on each row.
                    named = EventFilter {
                        person_id: Some(*id),
                        person_name: None,
                        ..page.filter.clone()
                    };
                    &EventPage {
                        filter: &named,
                        ..*page
                    }
                }
                None => page,
            };
            if let Some(plans) = plans.as_deref_mut() {
                plans.push(format!("-- {drive:?}"));
                plans.extend(self.explain(sql(*drive), page).await?);
            }
            let read = on!(self.pool(), |pool| {
                bind_page!(sql(*drive), page).fetch_all(pool).await?
            });
            rows.extend(read);
        }
        if drives.len() > 1 {
            rows.sort_by_key(|e| e.id);
            rows.dedup_by_key(|e| e.id);
            rows.truncate(page.wanted());
        }
        Ok(rows)
    }

    /// The plan of one statement of a page, run with the page's parameters.
    async fn explain(&self, sql: &str, page: &EventPage<'_>) -> Result<Vec<String>, StoreError> {
        use sqlx::AssertSqlSafe;
        Ok(match self.pool() {
            Either::Sqlite(pool) => {
                let sql = AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}"));
                let query = sqlx::query_as::<_, (i64, i64, i64, String)>(sql);
                let rows = bind_params!(query, page).fetch_all(pool).await?;
                rows.into_iter().map(|(_, _, _, step)| step).collect()
            }
            Either::Postgres(pool) => {
                let sql = AssertSqlSafe(format!("EXPLAIN (ANALYZE, BUFFERS) {sql}"));
                let query = sqlx::query_scalar::<_, String>(sql);
                bind_params!(query, page).fetch_all(pool).await?
            }
        })
    }

    /// An agent's ingest alarms, oldest first, after the cursor id.
    #[tracing::instrument(skip_all)]
    pub async fn list_agent_alarms(
        &self,
        agent_id: Uuid,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<AlarmRecord>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, AlarmRecord>(
                "SELECT id, agent_id, at, kind, detail FROM agent_alarms \
                 WHERE agent_id = $1 AND ($2 IS NULL OR id > $2) \
                 AND kind IN ('journal_gap', 'chain_broken', 'clock_offset', 'seq_conflict') \
                 ORDER BY id LIMIT $3",
            )
            .bind(agent_id)
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }
}

// The events list.
//
// A page is the first `limit` matching events in id order after the cursor. Ids are
// UUIDv7 taken when an event is stored, so id order is arrival order: new events land at
// the end, and a client paging through never misses one. Every combination of filters
// must find its page from an index at 10 million events (migration 0008):
//
// - One equality filter drives the page: its `(column, id)` index is read in id order
//   from the cursor, the other filters tested on each row, until the page is full
//   (credential, card, person, door, zone, reason, kind, by that preference: the most
//   selective first). With none of them, the primary key is read the same way.
// - Some pages are read along several drives, each up to the page's size, and merged
//   in id order: a zone's own events and the door incidents at the doors leading into
//   it (`access_events_incident`); a name matching at most [`NAMED_DRIVES`] people,
//   each person's events along `(person_id, id)`.
// - The period is on `occurred_at`, which is not id order, so it cannot be a range of
//   those indexes; but an event is normally stored seconds after it occurred. An event
//   that occurred in `[from, to)` and was received no earlier than it occurred, and at
//   most an hour later, has an id inside a window ([`id_window`]): from the smallest
//   UUIDv7 of `from` to the largest of `to` plus an hour (plus margins). The walk stays
//   inside that window: it neither reads the years before `from` nor, once the
//   period's events are listed, the years after `to`.
// - The events outside the window are the early ones (received before they occurred,
//   by the clocks: an agent whose clock runs ahead) below it and the late ones
//   (`arrived_late`, a generated column: received more than an hour after, an agent
//   that was offline) above it. Each kind has partial indexes of its own, one per drive
//   `(column, occurred_at)` and one on `(occurred_at)`: the period's early (late) events
//   of the drive are read from it and sorted by id, before (after) the walk. They are
//   few, and the late ones are read only when the walk leaves the page short.
//
// Which index a query uses is spelled out in its SQL rather than left to each
// database's planner: the filters that must not drive are written as row tests
// (`$n IS NULL OR`, `COALESCE`), which neither SQLite nor PostgreSQL takes as an index
// range. On PostgreSQL a drive's walk writes its id range as row values of the drive's
// index ([`walk_rows!`]), as its planner otherwise preferred the primary key's range.
//
// This relies on how ingest takes ids: after `received_at`, on the same clock, within
// [`ID_AFTER_RECEIVED_S`] of it (a transaction is far shorter).

/// A name search matching at most this many people reads each one's events along
/// their `(person_id, id)` index; more (or a visitor) are tested on each row.
const NAMED_DRIVES: usize = 16;

/// Who a name search names.
enum Named {
    /// No name, or a name to test on each row.
    Any,
    /// These people, each read along their own index.
    Few(Vec<Uuid>),
}

/// How long after `received_at` an event's id may be taken (ingest takes `received_at`
/// when an upload arrives and the ids as it stores the events, in the same transaction).
const ID_AFTER_RECEIVED_S: i64 = 600;

/// Margin for a clock stepped back between reading `received_at` and taking an id.
const ID_BEFORE_RECEIVED_S: i64 = 60;

/// Received more than this long after it occurred, an event `arrived_late` (the
/// generated column of migration 0008 says the same).
const LATE_AFTER_S: i64 = 3600;

/// The ids of the events of `filter`'s period that are neither early nor late lie
/// strictly inside `(floor, ceiling)`: `floor` just below the smallest UUIDv7 of `from`
/// less a margin (`None` without `from`), `ceiling` the smallest UUIDv7 of `to` plus an
/// hour and a margin (the largest id without `to`).
fn id_window(filter: &EventFilter) -> (Option<Uuid>, Uuid) {
    let floor = filter.from.map(|from| {
        let at = from - chrono::Duration::seconds(ID_BEFORE_RECEIVED_S);
        Uuid::from_u128(smallest_v7(at).saturating_sub(1))
    });
    let ceiling = filter.to.map_or(Uuid::max(), |to| {
        let at = to + chrono::Duration::seconds(LATE_AFTER_S + ID_AFTER_RECEIVED_S + 1);
        Uuid::from_u128(smallest_v7(at))
    });
    (floor, ceiling)
}

/// The smallest UUIDv7 of the millisecond of `at`: 48 bits of milliseconds, version 7,
/// variant `0b10`, every other bit zero.
fn smallest_v7(at: DateTime<Utc>) -> u128 {
    let millis = u128::try_from(at.timestamp_millis()).unwrap_or(0);
    (millis.min((1 << 48) - 1) << 80) | (0x7 << 76) | (0b10 << 62)
}

/// A page request with its period normalised: both ends set (the open one at the end of
/// the calendar) or neither; rounded up to the microsecond the databases store.
#[derive(Clone, Copy)]
struct EventPage<'a> {
    filter: &'a EventFilter,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    /// Exclusive; the nil id before the first page.
    after: Uuid,
    /// The exclusive (walk) or inclusive (early, late) upper bound of the ids to read.
    before: Uuid,
    limit: i64,
}

impl<'a> EventPage<'a> {
    /// `None` when the period is empty.
    fn new(filter: &'a EventFilter, after: Option<Uuid>, limit: u32) -> Option<EventPage<'a>> {
        let (from, to) = match (filter.from, filter.to) {
            (None, None) => (None, None),
            (from, to) => {
                // Years 0000 and 9999: SQLite compares the stored text, which sorts
                // right only within four-digit years.
                let first = DateTime::from_timestamp(-62_167_219_200, 0);
                let last = DateTime::from_timestamp(253_402_300_799, 999_999_000);
                let from = ceil_micros(from.or(first)?);
                let to = ceil_micros(to.or(last)?);
                if from >= to {
                    return None;
                }
                (Some(from), Some(to))
            }
        };
        Some(EventPage {
            filter,
            from,
            to,
            after: after.unwrap_or(Uuid::nil()),
            before: Uuid::max(),
            limit: i64::from(limit),
        })
    }

    fn wanted(&self) -> usize {
        usize::try_from(self.limit).unwrap_or(usize::MAX)
    }
}

/// The `LIKE` pattern of a name search: the name anywhere, case-insensitive (`LOWER`:
/// ASCII letters on SQLite, every letter on PostgreSQL), `%`, `_` and `\` matched as
/// themselves.
fn name_pattern(name: &str) -> String {
    let mut pattern = String::with_capacity(name.len() + 2);
    pattern.push('%');
    for c in name.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// `at` rounded up to the microsecond: stored times have microseconds, so
/// `t >= at` ⇔ `t >= ceil(at)` and `t < at` ⇔ `t < ceil(at)` on both backends.
fn ceil_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    let down = at.trunc_subsecs(6);
    if down < at {
        down.checked_add_signed(chrono::Duration::microseconds(1))
            .unwrap_or(down)
    } else {
        down
    }
}

/// The filter whose index the walk reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Drive {
    Credential,
    Card,
    Person,
    Door,
    Zone,
    Reason,
    Kind,
    /// The door incidents (partial index `access_events_incident`, in id order), the
    /// other half of a zone's events: those at the doors leading into it.
    Incident,
    /// The primary key: no equality filter.
    Arrival,
}

impl Drive {
    /// The drives whose rows make up the page: one, or for a zone its presentations
    /// and, when the other filters can match one, the incidents at its doors.
    fn of(filter: &EventFilter) -> Vec<Drive> {
        let drive = Drive::first(filter);
        let incidents_match = filter.person_name.is_none()
            && filter.card.is_none()
            && filter.outcome.is_none()
            && filter.reason.is_none()
            && (filter.kind.as_deref()).is_none_or(|k| super::INCIDENT_KINDS.contains(&k));
        let passage = |k: &str| k == "presentation" || k == "released_entry";
        if drive == Drive::Zone && filter.kind.as_deref().is_some_and(|k| !passage(k)) {
            // Only incidents (or nothing) of this kind in the zone: the kind's index
            // holds far fewer rows than the zone's.
            vec![Drive::Kind]
        } else if drive == Drive::Zone && incidents_match {
            vec![Drive::Zone, Drive::Incident]
        } else {
            vec![drive]
        }
    }

    fn first(filter: &EventFilter) -> Drive {
        if filter.credential_id.is_some() {
            Drive::Credential
        } else if filter.card.is_some() {
            Drive::Card
        } else if filter.person_id.is_some() {
            Drive::Person
        } else if filter.door_id.is_some() {
            Drive::Door
        } else if filter.zone_id.is_some() {
            Drive::Zone
        } else if filter.reason.is_some() {
            Drive::Reason
        } else if filter.kind.is_some() {
            Drive::Kind
        } else {
            Drive::Arrival
        }
    }

    /// The walk along this drive's index.
    fn walk(self) -> &'static str {
        match self {
            Drive::Credential => walk!("credential_id = $3 AND "),
            Drive::Card => walk!("card = $13 AND "),
            Drive::Person => walk!("person_id = $2 AND "),
            Drive::Door => walk!("door_id = $1 AND "),
            Drive::Zone => walk!("zone_id = $4 AND "),
            Drive::Reason => walk!("reason = $6 AND "),
            Drive::Kind => walk!("kind = $7 AND "),
            Drive::Incident => walk!(concat!("kind IN ", incident_kinds!(), " AND ")),
            Drive::Arrival => walk!(""),
        }
    }

    /// [`Drive::walk`] for PostgreSQL: with the id range as row values of the drive's
    /// index ([`walk_rows!`]).
    fn walk_rows(self) -> &'static str {
        match self {
            Drive::Credential => walk_rows!("credential_id", "$3"),
            Drive::Card => walk_rows!("card", "$13"),
            Drive::Person => walk_rows!("person_id", "$2"),
            Drive::Door => walk_rows!("door_id", "$1"),
            Drive::Zone => walk_rows!("zone_id", "$4"),
            Drive::Reason => walk_rows!("reason", "$6"),
            Drive::Kind => walk_rows!("kind", "$7"),
            Drive::Incident | Drive::Arrival => self.walk(),
        }
    }

    /// The early events of the period from this drive's partial index.
    fn early(self) -> &'static str {
        match self {
            Drive::Credential => outliers!("arrived_early AND ", "credential_id = $3 AND "),
            Drive::Card => outliers!("arrived_early AND ", "card = $13 AND "),
            Drive::Person => outliers!("arrived_early AND ", "person_id = $2 AND "),
            Drive::Door => outliers!("arrived_early AND ", "door_id = $1 AND "),
            Drive::Zone => outliers!("arrived_early AND ", "zone_id = $4 AND "),
            Drive::Reason => outliers!("arrived_early AND ", "reason = $6 AND "),
            Drive::Kind => outliers!("arrived_early AND ", "kind = $7 AND "),
            // Few: the period's early events, each tested.
            Drive::Incident => outliers!("arrived_early AND ", ""),
            Drive::Arrival => outliers!("arrived_early AND ", ""),
        }
    }

    /// The late events of the period from this drive's partial index.
    fn late(self) -> &'static str {
        match self {
            Drive::Credential => outliers!("arrived_late AND ", "credential_id = $3 AND "),
            Drive::Card => outliers!("arrived_late AND ", "card = $13 AND "),
            Drive::Person => outliers!("arrived_late AND ", "person_id = $2 AND "),
            Drive::Door => outliers!("arrived_late AND ", "door_id = $1 AND "),
            Drive::Zone => outliers!("arrived_late AND ", "zone_id = $4 AND "),
            Drive::Reason => outliers!("arrived_late AND ", "reason = $6 AND "),
            Drive::Kind => outliers!("arrived_late AND ", "kind = $7 AND "),
            Drive::Incident => outliers!("arrived_late AND ", ""),
            Drive::Arrival => outliers!("arrived_late AND ", ""),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_sql_list_of_incidents_is_the_constant() {
        let listed: Vec<String> = super::super::INCIDENT_KINDS
            .iter()
            .map(|k| format!("'{k}'"))
            .collect();
        let sql: String = incident_kinds!().split_whitespace().collect();
        assert_eq!(sql, format!("({})", listed.join(",")));
    }
}
