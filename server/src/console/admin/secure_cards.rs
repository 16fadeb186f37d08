//! The issuing station in the console: "Issue a secure card on the desk reader" on a
//! person's page starts a desk job (the API's checks and `DeskJobs::start`), and the job's
//! page follows it until the card is written and read back, or why it was not.

use crate::api::error::ApiError;
use crate::api::routes::secure_cards::require_current_keys;
use crate::api::routes::site_model::not_found;
use crate::auth::permissions::IssueSecureCards;
use crate::console::admin::people::person::{self, DeskRefusal};
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render, sentence};
use crate::console::session::Console;
use crate::console::time;
use crate::issuing::IssueRequest;
use crate::issuing::jobs::{DeskJobState, Operation, StartError};
use crate::state::AppState;
use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/people/{id}/secure-card", post(issue))
        .route("/admin/desk-jobs/{id}", get(job_page))
}

#[derive(Deserialize)]
pub struct IssueForm {
    site_id: Uuid,
}

/// `POST /admin/people/{id}/secure-card`: starts issuing on the desk reader, and follows
/// the job on its page. Refused (no desk reader, no card keys for the site, the reader
/// busy): the person's page again with why next to the form, answering 409 as the API does.
async fn issue(
    State(state): State<AppState>,
    user: Console<IssueSecureCards>,
    Path(id): Path<Uuid>,
    Form(form): Form<IssueForm>,
) -> Result<Response, Failure> {
    state.store.person(id).await.map_err(not_found("person"))?;
    // No desk reader first: without one, card keys would not help.
    let refusal = if !state.desk.present() {
        Some(person::NO_DESK_READER.to_owned())
    } else {
        match require_current_keys(&state, form.site_id).await {
            Ok(()) => None,
            Err(ApiError::Conflict(why)) => Some(sentence(&why)),
            Err(other) => return Err(other.into()),
        }
    };
    let started = match refusal {
        Some(why) => Err(why),
        None => start_issue(&state, &user, id, form.site_id),
    };
    match started {
        Ok(job) => {
            let to = format!("/admin/desk-jobs/{job}?person={id}");
            Ok(Redirect::to(&to).into_response())
        }
        Err(why) => {
            let refusal = DeskRefusal {
                site_id: form.site_id,
                why,
            };
            let page = person::show(&state, &user, id, Some(refusal)).await?;
            Ok((StatusCode::CONFLICT, page).into_response())
        }
    }
}

/// Starts the desk job issuing a card of `site_id` to person `id`: its id, or why not in
/// the person page's words.
fn start_issue(
    state: &AppState,
    user: &Console<IssueSecureCards>,
    id: Uuid,
    site_id: Uuid,
) -> Result<Uuid, String> {
    let request = IssueRequest {
        person_id: id,
        site_id,
        valid_from: None,
        valid_until: None,
    };
    let started = state.desk.start(
        state.store.clone(),
        state.card_keys.clone(),
        Operation::Issue(request),
        user.actor(),
    );
    match started {
        Ok(job) => Ok(job.id),
        Err(StartError::NoDesk) => Err(person::NO_DESK_READER.to_owned()),
        Err(busy @ StartError::Busy) => Err(sentence(&busy.to_string())),
    }
}

#[derive(Deserialize)]
pub struct JobQuery {
    person: Option<Uuid>,
}

#[derive(Template)]
#[template(path = "admin/desk_job.html")]
struct JobPage {
    chrome: Chrome,
    title: &'static str,
    message: String,
    started: String,
    running: bool,
    failed: bool,
    person_id: Option<Uuid>,
    person: String,
}

/// `GET /admin/desk-jobs/{id}`: where the desk job is.
async fn job_page(
    State(state): State<AppState>,
    user: Console<IssueSecureCards>,
    Path(id): Path<Uuid>,
    axum::extract::Query(query): axum::extract::Query<JobQuery>,
) -> Result<Response, Failure> {
    let job = state.desk.get(id).ok_or(ApiError::NotFound("desk job"))?;
    let names = Names::load(&state.store).await?;
    let reader = state.desk.reader().unwrap_or("the desk reader").to_owned();
    let (title, message) = match &job.state {
        DeskJobState::WaitingForCard => (
            "Waiting for a card",
            format!("Lay a blank DESFire card on {reader}."),
        ),
        DeskJobState::Writing => (
            "Writing the card",
            "Writing the card and reading it back; leave it on the reader.".to_owned(),
        ),
        DeskJobState::Done { card, .. } => (
            "Card issued",
            format!("Secure card {card} is written, read back and active. Take it off the reader."),
        ),
        DeskJobState::Failed { message } => ("The card was not issued", sentence(message)),
    };
    let person = match query.person {
        Some(p) => state
            .store
            .person(p)
            .await
            .map(|p| p.name)
            .unwrap_or_default(),
        None => String::new(),
    };
    Ok(render(JobPage {
        chrome: Chrome::new(&user.principal, "/admin/people", title),
        title,
        message,
        started: time::local(job.started_at, names.tz(names.only_site())),
        running: matches!(
            job.state,
            DeskJobState::WaitingForCard | DeskJobState::Writing
        ),
        failed: matches!(job.state, DeskJobState::Failed { .. }),
        person_id: query.person,
        person,
    }))
}
