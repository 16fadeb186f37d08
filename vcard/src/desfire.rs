//! DESFire cards for the virtual reader: a genuine card issued the way Gatehouse issues
//! one, its clones, and the recording a replaying attacker plays back.
//!
//! The cards are `gatehouse_desfire::card::Card`s, built through the crate's own reader
//! side ([`Pcd`]) against the in-memory card, so a card made here went through the same
//! commands an issuing station sends. A card is a [`SharedCard`]: its keys and files
//! outlive an insertion (issue on one reader, open the door on the other).

use std::sync::{Arc, Mutex};

use gatehouse_desfire::card::Card;
use gatehouse_desfire::pcd::Pcd;
use gatehouse_desfire::types::{AccessRights, NEVER};
use gatehouse_desfire::{AesKey, CommMode, Error};
use rand::rngs::OsRng;

/// A DESFire card shared between insertions and the test that looks into it.
pub type SharedCard = Arc<Mutex<Card>>;

/// One command APDU and the card's answer, as seen on the reader's side.
pub type Exchange = (Vec<u8>, Vec<u8>);

/// Key settings of the credential application: master key changeable, free directory
/// listing, configuration changeable; creating files needs the application master key.
const APP_SETTINGS: u8 = 0x0B;

/// Where the credential lives on a card and how it is protected: what an issued card and
/// its layout-copying clone share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Application identifier, as on the wire (least significant byte first).
    pub aid: [u8; 3],
    /// AES keys in the application: key 0 writes (master), key 1 reads (the door's).
    pub key_count: u8,
    /// Number of the standard data file holding the credential.
    pub file: u8,
    /// Communication mode of that file.
    pub mode: CommMode,
    /// Access rights of that file.
    pub access: AccessRights,
    /// Size of that file in bytes.
    pub size: u32,
}

impl Default for Layout {
    /// The layout of the `gatehouse-desfire` tests: application `474801` with two keys,
    /// file 1 of 32 bytes in CommMode Full, read with key 1, written with key 0.
    fn default() -> Self {
        Self {
            aid: [0x47, 0x48, 0x01],
            key_count: 2,
            file: 1,
            mode: CommMode::Full,
            access: AccessRights {
                read: 1,
                write: 0,
                read_write: NEVER,
                change: 0,
            },
            size: 32,
        }
    }
}

/// The card's own (already diversified) application keys.
#[derive(Debug, Clone)]
pub struct CardKeys {
    /// Key 0: the application master (write) key.
    pub master: AesKey,
    /// Key 1: the read key the door authenticates with.
    pub read: AesKey,
    /// Version both keys get.
    pub version: u8,
}

/// A blank card as delivered (card master key all zero), for an issuing station to write.
/// `None` unless `uid` has 4, 7 or 10 bytes.
pub fn blank(uid: &[u8], random_id: bool) -> Option<Card> {
    Card::new(uid).map(|c| c.with_random_id(random_id))
}

/// A genuine card: `layout` created on a blank card, `data` written to the file, then the
/// read and master keys set to `keys` (the order `gatehouse-desfire`'s tests issue in).
pub fn issue(
    uid: &[u8],
    layout: &Layout,
    keys: &CardKeys,
    data: &[u8],
    random_id: bool,
) -> Result<Card, Error> {
    let mut card = with_layout(uid, layout, Some(data))?;
    {
        let mut pcd = Pcd::new(|apdu: &[u8]| Ok(card.process(apdu, &mut OsRng)));
        let zero = AesKey::factory_default();
        pcd.select_application(layout.aid)?;
        pcd.authenticate_ev2_first(0, &zero, &mut OsRng)?;
        pcd.change_key(1, &keys.read, keys.version, &zero)?;
        pcd.change_key(0, &keys.master, keys.version, &zero)?;
    }
    card.reset();
    Ok(card.with_random_id(random_id))
}

/// A clone: the same UID and, with `layout`, the same application and file (empty, keys
/// still the factory default: the keys cannot be copied off a genuine card); without
/// `layout`, a card with no application at all (a "magic" card with the UID only).
pub fn clone_of(uid: &[u8], layout: Option<&Layout>) -> Result<Card, Error> {
    match layout {
        Some(layout) => with_layout(uid, layout, None),
        None => Card::new(uid).ok_or(Error::Malformed("a UID has 4, 7 or 10 bytes")),
    }
}

/// A blank card with `layout` created (factory keys) and `data` written to its file.
fn with_layout(uid: &[u8], layout: &Layout, data: Option<&[u8]>) -> Result<Card, Error> {
    let mut card = Card::new(uid).ok_or(Error::Malformed("a UID has 4, 7 or 10 bytes"))?;
    {
        let mut pcd = Pcd::new(|apdu: &[u8]| Ok(card.process(apdu, &mut OsRng)));
        let zero = AesKey::factory_default();
        pcd.authenticate_ev2_first(0, &zero, &mut OsRng)?;
        pcd.create_application(layout.aid, APP_SETTINGS, layout.key_count)?;
        pcd.select_application(layout.aid)?;
        pcd.authenticate_ev2_first(0, &zero, &mut OsRng)?;
        pcd.create_std_data_file(layout.file, layout.mode, layout.access, layout.size)?;
        if let Some(data) = data.filter(|d| !d.is_empty()) {
            pcd.write_data(layout.file, 0, data, layout.mode)?;
        }
    }
    card.reset();
    Ok(card)
}

/// Shares `card` so it can be inserted (and looked into) several times.
pub fn shared(card: Card) -> SharedCard {
    Arc::new(Mutex::new(card))
}

/// A replaying attacker's script: the exchanges of an earlier genuine session. Replayed,
/// `FF CA` gets the recorded UID, and every other command the next recorded answer in
/// order (a reader's flow sends the same commands in the same order; only its fresh
/// nonces differ, which is what mutual authentication catches).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Recording {
    /// The recorded exchanges, in order.
    pub exchanges: Vec<Exchange>,
}

impl Recording {
    /// One exchange per line, `COMMAND ANSWER` in hex (what `vcard --record` writes).
    pub fn to_text(&self) -> String {
        self.exchanges
            .iter()
            .map(|(c, a)| format!("{} {}\n", hex::encode_upper(c), hex::encode_upper(a)))
            .collect()
    }

    /// Parses [`Recording::to_text`]'s format; blank lines and `#` comments are skipped.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let mut exchanges = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(c), Some(a), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!("line {}: want `COMMAND ANSWER` in hex", i + 1));
            };
            let c = hex::decode(c).map_err(|_| format!("line {}: command is not hex", i + 1))?;
            let a = hex::decode(a).map_err(|_| format!("line {}: answer is not hex", i + 1))?;
            exchanges.push((c, a));
        }
        Ok(Self { exchanges })
    }
}
