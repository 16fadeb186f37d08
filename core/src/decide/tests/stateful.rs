//! Sequences for the stateful rules: anti-passback, PIN lockout, escort, two-person,
//! and exit readers.

use crate::decide::{Alarm, Direction, EngineState, Outcome, Reason, decide};
use crate::fixture::*;
use crate::model::*;
use crate::policy::{Policy, PolicySource};
use uuid::Uuid;

fn policy(setup: impl FnOnce(&mut PolicySource)) -> Policy {
    let mut s = source();
    setup(&mut s);
    Policy::build(s).unwrap().with_pin_key(pin_key())
}

fn exit(
    policy: &Policy,
    state: &mut EngineState,
    card: &str,
    door: Uuid,
    when: &str,
) -> crate::decide::Decision {
    let mut p = presentation(card, door, when, None);
    p.direction = Direction::Exit;
    decide(policy, &p, state)
}

const T0: &str = "2024-06-05T10:00:00Z";
const T10: &str = "2024-06-05T10:00:10Z";
const T30: &str = "2024-06-05T10:00:30Z";
const T59: &str = "2024-06-05T10:00:59Z";
const T60: &str = "2024-06-05T10:01:00Z";

fn apb(mode: AntiPassback, timeout: Option<u32>) -> Policy {
    policy(|s| {
        let z = zone_mut(s, CTRL);
        z.anti_passback = mode;
        z.anti_passback_timeout_s = timeout;
    })
}

#[test]
fn hard_anti_passback_denies_reentry_until_exit() {
    let p = apb(AntiPassback::Hard, None);
    let mut st = EngineState::default();
    assert!(run(&p, &mut st, ALICE_CARD, DOOR, T0, None).granted());
    let again = run(&p, &mut st, ALICE_CARD, DOOR, T10, None);
    assert_eq!(again.reason, Reason::AntiPassback);
    assert!(exit(&p, &mut st, ALICE_CARD, DOOR, T30).granted());
    assert!(run(&p, &mut st, ALICE_CARD, DOOR, T59, None).granted());
    // Someone else is not affected by Alice's presence.
    assert!(run(&p, &mut st, BOB_CARD, DOOR, T59, None).granted());
}

#[test]
fn being_in_a_child_zone_counts_as_inside() {
    let p = apb(AntiPassback::Hard, None);
    let mut st = EngineState::default();
    assert!(run(&p, &mut st, ALICE_CARD, DOOR, T0, None).granted());
    assert!(run(&p, &mut st, ALICE_CARD, DOOR_CHILD, T10, None).granted());
    assert_eq!(
        run(&p, &mut st, ALICE_CARD, DOOR, T30, None).reason,
        Reason::AntiPassback
    );
}

#[test]
fn anti_passback_timeout_is_exclusive() {
    let p = apb(AntiPassback::Hard, Some(60));
    let mut st = EngineState::default();
    assert!(run(&p, &mut st, ALICE_CARD, DOOR, T0, None).granted());
    assert_eq!(
        run(&p, &mut st, ALICE_CARD, DOOR, T59, None).reason,
        Reason::AntiPassback
    );
    assert!(run(&p, &mut st, ALICE_CARD, DOOR, T60, None).granted());
}

#[test]
fn soft_anti_passback_grants_with_alarm() {
    let p = apb(AntiPassback::Soft, None);
    let mut st = EngineState::default();
    assert!(
        run(&p, &mut st, ALICE_CARD, DOOR, T0, None)
            .alarms
            .is_empty()
    );
    let again = run(&p, &mut st, ALICE_CARD, DOOR, T10, None);
    assert!(again.granted());
    assert_eq!(again.alarms, [Alarm::AntiPassbackViolation]);
}

