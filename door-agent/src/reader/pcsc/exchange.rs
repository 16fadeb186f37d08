//! The exchange with a card, under a deadline: its UID, and when the agent holds card
//! keys, the secure read of a DESFire card (`gatehouse_desfire::app::door`).
//!
//! `SCardTransmit` blocks until the card answers or the driver gives up (vpcd: ~5 s), so
//! the exchange runs on a worker thread and the reader thread waits for it with a
//! deadline. A worker that misses its deadline is abandoned (it ends when its call
//! returns) and a fresh one serves the next card, so one silent card never blocks the
//! reader. The worker has its own PC/SC context: a context is not shared between a
//! thread blocked in `SCardGetStatusChange` and another one.

use super::super::{CardProof, ReadErrorKind, SecureKeys};
use super::PcscOptions;
use gatehouse_desfire::app::SiteKeys;
use gatehouse_desfire::app::door::{self, DoorRead};
use gatehouse_desfire::pcd::Pcd;
use pcsc::{Card, Context, Disposition, Error, Protocols, Scope, ShareMode};
use rand::rngs::OsRng;
use std::ffi::CString;
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The GET DATA pseudo-APDU: the card's UID.
pub const GET_UID: [u8; 5] = [0xFF, 0xCA, 0x00, 0x00, 0x00];

/// Errors that mean the context itself is gone (pcscd stopped or restarted).
pub(super) fn is_context_lost(e: Error) -> bool {
    matches!(
        e,
        Error::NoService
            | Error::ServiceStopped
            | Error::InvalidHandle
            | Error::CommError
            | Error::InternalError
            | Error::NoMemory
    )
}

enum Step {
    Connected,
    Answered(Result<Read, Error>, Duration),
    Failed(Error),
}

/// One card to read: its reader, and the keys accepted when it was presented.
struct Job {
    reader: CString,
    keys: Arc<[SiteKeys]>,
}

/// What the worker read from a card.
struct Read {
    /// The answer to GET UID.
    answer: Vec<u8>,
    /// The secure read, when the agent holds keys and the card gave a UID.
    secure: Option<Result<DoorRead, gatehouse_desfire::Error>>,
}

/// A running exchange worker.
struct Worker {
    jobs: Sender<Job>,
    steps: Receiver<Step>,
}

/// Reads cards with a per-exchange deadline.
pub(super) struct Exchanger {
    worker: Option<Worker>,
    connect_timeout: Duration,
    deadline: Duration,
    secure_deadline: Duration,
    keys: SecureKeys,
}

impl Exchanger {
    pub(super) fn new(options: &PcscOptions, keys: SecureKeys) -> Self {
        Self {
            worker: None,
            connect_timeout: options.connect_timeout,
            deadline: options.deadline,
            secure_deadline: options.secure_deadline,
            keys,
        }
    }

    /// Connects to the card in `reader`, reads it and returns the normalised card
    /// identifier (a secure card's real UID), what the read proved and the exchange
    /// time; any failure or a missed deadline is a [`ReadErrorKind`].
    pub(super) fn read_card(
        &mut self,
        reader: &CString,
    ) -> Result<(String, CardProof, Duration), ReadErrorKind> {
        let outcome = self.run(reader);
        if matches!(outcome, Err(ReadErrorKind::Timeout { .. })) {
            // The worker is stuck in a PC/SC call: abandon it.
            self.worker = None;
        }
        let (read, took) = outcome?;
        let Some(uid) = uid_of(&read.answer) else {
            return Err(ReadErrorKind::BadAnswer {
                answer: hex::encode_upper(&read.answer),
            });
        };
        let (card, proof) = match read.secure {
            None | Some(Ok(DoorRead::NoApplication)) => (uid, CardProof::Uid),
            Some(Ok(DoorRead::Authentic {
                uid,
                site_id,
                version,
            })) => {
                let proof = CardProof::Authentic {
                    site_id: Uuid::from_bytes(site_id),
                    key_version: version,
                };
                (uid, proof)
            }
            // The reader lost the card mid-way: a read error, as for the UID.
            Some(Err(gatehouse_desfire::Error::Transport(message))) => {
                return Err(ReadErrorKind::Pcsc { message });
            }
            // It carries our application and failed anything after selecting it.
            Some(Err(_)) => (uid, CardProof::NotAuthentic),
        };
        Ok((hex::encode_upper(card), proof, took))
    }

    fn run(&mut self, reader: &CString) -> Result<(Read, Duration), ReadErrorKind> {
        let keys = self.keys.current();
        let job_is_secure = !keys.is_empty();
        let worker = self.worker()?;
        let job = Job {
            reader: reader.clone(),
            keys,
        };
        worker.jobs.send(job).map_err(|_| worker_gone())?;
        let connect_timeout = self.connect_timeout;
        let deadline = if job_is_secure {
            self.secure_deadline
        } else {
            self.deadline
        };
        let Some(worker) = self.worker.as_ref() else {
            return Err(worker_gone());
        };
        match worker.steps.recv_timeout(connect_timeout) {
            Ok(Step::Connected) => {}
            Ok(Step::Failed(e)) => return Err(pcsc_error(e)),
            Ok(Step::Answered(..)) => return Err(worker_gone()),
            Err(RecvTimeoutError::Timeout) => {
                return Err(ReadErrorKind::Timeout {
                    deadline: connect_timeout,
                });
            }
            Err(RecvTimeoutError::Disconnected) => return Err(worker_gone()),
        }
        match worker.steps.recv_timeout(deadline) {
            Ok(Step::Answered(Ok(answer), took)) if took <= deadline => Ok((answer, took)),
            Ok(Step::Answered(Ok(_), _)) => Err(ReadErrorKind::Timeout { deadline }),
            Ok(Step::Answered(Err(e), _)) | Ok(Step::Failed(e)) => Err(pcsc_error(e)),
            Ok(Step::Connected) => Err(worker_gone()),
            Err(RecvTimeoutError::Timeout) => Err(ReadErrorKind::Timeout { deadline }),
            Err(RecvTimeoutError::Disconnected) => Err(worker_gone()),
        }
    }

