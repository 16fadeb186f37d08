//! The compiled policy: built from the database at its current version, cached until a
//! change to the security model bumps the version, and signed as a snapshot for door
//! agents. Every replica compiles the same policy from the same database.

use crate::store::{Store, StoreError};
use ed25519_dalek::{SigningKey, VerifyingKey};
use gatehouse_core::policy::{Policy, PolicySource, Settings, SignedSnapshot, sign};
use rand::RngCore;
use std::collections::BTreeSet;
use std::sync::Arc;
use tokio::sync::Mutex;
use uuid::Uuid;

const SIGNING_KEY_NAME: &str = "policy-ed25519";
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
    current: Mutex<Option<Arc<CompiledPolicy>>>,
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
}

impl PolicyService {
    /// Loads the snapshot signing key from the database, creating it on first start.
    pub async fn load(store: Store, settings: Settings) -> anyhow::Result<PolicyService> {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        let stored = store.secret_or_insert(SIGNING_KEY_NAME, &seed).await?;
        let seed: [u8; 32] = stored
            .as_slice()
            .try_into()
            .map_err(|_| anyhow::anyhow!("stored policy signing key has the wrong length"))?;
        Ok(PolicyService {
            store,
            settings,
            signing_key: SigningKey::from_bytes(&seed),
            current: Mutex::new(None),
        })
    }

    /// The key door agents verify snapshots with.
    pub fn public_key(&self) -> VerifyingKey {
        self.signing_key.verifying_key()
    }

    /// The policy at the database's current version, compiled at most once per version.
    pub async fn current(&self) -> Result<Arc<CompiledPolicy>, PolicyServiceError> {
        let version = self.store.policy_version().await?;
        let mut current = self.current.lock().await;
        if let Some(compiled) = current.as_ref().filter(|c| c.version >= version) {
            return Ok(compiled.clone());
        }
        let compiled = Arc::new(self.compile().await?);
        *current = Some(compiled.clone());
        Ok(compiled)
    }

    /// Reads the whole model between two reads of the version; retries if a write
    /// slipped in between, so the policy is exactly the one its version names.
    async fn compile(&self) -> Result<CompiledPolicy, PolicyServiceError> {
        for _ in 0..LOAD_ATTEMPTS {
            let before = self.store.policy_version().await?;
            let (sites, zones, doors, schedules) = self.store.load_site_model().await?;
            let (people, visits, credentials, grants) = self.store.load_people_model().await?;
            if self.store.policy_version().await? != before {
                continue;
            }
            let source = PolicySource {
                settings: self.settings.clone(),
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
            let policy = Policy::build(source)?.with_version(version);
            return Ok(CompiledPolicy {
                version: before,
                policy,
            });
        }
        Err(PolicyServiceError::Busy)
    }

    /// The current policy as a signed snapshot.
    pub async fn snapshot(&self) -> Result<SignedSnapshot, PolicyServiceError> {
        let compiled = self.current().await?;
        Ok(sign(
            compiled.policy.source(),
            compiled.policy.version(),
            &self.signing_key,
        )?)
    }

    /// The current policy cut down to some sites, signed: a door agent gets only what its
    /// doors need. Kept: those sites with their zones, doors and schedules; grants on
    /// their zones; every visit with its allowed zones narrowed to them; every person and
    /// credential (an unknown card must still be decided as unknown, not missing), and
    /// threat exemptions as they are. The result is built as a policy before signing, so
    /// it never holds a dangling reference.
    pub async fn snapshot_for_sites(
        &self,
        site_ids: &BTreeSet<Uuid>,
    ) -> Result<SignedSnapshot, PolicyServiceError> {
        let compiled = self.current().await?;
        let full = compiled.policy.source();
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
        let source = PolicySource {
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
        };
        let policy = Policy::build(source)?;
        Ok(sign(
            policy.source(),
            compiled.policy.version(),
            &self.signing_key,
        )?)
    }
}
