//! The doors: one thread per door running its [`DoorDriver`]; the lock is wrapped so
//! that every relay move is visible in `/status`; door events, and a lock that failed to
//! move (`lock_fault`), are journalled from the door thread. A door thread stops (its
//! lock engaged) once the agent's door shutdown token is cancelled.
//!
//! - [`hardware`]: opening each door's lock, contact and exit button at start.
//! - [`stdin`]: the simulated door inputs on standard input.
//! - [`policy_inputs`]: what a new policy changes at each door (mode, timing).

pub mod hardware;
pub mod stdin;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gatehouse_core::event::{DoorEvent as JournalEvent, EventKind};
use gatehouse_core::model::Door;
use gatehouse_core::protocol::DoorAlarm;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::journal_cell::JournalCell;
use crate::door::{
    ContactLevel, DoorDriver, DoorMachine, DoorMode, DoorTiming, HardwareConfig, HardwareError,
    Input, InputSink, Lock, Output, RelayState, SimDoorSensor, SimExitButton, TimedInput,
};

/// What `/status` and the door-state reports show of one door.
#[derive(Debug, Default)]
pub struct RelayView {
    /// Released now.
    pub unlocked: AtomicBool,
    /// Relay moves since the agent started (lock → unlock counts one, and back another).
    pub changes: AtomicU64,
    /// The debounced door contact is open.
    pub contact_open: AtomicBool,
    /// The mode in force and the alarm conditions standing, as the door machine has them.
    pub live: Mutex<(DoorMode, Vec<DoorAlarm>)>,
    /// Notified on every change of the above (wakes the door-state reporter).
    pub changed: Arc<Notify>,
}

impl RelayView {
    /// A view whose changes notify `changed` (one for all the agent's doors).
    pub fn watched(changed: Arc<Notify>) -> Self {
        RelayView {
            changed,
            ..RelayView::default()
        }
    }

    /// Takes the door machine's contact, mode and alarms after a step; notifies a change.
    pub fn observe(&self, machine: &DoorMachine) {
        let open = machine.contact() == ContactLevel::Open;
        let mut changed = self.contact_open.swap(open, Ordering::SeqCst) != open;
        let now = (machine.mode(), machine.alarms());
        let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        if *live != now {
            *live = now;
            changed = true;
        }
        drop(live);
        if changed {
            self.changed.notify_one();
        }
    }

