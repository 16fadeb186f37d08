//! Password hashing with Argon2id, always off the async runtime. Checking a login for an
//! unknown user costs the same as for a known one (a dummy hash is verified instead).

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use secrecy::{ExposeSecret, SecretString};
use std::sync::OnceLock;

/// Shortest password accepted for an operator account.
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longest password accepted (hashing cost grows with length).
pub const MAX_PASSWORD_LEN: usize = 1024;

/// Why a password cannot be used for an account.
pub fn password_problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_PASSWORD_LEN {
        Some(format!("must be at least {MIN_PASSWORD_LEN} characters"))
    } else if chars > MAX_PASSWORD_LEN {
        Some(format!("must be at most {MAX_PASSWORD_LEN} characters"))
    } else {
        None
    }
}

/// Hashes a password (PHC string, Argon2id with the crate's recommended parameters).
pub async fn hash(password: SecretString) -> anyhow::Result<String> {
    tokio::task::spawn_blocking(move || hash_blocking(password.expose_secret())).await?
}

fn hash_blocking(password: &str) -> anyhow::Result<String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| anyhow::anyhow!("hashing a password failed: {e}"))
}

/// Checks a password against a stored hash, or against a dummy hash when there is no
/// account, so both cases take the same time. A malformed stored hash never matches.
pub async fn verify(password: SecretString, stored: Option<String>) -> anyhow::Result<bool> {
    tokio::task::spawn_blocking(move || {
        let known = stored.is_some();
        let hash = match stored {
            Some(hash) => hash,
            None => dummy_hash()?.to_owned(),
        };
        let matches = PasswordHash::new(&hash)
            .map(|parsed| {
                Argon2::default()
                    .verify_password(password.expose_secret().as_bytes(), &parsed)
                    .is_ok()
            })
            .unwrap_or(false);
        Ok(known && matches)
    })
    .await?
}

fn dummy_hash() -> anyhow::Result<&'static str> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash);
    }
    let hash = hash_blocking("gatehouse dummy password for unknown users")?;
    Ok(DUMMY.get_or_init(|| hash))
}

/// Makes the dummy hash ahead of the first login, so that first login by an unknown
/// user does not take twice as long as the others.
pub async fn warm_up() -> anyhow::Result<()> {
    tokio::task::spawn_blocking(|| dummy_hash().map(|_| ())).await?
}

/// A random password for generated accounts: 20 characters from an unambiguous alphabet.
pub fn generate() -> SecretString {
    use rand::Rng;
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    let password: String = (0..20)
        .map(|_| char::from(ALPHABET[rng.gen_range(0..ALPHABET.len())]))
        .collect();
    SecretString::from(password)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_then_verify() -> anyhow::Result<()> {
        let stored = hash(SecretString::from("correct horse battery")).await?;
        assert!(stored.starts_with("$argon2id$"));
        assert!(
            verify(
                SecretString::from("correct horse battery"),
                Some(stored.clone())
            )
            .await?
        );
        assert!(!verify(SecretString::from("wrong horse battery"), Some(stored)).await?);
        assert!(!verify(SecretString::from("anything"), None).await?);
        assert!(!verify(SecretString::from("anything"), Some("not a hash".into())).await?);
        Ok(())
    }

    #[test]
    fn password_rules() {
        assert!(password_problem("short").is_some());
        assert!(password_problem("twelve chars").is_none());
        assert!(password_problem(&"x".repeat(1025)).is_some());
        assert_eq!(generate().expose_secret().len(), 20);
    }
}
