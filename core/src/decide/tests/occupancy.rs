//! Rule 9b, maximum occupancy: one row per boundary, each with who is inside where
//! beforehand, then sequences where the count changes (exits, two-person pairs,
//! escorts).

use super::check_shape;
use crate::decide::{Alarm, Decision, Direction, EngineState, Outcome, Presence, Reason, decide};
use crate::fixture::*;
use crate::model::*;
use crate::policy::{Policy, PolicySource};
use chrono::Duration;
use uuid::Uuid;

/// Holders who exist only as presences: they fill zones without presenting a card.
const fn other(n: u128) -> Uuid {
    Uuid::from_u128(0x900 + n)
}
const O1: Uuid = other(1);
const O2: Uuid = other(2);
const O3: Uuid = other(3);
const O4: Uuid = other(4);

/// PUBLIC → CTRL_CHILD directly, skipping CTRL.
const DOOR_BYPASS: Uuid = Uuid::from_u128(0x23);

struct Row {
    name: &'static str,
    /// Zone limits, as (zone, max_occupancy).
    limits: &'static [(Uuid, Option<u32>)],
    /// Who is inside where before the presentation.
    inside: &'static [(Uuid, Uuid)],
    setup: fn(&mut PolicySource),
    card: &'static str,
    door: Uuid,
    direction: Direction,
    expect: Reason,
    alarms: &'static [Alarm],
}

const fn row(
    name: &'static str,
    limits: &'static [(Uuid, Option<u32>)],
    inside: &'static [(Uuid, Uuid)],
    expect: Reason,
) -> Row {
    Row {
        name,
        limits,
        inside,
        setup: |_| {},
        card: ALICE_CARD,
        door: DOOR,
        direction: Direction::Entry,
        expect,
        alarms: &[],
    }
}

impl Row {
    const fn setup(mut self, setup: fn(&mut PolicySource)) -> Self {
        self.setup = setup;
        self
    }
    const fn card(mut self, card: &'static str) -> Self {
        self.card = card;
        self
    }
    const fn door(mut self, door: Uuid) -> Self {
        self.door = door;
        self
    }
    const fn exit(mut self) -> Self {
        self.direction = Direction::Exit;
        self
    }
    const fn alarms(mut self, alarms: &'static [Alarm]) -> Self {
        self.alarms = alarms;
        self
    }
}

use Reason::{DoorLocked, Granted, NoGrant, UnknownCredential, ZoneFull};

const CTRL_3: &[(Uuid, Option<u32>)] = &[(CTRL, Some(3))];
const TWO_IN_CTRL: &[(Uuid, Uuid)] = &[(O1, CTRL), (O2, CTRL)];
const THREE_IN_CTRL: &[(Uuid, Uuid)] = &[(O1, CTRL), (O2, CTRL), (O3, CTRL)];

