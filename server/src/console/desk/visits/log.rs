//! `/visits/log`: the visitor log for auditors — who visited whom and when (arrived,
//! left, in the site's time), with the visit's status, over a date range; and the same
//! rows as CSV (`/visits/log.csv`), with each visit's last screening, the documents
//! signed during it and the cards issued to it (`—` where there are none).

use super::caller;
use super::words::{self, day_start};
use crate::api::routes::occupancy::render::spreadsheet_safe;
use crate::auth::permissions::ReadVisits;
use crate::console::names::{Names, PeopleNames};
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time::parse_date;
use crate::state::AppState;
use crate::store::{TrailScreening, VisitFilter, VisitRecord, now};
use crate::visits::Caller;
use askama::Template;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{Duration, NaiveDate};
use gatehouse_core::local_time::{in_zone, local_date};
use gatehouse_core::role::Role;
use serde::Deserialize;
use uuid::Uuid;

/// Most visits one log shows (a page of the store at a time up to this).
const MOST: usize = 10_000;
const PAGE: u32 = 500;

#[derive(Deserialize, Default)]
pub struct Range {
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
}

/// One visit of the log; `None` shows as "—".
pub struct LogRow {
    pub id: Uuid,
    pub visitor: String,
    pub organisation: String,
    pub host: String,
    pub site: String,
    pub window: String,
    pub arrived: String,
    pub left: String,
    pub status: &'static str,
    pub screening: Option<String>,
    pub documents: Option<String>,
    pub cards: Option<String>,
}

impl LogRow {
    /// The row's cells in the table's (and the CSV's) column order.
    fn cells(&self) -> [&str; 11] {
        fn dash(o: &Option<String>) -> &str {
            o.as_deref().unwrap_or("—")
        }
        [
            &self.visitor,
            &self.organisation,
            &self.host,
            &self.site,
            &self.window,
            &self.arrived,
            &self.left,
            self.status,
            dash(&self.screening),
            dash(&self.documents),
            dash(&self.cards),
        ]
    }
}

const HEADERS: [&str; 11] = [
    "Visitor",
    "Organisation",
    "Host",
    "Site",
    "Expected",
    "Arrived",
    "Left",
    "Status",
    "Screening",
    "Documents",
    "Cards",
];

#[derive(Template)]
#[template(path = "visits_log.html")]
struct LogPage {
    chrome: Chrome,
    from: String,
    to: String,
    headers: [&'static str; 11],
    rows: Vec<LogRow>,
    truncated: bool,
}

/// The range asked for (default: the last 30 days up to today), as dates and a filter.
fn range(r: &Range, names: &Names) -> Result<(NaiveDate, NaiveDate, VisitFilter), Failure> {
    let tz = names.tz(names.only_site());
    let today = local_date(now(), tz);
    let to = parse_date("to", &r.to)?.unwrap_or(today);
    let from = parse_date("from", &r.from)?.unwrap_or(to - Duration::days(30));
    let filter = VisitFilter {
        from: Some(day_start(from, tz)),
        to: Some(day_start(to.succ_opt().unwrap_or(to), tz)),
        ..VisitFilter::default()
    };
    Ok((from, to, filter))
}

/// The log's rows (a host's own visits only), by expected start.
async fn rows(
    state: &AppState,
    caller: &Caller,
    names: &Names,
    mut filter: VisitFilter,
) -> Result<(Vec<LogRow>, bool), Failure> {
    if caller.role == Role::Host {
        filter.host_person_id = Some(caller.person_id.unwrap_or(Uuid::nil()));
    }
    let mut visits: Vec<VisitRecord> = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.search_visits(&filter, after, PAGE).await?;
        after = page.last().map(|v| v.id);
        let full = page.len() == PAGE as usize;
        visits.extend(page);
        if !full || visits.len() >= MOST {
            break;
        }
    }
    let truncated = visits.len() >= MOST;
    visits.sort_by_key(|v| (v.window_start, v.id));
    let ids: Vec<Uuid> = visits.iter().map(|v| v.id).collect();
    let mut trails = state.store.visit_trails(&ids).await?;
    let mut hosts = PeopleNames::default();
    let mut out = Vec::with_capacity(visits.len());
    for v in &visits {
        let trail = trails.remove(&v.id).unwrap_or_default();
        let tz = names.tz(v.site_id);
        let time = |at: Option<chrono::DateTime<chrono::Utc>>| {
            at.map_or_else(String::new, |at| {
                in_zone(at, tz).format("%Y-%m-%d %H:%M %Z").to_string()
            })
        };
        out.push(LogRow {
            id: v.id,
            visitor: v.visitor_name.clone(),
            organisation: v.visitor_organisation.clone().unwrap_or_default(),
            host: hosts.name(&state.store, v.host_person_id).await?,
            site: v
                .site_id
                .map_or_else(String::new, |s| names.site(s).to_owned()),
            window: words::window(v, tz),
            arrived: time(v.checked_in_at),
            left: time(v.checked_out_at),
            status: words::status(v.status),
            screening: trail.screening.as_ref().map(screening_words),
            documents: joined(
                trail
                    .documents
                    .iter()
                    .map(|(title, v)| format!("{title} v{v}")),
                "; ",
            ),
            cards: joined(
                trail
                    .cards
                    .iter()
                    .map(|(card, state)| format!("{card} ({state})")),
                ", ",
            ),
        });
    }
    Ok((out, truncated))
}

