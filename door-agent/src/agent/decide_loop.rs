//! Card events to decisions: map the reader to its door and direction, decide from the
//! policy in use, journal the presentation durably, and only then tell the door to
//! release. A stale policy denies every entry (exits are decided as usual); no policy
//! at all denies everything.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::Duration;

use chrono::Utc;
use gatehouse_core::decide::{Direction, EngineState, Outcome, Presentation, Reason, decide};
use gatehouse_core::event::{DoorEvent, EventKind, PresentationRecord};
use serde_json::json;
use tokio::sync::mpsc;
use uuid::Uuid;

use super::doors::send;
use super::journal_cell::JournalCell;
use super::status::StatusState;
use crate::door::{Input, InputSink};
use crate::reader::{CardEvent, ReaderEvent, ReaderMap};

/// What the decide loop works with.
pub struct DecideContext {
    /// Reader name → door and direction.
    pub readers: ReaderMap,
    /// Each door's input channel.
    pub doors: BTreeMap<Uuid, InputSink>,
    /// The journal.
    pub journal: Arc<JournalCell>,
    /// Status, and the policy in use.
    pub status: Arc<StatusState>,
    /// Whether `policy_stale` has been journalled for the current stale period.
    pub stale_raised: Arc<AtomicBool>,
}

impl DecideContext {
    /// Journals `event` on a blocking thread; errors are logged loudly (deciding goes on).
    async fn journal(&self, event: DoorEvent) -> bool {
        let journal = Arc::clone(&self.journal);
        let result = tokio::task::spawn_blocking(move || journal.append(&event)).await;
        match result {
            Ok(Ok(_)) => true,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "EVENT NOT JOURNALLED");
                false
            }
            Err(e) => {
                tracing::error!(error = %e, "journal task failed");
                false
            }
        }
    }

    /// Journals `policy_stale` once per stale period; returns whether the policy is stale.
    pub async fn check_stale(&self) -> bool {
        let stale = self.status.policy.is_stale(self.status.max_policy_age_s);
        if stale && !self.stale_raised.swap(true, Ordering::SeqCst) {
            tracing::error!(
                "policy_stale: the policy is older than agent.max_policy_age_s; denying every entry"
            );
            self.journal(DoorEvent {
                occurred_at: Utc::now(),
                door_id: None,
                kind: EventKind::PolicyStale,
            })
            .await;
        } else if !stale {
            self.stale_raised.store(false, Ordering::SeqCst);
        }
        stale
    }

    async fn on_card(&self, card: CardEvent, engine: &mut EngineState) {
        let Some(reader) = self.readers.get(&card.reader).cloned() else {
            tracing::warn!(reader = %card.reader, "card at a reader not in the configuration");
            self.journal(DoorEvent {
                occurred_at: Utc::now(),
                door_id: None,
                kind: EventKind::ReaderError {
                    reader: card.reader,
                    detail: "reader not in the agent's configuration".into(),
                },
            })
            .await;
            return;
        };
        let stale = self.check_stale().await;
        let policy = self.status.policy.current.borrow().clone();
        let at = Utc::now();
        let presentation = Presentation {
            card: card.card.clone(),
            pin: None,
            door_id: reader.door_id,
            direction: reader.direction,
            at,
        };
        let deny_entry = stale && reader.direction == Direction::Entry;
        let (decision, version, unlock_ms) = match &policy {
            Some(p) => {
                let decision = if deny_entry {
                    // Decided on a scratch state: a refused entry must not count as presence.
                    let mut scratch = engine.clone();
                    decide(&p.policy, &presentation, &mut scratch)
                } else {
                    decide(&p.policy, &presentation, engine)
                };
                let unlock_ms = p.policy.door(reader.door_id).map(|d| d.unlock_ms);
                (Some(decision), p.version, unlock_ms)
            }
            None => (None, 0, None),
        };
        let mut record = PresentationRecord {
            reader: card.reader.clone(),
            card: card.card.clone(),
            direction: reader.direction,
            outcome: Outcome::Denied,
            // No policy (or a stale one for an entry): the door stays locked.
            reason: Reason::DoorLocked,
            person_id: None,
            visit_id: None,
            credential_id: None,
            zone_id: None,
            alarms: vec![],
            policy_version: version,
        };
        if let Some(d) = &decision {
            record.person_id = d.person_id;
            record.visit_id = d.visit_id;
            record.credential_id = d.credential_id;
            record.zone_id = d.zone_id;
            record.alarms = d.alarms.clone();
            if !(deny_entry && d.granted()) {
                record.outcome = d.outcome;
                record.reason = d.reason;
            }
        }
        let granted = record.outcome == Outcome::Granted;
        let summary = json!({
            "at": at, "reader": record.reader, "door_id": reader.door_id,
            "direction": record.direction, "card": record.card,
            "outcome": record.outcome, "reason": record.reason,
            "person_id": record.person_id, "policy_version": version, "policy_stale": stale,
        });
        tracing::info!(reader = %record.reader, door = %reader.door_id,
            outcome = record.outcome.as_str(), reason = record.reason.as_str(), "decision");
        let event = DoorEvent {
            occurred_at: at,
            door_id: Some(reader.door_id),
            kind: EventKind::Presentation(record),
        };
        // Durable before the relay acts.
        self.journal(event).await;
        if granted {
            match (self.doors.get(&reader.door_id), unlock_ms) {
                (Some(sink), Some(ms)) => send(
                    sink,
                    Input::Grant {
                        unlock_for: Duration::from_millis(u64::from(ms)),
                    },
                ),
                _ => {
                    tracing::error!(door = %reader.door_id, "granted, but the door is not driven by this agent")
                }
            }
        }
        *self
            .status
            .last_decision
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(summary);
    }
}

/// Runs until the reader channel closes.
pub async fn decide_loop(ctx: Arc<DecideContext>, mut events: mpsc::Receiver<ReaderEvent>) {
    let mut engine = EngineState::default();
    while let Some(event) = events.recv().await {
        match event {
            ReaderEvent::Card(card) => ctx.on_card(card, &mut engine).await,
            ReaderEvent::ReadFailed { reader, kind, .. } => {
                tracing::warn!(reader = %reader, error = %kind, "read failed");
                ctx.journal(DoorEvent {
                    occurred_at: Utc::now(),
                    door_id: ctx.readers.get(&reader).map(|r| r.door_id),
                    kind: EventKind::ReaderError {
                        reader,
                        detail: kind.to_string(),
                    },
                })
                .await;
            }
            ReaderEvent::Attached { reader } => ctx.status.reader_attached(&reader, true),
            ReaderEvent::Detached { reader } => ctx.status.reader_attached(&reader, false),
            ReaderEvent::Removed { .. } => {}
        }
    }
}
