//! The signed policy snapshot the server ships to door agents.
//!
//! Encoding is `postcard`: a compact, documented and frozen (1.x) serde wire format with
//! varint integers, kept up by an active team and used widely on small devices — the
//! door agent's kind of machine. bincode 2 would do too, but its format has changed
//! between major versions, and a snapshot must stay readable across an upgrade.
//!
//! The Ed25519 signature covers a domain tag, the envelope header (version, issue time,
//! sites, key id) and the SHA-256 of the payload, so neither the version nor any payload
//! byte can change without the signature failing. The payload is hashed rather than
//! copied into the signed message because it can be hundreds of megabytes.

use super::{Policy, PolicyError, PolicySource};
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Separates snapshot signatures from anything else the same key might ever sign, and
/// one payload format from another: postcard does not describe itself, so a payload of
/// another format could decode into the wrong fields. v2: credentials carry a keyed
/// PIN verifier instead of the PIN hash; a v1 snapshot fails as `BadSignature`.
const DOMAIN: &[u8] = b"gatehouse policy snapshot v2\0";

/// A versioned, signed policy snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignedSnapshot {
    /// Monotonic version; agents refuse anything older than what they have.
    pub version: u64,
    /// When the server issued it.
    pub issued_at: DateTime<Utc>,
    /// The sites the snapshot covers.
    pub site_ids: Vec<Uuid>,
    /// Which key signed it (first 8 bytes of SHA-256 of the public key).
    pub key_id: [u8; 8],
    /// postcard-encoded [`PolicySource`].
    pub payload: Vec<u8>,
    /// Ed25519 signature (64 bytes).
    pub signature: Vec<u8>,
}

/// Why a snapshot was refused or could not be made.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SnapshotError {
    /// The bytes are not a snapshot envelope at all.
    #[error("not a policy snapshot: {0}")]
    Malformed(String),
    /// Signed by a key other than the one we trust.
    #[error("snapshot signed by another key")]
    WrongKey,
    /// The signature does not match the content: altered in transit or at rest.
    #[error("snapshot signature is invalid")]
    BadSignature,
    /// Older than the newest snapshot already accepted (a replay or a rollback).
    #[error("snapshot version {version} is older than {min_version}")]
    VersionTooOld {
        /// The snapshot's version.
        version: u64,
        /// The oldest version acceptable.
        min_version: u64,
    },
    /// A correctly signed delta made from another version or other sites than the
    /// policy in hand: fetch a full snapshot instead.
    #[error("delta applies to version {from_version}, not to the {have} in hand")]
    WrongBase {
        /// The version the delta applies to.
        from_version: u64,
        /// The version in hand.
        have: u64,
    },
    /// Correctly signed, but the payload does not decode (a signer of another version).
    #[error("snapshot payload does not decode: {0}")]
    Payload(String),
    /// Correctly signed, but the policy inside is inconsistent.
    #[error("snapshot policy is invalid: {0}")]
    Invalid(#[from] PolicyError),
    /// Encoding failed while signing.
    #[error("snapshot could not be encoded: {0}")]
    Encode(String),
}

#[derive(Serialize)]
struct SignedHeader<'a> {
    version: u64,
    issued_at: DateTime<Utc>,
    site_ids: &'a [Uuid],
    key_id: [u8; 8],
    payload_sha256: [u8; 32],
}

/// Generates a fresh signing key from the operating system's random source.
pub fn generate_key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// The short id of a public key, as recorded in snapshots.
pub fn key_id(key: &VerifyingKey) -> [u8; 8] {
    let digest: [u8; 32] = Sha256::digest(key.as_bytes()).into();
    let mut id = [0u8; 8];
    id.copy_from_slice(&digest[..8]);
    id
}

/// Signs `source` as snapshot `version`, issued now.
pub fn sign(
    source: &PolicySource,
    version: u64,
    key: &SigningKey,
) -> Result<SignedSnapshot, SnapshotError> {
    sign_at(source, version, Utc::now(), key)
}

