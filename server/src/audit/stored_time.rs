//! Reading a stored time without trusting it. The verifier reads rows that may have been
//! altered behind the server's back, and PostgreSQL can hold times chrono cannot (the
//! `infinity`s, years up to 294276), where sqlx's own decoder panics on the overflow.
//! [`StoredTime`] turns any such value into a decode error, which the verifier reports
//! as an altered record.

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
