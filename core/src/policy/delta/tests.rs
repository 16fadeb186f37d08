//! Deltas: `between` then `apply` gives the new source back whatever the changes, a
//! built policy applies them to the same result as building the new source, an
//! inconsistent delta changes nothing, and signed deltas refuse what snapshots refuse
//! plus a base other than the one in hand.

use super::*;
use crate::fixture::*;
use crate::model::{Assurance, CredentialState, DoorMode, Holder, Subject};
use crate::policy::signed_delta::{DeltaBase, SignedDelta};
use crate::policy::{Policy, PolicyError, SnapshotError};
use ed25519_dalek::SigningKey;
use proptest::prelude::*;

/// One random change that keeps the source consistent, picking records by `pick`.
pub(crate) fn mutate(s: &mut PolicySource, op: u8, pick: usize, serial: u128) {
    let n = |len: usize| if len == 0 { 0 } else { pick % len };
    match op % 12 {
        0 if !s.credentials.is_empty() => {
            let i = n(s.credentials.len());
            let c = &mut s.credentials[i];
            c.state = match c.state {
                CredentialState::Active => CredentialState::Revoked,
                _ => CredentialState::Active,
            };
        }
        1 => {
            let id = Uuid::from_u128(0x1_0000 + serial);
            s.people
                .push(person(id, crate::model::PersonKind::Staff, vec![]));
            let card = format!("{:08X}", 0x1000_0000 + serial);
            let mut c = credential(0, &card, Holder::Person(id));
            c.id = Uuid::from_u128(0x2_0000 + serial);
            s.credentials.push(c);
        }
        2 if !s.credentials.is_empty() => {
            s.credentials.remove(n(s.credentials.len()));
        }
        3 if !s.people.is_empty() => {
            let i = n(s.people.len());
            s.people[i].clearance = (s.people[i].clearance + 1) % 5;
        }
        4 if !s.people.is_empty() => {
            let i = n(s.people.len());
            let groups = &mut s.people[i].group_ids;
            if groups.is_empty() {
                groups.push(GROUP);
            } else {
                groups.clear();
            }
        }
        5 if !s.grants.is_empty() => {
            s.grants.remove(n(s.grants.len()));
        }
        6 if !s.people.is_empty() && !s.zones.is_empty() => {
            let who = s.people[n(s.people.len())].id;
            let zone = s.zones[pick % s.zones.len()].id;
            let id = Uuid::from_u128(0x3_0000 + serial);
            s.grants.push(grant(id, Subject::Person(who), zone));
        }
        7 if !s.visits.is_empty() => {
            let i = n(s.visits.len());
            s.visits[i].checked_out = !s.visits[i].checked_out;
        }
        8 if !s.zones.is_empty() => {
            let i = pick % s.zones.len();
            s.zones[i].level = (s.zones[i].level + 1) % 4;
            if pick.is_multiple_of(3) {
                s.zones[i].min_assurance = match s.zones[i].min_assurance {
                    Assurance::Uid => Assurance::Secure,
                    Assurance::Secure => Assurance::Uid,
                };
            }
        }
        9 if !s.doors.is_empty() => {
            let i = pick % s.doors.len();
            s.doors[i].mode = match s.doors[i].mode {
                DoorMode::Normal => DoorMode::Locked,
                _ => DoorMode::Normal,
            };
        }
        10 if !s.sites.is_empty() => {
            let threat = &mut s.sites[0].threat;
            threat.lockdown = !threat.lockdown;
            threat.clearance_raise = (threat.clearance_raise + 1) % 3;
            s.sites[0].secure_cards_from_threat_level = match pick % 3 {
                0 => None,
                n => u8::try_from(n).ok(),
            };
        }
        11 if s.people.len() > 1 => {
            // A person leaves the model with everything that names them.
            let gone = s.people.remove(n(s.people.len())).id;
            let visits: Vec<Uuid> = (s.visits.iter())
                .filter(|v| v.host_person_id == gone)
                .map(|v| v.id)
                .collect();
            s.visits.retain(|v| v.host_person_id != gone);
            s.grants.retain(|g| g.subject != Subject::Person(gone));
            s.credentials.retain(|c| match c.holder {
                Holder::Person(p) => p != gone,
                Holder::Visit(v) => !visits.contains(&v),
            });
        }
        _ => {}
    }
}

