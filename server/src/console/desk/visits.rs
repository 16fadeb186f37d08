//! Visits around today (the receptionist's home): who is expected, who is in, who left.

use crate::auth::permissions::ReadVisits;
use crate::console::names::{Names, PeopleNames};
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use crate::store::now;
use askama::Template;
use axum::extract::State;
use axum::response::Response;

/// Visits shown: windows overlapping the last 12 hours and the next 24.
const SHOWN: u32 = 500;

struct VisitLine {
    visitor: String,
    organisation: String,
    host: String,
    window: String,
    state: String,
    inside: bool,
}

#[derive(Template)]
#[template(path = "visits.html")]
struct VisitsPage {
    chrome: Chrome,
    visits: Vec<VisitLine>,
}

pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadVisits>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let at = now();
    let visits = state
        .store
        .visits_overlapping(
            at - chrono::Duration::hours(12),
            at + chrono::Duration::hours(24),
            SHOWN,
        )
        .await?;
    let mut hosts = PeopleNames::default();
    let mut lines = Vec::with_capacity(visits.len());
    for visit in visits {
        let host = hosts.name(&state.store, visit.host_person_id).await?;
        // The site of the first zone the visitor may enter gives the time zone.
        let site = visit
            .allowed_zone_ids
            .first()
            .and_then(|z| names.zones.get(z))
            .map(|z| z.site_id);
        let state_text = match (visit.checked_in_at, visit.checked_out_at) {
            (_, Some(out)) => format!("Left {}", names.time(out, site)),
            (Some(arrived), None) => format!("Inside since {}", names.time(arrived, site)),
            (None, None) => "Expected".to_owned(),
        };
        lines.push(VisitLine {
            visitor: visit.visitor_name,
            organisation: visit.visitor_organisation.unwrap_or_default(),
            host,
            window: format!(
                "{} – {}",
                names.time(visit.window_start, site),
                names.time(visit.window_end, site)
            ),
            state: state_text,
            inside: visit.checked_in_at.is_some() && visit.checked_out_at.is_none(),
        });
    }
    Ok(render(VisitsPage {
        chrome: Chrome::new(&user.principal, "/visits", "Visits today"),
        visits: lines,
    }))
}
