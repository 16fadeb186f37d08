//! `/visits`: the receptionist's home (expected today with one-click check-in and group
//! check-in, on site now, awaiting approval, the check-in code box, a search), and for a
//! host the same page limited to its own visitors, titled "My visitors", with today's
//! arrivals (the console's arrival notice).

use super::words::{self, Group, Line, grouped};
use super::{caller, may};
use crate::api::error::ApiError;
use crate::auth::permissions::{InviteVisitors, ManageVisitRules, ReadVisits, WriteVisits};
use crate::console::names::{Names, PeopleNames};
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time::parse_date;
use crate::state::AppState;
use crate::store::{VisitFilter, VisitRecord, VisitStatus, now};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::Response;
use chrono::Duration;
use gatehouse_core::role::Role;
use serde::Deserialize;
use uuid::Uuid;

/// Most visits a list shows.
const SHOWN: u32 = 500;

#[derive(Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    q: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    status: String,
}

#[derive(Template)]
#[template(path = "visits.html")]
struct VisitsPage {
    chrome: Chrome,
    host: bool,
    /// A host account not linked to a person: it has no visitors to show.
    unlinked: bool,
    expected: Vec<Group>,
    on_site: Vec<Line>,
    awaiting: Vec<Line>,
    arrived: Vec<Line>,
    search: Search,
    statuses: Vec<(&'static str, &'static str)>,
    searched: bool,
    results: Vec<Line>,
    may_check_in: bool,
    may_approve: bool,
    may_invite: bool,
}

impl VisitsPage {
    fn status_chosen(&self, value: &str) -> bool {
        self.search.status == value
    }
}

/// Every status as `(value, words)` for the search's chooser.
fn statuses() -> Vec<(&'static str, &'static str)> {
    use VisitStatus::*;
    [
        Invited,
        AwaitingApproval,
        CheckedIn,
        CheckedOut,
        Cancelled,
        NoShow,
        Expired,
    ]
    .into_iter()
    .map(|s| (status_value(s), words::status(s)))
    .collect()
}

fn status_value(s: VisitStatus) -> &'static str {
    match s {
        VisitStatus::Invited => "invited",
        VisitStatus::AwaitingApproval => "awaiting_approval",
        VisitStatus::CheckedIn => "checked_in",
        VisitStatus::CheckedOut => "checked_out",
        VisitStatus::Cancelled => "cancelled",
        VisitStatus::NoShow => "no_show",
        VisitStatus::Expired => "expired",
    }
}

/// `GET /visits`.
pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadVisits>,
    Query(search): Query<Search>,
) -> Result<Response, Failure> {
    let caller = caller(&state, &user).await?;
    let host = caller.role == Role::Host;
    let unlinked = host && caller.person_id.is_none();
    let names = Names::load(&state.store).await?;
    // A host sees its own visits only (a host without a person: none).
    let mine = host.then(|| caller.person_id.unwrap_or(Uuid::nil()));
    let at = now();
    let around = |statuses: Vec<VisitStatus>| VisitFilter {
        statuses,
        host_person_id: mine,
        // Today somewhere on Earth: the sites' own days are picked below.
        from: Some(at - Duration::hours(38)),
        to: Some(at + Duration::hours(38)),
        ..VisitFilter::default()
    };
    let store = &state.store;
    let mut hosts = PeopleNames::default();
    let upcoming = vec![VisitStatus::Invited, VisitStatus::AwaitingApproval];
    let mut expected: Vec<VisitRecord> = store
        .search_visits(&around(upcoming), None, SHOWN)
        .await?
        .into_iter()
        .filter(|v| words::overlaps_today(v, &names))
        .collect();
    expected.sort_by_key(|v| (v.window_start, v.id));
    let on_site_filter = VisitFilter {
        statuses: vec![VisitStatus::CheckedIn],
        host_person_id: mine,
        ..VisitFilter::default()
    };
    let mut on_site = store.search_visits(&on_site_filter, None, SHOWN).await?;
    on_site.sort_by_key(|v| (v.checked_in_at, v.id));
    let awaiting_filter = VisitFilter {
        statuses: vec![VisitStatus::AwaitingApproval],
        host_person_id: mine,
        from: Some(at),
        ..VisitFilter::default()
    };
    let mut awaiting = store.search_visits(&awaiting_filter, None, SHOWN).await?;
    awaiting.sort_by_key(|v| (v.window_start, v.id));
    let mut arrived = Vec::new();
    if host {
        let came = around(vec![VisitStatus::CheckedIn, VisitStatus::CheckedOut]);
        arrived = store.search_visits(&came, None, SHOWN).await?;
        arrived.retain(|v| {
            v.checked_in_at
                .is_some_and(|t| words::is_today(t, v.site_id, &names))
        });
        // Newest first: the latest arrival is the news.
        arrived.sort_by_key(|v| std::cmp::Reverse(v.checked_in_at));
    }
    let searched = [&search.q, &search.from, &search.to, &search.status]
        .iter()
        .any(|f| !f.trim().is_empty());
    let mut results = Vec::new();
    if searched {
        let mut filter = filter(&search, &names)?;
        filter.host_person_id = mine;
        results = store.search_visits(&filter, None, SHOWN).await?;
        results.sort_by_key(|v| (v.window_start, v.id));
    }
    let mut lines =
        async |visits: Vec<VisitRecord>| Line::all(&visits, &names, &mut hosts, store).await;
    let expected = grouped(lines(expected).await?);
    let on_site = lines(on_site).await?;
    let awaiting = lines(awaiting).await?;
    let arrived = lines(arrived).await?;
    let results = lines(results).await?;
    let title = if host { "My visitors" } else { "Visits" };
    Ok(render(VisitsPage {
        chrome: Chrome::new(&user.principal, "/visits", title),
        host,
        unlinked,
        expected,
        on_site,
        awaiting,
        arrived,
        search,
        statuses: statuses(),
        searched,
        results,
        may_check_in: may::<WriteVisits, _>(&user),
        may_approve: may::<ManageVisitRules, _>(&user),
        may_invite: may::<InviteVisitors, _>(&user) && !unlinked,
    }))
}

/// The search form as a filter; dates are days at the only site (else UTC).
fn filter(search: &Search, names: &Names) -> Result<VisitFilter, Failure> {
    let tz = names.tz(names.only_site());
    let from = parse_date("from", &search.from)?.map(|d| words::day_start(d, tz));
    let to = parse_date("to", &search.to)?
        .and_then(|d| d.succ_opt())
        .map(|d| words::day_start(d, tz));
    let statuses = match search.status.trim() {
        "" => Vec::new(),
        one => vec![
            one.parse::<VisitStatus>()
                .map_err(|_| ApiError::field("status", "is not a visit status"))?,
        ],
    };
    let text = Some(search.q.trim())
        .filter(|q| !q.is_empty())
        .map(|q| q.chars().take(64).collect());
    Ok(VisitFilter {
        statuses,
        from,
        to,
        text,
        ..VisitFilter::default()
    })
}
