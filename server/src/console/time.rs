//! Times as people read them: in the site's time zone, with its abbreviation.

use super::page::Failure;
use crate::api::error::ApiError;
use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use gatehouse_core::local_time::in_zone;

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
/// spring change skips is refused, naming `field`.
pub fn parse_local(field: &str, text: &str, zone: Tz) -> Result<Option<DateTime<Utc>>, Failure> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S"))
        .map_err(|_| ApiError::field(field, "is not a date and time (YYYY-MM-DDTHH:MM)"))?;
    let at = zone.from_local_datetime(&naive).earliest().ok_or_else(|| {
        ApiError::field(
            field,
            "does not exist in the site's time zone (clock change)",
        )
    })?;
    Ok(Some(at.with_timezone(&Utc)))
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
