//! The door loop for a dedicated thread: waits for the next input or the machine's next
//! deadline, feeds the machine and moves the lock. Blocking by design (GPIO waits never
//! run on the async runtime).

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use super::{DoorMachine, HardwareError, Input, Lock, MonoTime, Output, TimedInput, TimedOutput};

/// What one [`DoorDriver::step`] did.
#[derive(Debug)]
pub struct Step {
    /// The machine's outputs, in order: journal the events.
    pub outputs: Vec<TimedOutput>,
    /// The lock failed to move (the machine has moved on regardless): raise an alarm.
    pub lock_error: Option<HardwareError>,
}

/// A [`DoorMachine`] wired to a [`Lock`] and a channel of inputs.
pub struct DoorDriver<L: Lock> {
    machine: DoorMachine,
    lock: L,
    epoch: Instant,
    inputs: Receiver<TimedInput>,
}

impl<L: Lock> DoorDriver<L> {
    /// Drives `lock` from `machine`, with [`MonoTime`]s counted from `epoch` (the agent's
    /// start). `lock` must already be at its idle (engaged) level.
    pub fn new(
        machine: DoorMachine,
        lock: L,
        epoch: Instant,
        inputs: Receiver<TimedInput>,
    ) -> Self {
        DoorDriver {
            machine,
            lock,
            epoch,
            inputs,
        }
    }

    /// The machine (for status reporting).
    pub fn machine(&self) -> &DoorMachine {
        &self.machine
    }

    /// Waits at most `max_wait` (less if a deadline falls sooner) for an input, feeds it
    /// (or a tick) to the machine, applies its relay commands to the lock and returns
    /// every output, relay commands included, for the journal.
    ///
    /// Fails only with [`HardwareError::InputsClosed`], when every input sender is gone.
    pub fn step(&mut self, max_wait: Duration) -> Result<Step, HardwareError> {
        let now = MonoTime::since(self.epoch, Instant::now());
        let wait = self
            .machine
            .next_deadline()
            .map_or(max_wait, |at| at.saturating_sub(now).min(max_wait));
        let (input, at) = match self.inputs.recv_timeout(wait) {
            Ok(timed) => (timed.input, MonoTime::since(self.epoch, timed.at)),
            Err(RecvTimeoutError::Timeout) => {
                (Input::Tick, MonoTime::since(self.epoch, Instant::now()))
            }
            Err(RecvTimeoutError::Disconnected) => return Err(HardwareError::InputsClosed),
        };
        let outputs = self.machine.handle(input, at);
        let mut lock_error = None;
        for output in &outputs {
            if let Output::Relay(command) = output.output
                && let Err(e) = self.lock.set(command.state())
            {
                lock_error = Some(e);
            }
        }
        Ok(Step {
            outputs,
            lock_error,
        })
    }
}
