//! Issue, re-key and wipe a secure card through a [`Station`] (the desk reader, or in
//! tests a card in memory), with the site's keys from the [`CardKeyring`].
//!
//! A card becomes an active credential only after the station read it back as a door
//! would; a card written for a credential that then cannot be stored is wiped again on
//! the spot. Each operation is recorded in the operator log (`card.issue`, `card.rekey`,
//! `card.wipe`) next to the credential's own entries.

use chrono::{DateTime, Utc};
use gatehouse_core::model::{CardKind, CredentialState, Holder};
use gatehouse_desfire::AesKey;
use gatehouse_desfire::app::SiteKeys;
use gatehouse_desfire::app::station::{self, IssueKeys, StationError};
use gatehouse_desfire::pcd::Pcd;
use rand::rngs::OsRng;
use serde::Serialize;
use uuid::Uuid;

use crate::cards::{CardKeyError, CardKeyring};
use crate::store::{
    Actor, CardKeyState, CredentialChange, CredentialRecord, ModelError, NewCredential, Store,
    StoreError,
};

/// Where the station writes: a card on a reader.
pub trait Station: Send + 'static {
    /// The reader's name, for the record.
    fn reader(&self) -> String;
    /// The UID the card showed (random per activation on a random-ID card).
    fn seen_uid(&self) -> Vec<u8>;
    /// Sends one APDU to the card.
    fn transceive(&mut self, apdu: &[u8]) -> Result<Vec<u8>, gatehouse_desfire::Error>;
}

/// What to issue.
#[derive(Debug, Clone)]
pub struct IssueRequest {
    /// The holder.
    pub person_id: Uuid,
    /// The site whose current keys the card gets.
    pub site_id: Uuid,
    /// Start of validity.
    pub valid_from: Option<DateTime<Utc>>,
    /// End of validity.
    pub valid_until: Option<DateTime<Utc>>,
}

