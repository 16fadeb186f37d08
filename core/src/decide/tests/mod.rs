//! Table-driven tests: one row per rule and per boundary, including rows where two rules
//! fail and the earlier must win. Stateful sequences and property tests live beside.

mod assurance;
mod occupancy;
mod props;
mod stateful;

use super::{Alarm, Check, Outcome, Reason};
use crate::decide::EngineState;
use crate::fixture::*;
use crate::model::*;
use crate::policy::{Policy, PolicySource};
use chrono::Weekday;
use uuid::Uuid;

struct Row {
    name: &'static str,
    setup: fn(&mut PolicySource),
    card: &'static str,
    door: Uuid,
    at: &'static str,
    pin: Option<&'static str>,
    expect: Reason,
    alarms: &'static [Alarm],
}

const fn row(name: &'static str, setup: fn(&mut PolicySource), expect: Reason) -> Row {
    Row {
        name,
        setup,
        card: ALICE_CARD,
        door: DOOR,
        at: NOON,
        pin: None,
        expect,
        alarms: &[],
    }
}

impl Row {
    const fn card(mut self, card: &'static str) -> Self {
        self.card = card;
        self
    }
    const fn door(mut self, door: Uuid) -> Self {
        self.door = door;
        self
    }
    const fn at(mut self, at: &'static str) -> Self {
        self.at = at;
        self
    }
    const fn pin(mut self, pin: &'static str) -> Self {
        self.pin = Some(pin);
        self
    }
    const fn alarms(mut self, alarms: &'static [Alarm]) -> Self {
        self.alarms = alarms;
        self
    }
}

use Reason::*;

fn none(_: &mut PolicySource) {}
fn alice_grant(s: &mut PolicySource) -> &mut Grant {
    find(&mut s.grants, ALICE_GRANT, |g| g.id)
}
fn with_schedule(s: &mut PolicySource, sched: Schedule) {
    s.schedules.push(sched);
    alice_grant(s).schedule_id = Some(SCHEDULE);
}
/// Alice's grant only Fri 22:00 – Sat 06:00 Berlin time.
fn friday_night(s: &mut PolicySource) {
    with_schedule(s, schedule(&[Weekday::Fri], (22, 0), (6, 0)));
}
fn new_york(s: &mut PolicySource) {
    s.sites[0].timezone = chrono_tz::America::New_York;
}
fn raise(s: &mut PolicySource, by: u8) {
    s.sites[0].threat.clearance_raise = by;
}
fn lockdown(s: &mut PolicySource) {
    s.sites[0].threat.lockdown = true;
}
fn door_locked(s: &mut PolicySource) {
    s.doors[0].mode = DoorMode::Locked;
}
fn vetting_required(s: &mut PolicySource) {
    zone_mut(s, CTRL).vetting_required = true;
}
fn pin_required(s: &mut PolicySource) {
    zone_mut(s, CTRL).pin_required = true;
}
fn vetting_until_nine(s: &mut PolicySource) {
    vetting_required(s);
    person_mut(s, ALICE).vetting = Some(Vetting {
        status: VettingStatus::Cleared,
        cleared_until: Some(at("2024-06-05T09:00:00Z")),
    });
}

