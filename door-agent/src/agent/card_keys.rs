//! Site card keys at the agent (issue 15): the agent's X25519 key pair, the sealed read
//! and UID keys of its sites' accepted versions, and what the readers' DESFire read takes
//! ([`CardKeys::reader_keys`], replaced whenever the keys in hand change).
//!
//! Files in the state directory, both mode 0600, written atomically (temp file, fsync,
//! rename): `card-key`, the X25519 private key (hex), made by `door-agent enroll` (or at
//! the first start of an agent enrolled before card keys, which then registers its public
//! key once with `PUT /agent/card-public-key`); `card-keys.json`, the server's answer to
//! `GET /agent/card-keys` as received, i.e. still sealed. At start the sealed set is
//! opened again, so a restart without the server keeps the keys; a set in which any box
//! fails to open (another agent's, tampered) is refused whole and the keys in hand kept.
//!
//! In memory the keys are `AesKey`s (redacted in `Debug`, wiped on drop). When to fetch:
//! every policy long-poll answer carries the server's key-set number
//! (`x-card-key-set`, see [`super::policy_sync`]); [`card_key_loop`] fetches when it
//! differs from the number of the set in hand, so a rotation or a retirement reaches the
//! agent within one long-poll (25 s).
//!
//! Whoever copies the state directory gets the private key and the sealed set: the read
//! and UID keys of this agent's sites' accepted versions (README, "Secure cards").

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use anyhow::{Context, anyhow};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::protocol::card_keys::{AgentSecret, open};
use gatehouse_core::protocol::{CardKeySet, CardPublicKey};
use gatehouse_desfire::AesKey;
use gatehouse_desfire::app::SiteKeys;

use crate::reader::SecureKeys;
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use zeroize::Zeroizing;

use super::backoff::Backoff;
use super::credential::write_atomic;
use super::policy_sync::without_url;

/// The agent's X25519 private key, in the state directory.
pub const SECRET_FILE: &str = "card-key";
/// The sealed card keys as last received, in the state directory.
pub const KEYS_FILE: &str = "card-keys.json";

/// A new key pair, written to `state_dir/card-key` (replacing any): at enrolment.
pub fn create_secret(state_dir: &Path) -> anyhow::Result<AgentSecret> {
    let secret = AgentSecret::generate();
    let text = Zeroizing::new(format!("{}\n", hex::encode(*secret.to_bytes())));
    write_atomic(&state_dir.join(SECRET_FILE), text.as_bytes(), 0o600)?;
    Ok(secret)
}

/// The key pair in `state_dir/card-key`, made when there is none (an agent enrolled
/// before card keys). A damaged file is an error, not silently replaced: the server
/// holds its public key.
pub fn load_or_create_secret(state_dir: &Path) -> anyhow::Result<AgentSecret> {
    let path = state_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            let mut bytes = Zeroizing::new([0u8; 32]);
            hex::decode_to_slice(text.trim(), bytes.as_mut_slice())
                .map_err(|_| anyhow!("{} is not a 32-byte key in hex", path.display()))?;
            Ok(AgentSecret::from_bytes(*bytes))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::info!("no card key pair yet; making one");
            create_secret(state_dir)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// One accepted key version of a site.
struct SiteVersion {
    version: u8,
    current: bool,
    read: AesKey,
    uid: AesKey,
}

impl SiteVersion {
    fn reader_keys(&self, site_id: Uuid) -> SiteKeys {
        SiteKeys {
            site_id: *site_id.as_bytes(),
            version: self.version,
            read: self.read.clone(),
            uid: self.uid.clone(),
        }
    }
}

/// The opened keys and the key-set number they came with.
#[derive(Default)]
struct Held {
    key_set: Option<u64>,
    sites: BTreeMap<Uuid, Vec<SiteVersion>>,
}

/// The agent's card keys. Cheap to query from any thread.
pub struct CardKeys {
    agent_id: Uuid,
    secret: AgentSecret,
    path: PathBuf,
    held: RwLock<Held>,
    /// The same keys as the card readers take them.
    readers: SecureKeys,
}

impl std::fmt::Debug for CardKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.held.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("CardKeys")
            .field("agent_id", &self.agent_id)
            .field("key_set", &held.key_set)
            .field("sites", &held.sites.len())
            .finish_non_exhaustive()
    }
}

