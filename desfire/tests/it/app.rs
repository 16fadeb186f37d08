//! The Gatehouse application's flows (`gatehouse_desfire::app`) against the card side:
//! issue → door read, clones, wrong keys, a replaying card, key rollover, re-key to
//! another site, wipe, random-ID cards, EV1 cards, and garbage from a card.

use std::cell::RefCell;
use std::rc::Rc;

use gatehouse_desfire::app::door::{self, DoorRead};
use gatehouse_desfire::app::station::{self, IssueKeys, StationError};
use gatehouse_desfire::app::{self, Record, SiteKeys};
use gatehouse_desfire::card::Card;
use gatehouse_desfire::pcd::Pcd;
use gatehouse_desfire::{AesKey, Error};
use rand::rngs::OsRng;
use rand::{Rng, RngCore, SeedableRng};

use super::*;

const SITE_A: [u8; 16] = [0xA0; 16];
const SITE_B: [u8; 16] = [0xB0; 16];

/// Keys of `site` at `version`, all derived from one seed byte so tests can make "the
/// same version with other keys".
fn keys(site: [u8; 16], version: u8, seed: u8) -> IssueKeys {
    IssueKeys {
        door: SiteKeys {
            site_id: site,
            version,
            read: AesKey::new([seed ^ 0x01; 16]),
            uid: AesKey::new([seed ^ 0x02; 16]),
        },
        master: AesKey::new([seed ^ 0x03; 16]),
    }
}

fn blank(random_id: bool) -> Rc<RefCell<Card>> {
    Rc::new(RefCell::new(
        Card::new(&UID).unwrap().with_random_id(random_id),
    ))
}

/// A fresh activation of `card` (field off and on), and the UID it shows.
fn present(card: &Rc<RefCell<Card>>) -> Vec<u8> {
    card.borrow_mut().reset();
    card.borrow().anticollision_uid(&mut OsRng)
}

fn door_read(card: &Rc<RefCell<Card>>, accepted: &[&IssueKeys]) -> Result<DoorRead, Error> {
    let seen = present(card);
    let doors: Vec<SiteKeys> = accepted.iter().map(|k| k.door.clone()).collect();
    door::read(
        &mut reader(card.clone(), Log::default()),
        &seen,
        &doors,
        &mut OsRng,
    )
}

fn issued(keys: &IssueKeys, random_id: bool) -> Rc<RefCell<Card>> {
    let card = blank(random_id);
    present(&card);
    let uid = station::issue(&mut reader(card.clone(), Log::default()), keys, &mut OsRng);
    assert_eq!(uid.unwrap(), UID);
    card
}

fn authentic(site: [u8; 16], version: u8) -> DoorRead {
    DoorRead::Authentic {
        uid: UID.to_vec(),
        site_id: site,
        version,
    }
}

#[test]
fn an_issued_card_reads_at_the_door_with_fixed_and_random_ids() {
    let k = keys(SITE_A, 1, 0x10);
    for random_id in [false, true] {
        let card = issued(&k, random_id);
        assert_eq!(door_read(&card, &[&k]).unwrap(), authentic(SITE_A, 1));
        for key_no in 0..3 {
            assert_eq!(card.borrow().key_version(app::AID, key_no), Some(1));
        }
    }
}

#[test]
fn issuing_an_issued_card_is_refused_and_changes_nothing() {
    let k = keys(SITE_A, 1, 0x10);
    let card = issued(&k, false);
    present(&card);
    let again = station::issue(&mut reader(card.clone(), Log::default()), &k, &mut OsRng);
    assert_eq!(again, Err(StationError::AlreadyIssued));
    assert_eq!(door_read(&card, &[&k]).unwrap(), authentic(SITE_A, 1));
}