fn soft(s: &mut PolicySource) {
    zone_mut(s, CTRL).anti_passback = AntiPassback::Soft;
}
fn hard(s: &mut PolicySource) {
    zone_mut(s, CTRL).anti_passback = AntiPassback::Hard;
}
fn bypass(s: &mut PolicySource) {
    let mut door = s.doors[0].clone();
    (door.id, door.to_zone_id) = (DOOR_BYPASS, CTRL_CHILD);
    s.doors.push(door);
}

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // The boundary: limit - 1 inside admits one more, limit inside admits no one.
    row("no limit, many inside", &[(CTRL, None)], &[(O1, CTRL), (O2, CTRL), (O3, CTRL), (O4, CTRL)], Granted),
    row("limit 3, empty", CTRL_3, &[], Granted),
    row("limit 3, 2 inside", CTRL_3, TWO_IN_CTRL, Granted),
    row("limit 3, 3 inside", CTRL_3, THREE_IN_CTRL, ZoneFull),
    row("limit 3, 4 inside (limit lowered)", CTRL_3, &[(O1, CTRL), (O2, CTRL), (O3, CTRL), (O4, CTRL)], ZoneFull),
    row("limit 1, empty", &[(CTRL, Some(1))], &[], Granted),
    row("limit 1, 1 inside", &[(CTRL, Some(1))], &[(O1, CTRL)], ZoneFull),
    row("limit 0 admits no one", &[(CTRL, Some(0))], &[], ZoneFull),
    row("limit u32::MAX", &[(CTRL, Some(u32::MAX))], THREE_IN_CTRL, Granted),
    // Re-entry: the holder already inside is one of the count, and adds no one.
    row("holder inside re-enters a full zone", CTRL_3, &[(O1, CTRL), (O2, CTRL), (ALICE, CTRL)], Granted),
    row("holder in a child re-enters a full zone", CTRL_3, &[(O1, CTRL), (O2, CTRL), (ALICE, CTRL_CHILD)], Granted),
    row("holder inside re-enters a zone of limit 0", &[(CTRL, Some(0))], &[(ALICE, CTRL)], Granted),
    row("holder outside does not count", CTRL_3, &[(O1, CTRL), (O2, CTRL), (ALICE, PUBLIC)], Granted),
    // Descendants count; the outside and siblings do not.
    row("child zone counts", CTRL_3, &[(O1, CTRL), (O2, CTRL), (O3, CTRL_CHILD)], ZoneFull),
    row("grandchild-level zone counts", CTRL_3, &[(O1, CTRL_CHILD), (O2, SECURE), (O3, SECURE)], ZoneFull),
    row("parent zone does not count", CTRL_3, &[(O1, CTRL), (O2, CTRL), (O3, PUBLIC)], Granted),
    row("a zone unknown to the policy does not count", CTRL_3, &[(O1, CTRL), (O2, CTRL), (O3, Uuid::from_u128(0x1f))], Granted),
    row("child limit, child full", &[(CTRL_CHILD, Some(1))], &[(O1, CTRL_CHILD)], ZoneFull).door(DOOR_CHILD),
    row("child limit, only the parent full of others", &[(CTRL_CHILD, Some(1))], THREE_IN_CTRL, Granted).door(DOOR_CHILD),
    // Enclosing zones: counted only when the door leads into them from outside.
    row("full parent, door from within it", CTRL_3, &[(O1, CTRL), (O2, CTRL), (O3, CTRL), (ALICE, CTRL)], Granted).door(DOOR_CHILD),
    row("full parent, door from within it, holder unseen", CTRL_3, THREE_IN_CTRL, Granted).door(DOOR_CHILD),
    row("full parent, door from outside it into a child", CTRL_3, THREE_IN_CTRL, ZoneFull).door(DOOR_BYPASS).setup(bypass),
    row("parent with room, door from outside it into a child", CTRL_3, TWO_IN_CTRL, Granted).door(DOOR_BYPASS).setup(bypass),
    row("full root, door from within it", &[(PUBLIC, Some(2))], &[(O1, PUBLIC), (O2, CTRL)], Granted),
    row("full child, not entered", &[(CTRL_CHILD, Some(1))], &[(O1, CTRL_CHILD)], Granted),
    // Exits always grant and never count.
    row("exit from a full zone", CTRL_3, THREE_IN_CTRL, Granted).exit(),
    row("exit into a full zone", &[(PUBLIC, Some(1))], &[(O1, PUBLIC), (ALICE, CTRL)], Granted).exit(),
    row("exit into a zone of limit 0", &[(PUBLIC, Some(0))], &[], Granted).exit(),
    // Anti-passback first: soft grants the re-entry with its alarm, hard refuses it.
    row("soft anti-passback, inside, full", CTRL_3, &[(O1, CTRL), (O2, CTRL), (ALICE, CTRL)], Granted).setup(soft).alarms(&[Alarm::AntiPassbackViolation]),
    row("soft anti-passback, outside, full", CTRL_3, THREE_IN_CTRL, ZoneFull).setup(soft),
    row("soft anti-passback, outside, room", CTRL_3, TWO_IN_CTRL, Granted).setup(soft),
    row("hard anti-passback, inside, full", CTRL_3, &[(O1, CTRL), (O2, CTRL), (ALICE, CTRL)], Reason::AntiPassback).setup(hard),
    row("hard anti-passback, outside, full", CTRL_3, THREE_IN_CTRL, ZoneFull).setup(hard),
    // Order against the neighbouring rules.
    row("unknown card at a full zone", CTRL_3, THREE_IN_CTRL, UnknownCredential).card("FFFF"),
    row("no grant beats full", CTRL_3, THREE_IN_CTRL, NoGrant).door(DOOR_SECURE).setup(|s| zone_mut(s, SECURE).max_occupancy = Some(0)),
    row("locked door beats full", CTRL_3, THREE_IN_CTRL, DoorLocked).setup(|s| s.doors[0].mode = DoorMode::Locked),
    row("full beats PIN", CTRL_3, THREE_IN_CTRL, ZoneFull).setup(|s| zone_mut(s, CTRL).pin_required = true),
    row("full beats two-person", CTRL_3, THREE_IN_CTRL, ZoneFull).setup(|s| zone_mut(s, CTRL).two_person = true),
    // Visitors count, and are counted, like anyone.
    row("visitor into a full zone", CTRL_3, THREE_IN_CTRL, ZoneFull).card(VISIT_CARD),
    row("visitor inside counts", CTRL_3, &[(O1, CTRL), (O2, CTRL), (VISIT, CTRL)], ZoneFull),
];