/// Why issuing, re-keying or wiping failed.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The site has no current card keys.
    #[error("the site has no card keys; create them first (POST /sites/{0}/card-keys)")]
    NoKeys(Uuid),
    #[error(transparent)]
    Keys(#[from] CardKeyError),
    #[error(transparent)]
    Station(#[from] StationError),
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the station's worker stopped")]
    Worker,
}

/// What the operator log keeps of a station operation.
#[derive(Debug, Serialize)]
struct StationRecord {
    reader: String,
    card: String,
    site_id: Uuid,
    /// The version the card was given (none for a wipe).
    key_version: Option<u8>,
}

impl StationRecord {
    /// Logs `action` on the credential (or, with none, on the card).
    async fn log(
        &self,
        store: &Store,
        actor: &Actor,
        action: &'static str,
        credential: Option<&CredentialRecord>,
    ) -> Result<(), StoreError> {
        let details = serde_json::to_value(self).unwrap_or_default();
        match credential {
            Some(c) => {
                store
                    .log_operator_action(actor, action, "credential", c.id, &details)
                    .await
            }
            None => {
                store
                    .log_operator_action(actor, action, "card", &self.card, &details)
                    .await
            }
        }
    }

    /// The end of a re-key or wipe: logs `action` on the card's credential (or the card)
    /// and hands that credential back.
    async fn logged(
        self,
        store: &Store,
        actor: &Actor,
        action: &'static str,
        credential: Option<CredentialRecord>,
    ) -> Result<Option<CredentialRecord>, IssueError> {
        self.log(store, actor, action, credential.as_ref()).await?;
        Ok(credential)
    }
}

/// Issues a blank card on `station` to the person with the site's current keys; returns
/// the new active credential (card = the card's real UID, kind `secure`).
pub async fn issue<S: Station>(
    store: &Store,
    keyring: &CardKeyring,
    station: S,
    request: IssueRequest,
    actor: &Actor,
) -> Result<CredentialRecord, IssueError> {
    store.person(request.person_id).await?;
    let keys = current_keys(keyring, request.site_id).await?;
    let key_version = keys.door.version;
    let reader = station.reader();
    let (station, uid) = blocking(station, {
        let keys = keys.clone();
        move |pcd, _| station::issue(pcd, &keys, &mut OsRng)
    })
    .await?;
    let card = hex::encode_upper(&uid);
    let new = NewCredential {
        card: card.clone(),
        kind: CardKind::Secure,
        holder: Holder::Person(request.person_id),
        valid_from: request.valid_from,
        valid_until: request.valid_until,
        pin: None,
    };
    let credential = match store.create_credential(new, actor).await {
        Ok(c) => c,
        Err(e) => {
            // Leave no keyed card without a credential behind.
            let all = [keys];
            let _ = blocking(station, move |pcd, seen| {
                station::wipe(pcd, &seen, &all, &mut OsRng)
            })
            .await;
            return Err(e.into());
        }
    };
    let record = StationRecord {
        reader,
        card,
        site_id: request.site_id,
        key_version: Some(key_version),
    };
    record
        .log(store, actor, "card.issue", Some(&credential))
        .await?;
    Ok(credential)
}

/// Re-keys the card on `station` to the site's current keys (after a rotation, or to
/// move a card issued for another key version), opening it with any stored version of
/// the site. Returns the card's credential, if one has its UID.
pub async fn rekey<S: Station>(
    store: &Store,
    keyring: &CardKeyring,
    station: S,
    site_id: Uuid,
    actor: &Actor,
) -> Result<Option<CredentialRecord>, IssueError> {
    let new = current_keys(keyring, site_id).await?;
    let all = all_keys(keyring, site_id).await?;
    let key_version = new.door.version;
    let reader = station.reader();
    let (_, uid) = blocking(station, move |pcd, seen| {
        station::rekey(pcd, &seen, &all, &new, &mut OsRng)
    })
    .await?;
    let card = hex::encode_upper(&uid);
    let credential = store.credential_by_card(&card).await?;
    let record = StationRecord {
        reader,
        card,
        site_id,
        key_version: Some(key_version),
    };
    record.logged(store, actor, "card.rekey", credential).await
}

/// Wipes the card on `station` (deletes the Gatehouse application with its master key)
/// and revokes the credential that has its UID. Returns that credential, if any.
pub async fn wipe<S: Station>(
    store: &Store,
    keyring: &CardKeyring,
    station: S,
    site_id: Uuid,
    actor: &Actor,
) -> Result<Option<CredentialRecord>, IssueError> {
    let all = all_keys(keyring, site_id).await?;
    let reader = station.reader();
    let (_, uid) = blocking(station, move |pcd, seen| {
        station::wipe(pcd, &seen, &all, &mut OsRng)
    })
    .await?;
    let card = hex::encode_upper(&uid);
    let mut credential = store.credential_by_card(&card).await?;
    if let Some(c) = credential
        .as_mut()
        .filter(|c| c.state != CredentialState::Revoked)
    {
        let revoke = CredentialChange {
            state: Some(CredentialState::Revoked),
            ..CredentialChange::default()
        };
        *c = store.update_credential(c.id, revoke, actor).await?;
    }
    let record = StationRecord {
        reader,
        card,
        site_id,
        key_version: None,
    };
    record.logged(store, actor, "card.wipe", credential).await
}

/// Every stored version of the site (retired ones too: an old card can still be
/// re-keyed or wiped at the desk).
async fn all_keys(keyring: &CardKeyring, site_id: Uuid) -> Result<Vec<IssueKeys>, IssueError> {
    let mut all = Vec::new();
    for version in keyring.versions(site_id).await? {
        all.push(keys_of(keyring, site_id, version.version).await?);
    }
    if all.is_empty() {
        return Err(IssueError::NoKeys(site_id));
    }
    Ok(all)
}

/// The site's current keys, as the station uses them.
async fn current_keys(keyring: &CardKeyring, site_id: Uuid) -> Result<IssueKeys, IssueError> {
    let versions = keyring.versions(site_id).await?;
    let current = versions
        .iter()
        .find(|v| v.state == CardKeyState::Current)
        .ok_or(IssueError::NoKeys(site_id))?;
    keys_of(keyring, site_id, current.version).await
}

async fn keys_of(
    keyring: &CardKeyring,
    site_id: Uuid,
    version: u8,
) -> Result<IssueKeys, IssueError> {
    let keys = keyring
        .site_keys(site_id, version)
        .await?
        .ok_or(IssueError::NoKeys(site_id))?;
    Ok(IssueKeys {
        door: SiteKeys {
            site_id: *site_id.as_bytes(),
            version,
            read: AesKey::new(*keys.read),
            uid: AesKey::new(*keys.uid),
        },
        master: AesKey::new(*keys.master),
    })
}

/// Runs a station flow on a blocking thread (card I/O blocks), giving the station back.
async fn blocking<S: Station, T: Send + 'static>(
    mut station: S,
    flow: impl FnOnce(
        &mut Pcd<&mut dyn FnMut(&[u8]) -> Result<Vec<u8>, gatehouse_desfire::Error>>,
        Vec<u8>,
    ) -> Result<T, StationError>
    + Send
    + 'static,
) -> Result<(S, T), IssueError> {
    tokio::task::spawn_blocking(move || {
        let seen = station.seen_uid();
        let mut io = |apdu: &[u8]| station.transceive(apdu);
        let mut pcd = Pcd::new(&mut io as &mut dyn FnMut(&[u8]) -> _);
        let out = flow(&mut pcd, seen);
        drop(pcd);
        out.map(|t| (station, t))
    })
    .await
    .map_err(|_| IssueError::Worker)?
    .map_err(IssueError::from)
}
