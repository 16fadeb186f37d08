//! Visits as the screens show them: status in words, windows and days in the site's
//! time zone, and one line of a list.

use crate::console::names::{Names, PeopleNames};
use crate::store::{Store, StoreError, VisitRecord, VisitStatus};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use gatehouse_core::local_time::{in_zone, local_date};
use uuid::Uuid;

pub fn status(status: VisitStatus) -> &'static str {
    match status {
        VisitStatus::Invited => "Expected",
        VisitStatus::AwaitingApproval => "Awaiting a security officer's approval",
        VisitStatus::CheckedIn => "On site",
        VisitStatus::CheckedOut => "Left",
        VisitStatus::Cancelled => "Cancelled",
        VisitStatus::NoShow => "Did not come",
        VisitStatus::Expired => "Expired: never approved",
    }
}

/// `2026-12-06 09:00 – 17:00 CET`, or both dates when the window spans days.
pub fn window(visit: &VisitRecord, tz: Tz) -> String {
    let (start, end) = (
        in_zone(visit.window_start, tz),
        in_zone(visit.window_end, tz),
    );
    if local_date(visit.window_start, tz) == local_date(visit.window_end, tz) {
        format!(
            "{} – {}",
            start.format("%Y-%m-%d %H:%M"),
            end.format("%H:%M %Z")
        )
    } else {
        format!(
            "{} – {}",
            start.format("%Y-%m-%d %H:%M"),
            end.format("%Y-%m-%d %H:%M %Z")
        )
    }
}

/// `14:03` today, else `2026-12-05 14:03`, in the site's zone.
pub fn when(at: DateTime<Utc>, tz: Tz) -> String {
    let local = in_zone(at, tz);
    if local_date(at, tz) == local_date(Utc::now(), tz) {
        local.format("%H:%M %Z").to_string()
    } else {
        local.format("%Y-%m-%d %H:%M %Z").to_string()
    }
}

/// The start of a local day as UTC (the earliest reading at a clock change).
pub fn day_start(day: NaiveDate, tz: Tz) -> DateTime<Utc> {
    let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    tz.from_local_datetime(&midnight)
        .earliest()
        .map_or_else(|| midnight.and_utc(), |at| at.with_timezone(&Utc))
}

/// Today in the site's zone, as `start..end` in UTC.
pub fn today(tz: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let day = local_date(Utc::now(), tz);
    let next = day.succ_opt().unwrap_or(day);
    (day_start(day, tz), day_start(next, tz))
}

/// Whether the visit's window overlaps today at its site.
pub fn overlaps_today(visit: &VisitRecord, names: &Names) -> bool {
    let (start, end) = today(names.tz(visit.site_id));
    visit.window_start < end && visit.window_end > start
}

/// Whether `at` falls on today at the site.
pub fn is_today(at: DateTime<Utc>, site: Option<Uuid>, names: &Names) -> bool {
    let tz = names.tz(site);
    local_date(at, tz) == local_date(Utc::now(), tz)
}

/// One visit in a list.
pub struct Line {
    pub id: Uuid,
    pub visitor: String,
    pub organisation: String,
    pub host: String,
    pub site: String,
    pub window: String,
    pub status: &'static str,
    pub arrived: String,
    pub left: String,
    pub invitation: Option<Uuid>,
    /// Invited: a check-in button for desk roles.
    pub invited: bool,
    pub awaiting: bool,
}

impl Line {
    /// Lines for `visits`, in their order.
    pub async fn all(
        visits: &[VisitRecord],
        names: &Names,
        hosts: &mut PeopleNames,
        store: &Store,
    ) -> Result<Vec<Line>, StoreError> {
        let mut out = Vec::with_capacity(visits.len());
        for v in visits {
            out.push(Line::of(v, names, hosts, store).await?);
        }
        Ok(out)
    }

    pub async fn of(
        visit: &VisitRecord,
        names: &Names,
        hosts: &mut PeopleNames,
        store: &Store,
    ) -> Result<Line, StoreError> {
        let tz = names.tz(visit.site_id);
        Ok(Line {
            id: visit.id,
            visitor: visit.visitor_name.clone(),
            organisation: visit.visitor_organisation.clone().unwrap_or_default(),
            host: hosts.name(store, visit.host_person_id).await?,
            site: visit
                .site_id
                .map_or_else(String::new, |s| names.site(s).to_owned()),
            window: window(visit, tz),
            status: status(visit.status),
            arrived: visit
                .checked_in_at
                .map_or_else(String::new, |at| when(at, tz)),
            left: visit
                .checked_out_at
                .map_or_else(String::new, |at| when(at, tz)),
            invitation: visit.invitation_id,
            invited: visit.status == VisitStatus::Invited,
            awaiting: visit.status == VisitStatus::AwaitingApproval,
        })
    }
}

/// Lines of one invitation shown together (a group), in the order first seen.
pub struct Group {
    pub invitation: Option<Uuid>,
    pub lines: Vec<Line>,
    /// How many of them may be checked in now.
    pub invited: usize,
}

pub fn grouped(lines: Vec<Line>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for line in lines {
        let invitation = line.invitation;
        let at = invitation.and_then(|i| groups.iter().position(|g| g.invitation == Some(i)));
        let invited = usize::from(line.invited);
        match at {
            Some(at) => {
                groups[at].invited += invited;
                groups[at].lines.push(line);
            }
            None => groups.push(Group {
                invitation,
                lines: vec![line],
                invited,
            }),
        }
    }
    groups
}