fn state_with(inside: &[(Uuid, Uuid)]) -> EngineState {
    let since = at(NOON) - Duration::minutes(10);
    let mut state = EngineState::default();
    for &(holder, zone_id) in inside {
        state.presence.insert(holder, Presence { zone_id, since });
    }
    state
}

fn policy_with(limits: &[(Uuid, Option<u32>)], setup: fn(&mut PolicySource)) -> Policy {
    let mut source = source();
    for &(zone, limit) in limits {
        zone_mut(&mut source, zone).max_occupancy = limit;
    }
    setup(&mut source);
    Policy::build(source).unwrap()
}

#[test]
fn table() {
    let mut failures = Vec::new();
    for row in ROWS {
        let policy = policy_with(row.limits, row.setup);
        let mut state = state_with(row.inside);
        let before = state.clone();
        let mut p = presentation(row.card, row.door, NOON, None);
        p.direction = row.direction;
        let d = decide(&policy, &p, &mut state);
        if d.reason != row.expect || d.alarms != row.alarms {
            failures.push(format!(
                "{}: expected {:?} {:?}, got {:?} {:?}\n  trace: {:?}",
                row.name, row.expect, row.alarms, d.reason, d.alarms, d.trace
            ));
            continue;
        }
        check_shape(row.name, &d);
        if d.reason == ZoneFull {
            assert_eq!(state, before, "{}: a refusal changes nothing", row.name);
            let last = d.trace.last().unwrap();
            assert!(last.check == crate::decide::Check::Occupancy && !last.passed);
        }
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn the_trace_says_why() {
    let policy = policy_with(CTRL_3, bypass);
    let step = |inside: &[(Uuid, Uuid)], door| {
        let mut state = state_with(inside);
        let d = run(&policy, &mut state, ALICE_CARD, door, NOON, None);
        let step = d
            .trace
            .iter()
            .find(|s| s.check == crate::decide::Check::Occupancy);
        step.map(|s| s.detail.to_string())
    };
    assert_eq!(
        step(THREE_IN_CTRL, DOOR).as_deref(),
        Some("zone full: 3 inside, limit 3")
    );
    assert_eq!(step(TWO_IN_CTRL, DOOR).as_deref(), Some("room in the zone"));
    assert_eq!(
        step(&[(ALICE, CTRL)], DOOR).as_deref(),
        Some("already inside: not counted again")
    );
    assert_eq!(
        step(THREE_IN_CTRL, DOOR_BYPASS),
        Some(format!("enclosing zone {CTRL} full: 3 inside, limit 3"))
    );
    assert_eq!(
        step(THREE_IN_CTRL, DOOR_CHILD).as_deref(),
        Some("no occupancy limit")
    );
}

fn exit(policy: &Policy, state: &mut EngineState, card: &str, door: Uuid, when: &str) -> Decision {
    let mut p = presentation(card, door, when, None);
    p.direction = Direction::Exit;
    decide(policy, &p, state)
}

const T0: &str = "2024-06-05T10:00:00Z";
const T10: &str = "2024-06-05T10:00:10Z";
const T20: &str = "2024-06-05T10:00:20Z";
const T30: &str = "2024-06-05T10:00:30Z";

#[test]
fn an_exit_frees_a_place() {
    let p = policy_with(&[(CTRL, Some(2))], |_| {});
    let mut st = EngineState::default();
    assert!(run(&p, &mut st, ALICE_CARD, DOOR, T0, None).granted());
    assert!(run(&p, &mut st, BOB_CARD, DOOR, T0, None).granted());
    assert_eq!(
        run(&p, &mut st, CAROL_CARD, DOOR, T10, None).reason,
        Reason::ZoneFull
    );
    // Moving deeper in does not free a place; leaving does.
    assert!(run(&p, &mut st, BOB_CARD, DOOR_CHILD, T10, None).granted());
    assert_eq!(
        run(&p, &mut st, CAROL_CARD, DOOR, T10, None).reason,
        Reason::ZoneFull
    );
    assert!(exit(&p, &mut st, BOB_CARD, DOOR_CHILD, T20).granted());
    assert!(exit(&p, &mut st, BOB_CARD, DOOR, T20).granted());
    assert!(run(&p, &mut st, CAROL_CARD, DOOR, T30, None).granted());
    assert_eq!(
        run(&p, &mut st, BOB_CARD, DOOR, T30, None).reason,
        Reason::ZoneFull
    );
}

#[test]
fn a_two_person_pair_needs_room_for_both() {
    let p = policy_with(&[(CTRL, Some(2))], |s| zone_mut(s, CTRL).two_person = true);
    let mut st = state_with(&[(O1, CTRL)]);
    // Room for one: the first person may wait...
    let first = run(&p, &mut st, ALICE_CARD, DOOR, T0, None);
    assert_eq!(first.reason, Reason::SecondPersonRequired);
    // ... but the pair would make three.
    let second = run(&p, &mut st, BOB_CARD, DOOR, T10, None);
    assert_eq!(second.reason, Reason::ZoneFull);
    assert_eq!(
        second.trace.last().map(|s| s.detail.to_string()).as_deref(),
        Some("zone full: 1 inside, 2 to enter, limit 2")
    );
    assert_eq!(st.pending[&DOOR].len(), 1, "the first person still waits");
    assert!(!st.presence.contains_key(&ALICE) && !st.presence.contains_key(&BOB));
    // Once a place is free, the pair goes in.
    st.presence.remove(&O1);
    let second = run(&p, &mut st, BOB_CARD, DOOR, T20, None);
    assert!(second.granted());
    assert_eq!(
        second.releases.map(|r| r.holder),
        Some(Holder::Person(ALICE))
    );
    assert_eq!(
        (st.presence[&ALICE].zone_id, st.presence[&BOB].zone_id),
        (CTRL, CTRL)
    );
}

#[test]
fn an_escort_needs_room_for_the_visitor_too() {
    let p = policy_with(&[(CTRL, Some(1))], |s| {
        zone_mut(s, CTRL).escort_required = true;
        s.visits[0].escort_required = true;
    });
    let mut st = EngineState::default();
    let visitor = run(&p, &mut st, VISIT_CARD, DOOR, T0, None);
    assert_eq!(visitor.outcome, Outcome::Pending);
    // Alice would take her visitor in: two for one place.
    let host = run(&p, &mut st, ALICE_CARD, DOOR, T10, None);
    assert_eq!(host.reason, Reason::ZoneFull);
    assert_eq!(st.pending[&DOOR].len(), 1, "the visitor still waits");
    // Carol, a contractor who is not the host, would not take the visitor: one for one.
    let carol = run(&p, &mut st, CAROL_CARD, DOOR, T10, None);
    assert!(carol.granted() && carol.releases.is_none());
    assert_eq!(st.pending[&DOOR].len(), 1);
}

#[test]
fn an_escort_with_room_takes_the_visitor_in() {
    let p = policy_with(&[(CTRL, Some(2))], |s| {
        zone_mut(s, CTRL).escort_required = true;
        s.visits[0].escort_required = true;
    });
    let mut st = EngineState::default();
    run(&p, &mut st, VISIT_CARD, DOOR, T0, None);
    let host = run(&p, &mut st, ALICE_CARD, DOOR, T10, None);
    assert!(host.granted());
    assert_eq!(host.releases.map(|r| r.holder), Some(Holder::Visit(VISIT)));
    assert_eq!(
        run(&p, &mut st, BOB_CARD, DOOR, T20, None).reason,
        Reason::ZoneFull
    );
}

#[test]
fn presences_keep_their_per_zone_tallies() {
    let since = at(NOON);
    let mut p = crate::decide::Presences::default();
    let tallies = |p: &crate::decide::Presences| p.per_zone().collect::<Vec<_>>();
    p.insert(
        O1,
        Presence {
            zone_id: CTRL,
            since,
        },
    );
    p.insert(
        O2,
        Presence {
            zone_id: CTRL,
            since,
        },
    );
    assert_eq!(tallies(&p), [(CTRL, 2)]);
    // Moving changes both zones; the same zone again changes nothing.
    p.insert(
        O2,
        Presence {
            zone_id: SECURE,
            since,
        },
    );
    p.insert(
        O1,
        Presence {
            zone_id: CTRL,
            since,
        },
    );
    assert_eq!(tallies(&p), [(CTRL, 1), (SECURE, 1)]);
    assert_eq!(p.remove(&O1).map(|x| x.zone_id), Some(CTRL));
    assert_eq!(p.remove(&O1), None);
    assert_eq!(tallies(&p), [(SECURE, 1)]);
    // Serialised as the plain map; decoding recounts.
    let bytes = postcard::to_allocvec(&p).unwrap();
    assert_eq!(bytes, postcard::to_allocvec(&*p).unwrap());
    let back: crate::decide::Presences = postcard::from_bytes(&bytes).unwrap();
    assert_eq!((tallies(&back), &back), (tallies(&p), &p));
}