#[test]
fn clones_are_uid_cards_or_not_authentic() {
    let k = keys(SITE_A, 1, 0x10);
    // A "magic" card with the UID only: no application, the door decides on the UID.
    let magic = blank(false);
    assert_eq!(door_read(&magic, &[&k]).unwrap(), DoorRead::NoApplication);
    // The layout copied too (factory keys: keys cannot be read off a card).
    let copy = blank(false);
    present(&copy);
    let zero = IssueKeys {
        door: SiteKeys {
            read: AesKey::factory_default(),
            uid: AesKey::factory_default(),
            ..k.door.clone()
        },
        master: AesKey::factory_default(),
    };
    let mut pcd = reader(copy.clone(), Log::default());
    // Issue with all-zero bases: the same layout and version, keys nobody else has.
    station::issue(&mut pcd, &zero, &mut OsRng).unwrap();
    let err = door_read(&copy, &[&k]).unwrap_err();
    assert!(err.is_not_authentic(), "{err:?}");
}

#[test]
fn the_right_uid_with_other_keys_of_the_same_version_is_not_authentic() {
    let genuine = keys(SITE_A, 1, 0x10);
    let forged = keys(SITE_A, 1, 0x20);
    for random_id in [false, true] {
        let card = issued(&forged, random_id);
        let err = door_read(&card, &[&genuine]).unwrap_err();
        assert_eq!(err, Error::NotAuthentic, "random id {random_id}");
    }
}

#[test]
fn a_card_replaying_a_genuine_session_is_not_authentic() {
    let k = keys(SITE_A, 1, 0x10);
    let card = issued(&k, false);
    let log = Log::default();
    let seen = present(&card);
    door::read(
        &mut reader(card.clone(), log.clone()),
        &seen,
        std::slice::from_ref(&k.door),
        &mut OsRng,
    )
    .unwrap();
    // The attacker answers each command with the recorded answer, in order.
    let recorded: Vec<Vec<u8>> = log.borrow().iter().map(|(_, a)| a.clone()).collect();
    let mut answers = recorded.into_iter();
    let mut replay = Pcd::new(move |_: &[u8]| Ok(answers.next().unwrap_or_default()));
    let err = door::read(&mut replay, &UID, std::slice::from_ref(&k.door), &mut OsRng).unwrap_err();
    assert!(err.is_not_authentic(), "a fresh RndA: {err:?}");
}

#[test]
fn a_rollover_keeps_old_and_new_cards_during_the_overlap_and_refuses_old_after() {
    let v1 = keys(SITE_A, 1, 0x10);
    let v2 = keys(SITE_A, 2, 0x30);
    let old = issued(&v1, false);
    let new = issued(&v2, true);
    for card in [&old, &new] {
        assert!(matches!(
            door_read(card, &[&v2, &v1]),
            Ok(DoorRead::Authentic { .. })
        ));
    }
    // Re-keying an old card at the desk during the overlap brings it to v2.
    let rekeyed = issued(&v1, false);
    let seen = present(&rekeyed);
    let mut pcd = reader(rekeyed.clone(), Log::default());
    assert_eq!(
        station::rekey(&mut pcd, &seen, &[v2.clone(), v1.clone()], &v2, &mut OsRng),
        Ok(UID.to_vec())
    );
    // After the overlap doors hold only v2.
    assert_eq!(door_read(&old, &[&v2]).unwrap_err(), Error::NotAuthentic);
    assert_eq!(door_read(&new, &[&v2]).unwrap(), authentic(SITE_A, 2));
    assert_eq!(door_read(&rekeyed, &[&v2]).unwrap(), authentic(SITE_A, 2));
}

#[test]
fn a_door_with_several_sites_finds_the_cards_site_and_a_card_moves_site_by_rekey() {
    let a = keys(SITE_A, 1, 0x10);
    let b = keys(SITE_B, 1, 0x40);
    let card = issued(&b, true);
    assert_eq!(door_read(&card, &[&a, &b]).unwrap(), authentic(SITE_B, 1));
    assert_eq!(door_read(&card, &[&a]).unwrap_err(), Error::NotAuthentic);
    let seen = present(&card);
    let mut pcd = reader(card.clone(), Log::default());
    station::rekey(&mut pcd, &seen, std::slice::from_ref(&b), &a, &mut OsRng).unwrap();
    assert_eq!(door_read(&card, &[&a, &b]).unwrap(), authentic(SITE_A, 1));
}

