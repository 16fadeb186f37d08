//! Property tests over random variations of the fixture: revoking or suspending never
//! turns a denial into a grant, adding a grant never removes access, the decision is
//! deterministic and the same from a signed snapshot, an entry never takes a zone over
//! its occupancy limit, and no input panics.

use crate::decide::{Decision, Direction, EngineState, Presence, Presences, Presentation, decide};
use crate::fixture::*;
use crate::model::*;
use crate::policy::{Policy, PolicySource, sign_at, verify_and_load};
use chrono::{Duration, Weekday};
use proptest::prelude::*;
use uuid::Uuid;

const ZONES: [Uuid; 4] = [PUBLIC, CTRL, CTRL_CHILD, SECURE];
const DOORS: [Uuid; 3] = [DOOR, DOOR_CHILD, DOOR_SECURE];
const CARDS: [&str; 5] = [ALICE_CARD, BOB_CARD, CAROL_CARD, VISIT_CARD, "FFFF"];

/// A random variation of the fixture and a presentation against it.
#[derive(Debug, Clone)]
struct Scenario {
    source: PolicySource,
    presentation: Presentation,
    state: EngineState,
}

fn offset(minutes: Option<i64>) -> Option<chrono::DateTime<chrono::Utc>> {
    minutes.map(|m| at(NOON) + Duration::minutes(m))
}

fn window() -> impl Strategy<Value = Option<i64>> {
    proptest::option::weighted(0.25, -600i64..600)
}

/// `others[i]` for small `i`, else `good`: biases the scenarios towards grants, so the
/// properties about grants are exercised, not vacuous.
fn pick<T: Copy>(i: usize, good: T, others: &[T]) -> T {
    others.get(i).copied().unwrap_or(good)
}

prop_compose! {
    fn zone_flags()(level in 0u8..4, vetting in any::<bool>(), pin in 0usize..6,
                    two in 0usize..4, escort in 0usize..4, apb in 0usize..4)
                    -> (u8, bool, bool, bool, bool, AntiPassback) {
        (level, vetting, pin == 0, two == 0, escort == 0,
         pick(apb, AntiPassback::Off, &[AntiPassback::Soft, AntiPassback::Hard]))
    }
}

prop_compose! {
    fn holder_flags()(cred_state in 0usize..20, status in 0usize..9, clearance in 0usize..8,
                      vetting in 0usize..9, until in window(), from in window(),
                      visit_escort in any::<bool>(), checked_in in 0usize..4)
                      -> (CredentialState, PersonStatus, u8, Option<Vetting>, Option<i64>, Option<i64>, bool, bool) {
        use CredentialState::*;
        let status = pick(status, PersonStatus::Active, &[PersonStatus::Suspended, PersonStatus::Left]);
        let vetting = pick(vetting, Some(VettingStatus::Cleared), &[None, Some(VettingStatus::Pending), Some(VettingStatus::Expired), Some(VettingStatus::Revoked)])
            .map(|status| Vetting { status, cleared_until: offset(until) });
        (pick(cred_state, Active, &[Suspended, Lost, Revoked]), status, pick(clearance, 4, &[0, 1, 2, 3]), vetting, from, until, visit_escort, checked_in > 0)
    }
}

prop_compose! {
    fn scenario()(zone in zone_flags(), holder in holder_flags(),
                  raise in 0usize..6, lockdown in 0usize..4, exempt in any::<bool>(), locked in 0usize..4,
                  sched in proptest::option::weighted(0.3, (0u8..7, 0u32..24, 0u32..24)), grant_until in window(),
                  card in 0usize..10, door in 0usize..5, pin in 0usize..6, exit in 0usize..4,
                  minutes in prop_oneof![3 => Just(0i64), 1 => -4000i64..4000], inside in any::<bool>(), pending in any::<bool>(),
                  limit in 0usize..1000, crowd in 0usize..1000)
                  -> Scenario {
        let mut s = source();
        let z = zone_mut(&mut s, CTRL);
        (z.level, z.vetting_required, z.pin_required, z.two_person, z.escort_required, z.anti_passback) = zone;
        z.max_occupancy = pick(limit, None, &[Some(1), Some(2)]);
        let (cred_state, status, clearance, vetting, from, until, visit_escort, checked_in) = holder;
        for c in &mut s.credentials {
            (c.state, c.valid_from, c.valid_until) = (cred_state, offset(from).map(Into::into), offset(until.map(|m| m + 600)).map(Into::into));
        }
        let p = person_mut(&mut s, ALICE);
        (p.status, p.clearance, p.vetting) = (status, clearance, vetting);
        s.visits[0].escort_required = visit_escort;
        s.visits[0].checked_in = checked_in;
        s.grants[0].valid_until = offset(grant_until);
        if let Some((day, start, end)) = sched {
            s.schedules.push(schedule(&[Weekday::try_from(day).unwrap_or(Weekday::Mon)], (start, 0), (end, 30)));
            s.grants[0].schedule_id = Some(SCHEDULE);
        }
        let t = &mut s.sites[0].threat;
        (t.clearance_raise, t.lockdown) = (pick(raise, 0, &[1, 2]), lockdown == 0);
        if exempt { t.exempt.insert(ALICE); }
        if locked == 0 { s.doors[0].mode = DoorMode::Locked; }
        let mut state = EngineState::default();
        if inside { state.presence.insert(ALICE, Presence { zone_id: CTRL_CHILD, since: at(NOON) - Duration::minutes(5) }); }
        if crowd == 0 {
            for (holder, zone_id) in [(CAROL, CTRL), (Uuid::from_u128(0x901), SECURE)] {
                state.presence.insert(holder, Presence { zone_id, since: at(NOON) - Duration::minutes(5) });
            }
        }
        if pending {
            let p = presentation(BOB_CARD, DOOR, NOON, None);
            let policy = Policy::build(s.clone()).unwrap();
            decide(&policy, &p, &mut state);
        }
        let mut presentation = presentation(pick(card, ALICE_CARD, &CARDS[1..]), pick(door, DOOR, &DOORS[1..]), NOON, pick(pin, Some(PIN), &[None, Some("1235"), Some("0000")]));
        presentation.at += Duration::minutes(minutes);
        if exit == 0 { presentation.direction = Direction::Exit; }
        Scenario { source: s, presentation, state }
    }
}

