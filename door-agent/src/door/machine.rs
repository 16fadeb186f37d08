//! The pure door state machine: inputs and the time in, relay commands and events out.
//!
//! Semantics (all times are [`MonoTime`]s passed in by the caller):
//! - **Debounce**: a raw contact change counts once it has been stable for the debounce
//!   time; the opening is dated at its raw edge. A change that reverts sooner is ignored.
//! - **Access window**: a grant opens one for `unlock_for`, an exit request for the
//!   door's unlock time. A door opening whose raw edge falls inside a window (or in
//!   unlocked mode) is legitimate; any other opening raises `ForcedOpen`.
//! - **Release**: the relay is released while a grant's (or, if `exit_unlocks`, an exit
//!   request's) release period runs, or while the mode is unlocked. It relocks when the
//!   door closes after opening, when the period ends, or on entering locked mode.
//! - **Not opened**: a grant's window that ends with no opening raises
//!   `NotOpenedAfterGrant`; if an opening edge is still being debounced at that moment
//!   the verdict waits for the debounce. Not raised in unlocked mode (nothing to open).
//! - **Held open**: a legitimate opening still open `held_open` after its edge raises
//!   `HeldOpen` once; closing clears it with `HeldOpenCleared`. Not raised in unlocked
//!   mode; leaving unlocked mode with the door open starts the timer then.
//! - **Locked mode** relocks at once, but a later grant still releases: the decision
//!   engine already refuses everyone but exempt people at a locked door, so a grant that
//!   reaches the door is meant. Exit requests work in every mode (egress stays free).
//! - **Timing changes** ([`Input::SetTiming`], sent when the policy changes a door's
//!   unlock or held-open time) apply from the next grant, exit request or opening: an
//!   access window, release period or held-open timer already running keeps the end it
//!   was given, so a shorter time never relocks a door someone is passing, and a longer
//!   one never stretches an unlock nobody asked for. (A grant's release time comes with
//!   the grant, from the policy the decision was made on.) The debounce, a property of
//!   the contact rather than of the policy, applies at once, clamped as at start.
//! - **Tamper**: the enclosure's tamper switch opening raises `Tamper`, closing
//!   `TamperCleared`, each once per change; the relay is not moved.
//! - The relay moves only on a grant, an exit request (if configured), a mode change, a
//!   close after opening, or the end of a release period.

use std::time::Duration;

use gatehouse_core::model::Door;

use super::{
    ContactLevel, DoorEvent, DoorMode, HardwareConfig, Input, MonoTime, Output, RelayCommand,
    RelayState, TimedOutput,
};

/// Per-door timing and behaviour of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DoorTiming {
    /// How long an exit request opens its window (and releases, if `exit_unlocks`).
    pub unlock: Duration,
    /// How long a legitimately opened door may stand open before `HeldOpen`.
    pub held_open: Duration,
    /// How long a contact change must be stable to count (clamped to
    /// [`super::MAX_DEBOUNCE_MS`], so inputs lasting 400 ms are always processed).
    pub debounce: Duration,
    /// Whether an exit request releases the lock (electric release) or only legitimises
    /// the opening (mechanical handle on the inside).
    pub exit_unlocks: bool,
}

impl Default for DoorTiming {
    fn default() -> Self {
        DoorTiming {
            unlock: Duration::from_secs(5),
            held_open: Duration::from_secs(30),
            debounce: Duration::from_millis(super::config::DEFAULT_DEBOUNCE_MS),
            exit_unlocks: true,
        }
    }
}

impl DoorTiming {
    /// Timing for `door` (unlock and held-open times from the policy) on `hardware`.
    pub fn from_door(door: &Door, hardware: &HardwareConfig) -> Self {
        DoorTiming {
            unlock: Duration::from_millis(u64::from(door.unlock_ms)),
            held_open: Duration::from_millis(u64::from(door.held_open_ms)),
            debounce: hardware.debounce(),
            exit_unlocks: hardware.exit_unlocks(),
        }
    }
}

/// More deadlines than can fall due in one call (each kind fires at most twice).
const MAX_FIRINGS: usize = 16;

/// A period during which an opening is legitimate.
#[derive(Debug, Clone, Copy)]
struct Window {
    from: MonoTime,
    until: MonoTime,
    granted: bool,
    opened: bool,
}

/// The door is open (debounced).
#[derive(Debug, Clone, Copy)]
struct Opening {
    held_at: Option<MonoTime>,
    held_raised: bool,
    forced: bool,
}

/// What falls due next, in the order ties are processed.
#[derive(Debug, Clone, Copy)]
enum Due {
    Commit,
    ReleaseEnd,
    WindowEnd,
    HeldOpen,
}

/// The door state machine. See the module documentation for its semantics.
#[derive(Debug, Clone)]
pub struct DoorMachine {
    timing: DoorTiming,
    mode: DoorMode,
    relay: RelayState,
    stable: ContactLevel,
    raw: ContactLevel,
    raw_since: MonoTime,
    window: Option<Window>,
    release_until: Option<MonoTime>,
    opening: Option<Opening>,
    /// Time up to which everything has been processed; outputs are never dated earlier.
    cursor: MonoTime,
    /// The tamper switch is open.
    tampered: bool,
}

