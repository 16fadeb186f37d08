//! The compiled policy: built from the database at its current version, cached until a
//! change to the security model bumps the version, and signed as a snapshot for door
//! agents. Every replica compiles the same policy from the same database.
//!
//! PINs: the database holds SHA-256(salt ‖ PIN); the compiled policy carries, instead,
//! a verifier keyed with the server's secret PIN key (also in the database, made at first
//! start). Agents get the keyed verifiers in their snapshots and the key over their own
//! channel; operators get a snapshot whose verifiers are withheld
//! ([`PolicyService::operator_snapshot`]). See `gatehouse_core::model::PinVerifier`.
//!
//! A new version is reached from the one compiled by the policy change log when it can
//! ([`incremental`]): only the records changed are read and applied. Agents that hold a
//! version get the changes since, cut to their sites and signed (a delta); others get a
//! snapshot ([`sites`] cuts both by the same rules).
//!
//! What agents fetch is cached too ([`cache`]): filtering, encoding and signing a
//! snapshot of millions of credentials takes seconds, and every agent of a site asks for
//! the same one when the version changes.

mod cache;
mod incremental;
mod sites;
pub mod versions;

use crate::store::{Store, StoreError};
use axum::body::Bytes;
use cache::{Key, SnapshotCache};
use chrono::Utc;
use ed25519_dalek::{SigningKey, VerifyingKey};
use gatehouse_core::model::PinKey;
use gatehouse_core::policy::{
    Policy, PolicyDelta, PolicySource, Settings, SignedDelta, SignedSnapshot, SnapshotError, sign,
    verify_and_load,
};
use rand::RngCore;
use std::collections::BTreeSet;
use std::convert::Infallible;
use std::sync::Arc;
use tokio::sync::Mutex;
use uuid::Uuid;

const SIGNING_KEY_NAME: &str = "policy-ed25519";
const PIN_KEY_NAME: &str = "pin-hmac-sha256";
/// Attempts to read a consistent model while writes are happening.
const LOAD_ATTEMPTS: usize = 5;
/// Most records a delta to an agent reads from the change log: beyond, a snapshot.
const MAX_DELTA_RECORDS: usize = 100_000;

/// One compiled version of the policy.
#[derive(Clone)]
pub struct CompiledPolicy {
    pub version: i64,
    pub policy: Policy,
    /// How it was reached from the version compiled before, if by its changes.
    step: Option<Step>,
}

impl CompiledPolicy {
    /// The version it was brought forward from by the change log, if it was (`None`:
    /// compiled in full).
    pub fn stepped_from(&self) -> Option<i64> {
        self.step.as_ref().map(|s| s.from)
    }
}

/// The changes from one compiled version to the next.
#[derive(Clone)]
struct Step {
    from: i64,
    delta: Arc<PolicyDelta>,
}

/// Compiles, caches and signs the policy.
pub struct PolicyService {
    store: Store,
    settings: Settings,
    signing_key: SigningKey,
    pin_key: PinKey,
    /// Shared with the compiling task, which stores its result itself.
    current: Arc<Mutex<Option<Arc<CompiledPolicy>>>>,
    site_snapshots: SnapshotCache,
}

/// A signed snapshot of some sites, or a signed delta to one, in its wire form, encoded
/// once and shared (the bytes are reference-counted: handing them to another agent
/// copies nothing).
#[derive(Clone, PartialEq)]
pub struct SiteSnapshot {
    /// The policy version it was signed as.
    pub version: u64,
    /// For a delta, the version it applies to; `None` for a snapshot.
    pub from_version: Option<u64>,
    bytes: Bytes,
}

impl std::fmt::Debug for SiteSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteSnapshot")
            .field("version", &self.version)
            .field("from_version", &self.from_version)
            .field("len", &self.bytes.len())
            .finish()
    }
}

