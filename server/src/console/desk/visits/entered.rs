//! The invitation form as typed: its fields (visitor rows of a group, zones that repeat)
//! read from the posted pairs, and the window and zones it names, in the site's time.

use crate::console::names::Names;
use crate::console::time::{read_date, read_local};
use crate::store::{VisitRecord, VisitorZone};
use chrono::Utc;
use chrono_tz::Tz;
use gatehouse_core::local_time::in_zone;
use gatehouse_core::protocol::time::RANGE;
use uuid::Uuid;

/// Extra visitor rows of a group on the form.
pub const EXTRA_ROWS: usize = 5;

/// One more visitor of a group, as typed.
#[derive(Clone, Default)]
pub struct Other {
    pub name: String,
    pub organisation: String,
    pub email: String,
}

impl Other {
    pub(super) fn is_empty(&self) -> bool {
        [&self.name, &self.organisation, &self.email]
            .iter()
            .all(|f| f.trim().is_empty())
    }
}

/// The form as typed (so a refusal shows it again).
#[derive(Clone, Default)]
pub struct Entered {
    pub name: String,
    pub organisation: String,
    pub email: String,
    pub phone: String,
    pub id_type: String,
    pub id_digits: String,
    pub others: Vec<Other>,
    pub host: String,
    pub site: String,
    pub zones: Vec<String>,
    pub date: String,
    pub start: String,
    pub end: String,
    pub purpose: String,
    pub visit_type: String,
    pub escort: bool,
    pub weekly_until: String,
    pub walk_in: bool,
}

impl Entered {
    /// From the posted pairs (zones repeat, so not a struct).
    pub(super) fn from_pairs(pairs: Vec<(String, String)>) -> Entered {
        let mut e = Entered {
            others: vec![Other::default(); EXTRA_ROWS],
            ..Entered::default()
        };
        for (key, value) in pairs {
            match key.as_str() {
                "visitor_name" => e.name = value,
                "visitor_organisation" => e.organisation = value,
                "visitor_email" => e.email = value,
                "visitor_phone" => e.phone = value,
                "id_document_type" => e.id_type = value,
                "id_document_last_digits" => e.id_digits = value,
                "host_person_id" => e.host = value,
                "site_id" => e.site = value,
                "zone" => e.zones.push(value),
                "date" => e.date = value,
                "start" => e.start = value,
                "end" => e.end = value,
                "purpose" => e.purpose = value,
                "visit_type" => e.visit_type = value,
                "escort" => e.escort = true,
                "weekly_until" => e.weekly_until = value,
                "walk_in" => e.walk_in = true,
                other => {
                    let row = |prefix: &str| {
                        other
                            .strip_prefix(prefix)
                            .and_then(|n| n.parse::<usize>().ok())
                            .filter(|n| (1..=EXTRA_ROWS).contains(n))
                    };
                    if let Some(n) = row("other_name_") {
                        e.others[n - 1].name = value;
                    } else if let Some(n) = row("other_organisation_") {
                        e.others[n - 1].organisation = value;
                    } else if let Some(n) = row("other_email_") {
                        e.others[n - 1].email = value;
                    }
                }
            }
        }
        e
    }

    pub(super) fn has_zone(&self, id: &Uuid) -> bool {
        self.zones.iter().any(|z| z.trim() == id.to_string())
    }
}

/// Some(trimmed) unless empty.
pub(super) fn given(text: &str) -> Option<String> {
    Some(text.trim())
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
}

/// The time zone of the visit as entered: the chosen site's, else the first zone's.
pub(super) fn zone_of(e: &Entered, names: &Names, open: &[VisitorZone]) -> (Option<Uuid>, Tz) {
    let site = given(&e.site).and_then(|s| s.parse::<Uuid>().ok());
    let from_zone = e
        .zones
        .iter()
        .filter_map(|z| z.trim().parse::<Uuid>().ok())
        .find_map(|z| open.iter().find(|o| o.zone_id == z).map(|o| o.site_id));
    let tz_site = site.or(from_zone).or(names.only_site());
    (site, names.tz(tz_site))
}

/// The window and zones as entered, or each field's problem.
pub(super) struct When {
    pub start: chrono::DateTime<Utc>,
    pub end: chrono::DateTime<Utc>,
    pub zones: Vec<Uuid>,
}

pub(super) fn when(e: &Entered, tz: Tz, walk_in: bool) -> Result<When, crate::domain::FieldErrors> {
    let mut problems = crate::domain::FieldErrors::new();
    let local_now = in_zone(Utc::now(), tz);
    let mut day = match (given(&e.date), walk_in) {
        (Some(d), _) => d,
        (None, true) => local_now.format("%Y-%m-%d").to_string(),
        (None, false) => {
            problems.insert("date".into(), "is required".into());
            String::new()
        }
    };
    // Not a date, or outside 1970 to 9999: the date's problem, not its times'.
    if let Err(problem) = read_date(&day) {
        problems.insert("date".into(), problem.into());
        day.clear();
    }
    let start_text = match (given(&e.start), walk_in) {
        (Some(s), _) => s,
        (None, true) => local_now.format("%H:%M").to_string(),
        (None, false) => {
            problems.insert("start".into(), "is required".into());
            String::new()
        }
    };
    let mut at = |field: &str, time: &str| -> Option<chrono::DateTime<Utc>> {
        if day.is_empty() || time.is_empty() {
            return None;
        }
        match read_local(&format!("{day}T{time}"), tz) {
            Ok(t) => t,
            Err(problem) => {
                let problem = match problem {
                    RANGE => RANGE,
                    _ => "is not a time of that day in the site's time zone (HH:MM)",
                };
                problems.insert(field.into(), problem.into());
                None
            }
        }
    };
    let start = at("start", &start_text);
    let end_text = given(&e.end).unwrap_or_default();
    let end = at("end", &end_text);
    if end_text.is_empty() {
        problems.insert("end".into(), "is required".into());
    }
    let mut zones = Vec::new();
    for z in &e.zones {
        match z.trim().parse::<Uuid>() {
            Ok(id) => zones.push(id),
            Err(_) => {
                problems.insert("allowed_zone_ids".into(), "names an unknown zone".into());
            }
        }
    }
    match (start, end) {
        (Some(start), Some(end)) if problems.is_empty() => Ok(When { start, end, zones }),
        _ => Err(problems),
    }
}

/// The form for an existing visit.
pub(super) fn entered_of(visit: &VisitRecord, tz: Tz) -> Entered {
    let (start, end) = (
        in_zone(visit.window_start, tz),
        in_zone(visit.window_end, tz),
    );
    Entered {
        name: visit.visitor_name.clone(),
        organisation: visit.visitor_organisation.clone().unwrap_or_default(),
        site: visit.site_id.map(|s| s.to_string()).unwrap_or_default(),
        zones: visit.allowed_zone_ids.iter().map(Uuid::to_string).collect(),
        date: start.format("%Y-%m-%d").to_string(),
        start: start.format("%H:%M").to_string(),
        end: end.format("%H:%M").to_string(),
        purpose: visit.purpose.clone().unwrap_or_default(),
        visit_type: visit.visit_type.clone(),
        escort: visit.escort_required,
        ..Entered::default()
    }
}
