//! DESFire through real pcscd and vpcd: the project's virtual DESFire card (`vcard` with
//! `gatehouse_desfire`'s card side) read by `gatehouse_desfire::Pcd` over the `pcsc`
//! crate's `SCardTransmit`, and by an independent client (python-desfire through pyscard).
//!
//! Genuine cards authenticate (EV2First with the AN10922-diversified read key), show
//! their real UID (`GetCardUID`) and give the encrypted credential; a clone with the same
//! UID, and a replay of a genuine session, are refused. Skipped without pcscd/vpcd as the
//! other PC/SC tests; the python-desfire test also skips without its venv
//! (`GATEHOUSE_TEST_DESFIRE_PYTHON`, a Python with pyscard and python-desfire) unless
//! `GATEHOUSE_TEST_REQUIRE_DESFIRE=1` (CI).
#![cfg(feature = "pcsc")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::CString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gatehouse_desfire::diversify::card_key;
use gatehouse_desfire::pcd::Pcd;
use gatehouse_desfire::{AesKey, Error, Status};
use pcsc::{Context, Protocols, Scope, ShareMode};
use rand::rngs::OsRng;
use vcard::desfire::{self, CardKeys, Layout, SharedCard};
use vcard::{Behaviour, Chip, InsertedCard, VPCD_PORT, VirtualCard};

use crate::support::pcscd::{READER0, WAIT, pcscd, wait_card_absent};

/// The card of `gatehouse-desfire`'s tests (and of `vcard --desfire issued`).
const UID: [u8; 7] = [0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80];
const SYSTEM: &[u8] = b"gatehse";
const CREDENTIAL: &[u8] = b"gh:credential:0123456789abcdef";
const GET_UID: [u8; 5] = [0xFF, 0xCA, 0x00, 0x00, 0x00];

fn site_master() -> AesKey {
    AesKey::new([0x11; 16])
}

fn site_read() -> AesKey {
    AesKey::new([0x22; 16])
}

/// A card issued as the issuing station does: keys diversified for its real UID.
fn genuine(random_id: bool) -> SharedCard {
    let aid = Layout::default().aid;
    let keys = CardKeys {
        master: card_key(&site_master(), &UID, aid, SYSTEM).unwrap(),
        read: card_key(&site_read(), &UID, aid, SYSTEM).unwrap(),
        version: 1,
    };
    let card = desfire::issue(&UID, &Layout::default(), &keys, CREDENTIAL, random_id).unwrap();
    desfire::shared(card)
}

