//! Field checks every aggregate shares: text people read, time windows, "exactly one of"
//! and numeric ranges. Each records its problem under the field's name and leaves the
//! decision to the caller, so one request's problems are all reported together.

use super::FieldErrors;
use chrono::{DateTime, SubsecRound, Utc};
use gatehouse_core::text::{Lines, text_problem};
use std::ops::RangeInclusive;

/// Longest name (of a person, group, visitor, site, zone, door, schedule, agent,
/// operator), in characters.
pub const NAME_MAX: usize = 128;

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

/// [`check_text`] on the field `name`, at most [`NAME_MAX`] characters.
pub fn check_name(problems: &mut FieldErrors, name: Option<&str>) {
    check_text(problems, "name", name, NAME_MAX);
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

/// Records a problem with `field` when `value` is given and outside `range`.
pub fn check_range(
    problems: &mut FieldErrors,
    field: &str,
    value: Option<u32>,
    range: RangeInclusive<u32>,
) {
    if value.is_some_and(|v| !range.contains(&v)) {
        let (low, high) = range.into_inner();
        problems.insert(field.into(), format!("must be between {low} and {high}"));
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

/// A trimmed copy of an optional owned name.
pub fn trimmed(name: Option<String>) -> Option<String> {
    name.map(|n| n.trim().to_owned())
}

/// An email address as people type one: `local@domain.tld`, one line, at most 254
/// characters (surrounding spaces are trimmed by the caller). Delivery tells the rest.
pub fn check_email(problems: &mut FieldErrors, field: &str, value: Option<&str>) {
    let Some(email) = value.map(str::trim) else {
        return;
    };
    let (local, domain) = email.split_once('@').unwrap_or(("", ""));
    let valid = email.len() <= 254
        && !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        problems.insert(field.to_owned(), "not an email address".into());
    }
}

/// An optional email address as typed: trimmed, empty is none, else checked.
pub fn optional_email(field: &str, value: Option<&str>) -> Result<Option<String>, FieldErrors> {
    let email = value.map(str::trim).filter(|v| !v.is_empty());
    let mut problems = FieldErrors::new();
    check_email(&mut problems, field, email);
    super::accept(problems, || email.map(str::to_owned))
}