impl CardKeys {
    /// The keys kept in `state_dir` (none when there is no file, or when it is refused:
    /// logged, and the server's set fetched again).
    pub fn load(state_dir: &Path, agent_id: Uuid, secret: AgentSecret) -> CardKeys {
        let keys = CardKeys {
            agent_id,
            secret,
            path: state_dir.join(KEYS_FILE),
            held: RwLock::default(),
            readers: SecureKeys::default(),
        };
        match std::fs::read(&keys.path) {
            Ok(bytes) => match keys.open_set(&bytes) {
                Ok(held) => {
                    tracing::info!(versions = count(&held), "card keys loaded from disk");
                    keys.hold(held);
                }
                Err(e) => tracing::error!(error = %e, "REFUSED the card keys on disk"),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::error!(error = %e, "cannot read the card keys on disk"),
        }
        keys
    }

    /// The public key to register with the server.
    pub fn public_key(&self) -> [u8; 32] {
        self.secret.public_key()
    }

    /// Opens a set as the server sent it: every box must open for this agent.
    fn open_set(&self, bytes: &[u8]) -> Result<Held, String> {
        let set: CardKeySet =
            serde_json::from_slice(bytes).map_err(|e| format!("not a card key set: {e}"))?;
        let mut sites: BTreeMap<Uuid, Vec<SiteVersion>> = BTreeMap::new();
        for sealed in &set.keys {
            let what = format!("site {} version {}", sealed.site_id, sealed.version);
            let boxed = STANDARD
                .decode(sealed.sealed.as_bytes())
                .map_err(|_| format!("{what}: not base64"))?;
            let keys = open(
                &self.secret,
                self.agent_id,
                sealed.site_id,
                sealed.version,
                &boxed,
            )
            .map_err(|e| format!("{what}: {e}"))?;
            sites.entry(sealed.site_id).or_default().push(SiteVersion {
                version: sealed.version,
                current: sealed.current,
                read: AesKey::new(keys.read),
                uid: AesKey::new(keys.uid),
            });
        }
        for versions in sites.values_mut() {
            // Current first, then newest first.
            versions.sort_by_key(|v| (!v.current, std::cmp::Reverse(v.version)));
        }
        Ok(Held {
            key_set: Some(set.key_set),
            sites,
        })
    }

    /// Takes a set fetched from the server: opened whole (else refused, the keys in hand
    /// kept), kept on disk as received, then used. Returns the versions held.
    pub fn accept(&self, bytes: &[u8]) -> Result<usize, String> {
        let held = self.open_set(bytes)?;
        write_atomic(&self.path, bytes, 0o600).map_err(|e| format!("{e:#}"))?;
        let versions = count(&held);
        self.hold(held);
        Ok(versions)
    }

    /// Uses `held` from now on, at the readers too.
    fn hold(&self, held: Held) {
        let mut readers = Vec::new();
        for (site_id, versions) in &held.sites {
            readers.extend(versions.iter().map(|v| v.reader_keys(*site_id)));
        }
        *self.held.write().unwrap_or_else(PoisonError::into_inner) = held;
        self.readers.set(readers);
    }

    /// The keys as the card readers take them: every accepted version of every site,
    /// replaced whenever the keys in hand change.
    pub fn reader_keys(&self) -> SecureKeys {
        self.readers.clone()
    }

    /// The key-set number of the keys in hand (`None` before the first set).
    pub fn key_set(&self) -> Option<u64> {
        self.held
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .key_set
    }

    fn with_version<R>(
        &self,
        site_id: Uuid,
        version: u8,
        f: impl FnOnce(&SiteVersion) -> R,
    ) -> Option<R> {
        let held = self.held.read().unwrap_or_else(PoisonError::into_inner);
        let versions = held.sites.get(&site_id)?;
        versions.iter().find(|v| v.version == version).map(f)
    }

    /// The read key of the card with `real_uid` (from `GetCardUID`; 4, 7 or 10 bytes)
    /// under `site_id`'s key `version`: the site's read key diversified per AN10922 as the
    /// door's read does (`gatehouse_desfire::app`). `None` when the version is not
    /// accepted (unknown, or retired) or the UID has another length.
    pub fn read_key_for(&self, site_id: Uuid, version: u8, real_uid: &[u8]) -> Option<AesKey> {
        self.with_version(site_id, version, |v| {
            v.reader_keys(site_id).card_read_key(real_uid).ok()
        })
        .flatten()
    }

    /// The site-wide UID key of `version`: authenticates to a random-UID card so that
    /// `GetCardUID` may run, before diversifying. `None` when not accepted.
    pub fn uid_key(&self, site_id: Uuid, version: u8) -> Option<AesKey> {
        self.with_version(site_id, version, |v| v.uid.clone())
    }

    /// The versions a door of `site_id` accepts: the current one first, then the
    /// previous one during a rollover. Empty without keys for the site.
    pub fn accepted_versions(&self, site_id: Uuid) -> Vec<u8> {
        let held = self.held.read().unwrap_or_else(PoisonError::into_inner);
        (held.sites.get(&site_id))
            .map(|vs| vs.iter().map(|v| v.version).collect())
            .unwrap_or_default()
    }

    /// The site's current version.
    pub fn current_version(&self, site_id: Uuid) -> Option<u8> {
        let held = self.held.read().unwrap_or_else(PoisonError::into_inner);
        let versions = held.sites.get(&site_id)?;
        versions.iter().find(|v| v.current).map(|v| v.version)
    }
}

fn count(held: &Held) -> usize {
    held.sites.values().map(Vec::len).sum()
}

/// Registers the agent's public key (once per start; the same key again is fine), then
/// fetches the card keys whenever the key-set number the policy long-poll reports in
/// `wanted` differs from the one in hand (and once at start without keys). Stops when
/// `stop` is cancelled, while it waits, never while it writes.
pub async fn card_key_loop(
    keys: Arc<CardKeys>,
    client: reqwest::Client,
    base_url: String,
    token: SecretString,
    mut wanted: watch::Receiver<Option<u64>>,
    stop: CancellationToken,
) {
    let base = base_url.trim_end_matches('/').to_owned();
    let mut backoff = Backoff::new();
    let mut registered = false;
    // Set after a fetch the server did not serve (an older server): wait for news.
    let mut idle = false;
    while !stop.is_cancelled() {
        let want = *wanted.borrow_and_update();
        let have = keys.key_set();
        let due = !idle && (have.is_none() || want.is_some_and(|w| Some(w) != have));
        if !due {
            tokio::select! {
                () = stop.cancelled() => return,
                changed = wanted.changed() => {
                    if changed.is_err() {
                        return;
                    }
                    idle = false;
                }
            }
            continue;
        }
        let result = async {
            if !registered {
                register(&client, &base, &token, &keys).await?;
                registered = true;
            }
            fetch(&client, &base, &token, &keys).await
        };
        let Some(result) = stop.run_until_cancelled(result).await else {
            return;
        };
        match result {
            Ok(Fetched::Keys(versions)) => {
                tracing::info!(versions, key_set = ?keys.key_set(), "card keys received");
                backoff.reset();
            }
            Ok(Fetched::NotServed) => {
                tracing::warn!("the server serves no card keys (older than card keys?)");
                idle = true;
            }
            Err(e) => {
                tracing::warn!(error = %e, "no card keys from the server yet");
                if !backoff.wait(&stop).await {
                    return;
                }
            }
        }
    }
}

enum Fetched {
    Keys(usize),
    NotServed,
}

async fn register(
    client: &reqwest::Client,
    base: &str,
    token: &SecretString,
    keys: &CardKeys,
) -> Result<(), String> {
    let body = CardPublicKey {
        public_key: STANDARD.encode(keys.public_key()),
    };
    let answer = client
        .put(format!("{base}/api/v1/agent/card-public-key"))
        .bearer_auth(token.expose_secret())
        .json(&body)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| without_url(&e))?;
    match answer.status() {
        s if s.is_success() => Ok(()),
        // An older server: nothing to register with; the fetch finds that out too.
        reqwest::StatusCode::NOT_FOUND | reqwest::StatusCode::METHOD_NOT_ALLOWED => Ok(()),
        reqwest::StatusCode::CONFLICT => Err(
            "the server holds another card key for this agent: re-enrol it (door-agent enroll)"
                .to_owned(),
        ),
        s => Err(format!("registering the card key: {s}")),
    }
}

