//! PINs: how they are stored, what a policy carries to check them, and the check.
//!
//! A 4–12 digit PIN cannot withstand an offline search of any unkeyed hash of it (10^8
//! guesses for 8 digits), so what a policy carries is useless without a secret:
//! - the server stores a [`PinHash`], SHA-256(salt ‖ PIN), and never hands it out;
//! - a policy carries a [`PinVerifier`]: the salt and HMAC-SHA256(pin key,
//!   SHA-256(salt ‖ PIN)), keyed with the server's [`PinKey`]. The key is derived from
//!   nothing in the policy, so a copied snapshot alone tests no guess; the verifier is
//!   computed from the stored hash, so existing PINs move over without being known;
//! - operators get [`PinVerifier::Withheld`]: that a PIN is set, nothing to test it.
//!
//! Who can still search offline: whoever has the database (one SHA-256 a guess against
//! the stored hash) or a door agent's key file together with its snapshot (one SHA-256
//! and one HMAC a guess); the README has the measured figures. The check is fast on
//! purpose: it is the key, not a hash's cost, that keeps a copied snapshot from being
//! searched, and a slow hash sized for a Pi at the door would still fall to 10^8 guesses
//! on a desktop.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// Why a PIN was refused when setting it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a PIN is 4 to 12 digits")]
pub struct PinError;

/// The result of checking a presented PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinCheck {
    /// The PIN.
    Correct,
    /// The duress PIN: the PIN with its last digit incremented by one (9 wraps to 0).
    Duress,
    /// Anything else.
    Incorrect,
}

/// A salted SHA-256 hash of a PIN: what the server stores. It never leaves the server;
/// policies carry the [`PinVerifier`] made from it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinHash {
    /// Random per credential, so equal PINs hash differently.
    pub salt: [u8; 16],
    /// SHA-256(salt ‖ PIN).
    pub hash: [u8; 32],
}

impl std::fmt::Debug for PinHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is a 10^8-guess search away from the PIN: never in logs.
        f.write_str("PinHash(..)")
    }
}

impl PinHash {
    /// Hashes `pin` with a fresh random salt.
    pub fn generate(pin: &str) -> Result<Self, PinError> {
        let mut salt = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
        Self::with_salt(pin, salt)
    }

    /// Hashes `pin` with the given salt (deterministic; for tests and re-hashing).
    pub fn with_salt(pin: &str, salt: [u8; 16]) -> Result<Self, PinError> {
        if !valid_pin(pin) {
            return Err(PinError);
        }
        Ok(Self {
            salt,
            hash: digest(&salt, pin.as_bytes()),
        })
    }
}

/// The server's secret key for PIN verifiers (32 random bytes, made at first start and
/// kept in its database). Door agents receive it over their authenticated channel only;
/// it is never part of a policy snapshot. `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct PinKey([u8; 32]);

impl std::fmt::Debug for PinKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinKey(..)")
    }
}

impl PinKey {
    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        PinKey(bytes)
    }

    /// A fresh key from the operating system's random source.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
        PinKey(bytes)
    }

    /// The key's bytes, to store or send it.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// HMAC-SHA256(key, hash).
    fn tag(&self, hash: &[u8; 32]) -> [u8; 32] {
        // HMAC takes a key of any length, so this cannot fail; a failure would only
        // mean no PIN matches, never a wrong grant.
        match Hmac::<Sha256>::new_from_slice(&self.0) {
            Ok(mut mac) => {
                mac.update(hash);
                mac.finalize().into_bytes().into()
            }
            Err(_) => [0; 32],
        }
    }
}

/// What a policy carries about a credential's PIN.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PinVerifier {
    /// Checkable with the [`PinKey`]: what the server decides with and agents receive.
    Keyed {
        /// The [`PinHash`]'s salt.
        salt: [u8; 16],
        /// HMAC-SHA256(pin key, SHA-256(salt ‖ PIN)).
        tag: [u8; 32],
    },
    /// A PIN is set, but nothing to check it is here (the operators' snapshot).
    Withheld,
}

impl std::fmt::Debug for PinVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PinVerifier::Keyed { .. } => f.write_str("Keyed(..)"),
            PinVerifier::Withheld => f.write_str("Withheld"),
        }
    }
}

/// Why a presented PIN could not be checked at all (not the holder's mistake, so not
/// counted as a wrong PIN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinUncheckable {
    /// The policy carries no verifier, only the fact that a PIN is set.
    Withheld,
    /// The verifier is keyed, and no key was given to check it with.
    NoKey,
}

impl PinUncheckable {
    /// A sentence for the decision trace.
    pub fn detail(self) -> &'static str {
        match self {
            PinUncheckable::Withheld => "PIN cannot be checked: this policy withholds it",
            PinUncheckable::NoKey => "PIN cannot be checked: no PIN key at this door",
        }
    }
}

