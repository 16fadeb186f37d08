//! Signed checkpoints: every `checkpoint_records` chain entries, or every
//! `checkpoint_interval_s` seconds when there is anything new, the server signs the
//! chain hash at the head with its audit key (Ed25519, kept in `server_keys`, the same
//! on every replica). An auditor holding the public key can then tell that the chain up
//! to each checkpoint is the one the server wrote.

use super::canon::Canon;
use crate::store::{Checkpoint, Store, StoreError};
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use rand::RngCore;
use std::time::Duration;

const KEY_NAME: &str = "audit_signing_key";

/// The checkpoint policy (`[audit]` in the configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointSettings {
    /// Sign as soon as this many entries were chained since the last checkpoint.
    pub checkpoint_records: u32,
    /// Sign at least this often while new entries arrive, in seconds.
    pub checkpoint_interval_s: u64,
}

impl Default for CheckpointSettings {
    fn default() -> Self {
        CheckpointSettings {
            checkpoint_records: 1000,
            checkpoint_interval_s: 60,
        }
    }
}

/// The server's audit signing key.
#[derive(Clone)]
pub struct AuditKey(SigningKey);

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("AuditKey")
            .field(&self.0.verifying_key())
            .finish()
    }
}

impl AuditKey {
    /// Loads the key from the database, creating it on first start.
    pub async fn load(store: &Store) -> anyhow::Result<AuditKey> {
        let mut seed = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut seed);
        let stored = store.secret_or_insert(KEY_NAME, &seed).await?;
        let seed: [u8; 32] = stored
            .try_into()
            .map_err(|_| anyhow::anyhow!("the stored audit signing key has the wrong length"))?;
        Ok(AuditKey(SigningKey::from_bytes(&seed)))
    }

    /// A key from its signing key (unit tests).
    #[cfg(test)]
    pub(crate) fn from_signing_key(key: SigningKey) -> AuditKey {
        AuditKey(key)
    }

    pub fn public_key(&self) -> VerifyingKey {
        self.0.verifying_key()
    }

    /// Signs an export's name snapshot (see [`crate::audit::export::display`]).
    pub fn sign_names(&self, names: &crate::audit::export::display::Names) -> Vec<u8> {
        self.0.sign(&names.message()).to_bytes().to_vec()
    }

    /// A checkpoint of the chain at entry `seq` whose hash is `hash`, signed now.
    pub fn sign(&self, seq: i64, hash: [u8; 32]) -> Checkpoint {
        let signed_at = crate::store::now();
        let signature = self.0.sign(&message(seq, &hash, signed_at));
        Checkpoint {
            seq,
            hash: hash.to_vec(),
            signed_at,
            signature: signature.to_bytes().to_vec(),
        }
    }
}

/// What a checkpoint signature covers.
fn message(seq: i64, hash: &[u8; 32], signed_at: DateTime<Utc>) -> [u8; 32] {
    Canon::new("gatehouse.audit.checkpoint.v1")
        .int("seq", Some(seq))
        .bytes("hash", Some(hash))
        .time("signed_at", Some(signed_at))
        .finish()
}

/// Whether `checkpoint` carries a valid signature by `key` over its own fields.
pub fn signature_valid(key: &VerifyingKey, checkpoint: &Checkpoint) -> bool {
    let Ok(signature) = Signature::from_slice(&checkpoint.signature) else {
        return false;
    };
    let hash = super::hash32(&checkpoint.hash);
    key.verify(
        &message(checkpoint.seq, &hash, checkpoint.signed_at),
        &signature,
    )
    .is_ok()
}

/// Whether `signature` is `key`'s over the name snapshot `names`.
pub fn names_signature_valid(
    key: &VerifyingKey,
    names: &crate::audit::export::display::Names,
    signature: &[u8],
) -> bool {
    Signature::from_slice(signature).is_ok_and(|s| key.verify(&names.message(), &s).is_ok())
}

/// Signs a checkpoint when the policy says one is due; returns it when one was written.
pub async fn checkpoint_if_due(
    store: &Store,
    key: &AuditKey,
    settings: CheckpointSettings,
) -> Result<Option<Checkpoint>, StoreError> {
    let (head_seq, head_hash) = store.audit_head().await?;
    let last = store.last_checkpoint().await?;
    let (last_seq, last_at) = last.map_or((0, None), |c| (c.seq, Some(c.signed_at)));
    let new = head_seq - last_seq;
    let interval = chrono::Duration::seconds(
        i64::try_from(settings.checkpoint_interval_s).unwrap_or(i64::MAX),
    );
    let due = new >= i64::from(settings.checkpoint_records.max(1))
        || (new > 0 && last_at.is_none_or(|at| Utc::now() - at >= interval));
    if !due {
        return Ok(None);
    }
    let checkpoint = key.sign(head_seq, head_hash);
    // Another replica may have signed the same head first: that one stands.
    store.insert_checkpoint(&checkpoint).await?;
    Ok(Some(checkpoint))
}

/// Checks once a second whether a checkpoint is due, until the task is dropped.
pub async fn run(store: Store, key: std::sync::Arc<AuditKey>, settings: CheckpointSettings) {
    loop {
        if let Err(error) = checkpoint_if_due(&store, &key, settings).await {
            tracing::warn!(%error, "could not write an audit checkpoint");
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
