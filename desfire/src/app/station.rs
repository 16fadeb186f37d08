//! The issuing station's flows on a desk reader: issue a blank card, re-key an issued
//! card (re-issue, key rollover, moving it to another site), wipe one. Each ends by
//! reading the card back as a door does, so a card is never reported issued unless a
//! door will accept it.

use super::door::{self, DoorRead, authenticate};
use super::{
    AID, APP_SETTINGS, FILE, FILE_ACCESS, FILE_MODE, FILE_SIZE, KEY_COUNT, MASTER_KEY, READ_KEY,
    Record, SYSTEM_ID, SiteKeys, UID_KEY, is_random_id,
};
use crate::Error;
use crate::apdu::Status;
use crate::diversify::card_key;
use crate::key::AesKey;
use crate::pcd::Pcd;

/// One key version of a site as the issuing station holds it: the door's keys and the
/// master key's base.
#[derive(Debug, Clone)]
pub struct IssueKeys {
    /// What a door holds (site, version, read and UID keys).
    pub door: SiteKeys,
    /// Base of the per-card application master key (key 0).
    pub master: AesKey,
}

impl IssueKeys {
    fn card_master_key(&self, uid: &[u8]) -> Result<AesKey, Error> {
        card_key(&self.master, uid, AID, SYSTEM_ID)
    }
}

/// Why the station refused or failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StationError {
    /// Issuing needs a blank card (for this application); re-key or wipe this one.
    #[error("the card already carries a Gatehouse application")]
    AlreadyIssued,
    /// Re-keying or wiping needs a card issued by Gatehouse.
    #[error("the card carries no Gatehouse application")]
    NotIssued,
    /// The card's master key is of a version (or a site) none of the given keys open.
    #[error("none of the site keys opens this card (key version {0})")]
    UnknownKeys(u8),
    /// The read-back after writing did not authenticate as the door would.
    #[error("the card did not read back as issued")]
    ReadBack,
    /// Talking to the card failed.
    #[error(transparent)]
    Card(#[from] Error),
}

/// Issues a blank card for `keys`: creates the application and file (factory keys),
/// writes the record, sets the diversified keys (master last) and reads the card back.
/// Returns its real UID.
pub fn issue<T>(
    pcd: &mut Pcd<T>,
    keys: &IssueKeys,
    rng: &mut (impl rand::RngCore + rand::CryptoRng),
) -> Result<Vec<u8>, StationError>
where
    T: FnMut(&[u8]) -> Result<Vec<u8>, Error>,
{
    let zero = AesKey::factory_default();
    pcd.select_application([0; 3])?;
    match pcd.create_application(AID, APP_SETTINGS, KEY_COUNT) {
        Err(Error::Card(Status::DuplicateError)) => return Err(StationError::AlreadyIssued),
        other => other?,
    }
    pcd.select_application(AID)?;
    authenticate(pcd, MASTER_KEY, &zero, rng)?;
    let uid = pcd.get_card_uid()?;
    pcd.create_std_data_file(FILE, FILE_MODE, FILE_ACCESS, FILE_SIZE)?;
    write_keys_and_record(pcd, &uid, keys, [&zero, &zero, &zero])?;
    read_back(pcd, &uid, keys, rng)?;
    Ok(uid)
}

/// Re-keys the card that showed `seen_uid` to `new` (another version, or another site):
/// opens it with whichever of `current` matches its master key version, rewrites the
/// record and every key, and reads it back. Returns its real UID.
pub fn rekey<T>(
    pcd: &mut Pcd<T>,
    seen_uid: &[u8],
    current: &[IssueKeys],
    new: &IssueKeys,
    rng: &mut (impl rand::RngCore + rand::CryptoRng),
) -> Result<Vec<u8>, StationError>
where
    T: FnMut(&[u8]) -> Result<Vec<u8>, Error>,
{
    let (uid, old) = open_as_master(pcd, seen_uid, current, rng)?;
    let old_read = old.door.card_read_key(&uid)?;
    let old_master = old.card_master_key(&uid)?;
    write_keys_and_record(pcd, &uid, new, [&old_master, &old_read, &old.door.uid])?;
    read_back(pcd, &uid, new, rng)?;
    Ok(uid)
}

