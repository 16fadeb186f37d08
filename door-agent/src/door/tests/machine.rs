//! The machine's behaviour, one row per situation: inputs at given milliseconds, and
//! every output expected with its time.

use std::time::Duration;

use super::{
    CLOSE, DoorEvent::*, DoorMachine, DoorMode, DoorTiming, EXIT, Input, LOCK, MonoTime, OPEN,
    Output, TICK, UNLOCK, ev, grant, run, timing,
};

struct Row {
    name: &'static str,
    timing: DoorTiming,
    mode: DoorMode,
    steps: Vec<(u64, Input)>,
    expect: Vec<(u64, Output)>,
}

fn row(name: &'static str, steps: Vec<(u64, Input)>, expect: Vec<(u64, Output)>) -> Row {
    Row {
        name,
        timing: timing(),
        mode: DoorMode::Normal,
        steps,
        expect,
    }
}

/// The test timing with other unlock and held-open times, as a policy change sends it.
fn retimed(unlock_ms: u64, held_open_ms: u64) -> Input {
    Input::SetTiming(DoorTiming {
        unlock: Duration::from_millis(unlock_ms),
        held_open: Duration::from_millis(held_open_ms),
        ..timing()
    })
}

fn with_timing(mut row: Row, change: impl FnOnce(&mut DoorTiming)) -> Row {
    change(&mut row.timing);
    row
}

fn in_mode(mut row: Row, mode: DoorMode) -> Row {
    row.mode = mode;
    row
}