impl PinVerifier {
    /// The verifier of a stored hash under `key`.
    pub fn keyed(hash: &PinHash, key: &PinKey) -> Self {
        PinVerifier::Keyed {
            salt: hash.salt,
            tag: key.tag(&hash.hash),
        }
    }

    /// Checks a presented PIN with `key`, in constant time per comparison. A wrong key
    /// makes every PIN incorrect.
    ///
    /// The duress convention (last digit plus one) needs no second enrolment and can be
    /// taught in one sentence; its cost is that a slip of exactly +1 on the last digit
    /// raises a silent alarm, which security staff prefer to a missed duress.
    pub fn check(&self, key: Option<&PinKey>, presented: &str) -> Result<PinCheck, PinUncheckable> {
        let (salt, tag) = match self {
            PinVerifier::Keyed { salt, tag } => (salt, tag),
            PinVerifier::Withheld => return Err(PinUncheckable::Withheld),
        };
        let key = key.ok_or(PinUncheckable::NoKey)?;
        let matches = |pin: &[u8]| -> bool { key.tag(&digest(salt, pin)).ct_eq(tag).into() };
        if !valid_pin(presented) {
            return Ok(PinCheck::Incorrect);
        }
        if matches(presented.as_bytes()) {
            return Ok(PinCheck::Correct);
        }
        let mut buffer = [0u8; 12];
        let bytes = presented.as_bytes();
        // valid_pin: 4 to 12 digits, so this always fits.
        let Some(undone) = buffer.get_mut(..bytes.len()) else {
            return Ok(PinCheck::Incorrect);
        };
        undone.copy_from_slice(bytes);
        // The duress PIN is PIN+1 on the last digit, so undo it: minus one, 0 wraps to 9.
        if let Some(last) = undone.last_mut() {
            *last = b'0' + (*last - b'0' + 9) % 10;
        }
        if matches(undone) {
            Ok(PinCheck::Duress)
        } else {
            Ok(PinCheck::Incorrect)
        }
    }
}

fn valid_pin(pin: &str) -> bool {
    (4..=12).contains(&pin.len()) && pin.bytes().all(|b| b.is_ascii_digit())
}

/// SHA-256(salt ‖ PIN): the stored hash, and the input of the keyed verifier.
fn digest(salt: &[u8; 16], pin: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(salt);
    h.update(pin);
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(byte: u8) -> PinKey {
        PinKey::from_bytes([byte; 32])
    }

    #[test]
    fn pins_check_correct_duress_and_wrong() {
        let k = key(3);
        let h = PinVerifier::keyed(&PinHash::with_salt("1234", [7; 16]).unwrap(), &k);
        let check = |pin| h.check(Some(&k), pin).unwrap();
        assert_eq!(check("1234"), PinCheck::Correct);
        assert_eq!(check("1235"), PinCheck::Duress);
        assert_eq!(check("1233"), PinCheck::Incorrect);
        assert_eq!(check("12345"), PinCheck::Incorrect);
        assert_eq!(check(""), PinCheck::Incorrect);
        assert_eq!(check("12a4"), PinCheck::Incorrect);
        let wrap = PinVerifier::keyed(&PinHash::with_salt("0009", [1; 16]).unwrap(), &k);
        assert_eq!(
            wrap.check(Some(&k), "0000"),
            Ok(PinCheck::Duress),
            "9 + 1 wraps to 0"
        );
        assert_eq!(PinHash::with_salt("123", [0; 16]), Err(PinError));
        let a = PinHash::generate("1234").unwrap();
        let b = PinHash::generate("1234").unwrap();
        assert_ne!(a.hash, b.hash, "salts differ");
        assert_eq!(
            PinVerifier::keyed(&a, &k).check(Some(&k), "1234"),
            Ok(PinCheck::Correct)
        );
    }

    #[test]
    fn a_verifier_tests_no_guess_without_its_key() {
        let hash = PinHash::with_salt("1234", [7; 16]).unwrap();
        let keyed = PinVerifier::keyed(&hash, &key(3));
        // What the policy carries is neither the stored hash nor computable from it alone.
        let PinVerifier::Keyed { salt, tag } = &keyed else {
            panic!("keyed")
        };
        assert_eq!(salt, &hash.salt);
        assert_ne!(tag, &hash.hash);
        assert_eq!(keyed.check(None, "1234"), Err(PinUncheckable::NoKey));
        for pin in ["1234", "1235"] {
            assert_eq!(
                keyed.check(Some(&key(4)), pin),
                Ok(PinCheck::Incorrect),
                "{pin}"
            );
        }
        let withheld = PinVerifier::Withheld;
        assert_eq!(
            withheld.check(Some(&key(3)), "1234"),
            Err(PinUncheckable::Withheld)
        );
        for shown in [
            format!("{hash:?}"),
            format!("{keyed:?}"),
            format!("{:?}", key(3)),
        ] {
            assert!(!shown.contains("7,") && !shown.contains("3,"), "{shown}");
        }
    }
}
