//! Snapshots round-trip, and refuse a flipped bit, a wrong key, an older version and
//! garbage, each with its own error.

use super::*;
use crate::decide::Decision;
use crate::fixture::*;
use crate::model::{Assurance, PinKey, PinVerifier};
use ed25519_dalek::SigningKey;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn signed(version: u64) -> Vec<u8> {
    sign_at(&source(), version, at(NOON), &key(1))
        .unwrap()
        .to_bytes()
        .unwrap()
}

#[test]
fn round_trip() {
    let bytes = signed(7);
    let policy = verify_and_load(&bytes, &key(1).verifying_key(), 7).unwrap();
    assert_eq!(policy.version(), 7);
    assert_eq!(policy.source(), &source());
    assert!(policy.credential_by_card(ALICE_CARD).is_some());
    let env = SignedSnapshot::from_bytes(&bytes).unwrap();
    assert_eq!((env.site_ids, env.issued_at), (vec![SITE], at(NOON)));
}

#[test]
fn zone_limits_travel_in_the_snapshot() {
    let mut src = source();
    zone_mut(&mut src, CTRL).max_occupancy = Some(1_000_000);
    zone_mut(&mut src, SECURE).max_occupancy = Some(1);
    let bytes = sign_at(&src, 3, at(NOON), &key(1))
        .unwrap()
        .to_bytes()
        .unwrap();
    let policy = verify_and_load(&bytes, &key(1).verifying_key(), 3).unwrap();
    let limit = |id| policy.zone(id).and_then(|z| z.max_occupancy);
    assert_eq!(
        (limit(CTRL), limit(SECURE), limit(PUBLIC)),
        (Some(1_000_000), Some(1), None)
    );
}

#[test]
fn assurance_travels_in_the_snapshot() {
    let mut src = source();
    zone_mut(&mut src, SECURE).min_assurance = Assurance::Secure;
    src.sites[0].secure_cards_from_threat_level = Some(4);
    let bytes = sign_at(&src, 3, at(NOON), &key(1))
        .unwrap()
        .to_bytes()
        .unwrap();
    let policy = verify_and_load(&bytes, &key(1).verifying_key(), 3).unwrap();
    let min = |id| policy.zone(id).map(|z| z.min_assurance);
    assert_eq!(
        (min(SECURE), min(CTRL)),
        (Some(Assurance::Secure), Some(Assurance::Uid))
    );
    let site = policy.site(SITE).unwrap();
    assert_eq!(site.secure_cards_from_threat_level, Some(4));
}

#[test]
fn a_generated_key_signs_and_verifies() {
    let k = generate_key();
    let snap = sign(&source(), 1, &k).unwrap();
    assert!(snap.verify(&k.verifying_key(), 0).is_ok());
}

#[test]
fn a_flipped_payload_bit_breaks_the_signature() {
    let mut env = SignedSnapshot::from_bytes(&signed(7)).unwrap();
    env.payload[10] ^= 0x01;
    let err = verify_and_load(&env.to_bytes().unwrap(), &key(1).verifying_key(), 0).unwrap_err();
    assert_eq!(err, SnapshotError::BadSignature);
}

#[test]
fn the_signature_covers_the_version() {
    let mut env = SignedSnapshot::from_bytes(&signed(7)).unwrap();
    env.version = 8;
    assert_eq!(
        env.verify(&key(1).verifying_key(), 0).unwrap_err(),
        SnapshotError::BadSignature
    );
}

#[test]
fn every_single_bit_flip_is_refused() {
    let bytes = signed(7);
    let vk = key(1).verifying_key();
    for i in 0..bytes.len() {
        for bit in [0x01u8, 0x80] {
            let mut b = bytes.clone();
            b[i] ^= bit;
            assert!(
                verify_and_load(&b, &vk, 0).is_err(),
                "byte {i} bit {bit:#x} accepted"
            );
        }
    }
}

#[test]
fn a_wrong_key_is_refused() {
    let err = verify_and_load(&signed(7), &key(2).verifying_key(), 0).unwrap_err();
    assert_eq!(err, SnapshotError::WrongKey);
}