impl Scenario {
    fn decide(&self, source: PolicySource) -> (Decision, EngineState) {
        let policy = Policy::build(source).unwrap().with_pin_key(pin_key());
        let mut state = self.state.clone();
        (decide(&policy, &self.presentation, &mut state), state)
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn revoking_or_suspending_never_grants(sc in scenario(), how in 0usize..3) {
        let (before, _) = sc.decide(sc.source.clone());
        let mut s = sc.source.clone();
        let card = normalize_card(&sc.presentation.card).unwrap();
        if let Some(c) = s.credentials.iter_mut().find(|c| c.card == card) {
            match how {
                0 => c.state = CredentialState::Revoked,
                1 => c.state = CredentialState::Suspended,
                _ => if let Holder::Person(id) = c.holder { person_mut(&mut s, id).status = PersonStatus::Suspended },
            }
        }
        let (after, _) = sc.decide(s);
        prop_assert!(before.granted() || !after.granted(), "{before:?}\n{after:?}");
    }

    #[test]
    fn adding_a_grant_never_removes_access(sc in scenario(), zone in 0usize..4, group in any::<bool>(),
                                           from in window(), until in window()) {
        let (before, _) = sc.decide(sc.source.clone());
        let mut s = sc.source.clone();
        let subject = if group { Subject::Group(GROUP) } else { Subject::Person(ALICE) };
        let mut g = grant(Uuid::from_u128(0x6e), subject, ZONES[zone]);
        (g.valid_from, g.valid_until) = (offset(from), offset(until));
        s.grants.push(g);
        let (after, _) = sc.decide(s);
        prop_assert!(!before.granted() || after.granted(), "{before:?}\n{after:?}");
    }

    #[test]
    fn deciding_is_deterministic_and_the_same_from_a_snapshot(sc in scenario()) {
        let first = sc.decide(sc.source.clone());
        prop_assert_eq!(&first, &sc.decide(sc.source.clone()));
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let bytes = sign_at(&sc.source, 1, at(NOON), &key).unwrap().to_bytes().unwrap();
        // As at the door: the snapshot, and the PIN key from beside the credential.
        let policy = verify_and_load(&bytes, &key.verifying_key(), 1).unwrap().with_pin_key(pin_key());
        let mut state = sc.state.clone();
        let d = decide(&policy, &sc.presentation, &mut state);
        prop_assert_eq!(first, (d, state));
    }

    #[test]
    fn an_entry_never_takes_a_zone_over_its_limit(sc in scenario()) {
        let policy = Policy::build(sc.source.clone()).unwrap();
        let Some(zone) = policy.door(sc.presentation.door_id).and_then(|d| policy.zone(d.to_zone_id)) else {
            return Ok(());
        };
        let count = |state: &EngineState| {
            state.presence.values().filter(|p| policy.within(p.zone_id, zone.id)).count()
        };
        let (d, after) = sc.decide(sc.source.clone());
        let recount = Presences::from((*after.presence).clone());
        prop_assert!(after.presence.per_zone().eq(recount.per_zone()), "tallies kept in step");
        if let (Direction::Entry, Some(limit)) = (sc.presentation.direction, zone.max_occupancy) {
            let (before, after) = (count(&sc.state), count(&after));
            prop_assert!(after <= before.max(limit as usize), "{before} -> {after} of {limit}: {d:?}");
        }
    }

    #[test]
    fn no_card_or_pin_text_panics(card in ".{0,80}", pin in proptest::option::of(".{0,20}")) {
        let policy = Policy::build(source()).unwrap().with_pin_key(pin_key());
        let mut state = EngineState::default();
        let mut p = presentation(ALICE_CARD, DOOR, NOON, None);
        (p.card, p.pin) = (card, pin);
        let d = decide(&policy, &p, &mut state);
        prop_assert!(!d.trace.is_empty());
    }
}

/// Guards the generator: enough scenarios end in a grant for the properties to bite.
#[test]
fn scenarios_grant_often_enough() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let granted = (0..1000)
        .filter(|_| {
            let sc = scenario().new_tree(&mut runner).unwrap().current();
            sc.presentation.direction == Direction::Entry
                && sc.decide(sc.source.clone()).0.granted()
        })
        .count();
    assert!(
        granted >= 40,
        "only {granted} of 1000 scenarios granted an entry"
    );
}