/// Signs `source` as snapshot `version`, issued at `issued_at` (deterministic).
pub fn sign_at(
    source: &PolicySource,
    version: u64,
    issued_at: DateTime<Utc>,
    key: &SigningKey,
) -> Result<SignedSnapshot, SnapshotError> {
    let payload =
        postcard::to_allocvec(source).map_err(|e| SnapshotError::Encode(e.to_string()))?;
    let mut snapshot = SignedSnapshot {
        version,
        issued_at,
        site_ids: source.sites.iter().map(|s| s.id).collect(),
        key_id: key_id(&key.verifying_key()),
        payload,
        signature: Vec::new(),
    };
    snapshot.signature = key.sign(&snapshot.signed_message()?).to_vec();
    Ok(snapshot)
}

impl SignedSnapshot {
    /// The envelope's wire form.
    pub fn to_bytes(&self) -> Result<Vec<u8>, SnapshotError> {
        postcard::to_allocvec(self).map_err(|e| SnapshotError::Encode(e.to_string()))
    }

    /// Parses the envelope (without verifying it).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, SnapshotError> {
        envelope(bytes)
    }

    /// Checks key, signature and version, then decodes and builds the policy.
    pub fn verify(&self, key: &VerifyingKey, min_version: u64) -> Result<Policy, SnapshotError> {
        check_signature(key, self.key_id, &self.signature, &self.signed_message()?)?;
        // Only now is the version authentic enough to compare.
        if self.version < min_version {
            return Err(SnapshotError::VersionTooOld {
                version: self.version,
                min_version,
            });
        }
        let source: PolicySource = postcard::from_bytes(&self.payload)
            .map_err(|e| SnapshotError::Payload(e.to_string()))?;
        Ok(Policy::build(source)?.with_version(self.version))
    }

    fn signed_message(&self) -> Result<Vec<u8>, SnapshotError> {
        signed_message_for(
            self.version,
            self.issued_at,
            &self.site_ids,
            self.key_id,
            Sha256::digest(&self.payload).into(),
        )
    }
}

/// What a snapshot's signature covers, given its payload's hash.
fn signed_message_for(
    version: u64,
    issued_at: DateTime<Utc>,
    site_ids: &[Uuid],
    key_id: [u8; 8],
    payload_sha256: [u8; 32],
) -> Result<Vec<u8>, SnapshotError> {
    let header = SignedHeader {
        version,
        issued_at,
        site_ids,
        key_id,
        payload_sha256,
    };
    postcard::to_extend(&header, DOMAIN.to_vec()).map_err(|e| SnapshotError::Encode(e.to_string()))
}

/// A signed envelope (a snapshot or a delta) from its wire form, every byte used.
pub(super) fn envelope<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, SnapshotError> {
    match postcard::take_from_bytes::<T>(bytes) {
        Ok((envelope, [])) => Ok(envelope),
        Ok((_, rest)) => Err(SnapshotError::Malformed(format!(
            "{} trailing bytes",
            rest.len()
        ))),
        Err(e) => Err(SnapshotError::Malformed(e.to_string())),
    }
}

/// Whether `signature` over `message` is `key`'s, named by `signed_by`.
pub(super) fn check_signature(
    key: &VerifyingKey,
    signed_by: [u8; 8],
    signature: &[u8],
    message: &[u8],
) -> Result<(), SnapshotError> {
    if signed_by != key_id(key) {
        return Err(SnapshotError::WrongKey);
    }
    let signature = Signature::from_slice(signature).map_err(|_| SnapshotError::BadSignature)?;
    key.verify(message, &signature)
        .map_err(|_| SnapshotError::BadSignature)
}

/// Parses, verifies and loads a snapshot: refuses garbage, another key, a bad signature
/// and any version below `min_version`, each with its own error.
pub fn verify_and_load(
    bytes: &[u8],
    key: &VerifyingKey,
    min_version: u64,
) -> Result<Policy, SnapshotError> {
    SignedSnapshot::from_bytes(bytes)?.verify(key, min_version)
}

mod stream;
pub use stream::{LoadedSnapshot, load_snapshot};

#[cfg(test)]
mod tests;
