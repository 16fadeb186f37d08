//! Operator accounts: a username of lower-case letters, digits, `.`, `_` and `-`, a
//! display name people read (the username when none is given) and a password of 12 to
//! 1024 characters ([`password_problem`]). The CLI's `operator add` uses the same rules.

use super::checks::{NAME_MAX, check_text};
use super::{FieldErrors, accept};
use crate::auth::password::password_problem;

/// Why a username cannot be used, if it cannot.
pub fn username_problem(username: &str) -> Option<&'static str> {
    let valid_chars = username
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if username.is_empty() || username.len() > 64 {
        Some("must be 1 to 64 characters")
    } else if !valid_chars {
        Some("may contain only lower-case letters, digits, '.', '_' and '-'")
    } else {
        None
    }
}

/// Checks a new account's username, password and display name; answers the display name
/// to store (trimmed, or the username).
pub fn check_new(
    username: &str,
    password: &str,
    display_name: Option<&str>,
) -> Result<String, FieldErrors> {
    let mut problems = FieldErrors::new();
    if let Some(p) = username_problem(username) {
        problems.insert("username".into(), p.into());
    }
    if let Some(p) = password_problem(password) {
        problems.insert("password".into(), p);
    }
    check_text(&mut problems, "display_name", display_name, NAME_MAX);
    accept(problems, || match display_name {
        Some(name) => name.trim().to_owned(),
        None => username.to_owned(),
    })
}

/// A new display name, checked and trimmed.
pub fn display_name(name: Option<&str>) -> Result<Option<String>, FieldErrors> {
    let mut problems = FieldErrors::new();
    check_text(&mut problems, "display_name", name, NAME_MAX);
    accept(problems, || name.map(|n| n.trim().to_owned()))
}

/// A new password (given in `field`), checked.
pub fn check_password(field: &str, password: &str) -> Result<(), FieldErrors> {
    match password_problem(password) {
        Some(problem) => Err(super::field_error(field, problem)),
        None => Ok(()),
    }
}