impl DoorMachine {
    /// A machine with the relay engaged and the door assumed closed (feed the contact's
    /// first reading as an input: a door found open with no grant is a forced opening).
    /// In `mode` unlocked, the first call to [`DoorMachine::handle`] releases the relay.
    pub fn new(timing: DoorTiming, mode: DoorMode) -> Self {
        DoorMachine {
            timing: clamped(timing),
            mode,
            relay: RelayState::Engaged,
            stable: ContactLevel::Closed,
            raw: ContactLevel::Closed,
            raw_since: MonoTime::ZERO,
            window: None,
            release_until: None,
            opening: None,
            cursor: MonoTime::ZERO,
            tampered: false,
        }
    }

    /// The relay state last commanded.
    pub fn relay(&self) -> RelayState {
        self.relay
    }

    /// The debounced door contact.
    pub fn contact(&self) -> ContactLevel {
        self.stable
    }

    /// The current mode.
    pub fn mode(&self) -> DoorMode {
        self.mode
    }

    /// The alarm conditions standing now: a forced opening not yet closed, a held-open
    /// alarm not yet cleared, an open tamper switch (in that order).
    pub fn alarms(&self) -> Vec<gatehouse_core::protocol::DoorAlarm> {
        use gatehouse_core::protocol::DoorAlarm;
        let mut alarms = Vec::new();
        if self.opening.is_some_and(|o| o.forced) {
            alarms.push(DoorAlarm::ForcedOpen);
        }
        if self.opening.is_some_and(|o| o.held_raised) {
            alarms.push(DoorAlarm::HeldOpen);
        }
        if self.tampered {
            alarms.push(DoorAlarm::Tamper);
        }
        alarms
    }

    /// The timing in use (debounce clamped).
    pub fn timing(&self) -> DoorTiming {
        self.timing
    }

    /// Replaces the timing (as [`Input::SetTiming`] does). Windows, release periods and
    /// held-open timers already running keep their ends; the next grant, exit request or
    /// opening uses the new times. No output: nothing moves because of a timing change.
    pub fn set_timing(&mut self, timing: DoorTiming) {
        self.timing = clamped(timing);
    }

    /// Feeds one input at `now` (a `now` earlier than a previous one counts as the
    /// previous one) and returns what to do, in order.
    pub fn handle(&mut self, input: Input, now: MonoTime) -> Vec<TimedOutput> {
        let now = now.max(self.cursor);
        let mut out = Vec::new();
        self.advance(now, &mut out);
        self.cursor = now;
        self.apply(input, now, &mut out);
        self.reconcile(now, &mut out);
        // A zero debounce, a zero-length grant or a cancelled edge can fall due at once.
        self.advance(now, &mut out);
        out
    }

    /// When the machine next needs an [`Input::Tick`], if ever.
    pub fn next_deadline(&self) -> Option<MonoTime> {
        self.next_due().map(|(at, _)| at)
    }

    fn next_due(&self) -> Option<(MonoTime, Due)> {
        let pending_open = self.raw == ContactLevel::Open && self.stable == ContactLevel::Closed;
        let commit = (self.raw != self.stable).then(|| {
            (
                self.raw_since.saturating_add(self.timing.debounce),
                Due::Commit,
            )
        });
        let release = self.release_until.map(|at| (at, Due::ReleaseEnd));
        // An opening edge inside the window is judged when its debounce ends.
        let window = self
            .window
            .filter(|w| !(pending_open && self.raw_since < w.until))
            .map(|w| (w.until, Due::WindowEnd));
        let held = self
            .opening
            .filter(|o| !o.held_raised)
            .and_then(|o| o.held_at)
            .map(|at| (at, Due::HeldOpen));
        [commit, release, window, held].into_iter().flatten().fold(
            None,
            |best: Option<(MonoTime, Due)>, c| match best {
                Some(b) if b.0 <= c.0 => Some(b),
                _ => Some(c),
            },
        )
    }

    fn advance(&mut self, now: MonoTime, out: &mut Vec<TimedOutput>) {
        // Each firing removes its own deadline, so at most a handful fire per call; the
        // bound only keeps a future mistake from hanging the door loop.
        for _ in 0..MAX_FIRINGS {
            let Some((at, due)) = self.next_due().filter(|(at, _)| *at <= now) else {
                break;
            };
            let at = at.max(self.cursor);
            self.cursor = at;
            self.fire(due, at, out);
            self.reconcile(at, out);
        }
    }

    fn fire(&mut self, due: Due, at: MonoTime, out: &mut Vec<TimedOutput>) {
        match due {
            Due::Commit => self.commit(at, out),
            Due::ReleaseEnd => self.release_until = None,
            Due::WindowEnd => {
                if let Some(w) = self.window.take()
                    && w.granted
                    && !w.opened
                    && self.stable == ContactLevel::Closed
                    && self.mode != DoorMode::Unlocked
                {
                    emit(out, at, Output::Event(DoorEvent::NotOpenedAfterGrant));
                }
            }
            Due::HeldOpen => {
                if let Some(o) = self.opening.as_mut() {
                    o.held_raised = true;
                    emit(out, at, Output::Event(DoorEvent::HeldOpen));
                }
            }
        }
    }

