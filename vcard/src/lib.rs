//! A virtual contactless card for the vsmartcard `vpcd` reader driver of pcsc-lite.
//!
//! The card is a TCP client of the reader (127.0.0.1:35963 for `Virtual PCD 00 00`,
//! 35964 for `Virtual PCD 00 01`): connecting inserts it, closing the socket removes it.
//! It answers the get-ATR control message with a contactless ATR and the GET DATA
//! pseudo-APDU `FF CA 00 00 00` with its UID; it can delay or drop its APDU answers, to
//! play a relayed or broken card. Used by the door agent's PC/SC tests and by hand
//! through the `vcard` binary.
//!
//! What sits in the reader is a [`Chip`]: a UID-only card ([`VirtualCard::insert`]), a
//! DESFire EV2 card (`gatehouse_desfire`'s card side behind vpcd: genuine, random-UID or
//! a clone, see [`desfire`]) or a replaying attacker. Every exchange is recorded
//! ([`InsertedCard::exchanges`]), so a genuine session can be replayed later.

pub mod desfire;
pub mod frame;

pub use desfire::{Exchange, Recording, SharedCard};

use std::collections::VecDeque;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Port of the first vpcd reader (`Virtual PCD 00 00`); the second one is this plus one.
pub const VPCD_PORT: u16 = 35963;

/// The card's ATR: a contactless card as PC/SC part 3 presents it.
pub const ATR: [u8; 20] = [
    0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x6A,
];

/// The ATR of a DESFire card in a PC/SC reader: ISO 14443-4 type A, T=1, historical
/// byte `80` (what readers show for DESFire EV1/EV2/EV3).
pub const ATR_DESFIRE: [u8; 6] = [0x3B, 0x81, 0x80, 0x01, 0x80, 0x80];

/// Control codes the reader sends as 1-byte messages.
const CTRL_POWER_OFF: u8 = 0x00;
const CTRL_POWER_ON: u8 = 0x01;
const CTRL_RESET: u8 = 0x02;
const CTRL_GET_ATR: u8 = 0x04;

/// Most exchanges an insertion records (a card left in a reader for days stays bounded).
const MAX_RECORDED: usize = 10_000;

/// What sits in the reader.
#[derive(Debug, Clone)]
pub enum Chip {
    /// A card answering only `FF CA` with this UID (a UID-only credential).
    Uid(Vec<u8>),
    /// A DESFire EV2 card: `FF CA` gets its anticollision UID (random per insertion in
    /// random-ID mode), every other APDU goes to `Card::process`. Shared: its keys and
    /// files outlive the insertion.
    Desfire(SharedCard),
    /// A replaying attacker playing back an earlier genuine session (see [`Recording`]).
    Replay(Recording),
}

/// How the card answers command APDUs (the ATR is always answered at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Behaviour {
    /// Answers at once.
    #[default]
    Normal,
    /// Answers after this delay, like a card relayed over a distance.
    Delay(Duration),
    /// Never answers an APDU (but stays inserted).
    Silent,
}

/// The response APDU of the card with this UID to `apdu`.
///
/// `FF CA 00 00 Le` (GET DATA, UID) gives the UID and `90 00` (or `6C xx` when a
/// non-zero `Le` is shorter than the UID); anything else `6D 00` (instruction not
/// supported).
pub fn respond(uid: &[u8], apdu: &[u8]) -> Vec<u8> {
    match apdu {
        [0xFF, 0xCA, 0x00, 0x00] | [0xFF, 0xCA, 0x00, 0x00, 0x00] => ok_uid(uid),
        [0xFF, 0xCA, 0x00, 0x00, le] if usize::from(*le) >= uid.len() => ok_uid(uid),
        [0xFF, 0xCA, 0x00, 0x00, _] => vec![0x6C, u8::try_from(uid.len()).unwrap_or(0)],
        _ => vec![0x6D, 0x00],
    }
}

