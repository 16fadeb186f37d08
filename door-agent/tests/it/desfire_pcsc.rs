//! DESFire through real pcscd and vpcd: the project's virtual DESFire card (`vcard` with
//! `gatehouse_desfire`'s card side) read by the door's flow (`gatehouse_desfire::app::door`)
//! over the `pcsc` crate's `SCardTransmit` — raw and inside the agent's PC/SC reader — and
//! by an independent client (python-desfire through pyscard).
//!
//! Genuine cards (issued by the issuing station's flow) authenticate with the
//! AN10922-diversified read key and give their real UID and record; a clone with the same
//! UID, a card with the wrong keys and a replay of a genuine session are refused. Skipped
//! without pcscd/vpcd as the other PC/SC tests; the python-desfire test also skips without
//! its venv (`GATEHOUSE_TEST_DESFIRE_PYTHON`, a Python with pyscard and python-desfire)
//! unless `GATEHOUSE_TEST_REQUIRE_DESFIRE=1` (CI).
#![cfg(feature = "pcsc")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::ffi::CString;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use door_agent::reader::pcsc::{PcscOptions, PcscReader};
use door_agent::reader::{CardEvent, CardProof, CardReader, ReaderEvent, SecureKeys};
use gatehouse_desfire::app::SiteKeys;
use gatehouse_desfire::app::door::{self, DoorRead};
use gatehouse_desfire::app::station::IssueKeys;
use gatehouse_desfire::pcd::Pcd;
use gatehouse_desfire::{AesKey, Error};
use pcsc::{Context, Protocols, Scope, ShareMode};
use rand::rngs::OsRng;
use tokio::sync::mpsc;
use uuid::Uuid;
use vcard::desfire::{self, SharedCard};
use vcard::{Behaviour, Chip, InsertedCard, VPCD_PORT, VirtualCard};

use crate::support::pcscd::{READER0, WAIT, pcscd, wait_card_absent};

const UID: [u8; 7] = [0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80];
const SITE: [u8; 16] = [0x5E; 16];
const GET_UID: [u8; 5] = [0xFF, 0xCA, 0x00, 0x00, 0x00];

/// The test site's keys at `version`; `seed` makes other keys of the same version.
fn keys_with(version: u8, seed: u8) -> IssueKeys {
    IssueKeys {
        door: SiteKeys {
            site_id: SITE,
            version,
            read: AesKey::new([seed ^ 0x22; 16]),
            uid: AesKey::new([seed ^ 0x33; 16]),
        },
        master: AesKey::new([seed ^ 0x11; 16]),
    }
}

fn keys() -> IssueKeys {
    keys_with(1, 0)
}

/// A card issued by the issuing station's flow for the test site.
fn genuine(random_id: bool) -> SharedCard {
    desfire::shared(desfire::issue(&UID, &keys(), random_id).unwrap())
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

/// The door's read of the card that showed `seen`, with the test site's keys.
fn door_read(card: &pcsc::Card, seen: &[u8]) -> Result<DoorRead, Error> {
    let mut pcd = Pcd::new(|apdu: &[u8]| transmit(card, apdu));
    door::read(&mut pcd, seen, &[keys().door], &mut OsRng)
}

fn authentic() -> DoorRead {
    DoorRead::Authentic {
        uid: UID.to_vec(),
        site_id: SITE,
        version: 1,
    }
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
    assert_eq!(door_read(&card, &UID).unwrap(), authentic());
    // EV2First went over the wire (90 71 …), and the record never did in clear.
    let log = inserted.exchanges();
    assert!(log.iter().any(|(c, _)| c.starts_with(&[0x90, 0x71])));
    let clear = |b: &[u8]| b.windows(4).any(|w| w == b"GHC\x01");
    assert!(log.iter().all(|(c, a)| !clear(c) && !clear(a)));
    remove(card, inserted);
}

#[test]
fn clones_with_the_same_uid_are_refused() {
    let Some(_pcscd) = pcscd() else { return };
    // Same UID, same application and file, factory keys.
    let clone = desfire::clone_of(&UID, true).unwrap();
    let inserted = insert(Chip::Desfire(desfire::shared(clone)));
    let card = connect();
    assert_eq!(anticollision_uid(&card), UID, "the clone shows the UID");
    let err = door_read(&card, &UID).unwrap_err();
    assert_eq!(err, Error::NotAuthentic);
    assert!(err.is_not_authentic());
    remove(card, inserted);

    // A UID-only "magic" card: no application at all.
    let clone = desfire::clone_of(&UID, false).unwrap();
    let inserted = insert(Chip::Desfire(desfire::shared(clone)));
    let card = connect();
    assert_eq!(anticollision_uid(&card), UID);
    assert_eq!(door_read(&card, &UID).unwrap(), DoorRead::NoApplication);
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
        assert_eq!(door_read(&card, &uid).unwrap(), authentic());
        shown.push(uid);
        remove(card, inserted);
    }
    assert_ne!(shown[0], shown[1]);
}

/// The Python with pyscard and python-desfire, or `None` (skip) when there is none.
pub(crate) fn desfire_python() -> Option<String> {
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

/// python-desfire authenticates (EV1, key 1 derived from the site's `read_key` and the
/// card's real `uid`) to the card in `reader` and reads its record naming `site`.
pub(crate) fn python_desfire_reads(
    python: &str,
    reader: &str,
    uid: &[u8],
    read_key: &[u8; 16],
    site: &[u8; 16],
) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../desfire/tests/python/read_issued_card_pcsc.py");
    let mut child = Command::new(python)
        .arg(&script)
        .arg(reader)
        .arg(hex::encode_upper(uid))
        .arg(hex::encode_upper(read_key))
        .arg(hex::encode_upper(site))
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
}

