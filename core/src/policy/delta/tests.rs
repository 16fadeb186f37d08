//! Deltas: `between` then `apply` gives the new source back whatever the changes, a
//! built policy applies them to the same result as building the new source, an
//! inconsistent delta changes nothing, and signed deltas refuse what snapshots refuse
//! plus a base other than the one in hand.

use super::*;
use crate::fixture::*;
use crate::model::{CredentialState, DoorMode, Holder, Subject};
use crate::policy::SnapshotError;
use crate::policy::signed_delta::{DeltaBase, SignedDelta};
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
        6 if !s.people.is_empty() => {
            let who = s.people[n(s.people.len())].id;
            let zone = s.zones[pick % s.zones.len()].id;
            let id = Uuid::from_u128(0x3_0000 + serial);
            s.grants.push(grant(id, Subject::Person(who), zone));
        }
        7 if !s.visits.is_empty() => {
            let i = n(s.visits.len());
            s.visits[i].checked_out = !s.visits[i].checked_out;
        }
        8 => {
            let i = pick % s.zones.len();
            s.zones[i].level = (s.zones[i].level + 1) % 4;
        }
        9 => {
            let i = pick % s.doors.len();
            s.doors[i].mode = match s.doors[i].mode {
                DoorMode::Normal => DoorMode::Locked,
                _ => DoorMode::Normal,
            };
        }
        10 => {
            let threat = &mut s.sites[0].threat;
            threat.lockdown = !threat.lockdown;
            threat.clearance_raise = (threat.clearance_raise + 1) % 3;
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
            prop_assert_eq!(policy.credential_by_card(&c.card), Some(c));
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