    /// The mode and alarms now.
    pub fn live(&self) -> (DoorMode, Vec<DoorAlarm>) {
        self.live
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// A lock that reports its moves to a [`RelayView`].
pub struct ObservedLock {
    inner: Box<dyn Lock>,
    view: Arc<RelayView>,
}

impl ObservedLock {
    /// Wraps `inner`, which must already be at its idle (engaged) level.
    pub fn new(inner: Box<dyn Lock>, view: Arc<RelayView>) -> Self {
        ObservedLock { inner, view }
    }
}

impl Lock for ObservedLock {
    fn set(&mut self, state: RelayState) -> Result<(), HardwareError> {
        let before = self.inner.state();
        self.inner.set(state)?;
        if before != state {
            self.view
                .unlocked
                .store(state == RelayState::Released, Ordering::SeqCst);
            self.view.changes.fetch_add(1, Ordering::SeqCst);
            self.view.changed.notify_one();
        }
        Ok(())
    }

    fn state(&self) -> RelayState {
        self.inner.state()
    }
}

/// A running door: where to send its inputs.
pub struct DoorHandle {
    /// The door's input channel (grants, mode changes, simulated contact).
    pub inputs: InputSink,
    /// The relay as `/status` shows it.
    pub relay: Arc<RelayView>,
    /// The simulated contact and exit button, when the hardware is simulated.
    pub sim: Option<(SimDoorSensor, SimExitButton)>,
    thread: Option<JoinHandle<()>>,
}

impl DoorHandle {
    /// Waits for the door thread to engage the lock and end (after `shutdown` is
    /// cancelled).
    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts door `door_id`'s thread: `machine` drives `lock` (already engaged); door
/// events are journalled; the thread engages the lock and ends once `shutdown` is
/// cancelled (checked between steps, so never in the middle of a journal write).
#[allow(clippy::too_many_arguments)]
pub fn spawn_door(
    door_id: Uuid,
    machine: DoorMachine,
    lock: ObservedLock,
    view: Arc<RelayView>,
    inputs: (InputSink, mpsc::Receiver<TimedInput>),
    sim: Option<(SimDoorSensor, SimExitButton)>,
    journal: Arc<JournalCell>,
    clock: (Instant, DateTime<Utc>),
    shutdown: CancellationToken,
) -> std::io::Result<DoorHandle> {
    let (sink, receiver) = inputs;
    let (epoch, epoch_utc) = clock;
    let mut driver = DoorDriver::new(machine, lock, epoch, receiver);
    let relay = Arc::clone(&view);
    let thread = std::thread::Builder::new()
        .name(format!("door-{door_id}"))
        .spawn(move || {
            loop {
                if shutdown.is_cancelled() {
                    // Leave the door as the idle level has it.
                    let _ = driver.step(Duration::ZERO);
                    break;
                }
                let step = match driver.step(Duration::from_millis(200)) {
                    Ok(step) => step,
                    Err(e) => {
                        tracing::error!(door = %door_id, error = %e, "door loop ended");
                        break;
                    }
                };
                view.observe(driver.machine());
                for output in step.outputs {
                    match output.output {
                        Output::Relay(command) => {
                            tracing::info!(door = %door_id, ?command, "relay");
                        }
                        Output::Event(event) => {
                            let occurred_at = epoch_utc
                                + chrono::Duration::from_std(output.at.as_duration())
                                    .unwrap_or_default();
                            tracing::info!(door = %door_id, ?event, "door event");
                            let record = JournalEvent {
                                occurred_at,
                                door_id: Some(door_id),
                                kind: event.into(),
                            };
                            if let Err(e) = journal.append(&record) {
                                tracing::error!(door = %door_id, error = %e, ?event,
                                    "could not journal a door event");
                            }
                        }
                    }
                }
                // After the outputs: the relay command that failed is among them.
                if let Some(e) = step.lock_error {
                    tracing::error!(door = %door_id, error = %e, "lock_fault: the lock did not move");
                    let record = JournalEvent {
                        occurred_at: Utc::now(),
                        door_id: Some(door_id),
                        kind: EventKind::LockFault {
                            detail: e.to_string(),
                        },
                    };
                    if let Err(e) = journal.append(&record) {
                        tracing::error!(door = %door_id, error = %e, "could not journal lock_fault");
                    }
                }
            }
        })?;
    Ok(DoorHandle {
        inputs: sink,
        relay,
        sim,
        thread: Some(thread),
    })
}

/// What a new policy changes at each driven door: its mode (sent every time, the door
/// ignores a mode it already has) and its timing when that differs from what the door
/// last got (`sent`, one entry per driven door, updated here). A door the policy does
/// not name keeps what it has.
pub fn policy_inputs<'a>(
    door: impl Fn(Uuid) -> Option<&'a Door>,
    hardware: &HardwareConfig,
    sent: &mut BTreeMap<Uuid, DoorTiming>,
) -> Vec<(Uuid, Input)> {
    let mut inputs = Vec::new();
    for (id, last) in sent.iter_mut() {
        let Some(door) = door(*id) else { continue };
        inputs.push((*id, Input::SetMode(door.mode)));
        let timing = DoorTiming::from_door(door, hardware);
        if timing != *last {
            *last = timing;
            inputs.push((*id, Input::SetTiming(timing)));
        }
    }
    inputs
}

/// Sends `input` to a door now.
pub fn send(sink: &InputSink, input: Input) {
    let _ = sink.send(TimedInput::now(input));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::door::SimulatedConfig;

    /// A relay that never moves.
    struct StuckLock;

    impl Lock for StuckLock {
        fn set(&mut self, _: RelayState) -> Result<(), HardwareError> {
            Err(HardwareError::Pin {
                pin: 17,
                role: "lock relay",
                message: "stuck".into(),
            })
        }

        fn state(&self) -> RelayState {
            RelayState::Engaged
        }
    }

    fn kinds(journal: &JournalCell) -> Vec<EventKind> {
        journal
            .pending(100)
            .unwrap()
            .iter()
            .map(|r| JournalEvent::decode(&r.payload).unwrap().kind)
            .collect()
    }

    #[test]
    fn a_lock_that_does_not_move_is_journalled_as_lock_fault() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Arc::new(JournalCell::open(dir.path().join("journal")).unwrap());
        let door_id = Uuid::from_u128(9);
        let view = Arc::new(RelayView::default());
        let (tx, rx) = mpsc::channel();
        let shutdown = CancellationToken::new();
        let mut door = spawn_door(
            door_id,
            DoorMachine::new(DoorTiming::default(), DoorMode::Normal),
            ObservedLock::new(Box::new(StuckLock), Arc::clone(&view)),
            Arc::clone(&view),
            (tx.clone(), rx),
            None,
            Arc::clone(&journal),
            (Instant::now(), Utc::now()),
            shutdown.clone(),
        )
        .unwrap();
        send(
            &door.inputs,
            Input::Grant {
                unlock_for: Duration::from_secs(60),
            },
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut seen = kinds(&journal);
        while seen.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
            seen = kinds(&journal);
        }
        shutdown.cancel();
        door.join();
        let faults: Vec<&EventKind> = seen
            .iter()
            .filter(|k| matches!(k, EventKind::LockFault { .. }))
            .collect();
        assert_eq!(faults.len(), 1, "{seen:?}");
        let EventKind::LockFault { detail } = faults[0] else {
            unreachable!()
        };
        assert!(
            detail.contains("pin 17") && detail.contains("stuck"),
            "{detail}"
        );
        let event = JournalEvent::decode(&journal.pending(1).unwrap()[0].payload).unwrap();
        assert_eq!(event.door_id, Some(door_id));
        assert!(
            !view.unlocked.load(Ordering::SeqCst) && view.changes.load(Ordering::SeqCst) == 0,
            "status does not show a relay move that did not happen"
        );
    }

    fn door(id: u128, mode: DoorMode, unlock_ms: u32, held_open_ms: u32) -> Door {
        Door {
            id: Uuid::from_u128(id),
            site_id: Uuid::from_u128(100),
            from_zone_id: Uuid::from_u128(101),
            to_zone_id: Uuid::from_u128(102),
            mode,
            unlock_ms,
            held_open_ms,
        }
    }

    fn timing(unlock_ms: u64, held_open_ms: u64) -> DoorTiming {
        DoorTiming {
            unlock: Duration::from_millis(unlock_ms),
            held_open: Duration::from_millis(held_open_ms),
            ..DoorTiming::default()
        }
    }

    #[test]
    fn policy_changes_send_modes_and_only_changed_timings() {
        use DoorMode::{Locked, Normal};
        let hardware = HardwareConfig::Simulated(SimulatedConfig::default());
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        // Both doors started with default timing (no policy on disk).
        let mut sent = BTreeMap::from([(a, DoorTiming::default()), (b, DoorTiming::default())]);
        type Row = (&'static str, Vec<Door>, Vec<(Uuid, Input)>);
        let rows: Vec<Row> = vec![
            (
                "first policy: door a gets its mode and timing; b is not in it",
                vec![door(1, Normal, 3000, 30_000), door(3, Normal, 1, 1)],
                vec![
                    (a, Input::SetMode(Normal)),
                    (a, Input::SetTiming(timing(3000, 30_000))),
                ],
            ),
            (
                "same door again: mode only",
                vec![door(1, Normal, 3000, 30_000)],
                vec![(a, Input::SetMode(Normal))],
            ),
            (
                "held-open time changed",
                vec![door(1, Normal, 3000, 10_000)],
                vec![
                    (a, Input::SetMode(Normal)),
                    (a, Input::SetTiming(timing(3000, 10_000))),
                ],
            ),
            (
                "unlock time changed, b appears with default timing, a locked",
                vec![door(1, Locked, 8000, 10_000), door(2, Normal, 5000, 30_000)],
                vec![
                    (a, Input::SetMode(Locked)),
                    (a, Input::SetTiming(timing(8000, 10_000))),
                    (b, Input::SetMode(Normal)),
                ],
            ),
        ];
        for (name, policy, expected) in rows {
            let got = policy_inputs(
                |id| policy.iter().find(|d| d.id == id),
                &hardware,
                &mut sent,
            );
            assert_eq!(got, expected, "{name}");
        }
        assert_eq!(sent[&a], timing(8000, 10_000));
    }
}
