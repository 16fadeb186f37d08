//! The signed policy delta the server ships to a door agent that already holds a policy:
//! the changes from the agent's version to the current one, for the agent's sites.
//!
//! Signed like a snapshot (see [`super::snapshot`]) under its own domain tag, over the
//! header and the SHA-256 of the payload. The header names the version it applies to
//! (`from_version`) and the sites, so a delta is only ever applied to the exact policy it
//! was made from: an agent holding another version or other sites refuses it and fetches
//! a full snapshot instead.

use super::snapshot::{check_signature, envelope, key_id};
use super::{PolicyDelta, SnapshotError};
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Separates delta signatures from snapshot signatures and anything else.
const DOMAIN: &[u8] = b"gatehouse policy delta v1\0";

/// A signed delta from one policy version to a later one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedDelta {
    /// The version the delta applies to.
    pub from_version: u64,
    /// The version the policy has once it is applied.
    pub version: u64,
    /// When the server issued it.
    pub issued_at: DateTime<Utc>,
    /// The sites the policy it applies to covers.
    pub site_ids: Vec<Uuid>,
    /// Which key signed it.
    pub key_id: [u8; 8],
    /// postcard-encoded [`PolicyDelta`].
    pub payload: Vec<u8>,
    /// Ed25519 signature (64 bytes).
    pub signature: Vec<u8>,
}

#[derive(Serialize)]
struct SignedHeader<'a> {
    from_version: u64,
    version: u64,
    issued_at: DateTime<Utc>,
    site_ids: &'a [Uuid],
    key_id: [u8; 8],
    payload_sha256: [u8; 32],
}

/// What a delta must apply to: the version and sites of the policy in hand.
#[derive(Debug, Clone, Copy)]
pub struct DeltaBase<'a> {
    /// The version in hand.
    pub version: u64,
    /// The sites the policy in hand covers, as its snapshot listed them.
    pub site_ids: &'a [Uuid],
}

impl SignedDelta {
    /// Signs `delta` from `from_version` to `version` for `site_ids`, issued at `issued_at`.
    pub fn sign(
        delta: &PolicyDelta,
        from_version: u64,
        version: u64,
        site_ids: Vec<Uuid>,
        issued_at: DateTime<Utc>,
        key: &SigningKey,
    ) -> Result<SignedDelta, SnapshotError> {
        let payload =
            postcard::to_allocvec(delta).map_err(|e| SnapshotError::Encode(e.to_string()))?;
        let mut signed = SignedDelta {
            from_version,
            version,
            issued_at,
            site_ids,
            key_id: key_id(&key.verifying_key()),
            payload,
            signature: Vec::new(),
        };
        signed.signature = key.sign(&signed.signed_message()?).to_vec();
        Ok(signed)
    }

    /// The envelope's wire form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SnapshotError> {
        postcard::to_allocvec(self).map_err(|e| SnapshotError::Encode(e.to_string()))
    }

    /// Parses the envelope (without verifying it).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SnapshotError> {
        envelope(bytes)
    }

    /// Checks key and signature, then that it applies to `base` and moves forward, then
    /// decodes the changes.
    pub fn verify(
        &self,
        key: &VerifyingKey,
        base: DeltaBase,
    ) -> Result<PolicyDelta, SnapshotError> {
        check_signature(key, self.key_id, &self.signature, &self.signed_message()?)?;
        // Only now are the versions and sites authentic enough to compare.
        if self.from_version != base.version || !same_sites(&self.site_ids, base.site_ids) {
            return Err(SnapshotError::WrongBase {
                from_version: self.from_version,
                have: base.version,
            });
        }
        if self.version <= self.from_version {
            return Err(SnapshotError::VersionTooOld {
                version: self.version,
                min_version: self.from_version + 1,
            });
        }
        postcard::from_bytes(&self.payload).map_err(|e| SnapshotError::Payload(e.to_string()))
    }

    fn signed_message(&self) -> Result<Vec<u8>, SnapshotError> {
        let header = SignedHeader {
            from_version: self.from_version,
            version: self.version,
            issued_at: self.issued_at,
            site_ids: &self.site_ids,
            key_id: self.key_id,
            payload_sha256: Sha256::digest(&self.payload).into(),
        };
        postcard::to_extend(&header, DOMAIN.to_vec())
            .map_err(|e| SnapshotError::Encode(e.to_string()))
    }
}

/// The same sites in any order (a snapshot lists them in the order of its records).
fn same_sites(a: &[Uuid], b: &[Uuid]) -> bool {
    let mut a = a.to_vec();
    let mut b = b.to_vec();
    a.sort_unstable();
    b.sort_unstable();
    a == b
}