/// A sequence of random changes, as (operation, pick) pairs.
fn changes_strategy() -> impl Strategy<Value = Vec<(u8, usize)>> {
    prop::collection::vec((any::<u8>(), any::<usize>()), 0..40)
}

fn changed(steps: &[(u8, usize)]) -> PolicySource {
    let mut s = source();
    for (serial, &(op, pick)) in steps.iter().enumerate() {
        mutate(&mut s, op, pick, serial as u128);
    }
    s
}

proptest! {
    #[test]
    fn applying_the_changes_between_two_sources_gives_the_second(
        first in changes_strategy(),
        second in changes_strategy(),
    ) {
        let old = changed(&first);
        let mut new = old.clone();
        for (serial, &(op, pick)) in second.iter().enumerate() {
            mutate(&mut new, op, pick, 1_000 + serial as u128);
        }
        let delta = PolicyDelta::between(&old, &new);
        let mut applied = old.clone();
        applied.apply(&delta);
        prop_assert_eq!(applied.clone().sorted(), new.clone().sorted());
        // Applying it twice changes nothing more.
        applied.apply(&delta);
        prop_assert_eq!(applied.sorted(), new.clone().sorted());

        let mut policy = Policy::build(old).unwrap().with_version(4).with_pin_key(pin_key());
        policy.apply(&delta).unwrap();
        prop_assert_eq!(policy.version(), 4);
        prop_assert!(policy.pin_key().is_some());
        prop_assert_eq!(policy.source().clone().sorted(), new.clone().sorted());
        let rebuilt = Policy::build(new).unwrap();
        for c in &rebuilt.source().credentials {
            prop_assert_eq!(policy.credential_of(c.card), Some(c));
        }
    }
}

#[test]
fn an_unchanged_source_gives_an_empty_delta() {
    let delta = PolicyDelta::between(&source(), &source());
    assert!(delta.is_empty());
    assert_eq!(delta.settings, source().settings);
}

#[test]
fn a_delta_that_would_leave_a_dangling_reference_changes_nothing() {
    let mut policy = Policy::build(source()).unwrap();
    let delta = PolicyDelta {
        people: Changes {
            upserted: vec![],
            removed: vec![ALICE],
        },
        ..PolicyDelta::default()
    };
    let error = policy.apply(&delta).unwrap_err();
    assert!(matches!(error, PolicyError::Dangling { .. }), "{error}");
    assert_eq!(policy.source(), &source());
    assert!(policy.credential_by_card(ALICE_CARD).is_some());
}

#[test]
fn a_delta_giving_a_card_to_two_credentials_changes_nothing() {
    let mut policy = Policy::build(source()).unwrap();
    let mut twin = credential(9, ALICE_CARD, Holder::Person(BOB));
    twin.state = CredentialState::Active;
    let delta = PolicyDelta {
        credentials: Changes {
            upserted: vec![twin],
            removed: vec![],
        },
        ..PolicyDelta::default()
    };
    assert!(matches!(
        policy.apply(&delta),
        Err(PolicyError::DuplicateCard { .. })
    ));
    assert_eq!(policy.source(), &source());
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn signed_revocation() -> (PolicyDelta, SignedDelta) {
    let mut new = source();
    card_mut(&mut new, BOB_CARD).state = CredentialState::Revoked;
    let delta = PolicyDelta::between(&source(), &new);
    let signed = SignedDelta::sign(&delta, 7, 9, vec![SITE], at(NOON), &key(1)).unwrap();
    (delta, signed)
}

const BASE: DeltaBase<'static> = DeltaBase {
    version: 7,
    site_ids: &[SITE],
};

