//! Reports (ISO 28000 monitoring and measurement, management review): a site's figures
//! over a period of site-local days (default: the last 30), each section a chart drawn
//! on the server (SVG, no script) with the same numbers in a table, printable, and each
//! table as CSV (`/reports/<table>.csv?site=&from=&to=`). The figures are
//! [`crate::reports`]'; this page only puts them in words, names and local dates.

use crate::api::error::ApiError;
use crate::api::routes::occupancy::render::spreadsheet_safe;
use crate::auth::permissions::ReadEvents;
use crate::console::labels;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time;
use crate::reports::{self, MAX_DAYS, Period, Report, svg};
use crate::state::AppState;
use crate::store::{AlarmKind, now};
use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use gatehouse_core::decide::Reason;
use gatehouse_core::local_time::{self, in_zone};
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/reports", get(page))
        .route("/reports/{table}", get(csv))
}

/// The form: a site and a period of site-local dates (`YYYY-MM-DD`, both included).
#[derive(Deserialize, Default)]
pub struct Choice {
    #[serde(default)]
    site: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// The chosen site (default: the first by name; `None`: there are no sites) and period
/// (default: the 30 days up to today, at the site).
fn resolve(names: &Names, choice: &Choice) -> Result<Option<(Period, String)>, Failure> {
    let site_id = match Some(choice.site.trim()).filter(|s| !s.is_empty()) {
        Some(text) => Uuid::parse_str(text)
            .ok()
            .filter(|id| names.sites.contains_key(id))
            .ok_or_else(|| ApiError::field("site", "is not one of the choices"))?,
        None => match names.sites_by_name().first() {
            Some((id, _)) => *id,
            None => return Ok(None),
        },
    };
    let zone = names.tz(Some(site_id));
    let today = local_time::local_date(now(), zone);
    let to = time::parse_date("to", &choice.to)?.unwrap_or(today);
    let from = time::parse_date("from", &choice.from)?.unwrap_or(to - Duration::days(29));
    if to < from {
        return Err(ApiError::field("to", "must not be before from").into());
    }
    if (to - from).num_days() >= MAX_DAYS {
        return Err(ApiError::field("from", format!("at most {MAX_DAYS} days")).into());
    }
    let period = Period {
        site_id,
        zone,
        from,
        to,
    };
    Ok(Some((period, names.site(site_id).to_owned())))
}

/// One table of the report: its CSV name, heading, the columns and the rows in words.
pub struct Section {
    pub id: &'static str,
    pub title: &'static str,
    pub note: String,
    pub charts: Vec<String>,
    pub headers: &'static [&'static str],
    pub rows: Vec<Vec<String>>,
    pub empty: &'static str,
}