    fn commit(&mut self, at: MonoTime, out: &mut Vec<TimedOutput>) {
        let edge = self.raw_since;
        self.stable = self.raw;
        match self.stable {
            ContactLevel::Open => {
                emit(out, at, Output::Event(DoorEvent::DoorOpened));
                let in_window = self
                    .window
                    .is_some_and(|w| w.from <= edge && edge < w.until);
                if let Some(w) = self.window.as_mut() {
                    w.opened = true;
                }
                let unlocked = self.mode == DoorMode::Unlocked;
                let forced = !(in_window || unlocked);
                if forced {
                    emit(out, at, Output::Event(DoorEvent::ForcedOpen));
                }
                let held_at = (!forced && !unlocked)
                    .then(|| edge.saturating_add(self.timing.held_open).max(at));
                self.opening = Some(Opening {
                    held_at,
                    held_raised: false,
                    forced,
                });
            }
            ContactLevel::Closed => {
                emit(out, at, Output::Event(DoorEvent::DoorClosed));
                if self.opening.take().is_some_and(|o| o.held_raised) {
                    emit(out, at, Output::Event(DoorEvent::HeldOpenCleared));
                }
                // Relock on close: the passage this window allowed is over.
                self.window = None;
                self.release_until = None;
            }
        }
    }

    fn apply(&mut self, input: Input, now: MonoTime, out: &mut Vec<TimedOutput>) {
        match input {
            Input::Grant { unlock_for } => {
                let until = now.saturating_add(unlock_for);
                self.open_window(now, until, true);
                self.extend_release(now, until);
            }
            Input::ExitRequest => {
                emit(out, now, Output::Event(DoorEvent::ExitRequested));
                let until = now.saturating_add(self.timing.unlock);
                self.open_window(now, until, false);
                if self.timing.exit_unlocks {
                    self.extend_release(now, until);
                }
            }
            Input::Contact(level) => {
                if level != self.raw {
                    self.raw = level;
                    self.raw_since = now;
                }
            }
            Input::SetMode(mode) => self.set_mode(mode, now),
            Input::SetTiming(timing) => self.set_timing(timing),
            Input::Tamper(open) if open != self.tampered => {
                self.tampered = open;
                let event = if open {
                    DoorEvent::Tamper
                } else {
                    DoorEvent::TamperCleared
                };
                emit(out, now, Output::Event(event));
            }
            Input::Tamper(_) | Input::Tick => {}
        }
    }

    fn open_window(&mut self, from: MonoTime, until: MonoTime, granted: bool) {
        let opened = self.stable == ContactLevel::Open;
        match self.window.as_mut() {
            Some(w) => {
                w.until = w.until.max(until);
                w.granted |= granted;
                w.opened |= opened;
            }
            None => {
                self.window = Some(Window {
                    from,
                    until,
                    granted,
                    opened,
                });
            }
        }
    }

    fn extend_release(&mut self, now: MonoTime, until: MonoTime) {
        if until > now {
            self.release_until = Some(self.release_until.map_or(until, |u| u.max(until)));
        }
    }

    fn set_mode(&mut self, mode: DoorMode, now: MonoTime) {
        let previous = self.mode;
        self.mode = mode;
        if mode == DoorMode::Locked {
            self.release_until = None;
        }
        let held_open = self.timing.held_open;
        if let Some(o) = self
            .opening
            .as_mut()
            .filter(|o| !o.forced && !o.held_raised)
        {
            if mode == DoorMode::Unlocked {
                o.held_at = None;
            } else if previous == DoorMode::Unlocked && o.held_at.is_none() {
                o.held_at = Some(now.saturating_add(held_open));
            }
        }
    }

    /// Moves the relay to where the state says it should be, if it is not there yet.
    fn reconcile(&mut self, at: MonoTime, out: &mut Vec<TimedOutput>) {
        let released =
            self.mode == DoorMode::Unlocked || self.release_until.is_some_and(|u| u > at);
        let wanted = if released {
            RelayState::Released
        } else {
            RelayState::Engaged
        };
        if wanted != self.relay {
            self.relay = wanted;
            let command = match wanted {
                RelayState::Released => RelayCommand::Unlock,
                RelayState::Engaged => RelayCommand::Lock,
            };
            emit(out, at, Output::Relay(command));
        }
    }
}

/// `timing` with its debounce clamped, so inputs lasting 400 ms are always processed.
fn clamped(mut timing: DoorTiming) -> DoorTiming {
    timing.debounce = timing
        .debounce
        .min(Duration::from_millis(super::MAX_DEBOUNCE_MS));
    timing
}

fn emit(out: &mut Vec<TimedOutput>, at: MonoTime, output: Output) {
    out.push(TimedOutput { at, output });
}
