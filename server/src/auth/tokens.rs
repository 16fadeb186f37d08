//! Access tokens: JWTs signed with HS256 and a random 256-bit key kept in the database
//! (generated at first start, shared by every replica). Only HS256 is accepted; `exp`,
//! `nbf`, `iss` and `aud` are always checked.

use crate::config::AuthSettings;
use crate::store::Store;
use chrono::{DateTime, Utc};
use gatehouse_core::role::Role;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use uuid::Uuid;

const KEY_NAME: &str = "jwt-hs256";
const ALGORITHM: Algorithm = Algorithm::HS256;

/// What an access token says. `sid` names the session that must still be live.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: Uuid,
    pub sid: Uuid,
    pub role: Role,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

/// Signs and checks access tokens. Its `Debug` never shows the key.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl_s: u64,
}

impl fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenKeys")
            .field("algorithm", &ALGORITHM)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl_s", &self.ttl_s)
            .finish_non_exhaustive()
    }
}

impl TokenKeys {
    /// Loads the signing key from the database, creating it on first start.
    pub async fn load(store: &Store, settings: &AuthSettings) -> anyhow::Result<TokenKeys> {
        let mut candidate = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut candidate);
        let secret = store.secret_or_insert(KEY_NAME, &candidate).await?;
        anyhow::ensure!(secret.len() >= 32, "stored token key is too short");
        Ok(TokenKeys::from_secret(&secret, settings))
    }

    pub fn from_secret(secret: &[u8], settings: &AuthSettings) -> TokenKeys {
        let mut validation = Validation::new(ALGORITHM);
        validation.algorithms = vec![ALGORITHM];
        validation.set_issuer(&[&settings.issuer]);
        validation.set_audience(&[&settings.audience]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "aud", "sub"]);
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.leeway = 5;
        TokenKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: settings.issuer.clone(),
            audience: settings.audience.clone(),
            ttl_s: settings.token_ttl_s,
        }
    }

    /// Lifetime of a new token in seconds.
    pub fn ttl_s(&self) -> u64 {
        self.ttl_s
    }

    /// Makes the claims of a new token for a session.
    pub fn claims(&self, operator: Uuid, session: Uuid, role: Role, now: DateTime<Utc>) -> Claims {
        let iat = now.timestamp();
        Claims {
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            sub: operator,
            sid: session,
            role,
            iat,
            nbf: iat,
            exp: iat.saturating_add(i64::try_from(self.ttl_s).unwrap_or(i64::MAX)),
        }
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(ALGORITHM),
            claims,
            &self.encoding,
        )?)
    }

    /// Checks signature, algorithm and registered claims. Says nothing of why a token
    /// fails: every failure is the same 401 to the client.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Settings;

    #[test]
    fn sign_then_verify_and_debug_hides_key() -> anyhow::Result<()> {
        let keys = TokenKeys::from_secret(&[7u8; 32], &Settings::default().auth);
        let claims = keys.claims(Uuid::now_v7(), Uuid::now_v7(), Role::Host, Utc::now());
        let token = keys.sign(&claims)?;
        let back = keys
            .verify(&token)
            .ok_or_else(|| anyhow::anyhow!("rejected"))?;
        assert_eq!(back.sid, claims.sid);
        assert!(!format!("{keys:?}").contains("7, 7"));
        let other = TokenKeys::from_secret(&[8u8; 32], &Settings::default().auth);
        assert!(
            other.verify(&token).is_none(),
            "another key must not verify"
        );
        Ok(())
    }
}
