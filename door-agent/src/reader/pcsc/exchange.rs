//! The UID exchange with a card, under a deadline.
//!
//! `SCardTransmit` blocks until the card answers or the driver gives up (vpcd: ~5 s), so
//! the exchange runs on a worker thread and the reader thread waits for it with a
//! deadline. A worker that misses its deadline is abandoned (it ends when its call
//! returns) and a fresh one serves the next card, so one silent card never blocks the
//! reader. The worker has its own PC/SC context: a context is not shared between a
//! thread blocked in `SCardGetStatusChange` and another one.

use super::super::ReadErrorKind;
use pcsc::{Card, Context, Disposition, Error, Protocols, Scope, ShareMode};
use std::ffi::CString;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

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
    Answered(Result<Vec<u8>, Error>, Duration),
    Failed(Error),
}

/// A running exchange worker.
struct Worker {
    jobs: Sender<CString>,
    steps: Receiver<Step>,
}

/// Reads UIDs from cards with a per-exchange deadline.
pub(super) struct Exchanger {
    worker: Option<Worker>,
    connect_timeout: Duration,
    deadline: Duration,
}

impl Exchanger {
    pub(super) fn new(connect_timeout: Duration, deadline: Duration) -> Self {
        Self {
            worker: None,
            connect_timeout,
            deadline,
        }
    }

    /// Connects to the card in `reader`, sends GET UID and returns the normalised UID
    /// and the exchange time; any failure or a missed deadline is a [`ReadErrorKind`].
    pub(super) fn read_uid(
        &mut self,
        reader: &CString,
    ) -> Result<(String, Duration), ReadErrorKind> {
        let outcome = self.run(reader);
        if matches!(outcome, Err(ReadErrorKind::Timeout { .. })) {
            // The worker is stuck in a PC/SC call: abandon it.
            self.worker = None;
        }
        let (answer, took) = outcome?;
        match answer.as_slice() {
            [uid @ .., 0x90, 0x00] if !uid.is_empty() => Ok((hex::encode_upper(uid), took)),
            _ => Err(ReadErrorKind::BadAnswer {
                answer: hex::encode_upper(&answer),
            }),
        }
    }

    fn run(&mut self, reader: &CString) -> Result<(Vec<u8>, Duration), ReadErrorKind> {
        let worker = self.worker()?;
        worker
            .jobs
            .send(reader.clone())
            .map_err(|_| worker_gone())?;
        let connect_timeout = self.connect_timeout;
        let deadline = self.deadline;
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
            let (jobs, job_rx) = mpsc::channel::<CString>();
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

/// The worker loop: one job per card, until the reader thread drops the job channel.
fn work(jobs: &Receiver<CString>, steps: &Sender<Step>) {
    let mut ctx: Option<Context> = None;
    while let Ok(reader) = jobs.recv() {
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
        let answer = transmit(&card, &GET_UID);
        let took = start.elapsed();
        let _ = card.disconnect(Disposition::LeaveCard);
        if steps.send(Step::Answered(answer, took)).is_err() {
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
