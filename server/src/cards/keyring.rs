//! The server's site card keys in use: made (OS random numbers) and encrypted under the
//! KEK on creation and rotation, decrypted only to seal a version's read and UID keys to
//! one agent (or, later, for the issuing station). Start-up decrypts every stored key
//! once: a KEK that does not open them stops the server with a message saying so, and
//! never leads to new keys being made over the old ones.

use super::CardSettings;
use super::kek::{self, KEK_ENV, Kek, KekError, Located};
use crate::store::{
    Actor, CardKeyRow, CardKeyState, CardKeyVersion, DatabaseSettings, EncryptedKeys, NewVersion,
    Store, StoreError,
};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::protocol::card_keys::{self, CARD_KEY_LEN, ReaderKeys};
use gatehouse_core::protocol::{CardKeySet, SealedCardKeys};
use rand::RngCore;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use uuid::Uuid;
use zeroize::Zeroizing;

/// Why a card key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum CardKeyError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The agent registered no X25519 key yet, so nothing can be sealed to it.
    #[error("the agent has no card public key; register one (PUT /agent/card-public-key)")]
    NoAgentKey,
    #[error(transparent)]
    Kek(#[from] KekError),
    /// A stored key does not decrypt with the KEK in use.
    #[error("the card keys of site {site_id} version {version} do not decrypt with the KEK")]
    Undecryptable { site_id: Uuid, version: u8 },
}

/// A version's three keys in clear, for the issuing station. Redacted in `Debug`, wiped
/// on drop.
pub struct SiteKeys {
    pub master: Zeroizing<[u8; CARD_KEY_LEN]>,
    pub read: Zeroizing<[u8; CARD_KEY_LEN]>,
    pub uid: Zeroizing<[u8; CARD_KEY_LEN]>,
}

impl std::fmt::Debug for SiteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SiteKeys(<redacted>)")
    }
}

/// The card keys service (in `AppState`).
pub struct CardKeyring {
    store: Store,
    kek: OnceLock<Kek>,
    /// Where a KEK is made when the first keys are (none found at start).
    create_at: Option<PathBuf>,
    kek_file: Option<PathBuf>,
}

impl std::fmt::Debug for CardKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CardKeyring")
            .field("kek", &self.kek.get().map(|_| "<redacted>"))
            .field("create_at", &self.create_at)
            .finish_non_exhaustive()
    }
}

/// A key's role, in its associated data.
#[derive(Clone, Copy)]
enum Role {
    Master,
    Read,
    Uid,
}

/// What a stored key is: so a ciphertext moved to another site, version or role fails.
fn aad(site_id: Uuid, version: u8, role: Role) -> Vec<u8> {
    let role: &[u8] = match role {
        Role::Master => b"master",
        Role::Read => b"read",
        Role::Uid => b"uid",
    };
    let mut aad = b"gatehouse card key v1\0".to_vec();
    aad.extend_from_slice(site_id.as_bytes());
    aad.push(version);
    aad.extend_from_slice(role);
    aad
}

/// The folder the default KEK file lives in: the SQLite file's, else `data/`.
fn data_dir(database: &DatabaseSettings) -> PathBuf {
    crate::store::settings::sqlite_file(&database.url)
        .as_deref()
        .and_then(Path::parent)
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("data"), Path::to_owned)
}

impl CardKeyring {
    /// Finds the KEK (`GATEHOUSE_KEK`, `cards.kek_file`, `<data dir>/card-kek`) and
    /// checks it opens every stored key.
    pub async fn open(
        settings: &CardSettings,
        database: &DatabaseSettings,
        store: Store,
    ) -> anyhow::Result<CardKeyring> {
        let env = std::env::var(KEK_ENV).ok();
        Self::open_with(env.as_deref(), settings, database, store).await
    }

    /// [`CardKeyring::open`] with the environment variable's value given.
    pub async fn open_with(
        env: Option<&str>,
        settings: &CardSettings,
        database: &DatabaseSettings,
        store: Store,
    ) -> anyhow::Result<CardKeyring> {
        let located = kek::locate(env, settings.kek_file.as_deref(), &data_dir(database))?;
        let rows = store.card_key_rows(None, false).await?;
        let mut ring = CardKeyring {
            store,
            kek: OnceLock::new(),
            create_at: None,
            kek_file: settings.kek_file.clone(),
        };
        match located {
            Located::Found { kek, from } => {
                if let Some(row) = rows.iter().find(|r| open_all(&kek, r).is_none()) {
                    anyhow::bail!(
                        "card key-encryption key: the key from {from} does not decrypt the \
                         stored card keys (site {}, version {}). Start with the key they were \
                         made with; the server makes no new keys over them.",
                        row.site_id,
                        row.version
                    );
                }
                tracing::info!(from = %from, "card key-encryption key loaded");
                let _ = ring.kek.set(kek);
            }
            Located::Missing { create_at } if !rows.is_empty() => anyhow::bail!(
                "card key-encryption key: card keys are stored but there is no key to decrypt \
                 them: set {KEK_ENV} or cards.kek_file, or put the key file back at {}",
                create_at.display()
            ),
            Located::Missing { create_at } => ring.create_at = Some(create_at),
        }
        Ok(ring)
    }

    /// The KEK, looking again for one another process may have made since start.
    fn kek(&self) -> Option<&Kek> {
        if let Some(kek) = self.kek.get() {
            return Some(kek);
        }
        let dir = self.create_at.as_deref()?.parent()?;
        if let Ok(Located::Found { kek, .. }) = kek::locate(None, self.kek_file.as_deref(), dir) {
            let _ = self.kek.set(kek);
        }
        self.kek.get()
    }

