//! What the people model's routes (people, credentials, groups, grants, visits) share:
//! text and window checks, the holder/subject "exactly one of" rule, and naming the
//! uniqueness rules they can break. The site model's helpers (`not_found`, `reject`,
//! `nullable`) serve here too.

use crate::api::error::{ApiError, FieldErrors};
use crate::store::ModelError;
use chrono::{DateTime, SubsecRound, Utc};
use gatehouse_core::text::{Lines, text_problem};

/// Records a problem with `field` when `value` is given and is not one line people can
/// read: 1 to `max` characters after trimming, no control or bidirectional-override
/// character, something visible ([`text_problem`], the one check for names everywhere).
pub fn check_text(problems: &mut FieldErrors, field: &str, value: Option<&str>, max: usize) {
    if let Some(problem) = value.and_then(|v| text_problem(v, max, Lines::Single)) {
        problems.insert(field.into(), problem);
    }
}

/// [`check_text`] for notes: newlines and tabs allowed.
pub fn check_note(problems: &mut FieldErrors, field: &str, value: Option<&str>, max: usize) {
    if let Some(problem) = value.and_then(|v| text_problem(v, max, Lines::Multi)) {
        problems.insert(field.into(), problem);
    }
}

/// Records a problem on `until_field` when both ends are given and `until` is not after
/// `from`.
pub fn check_window(
    problems: &mut FieldErrors,
    until_field: &str,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) {
    if let (Some(from), Some(until)) = (from, until)
        && from >= until
    {
        let from_field = until_field.replace("until", "from").replace("end", "start");
        problems.insert(until_field.into(), format!("must be after {from_field}"));
    }
}

/// Records a problem on both fields unless exactly one of them is given.
pub fn check_one_of<T>(problems: &mut FieldErrors, fields: [&str; 2], values: [Option<T>; 2]) {
    let [a, b] = fields;
    if values.iter().filter(|v| v.is_some()).count() != 1 {
        let message = format!("give exactly one of {a} and {b}");
        problems.insert(a.into(), message.clone());
        problems.insert(b.into(), message);
    }
}

/// An instant at the precision the store keeps, so what is returned is what is stored.
pub fn stored(at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    at.map(|t| t.trunc_subsecs(6))
}

/// A trimmed, owned copy of optional text.
pub fn trimmed_text(value: Option<&str>) -> Option<String> {
    value.map(|v| v.trim().to_owned())
}

/// Names the uniqueness rules of the people model in words a client can act on.
pub fn conflict(error: impl Into<ModelError>) -> ApiError {
    match error.into() {
        ModelError::Store(crate::store::StoreError::Conflict { constraint }) => {
            let message = if constraint.contains("card") {
                "the card is already issued to a credential that is not revoked"
            } else if constraint.contains("person_groups") {
                "a group with this name exists"
            } else {
                "conflicts with an existing record"
            };
            ApiError::Conflict(message.to_owned())
        }
        other => other.into(),
    }
}
