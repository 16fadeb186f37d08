//! Door-agent identity: enrolment codes, agent tokens and the extractor that accepts only
//! an agent token. Both secrets are long random strings kept only as SHA-256 (a 256-bit
//! random token needs no Argon2: there is nothing to guess). Instrumented with
//! `skip_all`: a token never reaches a log.

use super::extract::bearer_token;
use crate::api::error::ApiError;
use crate::state::AppState;
use crate::store::now;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Every agent token starts with this, so it is never mistaken for an operator's JWT.
pub const TOKEN_PREFIX: &str = "gha_";
/// Characters of an enrolment code: no 0/O, 1/I/L, easy to read out and type.
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
/// Length of an enrolment code (about 79 bits).
pub const CODE_LEN: usize = 16;
/// How long an enrolment code may be used.
pub const CODE_VALIDITY: chrono::Duration = chrono::Duration::minutes(15);

/// SHA-256 of a secret, as stored.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    Sha256::digest(secret.as_bytes()).to_vec()
}

/// A fresh single-use enrolment code.
pub fn new_enrollment_code() -> String {
    let mut rng = rand::rngs::OsRng;
    (0..CODE_LEN)
        .map(|_| char::from(CODE_ALPHABET[rng.gen_range(0..CODE_ALPHABET.len())]))
        .collect()
}

/// A code as typed (any case, with spaces or dashes) in the form it was hashed in.
pub fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

/// A fresh agent token: `gha_` and 32 random bytes, base64url.
pub fn new_agent_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// The active agent behind a valid agent token; anything else is a 401. Every accepted
/// call records when the agent was last seen.
#[derive(Debug, Clone, Copy)]
pub struct AuthenticatedAgent {
    pub agent_id: Uuid,
}

impl FromRequestParts<AppState> for AuthenticatedAgent {
    type Rejection = ApiError;

    #[tracing::instrument(skip_all)]
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        if !token.starts_with(TOKEN_PREFIX) {
            return Err(ApiError::InvalidToken);
        }
        let agent_id = state
            .store
            .touch_agent(&hash_secret(token), now())
            .await?
            .ok_or(ApiError::InvalidToken)?;
        Ok(AuthenticatedAgent { agent_id })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_have_their_shape() {
        let code = new_enrollment_code();
        assert_eq!(code.len(), CODE_LEN);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert_eq!(normalize_code("abcd-efgh jkmn"), "ABCDEFGHJKMN");
        let token = new_agent_token();
        assert!(token.starts_with(TOKEN_PREFIX) && token.len() == 4 + 43);
        assert_ne!(token, new_agent_token());
        assert_eq!(hash_secret("x").len(), 32);
    }
}
