//! People and their vetting: names and employers one readable line, HR's external id,
//! a vetting's reference and note, and a clearance's end (only with `cleared`, in the
//! future). The import checks its columns with the same rules.

use super::checks::{NAME_MAX, check_note, check_text, stored, trimmed_text};
use super::{FieldErrors, accept};
use crate::store::{NewPerson, NewVetting, PersonChange};
use chrono::{DateTime, Utc};
use gatehouse_core::model::VettingStatus;

/// Longest external id (HR's employee number), in characters.
pub const EXTERNAL_ID_MAX: usize = 128;
/// Longest vetting reference, in characters.
pub const REFERENCE_MAX: usize = 128;
/// Longest vetting note, in characters.
pub const VETTING_NOTE_MAX: usize = 2000;

impl NewPerson {
    /// This person with name and employer checked and trimmed.
    pub fn checked(self) -> Result<NewPerson, FieldErrors> {
        let mut problems = FieldErrors::new();
        check_text(&mut problems, "name", Some(&self.name), NAME_MAX);
        check_text(
            &mut problems,
            "employer",
            self.employer.as_deref(),
            NAME_MAX,
        );
        accept(problems, || NewPerson {
            name: self.name.trim().to_owned(),
            employer: trimmed_text(self.employer.as_deref()),
            ..self
        })
    }
}

impl PersonChange {
    /// This change with name, employer and external id checked and trimmed.
    pub fn checked(self) -> Result<PersonChange, FieldErrors> {
        let mut problems = FieldErrors::new();
        check_text(&mut problems, "name", self.name.as_deref(), NAME_MAX);
        let employer = self.employer.as_ref().and_then(Option::as_deref);
        check_text(&mut problems, "employer", employer, NAME_MAX);
        let external_id = self.external_id.as_ref().and_then(Option::as_deref);
        check_text(&mut problems, "external_id", external_id, EXTERNAL_ID_MAX);
        accept(problems, || PersonChange {
            external_id: self.external_id.map(|e| trimmed_text(e.as_deref())),
            name: trimmed_text(self.name.as_deref()),
            employer: self.employer.map(|e| trimmed_text(e.as_deref())),
            ..self
        })
    }
}

/// A search by name (`q`): checked as a name, trimmed.
pub fn name_query(q: Option<&str>) -> Result<Option<String>, FieldErrors> {
    let mut problems = FieldErrors::new();
    check_text(&mut problems, "q", q, NAME_MAX);
    accept(problems, || trimmed_text(q))
}

impl NewVetting {
    /// This vetting decision, taken at `now`, with reference and note checked and
    /// trimmed, and `cleared_until` checked and kept at the store's precision.
    pub fn checked(self, now: DateTime<Utc>) -> Result<NewVetting, FieldErrors> {
        let mut problems = FieldErrors::new();
        let reference = self.reference.as_deref();
        check_text(&mut problems, "reference", reference, REFERENCE_MAX);
        check_note(
            &mut problems,
            "note",
            self.note.as_deref(),
            VETTING_NOTE_MAX,
        );
        let (status, until) = (self.status, self.cleared_until);
        check_cleared_until(&mut problems, "cleared_until", status, until, now);
        accept(problems, || NewVetting {
            status,
            cleared_until: stored(until),
            reference: trimmed_text(self.reference.as_deref()),
            note: trimmed_text(self.note.as_deref()),
        })
    }
}

/// Records a problem on `field` when a vetting's end is given for a status other than
/// `cleared`, or is not after `now`.
pub fn check_cleared_until(
    problems: &mut FieldErrors,
    field: &str,
    status: VettingStatus,
    cleared_until: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) {
    if let Some(until) = cleared_until {
        if status != VettingStatus::Cleared {
            problems.insert(field.into(), "only with status cleared".into());
        } else if until <= now {
            problems.insert(field.into(), "must be in the future".into());
        }
    }
}