impl SiteSnapshot {
    /// The envelope's wire form (`SignedSnapshot::to_bytes` of it), shared, not copied.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// The wire form, like [`SignedSnapshot::to_bytes`]; it was encoded when the snapshot
    /// was made, so this cannot fail (the `Result` keeps callers of either alike).
    pub fn to_bytes(&self) -> Result<Bytes, Infallible> {
        Ok(self.bytes.clone())
    }

    /// Its size in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it is empty (never, for a snapshot this service made).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Parses and verifies it as an agent does, and loads the policy inside.
    pub fn verify(&self, key: &VerifyingKey, min_version: u64) -> Result<Policy, SnapshotError> {
        verify_and_load(&self.bytes, key, min_version)
    }
}

impl std::fmt::Debug for PolicyService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolicyService")
            .field("public_key", &self.signing_key.verifying_key())
            .finish_non_exhaustive()
    }
}

/// Why the policy could not be compiled.
#[derive(Debug, thiserror::Error)]
pub enum PolicyServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The database holds a model the engine refuses (a bug or a manual edit).
    #[error("the stored security model is inconsistent: {0}")]
    Invalid(#[from] gatehouse_core::policy::PolicyError),
    #[error("the security model kept changing while it was read; try again")]
    Busy,
    #[error("signing the snapshot failed: {0}")]
    Sign(#[from] gatehouse_core::policy::SnapshotError),
    /// A task compiling the policy or building a snapshot panicked or was cancelled.
    #[error("compiling or signing the policy failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl PolicyService {
    /// Loads the snapshot signing key and the PIN key from the database, creating each
    /// on first start.
    pub async fn load(store: Store, settings: Settings) -> anyhow::Result<PolicyService> {
        let seed = secret(&store, SIGNING_KEY_NAME, "policy signing key").await?;
        let pin_key = PinKey::from_bytes(secret(&store, PIN_KEY_NAME, "PIN key").await?);
        Ok(PolicyService {
            store,
            settings,
            signing_key: SigningKey::from_bytes(&seed),
            pin_key,
            current: Arc::default(),
            site_snapshots: SnapshotCache::default(),
        })
    }

    /// The key door agents verify snapshots with.
    pub fn public_key(&self) -> VerifyingKey {
        self.signing_key.verifying_key()
    }

    /// The secret key PIN verifiers are made with: for enrolled door agents only.
    pub fn pin_key(&self) -> &PinKey {
        &self.pin_key
    }

    /// The policy at the database's current version, compiled at most once per version.
    ///
    /// The compilation runs in a task of its own that stores the result itself: at
    /// millions of credentials reading the model takes tens of seconds, and a request
    /// that gives up (its timeout, a closed connection) must not throw that work away,
    /// or no request would ever see the new version. Requests meanwhile queue on the
    /// lock the task holds and then find the policy compiled.
    pub async fn current(&self) -> Result<Arc<CompiledPolicy>, PolicyServiceError> {
        let version = self.store.policy_version().await?;
        if let Some(compiled) = fresh(&*self.current.lock().await, version) {
            return Ok(compiled);
        }
        let (slot, store, settings, pin_key) = (
            self.current.clone(),
            self.store.clone(),
            self.settings.clone(),
            self.pin_key.clone(),
        );
        tokio::spawn(async move {
            let mut current = slot.lock().await;
            if let Some(compiled) = fresh(&current, version) {
                return Ok(compiled);
            }
            let compiled =
                Arc::new(incremental::forward(&store, &mut current, settings, pin_key).await?);
            *current = Some(compiled.clone());
            Ok(compiled)
        })
        .await?
    }

    /// The current policy as a signed snapshot for operators: every PIN verifier is
    /// withheld (which credentials have a PIN is kept), so nothing in it tests a guess.
    pub async fn operator_snapshot(&self) -> Result<SignedSnapshot, PolicyServiceError> {
        let compiled = self.current().await?;
        let source = compiled.policy.source().without_pin_verifiers();
        Ok(sign(&source, compiled.policy.version(), &self.signing_key)?)
    }

    /// The current policy cut down to some sites, signed and encoded: what a door agent
    /// fetches (see [`site_source`] for what is kept).
    ///
    /// Made once per (policy version, set of sites) and then served from a cache that
    /// holds the current version only (a newer version empties it) within a size budget;
    /// concurrent requests for the same sites wait for one build rather than each doing
    /// it. The build runs on a blocking thread (at millions of credentials it takes
    /// seconds of CPU) from a task of its own, so a request that gives up (its timeout, a
    /// closed connection) does not throw the work away: the snapshot still lands in the
    /// cache for the next request.
    pub async fn snapshot_for_sites(
        &self,
        site_ids: &BTreeSet<Uuid>,
    ) -> Result<SiteSnapshot, PolicyServiceError> {
        let compiled = self.current().await?;
        let key = Key {
            sites: site_ids.clone(),
            from: None,
        };
        let signing_key = self.signing_key.clone();
        let build = move |compiled: Arc<CompiledPolicy>, key: Key| async move {
            build_site_snapshot(compiled, key.sites, signing_key)
                .await
                .map(Some)
        };
        let built = self.cached(compiled, key, build).await?;
        // A snapshot is always built (or the build failed): never `None`.
        built.ok_or(PolicyServiceError::Busy)
    }

    /// The changes from version `after` to the current one, cut down to some sites,
    /// signed and encoded: what a door agent holding `after` fetches instead of a
    /// snapshot. `None` when there is no such delta to give — the change log no longer
    /// reaches back to `after`, or the changes are too many — and the agent should get
    /// a snapshot. Cached like snapshots, per (version, sites, `after`).
    pub async fn delta_for_sites(
        &self,
        after: u64,
        site_ids: &BTreeSet<Uuid>,
    ) -> Result<Option<SiteSnapshot>, PolicyServiceError> {
        let compiled = self.current().await?;
        if after >= compiled.policy.version() {
            return Ok(None);
        }
        let key = Key {
            sites: site_ids.clone(),
            from: Some(after),
        };
        let (store, pin_key, signing_key) = (
            self.store.clone(),
            self.pin_key.clone(),
            self.signing_key.clone(),
        );
        let settings = self.settings.clone();
        let build = move |compiled: Arc<CompiledPolicy>, key: Key| async move {
            let Some((version, delta)) =
                global_delta(&store, &compiled, after, settings, &pin_key).await?
            else {
                return Ok(None);
            };
            tokio::task::spawn_blocking(move || {
                let zone_sites = sites::zone_sites(compiled.policy.source(), &delta);
                let cut = sites::site_delta(&delta, &key.sites, &zone_sites);
                let site_ids = key.sites.iter().copied().collect();
                let signed =
                    SignedDelta::sign(&cut, after, version, site_ids, Utc::now(), &signing_key)?;
                Ok(Some(SiteSnapshot {
                    version,
                    from_version: Some(after),
                    bytes: Bytes::from(signed.to_bytes()?),
                }))
            })
            .await?
        };
        self.cached(compiled, key, build).await
    }

    /// The answer for `key` at `compiled`'s version, from the cache or built by `build`
    /// once for all concurrent requests, on a task of its own: a request that gives up
    /// (its timeout, a closed connection) does not throw the work away.
    async fn cached<F, Fut>(
        &self,
        compiled: Arc<CompiledPolicy>,
        key: Key,
        build: F,
    ) -> Result<Option<SiteSnapshot>, PolicyServiceError>
    where
        F: FnOnce(Arc<CompiledPolicy>, Key) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Option<SiteSnapshot>, PolicyServiceError>> + Send,
    {
        let version = compiled.version;
        let Some(cell) = self.site_snapshots.cell(version, &key) else {
            // The cache moved on to a newer version while this request compiled: build
            // this one without caching it.
            return build(compiled, key).await;
        };
        if let Some(answer) = cell.get() {
            return Ok(answer.clone());
        }
        let cell_key = key.clone();
        let filled = tokio::spawn(async move {
            cell.get_or_try_init(|| build(compiled, cell_key))
                .await
                .cloned()
        });
        let answer = filled.await??;
        self.site_snapshots.trim(version, &key);
        Ok(answer)
    }

    /// How many site snapshots are cached, and their total size in bytes.
    pub fn cached_site_snapshots(&self) -> (usize, usize) {
        self.site_snapshots.usage()
    }
}

/// The 32-byte secret stored under `name`, made on first start.
async fn secret(store: &Store, name: &str, what: &str) -> anyhow::Result<[u8; 32]> {
    let mut candidate = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut candidate);
    let stored = store.secret_or_insert(name, &candidate).await?;
    stored
        .as_slice()
        .try_into()
        .map_err(|_| anyhow::anyhow!("stored {what} has the wrong length"))
}

