//! Card readers: where badges come from.
//!
//! A [`CardReader`] runs on a dedicated thread (PC/SC calls and standard input block) and
//! sends [`ReaderEvent`]s on a tokio channel, so the async agent simply `recv()`s them.
//! Several physical readers may share one `CardReader`; each event names its reader, and
//! the agent maps that name to a door and direction with [`ReaderMap`].
//!
//! - [`simulated`]: lines `<reader-name> <hex-card>` from any `BufRead` (stdin in the agent),
//!   and `<reader-name> <hex-card> pin <digits>` for card + PIN.
//! - `pcsc` (cargo feature `pcsc`): real readers through pcsc-lite.
//! - [`keypad`]: PIN keypads beside the readers (USB keypads through evdev); their key
//!   presses come in as [`ReaderEvent::Key`] of their reader.

pub mod keypad;
#[cfg(feature = "pcsc")]
pub mod pcsc;
pub mod simulated;

use gatehouse_core::decide::{Authentication, Direction};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::io;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Sender;
use uuid::Uuid;

/// A card presented at a reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardEvent {
    /// The reader's name (for PC/SC, as pcsc-lite names it, e.g. `Virtual PCD 00 00`).
    pub reader: String,
    /// The card identifier, normalised by [`gatehouse_core::model::normalize_card`].
    pub card: String,
    /// When the card was detected (before its UID was read).
    pub at: Instant,
    /// How long the UID exchange with the card took (zero for simulated cards).
    pub exchange: Duration,
    /// What the read proved beyond the identifier: `not_attempted` for every UID read
    /// (the simulated reader, PC/SC's GET UID).
    pub authentication: Authentication,
}

/// Why a presentation or a reader failed; reported as an event, never a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReadErrorKind {
    /// The card did not answer within the exchange deadline (a relayed, slow or silent
    /// card); it is not treated as a card.
    Timeout {
        /// The deadline that passed.
        deadline: Duration,
    },
    /// The card answered, but not `<uid> 90 00`.
    BadAnswer {
        /// The answer, hex.
        answer: String,
    },
    /// The card is present but does not respond (no ATR).
    Mute,
    /// A PC/SC call failed.
    Pcsc {
        /// The PC/SC error.
        message: String,
    },
    /// A simulated-reader input line that does not parse.
    BadInput {
        /// 1-based line number.
        line: u64,
        /// What is wrong with it.
        message: String,
    },
    /// A PIN keypad's device is missing or failed (it is opened again until it is back).
    Keypad {
        /// What happened.
        message: String,
    },
}

impl fmt::Display for ReadErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Timeout { deadline } => write!(f, "card did not answer within {deadline:?}"),
            Self::BadAnswer { answer } => write!(f, "unexpected card answer {answer:?}"),
            Self::Mute => f.write_str("card is mute (no ATR)"),
            Self::Pcsc { message } => write!(f, "PC/SC: {message}"),
            Self::BadInput { line, message } => write!(f, "input line {line}: {message}"),
            Self::Keypad { message } => f.write_str(message),
        }
    }
}

/// What a reader reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReaderEvent {
    /// A card was read.
    Card(CardEvent),
    /// The card left the reader.
    Removed {
        /// The reader's name.
        reader: String,
        /// When the removal was seen.
        at: Instant,
    },
    /// A presentation failed (too slow, silent, garbled) or the input was bad.
    ReadFailed {
        /// The reader's name (empty when unknown, e.g. an unparsable input line).
        reader: String,
        /// What went wrong.
        kind: ReadErrorKind,
        /// When.
        at: Instant,
    },
    /// A reader appeared (at start-up, plugged in, or pcscd came back).
    Attached {
        /// The reader's name.
        reader: String,
    },
    /// A reader disappeared (unplugged, or pcscd went away).
    Detached {
        /// The reader's name.
        reader: String,
    },
    /// A key pressed on the PIN keypad of a reader (`Debug` shows no digit).
    Key {
        /// The reader the keypad belongs to.
        reader: String,
        /// The key.
        key: keypad::Key,
    },
}

/// A source of card events.
pub trait CardReader: Send + 'static {
    /// Starts reading on a dedicated thread. Events go to `events` until the returned
    /// handle is stopped or dropped, or the receiver is dropped.
    fn spawn(self: Box<Self>, events: Sender<ReaderEvent>) -> io::Result<ReaderHandle>;
}

/// Stops a reader's thread when dropped.
pub struct ReaderHandle {
    thread: Option<JoinHandle<()>>,
    stop: Arc<dyn Fn() + Send + Sync>,
    joinable: bool,
}

impl ReaderHandle {
    /// A handle on `thread`; `stop` asks it to end. `joinable` says whether the thread
    /// ends promptly once asked (a thread blocked reading stdin does not).
    pub(crate) fn new(
        thread: JoinHandle<()>,
        stop: Arc<dyn Fn() + Send + Sync>,
        joinable: bool,
    ) -> Self {
        Self {
            thread: Some(thread),
            stop,
            joinable,
        }
    }

    /// Whether the reader thread is still running.
    pub fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Stops the reader and, when it can be interrupted, waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        (self.stop)();
        if let Some(t) = self.thread.take()
            && (self.joinable || t.is_finished())
        {
            let _ = t.join();
        }
    }
}

impl Drop for ReaderHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for ReaderHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReaderHandle")
            .field("running", &self.is_running())
            .finish()
    }
}

/// One reader of the agent, in its configuration: which door and side it serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReaderConfig {
    /// The reader's name as the reader reports it (PC/SC: e.g. `Virtual PCD 00 00`).
    pub name: String,
    /// The door it opens.
    pub door_id: Uuid,
    /// Which side of the door it is on.
    #[serde(default)]
    pub direction: Direction,
}

/// Looks up the door and direction of a reader by name.
#[derive(Debug, Clone, Default)]
pub struct ReaderMap {
    readers: Vec<ReaderConfig>,
}

impl ReaderMap {
    /// Builds the map; fails on a reader name configured twice.
    pub fn new(readers: Vec<ReaderConfig>) -> Result<Self, String> {
        for (i, r) in readers.iter().enumerate() {
            if readers.iter().take(i).any(|o| o.name == r.name) {
                return Err(format!("reader {:?} is configured twice", r.name));
            }
        }
        Ok(Self { readers })
    }

    /// The configuration of the reader called `name`, if any.
    pub fn get(&self, name: &str) -> Option<&ReaderConfig> {
        self.readers.iter().find(|r| r.name == name)
    }

    /// The configured readers' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.readers.iter().map(|r| r.name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_map_finds_by_name_and_refuses_duplicates() {
        let door = Uuid::new_v4();
        let r = |name: &str, direction| ReaderConfig {
            name: name.into(),
            door_id: door,
            direction,
        };
        let map = ReaderMap::new(vec![
            r("Virtual PCD 00 00", Direction::Entry),
            r("Virtual PCD 00 01", Direction::Exit),
        ])
        .unwrap();
        assert_eq!(
            map.get("Virtual PCD 00 01").unwrap().direction,
            Direction::Exit
        );
        assert!(map.get("Virtual PCD 00 02").is_none());
        assert_eq!(map.names().count(), 2);
        assert!(ReaderMap::new(vec![r("a", Direction::Entry), r("a", Direction::Exit)]).is_err());
        // The normalised card form the readers produce: upper case, no separators.
        assert_eq!(hex::encode_upper([0x04, 0xab]), "04AB");
    }
}
