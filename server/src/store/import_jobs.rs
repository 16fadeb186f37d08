//! Import jobs ([`crate::import::job`]): one row per `POST /import/people`, written by
//! the replica that runs it (state, counts, line errors, summary) and read by any.
//! Each write is one short statement outside the import's own transaction, so
//! following a job never waits behind the import it follows for long.

use super::site_model::parse;
use super::{Actor, Store, StoreError, now, on};
use crate::import::{ImportSummary, LineError};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use uuid::Uuid;

/// Line errors kept with a job; `error_count` counts them all.
pub const MAX_JOB_ERRORS: usize = 1000;

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum JobState {
    /// Accepted, not started.
    Queued,
    /// Reading and checking the file (`bytes_checked`, `rows_checked` advance).
    Checking,
    /// Writing the checked file (`people_applied` advances).
    Applying,
    /// Imported; `summary` says what changed.
    Succeeded,
    /// Nothing was imported: `errors` name the lines, or `failure` says why.
    Failed,
}

/// Counts of a running job.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    pub bytes_checked: u64,
    pub rows_checked: u64,
    /// People in the file, once it is checked.
    pub people: Option<u64>,
    pub people_applied: u64,
}

/// An import job as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportJobRecord {
    pub id: Uuid,
    pub state: JobState,
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub bytes: u64,
    pub counts: JobCounts,
    pub error_count: u64,
    pub errors: Vec<LineError>,
    pub summary: Option<ImportSummary>,
    pub failure: Option<String>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: Uuid,
    state: String,
    created_by: String,
    #[sqlx(try_from = "StoredTime")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    updated_at: DateTime<Utc>,
    #[sqlx(try_from = "OptionalStoredTime")]
    finished_at: Option<DateTime<Utc>>,
    bytes: i64,
    bytes_checked: i64,
    rows_checked: i64,
    people: Option<i64>,
    people_applied: i64,
    error_count: i64,
    errors: Option<Json<Vec<LineError>>>,
    summary: Option<Json<ImportSummary>>,
    failure: Option<String>,
}

/// Stored counts are never negative; a negative one reads as 0.
fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

