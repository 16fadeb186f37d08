//! Property: on any sequence of inputs, the relay releases only in answer to a grant, an
//! exit request (when configured) or unlocked mode, while that is in force; it never
//! stays released beyond them; and the door events keep their shape (opened/closed
//! alternate, held-open raised at most once per opening and cleared only after it), timing
//! changes included.

use std::time::Duration;

use proptest::prelude::*;

use super::{CLOSE, EXIT, OPEN, TICK, grant};
use crate::door::{
    DoorEvent, DoorMachine, DoorMode, DoorTiming, Input, MonoTime, Output, RelayCommand,
    RelayState, TimedOutput,
};

fn arb_mode() -> impl Strategy<Value = DoorMode> {
    prop_oneof![
        3 => Just(DoorMode::Normal),
        1 => Just(DoorMode::Locked),
        1 => Just(DoorMode::Unlocked),
    ]
}

fn arb_input() -> impl Strategy<Value = Input> {
    prop_oneof![
        2 => (0u64..6000).prop_map(grant),
        1 => Just(EXIT),
        3 => Just(OPEN),
        3 => Just(CLOSE),
        1 => arb_mode().prop_map(Input::SetMode),
        1 => arb_timing().prop_map(Input::SetTiming),
        1 => Just(TICK),
    ]
}

fn arb_timing() -> impl Strategy<Value = DoorTiming> {
    (1u64..6000, 1u64..20_000, 0u64..300, any::<bool>()).prop_map(
        |(unlock, held, debounce, exit)| DoorTiming {
            unlock: Duration::from_millis(unlock),
            held_open: Duration::from_millis(held),
            debounce: Duration::from_millis(debounce),
            exit_unlocks: exit,
        },
    )
}

/// What the test knows independently of the machine.
struct Model {
    timing: DoorTiming,
    mode: DoorMode,
    first_call: bool,
    /// The latest end of any grant's or releasing exit request's period.
    justified_until: u64,
    relay: RelayState,
    open: bool,
    held_raised: bool,
}

impl Model {
    fn check(
        &mut self,
        input: Input,
        at: u64,
        outputs: &[TimedOutput],
    ) -> Result<(), TestCaseError> {
        let justifies = match input {
            Input::Grant { unlock_for } => {
                self.justified_until = self.justified_until.max(at + ms(unlock_for));
                true
            }
            Input::ExitRequest if self.timing.exit_unlocks => {
                self.justified_until = self.justified_until.max(at + ms(self.timing.unlock));
                true
            }
            Input::SetMode(mode) => {
                self.mode = mode;
                mode == DoorMode::Unlocked
            }
            Input::SetTiming(timing) => {
                self.timing = timing;
                false
            }
            _ => false,
        };
        let starts_unlocked = self.first_call && self.mode == DoorMode::Unlocked;
        self.first_call = false;
        for o in outputs {
            let when = o.at.as_millis();
            prop_assert!(when <= at, "output dated {} after its call at {}", when, at);
            match o.output {
                Output::Relay(RelayCommand::Unlock) => {
                    prop_assert_eq!(self.relay, RelayState::Engaged, "unlock twice");
                    prop_assert!(justifies || starts_unlocked, "unlock on {:?}", input);
                    prop_assert!(
                        self.mode == DoorMode::Unlocked || self.justified_until > when,
                        "unlock at {} with nothing in force",
                        when
                    );
                    self.relay = RelayState::Released;
                }
                Output::Relay(RelayCommand::Lock) => {
                    prop_assert_eq!(self.relay, RelayState::Released, "lock twice");
                    self.relay = RelayState::Engaged;
                }
                Output::Event(e) => self.event(e)?,
            }
        }
        if self.relay == RelayState::Released {
            prop_assert!(
                self.mode == DoorMode::Unlocked || self.justified_until > at,
                "released at {} after everything ended at {}",
                at,
                self.justified_until
            );
        }
        Ok(())
    }

    fn event(&mut self, e: DoorEvent) -> Result<(), TestCaseError> {
        match e {
            DoorEvent::DoorOpened => {
                prop_assert!(!self.open, "opened twice");
                self.open = true;
            }
            DoorEvent::DoorClosed => {
                prop_assert!(self.open, "closed twice");
                self.open = false;
            }
            DoorEvent::HeldOpen => {
                prop_assert!(
                    self.open && !self.held_raised,
                    "held open raised twice or shut"
                );
                self.held_raised = true;
            }
            DoorEvent::HeldOpenCleared => {
                prop_assert!(self.held_raised && !self.open, "cleared without alarm");
                self.held_raised = false;
            }
            DoorEvent::ForcedOpen => prop_assert!(self.open, "forced while shut"),
            DoorEvent::NotOpenedAfterGrant | DoorEvent::ExitRequested => {}
            DoorEvent::Tamper | DoorEvent::TamperCleared => {
                prop_assert!(false, "tamper events without a tamper input")
            }
        }
        Ok(())
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn relay_moves_only_when_justified(
        timing in arb_timing(),
        mode in arb_mode(),
        steps in prop::collection::vec((0u64..2500, arb_input()), 0..80),
        tick_deadlines in any::<bool>(),
    ) {
        let mut machine = DoorMachine::new(timing, mode);
        let mut model = Model {
            timing, mode, first_call: true, justified_until: 0,
            relay: RelayState::Engaged, open: false, held_raised: false,
        };
        let mut now = 0;
        for (dt, input) in steps {
            now += dt;
            // The agent loop ticks at deadlines; a slow one may not: both must hold.
            while let Some(at) = machine.next_deadline().filter(|at| tick_deadlines && at.as_millis() < now) {
                let out = machine.handle(TICK, at);
                model.check(TICK, at.as_millis(), &out)?;
            }
            let out = machine.handle(input, MonoTime::from_millis(now));
            model.check(input, now, &out)?;
            prop_assert!(machine.next_deadline().is_none_or(|d| d.as_millis() > now));
            prop_assert_eq!(machine.relay(), model.relay);
        }
        let end = now + 1_000_000;
        let out = machine.handle(TICK, MonoTime::from_millis(end));
        model.check(TICK, end, &out)?;
        prop_assert_eq!(machine.next_deadline(), None);
        if model.mode != DoorMode::Unlocked {
            prop_assert_eq!(machine.relay(), RelayState::Engaged);
        }
    }
}
