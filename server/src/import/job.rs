//! Running an import as a job: `POST /import/people` records the job, starts
//! [`run`] on a task of its own and answers `202 Accepted` at once, so no request waits
//! for a large file and none times out.
//!
//! The job's row ([`crate::store::ImportJobRecord`]) is the record every replica reads.
//! While the job runs, its counts are written there twice a second (the import writes in
//! short transactions, so these writes wait little); this replica answers from the live
//! counts in [`Jobs`], fresher still.

use super::{ImportError, Progress, import_people};
use crate::store::DatabaseKind;
use crate::store::{Actor, ImportJobRecord, JobCounts, JobEnd, JobState, Store, StoreError};
use futures_util::FutureExt;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// How often a running job's counts are written to its row when they changed.
const WRITE_EVERY: Duration = Duration::from_millis(500);
/// How often a running job's row is written even when nothing changed, so that other
/// replicas can tell it from the job of a replica that died.
const HEARTBEAT: Duration = Duration::from_secs(5);
/// A running job whose row was not written for this long lost its replica (PostgreSQL;
/// see [`crate::store::Store::fail_interrupted_import_jobs`]).
pub const SILENT_AFTER: Duration = Duration::from_secs(60);
/// Attempts at recording a job's end while the database is busy.
const FINISH_ATTEMPTS: u32 = 10;

/// The live counts of one running job.
#[derive(Default)]
pub struct JobProgress {
    /// 0 queued, 1 checking, 2 applying.
    stage: AtomicU8,
    bytes_checked: AtomicU64,
    rows_checked: AtomicU64,
    /// People in the file plus one, 0 while unknown.
    people: AtomicU64,
    people_applied: AtomicU64,
}

impl JobProgress {
    pub fn state(&self) -> JobState {
        match self.stage.load(Ordering::Relaxed) {
            0 => JobState::Queued,
            1 => JobState::Checking,
            _ => JobState::Applying,
        }
    }

    pub fn counts(&self) -> JobCounts {
        let people = self.people.load(Ordering::Relaxed);
        JobCounts {
            bytes_checked: self.bytes_checked.load(Ordering::Relaxed),
            rows_checked: self.rows_checked.load(Ordering::Relaxed),
            people: people.checked_sub(1),
            people_applied: self.people_applied.load(Ordering::Relaxed),
        }
    }
}

impl Progress for JobProgress {
    fn start(&self, stage: &'static str, total: u64) {
        if stage == "applying" {
            self.people
                .store(total.saturating_add(1), Ordering::Relaxed);
            // From zero again when the import plans again.
            self.people_applied.store(0, Ordering::Relaxed);
            self.stage.store(2, Ordering::Relaxed);
        } else {
            self.stage.store(1, Ordering::Relaxed);
        }
    }

    fn advance(&self, done: u64) {
        let counter = match self.stage.load(Ordering::Relaxed) {
            2 => &self.people_applied,
            _ => &self.bytes_checked,
        };
        counter.fetch_add(done, Ordering::Relaxed);
    }

    fn rows(&self, rows: u64) {
        self.rows_checked.store(rows, Ordering::Relaxed);
    }
}

/// The jobs running on this replica, by id.
#[derive(Default)]
pub struct Jobs(Mutex<HashMap<Uuid, Arc<JobProgress>>>);

impl Jobs {
    fn insert(&self, id: Uuid, progress: Arc<JobProgress>) {
        if let Ok(mut jobs) = self.0.lock() {
            jobs.insert(id, progress);
        }
    }

    fn remove(&self, id: Uuid) {
        if let Ok(mut jobs) = self.0.lock() {
            jobs.remove(&id);
        }
    }

    /// `record` with the live counts when the job runs here (fresher than its row).
    pub fn live(&self, mut record: ImportJobRecord) -> ImportJobRecord {
        let progress = self.0.lock().ok().and_then(|j| j.get(&record.id).cloned());
        if let Some(progress) = progress
            && record.finished_at.is_none()
        {
            record.state = progress.state();
            record.counts = progress.counts();
        }
        record
    }
}