/// A PC/SC connection to the card in reader 0, once pcscd has it powered.
fn connect() -> pcsc::Card {
    let ctx = Context::establish(Scope::User).unwrap();
    let reader = CString::new(READER0).unwrap();
    let deadline = Instant::now() + WAIT;
    loop {
        match ctx.connect(&reader, ShareMode::Shared, Protocols::ANY) {
            Ok(card) => return card,
            Err(e) if Instant::now() > deadline => panic!("no card in {READER0}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

fn transmit(card: &pcsc::Card, apdu: &[u8]) -> Result<Vec<u8>, Error> {
    let mut buf = [0u8; pcsc::MAX_BUFFER_SIZE];
    card.transmit(apdu, &mut buf)
        .map(<[u8]>::to_vec)
        .map_err(|e| Error::Transport(e.to_string()))
}

/// `FF CA 00 00 00`: the UID the card shows, without its status word.
fn anticollision_uid(card: &pcsc::Card) -> Vec<u8> {
    let answer = transmit(card, &GET_UID).unwrap();
    let (uid, sw) = answer.split_at(answer.len() - 2);
    assert_eq!(sw, [0x90, 0x00]);
    uid.to_vec()
}

/// The door's read: select, EV2First with key 1 diversified for `uid`, the credential
/// (encrypted), the real UID.
fn door_read(card: &pcsc::Card, uid: &[u8]) -> Result<(Vec<u8>, Vec<u8>), Error> {
    let layout = Layout::default();
    let mut pcd = Pcd::new(|apdu: &[u8]| transmit(card, apdu));
    let key = card_key(&site_read(), uid, layout.aid, SYSTEM)?;
    pcd.select_application(layout.aid)?;
    pcd.authenticate_ev2_first(1, &key, &mut OsRng)?;
    let data = pcd.read_data(layout.file, 0, CREDENTIAL.len() as u32, layout.mode)?;
    let real_uid = pcd.get_card_uid()?;
    Ok((data, real_uid))
}

fn insert(chip: Chip) -> InsertedCard {
    VirtualCard::insert_chip(VPCD_PORT, chip, Behaviour::Normal).unwrap()
}

/// Removes the card and waits until pcscd saw it go (vpcd takes the next card only then).
fn remove(pcsc: pcsc::Card, card: InsertedCard) {
    drop(pcsc);
    card.remove();
    assert!(wait_card_absent(READER0), "{READER0} did not become empty");
}

#[test]
fn a_genuine_card_authenticates_and_reads_its_credential_through_pcscd() {
    let Some(_pcscd) = pcscd() else { return };
    let inserted = insert(Chip::Desfire(genuine(false)));
    let card = connect();
    assert_eq!(anticollision_uid(&card), UID);
    let (data, real_uid) = door_read(&card, &UID).unwrap();
    assert_eq!(data, CREDENTIAL);
    assert_eq!(real_uid, UID);
    // EV2First went over the wire (90 71 …), and the credential never did in clear.
    let log = inserted.exchanges();
    assert!(log.iter().any(|(c, _)| c.starts_with(&[0x90, 0x71])));
    let clear = |b: &[u8]| b.windows(8).any(|w| w == &CREDENTIAL[..8]);
    assert!(log.iter().all(|(c, a)| !clear(c) && !clear(a)));
    remove(card, inserted);
}

#[test]
fn clones_with_the_same_uid_are_refused() {
    let Some(_pcscd) = pcscd() else { return };
    // Same UID, same application and file, factory keys.
    let clone = desfire::clone_of(&UID, Some(&Layout::default())).unwrap();
    let inserted = insert(Chip::Desfire(desfire::shared(clone)));
    let card = connect();
    assert_eq!(anticollision_uid(&card), UID, "the clone shows the UID");
    let err = door_read(&card, &UID).unwrap_err();
    assert_eq!(err, Error::NotAuthentic);
    assert!(err.is_not_authentic());
    remove(card, inserted);

    // A UID-only "magic" card: no application at all.
    let clone = desfire::clone_of(&UID, None).unwrap();
    let inserted = insert(Chip::Desfire(desfire::shared(clone)));
    let card = connect();
    assert_eq!(anticollision_uid(&card), UID);
    assert_eq!(
        door_read(&card, &UID).unwrap_err(),
        Error::Card(Status::ApplicationNotFound)
    );
    remove(card, inserted);
}

#[test]
fn a_replayed_genuine_session_is_refused() {
    let Some(_pcscd) = pcscd() else { return };
    let inserted = insert(Chip::Desfire(genuine(false)));
    let card = connect();
    anticollision_uid(&card);
    door_read(&card, &UID).unwrap();
    let recording = inserted.recording();
    remove(card, inserted);

    let attacker = insert(Chip::Replay(recording));
    let card = connect();
    assert_eq!(anticollision_uid(&card), UID, "the replay shows the UID");
    let err = door_read(&card, &UID).unwrap_err();
    assert!(err.is_not_authentic(), "{err:?}");
    remove(card, attacker);
}

#[test]
fn random_uid_cards_show_a_new_uid_per_insertion_and_the_real_one_after_auth() {
    let Some(_pcscd) = pcscd() else { return };
    let shared = genuine(true);
    let mut shown = Vec::new();
    for _ in 0..2 {
        let inserted = insert(Chip::Desfire(shared.clone()));
        let card = connect();
        let uid = anticollision_uid(&card);
        assert_eq!((uid.len(), uid[0]), (4, 0x08), "a random ID: {uid:02X?}");
        assert_eq!(anticollision_uid(&card), uid, "stable within one insertion");
        let (data, real_uid) = door_read(&card, &UID).unwrap();
        assert_eq!(
            (data.as_slice(), real_uid.as_slice()),
            (CREDENTIAL, &UID[..])
        );
        shown.push(uid);
        remove(card, inserted);
    }
    assert_ne!(shown[0], shown[1]);
}

/// The Python with pyscard and python-desfire, or `None` (skip) when there is none.
fn desfire_python() -> Option<String> {
    let required = std::env::var("GATEHOUSE_TEST_REQUIRE_DESFIRE").as_deref() == Ok("1");
    let python = std::env::var("GATEHOUSE_TEST_DESFIRE_PYTHON").ok();
    let usable = python.as_deref().is_some_and(|p| {
        Command::new(p)
            .args(["-c", "import smartcard, desfire"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    if usable {
        return python;
    }
    let why = "GATEHOUSE_TEST_DESFIRE_PYTHON is not a Python with pyscard and python-desfire";
    assert!(!required, "GATEHOUSE_TEST_REQUIRE_DESFIRE=1 but {why}");
    eprintln!(
        "skipping python-desfire test: {why} (pip install pyscard==2.3.1 \
         python-desfire==0.1.5 'pycryptodome==3.*' in a venv)"
    );
    None
}

#[test]
fn python_desfire_reads_the_virtual_card_through_pyscard_and_pcscd() {
    let Some(python) = desfire_python() else {
        return;
    };
    let Some(_pcscd) = pcscd() else { return };
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../desfire/tests/python/read_issued_card_pcsc.py");
    let inserted = insert(Chip::Desfire(genuine(false)));
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(READER0)
        .arg(hex::encode_upper(UID))
        .arg(std::str::from_utf8(CREDENTIAL).unwrap())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("python-desfire agrees"),
        "python-desfire failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    // It spoke EV1 AuthenticateAES, natively (AA 01), not our reader side's EV2.
    assert!(
        inserted
            .exchanges()
            .iter()
            .any(|(c, a)| c.as_slice() == [0xAA, 0x01] && a.first() == Some(&0xAF))
    );
    card_removed(inserted);
}

fn card_removed(card: InsertedCard) {
    card.remove();
    assert!(wait_card_absent(READER0), "{READER0} did not become empty");
}