/// `2 min 5 s`.
fn duration(seconds: Option<i64>) -> String {
    let Some(s) = seconds else {
        return "—".to_owned();
    };
    match s {
        ..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

fn local_date(at: DateTime<Utc>, zone: Tz) -> String {
    in_zone(at, zone).format("%Y-%m-%d").to_string()
}

fn reason_words(code: &str) -> String {
    code.parse::<Reason>()
        .map(|r| labels::reason(r).to_owned())
        .unwrap_or_else(|_| code.to_owned())
}

fn alarm_words(code: &str) -> String {
    code.parse::<AlarmKind>()
        .map(|k| labels::alarm_kind(k).to_owned())
        .unwrap_or_else(|_| code.to_owned())
}

/// The vetting band a number of days left falls in.
fn band(days_left: i64) -> &'static str {
    match days_left {
        ..=30 => "30 days",
        31..=60 => "60 days",
        _ => "90 days",
    }
}

/// Every section of the report, in page order.
pub fn sections(report: &Report, zone: Tz) -> Vec<Section> {
    let n = |v: u64| v.to_string();
    let day_labels: Vec<String> = report
        .days
        .iter()
        .map(|d| d.date.format("%m-%d").to_string())
        .collect();
    let granted: Vec<u64> = report.days.iter().map(|d| d.granted).collect();
    let denied: Vec<u64> = report.days.iter().map(|d| d.denied).collect();
    let every = report.days.len().div_ceil(10);
    let incidents: Vec<_> = report
        .doors
        .iter()
        .filter(|d| d.forced_open + d.held_open > 0)
        .collect();
    // The chart shows each hour's entries over the whole period (whole numbers, the
    // average's shape); the table gives the average per day and the busiest day.
    let day_count = report.days.len() as f64;
    let hours: Vec<u64> = report
        .hours
        .iter()
        .map(|h| (h.average * day_count).round() as u64)
        .collect();
    let hour_labels: Vec<String> = (0..24).map(|h| format!("{h:02}")).collect();
    let in_band = |b: &str| {
        report
            .expiring
            .iter()
            .filter(|e| band(e.days_left) == b)
            .count()
    };
    vec![
        Section {
            id: "days",
            title: "Entries and denials per day",
            note: "Entries: passages the doors granted (presentations and released \
                   entries, in and out). Denials: presentations refused."
                .to_owned(),
            charts: vec![svg::columns(
                "Entries and denials per day",
                &day_labels,
                &[&granted, &denied],
                &["Entries", "Denials"],
                every,
            )],
            headers: &["Date", "Entries", "Denials"],
            rows: report
                .days
                .iter()
                .map(|d| vec![d.date.to_string(), n(d.granted), n(d.denied)])
                .collect(),
            empty: "No days.",
        },
        Section {
            id: "doors",
            title: "Entries and denials per door",
            note: String::new(),
            charts: vec![svg::bars(
                "Denials per door",
                &report
                    .doors
                    .iter()
                    .map(|d| (d.door.clone(), d.denied))
                    .collect::<Vec<_>>(),
            )],
            headers: &["Door", "Entries", "Denials", "Forced open", "Held open"],
            rows: report
                .doors
                .iter()
                .map(|d| {
                    let counts = [d.granted, d.denied, d.forced_open, d.held_open];
                    std::iter::once(d.door.clone())
                        .chain(counts.map(n))
                        .collect()
                })
                .collect(),
            empty: "The site has no doors.",
        },
        Section {
            id: "reasons",
            title: "Top denial reasons",
            note: String::new(),
            charts: vec![svg::bars(
                "Denials per reason",
                &report
                    .reasons
                    .iter()
                    .map(|r| (reason_words(&r.reason), r.denials))
                    .collect::<Vec<_>>(),
            )],
            headers: &["Reason", "Denials"],
            rows: report
                .reasons
                .iter()
                .map(|r| vec![reason_words(&r.reason), n(r.denials)])
                .collect(),
            empty: "No denials in the period.",
        },
        Section {
            id: "incidents",
            title: "Forced-open and held-open doors",
            note: String::new(),
            charts: vec![svg::bars(
                "Door incidents per door (forced and held open)",
                &incidents
                    .iter()
                    .map(|d| (d.door.clone(), d.forced_open + d.held_open))
                    .collect::<Vec<_>>(),
            )],
            headers: &["Door", "Forced open", "Held open"],
            rows: incidents
                .iter()
                .map(|d| vec![d.door.clone(), n(d.forced_open), n(d.held_open)])
                .collect(),
            empty: "No door was forced or held open in the period.",
        },
        Section {
            id: "alarms",
            title: "Alarms and time to acknowledge",
            note: "Time to acknowledge: from the alarm reaching the server to an officer's \
                   acknowledgement; median and 90th percentile by nearest rank, over the \
                   acknowledged alarms."
                .to_owned(),
            charts: vec![svg::bars(
                "Alarms per kind",
                &report
                    .alarms
                    .iter()
                    .map(|a| (alarm_words(&a.kind), a.count))
                    .collect::<Vec<_>>(),
            )],
            headers: &[
                "Alarm",
                "Raised",
                "Acknowledged",
                "Median time to acknowledge",
                "90th percentile",
            ],
            rows: report
                .alarms
                .iter()
                .map(|a| {
                    vec![
                        alarm_words(&a.kind),
                        n(a.count),
                        n(a.acknowledged),
                        duration(a.median_s),
                        duration(a.p90_s),
                    ]
                })
                .collect(),
            empty: "No alarms in the period.",
        },
        Section {
            id: "occupancy",
            title: "Occupancy over the day",
            note: "Entries granted in each hour of the site's day (from the access events): \
                   the average per day of the period and the busiest day's count."
                .to_owned(),
            charts: vec![svg::columns(
                "Entries per hour of the day, over the period",
                &hour_labels,
                &[&hours],
                &[],
                2,
            )],
            headers: &["Hour", "Average entries per day", "Busiest day"],
            rows: report
                .hours
                .iter()
                .map(|h| {
                    vec![
                        format!("{:02}:00–{:02}:00", h.hour, h.hour + 1),
                        format!("{:.1}", h.average),
                        n(h.peak),
                    ]
                })
                .collect(),
            empty: "No hours.",
        },
        Section {
            id: "vetting-expiring",
            title: "Vetting expiring in the next 30, 60 and 90 days",
            note: format!(
                "People with access to the site's vetting zones. Within 30 days: {}; \
                 31 to 60 days: {}; 61 to 90 days: {}.",
                in_band("30 days"),
                in_band("60 days"),
                in_band("90 days")
            ),
            charts: Vec::new(),
            headers: &["Person", "Vetting ends", "Days left", "Within"],
            rows: report
                .expiring
                .iter()
                .map(|e| {
                    vec![
                        e.name.clone(),
                        local_date(e.until, zone),
                        e.days_left.to_string(),
                        band(e.days_left).to_owned(),
                    ]
                })
                .collect(),
            empty: "No vetting ends in the next 90 days.",
        },
        Section {
            id: "unvetted",
            title: "People with access to vetting zones without valid vetting",
            note: "Grants valid now, held directly or through a group, that cover a zone \
                   requiring vetting; the doors refuse these people there."
                .to_owned(),
            charts: Vec::new(),
            headers: &["Person", "Vetting", "Zones"],
            rows: report
                .unvetted
                .iter()
                .map(|u| {
                    let vetting = match (u.vetting.as_str(), u.cleared_until) {
                        ("none", _) => "never vetted".to_owned(),
                        ("cleared", Some(until)) => {
                            format!("expired on {}", local_date(until, zone))
                        }
                        (status, _) => status.to_owned(),
                    };
                    vec![u.name.clone(), vetting, u.zones.join(", ")]
                })
                .collect(),
            empty: "Everyone with access to a vetting zone holds valid vetting.",
        },
        Section {
            id: "dormant-cards",
            title: "Cards not used in 90 days",
            note: "Active cards of people with access at the site, not presented at any \
                   door for 90 days (never-used cards once issued 90 days ago)."
                .to_owned(),
            charts: Vec::new(),
            headers: &["Person", "Card", "Issued", "Last used"],
            rows: report
                .dormant
                .iter()
                .map(|d| {
                    vec![
                        d.name.clone(),
                        d.card.clone(),
                        local_date(d.issued_at, zone),
                        d.last_used
                            .map_or_else(|| "never".to_owned(), |at| time::local(at, zone)),
                    ]
                })
                .collect(),
            empty: "Every card was used in the last 90 days.",
        },
    ]
}

#[derive(Template)]
#[template(path = "reports.html")]
struct ReportsPage {
    chrome: Chrome,
    sites: Vec<(String, String, bool)>,
    from: String,
    to: String,
    site: String,
    zone: String,
    generated: String,
    query: String,
    sections: Vec<Section>,
}

async fn computed(
    state: &AppState,
    choice: &Choice,
) -> Result<Option<(Names, Period, String, Report)>, Failure> {
    let names = Names::load(&state.store).await?;
    let Some((period, site)) = resolve(&names, choice)? else {
        return Ok(None);
    };
    let report = reports::compute(&state.store, &period, now()).await?;
    Ok(Some((names, period, site, report)))
}

/// `GET /reports`.
pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadEvents>,
    Query(choice): Query<Choice>,
) -> Result<Response, Failure> {
    let chrome = Chrome::new(&user.principal, "/reports", "Reports");
    let Some((names, period, site, report)) = computed(&state, &choice).await? else {
        return Ok(render(ReportsPage {
            chrome,
            sites: Vec::new(),
            from: String::new(),
            to: String::new(),
            site: String::new(),
            zone: String::new(),
            generated: String::new(),
            query: String::new(),
            sections: Vec::new(),
        }));
    };
    let sites = names
        .sites_by_name()
        .into_iter()
        .map(|(id, name)| (id.to_string(), name.to_owned(), id == period.site_id))
        .collect();
    let from = period.from.to_string();
    let to = period.to.to_string();
    let query = serde_urlencoded::to_string([
        ("site", period.site_id.to_string()),
        ("from", from.clone()),
        ("to", to.clone()),
    ])
    .unwrap_or_default();
    Ok(render(ReportsPage {
        chrome,
        sites,
        site,
        zone: period.zone.name().to_owned(),
        generated: time::local(now(), period.zone),
        sections: sections(&report, period.zone),
        from,
        to,
        query,
    }))
}

