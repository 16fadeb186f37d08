//! Cards waiting for their PIN: at most one per reader, each with the digits typed so far
//! and a deadline. Pure (the caller passes the time), so the decide loop stays one task
//! and other doors are decided while a card waits.
//!
//! Keys typed while no card waits at their reader are dropped: a PIN belongs to the card
//! presented before it, never to the next one. Enter with no digits is ignored (a stray
//! press); digits beyond [`MAX_PIN_DIGITS`] + 1 are dropped, which keeps an over-long
//! entry wrong.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use super::{Key, MAX_PIN_DIGITS, Pin};
use crate::reader::CardEvent;

/// Where a PIN can come from and how long a card waits for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinEntryConfig {
    /// How long a card waits for its PIN.
    pub timeout: Duration,
    /// The readers with a keypad; `None`: every reader (the simulated keypad).
    pub keypads: Option<BTreeSet<String>>,
}

/// The digits typed so far; overwritten when cleared or dropped.
struct Digits {
    buf: [u8; MAX_PIN_DIGITS + 1],
    len: usize,
}

impl Digits {
    const fn new() -> Self {
        Digits {
            buf: [0; MAX_PIN_DIGITS + 1],
            len: 0,
        }
    }

    fn push(&mut self, digit: u8) {
        if let Some(slot) = self.buf.get_mut(self.len) {
            *slot = b'0' + digit % 10;
            self.len += 1;
        }
    }

    fn clear(&mut self) {
        self.buf = [0; MAX_PIN_DIGITS + 1];
        self.len = 0;
    }

    fn take(&mut self) -> Option<Pin> {
        let digits = self.buf.get(..self.len)?;
        let pin = Pin::new(String::from_utf8_lossy(digits).into_owned());
        self.clear();
        pin
    }
}

impl Drop for Digits {
    fn drop(&mut self) {
        self.clear();
    }
}

struct Waiting {
    card: CardEvent,
    digits: Digits,
    deadline: Instant,
}

/// The cards waiting for a PIN.
pub struct PinEntries {
    config: PinEntryConfig,
    waiting: BTreeMap<String, Waiting>,
}

impl PinEntries {
    /// None waiting.
    pub fn new(config: PinEntryConfig) -> Self {
        PinEntries {
            config,
            waiting: BTreeMap::new(),
        }
    }

    /// Whether a PIN can be typed at `reader`: if not, a card needing one is refused at
    /// once instead of waiting for nothing.
    pub fn has_keypad(&self, reader: &str) -> bool {
        self.config
            .keypads
            .as_ref()
            .is_none_or(|readers| readers.contains(reader))
    }

    /// Holds `card` until its PIN or its deadline. Returns the card that was waiting at
    /// the same reader, if any: a new card ends its wait, without a PIN.
    pub fn wait(&mut self, card: CardEvent, now: Instant) -> Option<CardEvent> {
        let waiting = Waiting {
            deadline: now + self.config.timeout,
            card,
            digits: Digits::new(),
        };
        let reader = waiting.card.reader.clone();
        self.waiting.insert(reader, waiting).map(|w| w.card)
    }

    /// A key at `reader`: the waiting card and its PIN when Enter completes one.
    pub fn key(&mut self, reader: &str, key: Key, now: Instant) -> Option<(CardEvent, Pin)> {
        let waiting = self.waiting.get_mut(reader)?;
        if now >= waiting.deadline {
            return None; // too late: `expired` refuses the card
        }
        match key {
            Key::Digit(d) => waiting.digits.push(d),
            Key::Clear => waiting.digits.clear(),
            Key::Enter => {
                let pin = waiting.digits.take()?;
                let done = self.waiting.remove(reader)?;
                return Some((done.card, pin));
            }
        }
        None
    }

    /// The cards whose time is up at `now`, no longer waiting.
    pub fn expired(&mut self, now: Instant) -> Vec<CardEvent> {
        let (up, waiting): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|(_, w)| w.deadline <= now);
        self.waiting = waiting;
        up.into_values().map(|w| w.card).collect()
    }

    /// The earliest deadline of a waiting card.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiting.values().map(|w| w.deadline).min()
    }

    /// Every waiting card, no longer waiting (the agent is stopping).
    pub fn drain(&mut self) -> Vec<CardEvent> {
        std::mem::take(&mut self.waiting)
            .into_values()
            .map(|w| w.card)
            .collect()
    }
}
