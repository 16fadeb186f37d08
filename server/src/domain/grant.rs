//! Grants: access to a zone for exactly one person or group, optionally on a schedule
//! and within a window. Whether the ids name records is the store's to say.

use super::checks::{check_one_of, check_window, stored};
use super::{FieldErrors, accept};
use crate::store::NewGrant;
use chrono::{DateTime, Utc};
use gatehouse_core::model::Subject;
use uuid::Uuid;

/// A grant as a client asks for it.
pub struct GrantInput {
    /// The subject, when a person (exactly one of `person_id` and `group_id`).
    pub person_id: Option<Uuid>,
    /// The subject, when a group.
    pub group_id: Option<Uuid>,
    pub zone_id: Uuid,
    pub schedule_id: Option<Uuid>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

impl NewGrant {
    /// The grant to make: one subject, an ordered window.
    pub fn parse(input: GrantInput) -> Result<NewGrant, FieldErrors> {
        let mut problems = FieldErrors::new();
        let ids = [input.person_id, input.group_id];
        check_one_of(&mut problems, ["person_id", "group_id"], ids);
        check_window(
            &mut problems,
            "valid_until",
            input.valid_from,
            input.valid_until,
        );
        let subject = match ids {
            [Some(person), None] => Some(Subject::Person(person)),
            [None, Some(group)] => Some(Subject::Group(group)),
            _ => None,
        };
        match subject {
            Some(subject) => accept(problems, || NewGrant {
                subject,
                zone_id: input.zone_id,
                schedule_id: input.schedule_id,
                valid_from: stored(input.valid_from),
                valid_until: stored(input.valid_until),
            }),
            // check_one_of recorded why.
            None => Err(problems),
        }
    }
}