/// `GET /reports/<table>.csv`: one section's table, a header row then its rows.
pub async fn csv(
    State(state): State<AppState>,
    _user: Console<ReadEvents>,
    Path(table): Path<String>,
    Query(choice): Query<Choice>,
) -> Result<Response, Failure> {
    let Some(id) = table.strip_suffix(".csv") else {
        return Err(Failure::not_found("report table"));
    };
    let Some((_, period, _, report)) = computed(&state, &choice).await? else {
        return Err(ApiError::field("site", "there are no sites yet").into());
    };
    let Some(section) = sections(&report, period.zone)
        .into_iter()
        .find(|s| s.id == id)
    else {
        return Err(Failure::not_found("report table"));
    };
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(section.headers);
    for row in &section.rows {
        let _ = writer.write_record(row.iter().map(|cell| spreadsheet_safe(cell)));
    }
    let body = writer.into_inner().unwrap_or_default();
    let file = format!(
        "attachment; filename=\"{id}-{}-{}.csv\"",
        period.from, period.to
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, file),
        ],
        body,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_bands_in_words() {
        assert_eq!(duration(None), "—");
        assert_eq!(duration(Some(45)), "45 s");
        assert_eq!(duration(Some(125)), "2 min 5 s");
        assert_eq!(duration(Some(3720)), "1 h 2 min");
        assert_eq!(band(29), "30 days");
        assert_eq!(band(30), "30 days");
        assert_eq!(band(31), "60 days");
        assert_eq!(band(61), "90 days");
    }
}