#[rustfmt::skip]
const ROWS: &[Row] = &[
    row("baseline grant", none, Granted),
    row("unknown door", none, UnknownDoor).door(Uuid::from_u128(0x99)),
    row("unknown card", none, UnknownCredential).card("FFFF"),
    row("operator-typed card is normalised", none, Granted).card("a1:a1"),
    row("garbage card", none, UnknownCredential).card("not a card"),
    // Rule 2: state and validity [from, until).
    row("credential suspended", |s| card_mut(s, ALICE_CARD).state = CredentialState::Suspended, CredentialInactive),
    row("credential lost", |s| card_mut(s, ALICE_CARD).state = CredentialState::Lost, CredentialInactive),
    row("credential revoked", |s| card_mut(s, ALICE_CARD).state = CredentialState::Revoked, CredentialInactive),
    row("valid_from reached", |s| card_mut(s, ALICE_CARD).valid_from = Some(at(NOON).into()), Granted),
    row("valid_from 1 ms ahead", |s| card_mut(s, ALICE_CARD).valid_from = Some(at(NOON).into()), CredentialInactive).at("2024-06-05T09:59:59.999Z"),
    row("valid_until 1 ms ahead", |s| card_mut(s, ALICE_CARD).valid_until = Some(at("2024-06-05T09:00:00Z").into()), Granted).at("2024-06-05T08:59:59.999Z"),
    row("valid_until reached", |s| card_mut(s, ALICE_CARD).valid_until = Some(at("2024-06-05T09:00:00Z").into()), CredentialInactive).at("2024-06-05T09:00:00Z"),
    // Rule 3.
    row("person suspended", |s| person_mut(s, ALICE).status = PersonStatus::Suspended, HolderInactive),
    row("person left", |s| person_mut(s, ALICE).status = PersonStatus::Left, HolderInactive),
    row("visit under way", none, Granted).card(VISIT_CARD),
    row("visit not checked in", |s| s.visits[0].checked_in = false, HolderInactive).card(VISIT_CARD),
    row("visit checked out", |s| s.visits[0].checked_out = true, HolderInactive).card(VISIT_CARD),
    row("visit window start", none, Granted).card(VISIT_CARD).at("2024-06-05T09:00:00Z"),
    row("before visit window", none, HolderInactive).card(VISIT_CARD).at("2024-06-05T08:59:59Z"),
    row("last second of visit", none, Granted).card(VISIT_CARD).at("2024-06-05T16:59:59Z"),
    row("visit window end", none, HolderInactive).card(VISIT_CARD).at("2024-06-05T17:00:00Z"),
    // Rule 4: cleared_until is exclusive.
    row("vetting cleared, no end", vetting_required, Granted),
    row("vetting ends 09:00, at 08:59:59", vetting_until_nine, Granted).at("2024-06-05T08:59:59Z"),
    row("vetting ends 09:00, at 09:00:00", vetting_until_nine, VettingInvalid).at("2024-06-05T09:00:00Z"),
    row("vetting pending", |s| { vetting_required(s); person_mut(s, ALICE).vetting = Some(Vetting { status: VettingStatus::Pending, cleared_until: None }); }, VettingInvalid),
    row("vetting revoked", |s| { vetting_required(s); person_mut(s, ALICE).vetting = Some(Vetting { status: VettingStatus::Revoked, cleared_until: None }); }, VettingInvalid),
    row("no vetting", |s| { vetting_required(s); person_mut(s, ALICE).vetting = None; }, VettingInvalid),
    row("no vetting, zone needs none", |s| person_mut(s, ALICE).vetting = None, Granted),
    row("visitor in vetting zone", vetting_required, VettingInvalid).card(VISIT_CARD),
    row("visitor, vetting zone not in the visit", |s| zone_mut(s, SECURE).vetting_required = true, ZoneNotInVisit).card(VISIT_CARD).door(DOOR_SECURE),
    // Rule 5: clearance 3 vs level 2, raised.
    row("threat raise 1: 3 >= 2+1", |s| raise(s, 1), Granted),
    row("threat raise 2: 3 < 2+2", |s| raise(s, 2), InsufficientClearance),
    row("threat raise saturates", |s| raise(s, 255), InsufficientClearance),
    row("clearance below level", |s| person_mut(s, ALICE).clearance = 1, InsufficientClearance),
    row("raise applies to exempt people", |s| { raise(s, 2); s.sites[0].threat.exempt.insert(ALICE); }, InsufficientClearance),
    row("visit permission stands in for clearance", |s| raise(s, 2), Granted).card(VISIT_CARD),
    row("visitor, zone not allowed, level 3", none, ZoneNotInVisit).card(VISIT_CARD).door(DOOR_SECURE),
    row("visitor, zone not allowed, level 0", |s| zone_mut(s, CTRL_CHILD).level = 0, ZoneNotInVisit).card(VISIT_CARD).door(DOOR_CHILD),
    // Rule 6: coverage and validity.
    row("child of same level is covered", none, Granted).door(DOOR_CHILD),
    row("child of higher level is not", none, NoGrant).door(DOOR_SECURE),
    row("own grant on the higher child", |s| s.grants.push(grant(Uuid::from_u128(0x69), Subject::Person(ALICE), SECURE)), Granted).door(DOOR_SECURE),
    row("grant on a child does not cover the parent", |s| alice_grant(s).zone_id = CTRL_CHILD, NoGrant),
    row("grant on a lower-level ancestor does not cover", |s| alice_grant(s).zone_id = PUBLIC, NoGrant),
    row("group grant", none, Granted).card(BOB_CARD),
    row("group grant, higher child", none, NoGrant).card(BOB_CARD).door(DOOR_SECURE),
    row("left the group", |s| person_mut(s, BOB).group_ids.clear(), NoGrant).card(BOB_CARD),
    row("grant not yet valid", |s| alice_grant(s).valid_from = Some(at("2024-06-05T10:00:01Z")), NoGrant),
    row("grant valid from now", |s| alice_grant(s).valid_from = Some(at(NOON)), Granted),
    row("grant expired now", |s| alice_grant(s).valid_until = Some(at(NOON)), NoGrant),
    // Rule 7: Berlin local time; Fri 22:00–06:00 crosses midnight.
    row("weekday office hours", |s| with_schedule(s, schedule(&[Weekday::Wed], (8, 0), (18, 0))), Granted),
    row("office hours, wrong day", |s| with_schedule(s, schedule(&[Weekday::Thu], (8, 0), (18, 0))), OutsideSchedule),
    row("Fri 21:59 local", friday_night, OutsideSchedule).at("2024-06-07T19:59:00Z"),
    row("Fri 22:00 local", friday_night, Granted).at("2024-06-07T20:00:00Z"),
    row("Sat 05:59 local", friday_night, Granted).at("2024-06-08T03:59:00Z"),
    row("Sat 06:00 local", friday_night, OutsideSchedule).at("2024-06-08T04:00:00Z"),
    row("Sat holiday cuts at midnight", |s| { friday_night(s); s.schedules[0].holidays.push("2024-06-08".parse().unwrap()); }, OutsideSchedule).at("2024-06-07T22:30:00Z"),
    row("Sat holiday leaves Friday", |s| { friday_night(s); s.schedules[0].holidays.push("2024-06-08".parse().unwrap()); }, Granted).at("2024-06-07T21:59:59Z"),
    row("another grant without schedule", |s| { friday_night(s); s.grants.push(grant(Uuid::from_u128(0x69), Subject::Person(ALICE), CTRL)); }, Granted),
    row("expired unscheduled grant does not help", |s| { friday_night(s); let mut g = grant(Uuid::from_u128(0x69), Subject::Person(ALICE), CTRL); g.valid_until = Some(at(NOON)); s.grants.push(g); }, OutsideSchedule),
    // DST, New York: 2024-03-10 02:00 EST jumps to 03:00 EDT; 2024-11-03 01:00–02:00 repeats.
    row("spring forward 01:30 EST", |s| { new_york(s); with_schedule(s, schedule(&[Weekday::Sun], (1, 30), (2, 30))); }, Granted).at("2024-03-10T06:30:00Z"),
    row("spring forward 01:59:59 EST", |s| { new_york(s); with_schedule(s, schedule(&[Weekday::Sun], (1, 30), (2, 30))); }, Granted).at("2024-03-10T06:59:59Z"),
    row("spring forward jump to 03:00 EDT", |s| { new_york(s); with_schedule(s, schedule(&[Weekday::Sun], (1, 30), (2, 30))); }, OutsideSchedule).at("2024-03-10T07:00:00Z"),
    row("autumn 01:30 EDT (first)", |s| { new_york(s); with_schedule(s, schedule(&[Weekday::Sun], (1, 0), (2, 0))); }, Granted).at("2024-11-03T05:30:00Z"),
    row("autumn 01:30 EST (repeat)", |s| { new_york(s); with_schedule(s, schedule(&[Weekday::Sun], (1, 0), (2, 0))); }, Granted).at("2024-11-03T06:30:00Z"),
    row("autumn 02:00 EST", |s| { new_york(s); with_schedule(s, schedule(&[Weekday::Sun], (1, 0), (2, 0))); }, OutsideSchedule).at("2024-11-03T07:00:00Z"),
    row("autumn 00:59 EDT", |s| { new_york(s); with_schedule(s, schedule(&[Weekday::Sun], (1, 0), (2, 0))); }, OutsideSchedule).at("2024-11-03T04:59:00Z"),
    // Rule 8.
    row("door locked", door_locked, DoorLocked),
    row("door unlocked mode still decides", |s| s.doors[0].mode = DoorMode::Unlocked, Granted),
    row("lockdown", lockdown, DoorLocked),
    row("lockdown, exempt responder", |s| { lockdown(s); s.sites[0].threat.exempt.insert(ALICE); }, Granted),
    row("lockdown, someone else exempt", |s| { lockdown(s); s.sites[0].threat.exempt.insert(ALICE); }, DoorLocked).card(BOB_CARD),
    row("locked door, exempt responder", |s| { door_locked(s); s.sites[0].threat.exempt.insert(ALICE); }, Granted),
    // Rule 10 (stateless part).
    row("PIN required, none entered", pin_required, PinRequired),
    row("PIN correct", pin_required, Granted).pin(PIN),
    row("duress PIN grants with alarm", pin_required, Granted).pin("1235").alarms(&[Alarm::Duress]),
    row("wrong PIN", pin_required, PinIncorrect).pin("0000"),
    row("malformed PIN", pin_required, PinIncorrect).pin("12ab"),
    row("no PIN enrolled", pin_required, PinIncorrect).card(BOB_CARD).pin(PIN),
    row("PIN ignored where not required", none, Granted).pin("0000"),
    // First failing rule wins.
    row("unknown card beats lockdown", lockdown, UnknownCredential).card("FFFF"),
    row("inactive credential beats inactive person", |s| { card_mut(s, ALICE_CARD).state = CredentialState::Revoked; person_mut(s, ALICE).status = PersonStatus::Left; }, CredentialInactive),
    row("inactive person beats vetting", |s| { person_mut(s, ALICE).status = PersonStatus::Left; vetting_required(s); person_mut(s, ALICE).vetting = None; }, HolderInactive),
    row("vetting beats clearance", |s| { vetting_required(s); person_mut(s, ALICE).vetting = None; raise(s, 5); }, VettingInvalid),
    row("clearance beats grant", |s| person_mut(s, ALICE).clearance = 0, InsufficientClearance).door(DOOR_SECURE),
    row("grant beats schedule", |s| { friday_night(s); alice_grant(s).valid_until = Some(at(NOON)); }, NoGrant),
    row("schedule beats lockdown", |s| { friday_night(s); lockdown(s); }, OutsideSchedule),
    row("lockdown beats PIN", |s| { lockdown(s); pin_required(s); }, DoorLocked),
    row("PIN beats escort", |s| { pin_required(s); zone_mut(s, CTRL).escort_required = true; s.visits[0].escort_required = true; }, PinRequired).card(VISIT_CARD),
    row("escort beats two-person", |s| { zone_mut(s, CTRL).escort_required = true; zone_mut(s, CTRL).two_person = true; s.visits[0].escort_required = true; }, EscortRequired).card(VISIT_CARD),
];

