//! Tests of the door: the machine's behaviour table, a property test that the relay only
//! moves when something legitimate is in force, the simulated hardware through the
//! driver, and the `[hardware]` configuration.

use std::time::Duration;

use super::{
    ContactLevel, DoorEvent, DoorMachine, DoorMode, DoorTiming, Input, MonoTime, Output,
    RelayCommand,
};

mod config;
mod hardware;
mod machine;
mod prop;

/// The timing most tests use: 3 s unlock, 10 s held-open, 50 ms debounce, REX unlocks.
fn timing() -> DoorTiming {
    DoorTiming {
        unlock: Duration::from_millis(3000),
        held_open: Duration::from_millis(10_000),
        debounce: Duration::from_millis(50),
        exit_unlocks: true,
    }
}

fn grant(ms: u64) -> Input {
    Input::Grant {
        unlock_for: Duration::from_millis(ms),
    }
}

const OPEN: Input = Input::Contact(ContactLevel::Open);
const CLOSE: Input = Input::Contact(ContactLevel::Closed);
const EXIT: Input = Input::ExitRequest;
const TICK: Input = Input::Tick;
const UNLOCK: Output = Output::Relay(RelayCommand::Unlock);
const LOCK: Output = Output::Relay(RelayCommand::Lock);

const fn ev(event: DoorEvent) -> Output {
    Output::Event(event)
}

/// Feeds `steps` (milliseconds, input) to a fresh machine the way the agent loop does:
/// ticking at every deadline in between, and up to `end`. Returns (ms, output) pairs.
fn run(timing: DoorTiming, mode: DoorMode, steps: &[(u64, Input)], end: u64) -> Vec<(u64, Output)> {
    let mut runner = Runner {
        machine: DoorMachine::new(timing, mode),
        out: Vec::new(),
    };
    for &(ms, input) in steps {
        runner.tick_until(ms);
        runner.feed(input, MonoTime::from_millis(ms));
    }
    runner.tick_until(end);
    runner.out
}

struct Runner {
    machine: DoorMachine,
    out: Vec<(u64, Output)>,
}

impl Runner {
    fn feed(&mut self, input: Input, at: MonoTime) {
        let outputs = self.machine.handle(input, at);
        if let Some(next) = self.machine.next_deadline() {
            assert!(next > at, "deadline {next:?} left unprocessed at {at:?}");
        }
        self.out
            .extend(outputs.into_iter().map(|o| (o.at.as_millis(), o.output)));
    }

    fn tick_until(&mut self, ms: u64) {
        while let Some(at) = self
            .machine
            .next_deadline()
            .filter(|at| at.as_millis() <= ms)
        {
            self.feed(TICK, at);
        }
    }
}
