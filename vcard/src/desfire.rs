//! DESFire cards for the virtual reader: a genuine card issued the way Gatehouse issues
//! one, its clones, and the recording a replaying attacker plays back.
//!
//! The cards are `gatehouse_desfire::card::Card`s; a genuine one is issued by the issuing
//! station's own flow (`gatehouse_desfire::app::station::issue`) against the in-memory
//! card, so it went through the same commands `gatehouse cards issue` sends. A card is a
//! [`SharedCard`]: its keys and files outlive an insertion (issue on one reader, open the
//! door on the other).

use std::sync::{Arc, Mutex};

use gatehouse_desfire::app::station::{self, IssueKeys, StationError};
use gatehouse_desfire::app::{self, AID};
use gatehouse_desfire::card::Card;
use gatehouse_desfire::pcd::Pcd;
use gatehouse_desfire::{AesKey, Error};
use rand::rngs::OsRng;

/// A DESFire card shared between insertions and the test that looks into it.
pub type SharedCard = Arc<Mutex<Card>>;

/// One command APDU and the card's answer, as seen on the reader's side.
pub type Exchange = (Vec<u8>, Vec<u8>);

/// A blank card as delivered (card master key all zero), for an issuing station to write.
/// `None` unless `uid` has 4, 7 or 10 bytes.
pub fn blank(uid: &[u8], random_id: bool) -> Option<Card> {
    Card::new(uid).map(|c| c.with_random_id(random_id))
}

/// A genuine card: a blank card issued for `keys` by the issuing station's flow.
pub fn issue(uid: &[u8], keys: &IssueKeys, random_id: bool) -> Result<Card, StationError> {
    let mut card = blank(uid, false).ok_or(Error::Malformed("a UID has 4, 7 or 10 bytes"))?;
    station::issue(&mut reader(&mut card), keys, &mut OsRng)?;
    card.reset();
    Ok(card.with_random_id(random_id))
}

/// A clone: the same UID and, with `copy_layout`, the Gatehouse application and file
/// (empty, keys still the factory default: keys cannot be copied off a genuine card);
/// without, a card with no application at all (a "magic" card with the UID only).
pub fn clone_of(uid: &[u8], copy_layout: bool) -> Result<Card, Error> {
    let mut card = Card::new(uid).ok_or(Error::Malformed("a UID has 4, 7 or 10 bytes"))?;
    if copy_layout {
        let mut pcd = reader(&mut card);
        pcd.create_application(AID, app::APP_SETTINGS, app::KEY_COUNT)?;
        pcd.select_application(AID)?;
        let zero = AesKey::factory_default();
        pcd.authenticate_ev2_first(app::MASTER_KEY, &zero, &mut OsRng)?;
        pcd.create_std_data_file(app::FILE, app::FILE_MODE, app::FILE_ACCESS, app::FILE_SIZE)?;
    }
    card.reset();
    Ok(card)
}

/// A reader wired straight to `card`.
fn reader(card: &mut Card) -> Pcd<impl FnMut(&[u8]) -> Result<Vec<u8>, Error> + '_> {
    Pcd::new(move |apdu: &[u8]| Ok(card.process(apdu, &mut OsRng)))
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
