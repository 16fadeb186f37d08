//! Notes operators write on the record: acknowledging an alarm, accounting for someone
//! at a muster. Several lines are allowed; control characters are not.

use super::checks::check_note;
use super::{FieldErrors, accept};

/// Longest note acknowledging an alarm, in characters.
pub const ALARM_NOTE_MAX: usize = 2000;
/// Longest note on a muster list, in characters.
pub const MUSTER_NOTE_MAX: usize = 500;

/// The note acknowledging an alarm, trimmed and checked.
pub fn alarm_note(note: &str) -> Result<&str, FieldErrors> {
    let note = note.trim();
    let mut problems = FieldErrors::new();
    check_note(&mut problems, "note", Some(note), ALARM_NOTE_MAX);
    accept(problems, || note)
}

/// The note on someone accounted for at a muster, trimmed and checked: the length is
/// measured on the trimmed text, so that is what is stored.
pub fn muster_note(note: Option<&str>) -> Result<Option<String>, FieldErrors> {
    let note = note.map(str::trim);
    let mut problems = FieldErrors::new();
    check_note(&mut problems, "note", note, MUSTER_NOTE_MAX);
    accept(problems, || note.map(str::to_owned))
}
