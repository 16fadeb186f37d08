//! The extractors that authenticate a request and authorise it for one permission.
//! Instrumented with `skip_all`: the token never reaches a log.

use super::permissions::Permission;
use crate::api::error::ApiError;
use crate::api::middleware::RequestId;
use crate::state::AppState;
use crate::store::{Actor, Principal, now};
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::marker::PhantomData;

/// The operator behind a valid token of a live session.
pub struct Authenticated(pub Principal);

impl FromRequestParts<AppState> for Authenticated {
    type Rejection = ApiError;

    #[tracing::instrument(skip_all)]
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(parts)?;
        let claims = state.tokens.verify(token).ok_or(ApiError::InvalidToken)?;
        let principal = state
            .store
            .session_principal(claims.sid, now())
            .await?
            .filter(|p| p.operator_id == claims.sub)
            .ok_or(ApiError::InvalidToken)?;
        super::visibility::authenticated(principal.role);
        Ok(Authenticated(principal))
    }
}

/// The token of an `Authorization: Bearer` header: 401 without the header, 401 with an
/// invalid token when it is not a bearer token. Shared with the agent-token extractor.
pub(crate) fn bearer_token(parts: &Parts) -> Result<&str, ApiError> {
    let header = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(ApiError::Unauthenticated)?;
    // The scheme name is case-insensitive (RFC 9110 §11.1).
    header
        .to_str()
        .ok()
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(ApiError::InvalidToken)
}

/// An authenticated operator whose role holds permission `P`; 403 otherwise.
pub struct Authorized<P: Permission> {
    pub principal: Principal,
    request_id: Option<String>,
    _permission: PhantomData<P>,
}

impl<P: Permission> Authorized<P> {
    /// The operator as the author of a change, for the operator log.
    pub fn actor(&self) -> Actor {
        Actor {
            id: Some(self.principal.operator_id),
            name: self.principal.username.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

impl<P: Permission> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = ApiError;

    #[tracing::instrument(skip_all)]
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Authenticated(principal) = Authenticated::from_request_parts(parts, state).await?;
        if !P::ROLES.contains(&principal.role) {
            return Err(ApiError::Forbidden);
        }
        Ok(Authorized {
            principal,
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
            _permission: PhantomData,
        })
    }
}
