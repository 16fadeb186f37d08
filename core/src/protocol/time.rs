//! Times in requests. Every body field and query parameter of the server's API that
//! takes a time (the agent's `agent_time` included) is a [`Timestamp`]: RFC 3339, from
//! 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z. Earlier or later times are refused (422
//! naming the field) rather than stored, because they cannot be answered back as RFC
//! 3339 (`+10000-01-01T…` is not) and no access-control record needs them.
//!
//! The console's time and date fields and the CSV import keep to the same range
//! ([`Timestamp::new`], [`date_in_range`]): a visit at +262142-12-31 would otherwise be
//! stored, and only a site's clock change away from falling off chrono's calendar.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Cow;
use std::str::FromStr;

/// What a time must be, as the 422 says it.
pub const EXPECTED: &str =
    "must be an RFC 3339 time from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z";

/// What a date, or a time written without RFC 3339, must be, as the 422 says it.
pub const RANGE: &str = "must be from 1970-01-01 to 9999-12-31";

/// Whether `date` is within the range of [`Timestamp`]s (a date field: a visit's day, a
/// report's period, a search's).
pub fn date_in_range(date: NaiveDate) -> bool {
    (1970..=9999).contains(&date.year())
}

/// A time the API accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub DateTime<Utc>);

/// 9999-12-31T23:59:59Z, the last second written with four digits.
const LAST: i64 = 253_402_300_799;

impl Timestamp {
    /// `time` if it is within the range.
    pub fn new(time: DateTime<Utc>) -> Option<Timestamp> {
        (0..=LAST)
            .contains(&time.timestamp())
            .then_some(Timestamp(time))
    }
}

impl FromStr for Timestamp {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Timestamp, &'static str> {
        text.parse::<DateTime<FixedOffset>>()
            .ok()
            .and_then(|t| Timestamp::new(t.with_timezone(&Utc)))
            .ok_or(EXPECTED)
    }
}

impl From<Timestamp> for DateTime<Utc> {
    fn from(time: Timestamp) -> DateTime<Utc> {
        time.0
    }
}

impl std::ops::Deref for Timestamp {
    type Target = DateTime<Utc>;

    fn deref(&self) -> &DateTime<Utc> {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = Cow::<str>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

#[cfg(feature = "openapi")]
impl utoipa::PartialSchema for Timestamp {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .description(Some(
                "RFC 3339, from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z",
            ))
            .into()
    }
}

#[cfg(feature = "openapi")]
impl utoipa::ToSchema for Timestamp {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_outside_four_digit_years_after_1970_are_refused() {
        for (text, ok) in [
            ("1970-01-01T00:00:00Z", true),
            ("2026-11-23T08:00:00+01:00", true),
            ("9999-12-31T23:59:59Z", true),
            ("9999-12-31T23:59:59.999999Z", true),
            ("1969-12-31T23:59:59Z", false),
            ("-0001-01-01T00:00:00Z", false),
            ("0000-01-01T00:00:00Z", false),
            ("9999-12-31T23:00:00-01:00", false),
            ("+10000-01-01T00:00:00Z", false),
            ("tomorrow", false),
        ] {
            assert_eq!(text.parse::<Timestamp>().is_ok(), ok, "{text}");
            let json = serde_json::to_string(text).unwrap_or_default();
            assert_eq!(
                serde_json::from_str::<Timestamp>(&json).is_ok(),
                ok,
                "{text}"
            );
        }
    }

    #[test]
    fn dates_outside_1970_to_9999_are_out_of_range() {
        for (text, ok) in [
            ("1970-01-01", true),
            ("9999-12-31", true),
            ("1969-12-31", false),
            ("+10000-01-01", false),
            ("+262142-12-31", false),
            ("-262143-01-01", false),
        ] {
            let date = NaiveDate::parse_from_str(text, "%Y-%m-%d");
            assert_eq!(date.map(date_in_range), Ok(ok), "{text}");
        }
    }
}
