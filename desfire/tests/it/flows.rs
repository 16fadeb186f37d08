//! The issuing station's and the door's flows, end to end against the card side.

use std::cell::RefCell;
use std::rc::Rc;

use gatehouse_desfire::card::Card;
use gatehouse_desfire::diversify::card_key;
use gatehouse_desfire::pcd::Pcd;
use gatehouse_desfire::types::{AccessRights, FREE, NEVER};
use gatehouse_desfire::{AesKey, CommMode, Error, Status};
use rand::rngs::OsRng;

use super::*;

pub const FILE: u8 = 1;

/// Issues a blank card: application with two keys (0 = write/master, 1 = door read),
/// one Full-mode file readable with key 1, credential written with key 0, keys set to
/// the diversified ones last. Returns the (master, read) card keys.
pub fn issue<T>(pcd: &mut Pcd<T>, uid: &[u8]) -> (AesKey, AesKey)
where
    T: FnMut(&[u8]) -> Result<Vec<u8>, Error>,
{
    let k_master = card_key(&site_master(), uid, AID, SYSTEM).unwrap();
    let k_read = card_key(&site_read(), uid, AID, SYSTEM).unwrap();
    let zero = AesKey::factory_default();
    pcd.select_application([0; 3]).unwrap();
    pcd.authenticate_ev2_first(0, &zero, &mut OsRng).unwrap();
    assert!(pcd.get_version().unwrap().is_ev2_or_later());
    pcd.create_application(AID, 0x0B, 2).unwrap();
    pcd.select_application(AID).unwrap();
    pcd.authenticate_ev2_first(0, &zero, &mut OsRng).unwrap();
    let access = AccessRights {
        read: 1,
        write: 0,
        read_write: NEVER,
        change: 0,
    };
    pcd.create_std_data_file(FILE, CommMode::Full, access, 32)
        .unwrap();
    pcd.write_data(FILE, 0, CREDENTIAL, CommMode::Full).unwrap();
    pcd.change_key(1, &k_read, 1, &zero).unwrap();
    pcd.change_key(0, &k_master, 1, &zero).unwrap();
    assert!(
        pcd.session().is_none(),
        "changing the session's key ends the session"
    );
    (k_master, k_read)
}