    /// The KEK, made (and its file written) if there is none yet.
    async fn kek_or_create(&self) -> Result<&Kek, CardKeyError> {
        if let Some(kek) = self.kek() {
            return Ok(kek);
        }
        let Some(path) = self.create_at.clone() else {
            return Err(KekError("no key-encryption key".to_owned()).into());
        };
        let shown = path.display().to_string();
        let kek = tokio::task::spawn_blocking(move || kek::create(&path))
            .await
            .map_err(|e| KekError(e.to_string()))??;
        if self.kek.set(kek).is_ok() {
            tracing::warn!(
                path = %shown,
                "created the card key-encryption key; keep this file apart from database \
                 backups (whoever holds both holds every site card key)"
            );
        }
        self.kek()
            .ok_or_else(|| KekError("no key-encryption key".to_owned()).into())
    }

    /// A site's versions and their states (never their keys).
    pub async fn versions(&self, site_id: Uuid) -> Result<Vec<CardKeyVersion>, CardKeyError> {
        Ok(self.store.card_key_versions(site_id).await?)
    }

    /// Makes a site's first keys (version 1), or rotates: a new current version, the old
    /// current one becomes previous (accepted at doors until retired).
    pub async fn add_version(
        &self,
        site_id: Uuid,
        kind: NewVersion,
        actor: &Actor,
    ) -> Result<Vec<CardKeyVersion>, CardKeyError> {
        let kek = self.kek_or_create().await?;
        let make = |version: u8| {
            let encrypt = |role| {
                let mut key = Zeroizing::new([0u8; CARD_KEY_LEN]);
                rand::rngs::OsRng.fill_bytes(key.as_mut_slice());
                kek.encrypt(&aad(site_id, version, role), key.as_slice())
            };
            EncryptedKeys {
                master: encrypt(Role::Master),
                read: encrypt(Role::Read),
                uid: encrypt(Role::Uid),
            }
        };
        Ok(self
            .store
            .add_card_key_version(site_id, kind, make, actor)
            .await?)
    }

    /// Retires a site's previous version: doors refuse it once their agent has synced.
    pub async fn retire(
        &self,
        site_id: Uuid,
        version: u8,
        actor: &Actor,
    ) -> Result<Vec<CardKeyVersion>, CardKeyError> {
        Ok(self
            .store
            .retire_card_key_version(site_id, version, actor)
            .await?)
    }

    /// The read and UID keys of every accepted version of `sites`, sealed to the agent's
    /// registered public key. Never the master key.
    pub async fn sealed_for(
        &self,
        agent_id: Uuid,
        sites: &[Uuid],
    ) -> Result<CardKeySet, CardKeyError> {
        let public = self.store.agent_card_public_key(agent_id).await?;
        let public: [u8; 32] = public
            .and_then(|k| k.try_into().ok())
            .ok_or(CardKeyError::NoAgentKey)?;
        // Read first: a change after it makes the agent fetch once more, never miss one.
        let key_set = self.store.card_key_set().await?;
        let rows = self.store.card_key_rows(Some(sites), true).await?;
        let mut keys = Vec::with_capacity(rows.len());
        for row in rows {
            let undecryptable = CardKeyError::Undecryptable {
                site_id: row.site_id,
                version: row.version,
            };
            let kek = self
                .kek()
                .ok_or(KekError("no key-encryption key".to_owned()))?;
            let Some(opened) = open_all(kek, &row) else {
                return Err(undecryptable);
            };
            let reader = ReaderKeys {
                read: *opened.read,
                uid: *opened.uid,
            };
            let mut rng = rand::rngs::OsRng;
            let sealed = card_keys::seal(
                &public,
                agent_id,
                row.site_id,
                row.version,
                &reader,
                &mut rng,
            )
            .map_err(|_| CardKeyError::NoAgentKey)?;
            keys.push(SealedCardKeys {
                site_id: row.site_id,
                version: row.version,
                current: row.state == CardKeyState::Current,
                sealed: STANDARD.encode(sealed),
            });
        }
        Ok(CardKeySet { key_set, keys })
    }

    /// The key-set number agents compare with theirs.
    pub async fn key_set(&self) -> Result<u64, CardKeyError> {
        Ok(self.store.card_key_set().await?)
    }

    /// A version's keys in clear, master key included: for the issuing station only.
    pub async fn site_keys(
        &self,
        site_id: Uuid,
        version: u8,
    ) -> Result<Option<SiteKeys>, CardKeyError> {
        let rows = self.store.card_key_rows(Some(&[site_id]), false).await?;
        let Some(row) = rows.into_iter().find(|r| r.version == version) else {
            return Ok(None);
        };
        let kek = self
            .kek()
            .ok_or(KekError("no key-encryption key".to_owned()))?;
        open_all(kek, &row)
            .map(Some)
            .ok_or(CardKeyError::Undecryptable { site_id, version })
    }
}

/// Decrypts a row's three keys; `None` if any does not open.
fn open_all(kek: &Kek, row: &CardKeyRow) -> Option<SiteKeys> {
    let open = |role, blob: &[u8]| -> Option<Zeroizing<[u8; CARD_KEY_LEN]>> {
        let plain = kek.decrypt(&aad(row.site_id, row.version, role), blob)?;
        let mut key = Zeroizing::new([0u8; CARD_KEY_LEN]);
        key.copy_from_slice(plain.get(..CARD_KEY_LEN)?);
        (plain.len() == CARD_KEY_LEN).then_some(key)
    };
    Some(SiteKeys {
        master: open(Role::Master, &row.keys.master)?,
        read: open(Role::Read, &row.keys.read)?,
        uid: open(Role::Uid, &row.keys.uid)?,
    })
}
