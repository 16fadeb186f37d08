//! The site model: sites (an IANA time zone), zones (anti-passback timeout and maximum
//! occupancy in range), doors (unlock and held-open times in range), schedules (1 to
//! [`MAX_WINDOWS`] windows, each on some day; at most [`MAX_HOLIDAYS`] holidays), a
//! site's threat level and the agents serving doors. Every name is one readable line.
//! How records relate (a parent zone on the same site, a door between two of its zones)
//! is the store's to check.

use super::checks::{check_name, check_range, trimmed};
use super::{FieldErrors, accept};
use crate::store::{
    DoorChange, NewAgent, NewDoor, NewSchedule, NewSite, NewZone, ScheduleChange, SiteChange,
    Threat, WindowSpec, ZoneChange, ZoneRules,
};
use chrono::NaiveDate;
use std::ops::RangeInclusive;

/// Anti-passback timeout, in seconds: up to 30 days.
pub const TIMEOUT_S: RangeInclusive<u32> = 1..=2_592_000;
/// Unlock time: at least a second; 5 s by default (IEC 60839 asks for 3 s or more).
pub const UNLOCK_MS: RangeInclusive<u32> = 1_000..=60_000;
pub const DEFAULT_UNLOCK_MS: u32 = 5_000;
pub const HELD_OPEN_MS: RangeInclusive<u32> = 1_000..=3_600_000;
pub const DEFAULT_HELD_OPEN_MS: u32 = 30_000;
/// Most windows in one schedule.
pub const MAX_WINDOWS: usize = 64;
/// Most holidays in one schedule.
pub const MAX_HOLIDAYS: usize = 1000;
/// Most people exempt from a lockdown.
pub const MAX_EXEMPT: usize = 1000;
/// Most doors one agent may serve.
pub const MAX_AGENT_DOORS: usize = 64;

/// Records a problem with the time zone unless it is an IANA name; returns it in its
/// canonical spelling.
fn check_timezone(problems: &mut FieldErrors, timezone: Option<&str>) -> Option<String> {
    match timezone.map(str::parse::<chrono_tz::Tz>) {
        Some(Ok(tz)) => Some(tz.name().to_owned()),
        Some(Err(_)) => {
            let message = "must be an IANA time zone name, e.g. Europe/Berlin";
            problems.insert("timezone".into(), message.into());
            None
        }
        None => None,
    }
}

impl NewSite {
    /// This site with its name trimmed and its time zone spelled canonically.
    pub fn checked(self) -> Result<NewSite, FieldErrors> {
        let mut problems = FieldErrors::new();
        check_name(&mut problems, Some(&self.name));
        let timezone = check_timezone(&mut problems, Some(&self.timezone));
        accept(problems, || NewSite {
            name: self.name.trim().to_owned(),
            timezone: timezone.unwrap_or(self.timezone),
            ..self
        })
    }
}

impl SiteChange {
    /// This change with the name trimmed and the time zone spelled canonically.
    pub fn checked(self) -> Result<SiteChange, FieldErrors> {
        let mut problems = FieldErrors::new();
        check_name(&mut problems, self.name.as_deref());
        let timezone = check_timezone(&mut problems, self.timezone.as_deref());
        accept(problems, || SiteChange {
            name: trimmed(self.name),
            timezone,
            ..self
        })
    }
}

impl Threat {
    /// This threat level, with at most [`MAX_EXEMPT`] exempt people.
    pub fn checked(self) -> Result<Threat, FieldErrors> {
        let mut problems = FieldErrors::new();
        if self.exempt_person_ids.len() > MAX_EXEMPT {
            let message = format!("at most {MAX_EXEMPT} people");
            problems.insert("exempt_person_ids".into(), message);
        }
        accept(problems, || self)
    }
}

/// Records the problems of a zone's name, timeout and occupancy limit.
fn check_zone(
    problems: &mut FieldErrors,
    name: Option<&str>,
    timeout: Option<u32>,
    max: Option<u32>,
) {
    check_name(problems, name);
    check_range(problems, "anti_passback_timeout_s", timeout, TIMEOUT_S);
    check_range(problems, "max_occupancy", max, ZoneRules::MAX_OCCUPANCY);
}

impl NewZone {
    /// This zone with its name trimmed and its limits in range.
    pub fn checked(self) -> Result<NewZone, FieldErrors> {
        let mut problems = FieldErrors::new();
        let rules = &self.rules;
        let (timeout, max) = (rules.anti_passback_timeout_s, rules.max_occupancy);
        check_zone(&mut problems, Some(&self.name), timeout, max);
        accept(problems, || NewZone {
            name: self.name.trim().to_owned(),
            ..self
        })
    }
}

