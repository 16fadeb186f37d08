//! One thread per door running its [`DoorDriver`]; the lock is wrapped so that every
//! relay move is visible in `/status`; door events, and a lock that failed to move
//! (`lock_fault`), are journalled from the door thread.
//! Also the simulated door inputs: `contact <door-id> open|closed` and `exit <door-id>`
//! lines on standard input, split off before the simulated card reader sees the rest.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use gatehouse_core::event::{DoorEvent as JournalEvent, EventKind};
use uuid::Uuid;

use super::journal_cell::JournalCell;
use crate::door::{
    ContactLevel, DoorDriver, DoorMachine, HardwareError, Input, InputSink, Lock, Output,
    RelayState, SimDoorSensor, SimExitButton, TimedInput,
};

/// What `/status` shows of one relay.
#[derive(Debug, Default)]
pub struct RelayView {
    /// Released now.
    pub unlocked: AtomicBool,
    /// Relay moves since the agent started (lock → unlock counts one, and back another).
    pub changes: AtomicU64,
    /// The debounced door contact is open.
    pub contact_open: AtomicBool,
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
    /// Waits for the door thread to engage the lock and end (after `shutdown` is set).
    pub fn join(&mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts door `door_id`'s thread: `machine` drives `lock` (already engaged); door
/// events are journalled; the thread engages the lock and ends once `shutdown` is set.
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
    shutdown: Arc<AtomicBool>,
) -> std::io::Result<DoorHandle> {
    let (sink, receiver) = inputs;
    let (epoch, epoch_utc) = clock;
    let mut driver = DoorDriver::new(machine, lock, epoch, receiver);
    let relay = Arc::clone(&view);
    let thread = std::thread::Builder::new()
        .name(format!("door-{door_id}"))
        .spawn(move || {
            loop {
                if shutdown.load(Ordering::SeqCst) {
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
                view.contact_open.store(
                    driver.machine().contact() == ContactLevel::Open,
                    Ordering::SeqCst,
                );
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

/// A simulated door command on standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimCommand {
    /// `contact <door-id> open|closed`
    Contact(Uuid, ContactLevel),
    /// `exit <door-id>`: the request-to-exit button.
    Exit(Uuid),
    /// `tamper <door-id> open|closed`: the tamper line.
    Tamper(Uuid, bool),
}

/// Parses a door command; `None` when the line is not one (it is then a card line).
pub fn parse_sim_command(line: &str) -> Option<Result<SimCommand, String>> {
    let mut words = line.split_whitespace();
    let verb = words.next()?;
    if !["contact", "exit", "tamper"].contains(&verb) {
        return None;
    }
    let rest: Vec<&str> = words.collect();
    let door = |w: Option<&&str>| -> Result<Uuid, String> {
        w.ok_or_else(|| format!("{verb}: missing door id"))?
            .parse::<Uuid>()
            .map_err(|e| format!("{verb}: bad door id ({e})"))
    };
    Some(match (verb, rest.len()) {
        ("contact", 2) => door(rest.first()).and_then(|d| match rest[1] {
            "open" => Ok(SimCommand::Contact(d, ContactLevel::Open)),
            "closed" => Ok(SimCommand::Contact(d, ContactLevel::Closed)),
            other => Err(format!("contact: {other:?} is not open or closed")),
        }),
        ("exit", 1) => door(rest.first()).map(SimCommand::Exit),
        ("tamper", 2) => door(rest.first()).and_then(|d| match rest[1] {
            "open" => Ok(SimCommand::Tamper(d, true)),
            "closed" => Ok(SimCommand::Tamper(d, false)),
            other => Err(format!("tamper: {other:?} is not open or closed")),
        }),
        ("contact", _) => Err("expected `contact <door-id> open|closed`".into()),
        ("tamper", _) => Err("expected `tamper <door-id> open|closed`".into()),
        _ => Err("expected `exit <door-id>`".into()),
    })
}

/// Reads standard input on its own thread: door commands go to the simulated doors,
/// every other line to `card_lines` (the simulated card reader's input).
pub fn split_stdin(
    doors: BTreeMap<Uuid, (SimDoorSensor, SimExitButton)>,
    mut card_lines: std::io::PipeWriter,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("stdin-split".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let mut input = BufReader::new(stdin.lock());
            let mut line = Vec::new();
            loop {
                line.clear();
                match input.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let text = String::from_utf8_lossy(&line);
                match parse_sim_command(&text) {
                    None => {
                        if card_lines.write_all(&line).is_err() {
                            return;
                        }
                    }
                    Some(Err(e)) => tracing::warn!("standard input: {e}"),
                    Some(Ok(command)) => {
                        let id = match &command {
                            SimCommand::Contact(id, _)
                            | SimCommand::Exit(id)
                            | SimCommand::Tamper(id, _) => *id,
                        };
                        match (doors.get(&id), command) {
                            (None, _) => {
                                tracing::warn!(door = %id, "standard input: no such simulated door")
                            }
                            (Some((sensor, _)), SimCommand::Contact(_, level)) => {
                                sensor.set(level);
                            }
                            (Some((sensor, _)), SimCommand::Tamper(_, open)) => {
                                sensor.tamper(open);
                            }
                            (Some((_, button)), SimCommand::Exit(_)) => {
                                button.press();
                                button.release();
                            }
                        }
                    }
                }
            }
        })
}

/// Sends `input` to a door now.
pub fn send(sink: &InputSink, input: Input) {
    let _ = sink.send(TimedInput::now(input));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::door::{DoorMode, DoorTiming};

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
        let shutdown = Arc::new(AtomicBool::new(false));
        let mut door = spawn_door(
            door_id,
            DoorMachine::new(DoorTiming::default(), DoorMode::Normal),
            ObservedLock::new(Box::new(StuckLock), Arc::clone(&view)),
            Arc::clone(&view),
            (tx.clone(), rx),
            None,
            Arc::clone(&journal),
            (Instant::now(), Utc::now()),
            Arc::clone(&shutdown),
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
        shutdown.store(true, Ordering::SeqCst);
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

    #[test]
    fn door_commands_parse_and_card_lines_pass() {
        let id = Uuid::from_u128(5);
        assert_eq!(
            parse_sim_command(&format!("contact {id} open\n")),
            Some(Ok(SimCommand::Contact(id, ContactLevel::Open)))
        );
        assert_eq!(
            parse_sim_command(&format!("exit {id}")),
            Some(Ok(SimCommand::Exit(id)))
        );
        assert_eq!(
            parse_sim_command(&format!("tamper {id} open")),
            Some(Ok(SimCommand::Tamper(id, true)))
        );
        assert_eq!(
            parse_sim_command(&format!("tamper {id} closed")),
            Some(Ok(SimCommand::Tamper(id, false)))
        );
        assert!(matches!(
            parse_sim_command(&format!("tamper {id} ajar")),
            Some(Err(_))
        ));
        assert!(matches!(parse_sim_command("tamper"), Some(Err(_))));
        assert!(matches!(parse_sim_command("contact x open"), Some(Err(_))));
        assert!(matches!(parse_sim_command("contact"), Some(Err(_))));
        assert_eq!(parse_sim_command("front 04A1"), None);
        assert_eq!(parse_sim_command(""), None);
    }
}