/// A door agent that lost the server's presence feed applies hard anti-passback as
/// soft: the holder it saw enter may have left through another agent's door.
#[test]
fn unconfirmed_presence_softens_hard_anti_passback() {
    use AntiPassback::{Hard, Off, Soft};
    // (name, mode, timeout, presence unconfirmed, inside since T0, badge at, expected)
    type Row = (
        &'static str,
        AntiPassback,
        Option<u32>,
        bool,
        bool,
        &'static str,
        (Outcome, Reason, &'static [Alarm]),
    );
    let denied: (Outcome, Reason, &[Alarm]) = (Outcome::Denied, Reason::AntiPassback, &[]);
    let granted: (Outcome, Reason, &[Alarm]) = (Outcome::Granted, Reason::Granted, &[]);
    let alarmed: (Outcome, Reason, &[Alarm]) = (
        Outcome::Granted,
        Reason::Granted,
        &[Alarm::AntiPassbackViolation],
    );
    #[rustfmt::skip]
    let rows: [Row; 8] = [
        ("hard, confirmed, inside", Hard, None, false, true, T10, denied),
        ("hard, unconfirmed, inside", Hard, None, true, true, T10, alarmed),
        ("hard, unconfirmed, not inside", Hard, None, true, false, T10, granted),
        ("hard, unconfirmed, timeout not run out", Hard, Some(60), true, true, T59, alarmed),
        ("hard, unconfirmed, timeout run out", Hard, Some(60), true, true, T60, granted),
        ("soft, unconfirmed, inside", Soft, None, true, true, T10, alarmed),
        ("soft, confirmed, inside", Soft, None, false, true, T10, alarmed),
        ("off, unconfirmed, inside", Off, None, true, true, T10, granted),
    ];
    for (name, mode, timeout, unconfirmed, inside, when, (outcome, reason, alarms)) in rows {
        let p = apb(mode, timeout);
        let mut st = EngineState::default();
        if inside {
            st.learn_presence(ALICE, Some(CTRL), at(T0));
        }
        st.presence_unconfirmed = unconfirmed;
        let d = run(&p, &mut st, ALICE_CARD, DOOR, when, None);
        assert_eq!(
            (d.outcome, d.reason, &d.alarms[..]),
            (outcome, reason, alarms),
            "{name}"
        );
    }
}

/// The server's view of where a holder is replaces the local one only when it is newer.
#[test]
fn learned_presence_never_undoes_a_newer_local_passage() {
    const OTHER: Uuid = Uuid::from_u128(0xAB);
    // (name, local, server's (zone, since), expected)
    type Seen = Option<(Uuid, &'static str)>;
    type Row = (&'static str, Seen, (Option<Uuid>, &'static str), Seen);
    #[rustfmt::skip]
    let rows: [Row; 7] = [
        ("nothing local: taken", None, (Some(CTRL), T10), Some((CTRL, T10))),
        ("older local: replaced", Some((OTHER, T0)), (Some(CTRL), T10), Some((CTRL, T10))),
        ("newer local: kept", Some((OTHER, T30)), (Some(CTRL), T10), Some((OTHER, T30))),
        ("same instant: kept", Some((OTHER, T10)), (Some(CTRL), T10), Some((OTHER, T10))),
        ("gone elsewhere, older local: removed", Some((CTRL, T0)), (None, T10), None),
        ("gone elsewhere, newer local: kept", Some((CTRL, T30)), (None, T10), Some((CTRL, T30))),
        ("gone elsewhere, nothing local", None, (None, T10), None),
    ];
    for (name, local, (zone, since), expected) in rows {
        let mut st = EngineState::default();
        if let Some((zone, when)) = local {
            st.learn_presence(ALICE, Some(zone), at(when));
        }
        st.learn_presence(ALICE, zone, at(since));
        let now = st.presence.get(&ALICE).map(|p| (p.zone_id, p.since));
        assert_eq!(now, expected.map(|(z, w)| (z, at(w))), "{name}");
        let tallies: Vec<_> = st.presence.per_zone().collect();
        assert_eq!(
            tallies,
            expected
                .map(|(z, _)| (z, 1))
                .into_iter()
                .collect::<Vec<_>>(),
            "{name}"
        );
    }
}

#[test]
fn wrong_pins_lock_out_then_reinstate() {
    let p = policy(|s| zone_mut(s, CTRL).pin_required = true);
    let mut st = EngineState::default();
    let cred = p.credential_by_card(ALICE_CARD).unwrap().id;
    for _ in 0..2 {
        let d = run(&p, &mut st, ALICE_CARD, DOOR, T0, Some("0000"));
        assert_eq!((d.reason, d.alarms.len()), (Reason::PinIncorrect, 0));
    }
    // A correct PIN ends the run; two more failures do not lock yet.
    assert!(run(&p, &mut st, ALICE_CARD, DOOR, T0, Some(PIN)).granted());
    for _ in 0..2 {
        assert_eq!(
            run(&p, &mut st, ALICE_CARD, DOOR, T10, Some("0000")).reason,
            Reason::PinIncorrect
        );
    }
    let third = run(&p, &mut st, ALICE_CARD, DOOR, T30, Some("0000"));
    assert_eq!(
        (third.reason, third.alarms),
        (Reason::PinIncorrect, vec![Alarm::PinLockout])
    );
    assert!(st.pin_suspended.contains(&cred));
    let locked = run(&p, &mut st, ALICE_CARD, DOOR, T59, Some(PIN));
    assert_eq!(locked.reason, Reason::CredentialInactive);
    st.reinstate(cred);
    assert!(run(&p, &mut st, ALICE_CARD, DOOR, T60, Some(PIN)).granted());
}

#[test]
fn pin_lockout_threshold_comes_from_settings() {
    let p = policy(|s| {
        zone_mut(s, CTRL).pin_required = true;
        s.settings.pin_max_failures = 1;
    });
    let mut st = EngineState::default();
    let d = run(&p, &mut st, ALICE_CARD, DOOR, T0, Some("9999"));
    assert_eq!(d.alarms, [Alarm::PinLockout]);
}

fn escorted() -> Policy {
    policy(|s| {
        zone_mut(s, CTRL).escort_required = true;
        s.visits[0].escort_required = true;
    })
}

#[test]
fn escort_releases_waiting_visitor() {
    let p = escorted();
    let mut st = EngineState::default();
    let v = run(&p, &mut st, VISIT_CARD, DOOR, T0, None);
    assert_eq!(
        (v.outcome, v.reason),
        (Outcome::Pending, Reason::EscortRequired)
    );
    let host = run(&p, &mut st, ALICE_CARD, DOOR, T10, None);
    assert!(host.granted());
    let released = host.releases.unwrap();
    assert_eq!(
        (released.holder, released.reason),
        (Holder::Visit(VISIT), Reason::EscortRequired)
    );
    assert_eq!(
        st.presence[&VISIT].zone_id, CTRL,
        "the visitor is recorded inside"
    );
    assert!(st.pending.is_empty());
}

#[test]
fn escort_window_expires() {
    let p = escorted();
    let mut st = EngineState::default();
    run(&p, &mut st, VISIT_CARD, DOOR, T0, None);
    let late = run(&p, &mut st, ALICE_CARD, DOOR, T30, None);
    assert!(late.granted() && late.releases.is_none());
}

#[test]
fn only_staff_or_the_host_escort_at_the_same_door() {
    let p = escorted();
    let mut st = EngineState::default();
    run(&p, &mut st, VISIT_CARD, DOOR, T0, None);
    let contractor = run(&p, &mut st, CAROL_CARD, DOOR, T10, None);
    assert!(contractor.granted() && contractor.releases.is_none());
    let elsewhere = run(&p, &mut st, ALICE_CARD, DOOR_CHILD, T10, None);
    assert!(elsewhere.releases.is_none());
    // Bob is staff but not the host: staff may escort.
    let bob = run(&p, &mut st, BOB_CARD, DOOR, T10, None);
    assert_eq!(bob.releases.map(|r| r.holder), Some(Holder::Visit(VISIT)));
}

#[test]
fn a_contractor_host_may_escort_their_own_visitor() {
    let p = policy(|s| {
        zone_mut(s, CTRL).escort_required = true;
        s.visits[0].escort_required = true;
        s.visits[0].host_person_id = CAROL;
    });
    let mut st = EngineState::default();
    run(&p, &mut st, VISIT_CARD, DOOR, T0, None);
    assert!(
        run(&p, &mut st, CAROL_CARD, DOOR, T10, None)
            .releases
            .is_some()
    );
}

fn two_person() -> Policy {
    policy(|s| zone_mut(s, CTRL).two_person = true)
}

#[test]
fn two_different_people_are_granted_together() {
    let p = two_person();
    let mut st = EngineState::default();
    let first = run(&p, &mut st, ALICE_CARD, DOOR, T0, None);
    assert_eq!(
        (first.outcome, first.reason),
        (Outcome::Pending, Reason::SecondPersonRequired)
    );
    let second = run(&p, &mut st, BOB_CARD, DOOR, T10, None);
    assert!(second.granted());
    assert_eq!(
        second.releases.map(|r| r.holder),
        Some(Holder::Person(ALICE))
    );
    assert_eq!(st.presence[&ALICE].zone_id, CTRL);
    assert_eq!(st.presence[&BOB].zone_id, CTRL);
}

#[test]
fn the_same_person_twice_stays_pending() {
    let p = two_person();
    let mut st = EngineState::default();
    run(&p, &mut st, ALICE_CARD, DOOR, T0, None);
    let again = run(&p, &mut st, ALICE_CARD, DOOR, T10, None);
    assert_eq!(again.outcome, Outcome::Pending);
    assert_eq!(st.pending[&DOOR].len(), 1);
}

#[test]
fn a_second_card_of_the_same_person_does_not_count() {
    let p = policy(|s| {
        zone_mut(s, CTRL).two_person = true;
        s.credentials
            .push(credential(9, "A2A2", Holder::Person(ALICE)));
    });
    let mut st = EngineState::default();
    run(&p, &mut st, ALICE_CARD, DOOR, T0, None);
    assert_eq!(
        run(&p, &mut st, "A2A2", DOOR, T10, None).outcome,
        Outcome::Pending
    );
}

#[test]
fn a_denied_person_does_not_count_and_the_window_expires() {
    let p = policy(|s| {
        zone_mut(s, CTRL).two_person = true;
        person_mut(s, BOB).status = PersonStatus::Suspended;
    });
    let mut st = EngineState::default();
    run(&p, &mut st, ALICE_CARD, DOOR, T0, None);
    assert_eq!(
        run(&p, &mut st, BOB_CARD, DOOR, T10, None).reason,
        Reason::HolderInactive
    );
    // At T30 Alice's request has lapsed: Carol becomes the first, not the second.
    let carol = run(&p, &mut st, CAROL_CARD, DOOR, T30, None);
    assert_eq!(carol.outcome, Outcome::Pending);
}

#[test]
fn exit_always_grants_and_moves_the_holder_out() {
    let p = policy(|s| {
        s.sites[0].threat.lockdown = true;
        card_mut(s, BOB_CARD).state = CredentialState::Revoked;
    });
    let mut st = EngineState::default();
    let unknown = exit(&p, &mut st, "FFFF", DOOR, T0);
    assert!(unknown.granted() && unknown.person_id.is_none());
    assert_eq!(unknown.reason, Reason::Granted);
    let bob = exit(&p, &mut st, BOB_CARD, DOOR_SECURE, T0);
    assert!(bob.granted());
    assert_eq!(bob.person_id, Some(BOB));
    assert_eq!(bob.zone_id, Some(SECURE));
    assert_eq!(st.presence[&BOB].zone_id, CTRL);
}
