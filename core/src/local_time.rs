//! Instants as a site's clock reads them, without panicking. chrono's `naive_local` and
//! `date_naive` (and whatever calls them) panic when the zone's offset carries an instant
//! past the calendar's ends (years ±262,143). An instant from outside (an agent's
//! journal, an old row, a row another tool wrote) can be that near them, so every
//! conversion to a zone's wall clock goes through here; `clippy.toml` keeps the
//! panicking methods out of the workspace. From 1970 to 9999 (all the API and the
//! console accept) every function answers the zone's reading.

use chrono::{DateTime, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// The wall-clock reading of `at` in `zone`, when the calendar reaches it.
pub fn local_naive(at: DateTime<Utc>, zone: Tz) -> Option<NaiveDateTime> {
    let offset = zone.offset_from_utc_datetime(&at.naive_utc()).fix();
    at.naive_utc().checked_add_offset(offset)
}

/// `at` in `zone`, or in UTC when `zone`'s reading falls off the calendar: formatting it
/// (`%Z` included) shows which.
pub fn in_zone(at: DateTime<Utc>, zone: Tz) -> DateTime<Tz> {
    let zone = if local_naive(at, zone).is_some() {
        zone
    } else {
        Tz::UTC
    };
    at.with_timezone(&zone)
}

/// [`local_naive`], or the UTC reading when the calendar does not reach it.
pub fn wall_clock(at: DateTime<Utc>, zone: Tz) -> NaiveDateTime {
    local_naive(at, zone).unwrap_or(at.naive_utc())
}

/// The date of [`wall_clock`].
pub fn local_date(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    wall_clock(at, zone).date()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Datelike, Duration};
    use chrono_tz::{America, Europe, Pacific};

    /// Instants at and near chrono's ends and ordinary ones, in zones at both extremes of
    /// the offsets (+14, -11), one with summer time, one whose oldest offset (local mean
    /// time, before 1883) is west of UTC, and UTC. `true`: the zone's calendar reaches it.
    #[test]
    #[allow(clippy::disallowed_methods)] // Proving the panicking methods safe on `in_zone`.
    fn every_instant_in_every_zone_converts_without_panicking() {
        let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        let at = |text: &str| text.parse::<DateTime<Utc>>().unwrap();
        let (kiritimati, pago, berlin, new_york, utc) = (
            Pacific::Kiritimati,
            Pacific::Pago_Pago,
            Europe::Berlin,
            America::New_York,
            Tz::UTC,
        );
        // Their oldest offsets: Kiritimati -10:29, Pago Pago +12:37 (before 1892 it kept
        // Asia's side of the date line), Berlin +0:53, New York -4:56.
        let table = [
            (min, [false, true, true, false, true]),
            (min + Duration::hours(6), [false, true, true, true, true]),
            (min + Duration::hours(11), [true, true, true, true, true]),
            (at("1970-01-01T00:00:00Z"), [true; 5]),
            (at("2026-03-29T01:30:00Z"), [true; 5]),
            (at("9999-12-31T23:59:59Z"), [true; 5]),
            (max - Duration::hours(14), [true; 5]),
            (max - Duration::hours(13), [false, true, true, true, true]),
            (max - Duration::minutes(1), [false, true, false, true, true]),
            (max, [false, true, false, true, true]),
        ];
        for (at, reaches) in table {
            for (zone, reaches) in [kiritimati, pago, berlin, new_york, utc]
                .into_iter()
                .zip(reaches)
            {
                let case = format!("{at:?} in {zone}");
                assert_eq!(local_naive(at, zone).is_some(), reaches, "{case}");
                let shown = in_zone(at, zone);
                assert_eq!(shown.timezone(), if reaches { zone } else { utc }, "{case}");
                // What panicked before: the wall clock of the converted instant.
                assert_eq!(shown.naive_local(), wall_clock(at, zone), "{case}");
                assert_eq!(shown.date_naive(), local_date(at, zone), "{case}");
                let text = shown.format("%Y-%m-%d %H:%M:%S %Z").to_string();
                if reaches {
                    assert_eq!(wall_clock(at, zone), at.with_timezone(&zone).naive_local());
                } else {
                    assert_eq!(wall_clock(at, zone), at.naive_utc(), "{case}");
                    assert!(text.ends_with(" UTC"), "{case}: {text}");
                }
            }
        }
        // Ordinary instants read as the zone's clock, summer time included.
        let summer = in_zone(at("2026-07-01T12:00:00Z"), berlin);
        assert_eq!(summer.format("%H:%M %Z").to_string(), "14:00 CEST");
        let late = local_date(at("2026-12-06T23:30:00Z"), kiritimati);
        assert_eq!((late.month(), late.day()), (12, 7));
        let early = local_date(at("2026-12-06T10:30:00Z"), pago);
        assert_eq!((early.month(), early.day()), (12, 5));
    }
}
