//! A virtual contactless card for the vsmartcard `vpcd` reader driver of pcsc-lite.
//!
//! The card is a TCP client of the reader (127.0.0.1:35963 for `Virtual PCD 00 00`,
//! 35964 for `Virtual PCD 00 01`): connecting inserts it, closing the socket removes it.
//! It answers the get-ATR control message with a contactless ATR and the GET DATA
//! pseudo-APDU `FF CA 00 00 00` with its UID; it can delay or drop its APDU answers, to
//! play a relayed or broken card. Used by the door agent's PC/SC tests and by hand
//! through the `vcard` binary.

pub mod frame;

use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

/// Port of the first vpcd reader (`Virtual PCD 00 00`); the second one is this plus one.
pub const VPCD_PORT: u16 = 35963;

/// The card's ATR: a contactless card as PC/SC part 3 presents it.
pub const ATR: [u8; 20] = [
    0x3B, 0x8F, 0x80, 0x01, 0x80, 0x4F, 0x0C, 0xA0, 0x00, 0x00, 0x03, 0x06, 0x03, 0x00, 0x01, 0x00,
    0x00, 0x00, 0x00, 0x6A,
];

/// Control codes the reader sends as 1-byte messages.
const CTRL_GET_ATR: u8 = 0x04;

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
        if uid.is_empty() || uid.len() > 253 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a UID has 1 to 253 bytes",
            ));
        }
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        let reader_side = stream.try_clone()?;
        let apdus = Arc::new(AtomicUsize::new(0));
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let card = Card {
            uid: uid.to_vec(),
            behaviour,
            apdus: Arc::clone(&apdus),
            stop: stop_rx,
        };
        let thread = std::thread::Builder::new()
            .name(format!("vcard-{port}"))
            .spawn(move || card.serve(reader_side))?;
        Ok(InsertedCard {
            stream,
            apdus,
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
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

impl InsertedCard {
    /// Command APDUs received so far (answered or not).
    pub fn apdu_count(&self) -> usize {
        self.apdus.load(Ordering::SeqCst)
    }

    /// Whether the reader side still holds the connection.
    pub fn is_connected(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    /// Waits until the reader closes the connection (e.g. pcscd stops); returns how the
    /// card's session ended.
    pub fn wait_disconnected(mut self) -> io::Result<()> {
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

struct Card {
    uid: Vec<u8>,
    behaviour: Behaviour,
    apdus: Arc<AtomicUsize>,
    stop: mpsc::Receiver<()>,
}

impl Card {
    fn serve(self, mut stream: TcpStream) -> io::Result<()> {
        while let Some(msg) = frame::read_frame(&mut stream)? {
            match msg.as_slice() {
                [CTRL_GET_ATR] => frame::write_frame(&mut stream, &ATR)?,
                // Power off / on / reset and unknown control codes need no answer.
                [] | [_] => {}
                apdu => {
                    self.apdus.fetch_add(1, Ordering::SeqCst);
                    let answer = respond(&self.uid, apdu);
                    match self.behaviour {
                        Behaviour::Normal => {}
                        Behaviour::Silent => continue,
                        Behaviour::Delay(d) => match self.stop.recv_timeout(d) {
                            Err(RecvTimeoutError::Timeout) => {}
                            _ => return Ok(()),
                        },
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
