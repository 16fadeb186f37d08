//! The policy on disk: the last full snapshot (`policy.snapshot`) and the verified deltas
//! applied since (`policy.delta.<from>-<to>`, each the signed envelope as received).
//!
//! Crash safety comes from the order of writes. Each file is written whole under a
//! temporary name, fsync'd, renamed into place and its directory fsync'd
//! ([`write_atomic`]), and a delta is written before it is applied in memory. So after a
//! SIGKILL at any moment the directory holds a snapshot and a chain of complete deltas
//! from it: at start the snapshot is loaded and each delta whose `from` is the version
//! reached so far is verified and applied in turn. A new snapshot is renamed into place
//! before the old chain is removed; deltas it makes stale (from below its version) are
//! skipped and removed at the next start.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use ed25519_dalek::VerifyingKey;
use gatehouse_core::policy::{DeltaBase, PolicyDelta, SignedDelta, SnapshotError, load_snapshot};

use super::LoadedPolicy;
use crate::agent::credential::write_atomic;

/// The snapshot file's name in the state directory.
pub const SNAPSHOT: &str = "policy.snapshot";
const DELTA_PREFIX: &str = "policy.delta.";

/// The state directory's policy files.
#[derive(Debug, Clone)]
pub struct PolicyStore {
    dir: PathBuf,
}

/// The chain of deltas kept since the snapshot: how many, and their bytes.
#[derive(Debug, Clone, Copy, Default)]
pub struct Chain {
    /// Deltas in the chain.
    pub count: u64,
    /// Their size in bytes.
    pub bytes: u64,
    /// The snapshot's size in bytes.
    pub snapshot_bytes: u64,
}

impl Chain {
    /// Whether a full snapshot should replace the chain: more than 1,000 deltas, or
    /// more bytes than a quarter of the snapshot (restarts then re-apply too much).
    pub fn too_long(&self) -> bool {
        self.count > 1000 || self.bytes > self.snapshot_bytes / 4
    }
}

/// Why a policy file was refused.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
    /// The snapshot or a delta was refused.
    #[error(transparent)]
    Refused(#[from] SnapshotError),
    /// A verified delta does not apply to the policy.
    #[error("the delta does not apply: {0}")]
    Apply(#[from] gatehouse_core::policy::PolicyError),
}

fn io(e: impl std::fmt::Display) -> StoreError {
    StoreError::Io(e.to_string())
}

impl PolicyStore {
    /// The policy files of `dir`.
    pub fn new(dir: &Path) -> Self {
        PolicyStore {
            dir: dir.to_owned(),
        }
    }

    /// The snapshot's path.
    pub fn snapshot_path(&self) -> PathBuf {
        self.dir.join(SNAPSHOT)
    }

    /// Where a snapshot being downloaded is written before it is verified.
    pub fn download_path(&self) -> PathBuf {
        self.dir.join(".policy.snapshot.download")
    }

    fn delta_path(&self, from: u64, to: u64) -> PathBuf {
        self.dir.join(format!("{DELTA_PREFIX}{from}-{to}"))
    }

    /// The delta files, as (from, to, path), by `from`.
    fn deltas(&self) -> Vec<(u64, u64, PathBuf)> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut deltas: Vec<_> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let (from, to) = name.strip_prefix(DELTA_PREFIX)?.split_once('-')?;
                Some((from.parse().ok()?, to.parse().ok()?, e.path()))
            })
            .collect();
        deltas.sort();
        deltas
    }

    /// Loads the snapshot, then re-applies the chain of deltas after it, each verified
    /// against the policy reached so far. A delta that fails stops the chain there
    /// (logged; it and those after it are removed); stale deltas are removed.
    pub fn load(&self, key: &VerifyingKey) -> Result<Option<(LoadedPolicy, Chain)>, StoreError> {
        let file = match File::open(self.snapshot_path()) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io(e)),
        };
        let loaded = load_snapshot(file, key, 0)?;
        let mut policy = LoadedPolicy {
            version: loaded.policy.version(),
            policy: loaded.policy,
            issued_at: loaded.issued_at,
            site_ids: loaded.site_ids,
        };
        let mut chain = Chain {
            snapshot_bytes: loaded.size,
            ..Chain::default()
        };
        let mut broken = false;
        for (from, to, path) in self.deltas() {
            if broken || from < policy.version {
                let _ = fs::remove_file(&path);
                continue;
            }
            if from > policy.version {
                // A gap: nothing after it can apply.
                broken = true;
                let _ = fs::remove_file(&path);
                continue;
            }
            let applied = fs::read(&path).map_err(io).and_then(|bytes| {
                let size = bytes.len() as u64;
                let delta = SignedDelta::from_bytes(&bytes)?;
                let changes = verify_delta(&delta, key, &policy)?;
                apply(&mut policy, &delta, &changes)?;
                Ok(size)
            });
            match applied {
                Ok(size) => {
                    chain.count += 1;
                    chain.bytes += size;
                    tracing::debug!(from, to, "re-applied a policy delta from disk");
                }
                Err(e) => {
                    tracing::error!(
                        path = %path.display(),
                        error = %e,
                        "REFUSED a policy delta on disk; the chain stops before it"
                    );
                    broken = true;
                    let _ = fs::remove_file(&path);
                }
            }
        }
        Ok(Some((policy, chain)))
    }

    /// Keeps a verified delta (before it is applied in memory).
    pub fn append_delta(&self, delta: &SignedDelta, bytes: &[u8]) -> Result<(), StoreError> {
        let path = self.delta_path(delta.from_version, delta.version);
        write_atomic(&path, bytes, 0o600).map_err(|e| io(format!("{e:#}")))
    }

    /// Makes the verified download the snapshot and drops the chain it replaces.
    pub fn install_download(&self) -> Result<(), StoreError> {
        fs::rename(self.download_path(), self.snapshot_path()).map_err(io)?;
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io)?;
        for (_, _, path) in self.deltas() {
            let _ = fs::remove_file(path);
        }
        Ok(())
    }
}

/// Verifies `delta` against the policy in hand: its version and its snapshot's sites.
pub fn verify_delta(
    delta: &SignedDelta,
    key: &VerifyingKey,
    policy: &LoadedPolicy,
) -> Result<PolicyDelta, SnapshotError> {
    delta.verify(
        key,
        DeltaBase {
            version: policy.version,
            site_ids: &policy.site_ids,
        },
    )
}

/// Applies verified `changes` to `policy` in place and names the new version; on an
/// error the policy is left as it was.
pub fn apply(
    policy: &mut LoadedPolicy,
    delta: &SignedDelta,
    changes: &PolicyDelta,
) -> Result<(), StoreError> {
    policy.policy.apply(changes)?;
    policy.policy.set_version(delta.version);
    policy.version = delta.version;
    policy.issued_at = delta.issued_at;
    Ok(())
}
