//! Groups of people: a name people read, unique (the store says when it is taken), and
//! at most [`MAX_MEMBERS`] members.

use super::checks::check_name;
use super::{FieldErrors, accept};
use std::collections::BTreeSet;
use uuid::Uuid;

/// A group's name, checked and trimmed.
pub fn group_name(name: &str) -> Result<String, FieldErrors> {
    let mut problems = FieldErrors::new();
    check_name(&mut problems, Some(name));
    accept(problems, || name.trim().to_owned())
}

/// Most members a group may have.
pub const MAX_MEMBERS: usize = 10_000;

/// A group's members: at most [`MAX_MEMBERS`] ids (repeats ignored).
pub fn members(person_ids: Vec<Uuid>) -> Result<BTreeSet<Uuid>, FieldErrors> {
    let mut problems = FieldErrors::new();
    if person_ids.len() > MAX_MEMBERS {
        problems.insert("person_ids".into(), "at most 10000 members".into());
    }
    accept(problems, || person_ids.into_iter().collect())
}
