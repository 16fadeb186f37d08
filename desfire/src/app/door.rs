//! The door's read of a secure credential: select the Gatehouse application, learn the
//! real UID (the UID shown, or `GetCardUID` under the site's UID key for a random-ID
//! card), authenticate with the card's diversified read key and read the record from the
//! encrypted file; the record must name that UID and the site.
//!
//! A card without the application is a UID card ([`DoorRead::NoApplication`]): the door
//! then decides on its UID alone, and a secure credential's UID presented that way is a
//! clone. A card with the application that cannot prove it holds a key the door accepts
//! is [`Error::NotAuthentic`] — wrong key, retired key version, a layout-copying clone, a
//! replayed session, a record of another card or site.

use super::{FILE, FILE_MODE, FILE_SIZE, READ_KEY, Record, SiteKeys, UID_KEY, is_random_id};
use crate::apdu::Status;
use crate::key::AesKey;
use crate::pcd::Pcd;
use crate::{Error, app::AID};

/// What the door learnt from a card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DoorRead {
    /// The card carries no Gatehouse application (or is no DESFire card at all).
    NoApplication,
    /// The card proved it holds its read key.
    Authentic {
        /// Its real UID.
        uid: Vec<u8>,
        /// The site whose keys it holds.
        site_id: [u8; 16],
        /// The key version it authenticated with.
        version: u8,
    },
}

/// Reads the card that showed `seen_uid` (its anticollision UID), trying the accepted
/// `keys` whose version the card's read key carries.
pub fn read<T>(
    pcd: &mut Pcd<T>,
    seen_uid: &[u8],
    keys: &[SiteKeys],
    rng: &mut (impl rand::RngCore + rand::CryptoRng),
) -> Result<DoorRead, Error>
where
    T: FnMut(&[u8]) -> Result<Vec<u8>, Error>,
{
    match pcd.select_application(AID) {
        Ok(()) => {}
        // No application, or an answer that is no DESFire status at all (an NTAG or a
        // MIFARE Classic answers ISO errors): a UID card.
        Err(Error::Card(Status::ApplicationNotFound) | Error::NotDesfire { .. }) => {
            return Ok(DoorRead::NoApplication);
        }
        Err(e) => return Err(e),
    }
    let version = pcd.get_key_version(READ_KEY)?;
    let mut result = Err(Error::NotAuthentic);
    for site in keys.iter().filter(|k| k.version == version) {
        result = read_with(pcd, seen_uid, site, rng);
        match &result {
            Err(e) if e.is_not_authentic() => continue,
            _ => break,
        }
    }
    result
}

/// One attempt with one site's keys.
fn read_with<T>(
    pcd: &mut Pcd<T>,
    seen_uid: &[u8],
    site: &SiteKeys,
    rng: &mut (impl rand::RngCore + rand::CryptoRng),
) -> Result<DoorRead, Error>
where
    T: FnMut(&[u8]) -> Result<Vec<u8>, Error>,
{
    let random = is_random_id(seen_uid);
    let uid = if random {
        authenticate(pcd, UID_KEY, &site.uid, rng)?;
        pcd.get_card_uid()?
    } else {
        seen_uid.to_vec()
    };
    // A fixed-UID card's key is derived from the UID it shows, and its record names that
    // UID: a card showing another UID than its own fails one or the other.
    authenticate(pcd, READ_KEY, &site.card_read_key(&uid)?, rng)?;
    let record = Record::parse(&pcd.read_data(FILE, 0, FILE_SIZE, FILE_MODE)?)
        .map_err(|_| Error::NotAuthentic)?;
    if record.uid != uid || record.site_id != site.site_id {
        return Err(Error::NotAuthentic);
    }
    Ok(DoorRead::Authentic {
        uid,
        site_id: site.site_id,
        version: site.version,
    })
}

/// `AuthenticateEV2First`, or EV1 `AuthenticateAES` when the card does not know EV2's
/// command (an EV1 card answers it "illegal command").
pub(crate) fn authenticate<T>(
    pcd: &mut Pcd<T>,
    key_no: u8,
    key: &AesKey,
    rng: &mut (impl rand::RngCore + rand::CryptoRng),
) -> Result<(), Error>
where
    T: FnMut(&[u8]) -> Result<Vec<u8>, Error>,
{
    match pcd.authenticate_ev2_first(key_no, key, rng) {
        Err(Error::Card(Status::IllegalCommand)) => pcd.authenticate_aes(key_no, key, rng),
        other => other,
    }
}