fn rows() -> Vec<Row> {
    let m = Input::SetMode;
    vec![
        row(
            "grant, open, close: relock on close, no alarm at the unlock time",
            vec![(0, grant(3000)), (500, OPEN), (2000, CLOSE)],
            vec![
                (0, UNLOCK),
                (550, ev(DoorOpened)),
                (2050, ev(DoorClosed)),
                (2050, LOCK),
            ],
        ),
        row(
            "grant, never opened: relock and alarm at the unlock time",
            vec![(0, grant(3000))],
            vec![(0, UNLOCK), (3000, LOCK), (3000, ev(NotOpenedAfterGrant))],
        ),
        row(
            "grant, open past the unlock time: relock then, held open at edge + held-open",
            vec![(0, grant(3000)), (100, OPEN), (12_000, CLOSE)],
            vec![
                (0, UNLOCK),
                (150, ev(DoorOpened)),
                (3000, LOCK),
                (10_100, ev(HeldOpen)),
                (12_050, ev(DoorClosed)),
                (12_050, ev(HeldOpenCleared)),
            ],
        ),
        row(
            "forced open: alarm, no held-open, relay never moves",
            vec![(1000, OPEN), (30_000, CLOSE)],
            vec![
                (1050, ev(DoorOpened)),
                (1050, ev(ForcedOpen)),
                (30_050, ev(DoorClosed)),
            ],
        ),
        row(
            "exit request releases the lock and relocks on close",
            vec![(0, EXIT), (200, OPEN), (1000, CLOSE)],
            vec![
                (0, ev(ExitRequested)),
                (0, UNLOCK),
                (250, ev(DoorOpened)),
                (1050, ev(DoorClosed)),
                (1050, LOCK),
            ],
        ),
        with_timing(
            row(
                "exit request with a mechanical handle: no relay, no alarm",
                vec![(0, EXIT), (200, OPEN), (1000, CLOSE), (5000, EXIT)],
                vec![
                    (0, ev(ExitRequested)),
                    (250, ev(DoorOpened)),
                    (1050, ev(DoorClosed)),
                    (5000, ev(ExitRequested)),
                ],
            ),
            |t| t.exit_unlocks = false,
        ),
        row(
            "contact bounce within the debounce: no event",
            vec![
                (1000, OPEN),
                (1020, CLOSE),
                (1030, OPEN),
                (1040, CLOSE),
                (1079, OPEN),
                (1080, CLOSE),
            ],
            vec![],
        ),
        row(
            "a 400 ms opening is processed",
            vec![(1000, OPEN), (1400, CLOSE)],
            vec![
                (1050, ev(DoorOpened)),
                (1050, ev(ForcedOpen)),
                (1450, ev(DoorClosed)),
            ],
        ),
        with_timing(
            row(
                "a 400 ms opening is processed even with an absurd debounce (clamped)",
                vec![(1000, OPEN), (1400, CLOSE)],
                vec![
                    (1200, ev(DoorOpened)),
                    (1200, ev(ForcedOpen)),
                    (1600, ev(DoorClosed)),
                ],
            ),
            |t| t.debounce = Duration::from_secs(10),
        ),
        in_mode(
            row(
                "locked mode: a grant (exempt person) still releases",
                vec![(0, grant(3000))],
                vec![(0, UNLOCK), (3000, LOCK), (3000, ev(NotOpenedAfterGrant))],
            ),
            DoorMode::Locked,
        ),
        row(
            "entering locked mode relocks at once",
            vec![(0, grant(3000)), (100, m(DoorMode::Locked))],
            vec![(0, UNLOCK), (100, LOCK), (3000, ev(NotOpenedAfterGrant))],
        ),
        in_mode(
            row(
                "unlocked mode keeps the relay released; openings are free",
                vec![
                    (0, TICK),
                    (100, grant(1000)),
                    (2000, OPEN),
                    (60_000, CLOSE),
                    (70_000, m(DoorMode::Normal)),
                ],
                vec![
                    (0, UNLOCK),
                    (2050, ev(DoorOpened)),
                    (60_050, ev(DoorClosed)),
                    (70_000, LOCK),
                ],
            ),
            DoorMode::Unlocked,
        ),
        in_mode(
            row(
                "leaving unlocked mode with the door open starts the held-open timer",
                vec![(0, TICK), (100, OPEN), (1000, m(DoorMode::Normal))],
                vec![
                    (0, UNLOCK),
                    (150, ev(DoorOpened)),
                    (1000, LOCK),
                    (11_000, ev(HeldOpen)),
                ],
            ),
            DoorMode::Unlocked,
        ),
        row(
            "grant while the door stands open: closing relocks, no not-opened alarm",
            vec![(0, OPEN), (1000, grant(3000)), (1500, CLOSE)],
            vec![
                (50, ev(DoorOpened)),
                (50, ev(ForcedOpen)),
                (1000, UNLOCK),
                (1550, ev(DoorClosed)),
                (1550, LOCK),
            ],
        ),
        row(
            "an opening edge just inside the window is legitimate once debounced",
            vec![(0, grant(3000)), (2990, OPEN), (4000, CLOSE)],
            vec![
                (0, UNLOCK),
                (3000, LOCK),
                (3040, ev(DoorOpened)),
                (4050, ev(DoorClosed)),
            ],
        ),
        row(
            "an opening at the end of the window is forced",
            vec![(0, grant(3000)), (3000, OPEN)],
            vec![
                (0, UNLOCK),
                (3000, LOCK),
                (3000, ev(NotOpenedAfterGrant)),
                (3050, ev(DoorOpened)),
                (3050, ev(ForcedOpen)),
            ],
        ),
        row(
            "a bounce across the end of the window: not opened",
            vec![(0, grant(3000)), (2990, OPEN), (3010, CLOSE)],
            vec![(0, UNLOCK), (3000, LOCK), (3010, ev(NotOpenedAfterGrant))],
        ),
        row(
            "after relock on close, a second opening in the same period is forced",
            vec![(0, grant(5000)), (100, OPEN), (1000, CLOSE), (2000, OPEN)],
            vec![
                (0, UNLOCK),
                (150, ev(DoorOpened)),
                (1050, ev(DoorClosed)),
                (1050, LOCK),
                (2050, ev(DoorOpened)),
                (2050, ev(ForcedOpen)),
            ],
        ),
        row(
            "a second grant extends the release",
            vec![(0, grant(3000)), (2000, grant(3000))],
            vec![(0, UNLOCK), (5000, LOCK), (5000, ev(NotOpenedAfterGrant))],
        ),
        row(
            "a shorter unlock time does not cut short the exit release running",
            vec![(0, EXIT), (500, retimed(1000, 10_000)), (5000, EXIT)],
            vec![
                (0, ev(ExitRequested)),
                (0, UNLOCK),
                (3000, LOCK),
                (5000, ev(ExitRequested)),
                (5000, UNLOCK),
                (6000, LOCK),
            ],
        ),
        row(
            "a longer unlock time does not stretch the exit release running",
            vec![(0, EXIT), (500, retimed(8000, 10_000)), (5000, EXIT)],
            vec![
                (0, ev(ExitRequested)),
                (0, UNLOCK),
                (3000, LOCK),
                (5000, ev(ExitRequested)),
                (5000, UNLOCK),
                (13_000, LOCK),
            ],
        ),
        row(
            "a held-open timer running keeps its end; the next opening uses the new time",
            vec![
                (0, grant(3000)),
                (100, OPEN),
                (1000, retimed(3000, 2000)),
                (12_000, CLOSE),
                (20_000, grant(3000)),
                (20_100, OPEN),
                (30_000, CLOSE),
            ],
            vec![
                (0, UNLOCK),
                (150, ev(DoorOpened)),
                (3000, LOCK),
                (10_100, ev(HeldOpen)),
                (12_050, ev(DoorClosed)),
                (12_050, ev(HeldOpenCleared)),
                (20_000, UNLOCK),
                (20_150, ev(DoorOpened)),
                (22_100, ev(HeldOpen)),
                (23_000, LOCK),
                (30_050, ev(DoorClosed)),
                (30_050, ev(HeldOpenCleared)),
            ],
        ),
        row(
            "a longer held-open time before the opening is the one used",
            vec![
                (0, retimed(3000, 60_000)),
                (10, grant(3000)),
                (100, OPEN),
                (50_000, CLOSE),
            ],
            vec![
                (10, UNLOCK),
                (150, ev(DoorOpened)),
                (3010, LOCK),
                (50_050, ev(DoorClosed)),
            ],
        ),
        row(
            "an edge seen before the grant is still a forced opening",
            vec![(0, OPEN), (20, grant(3000))],
            vec![
                (20, UNLOCK),
                (50, ev(DoorOpened)),
                (50, ev(ForcedOpen)),
                (3020, LOCK),
            ],
        ),
        row(
            "tamper: raised and cleared once per change, the relay untouched",
            vec![
                (0, Input::Tamper(true)),
                (10, Input::Tamper(true)),
                (20, Input::Tamper(false)),
                (30, Input::Tamper(false)),
                (40, Input::Tamper(true)),
            ],
            vec![(0, ev(Tamper)), (20, ev(TamperCleared)), (40, ev(Tamper))],
        ),
        row(
            "tamper during a grant leaves the unlock as it was",
            vec![(0, grant(1000)), (100, Input::Tamper(true))],
            vec![
                (0, UNLOCK),
                (100, ev(Tamper)),
                (1000, LOCK),
                (1000, ev(NotOpenedAfterGrant)),
            ],
        ),
    ]
}