#[test]
fn an_older_version_is_refused() {
    let vk = key(1).verifying_key();
    let err = verify_and_load(&signed(6), &vk, 7).unwrap_err();
    assert_eq!(
        err,
        SnapshotError::VersionTooOld {
            version: 6,
            min_version: 7
        }
    );
    assert!(
        verify_and_load(&signed(7), &vk, 7).is_ok(),
        "the same version reloads"
    );
}

#[test]
fn garbage_is_refused() {
    let vk = key(1).verifying_key();
    for bytes in [&b""[..], b"garbage", &[0xff; 200]] {
        assert!(matches!(
            verify_and_load(bytes, &vk, 0),
            Err(SnapshotError::Malformed(_))
        ));
    }
    let mut trailing = signed(7);
    trailing.push(0);
    assert!(matches!(
        verify_and_load(&trailing, &vk, 0),
        Err(SnapshotError::Malformed(_))
    ));
}

#[test]
fn a_signed_but_invalid_policy_is_refused() {
    let mut s = source();
    s.doors[0].to_zone_id = uuid::Uuid::from_u128(0xdead);
    let bytes = sign_at(&s, 1, at(NOON), &key(1))
        .unwrap()
        .to_bytes()
        .unwrap();
    let err = verify_and_load(&bytes, &key(1).verifying_key(), 0).unwrap_err();
    assert!(matches!(
        err,
        SnapshotError::Invalid(PolicyError::Dangling { .. })
    ));
}

/// Decides Alice's entry into CTRL (which needs a PIN) with `pin`.
fn pin_entry(policy: &Policy, state: &mut crate::decide::EngineState, pin: &str) -> Decision {
    run(policy, state, ALICE_CARD, DOOR, NOON, Some(pin))
}

fn pin_zone_source() -> PolicySource {
    let mut src = source();
    zone_mut(&mut src, CTRL).pin_required = true;
    src
}

#[test]
fn a_snapshot_file_alone_checks_no_pin() {
    use crate::decide::{Alarm, EngineState, Reason};
    let bytes = sign_at(&pin_zone_source(), 1, at(NOON), &key(1))
        .unwrap()
        .to_bytes()
        .unwrap();
    let copied = verify_and_load(&bytes, &key(1).verifying_key(), 0).unwrap();
    // Without the key: refused, never counted towards a lockout.
    let mut state = EngineState::default();
    for _ in 0..5 {
        let d = pin_entry(&copied, &mut state, PIN);
        assert_eq!(d.reason, Reason::PinIncorrect);
        assert!(d.alarms.is_empty() && state.pin_suspended.is_empty());
        let detail = &d.trace.last().unwrap().detail;
        assert!(detail.contains("no PIN key"), "{detail}");
    }
    // A wrong key makes the right PIN (and its duress form) wrong.
    let wrong = copied.clone().with_pin_key(PinKey::from_bytes([1; 32]));
    for pin in [PIN, "1235"] {
        let d = pin_entry(&wrong, &mut EngineState::default(), pin);
        assert_eq!(
            (d.reason, d.alarms.len()),
            (Reason::PinIncorrect, 0),
            "{pin}"
        );
    }
    // With the key, as before: PIN, duress PIN, wrong PIN.
    let keyed = copied.with_pin_key(pin_key());
    let mut state = EngineState::default();
    assert!(pin_entry(&keyed, &mut state, PIN).granted());
    let duress = pin_entry(&keyed, &mut state, "1235");
    assert!(duress.granted() && duress.alarms == [Alarm::Duress]);
    let wrong_pin = pin_entry(&keyed, &mut state, "1233");
    assert_eq!(wrong_pin.reason, Reason::PinIncorrect);
    assert_eq!(
        state.pin_failures.values().copied().collect::<Vec<_>>(),
        [1]
    );
}