/// The visit's last screening in words: `clear`, or the outcome and the decision.
pub(super) fn screening_words(s: &TrailScreening) -> String {
    use crate::store::watchlist::{ScreeningDecision, ScreeningOutcome};
    let outcome = match s.outcome {
        ScreeningOutcome::Clear => return "clear".to_owned(),
        ScreeningOutcome::Flag => "flagged",
        ScreeningOutcome::Block => "blocked",
    };
    let decision = match s.decision {
        Some(ScreeningDecision::Allowed) => "allowed by security",
        Some(ScreeningDecision::Refused) => "refused by security",
        None => "awaiting a decision",
    };
    format!("{outcome} ({:.2}), {decision}", s.best_score)
}

/// `items` joined by `separator`, `None` when there are none.
fn joined(items: impl Iterator<Item = String>, separator: &str) -> Option<String> {
    let items: Vec<String> = items.collect();
    (!items.is_empty()).then(|| items.join(separator))
}

/// `GET /visits/log`.
pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadVisits>,
    Query(r): Query<Range>,
) -> Result<Response, Failure> {
    let caller = caller(&state, &user).await?;
    let names = Names::load(&state.store).await?;
    let (from, to, filter) = range(&r, &names)?;
    let (rows, truncated) = rows(&state, &caller, &names, filter).await?;
    Ok(render(LogPage {
        chrome: Chrome::new(&user.principal, "/visits", "Visitor log"),
        from: from.to_string(),
        to: to.to_string(),
        headers: HEADERS,
        rows,
        truncated,
    }))
}

/// `GET /visits/log.csv`: the same rows, names and site-local times, no ids.
pub async fn csv(
    State(state): State<AppState>,
    user: Console<ReadVisits>,
    Query(r): Query<Range>,
) -> Result<Response, Failure> {
    let caller = caller(&state, &user).await?;
    let names = Names::load(&state.store).await?;
    let (from, to, filter) = range(&r, &names)?;
    let (rows, _) = rows(&state, &caller, &names, filter).await?;
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(HEADERS);
    for row in &rows {
        let _ = writer.write_record(row.cells().iter().map(|c| spreadsheet_safe(c)));
    }
    let body = writer.into_inner().unwrap_or_default();
    let file = format!("attachment; filename=\"visitor-log-{from}-{to}.csv\"");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (header::CONTENT_DISPOSITION, file),
        ],
        body,
    )
        .into_response())
}
