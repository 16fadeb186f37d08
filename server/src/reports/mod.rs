//! ISO 28000 monitoring and measurement: the figures of a site over a period of
//! site-local days, for the console's reports page (`/reports`) and its CSV tables.
//!
//! Every figure is counted by the database (`GROUP BY`) from the records the audit export
//! carries: `access_events` (entries, denials, door incidents), the alarm tables
//! (`event_alarms`, `agent_alarms`, `alarm_acks`), and the security model (vetting,
//! grants, credentials). Only aggregates come back, never the events themselves: a
//! year at a busy site is millions of rows.
//!
//! Days and hours are the site's: events are counted per quarter hour of UTC by the
//! database (every time zone in use is a whole number of quarter hours from UTC) and the
//! quarters are put in their site-local day and hour here, so a day across a clock
//! change has its 23 or 25 hours.

pub mod alarms;
pub mod people;
pub mod svg;
pub mod traffic;

pub use alarms::AlarmLine;
pub use people::{Dormant, Expiring, Unvetted};
pub use traffic::{DayCount, DoorCount, HourLoad, ReasonCount};

use crate::store::{Store, StoreError};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use uuid::Uuid;

/// The longest period a report covers.
pub const MAX_DAYS: i64 = 400;

/// A site and a period of whole site-local days (`from` to `to`, both included).
#[derive(Debug, Clone)]
pub struct Period {
    pub site_id: Uuid,
    pub zone: Tz,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Period {
    /// The instant the site-local day `date` starts (its first existing minute where a
    /// clock change skips midnight).
    pub fn day_start(&self, date: NaiveDate) -> DateTime<Utc> {
        let midnight = date.and_time(chrono::NaiveTime::MIN);
        (0..=4)
            .find_map(|h| {
                self.zone
                    .from_local_datetime(&(midnight + Duration::minutes(30 * h)))
                    .earliest()
            })
            .map_or_else(|| midnight.and_utc(), |at| at.with_timezone(&Utc))
    }

    /// The period's first instant (included).
    pub fn start(&self) -> DateTime<Utc> {
        self.day_start(self.from)
    }

    /// The instant after the period (excluded).
    pub fn end(&self) -> DateTime<Utc> {
        self.day_start(self.to + Duration::days(1))
    }

    /// Every day of the period, in order.
    pub fn days(&self) -> Vec<NaiveDate> {
        self.from
            .iter_days()
            .take_while(|d| *d <= self.to)
            .collect()
    }
}

/// Every figure of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Granted and denied passages per site-local day (every day of the period).
    pub days: Vec<DayCount>,
    /// Per door of the site (doors with nothing in the period included).
    pub doors: Vec<DoorCount>,
    /// Denials per reason, most frequent first.
    pub reasons: Vec<ReasonCount>,
    /// Granted entries per hour of the site-local day.
    pub hours: Vec<HourLoad>,
    /// Alarms per kind, with the time to acknowledge.
    pub alarms: Vec<AlarmLine>,
    /// Vetting that ends within 90 days, of people with access to vetting zones.
    pub expiring: Vec<Expiring>,
    /// People with access to a vetting zone of the site and no valid vetting now.
    pub unvetted: Vec<Unvetted>,
    /// Active cards of people with access at the site, not presented for 90 days.
    pub dormant: Vec<Dormant>,
}

/// Computes the report of `period` as of `now` (the vetting and card figures look
/// forward and back from it).
pub async fn compute(
    store: &Store,
    period: &Period,
    now: DateTime<Utc>,
) -> Result<Report, StoreError> {
    let quarters = traffic::quarters(store, period).await?;
    let (days, hours) = traffic::per_day_and_hour(period, &quarters);
    let doors = traffic::per_door(store, period).await?;
    let reasons = traffic::reasons(store, period).await?;
    let alarms = alarms::alarm_lines(store, period).await?;
    let (expiring, unvetted) = people::vetting(store, period.site_id, now).await?;
    let dormant = people::dormant(store, period.site_id, now).await?;
    Ok(Report {
        days,
        doors,
        reasons,
        hours,
        alarms,
        expiring,
        unvetted,
        dormant,
    })
}

/// The nearest-rank percentile `p` (0–100) of sorted `values`: the smallest value with at
/// least p % of the values at or below it (the median of 4 values is the 2nd).
pub fn percentile(sorted: &[i64], p: u32) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let n = sorted.len();
    let rank = (n * p as usize).div_ceil(100).clamp(1, n);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[7], 50), Some(7));
        assert_eq!(percentile(&[7], 90), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 4], 50), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 4, 5], 50), Some(3));
        let ten: Vec<i64> = (1..=10).collect();
        assert_eq!(percentile(&ten, 90), Some(9));
        let eleven: Vec<i64> = (1..=11).collect();
        assert_eq!(percentile(&eleven, 90), Some(10));
    }

    #[test]
    fn a_period_is_whole_local_days_across_a_clock_change() -> anyhow::Result<()> {
        let period = Period {
            site_id: Uuid::nil(),
            zone: chrono_tz::Europe::Berlin,
            from: "2026-10-24".parse()?,
            to: "2026-10-25".parse()?,
        };
        assert_eq!(period.start().to_rfc3339(), "2026-10-23T22:00:00+00:00");
        // 25 October has 25 hours: it ends at 23:00 UTC.
        assert_eq!(period.end().to_rfc3339(), "2026-10-25T23:00:00+00:00");
        assert_eq!(period.days().len(), 2);
        Ok(())
    }
}
