//! The local status endpoint (loopback only): `GET /healthz` and `GET /status`.
//!
//! `/status` → `{"relay":"locked|unlocked", "relay_changes", "doors":[{"door_id",
//! "relay","relay_changes","contact"}], "policy_version", "policy_age_s", "policy_stale",
//! "presence_age_s", "presence_unconfirmed", "presence_revision", "journal_backlog",
//! "readers":[{"name","door_id","direction","attached"}], "card_keys":[{"site_id",
//! "version"}], "last_decision":{...}|null}`. `card_keys` lists the secure-card key
//! versions the readers accept (never key bytes). `relay_changes` counts relay moves since start, so a
//! pulse too short to be seen by polling is still visible.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use uuid::Uuid;

use super::doors::RelayView;
use super::journal_cell::JournalCell;
use super::policy_sync::PolicyState;
use super::presence_sync::PresenceFeed;
use crate::reader::ReaderConfig;

/// Everything `/status` reports.
pub struct StatusState {
    /// Each door's relay.
    pub relays: BTreeMap<Uuid, Arc<RelayView>>,
    /// The policy in use.
    pub policy: Arc<PolicyState>,
    /// The server's presence feed.
    pub presence: Arc<PresenceFeed>,
    /// The journal.
    pub journal: Arc<JournalCell>,
    /// Configured readers and whether each is attached (`None`: not known).
    pub readers: Mutex<Vec<(ReaderConfig, Option<bool>)>>,
    /// The last decision, as JSON.
    pub last_decision: Mutex<Option<Value>>,
    /// `agent.max_policy_age_s`.
    pub max_policy_age_s: u64,
    /// The site card keys the readers authenticate secure cards with.
    pub card_keys: crate::reader::SecureKeys,
}

impl StatusState {
    /// Records a reader being attached or detached.
    pub fn reader_attached(&self, name: &str, attached: bool) {
        let mut readers = self.readers.lock().unwrap_or_else(PoisonError::into_inner);
        for (config, state) in readers.iter_mut() {
            if config.name == name {
                *state = Some(attached);
            }
        }
    }

    /// The `/status` document.
    pub fn snapshot(&self) -> Value {
        let relay = |unlocked: bool| if unlocked { "unlocked" } else { "locked" };
        let any_unlocked = self
            .relays
            .values()
            .any(|r| r.unlocked.load(Ordering::SeqCst));
        let changes: u64 = self
            .relays
            .values()
            .map(|r| r.changes.load(Ordering::SeqCst))
            .sum();
        let doors: Vec<Value> = self
            .relays
            .iter()
            .map(|(id, r)| {
                json!({
                    "door_id": id,
                    "relay": relay(r.unlocked.load(Ordering::SeqCst)),
                    "relay_changes": r.changes.load(Ordering::SeqCst),
                    "contact": if r.contact_open.load(Ordering::SeqCst) { "open" } else { "closed" },
                })
            })
            .collect();
        let readers: Vec<Value> = self
            .readers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|(c, attached)| {
                json!({"name": c.name, "door_id": c.door_id, "direction": c.direction, "attached": attached})
            })
            .collect();
        json!({
            "relay": relay(any_unlocked),
            "relay_changes": changes,
            "doors": doors,
            "policy_version": self.policy.version(),
            "policy_age_s": self.policy.age_s(),
            "policy_stale": self.policy.is_stale(self.max_policy_age_s),
            "presence_age_s": self.presence.age_s(),
            "presence_unconfirmed": self.presence.is_unconfirmed(),
            "presence_revision": self.presence.revision(),
            "journal_backlog": self.journal.backlog(),
            "readers": readers,
            "card_keys": self.card_keys.current().iter().map(|k| json!({
                "site_id": Uuid::from_bytes(k.site_id),
                "version": k.version,
            })).collect::<Vec<_>>(),
            "last_decision": *self.last_decision.lock().unwrap_or_else(PoisonError::into_inner),
        })
    }
}

/// The status router.
pub fn router(state: Arc<StatusState>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/status",
            get(|State(s): State<Arc<StatusState>>| async move { axum::Json(s.snapshot()) }),
        )
        .with_state(state)
}
