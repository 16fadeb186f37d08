//! Weekly schedules in site-local time, with holidays.
//!
//! A schedule is evaluated from the UTC instant: convert to the site's local time, then
//! test membership. Daylight-saving transitions need no special case that way — on a
//! spring-forward day a 01:30–02:30 window admits from 01:30 until the clock jumps to
//! 03:00 (local 02:00–02:59 never occurs), and in the autumn both occurrences of 01:30
//! fall inside a 01:00–02:00 window.
//!
//! A window whose end is not after its start (`22:00–06:00`, or `08:00–08:00` for a full
//! day) starts on its listed day and ends on the next. A holiday is a local calendar
//! date on which nothing is admitted, midnight to midnight: a Friday 22:00–06:00 window
//! is cut at midnight when the Saturday is a holiday, and a window starting on a holiday
//! evening still admits its part after midnight, since that belongs to an ordinary day.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc, Weekday};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A set of weekdays, as a bitmask (bit 0 = Monday); serialised as a list of days.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "Vec<Weekday>", into = "Vec<Weekday>")]
pub struct DaySet(u8);

impl DaySet {
    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }
}

impl FromIterator<Weekday> for DaySet {
    fn from_iter<I: IntoIterator<Item = Weekday>>(days: I) -> Self {
        DaySet(
            days.into_iter()
                .fold(0, |m, d| m | 1 << d.num_days_from_monday()),
        )
    }
}

impl From<Vec<Weekday>> for DaySet {
    fn from(days: Vec<Weekday>) -> Self {
        days.into_iter().collect()
    }
}

impl From<DaySet> for Vec<Weekday> {
    fn from(set: DaySet) -> Self {
        let mut day = Weekday::Mon;
        let mut out = Vec::new();
        for _ in 0..7 {
            if set.contains(day) {
                out.push(day);
            }
            day = day.succ();
        }
        out
    }
}

/// A weekly window in local time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Days on which the window starts.
    pub days: DaySet,
    /// Local start time (inclusive).
    pub start: NaiveTime,
    /// Local end time (exclusive); not after `start` means the next day.
    pub end: NaiveTime,
}

impl Window {
    /// Whether local weekday `day` at local time `time` is inside the window.
    fn admits(&self, day: Weekday, time: NaiveTime) -> bool {
        if self.start < self.end {
            self.days.contains(day) && self.start <= time && time < self.end
        } else {
            (self.days.contains(day) && time >= self.start)
                || (self.days.contains(day.pred()) && time < self.end)
        }
    }
}

/// Weekly windows plus holidays, belonging to one site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Schedule {
    /// Schedule id.
    pub id: Uuid,
    /// The site whose time zone the windows are in.
    pub site_id: Uuid,
    /// Windows; the schedule admits an instant inside any of them.
    pub windows: Vec<Window>,
    /// Local dates on which nothing is admitted.
    #[serde(default)]
    pub holidays: Vec<NaiveDate>,
}

impl Schedule {
    /// Whether the UTC instant `at` is admitted, in time zone `tz`. Not an instant the
    /// zone's calendar does not reach (years near ±262,143): no window is there.
    pub fn admits(&self, at: DateTime<Utc>, tz: chrono_tz::Tz) -> bool {
        let Some(local) = crate::local_time::local_naive(at, tz) else {
            return false;
        };
        if self.holidays.contains(&local.date()) {
            return false;
        }
        // Sub-second precision is kept: a window ending 06:00 admits 05:59:59.999.
        let (day, time) = (local.weekday(), local.time());
        self.windows.iter().any(|w| w.admits(day, time))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use chrono_tz::Europe::Berlin;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    fn sched(days: &[Weekday], start: NaiveTime, end: NaiveTime) -> Schedule {
        Schedule {
            id: Uuid::nil(),
            site_id: Uuid::nil(),
            windows: vec![Window {
                days: days.iter().copied().collect(),
                start,
                end,
            }],
            holidays: vec![],
        }
    }

    fn berlin(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Berlin
            .with_ymd_and_hms(y, mo, d, h, mi, s)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn day_set_round_trips_as_a_list() {
        let set: DaySet = [Weekday::Fri, Weekday::Mon].into_iter().collect();
        assert!(set.contains(Weekday::Mon) && !set.contains(Weekday::Tue));
        let json = serde_json::to_string(&set).unwrap();
        assert_eq!(json, r#"["Mon","Fri"]"#);
        assert_eq!(serde_json::from_str::<DaySet>(&json).unwrap(), set);
        let lower: DaySet = serde_json::from_str(r#"["mon","fri"]"#).unwrap();
        assert_eq!(lower, set, "the API's lower-case names parse too");
    }

    #[test]
    fn full_day_window_when_end_equals_start() {
        let s = sched(&[Weekday::Mon], t(8, 0), t(8, 0));
        // 2024-06-03 is a Monday.
        assert!(s.admits(berlin(2024, 6, 3, 8, 0, 0), Berlin));
        assert!(s.admits(berlin(2024, 6, 4, 7, 59, 59), Berlin));
        assert!(!s.admits(berlin(2024, 6, 4, 8, 0, 0), Berlin));
        assert!(!s.admits(berlin(2024, 6, 3, 7, 59, 59), Berlin));
    }

    #[test]
    fn holiday_blanks_its_local_date_only() {
        // Fri 2024-06-07 22:00 – Sat 06:00; Saturday is a holiday.
        let mut s = sched(&[Weekday::Fri], t(22, 0), t(6, 0));
        s.holidays
            .push(NaiveDate::from_ymd_opt(2024, 6, 8).unwrap());
        assert!(s.admits(berlin(2024, 6, 7, 23, 59, 59), Berlin));
        assert!(
            !s.admits(berlin(2024, 6, 8, 0, 0, 0), Berlin),
            "cut at midnight"
        );
        // A holiday Friday: the evening is blank, the morning after is an ordinary day.
        s.holidays = vec![NaiveDate::from_ymd_opt(2024, 6, 7).unwrap()];
        assert!(!s.admits(berlin(2024, 6, 7, 23, 0, 0), Berlin));
        assert!(s.admits(berlin(2024, 6, 8, 1, 0, 0), Berlin));
    }

    #[test]
    fn holiday_is_a_local_date_not_a_utc_date() {
        // 00:30 local on Sat 2024-06-08 is still Friday in UTC (Berlin is UTC+2).
        let mut s = sched(&[Weekday::Sat], t(0, 0), t(23, 0));
        s.holidays
            .push(NaiveDate::from_ymd_opt(2024, 6, 8).unwrap());
        assert!(!s.admits(berlin(2024, 6, 8, 0, 30, 0), Berlin));
        s.holidays.clear();
        assert!(s.admits(berlin(2024, 6, 8, 0, 30, 0), Berlin));
    }

    #[test]
    fn an_instant_past_the_zones_calendar_is_outside_every_window() {
        // A full week, every day, all day: only the calendar's end keeps it out.
        let days = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
            Weekday::Sat,
            Weekday::Sun,
        ];
        let s = sched(&days, t(0, 0), t(0, 0));
        let kiritimati = chrono_tz::Pacific::Kiritimati;
        let last = DateTime::<Utc>::MAX_UTC;
        assert!(!s.admits(last, kiritimati), "+14 h past the last day");
        assert!(s.admits(last, chrono_tz::Pacific::Pago_Pago));
        assert!(s.admits(last - chrono::Duration::hours(14), kiritimati));
    }
}