#[test]
fn a_signed_delta_round_trips() {
    let (delta, signed) = signed_revocation();
    let bytes = signed.to_bytes().unwrap();
    let parsed = SignedDelta::from_bytes(&bytes).unwrap();
    assert_eq!(parsed, signed);
    assert_eq!(parsed.verify(&key(1).verifying_key(), BASE), Ok(delta));
}

#[test]
fn a_signed_delta_refuses_another_key_a_flipped_bit_and_garbage() {
    let (_, signed) = signed_revocation();
    assert_eq!(
        signed.verify(&key(2).verifying_key(), BASE),
        Err(SnapshotError::WrongKey)
    );
    let bytes = signed.to_bytes().unwrap();
    for i in 0..bytes.len() {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x01;
        let verdict =
            SignedDelta::from_bytes(&flipped).and_then(|d| d.verify(&key(1).verifying_key(), BASE));
        assert!(verdict.is_err(), "a flipped bit at {i} was accepted");
    }
    assert!(matches!(
        SignedDelta::from_bytes(b"nonsense"),
        Err(SnapshotError::Malformed(_))
    ));
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        SignedDelta::from_bytes(&long),
        Err(SnapshotError::Malformed(_))
    ));
}

#[test]
fn a_signed_delta_applies_only_to_its_own_base() {
    let (_, signed) = signed_revocation();
    let key = key(1).verifying_key();
    let other_version = DeltaBase { version: 8, ..BASE };
    assert_eq!(
        signed.verify(&key, other_version),
        Err(SnapshotError::WrongBase {
            from_version: 7,
            have: 8
        })
    );
    let other_sites = [SITE, PUBLIC];
    let other_sites = DeltaBase {
        site_ids: &other_sites,
        ..BASE
    };
    assert!(matches!(
        signed.verify(&key, other_sites),
        Err(SnapshotError::WrongBase { .. })
    ));
}

#[test]
fn a_signed_delta_must_move_forward() {
    let (delta, _) = signed_revocation();
    for to in [7, 3] {
        let signed = SignedDelta::sign(&delta, 7, to, vec![SITE], at(NOON), &key(1)).unwrap();
        assert!(matches!(
            signed.verify(&key(1).verifying_key(), BASE),
            Err(SnapshotError::VersionTooOld { .. })
        ));
    }
}

