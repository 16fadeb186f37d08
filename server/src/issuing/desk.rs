//! The issuing station's desk reader (cargo feature `pcsc`): a PC/SC reader attached to
//! the server machine, where an operator lays the card to issue, re-key or wipe.
//!
//! Blocking (pcsc-lite calls block): callers run it on a blocking thread. Waiting for a
//! card sleeps in `SCardGetStatusChange` until pcscd reports one, no polling.

use std::ffi::CString;
use std::time::{Duration, Instant};

use pcsc::{Card, Context, Protocols, ReaderState, Scope, ShareMode, State};

use super::Station;

/// The GET DATA pseudo-APDU: the UID the card shows.
const GET_UID: [u8; 5] = [0xFF, 0xCA, 0x00, 0x00, 0x00];

/// Why the desk reader could not deliver a card.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeskError {
    /// pcscd is not running, or refused us.
    #[error("cannot reach pcscd: {0}")]
    Pcscd(String),
    /// No reader, or not the one named.
    #[error("{0}")]
    NoReader(String),
    /// No card came within the wait.
    #[error("no card was laid on the reader within {0:?}")]
    NoCard(Duration),
    /// The card did not give its UID.
    #[error("the card did not answer GET UID: {0}")]
    BadCard(String),
}

/// A desk reader, opened.
pub struct Desk {
    ctx: Context,
    reader: CString,
}

impl std::fmt::Debug for Desk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Desk")
            .field("reader", &self.reader)
            .finish()
    }
}

impl Desk {
    /// Opens the reader named `name`, or the only reader pcscd knows when `None`.
    pub fn open(name: Option<&str>) -> Result<Desk, DeskError> {
        let ctx = Context::establish(Scope::User).map_err(|e| DeskError::Pcscd(e.to_string()))?;
        let readers: Vec<CString> = match ctx.list_readers_owned() {
            Ok(r) => r,
            Err(pcsc::Error::NoReadersAvailable) => Vec::new(),
            Err(e) => return Err(DeskError::Pcscd(e.to_string())),
        };
        let names = || {
            let all: Vec<String> = readers.iter().map(|r| r.to_string_lossy().into()).collect();
            if all.is_empty() {
                "none".to_owned()
            } else {
                all.join(", ")
            }
        };
        let reader = match name {
            Some(name) => readers
                .iter()
                .find(|r| r.to_bytes() == name.as_bytes())
                .cloned(),
            None if readers.len() == 1 => readers.first().cloned(),
            None => None,
        };
        let reader = reader.ok_or_else(|| {
            DeskError::NoReader(match name {
                Some(name) => format!("no reader named {name:?} (readers: {})", names()),
                None if readers.is_empty() => "no reader is attached to this machine".to_owned(),
                None => format!(
                    "several readers are attached ({}): name the desk reader in \
                     [issuing] desk_reader (gatehouse cards: --reader)",
                    names()
                ),
            })
        })?;
        Ok(Desk { ctx, reader })
    }

    /// The reader's name.
    pub fn name(&self) -> String {
        self.reader.to_string_lossy().into_owned()
    }

    /// Waits up to `timeout` for a card on the reader, connects to it and reads the UID
    /// it shows.
    pub fn wait_card(&self, timeout: Duration) -> Result<DeskCard, DeskError> {
        let deadline = Instant::now() + timeout;
        let mut states = [ReaderState::new(self.reader.clone(), State::UNAWARE)];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.ctx.get_status_change(Some(left), &mut states) {
                Ok(()) => {}
                Err(pcsc::Error::Timeout) => return Err(DeskError::NoCard(timeout)),
                Err(e) => return Err(DeskError::Pcscd(e.to_string())),
            }
            let state = states[0].event_state();
            if state.contains(State::PRESENT) && !state.contains(State::MUTE) {
                break;
            }
            states[0].sync_current_state();
        }
        let card = self
            .ctx
            .connect(&self.reader, ShareMode::Exclusive, Protocols::ANY)
            .map_err(|e| DeskError::BadCard(e.to_string()))?;
        let answer = transmit(&card, &GET_UID).map_err(|e| DeskError::BadCard(e.to_string()))?;
        match answer.as_slice() {
            [uid @ .., 0x90, 0x00] if !uid.is_empty() => Ok(DeskCard {
                card,
                uid: uid.to_vec(),
            }),
            other => Err(DeskError::BadCard(format!(
                "answer {}",
                hex::encode_upper(other)
            ))),
        }
    }
}

/// A card on the desk reader, connected exclusively; dropping it resets the card (pcsc's
/// `Card` disconnects with `ResetCard`), so the next session starts clean.
pub struct DeskCard {
    card: Card,
    /// The UID the card showed (random per activation on a random-ID card).
    pub uid: Vec<u8>,
}

impl DeskCard {
    /// Sends one APDU; the transport for `gatehouse_desfire::pcd::Pcd`.
    pub fn transceive(&self, apdu: &[u8]) -> Result<Vec<u8>, gatehouse_desfire::Error> {
        transmit(&self.card, apdu).map_err(|e| gatehouse_desfire::Error::Transport(e.to_string()))
    }
}

fn transmit(card: &Card, apdu: &[u8]) -> Result<Vec<u8>, pcsc::Error> {
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    card.transmit(apdu, &mut buf).map(<[u8]>::to_vec)
}

/// A card on a desk reader as the issuing service's [`Station`].
pub struct DeskStation {
    reader: String,
    card: DeskCard,
}

impl DeskStation {
    /// Opens the reader (`None`: the only one) and waits up to `wait` for a card on it.
    /// Blocking.
    pub fn wait(reader: Option<&str>, wait: Duration) -> Result<DeskStation, DeskError> {
        let desk = Desk::open(reader)?;
        let card = desk.wait_card(wait)?;
        Ok(DeskStation {
            reader: desk.name(),
            card,
        })
    }
}

impl Station for DeskStation {
    fn reader(&self) -> String {
        self.reader.clone()
    }

    fn seen_uid(&self) -> Vec<u8> {
        self.card.uid.clone()
    }

    fn transceive(&mut self, apdu: &[u8]) -> Result<Vec<u8>, gatehouse_desfire::Error> {
        self.card.transceive(apdu)
    }
}