#[test]
fn behaviour_table() {
    let mut failures = Vec::new();
    for row in rows() {
        let got = run(row.timing, row.mode, &row.steps, 100_000);
        if got != row.expect {
            failures.push(format!(
                "{}:\n  expected {:?}\n  got      {:?}",
                row.name, row.expect, got
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn held_open_is_raised_exactly_at_the_held_open_time_and_once() {
    let mut m = DoorMachine::new(timing(), DoorMode::Normal);
    let at = MonoTime::from_millis;
    assert_eq!(m.handle(grant(3000), at(0)).len(), 1);
    m.handle(OPEN, at(1000));
    m.handle(TICK, at(1050));
    m.handle(TICK, at(4000));
    assert_eq!(m.next_deadline(), Some(at(11_000)));
    assert!(
        m.handle(TICK, at(10_999)).is_empty(),
        "not yet at held-open − 1 ms"
    );
    let raised = m.handle(TICK, at(11_000));
    assert_eq!(
        raised.iter().map(|o| o.output).collect::<Vec<_>>(),
        vec![ev(HeldOpen)]
    );
    assert_eq!(
        m.next_deadline(),
        None,
        "raised once: nothing more to wait for"
    );
    assert!(m.handle(TICK, at(50_000)).is_empty());
}

#[test]
fn a_late_tick_dates_outputs_at_their_deadlines() {
    let mut m = DoorMachine::new(timing(), DoorMode::Normal);
    m.handle(grant(3000), MonoTime::from_millis(0));
    let late = m.handle(TICK, MonoTime::from_millis(9000));
    let times: Vec<u64> = late.iter().map(|o| o.at.as_millis()).collect();
    assert_eq!(times, vec![3000, 3000]);
}

#[test]
fn time_going_backwards_counts_as_the_latest_time() {
    let mut m = DoorMachine::new(timing(), DoorMode::Normal);
    m.handle(TICK, MonoTime::from_millis(5000));
    let out = m.handle(grant(3000), MonoTime::from_millis(1000));
    assert_eq!(out[0].at, MonoTime::from_millis(5000));
    assert_eq!(m.next_deadline(), Some(MonoTime::from_millis(8000)));
}

#[test]
fn set_timing_clamps_the_debounce_and_moves_nothing() {
    let mut m = DoorMachine::new(timing(), DoorMode::Normal);
    let at = MonoTime::from_millis;
    m.handle(grant(3000), at(0));
    let new = DoorTiming {
        unlock: Duration::from_millis(1000),
        held_open: Duration::from_millis(2000),
        debounce: Duration::from_secs(5),
        exit_unlocks: false,
    };
    assert!(m.handle(Input::SetTiming(new), at(100)).is_empty());
    assert_eq!(
        m.timing(),
        DoorTiming {
            debounce: Duration::from_millis(crate::door::MAX_DEBOUNCE_MS),
            ..new
        }
    );
    assert_eq!(
        m.next_deadline(),
        Some(at(3000)),
        "the release keeps its end"
    );
    let mut direct = DoorMachine::new(timing(), DoorMode::Normal);
    direct.set_timing(new);
    assert_eq!(
        direct.timing(),
        m.timing(),
        "the input and the method agree"
    );
}

#[test]
fn standing_alarms_follow_forced_held_and_tamper() {
    use gatehouse_core::protocol::DoorAlarm::{ForcedOpen, HeldOpen, Tamper};
    let at = MonoTime::from_millis;
    let mut m = DoorMachine::new(timing(), DoorMode::Normal);
    m.handle(OPEN, at(0));
    m.handle(TICK, at(1000));
    assert_eq!(m.alarms(), vec![ForcedOpen], "opened without a grant");
    m.handle(Input::Tamper(true), at(1100));
    assert_eq!(m.alarms(), vec![ForcedOpen, Tamper]);
    m.handle(CLOSE, at(1200));
    m.handle(Input::Tamper(false), at(2000));
    assert!(m.alarms().is_empty(), "closed and tamper closed");
    m.handle(grant(3000), at(3000));
    m.handle(OPEN, at(3100));
    m.handle(TICK, at(3100 + 60_000));
    assert_eq!(m.alarms(), vec![HeldOpen], "held open past its time");
    m.handle(CLOSE, at(70_000));
    m.handle(TICK, at(71_000));
    assert!(m.alarms().is_empty());
}