/// The compiled policy in `current` if it is at `version` or newer.
fn fresh(current: &Option<Arc<CompiledPolicy>>, version: i64) -> Option<Arc<CompiledPolicy>> {
    current.as_ref().filter(|c| c.version >= version).cloned()
}

/// Reads the whole model between two reads of the version; retries if a write slipped
/// in between, so the policy is exactly the one its version names. The indexes are
/// built on a blocking thread (seconds at millions of credentials).
async fn compile(
    store: &Store,
    settings: Settings,
    pin_key: PinKey,
) -> Result<CompiledPolicy, PolicyServiceError> {
    for _ in 0..LOAD_ATTEMPTS {
        let before = store.policy_version().await?;
        let (sites, zones, doors, schedules) = store.load_site_model().await?;
        let (people, visits, credentials, grants) = store.load_people_model(&pin_key).await?;
        if store.policy_version().await? != before {
            continue;
        }
        let source = PolicySource {
            settings: settings.clone(),
            sites,
            zones,
            doors,
            people,
            visits,
            credentials,
            grants,
            schedules,
        };
        let version = u64::try_from(before).unwrap_or_default();
        // Without the PIN key: the server's own decisions (`/access/check` and the
        // desk's questions) never check a PIN, or an operator could test guesses online
        // with no lock-out. Agents' snapshots carry the keyed verifiers; doors check.
        let policy = tokio::task::spawn_blocking(move || Policy::build(source))
            .await??
            .with_version(version);
        return Ok(CompiledPolicy {
            version: before,
            policy,
            step: None,
        });
    }
    Err(PolicyServiceError::Busy)
}

