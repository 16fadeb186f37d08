//! Snapshots round-trip, and refuse a flipped bit, a wrong key, an older version and
//! garbage, each with its own error.

use super::*;
use crate::fixture::*;
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