/// Wipes the card that showed `seen_uid`: deletes the Gatehouse application with its
/// master key. Returns its real UID.
pub fn wipe<T>(
    pcd: &mut Pcd<T>,
    seen_uid: &[u8],
    current: &[IssueKeys],
    rng: &mut (impl rand::RngCore + rand::CryptoRng),
) -> Result<Vec<u8>, StationError>
where
    T: FnMut(&[u8]) -> Result<Vec<u8>, Error>,
{
    let (uid, _) = open_as_master(pcd, seen_uid, current, rng)?;
    pcd.delete_application(AID)?;
    Ok(uid)
}

/// Selects the application and opens a master-key session with the matching keys.
fn open_as_master<'k, T>(
    pcd: &mut Pcd<T>,
    seen_uid: &[u8],
    current: &'k [IssueKeys],
    rng: &mut (impl rand::RngCore + rand::CryptoRng),
) -> Result<(Vec<u8>, &'k IssueKeys), StationError>
where
    T: FnMut(&[u8]) -> Result<Vec<u8>, Error>,
{
    match pcd.select_application(AID) {
        Err(Error::Card(Status::ApplicationNotFound) | Error::NotDesfire { .. }) => {
            return Err(StationError::NotIssued);
        }
        other => other?,
    }
    let version = pcd.get_key_version(MASTER_KEY)?;
    for keys in current.iter().filter(|k| k.door.version == version) {
        let uid = if is_random_id(seen_uid) {
            match authenticate(pcd, UID_KEY, &keys.door.uid, rng) {
                Err(e) if e.is_not_authentic() => continue,
                other => other?,
            }
            pcd.get_card_uid()?
        } else {
            seen_uid.to_vec()
        };
        match authenticate(pcd, MASTER_KEY, &keys.card_master_key(&uid)?, rng) {
            Err(e) if e.is_not_authentic() => continue,
            other => other?,
        }
        if pcd.get_card_uid()? == uid {
            return Ok((uid, keys));
        }
    }
    Err(StationError::UnknownKeys(version))
}

/// In a master-key session: writes the record, then changes the read key, the UID key
/// and last the master key (its change ends the session). `old` are the keys now on the
/// card, in key-number order.
fn write_keys_and_record<T>(
    pcd: &mut Pcd<T>,
    uid: &[u8],
    keys: &IssueKeys,
    old: [&AesKey; 3],
) -> Result<(), Error>
where
    T: FnMut(&[u8]) -> Result<Vec<u8>, Error>,
{
    let record = Record {
        uid: uid.to_vec(),
        site_id: keys.door.site_id,
    };
    pcd.write_data(FILE, 0, &record.encode()?, FILE_MODE)?;
    let version = keys.door.version;
    pcd.change_key(READ_KEY, &keys.door.card_read_key(uid)?, version, old[1])?;
    pcd.change_key(UID_KEY, &keys.door.uid, version, old[2])?;
    pcd.change_key(MASTER_KEY, &keys.card_master_key(uid)?, version, old[0])
}

/// Reads the card back as a door holding only `keys`' door keys would.
fn read_back<T>(
    pcd: &mut Pcd<T>,
    uid: &[u8],
    keys: &IssueKeys,
    rng: &mut (impl rand::RngCore + rand::CryptoRng),
) -> Result<(), StationError>
where
    T: FnMut(&[u8]) -> Result<Vec<u8>, Error>,
{
    match door::read(pcd, uid, std::slice::from_ref(&keys.door), rng) {
        Ok(DoorRead::Authentic { uid: read, .. }) if read == uid => Ok(()),
        Ok(_) => Err(StationError::ReadBack),
        Err(e) if e.is_not_authentic() => Err(StationError::ReadBack),
        Err(e) => Err(e.into()),
    }
}
