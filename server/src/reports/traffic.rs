//! Passages at the site's doors: granted and denied per day, per door and per hour of
//! the day, the reasons of the denials, and the door incidents (forced, held open).
//! "Granted" counts every passage the doors let through (`outcome = 'granted'`:
//! presentations and released entries, both directions); the hour-of-day figures count
//! granted entries only (people coming in).

use super::Period;
use crate::store::{DatabaseKind, Store, StoreError, on};
use chrono::{DateTime, NaiveDate, Timelike};
use gatehouse_core::local_time::wall_clock;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// Events of the site's doors in the period (`$1` site, `$2` start, `$3` end).
macro_rules! at_site_in_period {
    () => {
        " FROM access_events WHERE door_id IN (SELECT id FROM doors WHERE site_id = $1) \
          AND occurred_at >= $2 AND occurred_at < $3 "
    };
}

/// Passages per quarter hour since the Unix epoch; the quarter is computed per backend.
/// One group per quarter (its counts as `FILTER`ed aggregates), so the database sorts
/// one key and returns at most 96 rows a day.
macro_rules! quarters_query {
    ($quarter:literal) => {
        concat!(
            "SELECT ",
            $quarter,
            " AS quarter, count(*) FILTER (WHERE outcome = 'granted') AS granted, \
             count(*) FILTER (WHERE outcome = 'denied') AS denied, \
             count(*) FILTER (WHERE outcome = 'granted' AND direction = 'entry') AS entries",
            at_site_in_period!(),
            "AND outcome IN ('granted', 'denied') GROUP BY 1"
        )
    };
}
const QUARTERS_SQLITE: &str = quarters_query!("CAST(strftime('%s', occurred_at) AS INTEGER) / 900");
// `date_part` is float8 (exact to the microsecond for these dates); `extract` is numeric
// since PostgreSQL 14, about 1.1 s slower per 10,000,000 rows (BENCHMARKS.md, "Reports").
const QUARTERS_POSTGRES: &str =
    quarters_query!("CAST(floor(date_part('epoch', occurred_at) / 900) AS BIGINT)");

/// Granted and denied passages, and granted entries, of one quarter hour.
#[derive(Debug, sqlx::FromRow)]
pub struct Quarter {
    quarter: i64,
    granted: i64,
    denied: i64,
    entries: i64,
}

pub async fn quarters(store: &Store, period: &Period) -> Result<Vec<Quarter>, StoreError> {
    let sql = match store.kind() {
        DatabaseKind::Sqlite => QUARTERS_SQLITE,
        DatabaseKind::Postgres => QUARTERS_POSTGRES,
    };
    Ok(on!(store.pool(), |c| sqlx::query_as::<_, Quarter>(sql)
        .bind(period.site_id)
        .bind(period.start())
        .bind(period.end())
        .fetch_all(c)
        .await?))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DayCount {
    pub date: NaiveDate,
    pub granted: u64,
    pub denied: u64,
}

/// Granted entries in one hour of the site-local day: the average over the period's
/// days and the busiest day's count.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HourLoad {
    pub hour: u32,
    pub average: f64,
    pub peak: u64,
}

fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The quarters put in their site-local days and hours.
pub fn per_day_and_hour(period: &Period, quarters: &[Quarter]) -> (Vec<DayCount>, Vec<HourLoad>) {
    let mut days: BTreeMap<NaiveDate, DayCount> = period
        .days()
        .into_iter()
        .map(|date| {
            let day = DayCount {
                date,
                granted: 0,
                denied: 0,
            };
            (date, day)
        })
        .collect();
    let mut entries: HashMap<(NaiveDate, u32), u64> = HashMap::new();
    for q in quarters {
        let Some(at) = DateTime::from_timestamp(q.quarter.saturating_mul(900), 0) else {
            continue;
        };
        let local = wall_clock(at, period.zone);
        let date = local.date();
        let Some(day) = days.get_mut(&date) else {
            continue;
        };
        day.granted += count(q.granted);
        day.denied += count(q.denied);
        *entries.entry((date, local.hour())).or_default() += count(q.entries);
    }
    let day_count = days.len().max(1) as f64;
    let hours = (0..24)
        .map(|hour| {
            let counts = entries
                .iter()
                .filter(|((_, h), _)| *h == hour)
                .map(|e| *e.1);
            let (total, peak) = counts.fold((0u64, 0u64), |(t, p), n| (t + n, p.max(n)));
            HourLoad {
                hour,
                average: total as f64 / day_count,
                peak,
            }
        })
        .collect();
    (days.into_values().collect(), hours)
}

/// One door's figures over the period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DoorCount {
    pub door_id: Uuid,
    pub door: String,
    pub granted: u64,
    pub denied: u64,
    pub forced_open: u64,
    pub held_open: u64,
}

#[derive(sqlx::FromRow)]
struct DoorRow {
    door_id: Option<Uuid>,
    granted: i64,
    denied: i64,
    forced_open: i64,
    held_open: i64,
}

/// Grouped by door alone, the index's first column, so the database counts each door's
/// range as it reads it instead of sorting the period's rows.
pub async fn per_door(store: &Store, period: &Period) -> Result<Vec<DoorCount>, StoreError> {
    let (doors, rows) = on!(store.pool(), |c| {
        let doors = sqlx::query_as::<_, (Uuid, String)>(
            "SELECT id, name FROM doors WHERE site_id = $1 ORDER BY name, id",
        )
        .bind(period.site_id)
        .fetch_all(c)
        .await?;
        let rows = sqlx::query_as::<_, DoorRow>(concat!(
            "SELECT door_id, count(*) FILTER (WHERE outcome = 'granted') AS granted, \
             count(*) FILTER (WHERE outcome = 'denied') AS denied, \
             count(*) FILTER (WHERE kind = 'forced_open') AS forced_open, \
             count(*) FILTER (WHERE kind = 'held_open') AS held_open",
            at_site_in_period!(),
            "GROUP BY door_id"
        ))
        .bind(period.site_id)
        .bind(period.start())
        .bind(period.end())
        .fetch_all(c)
        .await?;
        (doors, rows)
    });
    let rows: HashMap<Option<Uuid>, DoorRow> = rows.into_iter().map(|r| (r.door_id, r)).collect();
    Ok(doors
        .into_iter()
        .map(|(door_id, door)| {
            let row = rows.get(&Some(door_id));
            let n = |f: fn(&DoorRow) -> i64| row.map_or(0, |r| count(f(r)));
            DoorCount {
                door_id,
                door,
                granted: n(|r| r.granted),
                denied: n(|r| r.denied),
                forced_open: n(|r| r.forced_open),
                held_open: n(|r| r.held_open),
            }
        })
        .collect())
}

/// Denials of one reason (the stored code; the page says it in words).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReasonCount {
    pub reason: String,
    pub denials: u64,
}

pub async fn reasons(store: &Store, period: &Period) -> Result<Vec<ReasonCount>, StoreError> {
    let rows = on!(store.pool(), |c| {
        sqlx::query_as::<_, (Option<String>, i64)>(concat!(
            "SELECT reason, count(*) AS n",
            at_site_in_period!(),
            "AND outcome = 'denied' GROUP BY reason ORDER BY 2 DESC, 1"
        ))
        .bind(period.site_id)
        .bind(period.start())
        .bind(period.end())
        .fetch_all(c)
        .await?
    });
    Ok(rows
        .into_iter()
        .map(|(reason, n)| ReasonCount {
            reason: reason.unwrap_or_default(),
            denials: count(n),
        })
        .collect())
}