/// The changes from version `after` to `compiled`'s or a later one, with the version
/// they reach: the step that made `compiled` when it started at `after` (no read), else
/// read from the change log.
async fn global_delta(
    store: &Store,
    compiled: &CompiledPolicy,
    after: u64,
    settings: Settings,
    pin_key: &PinKey,
) -> Result<Option<(u64, PolicyDelta)>, PolicyServiceError> {
    let after_i64 = i64::try_from(after).unwrap_or(i64::MAX);
    if let Some(step) = compiled.step.as_ref().filter(|s| s.from == after_i64) {
        return Ok(Some((compiled.policy.version(), (*step.delta).clone())));
    }
    let Some(changes) = store
        .model_changes_since(after_i64, pin_key, MAX_DELTA_RECORDS)
        .await?
    else {
        return Ok(None);
    };
    let mut delta = changes.delta;
    delta.settings = settings;
    Ok(Some((
        u64::try_from(changes.version).unwrap_or_default(),
        delta,
    )))
}

/// Filters, builds, signs and encodes, on a blocking thread.
async fn build_site_snapshot(
    compiled: Arc<CompiledPolicy>,
    site_ids: BTreeSet<Uuid>,
    key: SigningKey,
) -> Result<SiteSnapshot, PolicyServiceError> {
    tokio::task::spawn_blocking(move || {
        let policy = Policy::build(sites::site_source(compiled.policy.source(), &site_ids))?;
        let version = compiled.policy.version();
        let bytes = sign(policy.source(), version, &key)?.to_bytes()?;
        Ok(SiteSnapshot {
            version,
            from_version: None,
            bytes: Bytes::from(bytes),
        })
    })
    .await?
}

#[cfg(test)]
mod tests;