/// What the door does: select, authenticate with the diversified read key, read the
/// credential, read the real UID.
pub fn door_read<T>(pcd: &mut Pcd<T>, uid: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error>
where
    T: FnMut(&[u8]) -> Result<Vec<u8>, Error>,
{
    let k_read = card_key(&site_read(), uid, AID, SYSTEM)?;
    pcd.select_application(AID)?;
    pcd.authenticate_ev2_first(1, &k_read, &mut OsRng)?;
    let data = pcd.read_data(FILE, 0, CREDENTIAL.len() as u32, CommMode::Full)?;
    let real_uid = pcd.get_card_uid()?;
    Ok((data, real_uid))
}

fn fresh() -> (Rc<RefCell<Card>>, Log) {
    (
        Rc::new(RefCell::new(Card::new(&UID).unwrap())),
        Log::default(),
    )
}

#[test]
fn issued_card_reads_back_at_the_door() {
    let (card, log) = fresh();
    let mut pcd = reader(card.clone(), log.clone());
    issue(&mut pcd, &UID);
    let (data, uid) = door_read(&mut pcd, &UID).unwrap();
    assert_eq!(data, CREDENTIAL);
    assert_eq!(uid, UID);
    assert_eq!(card.borrow().key_version(AID, 0), Some(1));
    assert_eq!(card.borrow().key_version(AID, 1), Some(1));
    // The credential never crossed the air in clear.
    let window = |hay: &[u8]| hay.windows(8).any(|w| w == &CREDENTIAL[..8]);
    assert!(log.borrow().iter().all(|(c, a)| !window(c) && !window(a)));
}

#[test]
fn long_file_comes_in_frames_and_verifies() {
    let (card, log) = fresh();
    let mut pcd = reader(card, log.clone());
    let zero = AesKey::factory_default();
    pcd.create_application(AID, 0x0F, 1).unwrap();
    pcd.select_application(AID).unwrap();
    pcd.authenticate_ev2_first(0, &zero, &mut OsRng).unwrap();
    let access = AccessRights {
        read: 0,
        write: 0,
        read_write: 0,
        change: 0,
    };
    pcd.create_std_data_file(2, CommMode::Full, access, 200)
        .unwrap();
    let blob: Vec<u8> = (0..200u32).map(|i| i as u8).collect();
    pcd.write_data(2, 0, &blob[..150], CommMode::Full).unwrap();
    pcd.write_data(2, 150, &blob[150..], CommMode::Full)
        .unwrap();
    log.borrow_mut().clear();
    assert_eq!(pcd.read_data(2, 0, 0, CommMode::Full).unwrap(), blob);
    let frames = log
        .borrow()
        .iter()
        .filter(|(_, a)| a.ends_with(&[0x91, 0xAF]))
        .count();
    assert!(frames >= 3, "200 bytes + padding + MAC span several frames");
    // MAC mode and plain mode files too.
    pcd.create_std_data_file(3, CommMode::Mac, access, 10)
        .unwrap();
    pcd.write_data(3, 0, b"0123456789", CommMode::Mac).unwrap();
    assert_eq!(pcd.read_data(3, 2, 3, CommMode::Mac).unwrap(), b"234");
    let free = AccessRights {
        read: FREE,
        write: 0,
        read_write: NEVER,
        change: 0,
    };
    pcd.create_std_data_file(4, CommMode::Plain, free, 4)
        .unwrap();
    pcd.write_data(4, 0, b"open", CommMode::Plain).unwrap();
    pcd.select_application(AID).unwrap();
    assert_eq!(pcd.read_data(4, 0, 4, CommMode::Plain).unwrap(), b"open");
}

#[test]
fn get_version_in_three_frames_and_maced_in_a_session() {
    let (card, log) = fresh();
    let mut pcd = reader(card, log.clone());
    let v = pcd.get_version().unwrap();
    assert_eq!(v.uid, UID);
    assert_eq!(log.borrow().len(), 3);
    pcd.authenticate_ev2_first(0, &AesKey::factory_default(), &mut OsRng)
        .unwrap();
    assert_eq!(pcd.get_version().unwrap(), v);
    assert_eq!(pcd.session().unwrap().counter(), 1);
}

#[test]
fn random_id_card_shows_its_uid_only_after_authentication() {
    let card = Card::new(&UID).unwrap().with_random_id(true);
    let shown = card.anticollision_uid(&mut OsRng);
    assert_eq!(shown.len(), 4);
    assert_eq!(shown[0], 0x08);
    let card = Rc::new(RefCell::new(card));
    let mut pcd = reader(card, Log::default());
    issue(&mut pcd, &UID);
    assert_eq!(pcd.get_version().unwrap().uid, [0; 7]);
    let (_, uid) = door_read(&mut pcd, &UID).unwrap();
    assert_eq!(uid, UID);
}

#[test]
fn wrong_key_and_wrong_site_are_not_authentic() {
    let (card, log) = fresh();
    let mut pcd = reader(card, log);
    issue(&mut pcd, &UID);
    pcd.select_application(AID).unwrap();
    let err = pcd
        .authenticate_ev2_first(1, &AesKey::new([0x99; 16]), &mut OsRng)
        .unwrap_err();
    assert_eq!(err, Error::NotAuthentic);
    assert!(err.is_not_authentic());
    // The write key of another card (diversified for another UID) does not work either.
    let other = card_key(&site_master(), &[4, 1, 2, 3, 4, 5, 6], AID, SYSTEM).unwrap();
    assert_eq!(
        pcd.authenticate_ev2_first(0, &other, &mut OsRng),
        Err(Error::NotAuthentic)
    );
}

#[test]
fn the_read_key_cannot_write_or_change_keys() {
    let (card, log) = fresh();
    let mut pcd = reader(card, log);
    let (_, k_read) = issue(&mut pcd, &UID);
    pcd.select_application(AID).unwrap();
    pcd.authenticate_ev2_first(1, &k_read, &mut OsRng).unwrap();
    assert_eq!(
        pcd.write_data(FILE, 0, b"forged", CommMode::Full),
        Err(Error::Card(Status::PermissionDenied))
    );
    assert!(
        pcd.session().is_none(),
        "an error ends the session on both sides"
    );
    pcd.authenticate_ev2_first(1, &k_read, &mut OsRng).unwrap();
    let err = pcd
        .change_key(0, &AesKey::new([1; 16]), 2, &k_read)
        .unwrap_err();
    assert_eq!(err, Error::Card(Status::PermissionDenied));
    // Without a session, the protected file is refused.
    pcd.select_application(AID).unwrap();
    assert_eq!(
        pcd.read_data(FILE, 0, 4, CommMode::Plain),
        Err(Error::Card(Status::AuthenticationError))
    );
}

#[test]
fn key_rollover_changes_a_key_with_its_version() {
    let (card, log) = fresh();
    let mut pcd = reader(card.clone(), log);
    let (k_master, k_read) = issue(&mut pcd, &UID);
    let new_read = AesKey::new([0x33; 16]);
    pcd.select_application(AID).unwrap();
    pcd.authenticate_ev2_first(0, &k_master, &mut OsRng)
        .unwrap();
    pcd.change_key(1, &new_read, 2, &k_read).unwrap();
    assert_eq!(card.borrow().key_version(AID, 1), Some(2));
    assert_eq!(
        pcd.authenticate_ev2_first(1, &k_read, &mut OsRng),
        Err(Error::NotAuthentic)
    );
    pcd.authenticate_ev2_first(1, &new_read, &mut OsRng)
        .unwrap();
    // A wrong "old" key makes the CRC over the recovered key fail on the card.
    pcd.authenticate_ev2_first(0, &k_master, &mut OsRng)
        .unwrap();
    assert_eq!(
        pcd.change_key(1, &AesKey::new([0x44; 16]), 3, &k_read),
        Err(Error::Integrity)
    );
    assert_eq!(card.borrow().key_version(AID, 1), Some(2));
}

#[test]
fn duplicates_and_missing_things_are_typed_errors() {
    let (card, log) = fresh();
    let mut pcd = reader(card, log);
    issue(&mut pcd, &UID);
    assert_eq!(
        pcd.select_application([9, 9, 9]),
        Err(Error::Card(Status::ApplicationNotFound))
    );
    pcd.select_application([0; 3]).unwrap();
    pcd.authenticate_ev2_first(0, &AesKey::factory_default(), &mut OsRng)
        .unwrap();
    assert_eq!(
        pcd.create_application(AID, 0x0B, 2),
        Err(Error::Card(Status::DuplicateError))
    );
    pcd.select_application(AID).unwrap();
    assert_eq!(
        pcd.authenticate_ev2_first(5, &AesKey::factory_default(), &mut OsRng),
        Err(Error::Card(Status::NoSuchKey))
    );
    assert_eq!(pcd.get_card_uid(), Err(Error::NotAuthenticated));
}

/// An EV1 reader (AuthenticateAES, running-IV secure messaging) reads the same card.
#[test]
fn ev1_reader_reads_an_issued_card() {
    let (card, log) = fresh();
    let mut pcd = reader(card, log);
    let (_, k_read) = issue(&mut pcd, &UID);
    pcd.select_application(AID).unwrap();
    pcd.authenticate_aes(1, &k_read, &mut OsRng).unwrap();
    assert!(pcd.is_authenticated() && pcd.session().is_none());
    let (mode, access, size) = pcd.get_file_settings(FILE).unwrap();
    assert_eq!((mode, access.read, size), (CommMode::Full, 1, 32));
    let len = CREDENTIAL.len() as u32;
    assert_eq!(
        pcd.read_data(FILE, 0, len, CommMode::Full).unwrap(),
        CREDENTIAL
    );
    assert_eq!(pcd.get_card_uid().unwrap(), UID);
    assert_eq!(pcd.get_version().unwrap().uid, UID);
    let whole = pcd.read_data(FILE, 0, 0, CommMode::Full).unwrap();
    assert_eq!(&whole[..CREDENTIAL.len()], CREDENTIAL);
    assert_eq!(
        pcd.write_data(FILE, 0, b"x", CommMode::Full),
        Err(Error::Unsupported("writing in an EV1 session"))
    );
    pcd.select_application(AID).unwrap();
    let wrong = AesKey::new([0x77; 16]);
    assert_eq!(
        pcd.authenticate_aes(1, &wrong, &mut OsRng),
        Err(Error::NotAuthentic)
    );
}

#[test]
fn file_settings_in_an_ev2_session() {
    let (card, log) = fresh();
    let mut pcd = reader(card, log);
    let (k_master, _) = issue(&mut pcd, &UID);
    pcd.select_application(AID).unwrap();
    let plain = pcd.get_file_settings(FILE).unwrap();
    pcd.authenticate_ev2_first(0, &k_master, &mut OsRng)
        .unwrap();
    assert_eq!(pcd.get_file_settings(FILE).unwrap(), plain);
    assert_eq!(pcd.session().unwrap().counter(), 1);
}

#[test]
fn native_frames_and_iso_classes() {
    let mut card = Card::new(&UID).unwrap();
    // GetVersion natively: status first, then 7 bytes; the rest with native 0xAF.
    let first = card.process(&[0x60], &mut OsRng);
    assert_eq!((first[0], first.len()), (0xAF, 8));
    assert_eq!(card.process(&[0xAF], &mut OsRng)[0], 0xAF);
    let last = card.process(&[0xAF], &mut OsRng);
    assert_eq!((last[0], &last[1..8]), (0x00, &UID[..]));
    // Unknown native command, ISO class, reader pseudo-APDU, empty.
    assert_eq!(card.process(&[0x42], &mut OsRng), [0x1C]);
    assert_eq!(
        card.process(&[0x00, 0xA4, 0x04, 0x00], &mut OsRng),
        [0x6E, 0x00]
    );
    assert_eq!(
        card.process(&[0xFF, 0xCA, 0x00, 0x00, 0x00], &mut OsRng),
        [0x6E, 0x00]
    );
    assert_eq!(card.process(&[], &mut OsRng), [0x6E, 0x00]);
}
