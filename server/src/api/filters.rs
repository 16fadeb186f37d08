//! Filter values read from query parameters, one parser per kind of value, so that
//! every list and export refuses the same values the same way: a 422 naming the
//! parameter (`/events` and `/audit/export` share them).

use super::error::ApiError;
use gatehouse_core::decide::{Outcome, Reason};

/// The longest value any of the filters accepts.
pub const MAX_VALUE_LEN: usize = 64;

fn bounded<'a>(field: &str, value: Option<&'a str>) -> Result<Option<&'a str>, ApiError> {
    match value {
        Some(v) if v.len() > MAX_VALUE_LEN => Err(ApiError::field(field, "at most 64 characters")),
        v => Ok(v),
    }
}

/// `value` parsed, or a 422 naming `field` and saying what was `expected`. Enums parse
/// by their strum names, which are their serde names.
pub fn parse<T: std::str::FromStr>(
    field: &str,
    value: Option<&str>,
    expected: &str,
) -> Result<Option<T>, ApiError> {
    let Some(value) = bounded(field, value)? else {
        return Ok(None);
    };
    value
        .parse()
        .map(Some)
        .map_err(|_| ApiError::field(field, format!("must be {expected}")))
}

/// A presentation outcome.
pub fn outcome(value: Option<&str>) -> Result<Option<Outcome>, ApiError> {
    parse("outcome", value, "granted, denied or pending")
}

/// A decision reason (`granted` or the rule that refused).
pub fn reason(value: Option<&str>) -> Result<Option<Reason>, ApiError> {
    parse("reason", value, "a reason code, e.g. no_grant")
}

/// What `kind` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kinds {
    /// Event kinds: lower-case letters and `_` (`forced_open`).
    Events,
    /// Event kinds, alarm kinds and operator actions, which have a `.` (`visit.create`).
    EventsAndActions,
}

/// A record kind.
pub fn kind(value: Option<&str>, kinds: Kinds) -> Result<Option<String>, ApiError> {
    let Some(value) = bounded("kind", value)? else {
        return Ok(None);
    };
    let allowed =
        |b: u8| b.is_ascii_lowercase() || b == b'_' || (b == b'.' && kinds != Kinds::Events);
    if value.is_empty() || !value.bytes().all(allowed) {
        let expected = match kinds {
            Kinds::Events => "must be an event kind: lower case letters and _",
            Kinds::EventsAndActions => {
                "must be an event kind, alarm kind or operator action: lower case letters, _ and ."
            }
        };
        return Err(ApiError::field("kind", expected));
    }
    Ok(Some(value.to_owned()))
}
