//! Simulated door hardware for tests and demos: a lock that records every change with a
//! monotonic timestamp, and a door contact and exit button that tests drive.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::{
    ContactLevel, DoorSensor, ExitButton, HardwareError, Input, InputSink, Lock, RelayState,
    TimedInput,
};

#[derive(Debug)]
struct LockState {
    history: Vec<(Instant, RelayState)>,
}

/// A simulated lock relay. Clones share the same relay, so a test keeps one clone to
/// observe what the door loop does with another.
#[derive(Debug, Clone)]
pub struct SimLock {
    inner: Arc<(Mutex<LockState>, Condvar)>,
}

impl Default for SimLock {
    fn default() -> Self {
        Self::new()
    }
}

impl SimLock {
    /// A relay set to its idle level (engaged) now; that is the first history entry.
    pub fn new() -> Self {
        let state = LockState {
            history: vec![(Instant::now(), RelayState::Engaged)],
        };
        SimLock {
            inner: Arc::new((Mutex::new(state), Condvar::new())),
        }
    }

    fn lock_state(&self) -> MutexGuard<'_, LockState> {
        self.inner.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Every change of the relay, with when it happened, starting with the idle level.
    pub fn history(&self) -> Vec<(Instant, RelayState)> {
        self.lock_state().history.clone()
    }

    /// Waits until the history has at least `len` entries or `timeout` passes; returns
    /// the history either way.
    pub fn wait_for_len(&self, len: usize, timeout: Duration) -> Vec<(Instant, RelayState)> {
        let deadline = Instant::now() + timeout;
        let mut state = self.lock_state();
        while state.history.len() < len {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            state = self
                .inner
                .1
                .wait_timeout(state, left)
                .map(|(guard, _)| guard)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        state.history.clone()
    }
}

impl Lock for SimLock {
    fn set(&mut self, state: RelayState) -> Result<(), HardwareError> {
        let mut inner = self.lock_state();
        if inner.history.last().map(|(_, s)| *s) != Some(state) {
            inner.history.push((Instant::now(), state));
            self.inner.1.notify_all();
        }
        Ok(())
    }

    fn state(&self) -> RelayState {
        self.lock_state()
            .history
            .last()
            .map_or(RelayState::Engaged, |(_, s)| *s)
    }
}

/// A simulated door contact. Clones share the contact; [`SimDoorSensor::set`] moves it
/// and sends the change to the door loop.
#[derive(Debug, Clone)]
pub struct SimDoorSensor {
    level: Arc<Mutex<ContactLevel>>,
    sink: InputSink,
}

impl SimDoorSensor {
    /// A contact at `initial`, reporting to `sink` (the initial level is sent too, as the
    /// real sensor's first reading is).
    pub fn new(initial: ContactLevel, sink: InputSink) -> Self {
        // A closed loop has no one left to tell; the state is still kept.
        let _ = sink.send(TimedInput::now(Input::Contact(initial)));
        SimDoorSensor {
            level: Arc::new(Mutex::new(initial)),
            sink,
        }
    }

    /// Moves the contact to `level` now; returns the instant it moved.
    pub fn set(&self, level: ContactLevel) -> Instant {
        let at = Instant::now();
        *self.level.lock().unwrap_or_else(PoisonError::into_inner) = level;
        let _ = self.sink.send(TimedInput {
            at,
            input: Input::Contact(level),
        });
        at
    }

    /// Opens (`true`) or closes the tamper line (a supervised contact's, or the
    /// enclosure switch wired beside it).
    pub fn tamper(&self, open: bool) {
        let _ = self.sink.send(TimedInput::now(Input::Tamper(open)));
    }
}

impl DoorSensor for SimDoorSensor {
    fn read(&self) -> Result<ContactLevel, HardwareError> {
        Ok(*self.level.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

/// A simulated request-to-exit button.
#[derive(Debug, Clone)]
pub struct SimExitButton {
    pressed: Arc<Mutex<bool>>,
    sink: InputSink,
}

impl SimExitButton {
    /// A released button reporting to `sink`.
    pub fn new(sink: InputSink) -> Self {
        SimExitButton {
            pressed: Arc::new(Mutex::new(false)),
            sink,
        }
    }

    /// Presses the button now (sending an exit request); returns the instant.
    pub fn press(&self) -> Instant {
        let at = Instant::now();
        *self.pressed.lock().unwrap_or_else(PoisonError::into_inner) = true;
        let _ = self.sink.send(TimedInput {
            at,
            input: Input::ExitRequest,
        });
        at
    }

    /// Lets the button go.
    pub fn release(&self) {
        *self.pressed.lock().unwrap_or_else(PoisonError::into_inner) = false;
    }
}

impl ExitButton for SimExitButton {
    fn is_pressed(&self) -> Result<bool, HardwareError> {
        Ok(*self.pressed.lock().unwrap_or_else(PoisonError::into_inner))
    }
}
