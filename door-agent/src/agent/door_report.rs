//! Live door state for the server (`POST /api/v1/agent/door-state`): every door's lock,
//! contact, mode in force, standing alarms and last event, sent at once when any of them
//! changes (the door threads and the journal notify one [`Notify`]) and every
//! `agent.heartbeat_s` otherwise. The heartbeat keeps the agent online at the server;
//! each report is the whole state, so a lost one is made good by the next.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use gatehouse_core::protocol::{ContactState, DoorState, DoorStateReport, LockState};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::doors::RelayView;
use super::journal_cell::JournalCell;
use super::policy_sync::{PolicyState, without_url};

/// What a report is made of.
pub struct DoorReporter {
    /// The doors the agent serves at the server (its enrolled doors), with their views.
    pub doors: BTreeMap<Uuid, Arc<RelayView>>,
    pub journal: Arc<JournalCell>,
    pub policy: Arc<PolicyState>,
    /// Notified on every change.
    pub changed: Arc<Notify>,
}

impl DoorReporter {
    /// The state of every door now.
    pub fn report(&self) -> DoorStateReport {
        let doors = self
            .doors
            .iter()
            .map(|(id, view)| {
                let (mode, alarms) = view.live();
                DoorState {
                    door_id: *id,
                    lock: if view.unlocked.load(Ordering::SeqCst) {
                        LockState::Released
                    } else {
                        LockState::Locked
                    },
                    contact: if view.contact_open.load(Ordering::SeqCst) {
                        ContactState::Open
                    } else {
                        ContactState::Closed
                    },
                    mode,
                    mode_until: self.policy.override_of(*id).and_then(|(_, until)| until),
                    alarms,
                    last_event: self.journal.last_event(*id),
                }
            })
            .collect();
        DoorStateReport { doors }
    }
}

/// Reports until `stop` is cancelled: at once on a change, else every `heartbeat`.
pub async fn report_loop(
    reporter: Arc<DoorReporter>,
    client: reqwest::Client,
    base_url: String,
    token: SecretString,
    heartbeat: Duration,
    stop: CancellationToken,
) {
    let url = format!("{}/api/v1/agent/door-state", base_url.trim_end_matches('/'));
    let mut failing = false;
    while !stop.is_cancelled() {
        let body = reporter.report();
        let request = client
            .post(&url)
            .bearer_auth(token.expose_secret())
            .json(&body)
            .timeout(Duration::from_secs(10))
            .send();
        let Some(answer) = stop.run_until_cancelled(request).await else {
            return;
        };
        // Logged once per failing period: the heartbeat would repeat it every few seconds.
        match answer {
            Ok(r) if r.status().is_success() => {
                if failing {
                    tracing::info!("door state reaches the server again");
                }
                failing = false;
            }
            Ok(r) => {
                if !failing {
                    tracing::warn!(status = %r.status(), "the server refused a door-state report");
                }
                failing = true;
            }
            Err(e) => {
                if !failing {
                    tracing::warn!(error = %without_url(&e), "server unreachable for door state");
                }
                failing = true;
            }
        }
        tokio::select! {
            () = stop.cancelled() => return,
            () = reporter.changed.notified() => {}
            () = tokio::time::sleep(heartbeat) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::door::{DoorMachine, DoorMode, DoorTiming, Input, MonoTime};
    use gatehouse_core::policy::generate_key;
    use gatehouse_core::protocol::DoorAlarm;

    #[tokio::test]
    async fn a_report_shows_each_door_as_its_machine_has_it_and_changes_notify() {
        let dir = tempfile::tempdir().unwrap();
        let changed = Arc::new(Notify::new());
        let door = Uuid::from_u128(5);
        let view = Arc::new(RelayView::watched(Arc::clone(&changed)));
        let journal = Arc::new(JournalCell::open(dir.path().join("journal")).unwrap());
        journal.watch_doors(Arc::clone(&changed));
        let reporter = DoorReporter {
            doors: BTreeMap::from([(door, Arc::clone(&view))]),
            journal: Arc::clone(&journal),
            policy: Arc::new(PolicyState::load(
                dir.path(),
                generate_key().verifying_key(),
            )),
            changed: Arc::clone(&changed),
        };
        let quiet = reporter.report().doors[0].clone();
        assert_eq!(
            (quiet.lock, quiet.contact, quiet.mode, quiet.alarms.len()),
            (LockState::Locked, ContactState::Closed, DoorMode::Normal, 0)
        );

        // Forced open: the machine's contact and alarm reach the report, and notify.
        let mut machine = DoorMachine::new(DoorTiming::default(), DoorMode::Normal);
        machine.handle(
            Input::Contact(crate::door::ContactLevel::Open),
            MonoTime::ZERO,
        );
        machine.handle(Input::Tick, MonoTime::from_millis(1000));
        view.observe(&machine);
        tokio::time::timeout(Duration::from_secs(1), changed.notified())
            .await
            .expect("a change notifies");
        journal
            .append(&gatehouse_core::event::DoorEvent {
                occurred_at: chrono::Utc::now(),
                door_id: Some(door),
                kind: gatehouse_core::event::EventKind::ForcedOpen,
            })
            .unwrap();
        tokio::time::timeout(Duration::from_secs(1), changed.notified())
            .await
            .expect("a door event notifies");
        let forced = reporter.report().doors[0].clone();
        assert_eq!(
            (forced.contact, forced.alarms),
            (ContactState::Open, vec![DoorAlarm::ForcedOpen])
        );
        assert_eq!(forced.last_event.unwrap().kind, "forced_open");
        // Nothing new: no notification.
        view.observe(&machine);
        let again = tokio::time::timeout(Duration::from_millis(100), changed.notified()).await;
        assert!(again.is_err(), "an unchanged door does not notify");
    }
}
