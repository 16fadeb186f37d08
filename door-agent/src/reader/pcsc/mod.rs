//! The PC/SC reader (cargo feature `pcsc`): real readers through pcsc-lite.
//!
//! One dedicated thread waits in `SCardGetStatusChange` on every reader plus the
//! `\\?PnP?\Notification` pseudo-reader, so it wakes only when a card or a reader comes
//! or goes — no polling. On a new card it reads the UID with `FF CA 00 00 00` under a
//! per-exchange deadline (see [`exchange`]): a card that answers too late, or not at
//! all, is a [`ReadErrorKind::Timeout`], never a card, which bounds relay attacks.
//!
//! When pcscd goes away (stopped, restarted, crashed) every call fails with a context
//! error: the thread reports its readers detached, drops the context and establishes a
//! new one with exponential backoff (50 ms doubling up to [`PcscOptions::max_backoff`]),
//! then reports the readers attached again and carries on.

mod exchange;

pub use exchange::{GET_UID, RoundTrip, measure_round_trip};
pub use pcsc::Error as PcscError;

use super::{CardEvent, CardReader, ReadErrorKind, ReaderEvent, ReaderHandle};
use exchange::{Exchanger, is_context_lost};
use gatehouse_core::decide::Authentication;
use pcsc::{Context, Error, PNP_NOTIFICATION, ReaderState, Scope, State};
use std::ffi::{CStr, CString};
use std::io;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Sender;