#[test]
fn a_snapshot_without_pin_verifiers_keeps_only_the_fact_of_a_pin() {
    use crate::decide::{EngineState, Reason};
    let full = pin_zone_source();
    let withheld = full.without_pin_verifiers();
    let bytes = sign_at(&withheld, 1, at(NOON), &key(1))
        .unwrap()
        .to_bytes()
        .unwrap();
    let PinVerifier::Keyed { salt, tag } = *full.credentials[0].pin.clone().unwrap() else {
        panic!("the fixture's PIN is keyed")
    };
    for secret in [&salt[..], &tag[..]] {
        assert!(!bytes.windows(secret.len()).any(|w| w == secret));
    }
    let policy = verify_and_load(&bytes, &key(1).verifying_key(), 0)
        .unwrap()
        .with_pin_key(pin_key());
    let alice = policy.credential_by_card(ALICE_CARD).unwrap();
    assert_eq!(alice.pin.as_deref(), Some(&PinVerifier::Withheld));
    let pins = |s: &PolicySource| s.credentials.iter().filter(|c| c.pin.is_some()).count();
    assert_eq!(pins(policy.source()), pins(&full));
    // Even with the key nothing can be checked: there is nothing to check against.
    let d = pin_entry(&policy, &mut EngineState::default(), PIN);
    assert_eq!(d.reason, Reason::PinIncorrect);
    // Everything but the PIN verifiers is the same.
    let mut restored = policy.source().clone();
    restored.credentials[0].pin = full.credentials[0].pin.clone();
    assert_eq!(restored, full);
}

fn streamed(bytes: &[u8], key: &SigningKey, min: u64) -> Result<LoadedSnapshot, SnapshotError> {
    load_snapshot(std::io::Cursor::new(bytes), &key.verifying_key(), min)
}

#[test]
fn a_streamed_snapshot_loads_as_its_bytes() {
    // Big enough for records to straddle the reading window many times.
    let mut src = source();
    for n in 0..6_000u128 {
        let id = Uuid::from_u128(0x9_0000 + n);
        src.people
            .push(person(id, crate::model::PersonKind::Staff, vec![GROUP]));
        let mut c = credential(0, &format!("{:010X}", n), crate::model::Holder::Person(id));
        c.id = Uuid::from_u128(0xa_0000 + n);
        src.credentials.push(c);
    }
    let bytes = sign_at(&src, 9, at(NOON), &key(1))
        .unwrap()
        .to_bytes()
        .unwrap();
    let loaded = streamed(&bytes, &key(1), 9).unwrap();
    assert_eq!(loaded.policy.source(), &src);
    assert_eq!(loaded.policy.version(), 9);
    assert_eq!((loaded.issued_at, loaded.site_ids), (at(NOON), vec![SITE]));
    assert_eq!(loaded.size, bytes.len() as u64);
}

#[test]
fn a_streamed_snapshot_refuses_what_the_bytes_refuse() {
    let bytes = signed(7);
    assert!(matches!(
        streamed(&bytes, &key(2), 0),
        Err(SnapshotError::WrongKey)
    ));
    assert!(matches!(
        streamed(&bytes, &key(1), 8),
        Err(SnapshotError::VersionTooOld { .. })
    ));
    // Every fifth byte (each check verifies a signature twice, slowly in a debug build).
    for i in (0..bytes.len()).step_by(5) {
        let mut flipped = bytes.clone();
        flipped[i] ^= 0x01;
        assert!(
            streamed(&flipped, &key(1), 0).is_err(),
            "a flipped bit at {i}"
        );
        let kind = |e: Option<SnapshotError>| e.map(|e| std::mem::discriminant(&e));
        assert_eq!(
            kind(streamed(&flipped, &key(1), 0).err()),
            kind(verify_and_load(&flipped, &key(1).verifying_key(), 0).err()),
            "the same error for a flipped bit at {i}"
        );
    }
    let mut long = bytes.clone();
    long.push(0);
    assert!(matches!(
        streamed(&long, &key(1), 0),
        Err(SnapshotError::Malformed(_))
    ));
    assert!(matches!(
        streamed(b"nonsense", &key(1), 0),
        Err(SnapshotError::Malformed(_))
    ));
    assert!(matches!(
        streamed(&bytes[..bytes.len() / 2], &key(1), 0),
        Err(SnapshotError::Malformed(_))
    ));
}
