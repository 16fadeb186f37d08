//! The simulated hardware through the driver loop: inputs driven by the test, the lock's
//! recorded history checked. Waits on conditions with deadlines, never fixed sleeps; the
//! only time assertions are lower bounds the machine guarantees.

use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{grant, timing};
use crate::door::{
    ContactLevel, DoorDriver, DoorEvent, DoorMachine, DoorMode, DoorSensor, ExitButton,
    HardwareError, InputSink, Lock, Output, RelayState, SimDoorSensor, SimExitButton, SimLock,
    TimedInput,
};

const PATIENCE: Duration = Duration::from_secs(10);

struct Door {
    lock: SimLock,
    sink: InputSink,
    events: Receiver<DoorEvent>,
    thread: JoinHandle<()>,
}

/// A door loop on its own thread, with `unlock` as the exit request's unlock time.
fn door(unlock: Duration, exit_unlocks: bool) -> Door {
    let (sink, inputs) = mpsc::channel();
    let (event_tx, events) = mpsc::channel();
    let lock = SimLock::new();
    let mut t = timing();
    t.unlock = unlock;
    t.debounce = Duration::from_millis(20);
    t.exit_unlocks = exit_unlocks;
    let mut driver = DoorDriver::new(
        DoorMachine::new(t, DoorMode::Normal),
        lock.clone(),
        Instant::now(),
        inputs,
    );
    let thread = std::thread::spawn(move || {
        while let Ok(step) = driver.step(Duration::from_millis(100)) {
            assert!(step.lock_error.is_none());
            for o in step.outputs {
                if let Output::Event(e) = o.output {
                    let _ = event_tx.send(e);
                }
            }
        }
    });
    Door {
        lock,
        sink,
        events,
        thread,
    }
}

fn wait_for(events: &Receiver<DoorEvent>, wanted: DoorEvent) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(e) if e == wanted => return,
            Ok(_) => {}
            Err(e) => panic!("no {wanted:?}: {e}"),
        }
    }
}

#[test]
fn grant_open_close_relocks_on_close_with_timestamps_in_order() {
    let door = door(Duration::from_secs(60), true);
    let sensor = SimDoorSensor::new(ContactLevel::Closed, door.sink.clone());
    let granted_at = Instant::now();
    door.sink.send(TimedInput::now(grant(60_000))).unwrap();
    let history = door.lock.wait_for_len(2, PATIENCE);
    assert_eq!(history[1].1, RelayState::Released);
    assert!(history[1].0 >= granted_at);

    sensor.set(ContactLevel::Open);
    wait_for(&door.events, DoorEvent::DoorOpened);
    assert_eq!(sensor.read().unwrap(), ContactLevel::Open);
    let closed_at = sensor.set(ContactLevel::Closed);
    wait_for(&door.events, DoorEvent::DoorClosed);
    // Relocked on close, long before the 60 s unlock time, and only once the close had
    // been stable for the debounce time.
    let history = door.lock.wait_for_len(3, PATIENCE);
    let states: Vec<RelayState> = history.iter().map(|(_, s)| *s).collect();
    assert_eq!(
        states,
        vec![
            RelayState::Engaged,
            RelayState::Released,
            RelayState::Engaged
        ]
    );
    assert!(history[2].0 >= closed_at + Duration::from_millis(20));
    assert!(history.windows(2).all(|w| w[0].0 <= w[1].0));

    drop((sensor, door.sink));
    door.thread.join().unwrap();
}

#[test]
fn grant_without_opening_relocks_after_the_unlock_time() {
    let door = door(Duration::from_millis(150), true);
    let sent = TimedInput::now(grant(150));
    door.sink.send(sent).unwrap();
    wait_for(&door.events, DoorEvent::NotOpenedAfterGrant);
    let history = door.lock.wait_for_len(3, PATIENCE);
    assert_eq!(history[2].1, RelayState::Engaged);
    // The unlock period counts from the grant, not from when the relay moved.
    assert!(history[2].0 >= sent.at + Duration::from_millis(150));
    drop(door.sink);
    door.thread.join().unwrap();
}

#[test]
fn exit_button_releases_and_a_forced_door_never_moves_the_relay() {
    let door = door(Duration::from_millis(100), false);
    let sensor = SimDoorSensor::new(ContactLevel::Closed, door.sink.clone());
    let button = SimExitButton::new(door.sink.clone());
    button.press();
    assert!(button.is_pressed().unwrap());
    button.release();
    assert!(!button.is_pressed().unwrap());
    wait_for(&door.events, DoorEvent::ExitRequested);
    sensor.set(ContactLevel::Open);
    wait_for(&door.events, DoorEvent::DoorOpened);
    sensor.set(ContactLevel::Closed);
    wait_for(&door.events, DoorEvent::DoorClosed);
    sensor.set(ContactLevel::Open);
    wait_for(&door.events, DoorEvent::ForcedOpen);
    assert_eq!(
        door.lock.history().len(),
        1,
        "mechanical-handle exit: relay untouched"
    );
    drop((sensor, button, door.sink));
    door.thread.join().unwrap();
}

#[test]
fn sim_lock_records_changes_only() {
    let mut lock = SimLock::new();
    lock.set(RelayState::Engaged).unwrap();
    lock.set(RelayState::Released).unwrap();
    lock.set(RelayState::Released).unwrap();
    assert_eq!(lock.state(), RelayState::Released);
    assert_eq!(lock.history().len(), 2);
}

#[test]
fn driver_stops_when_every_sender_is_gone() {
    let (sink, inputs) = mpsc::channel::<TimedInput>();
    let mut driver = DoorDriver::new(
        DoorMachine::new(timing(), DoorMode::Normal),
        SimLock::new(),
        Instant::now(),
        inputs,
    );
    drop(sink);
    assert!(matches!(
        driver.step(Duration::from_secs(1)),
        Err(HardwareError::InputsClosed)
    ));
}