/// One random change that may also make the source inconsistent (a dangling reference,
/// a card on two credentials, a bad card, a zone loop, a cross-site reference), or
/// touch the kinds `mutate` leaves alone.
pub(crate) fn mutate_any(s: &mut PolicySource, op: u8, pick: usize, serial: u128) {
    let n = |len: usize| if len == 0 { 0 } else { pick % len };
    let other = |len: usize| if len == 0 { 0 } else { (pick / 7) % len };
    match op % 32 {
        12 if !s.people.is_empty() => {
            // Without the records naming them: dangling unless nothing did.
            s.people.remove(n(s.people.len()));
        }
        13 if s.credentials.len() > 1 => {
            let card = s.credentials[other(s.credentials.len())].card;
            let i = n(s.credentials.len());
            s.credentials[i].card = card;
        }
        14 if !s.credentials.is_empty() => {
            let i = n(s.credentials.len());
            s.credentials[i].card = "EEEE".parse().unwrap();
        }
        15 if !s.zones.is_empty() => {
            let parent = s.zones[other(s.zones.len())].id;
            let i = n(s.zones.len());
            s.zones[i].parent_id = Some(parent);
        }
        16 if !s.zones.is_empty() => {
            s.zones.remove(n(s.zones.len()));
        }
        17 => {
            if s.schedules.is_empty() {
                s.schedules
                    .push(schedule(&[chrono::Weekday::Mon], (8, 0), (18, 0)));
            } else {
                s.schedules.clear();
            }
        }
        18 if !s.grants.is_empty() => {
            let i = n(s.grants.len());
            s.grants[i].schedule_id = match s.grants[i].schedule_id {
                None => Some(SCHEDULE),
                Some(_) => None,
            };
        }
        19 if s.credentials.len() > 1 => {
            // Two credentials swap cards: consistent, and hard on a card index.
            let (i, j) = (n(s.credentials.len()), other(s.credentials.len()));
            let card = s.credentials[i].card;
            s.credentials[i].card = std::mem::replace(&mut s.credentials[j].card, card);
        }
        20 if !s.people.is_empty() => {
            let host = s.people[n(s.people.len())].id;
            let id = Uuid::from_u128(0x4_0000 + serial);
            let mut visit = s
                .visits
                .first()
                .cloned()
                .unwrap_or_else(|| source().visits[0].clone());
            visit.id = id;
            visit.host_person_id = host;
            visit.allowed_zone_ids = s.zones.iter().take(1 + pick % 2).map(|z| z.id).collect();
            s.visits.push(visit);
            let mut c = credential(
                0,
                &format!("{:08X}", 0x2000_0000 + serial),
                Holder::Visit(id),
            );
            c.id = Uuid::from_u128(0x5_0000 + serial);
            s.credentials.push(c);
        }
        21 if !s.visits.is_empty() => {
            s.visits.remove(n(s.visits.len()));
        }
        22 if !s.grants.is_empty() => {
            let i = n(s.grants.len());
            s.grants[i].subject = match s.grants[i].subject {
                Subject::Person(_) => Subject::Group(GROUP),
                Subject::Group(_) if !s.people.is_empty() => {
                    Subject::Person(s.people[other(s.people.len())].id)
                }
                Subject::Group(g) => Subject::Group(g),
            };
        }
        23 if !s.credentials.is_empty() && !s.visits.is_empty() => {
            let visit = s.visits[other(s.visits.len())].id;
            let i = n(s.credentials.len());
            s.credentials[i].holder = Holder::Visit(visit);
        }
        24 if !s.zones.is_empty() => {
            // A second site, and a zone moved into it.
            let second = Uuid::from_u128(0x6);
            if !s.sites.iter().any(|site| site.id == second) {
                let mut site = s.sites[0].clone();
                site.id = second;
                s.sites.push(site);
            }
            let i = n(s.zones.len());
            s.zones[i].site_id = second;
            s.zones[i].parent_id = None;
        }
        25 if s.sites.len() > 1 => {
            s.sites.pop();
        }
        26 if !s.grants.is_empty() => {
            let zone = Uuid::from_u128(0x7_0000 + serial);
            let i = n(s.grants.len());
            s.grants[i].zone_id = if pick.is_multiple_of(3) {
                zone
            } else {
                s.grants[i].zone_id
            };
        }
        27 => {
            let id = Uuid::from_u128(0x8_0000 + serial);
            let parent = s.zones.first().map(|z| z.id);
            let mut z = zone(id, parent, (pick % 4) as u8);
            z.site_id = s.sites[0].id;
            s.zones.push(z);
            let to = id;
            if let (Some(from), Some(door)) = (parent, s.doors.first()) {
                let mut d = door.clone();
                d.id = Uuid::from_u128(0x9_0000 + serial);
                (d.from_zone_id, d.to_zone_id) = (from, to);
                s.doors.push(d);
            }
        }
        28 if !s.doors.is_empty() => {
            s.doors.remove(n(s.doors.len()));
        }
        29 => s.settings.pin_max_failures = (s.settings.pin_max_failures + 1) % 5,
        30 if !s.credentials.is_empty() => {
            // Removed and upserted under one id in the same delta cannot be told apart
            // from a change; a new id for an old card can.
            let i = n(s.credentials.len());
            s.credentials[i].id = Uuid::from_u128(0xa_0000 + serial);
        }
        _ => mutate(s, op, pick, serial),
    }
}

