//! The desk reader's work for the API and the console: one operation at a time (there is
//! one desk reader), on a task of its own, so the request answers `202` at once and the
//! page follows the job (waiting for a card → writing → done or failed).
//!
//! Jobs live in this server's memory (the desk reader is attached to this machine); the
//! last [`KEPT`] are kept for their pages. Every outcome is in the operator log anyway.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::service::{self, IssueError, IssueRequest};
use crate::cards::CardKeyring;
use crate::store::{Actor, Store};

/// Finished jobs kept for their pages.
const KEPT: usize = 20;

/// The `[issuing]` settings: the desk reader of `gatehouse cards` and the console.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct IssuingSettings {
    /// The desk reader's PC/SC name; unset: the only reader pcscd knows.
    pub desk_reader: Option<String>,
    /// Seconds to wait for a card on it.
    pub wait_s: u64,
}

impl Default for IssuingSettings {
    fn default() -> Self {
        Self {
            desk_reader: None,
            wait_s: 60,
        }
    }
}

/// What a job does.
#[derive(Debug, Clone)]
pub enum Operation {
    /// Issue a blank card to a person.
    Issue(IssueRequest),
    /// Re-key an issued card to its site's current keys.
    Rekey { site_id: Uuid },
    /// Wipe an issued card and revoke its credential.
    Wipe { site_id: Uuid },
}

impl Operation {
    fn name(&self) -> &'static str {
        match self {
            Operation::Issue(_) => "issue",
            Operation::Rekey { .. } => "rekey",
            Operation::Wipe { .. } => "wipe",
        }
    }
}

/// Where a job is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum DeskJobState {
    /// Waiting for a card on the desk reader.
    WaitingForCard,
    /// A card is on the reader: writing and reading it back.
    Writing,
    /// Done: the card and its credential.
    Done {
        card: String,
        credential_id: Option<Uuid>,
    },
    /// Failed, and why; the card (if any) holds no half-written keys.
    Failed { message: String },
}

/// A desk job as the API shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeskJob {
    pub id: Uuid,
    /// `issue`, `rekey` or `wipe`.
    pub operation: &'static str,
    pub started_at: DateTime<Utc>,
    #[serde(flatten)]
    pub state: DeskJobState,
}

/// Why a job did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("the desk reader is busy with another card; try again when it is done")]
    Busy,
    #[error(
        "this server has no desk reader: it was built without PC/SC support \
         (cargo build --release -p gatehouse-server --features pcsc)"
    )]
    NoDesk,
}

/// The desk jobs of this server.
pub struct DeskJobs {
    settings: IssuingSettings,
    jobs: Mutex<VecDeque<DeskJob>>,
}

impl DeskJobs {
    pub fn new(settings: IssuingSettings) -> Self {
        Self {
            settings,
            jobs: Mutex::new(VecDeque::new()),
        }
    }

    /// Whether this server has a desk reader: built with PC/SC (`[issuing] desk_reader`
    /// only names one when pcscd knows several).
    pub fn present(&self) -> bool {
        cfg!(feature = "pcsc")
    }

    /// The desk reader's configured name, if one is named.
    pub fn reader(&self) -> Option<&str> {
        self.settings.desk_reader.as_deref()
    }

    /// A job by id.
    pub fn get(&self, id: Uuid) -> Option<DeskJob> {
        self.lock().iter().find(|j| j.id == id).cloned()
    }

    /// Starts `operation` on the desk reader unless one is running.
    pub fn start(
        self: &Arc<Self>,
        store: Store,
        keyring: Arc<CardKeyring>,
        operation: Operation,
        actor: Actor,
    ) -> Result<DeskJob, StartError> {
        if !self.present() {
            return Err(StartError::NoDesk);
        }
        let job = {
            let mut jobs = self.lock();
            let running = |j: &DeskJob| {
                matches!(
                    j.state,
                    DeskJobState::WaitingForCard | DeskJobState::Writing
                )
            };
            if jobs.iter().any(running) {
                return Err(StartError::Busy);
            }
            let job = DeskJob {
                id: Uuid::now_v7(),
                operation: operation.name(),
                started_at: Utc::now(),
                state: DeskJobState::WaitingForCard,
            };
            jobs.push_front(job.clone());
            jobs.truncate(KEPT);
            job
        };
        let this = Arc::clone(self);
        let id = job.id;
        tokio::spawn(async move {
            let end = this.run(id, &store, &keyring, operation, &actor).await;
            let state = match end {
                Ok((card, credential_id)) => DeskJobState::Done {
                    card,
                    credential_id,
                },
                Err(message) => DeskJobState::Failed { message },
            };
            this.set(id, state);
        });
        Ok(job)
    }

    async fn run(
        &self,
        id: Uuid,
        store: &Store,
        keyring: &CardKeyring,
        operation: Operation,
        actor: &Actor,
    ) -> Result<(String, Option<Uuid>), String> {
        let station = self.wait_for_card().await?;
        self.set(id, DeskJobState::Writing);
        let done = match operation {
            Operation::Issue(request) => service::issue(store, keyring, station, request, actor)
                .await
                .map(Some),
            Operation::Rekey { site_id } => {
                service::rekey(store, keyring, station, site_id, actor).await
            }
            Operation::Wipe { site_id } => {
                service::wipe(store, keyring, station, site_id, actor).await
            }
        };
        match done {
            Ok(Some(c)) => Ok((c.card, Some(c.id))),
            Ok(None) => Ok((String::new(), None)),
            Err(e) => Err(message(&e)),
        }
    }

    #[cfg(feature = "pcsc")]
    async fn wait_for_card(&self) -> Result<super::desk::DeskStation, String> {
        let reader = self.settings.desk_reader.clone();
        let wait = std::time::Duration::from_secs(self.settings.wait_s);
        tokio::task::spawn_blocking(move || super::desk::DeskStation::wait(reader.as_deref(), wait))
            .await
            .map_err(|_| "the desk reader's worker stopped".to_owned())?
            .map_err(|e| e.to_string())
    }

    #[cfg(not(feature = "pcsc"))]
    async fn wait_for_card(&self) -> Result<std::convert::Infallible, String> {
        Err(StartError::NoDesk.to_string())
    }

    fn set(&self, id: Uuid, state: DeskJobState) {
        if let Some(job) = self.lock().iter_mut().find(|j| j.id == id) {
            job.state = state;
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<DeskJob>> {
        self.jobs.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What an operator reads when a job failed.
fn message(error: &IssueError) -> String {
    match error {
        IssueError::Store(_) | IssueError::Model(_) | IssueError::Keys(_) => {
            tracing::warn!(%error, "desk job failed");
            error.to_string()
        }
        other => other.to_string(),
    }
}
