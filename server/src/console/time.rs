//! Times as people read them: in the site's time zone, with its abbreviation.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

/// `2026-12-06 14:03:07 CET`.
pub fn local(at: DateTime<Utc>, zone: Tz) -> String {
    at.with_timezone(&zone)
        .format("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// [`local`], or "—" for no time.
pub fn local_or_dash(at: Option<DateTime<Utc>>, zone: Tz) -> String {
    at.map_or_else(|| "—".to_owned(), |at| local(at, zone))
}

#[cfg(test)]
mod tests {
    use super::*;

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