#[test]
fn a_record_naming_another_card_or_site_is_not_authentic() {
    let k = keys(SITE_A, 1, 0x10);
    let other_uid = Record {
        uid: vec![0x04, 1, 2, 3, 4, 5, 6],
        site_id: SITE_A,
    };
    let other_site = Record {
        uid: UID.to_vec(),
        site_id: SITE_B,
    };
    for record in [other_uid, other_site] {
        let card = issued(&k, false);
        present(&card);
        let mut pcd = reader(card.clone(), Log::default());
        pcd.select_application(app::AID).unwrap();
        let master =
            gatehouse_desfire::diversify::card_key(&k.master, &UID, app::AID, app::SYSTEM_ID)
                .unwrap();
        pcd.authenticate_ev2_first(app::MASTER_KEY, &master, &mut OsRng)
            .unwrap();
        pcd.write_data(app::FILE, 0, &record.encode().unwrap(), app::FILE_MODE)
            .unwrap();
        assert_eq!(door_read(&card, &[&k]).unwrap_err(), Error::NotAuthentic);
    }
}

#[test]
fn wiping_leaves_a_card_that_can_be_issued_again_and_needs_the_keys() {
    let k = keys(SITE_A, 1, 0x10);
    let card = issued(&k, true);
    let seen = present(&card);
    let wrong = keys(SITE_A, 1, 0x20);
    let mut pcd = reader(card.clone(), Log::default());
    assert_eq!(
        station::wipe(&mut pcd, &seen, &[wrong], &mut OsRng),
        Err(StationError::UnknownKeys(1))
    );
    let seen = present(&card);
    let mut pcd = reader(card.clone(), Log::default());
    assert_eq!(
        station::wipe(&mut pcd, &seen, std::slice::from_ref(&k), &mut OsRng),
        Ok(UID.to_vec())
    );
    assert_eq!(door_read(&card, &[&k]).unwrap(), DoorRead::NoApplication);
    let seen = present(&card);
    let mut pcd = reader(card.clone(), Log::default());
    assert_eq!(
        station::wipe(&mut pcd, &seen, std::slice::from_ref(&k), &mut OsRng),
        Err(StationError::NotIssued)
    );
    present(&card);
    let mut pcd = reader(card.clone(), Log::default());
    station::issue(&mut pcd, &k, &mut OsRng).unwrap();
    assert_eq!(door_read(&card, &[&k]).unwrap(), authentic(SITE_A, 1));
}

/// An EV1 card does not know `AuthenticateEV2First`: the door falls back to EV1's
/// `AuthenticateAES` and reads the same record.
#[test]
fn an_ev1_card_is_read_with_authenticate_aes() {
    let k = keys(SITE_A, 1, 0x10);
    let card = issued(&k, false);
    let seen = present(&card);
    let inner = card.clone();
    let mut ev1 = Pcd::new(move |apdu: &[u8]| {
        if apdu.get(..2) == Some(&[0x90, 0x71]) {
            return Ok(vec![0x91, 0x1C]);
        }
        Ok(inner.borrow_mut().process(apdu, &mut OsRng))
    });
    let read = door::read(&mut ev1, &seen, std::slice::from_ref(&k.door), &mut OsRng);
    assert_eq!(read.unwrap(), authentic(SITE_A, 1));
}

/// A card answering random bytes gets an error or "no application", never a panic, and
/// never an authentic read.
#[test]
fn random_answers_never_read_as_authentic() {
    let k = keys(SITE_A, 1, 0x10);
    let mut rng = rand::thread_rng();
    for _ in 0..2_000 {
        let mut answers = rand::rngs::StdRng::seed_from_u64(rng.r#gen());
        let mut pcd = Pcd::new(move |_: &[u8]| {
            let len = answers.gen_range(0..40);
            let mut out = vec![0u8; len];
            answers.fill_bytes(&mut out);
            if answers.gen_bool(0.5) && len >= 2 {
                out[len - 2] = 0x91;
                out[len - 1] = [0x00, 0xAF][answers.gen_range(0..2)];
            }
            Ok(out)
        });
        let read = door::read(&mut pcd, &UID, std::slice::from_ref(&k.door), &mut OsRng);
        assert!(!matches!(read, Ok(DoorRead::Authentic { .. })), "{read:?}");
    }
}