/// Every answer of `applied` is the answer of `built` (and the records are the same),
/// asked about every id of `ids` (the records of before and after).
fn same_answers(applied: &Policy, built: &Policy, ids: &PolicySource) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        applied.source().clone().sorted(),
        built.source().clone().sorted()
    );
    prop_assert_eq!(applied.settings(), built.settings());
    for c in &ids.credentials {
        prop_assert_eq!(applied.credential_of(c.card), built.credential_of(c.card));
        prop_assert_eq!(applied.credential(c.id), built.credential(c.id));
    }
    for x in &ids.sites {
        prop_assert_eq!(applied.site(x.id), built.site(x.id));
    }
    for x in &ids.doors {
        prop_assert_eq!(applied.door(x.id), built.door(x.id));
    }
    for x in &ids.visits {
        prop_assert_eq!(applied.visit(x.id), built.visit(x.id));
    }
    for x in &ids.schedules {
        prop_assert_eq!(applied.schedule(x.id), built.schedule(x.id));
    }
    let grants = |p: &Policy, person: &crate::model::Person| {
        let mut ids: Vec<Uuid> = p.grants_of(person).map(|g| g.id).collect();
        ids.sort();
        ids
    };
    for x in &ids.people {
        prop_assert_eq!(applied.person(x.id), built.person(x.id));
        if let Some(person) = built.person(x.id) {
            prop_assert_eq!(grants(applied, person), grants(built, person));
        }
    }
    for a in &ids.zones {
        prop_assert_eq!(applied.zone(a.id), built.zone(a.id));
        let path = |p: &Policy| p.enclosing(a.id).map(|z| z.id).collect::<Vec<_>>();
        prop_assert_eq!(path(applied), path(built));
        for b in &ids.zones {
            prop_assert_eq!(applied.covers(a.id, b.id), built.covers(a.id, b.id));
            prop_assert_eq!(applied.within(a.id, b.id), built.within(a.id, b.id));
        }
    }
    Ok(())
}

/// Both sources' records together: every id either knows.
fn union(a: &PolicySource, b: &PolicySource) -> PolicySource {
    fn both<T: Clone>(a: &[T], b: &[T]) -> Vec<T> {
        a.iter().chain(b).cloned().collect()
    }
    PolicySource {
        settings: b.settings.clone(),
        sites: both(&a.sites, &b.sites),
        zones: both(&a.zones, &b.zones),
        doors: both(&a.doors, &b.doors),
        people: both(&a.people, &b.people),
        visits: both(&a.visits, &b.visits),
        credentials: both(&a.credentials, &b.credentials),
        grants: both(&a.grants, &b.grants),
        schedules: both(&a.schedules, &b.schedules),
    }
}

/// Deltas of one to three random changes each, applied one after another.
fn delta_steps() -> impl Strategy<Value = Vec<Vec<(u8, usize)>>> {
    prop::collection::vec(
        prop::collection::vec((any::<u8>(), any::<usize>()), 1..4),
        1..25,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn applying_in_place_answers_as_building_the_applied_source(
        start in changes_strategy(),
        steps in delta_steps(),
    ) {
        let mut policy = Policy::build(changed(&start)).unwrap().with_version(3);
        let mut serial = 10_000u128;
        for step in steps {
            let old = policy.source().clone();
            let mut new = old.clone();
            for (op, pick) in step {
                serial += 1;
                mutate_any(&mut new, op, pick, serial);
            }
            let delta = PolicyDelta::between(&old, &new);
            let mut reference = old.clone();
            reference.apply(&delta);
            let built = Policy::build(reference);
            match (policy.apply(&delta), built) {
                (Ok(()), Ok(built)) => {
                    same_answers(&policy, &built, &union(&old, &new))?;
                    prop_assert_eq!(policy.version(), 3);
                }
                (Err(_), Err(_)) => {
                    // Left as it was, and still answering as the old source built.
                    let before = Policy::build(old.clone()).unwrap();
                    same_answers(&policy, &before, &union(&old, &new))?;
                }
                (applied, built) => prop_assert!(
                    false,
                    "apply {:?} but build {:?}",
                    applied,
                    built.map(|_| ())
                ),
            }
        }
    }
}