#[test]
fn python_desfire_reads_the_virtual_card_through_pyscard_and_pcscd() {
    let Some(python) = desfire_python() else {
        return;
    };
    let Some(_pcscd) = pcscd() else { return };
    let inserted = insert(Chip::Desfire(genuine(false)));
    let read_key = keys().door.read.expose().to_owned();
    python_desfire_reads(&python, READER0, &UID, &read_key, &SITE);
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

/// The agent's PC/SC reader (with card keys) and its events.
struct Reader {
    rx: mpsc::Receiver<ReaderEvent>,
    rt: tokio::runtime::Runtime,
    _handle: door_agent::reader::ReaderHandle,
}

impl Reader {
    fn start(keys: &SecureKeys) -> Self {
        let (tx, rx) = mpsc::channel(64);
        let options = PcscOptions {
            readers: vec![READER0.to_owned()],
            // The logic under test, not the deadline: generous on a loaded machine.
            secure_deadline: Duration::from_secs(10),
            ..PcscOptions::default()
        };
        let reader = PcscReader::new(options).with_keys(keys.clone());
        let handle = Box::new(reader).spawn(tx).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        Self {
            rx,
            rt,
            _handle: handle,
        }
    }

    /// Inserts `chip`, returns the card event it caused, removes it.
    fn present(&mut self, chip: Chip) -> CardEvent {
        self.present_recorded(chip).0
    }

    /// [`Reader::present`], with the exchanges the card saw.
    fn present_recorded(&mut self, chip: Chip) -> (CardEvent, vcard::Recording) {
        let inserted = insert(chip);
        let deadline = Instant::now() + WAIT;
        let event = loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let rx = &mut self.rx;
            let next = self
                .rt
                .block_on(async { tokio::time::timeout(left, rx.recv()).await });
            match next {
                Ok(Some(ReaderEvent::Card(card))) => break card,
                Ok(Some(ReaderEvent::ReadFailed { kind, .. })) => panic!("read failed: {kind}"),
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => panic!("no card event within {WAIT:?}"),
            }
        };
        let recording = inserted.recording();
        card_removed(inserted);
        (event, recording)
    }
}

fn proof_of(event: &CardEvent) -> (String, CardProof) {
    (event.card.clone(), event.proof)
}

fn authentic_at(version: u8) -> CardProof {
    CardProof::Authentic {
        site_id: Uuid::from_bytes(SITE),
        key_version: version,
    }
}

#[test]
fn the_agents_reader_authenticates_secure_cards_and_tells_clones_apart() {
    let Some(_pcscd) = pcscd() else { return };
    let keys = SecureKeys::default();
    keys.set(vec![keys_with(1, 0).door]);
    let mut reader = Reader::start(&keys);
    let uid = hex::encode_upper(UID);
    let other_keys = desfire::issue(&UID, &keys_with(1, 0x40), false).unwrap();
    let cases = [
        ("genuine", Chip::Desfire(genuine(false)), authentic_at(1)),
        ("random id", Chip::Desfire(genuine(true)), authentic_at(1)),
        (
            "layout clone",
            Chip::Desfire(desfire::shared(desfire::clone_of(&UID, true).unwrap())),
            CardProof::NotAuthentic,
        ),
        (
            "magic clone",
            Chip::Desfire(desfire::shared(desfire::clone_of(&UID, false).unwrap())),
            CardProof::Uid,
        ),
        (
            "other keys",
            Chip::Desfire(desfire::shared(other_keys)),
            CardProof::NotAuthentic,
        ),
        ("UID card", Chip::Uid(UID.to_vec()), CardProof::Uid),
    ];
    for (what, chip, want) in cases {
        let event = reader.present(chip);
        assert_eq!(proof_of(&event), (uid.clone(), want), "{what}");
    }
    // The recording of a genuine read, replayed by an attacker.
    let (event, recording) = reader.present_recorded(Chip::Desfire(genuine(false)));
    assert_eq!(event.proof, authentic_at(1));
    let replayed = reader.present(Chip::Replay(recording));
    assert_eq!(proof_of(&replayed), (uid.clone(), CardProof::NotAuthentic));
}

#[test]
fn a_key_rollover_accepts_both_versions_during_the_overlap_and_only_the_new_after() {
    let Some(_pcscd) = pcscd() else { return };
    let (v1, v2) = (keys_with(1, 0), keys_with(2, 0x50));
    let old = genuine(false);
    let new = desfire::shared(desfire::issue(&UID, &v2, true).unwrap());
    let keys = SecureKeys::default();
    let mut reader = Reader::start(&keys);
    let mut proof = |card: &SharedCard| reader.present(Chip::Desfire(card.clone())).proof;
    assert_eq!(proof(&old), CardProof::Uid, "no keys: UID only");
    keys.set(vec![v1.door.clone()]);
    assert_eq!(
        proof(&new),
        CardProof::NotAuthentic,
        "v2 before the rollover"
    );
    keys.set(vec![v2.door.clone(), v1.door.clone()]);
    assert_eq!(proof(&old), authentic_at(1));
    assert_eq!(proof(&new), authentic_at(2));
    keys.set(vec![v2.door.clone()]);
    assert_eq!(
        proof(&old),
        CardProof::NotAuthentic,
        "v1 after the rollover"
    );
    assert_eq!(proof(&new), authentic_at(2));
}
