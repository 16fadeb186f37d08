//! The Gatehouse application on a DESFire card: where a secure credential lives, what it
//! holds, and the two flows that use it — the door's read ([`door`]) and the issuing
//! station's issue, re-key and wipe ([`station`]).
//!
//! Application [`AID`] holds three AES keys, each with the site's key version:
//! - key 0 ([`MASTER_KEY`]): the application master key, diversified per card (AN10922)
//!   from the site's master key. Only the issuing station (the server) holds its base.
//! - key 1 ([`READ_KEY`]): the door's read key, diversified per card from the site's read
//!   key. Agents hold the base, so a door derives any card's key from its real UID.
//! - key 2 ([`UID_KEY`]): the site's UID key, not diversified. It opens a session only to
//!   ask a random-ID card its real UID (`GetCardUID`) before the door diversifies.
//!
//! File [`FILE`] (CommMode Full, read with key 1, written with key 0) holds a [`Record`]:
//! the card's real UID and its site, so a file cannot be moved to another card or site.

pub mod door;
pub mod station;

use crate::Error;
use crate::ev2::session::CommMode;
use crate::key::AesKey;
use crate::types::{AccessRights, NEVER};

/// Application identifier, as on the wire (least significant byte first).
pub const AID: [u8; 3] = [0x47, 0x48, 0x01];
/// Key number of the application master (write) key.
pub const MASTER_KEY: u8 = 0;
/// Key number of the door's read key.
pub const READ_KEY: u8 = 1;
/// Key number of the site-wide key random-ID cards reveal their UID to.
pub const UID_KEY: u8 = 2;
/// Keys in the application.
pub const KEY_COUNT: u8 = 3;
/// Key settings: master key changeable, free directory listing, configuration
/// changeable; creating and deleting files needs the master key.
pub const APP_SETTINGS: u8 = 0x0B;
/// The standard data file holding the [`Record`].
pub const FILE: u8 = 1;
/// Its size in bytes.
pub const FILE_SIZE: u32 = 32;
/// Its communication mode: encrypted and MACed on the air.
pub const FILE_MODE: CommMode = CommMode::Full;
/// Its access rights: read with the read key, written and reconfigured with the master.
pub const FILE_ACCESS: AccessRights = AccessRights {
    read: READ_KEY,
    write: MASTER_KEY,
    read_write: NEVER,
    change: MASTER_KEY,
};
/// AN10922 system identifier mixed into every diversified key.
pub const SYSTEM_ID: &[u8] = b"Gatehouse";

/// Magic and format of a record (`GHC` + format 1).
const MAGIC: [u8; 4] = *b"GHC\x01";

/// One accepted key version of a site, as a door holds it: the bases the read keys are
/// derived from. Never the master key.
#[derive(Debug, Clone)]
pub struct SiteKeys {
    /// The site (its UUID's 16 bytes).
    pub site_id: [u8; 16],
    /// Key version (on the card, each key carries it).
    pub version: u8,
    /// Base of the per-card read key (key 1).
    pub read: AesKey,
    /// The site's UID key (key 2), used as is.
    pub uid: AesKey,
}

impl SiteKeys {
    /// The read key of the card with real UID `uid`.
    pub fn card_read_key(&self, uid: &[u8]) -> Result<AesKey, Error> {
        crate::diversify::card_key(&self.read, uid, AID, SYSTEM_ID)
    }
}

/// What a card's file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The card's real UID (4, 7 or 10 bytes).
    pub uid: Vec<u8>,
    /// The site it was issued for.
    pub site_id: [u8; 16],
}

impl Record {
    /// The file's bytes: magic, UID length, UID padded to 10 bytes, site id, one zero.
    pub fn encode(&self) -> Result<[u8; FILE_SIZE as usize], Error> {
        let len = self.uid.len();
        if !matches!(len, 4 | 7 | 10) {
            return Err(Error::Malformed("a UID has 4, 7 or 10 bytes"));
        }
        let mut out = [0u8; FILE_SIZE as usize];
        out[..4].copy_from_slice(&MAGIC);
        out[4] = len as u8;
        out[5..5 + len].copy_from_slice(&self.uid);
        out[15..31].copy_from_slice(&self.site_id);
        Ok(out)
    }

    /// Parses a file's bytes; anything not written by [`Record::encode`] is refused.
    pub fn parse(data: &[u8]) -> Result<Self, Error> {
        let bad = Error::Malformed("not a Gatehouse credential record");
        let data: &[u8; FILE_SIZE as usize] = data.try_into().map_err(|_| bad.clone())?;
        let len = usize::from(data[4]);
        if data[..4] != MAGIC || !matches!(len, 4 | 7 | 10) {
            return Err(bad);
        }
        if data[5 + len..15].iter().any(|&b| b != 0) || data[31] != 0 {
            return Err(bad);
        }
        let mut site_id = [0u8; 16];
        site_id.copy_from_slice(&data[15..31]);
        Ok(Self {
            uid: data[5..5 + len].to_vec(),
            site_id,
        })
    }
}

/// Whether `uid` is what a random-ID card shows before authentication: 4 bytes, `08 …`.
pub fn is_random_id(uid: &[u8]) -> bool {
    uid.len() == 4 && uid[0] == 0x08
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_round_trips_and_every_altered_layout_is_refused() {
        for uid in [vec![1, 2, 3, 4], vec![4; 7], vec![9; 10]] {
            let record = Record {
                uid,
                site_id: [7; 16],
            };
            let bytes = record.encode().unwrap();
            assert_eq!(Record::parse(&bytes).unwrap(), record);
            for i in 0..bytes.len() {
                let mut bad = bytes;
                bad[i] ^= 0x01;
                let parsed = Record::parse(&bad);
                // Flipping a UID or site byte is still a record (of another card): the
                // door compares it to the card; every other byte makes it no record.
                let payload = (5..5 + record.uid.len()).contains(&i) || (15..31).contains(&i);
                assert_eq!(parsed.is_ok(), payload, "byte {i}");
            }
            assert!(Record::parse(&bytes[..31]).is_err());
        }
        assert!(
            Record {
                uid: vec![1; 5],
                site_id: [0; 16]
            }
            .encode()
            .is_err()
        );
    }

    #[test]
    fn only_four_byte_uids_starting_08_are_random_ids() {
        assert!(is_random_id(&[0x08, 1, 2, 3]));
        assert!(!is_random_id(&[0x04, 1, 2, 3]));
        assert!(!is_random_id(&[0x08, 1, 2, 3, 4, 5, 6]));
    }
}