/// The names of the readers pcscd knows now (empty when it knows none).
pub fn list_readers() -> Result<Vec<String>, Error> {
    let ctx = Context::establish(Scope::User)?;
    match ctx.list_readers_owned() {
        Ok(names) => Ok(names
            .iter()
            .map(|n| n.to_string_lossy().into_owned())
            .collect()),
        Err(Error::NoReadersAvailable) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Settings of the PC/SC reader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcscOptions {
    /// Longest accepted UID exchange (transmit to answer); slower cards are refused.
    pub deadline: Duration,
    /// Longest accepted `SCardConnect` to a presented card.
    pub connect_timeout: Duration,
    /// Cap of the backoff between attempts to reach pcscd.
    pub max_backoff: Duration,
    /// Readers to watch, by name; empty watches every reader.
    pub readers: Vec<String>,
}

impl Default for PcscOptions {
    fn default() -> Self {
        Self {
            deadline: Duration::from_millis(300),
            connect_timeout: Duration::from_secs(2),
            max_backoff: Duration::from_secs(2),
            readers: Vec::new(),
        }
    }
}

/// Reads cards from PC/SC readers.
#[derive(Debug, Clone, Default)]
pub struct PcscReader {
    options: PcscOptions,
}

impl PcscReader {
    /// A reader with these options.
    pub fn new(options: PcscOptions) -> Self {
        Self { options }
    }
}

impl CardReader for PcscReader {
    fn spawn(self: Box<Self>, events: Sender<ReaderEvent>) -> io::Result<ReaderHandle> {
        let shared = Arc::new(Shared::default());
        let thread_shared = Arc::clone(&shared);
        let options = self.options;
        let thread = std::thread::Builder::new()
            .name("reader-pcsc".into())
            .spawn(move || run(&options, &events, &thread_shared))?;
        Ok(ReaderHandle::new(
            thread,
            Arc::new(move || shared.stop()),
            true,
        ))
    }
}

/// State shared between the reader thread and its handle.
#[derive(Default)]
struct Shared {
    stopped: Mutex<bool>,
    wake: Condvar,
    /// The context the thread is blocked on, to cancel it.
    context: Mutex<Option<Context>>,
}

impl Shared {
    fn stop(&self) {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner) = true;
        self.wake.notify_all();
        if let Some(ctx) = &*self.context.lock().unwrap_or_else(PoisonError::into_inner) {
            let _ = ctx.cancel();
        }
    }

    fn is_stopped(&self) -> bool {
        *self.stopped.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps for `d` unless stopped first; returns whether stopped.
    fn sleep(&self, d: Duration) -> bool {
        let guard = self.stopped.lock().unwrap_or_else(PoisonError::into_inner);
        let (guard, _) = self
            .wake
            .wait_timeout_while(guard, d, |stopped| !*stopped)
            .unwrap_or_else(PoisonError::into_inner);
        *guard
    }

    fn set_context(&self, ctx: Option<Context>) {
        *self.context.lock().unwrap_or_else(PoisonError::into_inner) = ctx;
    }
}

/// Longest single wait in `SCardGetStatusChange`. Events wake the thread at once; this
/// only bounds how long a stop that raced with entering the wait can go unnoticed.
const SAFETY_NET: Duration = Duration::from_secs(5);

/// Why a session with pcscd ended.
enum End {
    /// Stopped by the handle, or nobody listens to the events any more.
    Stop,
    /// The context failed (pcscd gone): establish a new one.
    ContextLost,
}

fn run(options: &PcscOptions, events: &Sender<ReaderEvent>, shared: &Shared) {
    const FIRST_BACKOFF: Duration = Duration::from_millis(50);
    let mut backoff = FIRST_BACKOFF;
    let mut exchanger = Exchanger::new(options.connect_timeout, options.deadline);
    while !shared.is_stopped() {
        let ctx = match Context::establish(Scope::User) {
            Ok(ctx) => ctx,
            Err(_) => {
                if shared.sleep(backoff) {
                    return;
                }
                backoff = (backoff * 2).min(options.max_backoff);
                continue;
            }
        };
        shared.set_context(Some(ctx.clone()));
        let mut session = Session {
            ctx,
            shared,
            options,
            events,
            states: Vec::new(),
            exchanger: &mut exchanger,
        };
        let started = Instant::now();
        let end = session.run();
        let ended = session.detach_all();
        shared.set_context(None);
        if matches!(end, End::Stop) || ended.is_err() {
            return;
        }
        // A session that lasted resets the backoff; one that failed at once grows it.
        if started.elapsed() > options.max_backoff {
            backoff = FIRST_BACKOFF;
        } else if shared.sleep(backoff) {
            return;
        } else {
            backoff = (backoff * 2).min(options.max_backoff);
        }
    }
}

/// What the thread knows of one reader.
struct Watched {
    state: ReaderState,
    name: String,
    present: bool,
    count: u32,
}

/// One context's life: from establishing it to its loss or the stop.
struct Session<'a> {
    ctx: Context,
    shared: &'a Shared,
    options: &'a PcscOptions,
    events: &'a Sender<ReaderEvent>,
    states: Vec<Watched>,
    exchanger: &'a mut Exchanger,
}

impl Session<'_> {
    fn run(&mut self) -> End {
        let mut pnp = ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE);
        let mut refresh = true;
        loop {
            if refresh {
                refresh = false;
                if let Err(end) = self.refresh() {
                    return end;
                }
                // Learn the PnP pseudo-reader's current state without waiting.
                let mut probe = [ReaderState::new(PNP_NOTIFICATION(), State::UNAWARE)];
                if self
                    .ctx
                    .get_status_change(Duration::ZERO, &mut probe)
                    .is_ok()
                {
                    probe[0].sync_current_state();
                    pnp = ReaderState::new(PNP_NOTIFICATION(), probe[0].current_state());
                }
            }
            let mut all: Vec<ReaderState> = Vec::with_capacity(self.states.len() + 1);
            all.push(ReaderState::new(PNP_NOTIFICATION(), pnp.current_state()));
            all.extend(
                self.states
                    .iter()
                    .map(|w| ReaderState::new(w.state.name().to_owned(), w.state.current_state())),
            );
            // The stop flag is set before the context is cancelled: checked here, a stop
            // is never missed for longer than the safety-net timeout.
            if self.shared.is_stopped() {
                return End::Stop;
            }
            match self.ctx.get_status_change(SAFETY_NET, &mut all) {
                Ok(()) => {}
                Err(Error::Timeout) => continue,
                Err(Error::UnknownReader) => {
                    refresh = true;
                    continue;
                }
                Err(Error::Cancelled) => return End::Stop,
                Err(e) if is_context_lost(e) => return End::ContextLost,
                Err(_) => return End::ContextLost,
            }
            let mut states = all.into_iter();
            if let Some(mut p) = states.next() {
                if p.event_state().contains(State::CHANGED) {
                    refresh = true;
                }
                p.sync_current_state();
                pnp = p;
            }
            for (i, mut state) in states.enumerate() {
                let event = state.event_state();
                state.sync_current_state();
                if event.intersects(State::UNKNOWN | State::UNAVAILABLE) {
                    refresh = true;
                }
                if let Some(w) = self.states.get_mut(i) {
                    w.state = state;
                }
                if event.contains(State::CHANGED) && self.card_changed(i, event).is_err() {
                    return End::Stop;
                }
            }
            if self.events.is_closed() {
                return End::Stop;
            }
        }
    }

    /// Re-lists the readers; reports the ones that came and went.
    fn refresh(&mut self) -> Result<(), End> {
        let names = match self.ctx.list_readers_owned() {
            Ok(names) => names,
            Err(Error::NoReadersAvailable) => Vec::new(),
            Err(_) => return Err(End::ContextLost),
        };
        let wanted = |n: &CStr| {
            self.options.readers.is_empty()
                || self
                    .options
                    .readers
                    .iter()
                    .any(|w| w.as_bytes() == n.to_bytes())
        };
        let names: Vec<CString> = names.into_iter().filter(|n| wanted(n)).collect();
        let mut gone = Vec::new();
        self.states.retain(|w| {
            let keep = names.iter().any(|n| n.as_c_str() == w.state.name());
            if !keep {
                gone.push((w.name.clone(), w.present));
            }
            keep
        });
        for (reader, present) in gone {
            if present {
                self.send(ReaderEvent::Removed {
                    reader: reader.clone(),
                    at: Instant::now(),
                })?;
            }
            self.send(ReaderEvent::Detached { reader })?;
        }
        for name in names {
            if self
                .states
                .iter()
                .any(|w| w.state.name() == name.as_c_str())
            {
                continue;
            }
            let reader = name.to_string_lossy().into_owned();
            self.states.push(Watched {
                state: ReaderState::new(name, State::UNAWARE),
                name: reader.clone(),
                present: false,
                count: 0,
            });
            self.send(ReaderEvent::Attached { reader })?;
        }
        Ok(())
    }

    /// Handles a state change of reader `i`: a new card is read, a removal reported.
    fn card_changed(&mut self, i: usize, event: State) -> Result<(), End> {
        let at = Instant::now();
        let Some(w) = self.states.get_mut(i) else {
            return Ok(());
        };
        let present = event.contains(State::PRESENT);
        let count = w.state.event_count();
        let was_present = std::mem::replace(&mut w.present, present);
        let new_card = present && (!was_present || count != w.count);
        w.count = count;
        let reader = w.name.clone();
        let name = w.state.name().to_owned();
        if was_present && (!present || new_card) {
            self.send(ReaderEvent::Removed {
                reader: reader.clone(),
                at,
            })?;
        }
        if !new_card {
            return Ok(());
        }
        let event = if event.contains(State::MUTE) {
            ReaderEvent::ReadFailed {
                reader,
                kind: ReadErrorKind::Mute,
                at,
            }
        } else {
            match self.exchanger.read_uid(&name) {
                Ok((card, exchange)) => ReaderEvent::Card(CardEvent {
                    reader,
                    card,
                    at,
                    exchange,
                    authentication: Authentication::NotAttempted,
                }),
                Err(kind) => ReaderEvent::ReadFailed { reader, kind, at },
            }
        };
        self.send(event)
    }

    /// Reports every watched reader detached (the context is going away).
    fn detach_all(&mut self) -> Result<(), End> {
        for w in std::mem::take(&mut self.states) {
            if w.present {
                self.send(ReaderEvent::Removed {
                    reader: w.name.clone(),
                    at: Instant::now(),
                })?;
            }
            self.send(ReaderEvent::Detached { reader: w.name })?;
        }
        Ok(())
    }

    fn send(&self, event: ReaderEvent) -> Result<(), End> {
        self.events.blocking_send(event).map_err(|_| End::Stop)
    }
}
