//! Helpers shared by the people-model stores (people, vetting, groups, credentials,
//! grants, visits): enum columns stored as their serde names, and reference checks
//! inside the writing transaction (an unknown id is a 422 naming the field).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::HashMap;
use uuid::Uuid;

/// The serde name of a unit enum value (`PersonKind::Staff` → `staff`), as stored.
pub(crate) fn text<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(Value::String(s)) => s,
        // Not a unit enum: the column's CHECK constraint refuses the empty string.
        _ => String::new(),
    }
}

/// Parses a stored enum column back into its type.
pub(crate) fn parse<T: DeserializeOwned>(text: &str) -> Result<T, sqlx::Error> {
    serde_json::from_value(Value::String(text.to_owned()))
        .map_err(|e| sqlx::Error::Decode(Box::new(e)))
}

/// A decode error for a stored value out of range.
pub(crate) fn decode_error(what: &str) -> sqlx::Error {
    sqlx::Error::Decode(format!("stored {what} is out of range").into())
}

/// `from` strictly before `until`, when both are given.
pub fn window_ok(from: Option<DateTime<Utc>>, until: Option<DateTime<Utc>>) -> bool {
    match (from, until) {
        (Some(from), Some(until)) => from < until,
        _ => true,
    }
}

/// Groups `(owner, item)` pairs by owner, keeping their order.
pub(crate) fn by_owner(pairs: Vec<(Uuid, Uuid)>) -> HashMap<Uuid, Vec<Uuid>> {
    let mut map: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    for (owner, item) in pairs {
        map.entry(owner).or_default().push(item);
    }
    map
}

/// A table other records refer to by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Table {
    People,
    Groups,
    Visits,
    Zones,
    Schedules,
}

impl Table {
    pub(crate) fn exists_sql(self) -> &'static str {
        match self {
            Table::People => "SELECT COUNT(*) FROM people WHERE id = $1",
            Table::Groups => "SELECT COUNT(*) FROM person_groups WHERE id = $1",
            Table::Visits => "SELECT COUNT(*) FROM visits WHERE id = $1",
            Table::Zones => "SELECT COUNT(*) FROM zones WHERE id = $1",
            Table::Schedules => "SELECT COUNT(*) FROM schedules WHERE id = $1",
        }
    }

    /// What a 422 says about an id naming no row here.
    pub(crate) fn unknown(self) -> &'static str {
        match self {
            Table::People => "no such person",
            Table::Groups => "no such group",
            Table::Visits => "no such visit",
            Table::Zones => "no such zone",
            Table::Schedules => "no such schedule",
        }
    }
}

/// Returns `ModelError::Invalid` on `$field` unless `$id` names a row of `$table`,
/// checked through `$executor` (the transaction about to refer to it).
macro_rules! require_row {
    ($executor:expr, $table:expr, $id:expr, $field:literal) => {{
        let table: $crate::store::Table = $table;
        let n = sqlx::query_scalar::<_, i64>(table.exists_sql())
            .bind($id)
            .fetch_one($executor)
            .await?;
        if n == 0 {
            return Err($crate::store::ModelError::Invalid {
                field: $field,
                problem: table.unknown(),
            });
        }
    }};
}
pub(crate) use require_row;
