//! Visits as clients register them: the visitor's details, the window (ordered), the
//! purpose and type, at most [`MAX_ZONES`] zones. Whether host and zones exist, and
//! whether the visit keeps the visit rules, is for the store and `crate::visits`.

use super::checks::{NAME_MAX, check_text, trimmed_text};
use super::{FieldErrors, accept};
use crate::store::{NewVisit, NewVisitor};
use chrono::{DateTime, NaiveDate, SubsecRound, Utc};
use uuid::Uuid;

/// Most zones one visit may allow.
pub const MAX_ZONES: usize = 1000;
/// Longest purpose text.
pub const PURPOSE_MAX: usize = 500;

/// A visitor's details as a client gives them.
#[derive(Debug, Clone, Default)]
pub struct VisitorInput {
    pub name: String,
    pub organisation: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub id_document_type: Option<String>,
    pub id_document_last_digits: Option<String>,
}

/// A visit as a client registers it.
#[derive(Debug, Clone, Default)]
pub struct VisitInput {
    pub visitor: VisitorInput,
    /// A returning visitor (the details above are then the name on this visit).
    pub visitor_id: Option<Uuid>,
    pub host_person_id: Uuid,
    pub purpose: Option<String>,
    pub visit_type: Option<String>,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    /// Repeats are ignored (but count towards [`MAX_ZONES`]).
    pub allowed_zone_ids: Vec<Uuid>,
    /// Default false; a zone that requires an escort requires it anyway.
    pub escort_required: Option<bool>,
}

/// Checks the visitor's details, each problem under `prefix` + its field name.
fn check_visitor(problems: &mut FieldErrors, prefix: &str, v: &VisitorInput, today: NaiveDate) {
    let field = |name: &str| format!("{prefix}{name}");
    check_text(problems, &field("name"), Some(v.name.as_str()), NAME_MAX);
    check_text(
        problems,
        &field("organisation"),
        v.organisation.as_deref(),
        NAME_MAX,
    );
    super::checks::check_email(problems, &field("email"), v.email.as_deref());
    if let Some(phone) = v.phone.as_deref() {
        let digits = phone.chars().filter(char::is_ascii_digit).count();
        let allowed = phone
            .chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c));
        if !allowed || !(4..=20).contains(&digits) || phone.len() > 32 {
            problems.insert(
                field("phone"),
                "4 to 20 digits, with + - ( ) . or spaces".into(),
            );
        }
    }
    if v.date_of_birth.is_some_and(|d| d > today) {
        problems.insert(field("date_of_birth"), "is in the future".into());
    }
    check_text(
        problems,
        &field("id_document_type"),
        v.id_document_type.as_deref(),
        64,
    );
    if let Some(digits) = v.id_document_last_digits.as_deref() {
        let ok = (1..=6).contains(&digits.chars().count())
            && digits.chars().all(|c| c.is_ascii_alphanumeric());
        if !ok {
            // Only the last digits are kept: a whole document number is personal data
            // the desk does not need.
            problems.insert(
                field("id_document_last_digits"),
                "1 to 6 letters or digits".into(),
            );
        }
    }
}

impl NewVisit {
    /// The visit to register: names checked and trimmed, the window ordered and kept at
    /// the store's precision. Site, escort and approval are set by the visit rules.
    pub fn parse(input: VisitInput) -> Result<NewVisit, FieldErrors> {
        let mut problems = FieldErrors::new();
        check_visitor(
            &mut problems,
            "visitor_",
            &input.visitor,
            Utc::now().naive_utc().date(),
        );
        check_text(
            &mut problems,
            "purpose",
            input.purpose.as_deref(),
            PURPOSE_MAX,
        );
        if let Some(kind) = input.visit_type.as_deref() {
            let ok = (1..=32).contains(&kind.len())
                && kind.chars().all(|c| c.is_ascii_lowercase() || c == '_');
            if !ok {
                problems.insert(
                    "visit_type".into(),
                    "1 to 32 lower-case letters or _".into(),
                );
            }
        }
        let (start, end) = (Some(input.window_start), Some(input.window_end));
        super::checks::check_window(&mut problems, "window_end", start, end);
        if input.allowed_zone_ids.len() > MAX_ZONES {
            let message = format!("at most {MAX_ZONES} zones");
            problems.insert("allowed_zone_ids".into(), message);
        }
        let v = &input.visitor;
        accept(problems, || NewVisit {
            visitor_name: v.name.trim().to_owned(),
            visitor_organisation: trimmed_text(v.organisation.as_deref()),
            visitor_id: input.visitor_id,
            visitor: NewVisitor {
                email: trimmed_text(v.email.as_deref()),
                phone: trimmed_text(v.phone.as_deref()),
                date_of_birth: v.date_of_birth,
                id_document_type: trimmed_text(v.id_document_type.as_deref()),
                id_document_last_digits: trimmed_text(v.id_document_last_digits.as_deref()),
            },
            host_person_id: input.host_person_id,
            purpose: trimmed_text(input.purpose.as_deref()),
            visit_type: input.visit_type.clone().unwrap_or_default(),
            window_start: input.window_start.trunc_subsecs(6),
            window_end: input.window_end.trunc_subsecs(6),
            allowed_zone_ids: input.allowed_zone_ids.iter().copied().collect(),
            escort_required: input.escort_required.unwrap_or(false),
            ..NewVisit::default()
        })
    }
}
