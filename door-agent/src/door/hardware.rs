//! The hardware the door machine drives and listens to, behind small traits: the lock
//! relay, the door contact and the request-to-exit button. Inputs reach the machine as
//! [`TimedInput`]s on a channel, stamped when the hardware saw them.

use std::sync::mpsc::Sender;
use std::time::Instant;

use super::{ContactLevel, Input, RelayState};

/// Where hardware (and the decision engine) send the door's inputs.
pub type InputSink = Sender<TimedInput>;

/// An input to the door machine with the moment it was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedInput {
    /// When the input happened (e.g. the interrupt's time), on the monotonic clock.
    pub at: Instant,
    /// The input.
    pub input: Input,
}

impl TimedInput {
    /// `input`, observed now.
    pub fn now(input: Input) -> Self {
        TimedInput {
            at: Instant::now(),
            input,
        }
    }
}

/// A hardware failure, reported instead of panicking.
#[derive(Debug, thiserror::Error)]
pub enum HardwareError {
    /// The GPIO peripheral could not be opened (e.g. not running on a Raspberry Pi).
    #[error(
        "cannot open GPIO ({0}); the `gpio` hardware only works on a Raspberry Pi, use `kind = \"simulated\"` elsewhere"
    )]
    GpioUnavailable(String),
    /// A pin could not be claimed or configured.
    #[error("GPIO pin {pin} ({role}): {message}")]
    Pin {
        /// BCM pin number.
        pin: u8,
        /// What the pin is for (relay, door contact, exit button).
        role: &'static str,
        /// What went wrong.
        message: String,
    },
    /// Every sender of door inputs is gone; the door loop has nothing left to wait for.
    #[error("the door's input channel closed")]
    InputsClosed,
}

/// The lock relay. Implementations engage the lock (the idle level) when constructed,
/// before anything else happens.
pub trait Lock: Send {
    /// Moves the relay.
    fn set(&mut self, state: RelayState) -> Result<(), HardwareError>;
    /// The state last set.
    fn state(&self) -> RelayState;
}

/// The door contact. Changes are also delivered as [`Input::Contact`] to the
/// [`InputSink`] given at construction.
pub trait DoorSensor: Send {
    /// Reads the contact's current raw level.
    fn read(&self) -> Result<ContactLevel, HardwareError>;
}

/// The request-to-exit button. Presses are also delivered (debounced) as
/// [`Input::ExitRequest`] to the [`InputSink`] given at construction.
pub trait ExitButton: Send {
    /// Whether the button is held down now.
    fn is_pressed(&self) -> Result<bool, HardwareError>;
}

impl<L: Lock + ?Sized> Lock for Box<L> {
    fn set(&mut self, state: RelayState) -> Result<(), HardwareError> {
        (**self).set(state)
    }

    fn state(&self) -> RelayState {
        (**self).state()
    }
}
