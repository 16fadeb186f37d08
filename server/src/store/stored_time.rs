//! Reading a stored time without trusting it. A row may have been altered behind the
//! server's back or written by another tool, and PostgreSQL can hold times chrono cannot
//! (the `infinity`s, years up to 294276), where sqlx's own decoder panics on the overflow.
//! [`StoredTime`] and [`OptionalStoredTime`] turn any such value into a decode error: the
//! request reading it fails and the task goes on. Every time the server reads from the
//! database decodes through them (`#[sqlx(try_from = "StoredTime")]` on row fields); the
//! test at the bottom keeps it so.

use chrono::{DateTime, Utc};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueFormat, PgValueRef, Postgres};
use sqlx::sqlite::{Sqlite, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Type};

/// A `DateTime<Utc>` column, decoded without panicking on out-of-range values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredTime(pub DateTime<Utc>);

impl From<StoredTime> for DateTime<Utc> {
    fn from(time: StoredTime) -> DateTime<Utc> {
        time.0
    }
}

/// A nullable `DateTime<Utc>` column: `None` for NULL, otherwise decoded as [`StoredTime`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OptionalStoredTime(pub Option<DateTime<Utc>>);

// The orphan rule allows this: `From`'s parameter is local.
impl From<OptionalStoredTime> for Option<DateTime<Utc>> {
    fn from(time: OptionalStoredTime) -> Option<DateTime<Utc>> {
        time.0
    }
}

/// 2000-01-01T00:00:00Z, PostgreSQL's epoch, in microseconds since the Unix epoch.
const POSTGRES_EPOCH_MICROS: i64 = 946_684_800_000_000;

impl Type<Postgres> for StoredTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for StoredTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => {
                let micros = <i64 as Decode<Postgres>>::decode(value)?;
                micros
                    .checked_add(POSTGRES_EPOCH_MICROS)
                    .and_then(DateTime::from_timestamp_micros)
                    .map(StoredTime)
                    .ok_or_else(|| "the time is out of range".into())
            }
            // Parsing text cannot overflow.
            PgValueFormat::Text => {
                <DateTime<Utc> as Decode<Postgres>>::decode(value).map(StoredTime)
            }
        }
    }
}

impl Type<Sqlite> for StoredTime {
    fn type_info() -> SqliteTypeInfo {
        <DateTime<Utc> as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <DateTime<Utc> as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for StoredTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        // SQLite's decoder checks every conversion.
        <DateTime<Utc> as Decode<Sqlite>>::decode(value).map(StoredTime)
    }
}

impl Type<Postgres> for OptionalStoredTime {
    fn type_info() -> PgTypeInfo {
        <StoredTime as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <StoredTime as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for OptionalStoredTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        // `Row::try_get` hands NULL to the decoder; `Option`'s own decoder checks the same.
        <Option<StoredTime> as Decode<Postgres>>::decode(value)
            .map(|time| OptionalStoredTime(time.map(DateTime::from)))
    }
}

impl Type<Sqlite> for OptionalStoredTime {
    fn type_info() -> SqliteTypeInfo {
        <StoredTime as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <StoredTime as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for OptionalStoredTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        <Option<StoredTime> as Decode<Sqlite>>::decode(value)
            .map(|time| OptionalStoredTime(time.map(DateTime::from)))
    }
}

#[cfg(test)]
mod guard;
