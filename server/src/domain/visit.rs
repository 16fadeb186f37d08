//! Visits: a visitor's name and organisation, a window that ends after it starts, and
//! at most [`MAX_ZONES`] zones. Whether host and zones exist is the store's to say.

use super::checks::{NAME_MAX, check_text, trimmed_text};
use super::{FieldErrors, accept};
use crate::store::NewVisit;
use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

/// Most zones one visit may allow.
pub const MAX_ZONES: usize = 1000;

/// A visit as a client registers it.
pub struct VisitInput {
    pub visitor_name: String,
    pub visitor_organisation: Option<String>,
    pub host_person_id: Uuid,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Repeats are ignored (but count towards [`MAX_ZONES`]).
    pub allowed_zone_ids: Vec<Uuid>,
    /// Default false.
    pub escort_required: Option<bool>,
}

impl NewVisit {
    /// The visit to register: names checked and trimmed, the window ordered and kept at
    /// the store's precision.
    pub fn parse(input: VisitInput) -> Result<NewVisit, FieldErrors> {
        let mut problems = FieldErrors::new();
        let name = Some(input.visitor_name.as_str());
        check_text(&mut problems, "visitor_name", name, NAME_MAX);
        let organisation = input.visitor_organisation.as_deref();
        check_text(
            &mut problems,
            "visitor_organisation",
            organisation,
            NAME_MAX,
        );
        let (start, end) = (Some(input.window_start), Some(input.window_end));
        super::checks::check_window(&mut problems, "window_end", start, end);
        if input.allowed_zone_ids.len() > MAX_ZONES {
            let message = format!("at most {MAX_ZONES} zones");
            problems.insert("allowed_zone_ids".into(), message);
        }
        accept(problems, || NewVisit {
            visitor_name: input.visitor_name.trim().to_owned(),
            visitor_organisation: trimmed_text(organisation),
            host_person_id: input.host_person_id,
            window_start: input.window_start.trunc_subsecs(6),
            window_end: input.window_end.trunc_subsecs(6),
            allowed_zone_ids: input.allowed_zone_ids.iter().copied().collect(),
            escort_required: input.escort_required.unwrap_or(false),
        })
    }
}