impl ZoneChange {
    /// This change with the name trimmed and the limits in range.
    pub fn checked(self) -> Result<ZoneChange, FieldErrors> {
        let mut problems = FieldErrors::new();
        let timeout = self.anti_passback_timeout_s.flatten();
        let max = self.max_occupancy.flatten();
        check_zone(&mut problems, self.name.as_deref(), timeout, max);
        accept(problems, || ZoneChange {
            name: trimmed(self.name),
            ..self
        })
    }
}

impl NewDoor {
    /// This door with its name trimmed and its times in range.
    pub fn checked(self) -> Result<NewDoor, FieldErrors> {
        let mut problems = FieldErrors::new();
        check_name(&mut problems, Some(&self.name));
        check_range(&mut problems, "unlock_ms", Some(self.unlock_ms), UNLOCK_MS);
        let held_open = Some(self.held_open_ms);
        check_range(&mut problems, "held_open_ms", held_open, HELD_OPEN_MS);
        accept(problems, || NewDoor {
            name: self.name.trim().to_owned(),
            ..self
        })
    }
}

impl DoorChange {
    /// This change with the name trimmed and the times in range.
    pub fn checked(self) -> Result<DoorChange, FieldErrors> {
        let mut problems = FieldErrors::new();
        check_name(&mut problems, self.name.as_deref());
        check_range(&mut problems, "unlock_ms", self.unlock_ms, UNLOCK_MS);
        check_range(
            &mut problems,
            "held_open_ms",
            self.held_open_ms,
            HELD_OPEN_MS,
        );
        accept(problems, || DoorChange {
            name: trimmed(self.name),
            ..self
        })
    }
}

/// Records the problems of a schedule's name, windows and holidays.
fn check_schedule(
    problems: &mut FieldErrors,
    name: Option<&str>,
    windows: Option<&[WindowSpec]>,
    holidays: Option<&[NaiveDate]>,
) {
    check_name(problems, name);
    if let Some(windows) = windows {
        if windows.is_empty() || windows.len() > MAX_WINDOWS {
            let message = format!("must hold 1 to {MAX_WINDOWS} windows");
            problems.insert("windows".into(), message);
        }
        for (i, window) in windows.iter().enumerate() {
            if window.days.is_empty() {
                let message = "must name at least one day".into();
                problems.insert(format!("windows[{i}].days"), message);
            }
        }
    }
    if holidays.is_some_and(|h| h.len() > MAX_HOLIDAYS) {
        problems.insert("holidays".into(), format!("at most {MAX_HOLIDAYS} dates"));
    }
}

impl NewSchedule {
    /// This schedule with its name trimmed, windows and holidays within bounds.
    pub fn checked(self) -> Result<NewSchedule, FieldErrors> {
        let mut problems = FieldErrors::new();
        let (name, windows) = (Some(self.name.as_str()), Some(self.windows.as_slice()));
        check_schedule(&mut problems, name, windows, Some(&self.holidays));
        accept(problems, || NewSchedule {
            name: self.name.trim().to_owned(),
            ..self
        })
    }
}

impl ScheduleChange {
    /// This change with the name trimmed, windows and holidays within bounds.
    pub fn checked(self) -> Result<ScheduleChange, FieldErrors> {
        let mut problems = FieldErrors::new();
        let name = self.name.as_deref();
        let (windows, holidays) = (self.windows.as_deref(), self.holidays.as_deref());
        check_schedule(&mut problems, name, windows, holidays);
        accept(problems, || ScheduleChange {
            name: trimmed(self.name),
            ..self
        })
    }
}

impl NewAgent {
    /// This agent with its name trimmed, serving 1 to [`MAX_AGENT_DOORS`] doors.
    pub fn checked(self) -> Result<NewAgent, FieldErrors> {
        let mut problems = FieldErrors::new();
        check_name(&mut problems, Some(&self.name));
        if self.door_ids.is_empty() || self.door_ids.len() > MAX_AGENT_DOORS {
            let message = format!("must name 1 to {MAX_AGENT_DOORS} doors");
            problems.insert("door_ids".into(), message);
        }
        accept(problems, || NewAgent {
            name: self.name.trim().to_owned(),
            ..self
        })
    }
}