#[test]
fn table() {
    let mut failures = Vec::new();
    for row in ROWS {
        let mut source = source();
        (row.setup)(&mut source);
        let policy = Policy::build(source)
            .unwrap_or_else(|e| panic!("{}: {e}", row.name))
            .with_pin_key(pin_key());
        let mut state = EngineState::default();
        let d = run(&policy, &mut state, row.card, row.door, row.at, row.pin);
        if d.reason != row.expect || d.alarms != row.alarms {
            failures.push(format!(
                "{}: expected {:?} {:?}, got {:?} {:?}\n  trace: {:?}",
                row.name, row.expect, row.alarms, d.reason, d.alarms, d.trace
            ));
            continue;
        }
        check_shape(row.name, &d);
    }
    assert!(
        failures.is_empty(),
        "{} rows failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A check's place in the decision order (its position in the enum is its wire form:
/// rules added later are appended there, whatever their place in the order).
fn rank(check: Check) -> u8 {
    match check {
        Check::Door => 0,
        Check::Credential => 1,
        Check::Authenticity => 2,
        Check::CredentialActive => 3,
        Check::HolderActive => 4,
        Check::Vetting => 5,
        Check::Clearance => 6,
        Check::Assurance => 7,
        Check::Grant => 8,
        Check::Schedule => 9,
        Check::DoorMode => 10,
        Check::AntiPassback => 11,
        Check::Occupancy => 12,
        Check::Pin => 13,
        Check::Escort => 14,
        Check::TwoPerson => 15,
        Check::Exit => 16,
        Check::Policy => 17,
    }
}

/// Every decision's trace is in rule order, all steps but a denial's last pass, and the
/// outcome matches the reason.
pub(super) fn check_shape(name: &str, d: &super::Decision) {
    let expected_outcome = match d.reason {
        Granted => Outcome::Granted,
        EscortRequired | SecondPersonRequired => Outcome::Pending,
        _ => Outcome::Denied,
    };
    assert_eq!(d.outcome, expected_outcome, "{name}");
    let order: Vec<Check> = d.trace.iter().map(|s| s.check).collect();
    assert!(
        order.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "{name}: {order:?}"
    );
    let (last, rest) = d.trace.split_last().unwrap();
    assert!(
        rest.iter().all(|s| s.passed),
        "{name}: an early step failed"
    );
    assert_eq!(last.passed, d.granted() || d.reason == Granted, "{name}");
    if d.reason == Granted {
        assert!(
            matches!(last.check, Check::TwoPerson | Check::Exit | Check::Escort),
            "{name}"
        );
    }
}

/// Every reason, by its position in the enum (which journals and uploads encode, so a
/// reason may never move) and its wire name. A new reason is appended here and there.
const WIRE_REASONS: &[&str] = &[
    "unknown_door",
    "unknown_credential",
    "credential_inactive",
    "holder_inactive",
    "vetting_invalid",
    "insufficient_clearance",
    "no_grant",
    "outside_schedule",
    "door_locked",
    "anti_passback",
    "pin_required",
    "pin_incorrect",
    "escort_required",
    "second_person_required",
    "granted",
    "policy_stale",
    "zone_full",
    "zone_not_in_visit",
    "credential_not_authentic",
    "assurance_insufficient",
];

#[test]
fn reasons_keep_their_positions_and_names() {
    // Every one-byte postcard payload that decodes is a reason at that position.
    let decoded: Vec<Reason> = (0u8..=u8::MAX)
        .map_while(|i| postcard::from_bytes::<Reason>(&[i]).ok())
        .collect();
    let names: Vec<&str> = decoded.iter().map(|r| r.as_str()).collect();
    assert_eq!(names, WIRE_REASONS);
    for reason in decoded {
        assert_eq!(
            serde_json::to_value(reason).unwrap(),
            reason.as_str(),
            "serde and as_str agree"
        );
    }
    assert_eq!(PolicyStale.as_str(), "policy_stale");
    assert_eq!(ZoneFull.as_str(), "zone_full");
}

/// Every check by its position in the enum and its wire name, as for reasons: a check
/// may never move, and a new one is appended here and there.
const WIRE_CHECKS: &[&str] = &[
    "door",
    "credential",
    "credential_active",
    "holder_active",
    "vetting",
    "clearance",
    "grant",
    "schedule",
    "door_mode",
    "anti_passback",
    "pin",
    "escort",
    "two_person",
    "exit",
    "occupancy",
    "policy",
    "authenticity",
    "assurance",
];

#[test]
fn checks_keep_their_positions_and_names() {
    let decoded: Vec<Check> = (0u8..=u8::MAX)
        .map_while(|i| postcard::from_bytes::<Check>(&[i]).ok())
        .collect();
    let names: Vec<String> = decoded
        .iter()
        .map(|c| {
            serde_json::to_value(c)
                .unwrap()
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(names, WIRE_CHECKS);
}

#[test]
fn a_presentations_debug_shows_no_pin() {
    let shown = format!("{:?}", presentation(ALICE_CARD, DOOR, NOON, Some("917364")));
    assert!(!shown.contains("917364"), "{shown}");
    assert!(
        shown.contains("<redacted>") && shown.contains(ALICE_CARD),
        "{shown}"
    );
}
