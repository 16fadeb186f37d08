//! Bulk onboarding: `POST /import/people` takes HR's CSV file (format in
//! [`crate::import`]) and starts an import job, answering `202 Accepted` with the job;
//! `GET /import/jobs/{id}` follows it until it has `succeeded` (with what it changed)
//! or `failed` (nothing changed: the line errors, or why). A file that is not UTF-8 or
//! whose header is wrong is refused at once (422), before any job.
//!
//! The body may be up to 50 MiB, a route limit above the API's default; it is read into
//! one buffer as it arrives (sized by `Content-Length`) and handed to the job, never
//! copied whole again.

use crate::api::error::{ApiError, ErrorResponse, FieldErrors};
use crate::api::extract::ApiPath;
use crate::auth::extract::Authorized;
use crate::auth::permissions::WriteSecurityModel;
use crate::import::{ImportSummary, LineError, MAX_BYTES, check_start, job};
use crate::state::AppState;
use crate::store::{Actor, ImportJobRecord, JobState};
use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_people_csv))
        .routes(routes!(get_import_job))
}

/// Media types accepted for the file.
const CSV_TYPES: [&str; 4] = [
    "text/csv",
    "application/csv",
    "text/plain",
    "application/octet-stream",
];

/// Links of a job.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportJobLinks {
    /// Where to follow the job.
    #[serde(rename = "self")]
    pub this: String,
}

/// An import job: where it is, its counts, and how it ended.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ImportJob {
    pub id: Uuid,
    pub state: JobState,
    /// Who started it.
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// When it succeeded or failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// Size of the file.
    pub bytes: u64,
    /// Bytes of the file read and checked so far.
    pub bytes_checked: u64,
    /// Data rows read and checked so far.
    pub rows_checked: u64,
    /// People in the file, once it is checked.
    pub people: Option<u64>,
    /// People written so far (in the one transaction: none is visible before all are).
    pub people_applied: u64,
    /// Every problem found in the file.
    pub error_count: u64,
    /// The first 1000 problems, by line (the header is line 1; `row` names the row as a
    /// whole, `file` the file).
    pub errors: Vec<LineError>,
    /// What the import changed, once it has succeeded.
    pub summary: Option<ImportSummary>,
    /// Why it failed, when not because of the file's lines.
    pub failure: Option<String>,
    pub links: ImportJobLinks,
}

impl From<ImportJobRecord> for ImportJob {
    fn from(job: ImportJobRecord) -> Self {
        ImportJob {
            links: ImportJobLinks {
                this: job_path(job.id),
            },
            id: job.id,
            state: job.state,
            created_by: job.created_by,
            created_at: job.created_at,
            updated_at: job.updated_at,
            finished_at: job.finished_at,
            bytes: job.bytes,
            bytes_checked: job.counts.bytes_checked,
            rows_checked: job.counts.rows_checked,
            people: job.counts.people,
            people_applied: job.counts.people_applied,
            error_count: job.error_count,
            errors: job.errors,
            summary: job.summary,
            failure: job.failure,
        }
    }
}

fn job_path(id: Uuid) -> String {
    format!("/api/v1/import/jobs/{id}")
}

/// Import people, vetting and cards from HR's CSV file, as a job: the answer is `202`
/// with the job, to follow at `links.self` (also in `Location`). Every row is checked
/// first and all problems are reported per line (the job fails, nothing changed);
/// otherwise all rows are applied in one transaction. Importing the same file again
/// changes nothing.
#[utoipa::path(post, path = "/import/people", tag = "import", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv",
        description = "Header row, then one row per person and card (see the README)"),
    responses((status = 202, body = ImportJob, description = "The job, started"),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 422, body = ErrorResponse,
            description = "not UTF-8, or the header row is wrong (`line 1: column`)"),
        (status = 413, body = ErrorResponse),
        (status = 503, description = "the database is busy (`Retry-After`)", body = ErrorResponse)))]
async fn import_people_csv(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let csv = read_csv(&headers, body, MAX_BYTES).await?;
    let record = match start_import(&state, csv, auth.actor()).await? {
        Ok(record) => record,
        Err(lines) => return Err(ApiError::Validation(line_fields(&lines))),
    };
    let location = HeaderValue::from_str(&job_path(record.id)).map_err(anyhow::Error::from)?;
    let job = ImportJob::from(state.import_jobs.live(record));
    Ok((
        StatusCode::ACCEPTED,
        [(header::LOCATION, location)],
        Json(job),
    ))
}

/// Starts an import job for `csv` as `actor` (the API's and the console's upload): the
/// job, live; or, for a file that is not UTF-8 or whose header is wrong (not an HR file
/// at all), its problems at once, before any job. The rows are checked by the job.
pub(crate) async fn start_import(
    state: &AppState,
    csv: Vec<u8>,
    actor: Actor,
) -> Result<Result<ImportJobRecord, Vec<LineError>>, ApiError> {
    let start = tokio::task::spawn_blocking(move || check_start(&csv).map(|()| csv))
        .await
        .map_err(anyhow::Error::from)?;
    let csv = match start {
        Ok(csv) => csv,
        Err(lines) => return Ok(Err(lines)),
    };
    let record = state
        .store
        .create_import_job(csv.len() as u64, &actor)
        .await?;
    job::spawn(
        state.store.clone(),
        state.import_jobs.clone(),
        record.id,
        csv,
        actor,
    );
    Ok(Ok(state.import_jobs.live(record)))
}

/// Line errors as `error.fields`: `"line N: column"` → message (messages of one key
/// joined with "; ").
pub(crate) fn line_fields(lines: &[LineError]) -> FieldErrors {
    let mut fields = FieldErrors::new();
    for line in lines {
        fields
            .entry(format!("line {}: {}", line.line, line.field))
            .and_modify(|m| {
                m.push_str("; ");
                m.push_str(&line.message);
            })
            .or_insert_with(|| line.message.clone());
    }
    fields
}

/// A CSV body (refused unless its `Content-Type` says CSV or text), read as it arrives
/// into one buffer of at most `max` bytes (413 beyond).
pub(crate) async fn read_csv(
    headers: &HeaderMap,
    body: Body,
    max: usize,
) -> Result<Vec<u8>, ApiError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if !media_type.is_some_and(|t| CSV_TYPES.contains(&t.as_str())) {
        return Err(ApiError::BadRequest(
            "expected a CSV body with Content-Type: text/csv".to_owned(),
        ));
    }
    let announced = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if announced.is_some_and(|n| n > max) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut csv = Vec::with_capacity(announced.unwrap_or(0));
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::BadRequest(format!("the body could not be read: {e}")))?;
        if csv.len() + chunk.len() > max {
            return Err(ApiError::PayloadTooLarge);
        }
        csv.extend_from_slice(&chunk);
    }
    Ok(csv)
}

/// An import job: its state and counts while it runs, its line errors or summary once
/// it has ended. Any replica answers for any job.
#[utoipa::path(get, path = "/import/jobs/{id}", tag = "import", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ImportJob), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_import_job(
    State(state): State<AppState>,
    _auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ImportJob>, ApiError> {
    let record = job::read(&state.store, &state.import_jobs, id)
        .await
        .map_err(|e| match e {
            crate::store::StoreError::NotFound => ApiError::NotFound("import job"),
            other => other.into(),
        })?;
    Ok(Json(ImportJob::from(record)))
}
