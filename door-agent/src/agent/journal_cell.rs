//! The agent's one [`Journal`], shared by the decide loop, the door threads and the
//! uploader. Every call blocks (fsync): call it from a dedicated thread or
//! `spawn_blocking`. A failed append poisons the journal; it is reopened (recovery cuts
//! the partial record) and the append retried once. Past capacity, `journal_full` is
//! journalled once and appends go on.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use chrono::Utc;
use gatehouse_core::event::{DoorEvent, EventKind};
use gatehouse_core::protocol::{CommandAction, LastEvent};
use uuid::Uuid;

use crate::journal::{Journal, JournalError, JournalOptions, Record};

/// A journal behind a mutex, reopened after a failed append.
pub struct JournalCell {
    dir: PathBuf,
    inner: Mutex<Option<Journal>>,
    full_raised: AtomicBool,
    backlog: AtomicU64,
    /// Notified after every append (wakes the uploader).
    pub appended: tokio::sync::Notify,
    /// Each door's last event journalled since the start, for the door-state reports.
    last_events: Mutex<BTreeMap<Uuid, LastEvent>>,
    /// Notified after a door's event is journalled (wakes the door-state reporter).
    door_watch: OnceLock<Arc<tokio::sync::Notify>>,
}

impl JournalCell {
    /// Opens (and recovers) the journal in `dir`.
    pub fn open(dir: PathBuf) -> Result<JournalCell, JournalError> {
        std::fs::create_dir_all(&dir).map_err(JournalError::io("creating", &dir))?;
        let (journal, report) = Journal::open(&dir, JournalOptions::default())?;
        if report.truncated_bytes > 0 {
            tracing::warn!(
                bytes = report.truncated_bytes,
                "journal: cut a torn tail left by a crash or power cut"
            );
        }
        tracing::info!(
            last_seq = report.last_seq,
            acked = report.acked,
            "journal opened"
        );
        let backlog = journal.backlog();
        Ok(JournalCell {
            dir,
            inner: Mutex::new(Some(journal)),
            full_raised: AtomicBool::new(false),
            backlog: AtomicU64::new(backlog),
            appended: tokio::sync::Notify::new(),
            last_events: Mutex::new(BTreeMap::new()),
            door_watch: OnceLock::new(),
        })
    }

    /// Has `changed` notified after every door event journalled from now on.
    pub fn watch_doors(&self, changed: Arc<tokio::sync::Notify>) {
        let _ = self.door_watch.set(changed);
    }

    /// The last event journalled at `door` since the start.
    pub fn last_event(&self, door: Uuid) -> Option<LastEvent> {
        self.last_events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&door)
            .cloned()
    }

    fn note_door_event(&self, event: &DoorEvent) {
        let Some(door) = event.door_id else { return };
        let detail = match &event.kind {
            EventKind::Presentation(p) if p.reason.as_str() == p.outcome.as_str() => {
                Some(p.outcome.as_str().to_owned())
            }
            EventKind::Presentation(p) => {
                Some(format!("{}: {}", p.outcome.as_str(), p.reason.as_str()))
            }
            EventKind::RemoteCommand(c) => Some(format!(
                "{} by {}",
                CommandAction::from(c.action.clone()).describe(),
                c.operator
            )),
            _ => None,
        };
        let last = LastEvent {
            kind: event.kind.name().to_owned(),
            at: event.occurred_at,
            detail,
        };
        self.last_events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(door, last);
        if let Some(changed) = self.door_watch.get() {
            changed.notify_one();
        }
    }

    /// Drops the open journal, as a failed append does (tests of what follows it).
    #[cfg(test)]
    pub(crate) fn poison(&self) {
        *self.lock() = None;
    }

    fn lock(&self) -> MutexGuard<'_, Option<Journal>> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records appended and not yet acknowledged by the server.
    pub fn backlog(&self) -> u64 {
        self.backlog.load(Ordering::Relaxed)
    }

    /// Appends `event` durably; returns its sequence number.
    pub fn append(&self, event: &DoorEvent) -> Result<u64, JournalError> {
        let payload = event
            .encode()
            .map_err(|e| JournalError::InvalidOptions(format!("cannot encode the event: {e}")))?;
        let outcome = {
            let mut guard = self.lock();
            let first = match guard.as_mut() {
                Some(j) => j.append(&payload),
                None => Err(JournalError::Poisoned),
            };
            match first {
                Ok(o) => o,
                Err(e) => {
                    tracing::error!(error = %e, "journal append failed; reopening the journal");
                    *guard = None;
                    let (mut journal, _) = Journal::open(&self.dir, JournalOptions::default())?;
                    let o = journal.append(&payload);
                    *guard = Some(journal);
                    o?
                }
            }
        };
        self.backlog.store(outcome.backlog, Ordering::Relaxed);
        self.appended.notify_one();
        self.note_door_event(event);
        if outcome.over_capacity {
            if !self.full_raised.swap(true, Ordering::SeqCst) {
                tracing::error!(
                    backlog = outcome.backlog,
                    "journal_full: more unsent events than the capacity"
                );
                let full = DoorEvent {
                    occurred_at: Utc::now(),
                    door_id: None,
                    kind: EventKind::JournalFull,
                };
                self.append(&full)?;
            }
        } else {
            self.full_raised.store(false, Ordering::SeqCst);
        }
        Ok(outcome.seq)
    }

    /// Up to `max` records after the acknowledged position.
    pub fn pending(&self, max: usize) -> Result<Vec<Record>, JournalError> {
        let guard = self.lock();
        let journal = guard.as_ref().ok_or(JournalError::Poisoned)?;
        journal.pending(journal.acked() + 1, max)
    }

    /// Records the server's acknowledgement up to `upto`.
    pub fn ack(&self, upto: u64) -> Result<(), JournalError> {
        let mut guard = self.lock();
        let journal = guard.as_mut().ok_or(JournalError::Poisoned)?;
        journal.ack(upto)?;
        self.backlog.store(journal.backlog(), Ordering::Relaxed);
        Ok(())
    }
}
