//! PIN keypads: card + PIN at a door.
//!
//! A door whose zone needs a PIN (the engine refuses the card alone with
//! `pin_required`) takes the PIN from its reader's keypad: the agent holds the card for
//! `keypad.pin_timeout_s` while digits and Enter come in ([`entry`]), then decides again
//! with the PIN, so the engine's PIN, duress and lock-out rules apply as they are. With
//! no PIN in time the card is refused `pin_required`, recorded like any refusal.
//!
//! Where keys come from:
//! - [`device`]: a USB keypad through Linux evdev (`/dev/input/by-id/...-event-kbd`),
//!   one per `[[keypad.devices]]`, decoded by [`evdev`];
//! - the simulated reader's `<reader> <card> pin <digits>` line: the card, then its
//!   digits and Enter as key events, through the same path as a keypad.
//!
//! A PIN is never logged, journalled or shown by `Debug`: [`Key`] and [`Pin`] print no
//! digit.

pub mod device;
pub mod entry;
pub mod evdev;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

/// The most digits a PIN has (the engine accepts 4 to 12).
pub const MAX_PIN_DIGITS: usize = 12;

/// A key pressed on a keypad.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// 0 to 9.
    Digit(u8),
    /// Enter: the PIN is complete.
    Enter,
    /// Backspace or Escape: start the PIN again.
    Clear,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A digit is part of a PIN: never shown.
        match self {
            Key::Digit(_) => f.write_str("Digit(*)"),
            Key::Enter => f.write_str("Enter"),
            Key::Clear => f.write_str("Clear"),
        }
    }
}

/// A PIN as typed (digits only). `Debug` does not show it.
#[derive(Clone)]
pub struct Pin(SecretString);

impl Pin {
    /// The digits, for the engine only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }

    /// A PIN of `digits`, or `None` when they are not 1 to [`MAX_PIN_DIGITS`] + 1 ASCII
    /// digits (one more than a PIN has, so that an over-long entry stays wrong).
    pub fn new(digits: String) -> Option<Pin> {
        let ok = (1..=MAX_PIN_DIGITS + 1).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit());
        ok.then(|| Pin(SecretString::from(digits)))
    }
}

impl fmt::Debug for Pin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Pin(..)")
    }
}

/// `[keypad]`: PIN entry at the doors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeypadConfig {
    /// Seconds a card waits for its PIN (1 to 60).
    pub pin_timeout_s: u64,
    /// `[[keypad.devices]]`: each USB keypad and the reader it belongs to.
    pub devices: Vec<KeypadDevice>,
}

impl Default for KeypadConfig {
    fn default() -> Self {
        KeypadConfig {
            pin_timeout_s: 10,
            devices: Vec::new(),
        }
    }
}

/// One evdev keypad.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeypadDevice {
    /// The `[[readers]]` name of the reader beside it.
    pub reader: String,
    /// Its event device; `/dev/input/by-id/...-event-kbd` survives re-plugging.
    pub path: PathBuf,
}

impl KeypadConfig {
    /// How long a card waits for its PIN.
    pub fn pin_timeout(&self) -> Duration {
        Duration::from_secs(self.pin_timeout_s)
    }

    /// Checks the timeout and that each device names a configured reader, once.
    pub fn validate<'a>(&self, readers: impl Iterator<Item = &'a str>) -> Result<(), String> {
        if !(1..=60).contains(&self.pin_timeout_s) {
            return Err("keypad.pin_timeout_s: must be between 1 and 60".into());
        }
        let readers: BTreeSet<&str> = readers.collect();
        let mut seen = BTreeSet::new();
        for device in &self.devices {
            if !readers.contains(device.reader.as_str()) {
                return Err(format!(
                    "keypad.devices.reader {:?}: no such reader in [[readers]]",
                    device.reader
                ));
            }
            if !seen.insert(device.reader.as_str()) {
                return Err(format!(
                    "keypad.devices.reader {:?}: has two keypads",
                    device.reader
                ));
            }
        }
        Ok(())
    }
}