fn stored(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl JobRow {
    fn record(self) -> Result<ImportJobRecord, StoreError> {
        Ok(ImportJobRecord {
            id: self.id,
            state: parse(&self.state, "import job state")?,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            finished_at: self.finished_at,
            bytes: count(self.bytes),
            counts: JobCounts {
                bytes_checked: count(self.bytes_checked),
                rows_checked: count(self.rows_checked),
                people: self.people.map(count),
                people_applied: count(self.people_applied),
            },
            error_count: count(self.error_count),
            errors: self.errors.map(|e| e.0).unwrap_or_default(),
            summary: self.summary.map(|s| s.0),
            failure: self.failure,
        })
    }
}

/// How a job ended.
#[derive(Clone, Copy)]
pub enum JobEnd<'a> {
    Succeeded(&'a ImportSummary),
    /// All line errors (only the first [`MAX_JOB_ERRORS`] are kept).
    Invalid(&'a [LineError]),
    Failed(&'a str),
}

impl Store {
    /// Records a new job for a file of `bytes` bytes, queued.
    #[tracing::instrument(skip_all)]
    pub async fn create_import_job(
        &self,
        bytes: u64,
        actor: &Actor,
    ) -> Result<ImportJobRecord, StoreError> {
        let at = now();
        let id = Uuid::now_v7();
        on!(self.pool(), |pool| {
            sqlx::query(
                "INSERT INTO import_jobs (id, state, created_by, created_by_id, created_at, \
                 updated_at, bytes) VALUES ($1, 'queued', $2, $3, $4, $4, $5)",
            )
            .bind(id)
            .bind(&actor.name)
            .bind(actor.id)
            .bind(at)
            .bind(stored(bytes))
            .execute(pool)
            .await?;
        });
        self.import_job(id).await
    }

    /// One job (`NotFound` when unknown).
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn import_job(&self, id: Uuid) -> Result<ImportJobRecord, StoreError> {
        let row = on!(self.pool(), |pool| {
            sqlx::query_as::<_, JobRow>(
                "SELECT id, state, created_by, created_at, updated_at, finished_at, bytes, \
                 bytes_checked, rows_checked, people, people_applied, error_count, errors, \
                 summary, failure FROM import_jobs WHERE id = $1",
            )
            .bind(id)
            .fetch_one(pool)
            .await?
        });
        row.record()
    }

    /// The newest `limit` jobs, newest first, without their line errors (the console's
    /// history of imports; one job's page shows its errors).
    #[tracing::instrument(skip_all)]
    pub async fn recent_import_jobs(&self, limit: u32) -> Result<Vec<ImportJobRecord>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, JobRow>(
                "SELECT id, state, created_by, created_at, updated_at, finished_at, bytes, \
                 bytes_checked, rows_checked, people, people_applied, error_count, \
                 NULL AS errors, summary, failure FROM import_jobs \
                 ORDER BY created_at DESC, id DESC LIMIT $1",
            )
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(JobRow::record).collect()
    }

    /// Moves a running job to `state` with its latest counts.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn update_import_job(
        &self,
        id: Uuid,
        state: JobState,
        counts: JobCounts,
    ) -> Result<(), StoreError> {
        on!(self.pool(), |pool| {
            sqlx::query(
                "UPDATE import_jobs SET state = $2, bytes_checked = $3, rows_checked = $4, \
                 people = $5, people_applied = $6, updated_at = $7 \
                 WHERE id = $1 AND finished_at IS NULL",
            )
            .bind(id)
            .bind(state.as_ref())
            .bind(stored(counts.bytes_checked))
            .bind(stored(counts.rows_checked))
            .bind(counts.people.map(stored))
            .bind(stored(counts.people_applied))
            .bind(now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Records how a job ended, with its final counts; a job already ended (e.g. failed
    /// by another replica that found it silent) keeps the end it has.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn finish_import_job(
        &self,
        id: Uuid,
        counts: JobCounts,
        end: JobEnd<'_>,
    ) -> Result<(), StoreError> {
        let (state, errors, summary, failure, error_count) = match end {
            JobEnd::Succeeded(summary) => (JobState::Succeeded, None, Some(summary), None, 0),
            JobEnd::Invalid(errors) => {
                let kept: Vec<LineError> = errors.iter().take(MAX_JOB_ERRORS).cloned().collect();
                (JobState::Failed, Some(Json(kept)), None, None, errors.len())
            }
            JobEnd::Failed(why) => (JobState::Failed, None, None, Some(why), 0),
        };
        let at = now();
        on!(self.pool(), |pool| {
            sqlx::query(
                "UPDATE import_jobs SET state = $2, bytes_checked = $3, rows_checked = $4, \
                 people = $5, people_applied = $6, updated_at = $7, finished_at = $7, \
                 error_count = $8, errors = $9, summary = $10, failure = $11 \
                 WHERE id = $1 AND finished_at IS NULL",
            )
            .bind(id)
            .bind(state.as_ref())
            .bind(stored(counts.bytes_checked))
            .bind(stored(counts.rows_checked))
            .bind(counts.people.map(stored))
            .bind(stored(counts.people_applied))
            .bind(at)
            .bind(stored(error_count as u64))
            .bind(errors)
            .bind(summary.map(Json))
            .bind(failure)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Marks as failed the jobs whose server stopped before they ended (the import's
    /// transaction was rolled back with it); returns how many. `silent_since: None`
    /// marks every running job: for the start of the one server of a SQLite database.
    /// `Some(t)` marks those whose row was last written before `t`: on PostgreSQL, where
    /// the replica running a job writes its row every few seconds
    /// ([`crate::import::job::SILENT_AFTER`]), so only a dead replica's job falls silent.
    #[tracing::instrument(skip_all)]
    pub async fn fail_interrupted_import_jobs(
        &self,
        silent_since: Option<DateTime<Utc>>,
    ) -> Result<u64, StoreError> {
        let marked = on!(self.pool(), |pool| {
            sqlx::query(
                "UPDATE import_jobs SET state = 'failed', updated_at = $1, finished_at = $1, \
                 failure = 'the server running it stopped before the import ended; nothing \
                 was imported' WHERE finished_at IS NULL AND ($2 IS NULL OR updated_at < $2)",
            )
            .bind(now())
            .bind(silent_since)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(marked)
    }
}