fn ok_uid(uid: &[u8]) -> Vec<u8> {
    let mut out = uid.to_vec();
    out.extend_from_slice(&[0x90, 0x00]);
    out
}

/// Namespace of [`VirtualCard::insert`].
pub struct VirtualCard;

impl VirtualCard {
    /// Inserts a card with `uid` into the vpcd reader listening on `port` of 127.0.0.1.
    ///
    /// Fails when nothing listens there (pcscd with vpcd not running) or when `uid` is
    /// empty or longer than 253 bytes.
    pub fn insert(port: u16, uid: &[u8], behaviour: Behaviour) -> io::Result<InsertedCard> {
        Self::insert_chip(port, Chip::Uid(uid.to_vec()), behaviour)
    }

    /// Inserts `chip` into the vpcd reader listening on `port` of 127.0.0.1. A DESFire
    /// card is reset (no session, card level selected) when inserted and when the reader
    /// powers it off or resets it.
    pub fn insert_chip(port: u16, chip: Chip, behaviour: Behaviour) -> io::Result<InsertedCard> {
        let live = Live::new(chip)?;
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        let reader_side = stream.try_clone()?;
        let apdus = Arc::new(AtomicUsize::new(0));
        let exchanges = Arc::new(Mutex::new(Vec::new()));
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let card = Card {
            live,
            behaviour,
            apdus: Arc::clone(&apdus),
            exchanges: Arc::clone(&exchanges),
            stop: stop_rx,
        };
        let thread = std::thread::Builder::new()
            .name(format!("vcard-{port}"))
            .spawn(move || card.serve(reader_side))?;
        Ok(InsertedCard {
            stream,
            apdus,
            exchanges,
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }
}

/// A card in a reader. Dropping it (or [`InsertedCard::remove`]) removes the card.
#[derive(Debug)]
pub struct InsertedCard {
    stream: TcpStream,
    apdus: Arc<AtomicUsize>,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl InsertedCard {
    /// Command APDUs received so far (answered or not).
    pub fn apdu_count(&self) -> usize {
        self.apdus.load(Ordering::SeqCst)
    }

    /// The exchanges answered so far (command, answer), in order: the first 10 000.
    pub fn exchanges(&self) -> Vec<Exchange> {
        lock(&self.exchanges).clone()
    }

    /// The exchanges so far as a [`Recording`] a replaying attacker can play back.
    pub fn recording(&self) -> Recording {
        Recording {
            exchanges: self.exchanges(),
        }
    }

    /// Whether the reader side still holds the connection.
    pub fn is_connected(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Waits until the reader closes the connection (e.g. pcscd stops); returns how the
    /// card's session ended.
    pub fn wait_disconnected(mut self) -> io::Result<()> {
        self.wait_reader_closed()
    }

    /// [`InsertedCard::wait_disconnected`] keeping the card's record: afterwards
    /// [`InsertedCard::recording`] has the whole session.
    pub fn wait_reader_closed(&mut self) -> io::Result<()> {
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(io::Error::other("card thread panicked"))),
            None => Ok(()),
        }
    }

    /// Removes the card: closes the connection and waits for its thread.
    pub fn remove(self) {
        drop(self);
    }
}

impl Drop for InsertedCard {
    fn drop(&mut self) {
        // Wakes a delayed answer, then unblocks the read: the thread ends either way.
        self.stop.take();
        let _ = self.stream.shutdown(Shutdown::Both);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Locks `m`, also after a panic elsewhere (the data is plain bytes and card state).
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A chip during one insertion.
enum Live {
    Uid(Vec<u8>),
    /// The card and the UID it shows for this insertion.
    Desfire {
        card: SharedCard,
        shown: Vec<u8>,
    },
    /// The recorded answer to `FF CA` and the other answers still to play.
    Replay {
        get_uid: Option<Vec<u8>>,
        answers: VecDeque<Vec<u8>>,
    },
}

impl Live {
    fn new(chip: Chip) -> io::Result<Self> {
        Ok(match chip {
            Chip::Uid(uid) => {
                if uid.is_empty() || uid.len() > 253 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        "a UID has 1 to 253 bytes",
                    ));
                }
                Self::Uid(uid)
            }
            Chip::Desfire(card) => {
                let shown = {
                    let mut c = lock(&card);
                    c.reset();
                    c.anticollision_uid(&mut rand::rngs::OsRng)
                };
                Self::Desfire { card, shown }
            }
            Chip::Replay(recording) => {
                let (uid, rest): (Vec<_>, Vec<_>) = recording
                    .exchanges
                    .into_iter()
                    .partition(|(c, _)| is_get_uid(c));
                Self::Replay {
                    get_uid: uid.into_iter().next().map(|(_, a)| a),
                    answers: rest.into_iter().map(|(_, a)| a).collect(),
                }
            }
        })
    }

    fn atr(&self) -> &'static [u8] {
        match self {
            Self::Uid(_) => &ATR,
            Self::Desfire { .. } | Self::Replay { .. } => &ATR_DESFIRE,
        }
    }