    fn worker(&mut self) -> Result<&Worker, ReadErrorKind> {
        if self.worker.is_none() {
            let (jobs, job_rx) = mpsc::channel::<Job>();
            let (step_tx, steps) = mpsc::channel();
            std::thread::Builder::new()
                .name("pcsc-exchange".into())
                .spawn(move || work(&job_rx, &step_tx))
                .map_err(|e| ReadErrorKind::Pcsc {
                    message: format!("cannot start the exchange thread: {e}"),
                })?;
            self.worker = Some(Worker { jobs, steps });
        }
        self.worker.as_ref().ok_or_else(worker_gone)
    }
}

fn worker_gone() -> ReadErrorKind {
    ReadErrorKind::Pcsc {
        message: "the exchange thread stopped".into(),
    }
}

fn pcsc_error(e: Error) -> ReadErrorKind {
    ReadErrorKind::Pcsc {
        message: e.to_string(),
    }
}

/// The UID in a GET UID answer (`<uid> 90 00`).
fn uid_of(answer: &[u8]) -> Option<Vec<u8>> {
    match answer {
        [uid @ .., 0x90, 0x00] if !uid.is_empty() => Some(uid.to_vec()),
        _ => None,
    }
}

/// The worker loop: one job per card, until the reader thread drops the job channel.
fn work(jobs: &Receiver<Job>, steps: &Sender<Step>) {
    let mut ctx: Option<Context> = None;
    while let Ok(Job { reader, keys }) = jobs.recv() {
        let card = match connect(&mut ctx, &reader) {
            Ok(card) => card,
            Err(e) => {
                if steps.send(Step::Failed(e)).is_err() {
                    return;
                }
                continue;
            }
        };
        if steps.send(Step::Connected).is_err() {
            return;
        }
        let start = Instant::now();
        let read = transmit(&card, &GET_UID).map(|answer| {
            let secure = match uid_of(&answer) {
                Some(uid) if !keys.is_empty() => Some(secure_read(&card, &uid, &keys)),
                _ => None,
            };
            Read { answer, secure }
        });
        let took = start.elapsed();
        let _ = card.disconnect(Disposition::LeaveCard);
        if steps.send(Step::Answered(read, took)).is_err() {
            return;
        }
    }
}

/// Connects to the card, re-establishing the context once if pcscd restarted.
fn connect(ctx: &mut Option<Context>, reader: &CString) -> Result<Card, Error> {
    for attempt in 0..2 {
        let context = match ctx {
            Some(c) => c,
            None => ctx.insert(Context::establish(Scope::User)?),
        };
        match context.connect(reader, ShareMode::Shared, Protocols::ANY) {
            Err(e) if attempt == 0 && is_context_lost(e) => *ctx = None,
            other => return other,
        }
    }
    Err(Error::NoService)
}

/// The door's DESFire read of the card that showed `uid`, through this connection.
fn secure_read(
    card: &Card,
    uid: &[u8],
    keys: &[SiteKeys],
) -> Result<DoorRead, gatehouse_desfire::Error> {
    let mut pcd = Pcd::new(|apdu: &[u8]| {
        transmit(card, apdu).map_err(|e| gatehouse_desfire::Error::Transport(e.to_string()))
    });
    door::read(&mut pcd, uid, keys, &mut OsRng)
}

fn transmit(card: &Card, apdu: &[u8]) -> Result<Vec<u8>, Error> {
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    card.transmit(apdu, &mut buf).map(<[u8]>::to_vec)
}

/// One bare PC/SC round trip of the GET UID APDU, without the agent around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RoundTrip {
    /// `SCardConnect` to the card.
    pub connect: Duration,
    /// `SCardTransmit` of `FF CA 00 00 00` and its answer.
    pub transmit: Duration,
}

/// Measures `samples` bare round trips to the card in `reader` (connect, transmit GET
/// UID, disconnect leaving the card), for the benchmark "card inserted → relay command"
/// next to "bare PC/SC round trip of the same APDU". Fails on any PC/SC error or an
/// answer other than `<uid> 90 00`.
pub fn measure_round_trip(reader: &str, samples: usize) -> Result<Vec<RoundTrip>, String> {
    let name = CString::new(reader).map_err(|_| "reader name contains NUL".to_owned())?;
    let ctx = Context::establish(Scope::User).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        let card = ctx
            .connect(&name, ShareMode::Shared, Protocols::ANY)
            .map_err(|e| format!("connect: {e}"))?;
        let connect = start.elapsed();
        let start = Instant::now();
        let answer = transmit(&card, &GET_UID).map_err(|e| format!("transmit: {e}"))?;
        let transmit = start.elapsed();
        let _ = card.disconnect(Disposition::LeaveCard);
        if !answer.ends_with(&[0x90, 0x00]) || answer.len() < 3 {
            return Err(format!("unexpected answer {}", hex::encode_upper(&answer)));
        }
        out.push(RoundTrip { connect, transmit });
    }
    Ok(out)
}
