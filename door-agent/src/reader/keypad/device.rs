//! A USB keypad through Linux evdev: a thread opens the event device, reads the kernel's
//! `input_event` records, decodes them with [`Decoder`] and sends each key press as a
//! [`ReaderEvent::Key`] of the keypad's reader.
//!
//! A device that is missing or goes away (unplugged) is reported once as a
//! [`ReadErrorKind::Keypad`] failure of its reader and opened again every
//! [`KeypadReader::retry`] until it is back; the card reader goes on meanwhile (a card
//! needing a PIN at that door waits for it in vain and is refused `pin_required`).
//! Opening the device reads it alongside other readers of it (no `EVIOCGRAB`): a keypad
//! at a door is not anyone's keyboard.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::Sender;

use super::evdev::{Decoder, Layout};
use crate::reader::{ReadErrorKind, ReaderEvent, ReaderHandle};

/// One evdev keypad, feeding the events of reader `reader`.
#[derive(Debug, Clone)]
pub struct KeypadReader {
    /// The reader the keypad belongs to.
    pub reader: String,
    /// The event device.
    pub path: PathBuf,
    /// The record layout (this build's unless testing).
    pub layout: Layout,
    /// How long to wait before opening a missing device again.
    pub retry: Duration,
}

impl KeypadReader {
    /// The keypad at `path` beside `reader`, read with this build's layout.
    pub fn new(reader: String, path: PathBuf) -> Self {
        KeypadReader {
            reader,
            path,
            layout: Layout::NATIVE,
            retry: Duration::from_secs(2),
        }
    }

    /// Starts reading on a dedicated thread; key events go to `events`.
    pub fn spawn(self, events: Sender<ReaderEvent>) -> io::Result<ReaderHandle> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name(format!("keypad-{}", self.reader))
            .spawn(move || self.run(&events, &flag))?;
        let stop_fn = Arc::new(move || stop.store(true, Ordering::SeqCst));
        // A read blocked on the device cannot be interrupted: the handle does not wait.
        Ok(ReaderHandle::new(thread, stop_fn, false))
    }

    fn run(self, events: &Sender<ReaderEvent>, stop: &AtomicBool) {
        // Whether the device's trouble has been reported since it last worked.
        let mut reported = false;
        while !stop.load(Ordering::SeqCst) && !events.is_closed() {
            let problem = match File::open(&self.path) {
                Ok(device) => {
                    if reported {
                        tracing::info!(reader = %self.reader, path = %self.path.display(),
                            "keypad back");
                    }
                    reported = false;
                    match self.read(device, events, stop) {
                        Ok(()) => return,
                        Err(e) => format!("keypad {}: {e}", self.path.display()),
                    }
                }
                Err(e) => format!("keypad {}: {e}", self.path.display()),
            };
            if !reported {
                reported = true;
                tracing::warn!(reader = %self.reader, "{problem}; retrying every {:?}",
                    self.retry);
                let failed = ReaderEvent::ReadFailed {
                    reader: self.reader.clone(),
                    kind: ReadErrorKind::Keypad { message: problem },
                    at: Instant::now(),
                };
                if events.blocking_send(failed).is_err() {
                    return;
                }
            }
            std::thread::sleep(self.retry);
        }
    }

    /// Reads the open device until it fails (`Err`) or the agent stops (`Ok`).
    fn read(
        &self,
        mut device: File,
        events: &Sender<ReaderEvent>,
        stop: &AtomicBool,
    ) -> io::Result<()> {
        let mut decoder = Decoder::new(self.layout);
        let mut buf = [0u8; 24 * 64];
        let mut keys = Vec::new();
        loop {
            let n = match device.read(&mut buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "device closed",
                    ));
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            decoder.feed(buf.get(..n).unwrap_or_default(), &mut keys);
            for key in keys.drain(..) {
                let event = ReaderEvent::Key {
                    reader: self.reader.clone(),
                    key,
                };
                if events.blocking_send(event).is_err() {
                    return Ok(());
                }
            }
        }
    }
}
