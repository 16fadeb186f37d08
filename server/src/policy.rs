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
//! The per-site snapshots agents fetch are cached too ([`cache`]): filtering, encoding
//! and signing a snapshot of millions of credentials takes seconds, and every agent of a
//! site asks for the same one when the version changes.

mod cache;
pub mod versions;

use crate::store::{Store, StoreError};
use axum::body::Bytes;
use cache::SnapshotCache;
use ed25519_dalek::{SigningKey, VerifyingKey};
use gatehouse_core::model::PinKey;
use gatehouse_core::policy::{
    Policy, PolicySource, Settings, SignedSnapshot, SnapshotError, sign, verify_and_load,
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

/// One compiled version of the policy.
pub struct CompiledPolicy {
    pub version: i64,
    pub policy: Policy,
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

/// A signed snapshot of some sites in its wire form, encoded once and shared (the bytes
/// are reference-counted: handing them to another agent copies nothing).
#[derive(Clone, PartialEq)]
pub struct SiteSnapshot {
    /// The policy version it was signed as.
    pub version: u64,
    bytes: Bytes,
}

impl std::fmt::Debug for SiteSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SiteSnapshot")
            .field("version", &self.version)
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
            let compiled = Arc::new(compile(&store, settings, pin_key).await?);
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
        let version = compiled.version;
        let key = self.signing_key.clone();
        let Some(cell) = self.site_snapshots.cell(version, site_ids) else {
            // The cache moved on to a newer version while this request compiled: build
            // this one without caching it.
            return build_site_snapshot(compiled, site_ids.clone(), key).await;
        };
        if let Some(snapshot) = cell.get() {
            return Ok(snapshot.clone());
        }
        let sites = site_ids.clone();
        let filled = tokio::spawn(async move {
            cell.get_or_try_init(|| build_site_snapshot(compiled, sites, key))
                .await
                .cloned()
        });
        let snapshot = filled.await??;
        self.site_snapshots.trim(version, site_ids);
        Ok(snapshot)
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
        });
    }
    Err(PolicyServiceError::Busy)
}

/// Filters, builds, signs and encodes, on a blocking thread.
async fn build_site_snapshot(
    compiled: Arc<CompiledPolicy>,
    site_ids: BTreeSet<Uuid>,
    key: SigningKey,
) -> Result<SiteSnapshot, PolicyServiceError> {
    tokio::task::spawn_blocking(move || {
        let policy = Policy::build(site_source(compiled.policy.source(), &site_ids))?;
        let version = compiled.policy.version();
        let bytes = sign(policy.source(), version, &key)?.to_bytes()?;
        Ok(SiteSnapshot {
            version,
            bytes: Bytes::from(bytes),
        })
    })
    .await?
}

/// The policy cut down to some sites. Kept: those sites with their zones, doors and
/// schedules; grants on their zones; every visit with its allowed zones narrowed to them;
/// every person and credential (an unknown card must still be decided as unknown, not
/// missing), and threat exemptions as they are. The caller builds the result as a policy
/// before signing it, so a snapshot never holds a dangling reference.
fn site_source(full: &PolicySource, site_ids: &BTreeSet<Uuid>) -> PolicySource {
    let zones: Vec<_> = full
        .zones
        .iter()
        .filter(|z| site_ids.contains(&z.site_id))
        .cloned()
        .collect();
    let zone_ids: BTreeSet<Uuid> = zones.iter().map(|z| z.id).collect();
    let visits = full.visits.iter().map(|v| {
        let mut visit = v.clone();
        visit.allowed_zone_ids.retain(|z| zone_ids.contains(z));
        visit
    });
    PolicySource {
        settings: full.settings.clone(),
        sites: full
            .sites
            .iter()
            .filter(|s| site_ids.contains(&s.id))
            .cloned()
            .collect(),
        doors: full
            .doors
            .iter()
            .filter(|d| site_ids.contains(&d.site_id))
            .cloned()
            .collect(),
        schedules: full
            .schedules
            .iter()
            .filter(|s| site_ids.contains(&s.site_id))
            .cloned()
            .collect(),
        grants: full
            .grants
            .iter()
            .filter(|g| zone_ids.contains(&g.zone_id))
            .cloned()
            .collect(),
        visits: visits.collect(),
        zones,
        people: full.people.clone(),
        credentials: full.credentials.clone(),
    }
}

#[cfg(test)]
mod tests;
