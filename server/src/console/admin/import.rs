//! The HR import by upload: a file sent from a form (multipart, up to the import's
//! [`MAX_BYTES`]) starts the same job as the API's `POST /import/people`; the job's page
//! shows its progress (a progress bar; without JavaScript the page reloads itself each
//! second while the job runs) and, when the file is refused, each line's problems; the
//! first page lists the recent imports.

use crate::api::routes::import::start_import;
use crate::auth::permissions::WriteSecurityModel;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::console::time;
use crate::console::upload::{FORM_OVERHEAD, form_csv};
use crate::import::{ImportSummary, LineError, MAX_BYTES, job};
use crate::state::AppState;
use crate::store::{ImportJobRecord, JobState, StoreError};
use askama::Template;
use axum::Router;
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use uuid::Uuid;

/// Recent imports listed.
const RECENT: u32 = 20;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/import",
            get(page)
                .post(upload)
                .layer(DefaultBodyLimit::max(MAX_BYTES + FORM_OVERHEAD)),
        )
        .route("/admin/import/{id}", get(job_page))
}

struct Recent {
    id: Uuid,
    at: String,
    by: String,
    state: &'static str,
    outcome: String,
}

#[derive(Template)]
#[template(path = "admin/import.html")]
struct ImportPage {
    chrome: Chrome,
    recent: Vec<Recent>,
    /// Problems of a file refused at once (not UTF-8, a wrong header).
    errors: Vec<LineError>,
}

fn state_words(state: JobState) -> &'static str {
    match state {
        JobState::Queued => "Waiting to start",
        JobState::Checking => "Checking the file",
        JobState::Applying => "Importing",
        JobState::Succeeded => "Imported",
        JobState::Failed => "Failed: nothing imported",
    }
}

fn outcome(job: &ImportJobRecord) -> String {
    match (&job.summary, job.state) {
        (Some(s), _) => summary_words(s),
        (None, JobState::Failed) if job.error_count > 0 => {
            format!("{} problem(s) in the file", job.error_count)
        }
        (None, JobState::Failed) => job.failure.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

fn summary_words(s: &ImportSummary) -> String {
    if !s.changed() {
        return "nothing changed (the file was already imported)".to_owned();
    }
    format!(
        "{} people created, {} updated, {} vetting records, {} cards issued, {} cards \
         updated, {} rows unchanged",
        s.people_created,
        s.people_updated,
        s.vetting_recorded,
        s.credentials_created,
        s.credentials_updated,
        s.unchanged_rows
    )
}

async fn recent(state: &AppState, names: &Names) -> Result<Vec<Recent>, StoreError> {
    let tz = names.tz(names.only_site());
    Ok(state
        .store
        .recent_import_jobs(RECENT)
        .await?
        .into_iter()
        .map(|job| state.import_jobs.live(job))
        .map(|job| Recent {
            id: job.id,
            at: time::local(job.created_at, tz),
            by: job.created_by.clone(),
            state: state_words(job.state),
            outcome: outcome(&job),
        })
        .collect())
}

/// `GET /admin/import`: the upload form and the recent imports.
async fn page(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    Ok(render(ImportPage {
        chrome: Chrome::new(&user.principal, "/admin/import", "HR import"),
        recent: recent(&state, &names).await?,
        errors: Vec::new(),
    }))
}

/// `POST /admin/import`: starts the import job (the API's), then shows it; a file that
/// is not UTF-8 or has a wrong header is shown its problems at once (422).
async fn upload(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    mut multipart: Multipart,
) -> Result<Response, Failure> {
    let csv = form_csv(&mut multipart, MAX_BYTES, "the HR file").await?;
    match start_import(&state, csv, user.actor()).await? {
        Ok(job) => Ok(Redirect::to(&format!("/admin/import/{}", job.id)).into_response()),
        Err(errors) => {
            let names = Names::load(&state.store).await?;
            let page = ImportPage {
                chrome: Chrome::new(&user.principal, "/admin/import", "HR import"),
                recent: recent(&state, &names).await?,
                errors,
            };
            Ok((StatusCode::UNPROCESSABLE_ENTITY, render(page)).into_response())
        }
    }
}

#[derive(Template)]
#[template(path = "admin/import_job.html")]
struct JobPage {
    chrome: Chrome,
    job: ImportJobRecord,
    state: &'static str,
    running: bool,
    /// Per mille done, over both stages (checking the first half, importing the second).
    done: u64,
    stage: String,
    started: String,
    outcome: String,
}

/// How far a job is, per mille: checking bytes is the first half, writing people the
/// second.
fn progress(job: &ImportJobRecord) -> (u64, String) {
    let part = |done: u64, total: u64| (done.min(total) * 500).checked_div(total).unwrap_or(0);
    match job.state {
        JobState::Queued => (0, "waiting to start".to_owned()),
        JobState::Checking => (
            part(job.counts.bytes_checked, job.bytes),
            format!(
                "checking: {} rows read ({} of {} bytes)",
                job.counts.rows_checked, job.counts.bytes_checked, job.bytes
            ),
        ),
        JobState::Applying => {
            let people = job.counts.people.unwrap_or(0);
            (
                500 + part(job.counts.people_applied, people),
                format!(
                    "importing: {} of {people} people written",
                    job.counts.people_applied
                ),
            )
        }
        JobState::Succeeded => (1000, "done".to_owned()),
        JobState::Failed => (0, "stopped".to_owned()),
    }
}

/// `GET /admin/import/{id}`: one import's progress, problems or result.
async fn job_page(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    let job = job::read(&state.store, &state.import_jobs, id)
        .await
        .map_err(Failure::unless_found("import job"))?;
    let names = Names::load(&state.store).await?;
    let (done, stage) = progress(&job);
    let running =
        job.finished_at.is_none() && !matches!(job.state, JobState::Succeeded | JobState::Failed);
    Ok(render(JobPage {
        chrome: Chrome::new(&user.principal, "/admin/import", "HR import"),
        state: state_words(job.state),
        running,
        done,
        stage,
        started: format!(
            "{} by {}",
            time::local(job.created_at, names.tz(names.only_site())),
            job.created_by
        ),
        outcome: outcome(&job),
        job,
    }))
}
