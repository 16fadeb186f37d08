//! Times as people read them: in the site's time zone, with its abbreviation.

use super::page::Failure;
use crate::api::error::ApiError;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use gatehouse_core::local_time::in_zone;
use gatehouse_core::protocol::time::{RANGE, Timestamp, date_in_range};

/// `2026-12-06 14:03:07 CET`. A time the zone's offset would carry past the calendar's
/// range (only one from outside 1970 to 9999 is) is written in UTC instead of panicking.
pub fn local(at: DateTime<Utc>, zone: Tz) -> String {
    in_zone(at, zone).format("%Y-%m-%d %H:%M:%S %Z").to_string()
}

/// [`local`], or "—" for no time.
pub fn local_or_dash(at: Option<DateTime<Utc>>, zone: Tz) -> String {
    at.map_or_else(|| "—".to_owned(), |at| local(at, zone))
}

/// A site-local `YYYY-MM-DDTHH:MM[:SS]` (an HTML `datetime-local` field) as UTC; `None`
/// when empty. At the autumn clock change the earlier of the two readings; a time the
/// spring change skips is refused, naming `field`, and so is one outside the API's range
/// (1970 to 9999, [`Timestamp`]).
pub fn parse_local(field: &str, text: &str, zone: Tz) -> Result<Option<DateTime<Utc>>, Failure> {
    read_local(text, zone).map_err(|problem| ApiError::field(field, problem).into())
}

/// [`parse_local`]'s reading, or the field's problem.
pub fn read_local(text: &str, zone: Tz) -> Result<Option<DateTime<Utc>>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| "is not a date and time (YYYY-MM-DDTHH:MM)")?;
    // Before the zone, which finds no reading at all near the calendar's ends.
    if !date_in_range(naive.date()) {
        return Err(RANGE);
    }
    let at = zone
        .from_local_datetime(&naive)
        .earliest()
        .ok_or("does not exist in the site's time zone (clock change)")?;
    // 9999-12-31T23:00 west of UTC is already 10000 in UTC.
    let at = Timestamp::new(at.with_timezone(&Utc)).ok_or(RANGE)?;
    Ok(Some(at.into()))
}

/// A `YYYY-MM-DD` field (an HTML `date` input); `None` when empty. Refused naming `field`
/// when it is not a date or is outside 1970 to 9999.
pub fn parse_date(field: &str, text: &str) -> Result<Option<NaiveDate>, ApiError> {
    read_date(text).map_err(|problem| ApiError::field(field, problem))
}

/// [`parse_date`]'s reading, or the field's problem.
pub fn read_date(text: &str) -> Result<Option<NaiveDate>, &'static str> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let date =
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| "is not a date (YYYY-MM-DD)")?;
    if !date_in_range(date) {
        return Err(RANGE);
    }
    Ok(Some(date))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_local_input() -> anyhow::Result<()> {
        let berlin = chrono_tz::Europe::Berlin;
        let parse =
            |text: &str| parse_local("at", text, berlin).map_err(|_| anyhow::anyhow!("refused"));
        let at = parse("2026-12-06T14:30")?.map(|at| at.to_rfc3339());
        assert_eq!(at.as_deref(), Some("2026-12-06T13:30:00+00:00"));
        let seconds = parse("2026-12-06T14:30:15")?.map(|at| at.to_rfc3339());
        assert_eq!(seconds.as_deref(), Some("2026-12-06T13:30:15+00:00"));
        assert_eq!(parse("  ")?, None);
        // 02:30 on the spring-forward night does not exist in Berlin.
        assert!(parse("2026-03-29T02:30").is_err());
        // 02:30 on the fall-back night happens twice: the first (still summer time).
        let twice = parse("2026-10-25T02:30")?.map(|at| at.to_rfc3339());
        assert_eq!(twice.as_deref(), Some("2026-10-25T00:30:00+00:00"));
        assert!(parse("yesterday").is_err());
        Ok(())
    }

    /// Times and dates outside 1970 to 9999 are refused as such, in every zone; the
    /// range's ends are accepted where they are within it in UTC.
    #[test]
    fn times_and_dates_outside_1970_to_9999_are_refused() {
        let zones = [
            chrono_tz::Pacific::Kiritimati,
            chrono_tz::Pacific::Pago_Pago,
            chrono_tz::Europe::Berlin,
            chrono_tz::UTC,
        ];
        for zone in zones {
            for text in [
                "+262142-12-31T23:59",
                "-262143-01-01T00:00",
                "+10000-01-01T00:00",
                "1969-12-31T12:00",
                "0000-01-01T00:00",
            ] {
                assert_eq!(read_local(text, zone), Err(RANGE), "{text} in {zone}");
            }
            assert!(read_local("9999-12-30T12:00", zone).is_ok(), "{zone}");
            assert!(read_local("1970-01-02T12:00", zone).is_ok(), "{zone}");
        }
        // The ends themselves, where the zone's offset carries them out of the range.
        let pago = chrono_tz::Pacific::Pago_Pago;
        assert_eq!(read_local("9999-12-31T23:00", pago), Err(RANGE));
        let berlin = chrono_tz::Europe::Berlin;
        assert_eq!(read_local("1970-01-01T00:30", berlin), Err(RANGE));

        let day = |text: &str| read_date(text).map(|d| d.map(|d| d.to_string()));
        assert_eq!(day("9999-12-31"), Ok(Some("9999-12-31".to_owned())));
        assert_eq!(day(" 1970-01-01 "), Ok(Some("1970-01-01".to_owned())));
        assert_eq!(day(""), Ok(None));
        for text in [
            "+262142-12-31",
            "-262143-01-01",
            "1969-12-31",
            "+10000-01-01",
        ] {
            assert_eq!(day(text), Err(RANGE), "{text}");
        }
        assert_eq!(day("yesterday"), Err("is not a date (YYYY-MM-DD)"));
    }

    #[test]
    fn site_local_with_abbreviation() -> anyhow::Result<()> {
        let at: DateTime<Utc> = "2026-12-06T13:03:07Z".parse()?;
        assert_eq!(
            local(at, chrono_tz::Europe::Berlin),
            "2026-12-06 14:03:07 CET"
        );
        let summer: DateTime<Utc> = "2026-07-01T12:00:00Z".parse()?;
        assert_eq!(
            local(summer, chrono_tz::Europe::Berlin),
            "2026-07-01 14:00:00 CEST"
        );
        assert_eq!(local(at, chrono_tz::UTC), "2026-12-06 13:03:07 UTC");
        assert_eq!(local_or_dash(None, chrono_tz::UTC), "—");
        Ok(())
    }
}
