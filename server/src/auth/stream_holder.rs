//! Who holds a live stream (Server-Sent Events) and how the stream re-checks them as it
//! runs: an API bearer token (still in its lifetime, its session live) or a console
//! cookie (its session within its idle and absolute ends). Either way the operator must
//! still be active with a role the stream's permission allows.

use super::tokens::TokenKeys;
use crate::api::error::ApiError;
use crate::store::{Principal, Store, now};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use gatehouse_core::role::Role;
use std::sync::Arc;

pub enum StreamHolder {
    Bearer {
        tokens: Arc<TokenKeys>,
        token: String,
    },
    Console {
        cookie_hash: [u8; 32],
    },
}

impl StreamHolder {
    /// The holder of an API request's stream: its bearer token (the extractor has
    /// checked it once; the stream checks it again as it runs).
    pub fn bearer(tokens: &Arc<TokenKeys>, headers: &HeaderMap) -> Result<StreamHolder, ApiError> {
        let token = headers
            .get(AUTHORIZATION)
            .and_then(|h| h.to_str().ok())
            .and_then(|h| h.split_once(' '))
            .map(|(_, token)| token.trim().to_owned())
            .ok_or(ApiError::InvalidToken)?;
        Ok(StreamHolder::Bearer {
            tokens: tokens.clone(),
            token,
        })
    }

    /// Whether `principal`'s session still holds, for a role among `roles`. A database
    /// that does not answer ends the stream (the client reconnects and resumes).
    pub async fn still_allowed(
        &self,
        store: &Store,
        principal: &Principal,
        roles: &[Role],
    ) -> bool {
        let found = match self {
            StreamHolder::Bearer { tokens, token } => {
                let in_time = tokens
                    .verify(token)
                    .is_some_and(|claims| claims.exp > now().timestamp());
                if !in_time {
                    return false;
                }
                store.session_principal(principal.session_id, now()).await
            }
            StreamHolder::Console { cookie_hash } => store
                .console_principal(cookie_hash, now())
                .await
                .map(|found| found.map(|(principal, _)| principal)),
        };
        match found {
            Ok(Some(now)) => {
                now.session_id == principal.session_id
                    && now.operator_id == principal.operator_id
                    && roles.contains(&now.role)
            }
            Ok(None) => false,
            Err(error) => {
                tracing::warn!(%error, "stream: could not check the session");
                false
            }
        }
    }
}
