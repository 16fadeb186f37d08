//! AES-128 key material: redacted in `Debug`, wiped from memory on drop.
//!
//! Every secret in this crate (site keys, diversified card keys, session keys) is an
//! [`AesKey`]. It has no `Display`, its `Debug` prints `AesKey(<redacted>)`, comparison is
//! constant-time, and its bytes are zeroized when it is dropped so a key does not outlive
//! its use in freed memory.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of an AES-128 key and of an AES block.
pub const KEY_LEN: usize = 16;

/// An AES-128 key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct AesKey([u8; KEY_LEN]);

impl AesKey {
    /// Wraps 16 key bytes.
    pub fn new(bytes: [u8; KEY_LEN]) -> Self {
        Self(bytes)
    }

    /// A key from a slice; `None` unless it is exactly 16 bytes.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; KEY_LEN]>::try_from(bytes).ok().map(Self)
    }

    /// The all-zero key DESFire cards are delivered with.
    pub fn factory_default() -> Self {
        Self([0; KEY_LEN])
    }

    /// The key bytes, for the cipher and for sealing the key to an agent. Callers must not
    /// log them.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AesKey(<redacted>)")
    }
}

impl PartialEq for AesKey {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for AesKey {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_key() {
        let key = AesKey::new([0xAB; 16]);
        let shown = format!("{key:?}");
        assert_eq!(shown, "AesKey(<redacted>)");
        assert!(!shown.to_lowercase().contains("ab"));
    }

    #[test]
    fn from_slice_wants_sixteen_bytes() {
        assert!(AesKey::from_slice(&[0; 15]).is_none());
        assert!(AesKey::from_slice(&[0; 17]).is_none());
        assert_eq!(
            AesKey::from_slice(&[0; 16]),
            Some(AesKey::factory_default())
        );
    }
}
