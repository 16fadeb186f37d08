//! Secure cards at the reader: the site keys a reader authenticates cards with, and what
//! a read proved about the card ([`CardProof`]).
//!
//! The keys are the bases of the door's read keys (never a master key), shared between
//! the agent, which replaces them when the server sends new ones, and the reader thread,
//! which takes the current set for each card. With no keys, every card is read by UID.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use gatehouse_core::decide::Authentication;
use gatehouse_desfire::app::SiteKeys;
use uuid::Uuid;

/// What reading a card proved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CardProof {
    /// The UID only: the agent holds no card keys, or the card carries no Gatehouse
    /// application (a UID card, or a clone of a secure card's UID).
    #[default]
    Uid,
    /// The card authenticated with its site's read key; the event's card is its real UID.
    Authentic {
        /// The site whose keys it holds.
        site_id: Uuid,
        /// The key version it holds.
        key_version: u8,
    },
    /// The card carries the Gatehouse application but did not prove it holds a key this
    /// agent accepts: a clone, a wrong or retired key, a replay.
    NotAuthentic,
}

impl CardProof {
    /// What the engine is told about the read.
    pub fn authentication(self) -> Authentication {
        match self {
            CardProof::Uid => Authentication::NotAttempted,
            CardProof::Authentic { .. } => Authentication::Authenticated,
            CardProof::NotAuthentic => Authentication::Failed,
        }
    }
}

/// The accepted site keys, replaced as a whole.
#[derive(Clone, Default)]
pub struct SecureKeys(Arc<RwLock<Arc<[SiteKeys]>>>);

impl SecureKeys {
    /// Replaces the accepted keys.
    pub fn set(&self, keys: Vec<SiteKeys>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = keys.into();
    }

    /// The keys accepted now.
    pub fn current(&self) -> Arc<[SiteKeys]> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }
}

impl fmt::Debug for SecureKeys {
    /// Sites and versions only: key bytes never reach a log.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.current();
        let versions: Vec<(Uuid, u8)> = keys
            .iter()
            .map(|k| (Uuid::from_bytes(k.site_id), k.version))
            .collect();
        f.debug_struct("SecureKeys")
            .field("versions", &versions)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_desfire::AesKey;

    #[test]
    fn debug_shows_versions_never_key_bytes() {
        let keys = SecureKeys::default();
        keys.set(vec![SiteKeys {
            site_id: [1; 16],
            version: 3,
            read: AesKey::new([0xAB; 16]),
            uid: AesKey::new([0xCD; 16]),
        }]);
        let shown = format!("{keys:?}");
        assert!(shown.contains(", 3)"), "{shown}");
        for secret in ["AB", "ab", "171", "CD", "205"] {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