/// The job `id` as well as this replica can tell: with the live counts when it runs
/// here; on PostgreSQL, a job whose replica died (its row silent for [`SILENT_AFTER`])
/// is marked failed first. (On SQLite the one server marks its own at start.)
pub async fn read(store: &Store, jobs: &Jobs, id: Uuid) -> Result<ImportJobRecord, StoreError> {
    if store.kind() == DatabaseKind::Postgres {
        let silent = chrono::Duration::from_std(SILENT_AFTER).unwrap_or_default();
        store
            .fail_interrupted_import_jobs(Some(crate::store::now() - silent))
            .await?;
    }
    Ok(jobs.live(store.import_job(id).await?))
}

/// Starts the job `id` (already recorded, queued) on its own task: checks `csv`, applies
/// it, and records how it ended.
pub fn spawn(store: Store, jobs: Arc<Jobs>, id: Uuid, csv: Vec<u8>, actor: Actor) {
    let progress = Arc::new(JobProgress::default());
    jobs.insert(id, Arc::clone(&progress));
    tokio::spawn(async move {
        let job = run(&store, id, csv, &actor, Arc::clone(&progress));
        if AssertUnwindSafe(job).catch_unwind().await.is_err() {
            // Its transaction was dropped with it, so nothing was written.
            tracing::error!(job = %id, "import job panicked");
            let end = JobEnd::Failed("internal error; nothing was imported");
            if let Err(error) = store.finish_import_job(id, progress.counts(), end).await {
                tracing::error!(job = %id, %error, "cannot record the end of an import job");
            }
        }
        jobs.remove(id);
    });
}

async fn run(store: &Store, id: Uuid, csv: Vec<u8>, actor: &Actor, progress: Arc<JobProgress>) {
    let writer = AbortOnDrop(tokio::spawn(write_progress(
        store.clone(),
        id,
        Arc::clone(&progress),
    )));
    let outcome = import_people(store, csv, actor, Arc::clone(&progress) as Arc<_>).await;
    drop(writer);
    let counts = progress.counts();
    let failure;
    let end = match &outcome {
        Ok(summary) => JobEnd::Succeeded(summary),
        Err(ImportError::Invalid(lines)) => JobEnd::Invalid(lines),
        Err(error) => {
            tracing::error!(job = %id, error = format!("{error:#}"), "import job failed");
            failure = match error {
                ImportError::Store(StoreError::Busy(_)) => {
                    "the database stayed busy; nothing was imported, try again".to_owned()
                }
                other => format!("{other}; nothing was imported"),
            };
            JobEnd::Failed(&failure)
        }
    };
    for attempt in 1..=FINISH_ATTEMPTS {
        match store.finish_import_job(id, counts, end).await {
            Ok(()) => return,
            Err(StoreError::Busy(_)) if attempt < FINISH_ATTEMPTS => {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => {
                tracing::error!(job = %id, error = %error, "cannot record the end of an import job");
                return;
            }
        }
    }
}

/// Aborts its task when dropped, so the progress writer (the job's heartbeat) stops
/// with the job even when the import panics.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Writes the job's counts to its row while they change, and at least every
/// [`HEARTBEAT`] (see the module doc for SQLite).
async fn write_progress(store: Store, id: Uuid, progress: Arc<JobProgress>) {
    let mut written = None;
    let mut last_write = std::time::Instant::now();
    loop {
        tokio::time::sleep(WRITE_EVERY).await;
        let now = (progress.state(), progress.counts());
        let due = written != Some(now) || last_write.elapsed() >= HEARTBEAT;
        if !due {
            continue;
        }
        match store.update_import_job(id, now.0, now.1).await {
            Ok(()) => {
                written = Some(now);
                last_write = std::time::Instant::now();
            }
            Err(error) => tracing::warn!(job = %id, %error, "import progress not recorded"),
        }
    }
}
