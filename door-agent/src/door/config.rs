//! The `[hardware]` section of the agent's configuration: which lock, door contact and
//! exit button the door uses, on which pins, at which levels.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Default contact debounce: far below the 400 ms within which IEC 60839-11-1 wants an
/// input processed, far above a reed switch's bounce.
pub const DEFAULT_DEBOUNCE_MS: u64 = 50;

/// The longest debounce accepted: an input lasting 400 ms is then always processed.
pub const MAX_DEBOUNCE_MS: u64 = 200;

/// The door's hardware, chosen by `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HardwareConfig {
    /// No hardware: a simulated relay, contact and button (demos and tests).
    Simulated(SimulatedConfig),
    /// A Raspberry Pi's GPIO pins (needs the `gpio` cargo feature).
    Gpio(GpioConfig),
}

impl Default for HardwareConfig {
    fn default() -> Self {
        HardwareConfig::Simulated(SimulatedConfig::default())
    }
}

impl HardwareConfig {
    /// The contact debounce time.
    pub fn debounce(&self) -> Duration {
        Duration::from_millis(match self {
            HardwareConfig::Simulated(c) => c.debounce_ms,
            HardwareConfig::Gpio(c) => c.debounce_ms,
        })
    }

    /// Whether the exit button releases the lock.
    pub fn exit_unlocks(&self) -> bool {
        match self {
            HardwareConfig::Simulated(c) => c.exit_unlocks,
            HardwareConfig::Gpio(c) => c.exit_unlocks,
        }
    }

    /// Checks what serde cannot: debounce bound, distinct pins.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let debounce_ms = self.debounce().as_millis();
        if debounce_ms > u128::from(MAX_DEBOUNCE_MS) {
            return Err(ConfigError::DebounceTooLong(debounce_ms));
        }
        if let HardwareConfig::Gpio(c) = self {
            let mut pins = vec![c.relay_pin, c.contact_pin];
            pins.extend(c.exit_button_pin);
            pins.extend(c.tamper_pin);
            for (i, pin) in pins.iter().enumerate() {
                if pins.iter().take(i).any(|p| p == pin) {
                    return Err(ConfigError::PinReused(*pin));
                }
            }
        }
        Ok(())
    }
}

/// A `[hardware]` section that cannot work.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The debounce would swallow inputs that must be processed.
    #[error(
        "hardware.debounce_ms = {0} is too long: at most {MAX_DEBOUNCE_MS} ms, so inputs lasting 400 ms are always processed"
    )]
    DebounceTooLong(u128),
    /// One pin given two jobs.
    #[error("GPIO pin {0} is used twice in [hardware]")]
    PinReused(u8),
}

/// `kind = "simulated"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatedConfig {
    /// Contact debounce in milliseconds (default 50, at most 200).
    #[serde(default = "default_debounce_ms")]
    pub debounce_ms: u64,
    /// Whether the exit button releases the lock (default true).
    #[serde(default = "yes")]
    pub exit_unlocks: bool,
}

impl Default for SimulatedConfig {
    fn default() -> Self {
        SimulatedConfig {
            debounce_ms: DEFAULT_DEBOUNCE_MS,
            exit_unlocks: true,
        }
    }
}

/// `kind = "gpio"`: pins are BCM GPIO numbers, not header positions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GpioConfig {
    /// The pin driving the lock relay.
    pub relay_pin: u8,
    /// Whether a high level energises the relay (true) or a low one (false: many relay
    /// boards are active-low). Required: guessing wrong inverts the lock.
    pub relay_active_high: bool,
    /// What the lock does without power, which decides the relay level that locks.
    /// Required for the same reason.
    pub fail_mode: FailMode,
    /// The door-contact input pin.
    pub contact_pin: u8,
    /// The contact pin's bias (default "up": a switch to ground).
    #[serde(default = "pull_up")]
    pub contact_pull: Pull,
    /// Whether a high level means the door is open (default true: a reed switch to
    /// ground is closed, pulling low, while the door is shut).
    #[serde(default = "yes")]
    pub contact_open_high: bool,
    /// The request-to-exit button's input pin, if the door has one.
    #[serde(default)]
    pub exit_button_pin: Option<u8>,
    /// The exit button pin's bias (default "up").
    #[serde(default = "pull_up")]
    pub exit_button_pull: Pull,
    /// Whether a high level means the exit button is pressed (default false: a button
    /// to ground with a pull-up reads low when pressed).
    #[serde(default)]
    pub exit_pressed_high: bool,
    /// The tamper switch's input pin (reader or controller enclosure), if wired.
    #[serde(default)]
    pub tamper_pin: Option<u8>,
    /// The tamper pin's bias (default "up").
    #[serde(default = "pull_up")]
    pub tamper_pull: Pull,
    /// Whether a high level means the enclosure is open (default true: a switch to
    /// ground held closed by the lid reads low while it is shut).
    #[serde(default = "yes")]
    pub tamper_open_high: bool,
    /// Contact, exit-button and tamper debounce in milliseconds (default 50, at most 200).
    #[serde(default = "default_debounce_ms")]
    pub debounce_ms: u64,
    /// Whether the exit button releases the lock (default true); false for doors with a
    /// mechanical handle on the inside, where the button only prevents a forced-open
    /// alarm.
    #[serde(default = "yes")]
    pub exit_unlocks: bool,
}

impl GpioConfig {
    /// Whether the relay pin is high when the lock is engaged.
    pub fn locked_level_high(&self) -> bool {
        // The relay energised powers the lock. A fail-secure lock (electric strike) is
        // locked unpowered, so locking de-energises the relay; a fail-safe lock
        // (maglock) is locked powered.
        let energised = match self.fail_mode {
            FailMode::FailSecure => false,
            FailMode::FailSafe => true,
        };
        energised == self.relay_active_high
    }
}

/// What the lock does when it loses power.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailMode {
    /// Stays locked without power (electric strike): the relay energises to release.
    FailSecure,
    /// Opens without power (maglock; fire-escape routes): the relay energises to lock.
    FailSafe,
}

/// An input pin's bias resistor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pull {
    /// Internal pull-up.
    Up,
    /// Internal pull-down.
    Down,
    /// No internal bias (an external resistor does it).
    None,
}

fn default_debounce_ms() -> u64 {
    DEFAULT_DEBOUNCE_MS
}

fn yes() -> bool {
    true
}

fn pull_up() -> Pull {
    Pull::Up
}
