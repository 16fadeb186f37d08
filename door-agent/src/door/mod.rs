//! The door: a pure state machine that turns grants, exit requests and door-contact
//! changes into relay commands and door events, the small hardware traits it drives
//! (`Lock`, `DoorSensor`, `ExitButton`), a simulated implementation for tests and demos,
//! and a Raspberry Pi implementation behind the `gpio` feature.
//!
//! The machine ([`DoorMachine`]) does no I/O and reads no clock: every input comes with a
//! [`MonoTime`] (monotonic time since the agent started), and [`DoorMachine::next_deadline`]
//! tells the caller when to feed it an [`Input::Tick`]. [`DoorDriver`] is that loop for a
//! dedicated thread: it waits on a channel of [`TimedInput`]s, feeds the machine and moves
//! the [`Lock`].

use std::time::Duration;

mod config;
mod driver;
#[cfg(feature = "gpio")]
mod gpio;
mod hardware;
mod machine;
mod sim;
#[cfg(test)]
mod tests;

pub use config::{
    ConfigError, FailMode, GpioConfig, HardwareConfig, MAX_DEBOUNCE_MS, Pull, SimulatedConfig,
};
pub use driver::{DoorDriver, Step};
#[cfg(feature = "gpio")]
pub use gpio::{GpioDoorSensor, GpioExitButton, GpioHardware, GpioLock};
pub use hardware::{DoorSensor, ExitButton, HardwareError, InputSink, Lock, TimedInput};
pub use machine::{DoorMachine, DoorTiming};
pub use sim::{SimDoorSensor, SimExitButton, SimLock};

/// The door's operating mode (normal, locked, unlocked on schedule), shared with the policy.
pub use gatehouse_core::model::DoorMode;

/// Monotonic time since the agent started. The machine never reads a clock; callers pass
/// this in, so tests control time exactly.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MonoTime(Duration);

impl MonoTime {
    /// The agent's start.
    pub const ZERO: MonoTime = MonoTime(Duration::ZERO);

    /// `ms` milliseconds after the start.
    pub const fn from_millis(ms: u64) -> Self {
        MonoTime(Duration::from_millis(ms))
    }

    /// `elapsed` after the start.
    pub const fn from_duration(elapsed: Duration) -> Self {
        MonoTime(elapsed)
    }

    /// The time of `at` on a clock that started at `epoch` (zero if `at` is earlier).
    pub fn since(epoch: std::time::Instant, at: std::time::Instant) -> Self {
        MonoTime(at.saturating_duration_since(epoch))
    }

    /// Time elapsed since the start.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// Whole milliseconds since the start (saturating).
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }

    /// `self + d`, saturating instead of overflowing.
    pub fn saturating_add(self, d: Duration) -> Self {
        MonoTime(self.0.saturating_add(d))
    }

    /// `self - earlier`, or zero if `earlier` is later.
    pub fn saturating_sub(self, earlier: MonoTime) -> Duration {
        self.0.saturating_sub(earlier.0)
    }
}

/// The debounced or raw level of the door contact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContactLevel {
    /// The door stands open.
    Open,
    /// The door is shut.
    Closed,
}

/// What the lock relay is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelayState {
    /// The lock holds the door: the idle state.
    Engaged,
    /// The lock lets the door open.
    Released,
}

/// An input to the door machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// The decision engine granted a passage: release the lock for `unlock_for`.
    Grant {
        /// How long the lock stays released unless the door opens and closes first.
        unlock_for: Duration,
    },
    /// The request-to-exit button was pressed (already debounced by the hardware layer).
    ExitRequest,
    /// The raw door-contact level changed (or was read); the machine debounces it.
    Contact(ContactLevel),
    /// The door's mode changed (schedule, operator or policy).
    SetMode(DoorMode),
    /// The door's timing changed (policy): applies from the next grant, exit request or
    /// opening (see [`DoorMachine::set_timing`]).
    SetTiming(DoorTiming),
    /// The tamper switch of the reader or controller enclosure: `true` when opened.
    /// Only a change is reported; it never moves the relay.
    Tamper(bool),
    /// Nothing happened; time passed. Feed one at [`DoorMachine::next_deadline`].
    Tick,
}

/// A command to the lock relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RelayCommand {
    /// Release the lock.
    Unlock,
    /// Engage the lock.
    Lock,
}

impl RelayCommand {
    /// The relay state this command leads to.
    pub fn state(self) -> RelayState {
        match self {
            RelayCommand::Unlock => RelayState::Released,
            RelayCommand::Lock => RelayState::Engaged,
        }
    }
}

/// Something that happened at the door, to be journalled and reported; converts into
/// the journal's [`gatehouse_core::event::EventKind`]. `DoorOpened` is emitted for every
/// opening, a forced one being followed by `ForcedOpen`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DoorEvent {
    /// The door contact opened (debounced).
    DoorOpened,
    /// The door contact closed (debounced).
    DoorClosed,
    /// The door opened with no grant, exit request or unlocked mode in force (alarm).
    ForcedOpen,
    /// A legitimately opened door stood open for the held-open time (alarm, raised once).
    HeldOpen,
    /// A door in the held-open alarm closed.
    HeldOpenCleared,
    /// A grant's unlock period ended and the door never opened (IEC 60839-11-1 alarm).
    NotOpenedAfterGrant,
    /// The request-to-exit button was pressed.
    ExitRequested,
    /// The tamper switch opened (alarm).
    Tamper,
    /// The tamper switch closed again.
    TamperCleared,
}

impl From<DoorEvent> for gatehouse_core::event::EventKind {
    /// The journal's record of a door event (the same names, one for one).
    fn from(event: DoorEvent) -> Self {
        use gatehouse_core::event::EventKind as K;
        match event {
            DoorEvent::DoorOpened => K::DoorOpened,
            DoorEvent::DoorClosed => K::DoorClosed,
            DoorEvent::ForcedOpen => K::ForcedOpen,
            DoorEvent::HeldOpen => K::HeldOpen,
            DoorEvent::HeldOpenCleared => K::HeldOpenCleared,
            DoorEvent::NotOpenedAfterGrant => K::NotOpenedAfterGrant,
            DoorEvent::ExitRequested => K::ExitRequested,
            DoorEvent::Tamper => K::Tamper,
            DoorEvent::TamperCleared => K::TamperCleared,
        }
    }
}

/// One output of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Output {
    /// Move the lock relay.
    Relay(RelayCommand),
    /// Record and report an event.
    Event(DoorEvent),
}

/// An output with the time at which it logically happened (a held-open alarm raised by a
/// late tick carries its deadline, not the tick's time).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimedOutput {
    /// When it happened.
    pub at: MonoTime,
    /// What happened.
    pub output: Output,
}