    /// Field off or reset: a DESFire card loses its session.
    fn reset(&mut self) {
        if let Self::Desfire { card, .. } = self {
            lock(card).reset();
        }
    }

    fn respond(&mut self, apdu: &[u8]) -> Vec<u8> {
        match self {
            Self::Uid(uid) => respond(uid, apdu),
            Self::Desfire { shown, .. } if is_get_uid(apdu) => respond(shown, apdu),
            Self::Desfire { card, .. } => lock(card).process(apdu, &mut rand::rngs::OsRng),
            Self::Replay { get_uid, .. } if is_get_uid(apdu) => {
                get_uid.clone().unwrap_or_else(|| vec![0x6A, 0x81])
            }
            // Out of script: "no precise diagnosis".
            Self::Replay { answers, .. } => answers.pop_front().unwrap_or_else(|| vec![0x6F, 0x00]),
        }
    }
}

/// Whether `apdu` is the reader's GET DATA (UID) pseudo-APDU.
fn is_get_uid(apdu: &[u8]) -> bool {
    apdu.starts_with(&[0xFF, 0xCA, 0x00, 0x00])
}

struct Card {
    live: Live,
    behaviour: Behaviour,
    apdus: Arc<AtomicUsize>,
    exchanges: Arc<Mutex<Vec<Exchange>>>,
    stop: mpsc::Receiver<()>,
}

impl Card {
    fn serve(mut self, mut stream: TcpStream) -> io::Result<()> {
        while let Some(msg) = frame::read_frame(&mut stream)? {
            match msg.as_slice() {
                [CTRL_GET_ATR] => frame::write_frame(&mut stream, self.live.atr())?,
                [CTRL_POWER_OFF | CTRL_RESET] => self.live.reset(),
                // Power on needs no answer.
                [] | [CTRL_POWER_ON] => {}
                // vpcd sends a 1-byte APDU as a 1-byte message too: anything that is not
                // one of its four control codes is a command (DESFire's native `60`
                // GetVersion, `AF` more frames, `51` GetCardUID, as python-desfire sends).
                apdu => {
                    self.apdus.fetch_add(1, Ordering::SeqCst);
                    let answer = self.live.respond(apdu);
                    match self.behaviour {
                        Behaviour::Normal => {}
                        Behaviour::Silent => continue,
                        Behaviour::Delay(d) => match self.stop.recv_timeout(d) {
                            Err(RecvTimeoutError::Timeout) => {}
                            _ => return Ok(()),
                        },
                    }
                    {
                        let mut log = lock(&self.exchanges);
                        if log.len() < MAX_RECORDED {
                            log.push((apdu.to_vec(), answer.clone()));
                        }
                    }
                    frame::write_frame(&mut stream, &answer)?;
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