async fn fetch(
    client: &reqwest::Client,
    base: &str,
    token: &SecretString,
    keys: &Arc<CardKeys>,
) -> Result<Fetched, String> {
    let answer = client
        .get(format!("{base}/api/v1/agent/card-keys"))
        .bearer_auth(token.expose_secret())
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| without_url(&e))?;
    if answer.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(Fetched::NotServed);
    }
    let answer = answer.error_for_status().map_err(|e| without_url(&e))?;
    let bytes = answer.bytes().await.map_err(|e| without_url(&e))?;
    let keys = Arc::clone(keys);
    tokio::task::spawn_blocking(move || keys.accept(&bytes))
        .await
        .map_err(|e| e.to_string())?
        .map(Fetched::Keys)
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::protocol::SealedCardKeys;
    use gatehouse_core::protocol::card_keys::{ReaderKeys, seal};

    fn set(agent: Uuid, public: &[u8; 32], site: Uuid, versions: &[(u8, bool)]) -> Vec<u8> {
        let mut rng = rand::rngs::OsRng;
        let keys = versions
            .iter()
            .map(|(version, current)| {
                let reader = ReaderKeys {
                    read: [*version; 16],
                    uid: [version + 100; 16],
                };
                let sealed = seal(public, agent, site, *version, &reader, &mut rng).unwrap();
                SealedCardKeys {
                    site_id: site,
                    version: *version,
                    current: *current,
                    sealed: STANDARD.encode(sealed),
                }
            })
            .collect();
        serde_json::to_vec(&CardKeySet { key_set: 7, keys }).unwrap()
    }

    #[test]
    fn keys_open_diversify_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let (agent, site) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let secret = load_or_create_secret(dir.path()).unwrap();
        let public = secret.public_key();
        let keys = CardKeys::load(dir.path(), agent, secret);
        assert_eq!(keys.key_set(), None);
        let bytes = set(agent, &public, site, &[(1, false), (2, true)]);
        assert_eq!(keys.accept(&bytes), Ok(2));
        assert_eq!(keys.accepted_versions(site), vec![2, 1]);
        assert_eq!(keys.current_version(site), Some(2));
        assert_eq!(keys.uid_key(site, 1), Some(AesKey::new([101; 16])));
        assert_eq!(keys.uid_key(site, 3), None);
        let uid = [4, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80];
        let expected = gatehouse_desfire::diversify::card_key(
            &AesKey::new([2; 16]),
            &uid,
            gatehouse_desfire::app::AID,
            gatehouse_desfire::app::SYSTEM_ID,
        )
        .unwrap();
        let readers = keys.reader_keys().current();
        assert_eq!(readers.len(), 2, "both versions at the readers");
        assert_eq!(keys.read_key_for(site, 2, &uid), Some(expected));
        assert_ne!(
            keys.read_key_for(site, 1, &uid),
            keys.read_key_for(site, 2, &uid)
        );
        assert_eq!(
            keys.read_key_for(site, 2, &[1, 2, 3]),
            None,
            "a bad UID length"
        );
        assert_eq!(
            keys.read_key_for(Uuid::nil(), 2, &uid),
            None,
            "another site"
        );
        let shown = format!("{keys:?}");
        assert!(shown.contains("key_set: Some(7)") && !shown.contains("02020202"));

        // Restart: the same secret from its file opens the kept set.
        let again = CardKeys::load(
            dir.path(),
            agent,
            load_or_create_secret(dir.path()).unwrap(),
        );
        assert_eq!(again.accepted_versions(site), vec![2, 1]);
        assert_eq!(again.key_set(), Some(7));
        let mode = |name: &str| {
            use std::os::unix::fs::PermissionsExt;
            let meta = std::fs::metadata(dir.path().join(name)).unwrap();
            meta.permissions().mode() & 0o777
        };
        assert_eq!((mode(SECRET_FILE), mode(KEYS_FILE)), (0o600, 0o600));
    }

    #[test]
    fn a_set_for_another_agent_or_tampered_is_refused_whole() {
        let dir = tempfile::tempdir().unwrap();
        let (agent, site) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let secret = create_secret(dir.path()).unwrap();
        let public = secret.public_key();
        let keys = CardKeys::load(dir.path(), agent, secret);
        keys.accept(&set(agent, &public, site, &[(1, true)]))
            .unwrap();

        let other = AgentSecret::generate().public_key();
        assert!(
            keys.accept(&set(agent, &other, site, &[(2, true)]))
                .is_err()
        );
        let as_other = set(Uuid::from_u128(9), &public, site, &[(2, true)]);
        assert!(
            keys.accept(&as_other).is_err(),
            "sealed for another agent id"
        );
        let mut tampered: CardKeySet =
            serde_json::from_slice(&set(agent, &public, site, &[(2, true)])).unwrap();
        tampered.keys[0].site_id = Uuid::from_u128(3);
        assert!(
            keys.accept(&serde_json::to_vec(&tampered).unwrap())
                .is_err(),
            "site"
        );
        assert!(keys.accept(b"{}").is_err());
        // Still the first set, in memory and on disk.
        assert_eq!(keys.accepted_versions(site), vec![1]);
        let again = CardKeys::load(
            dir.path(),
            agent,
            load_or_create_secret(dir.path()).unwrap(),
        );
        assert_eq!(again.accepted_versions(site), vec![1]);
        // A damaged key file is an error, not a new key.
        std::fs::write(dir.path().join(SECRET_FILE), "zz").unwrap();
        assert!(load_or_create_secret(dir.path()).is_err());
    }
}
