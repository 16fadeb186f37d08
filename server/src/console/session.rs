//! Console logins: an opaque random cookie whose SHA-256 names a row of `sessions` (the
//! same rows as API logins, so logout, disabling an operator, a role or password change
//! end it on every replica), with an idle end moved on by use and an absolute end.
//!
//! The cookie is `HttpOnly` (no script reads it), `SameSite=Strict` (no other site's
//! page sends it) and `Secure` when the server speaks TLS. Its value never reaches a log:
//! every function that holds it is instrumented with `skip_all`.

use super::page::Failure;
use crate::api::middleware::RequestId;
use crate::auth::permissions::Permission;
use crate::state::AppState;
use crate::store::{Actor, ConsoleSession, Principal, Session, now};
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::header::{COOKIE, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use std::marker::PhantomData;
use uuid::Uuid;

pub const COOKIE_NAME: &str = "gatehouse_session";

/// How the console's cookie is set: `Secure` only when the server speaks TLS.
#[derive(Debug, Clone, Copy)]
pub struct CookiePolicy {
    pub secure: bool,
}

impl CookiePolicy {
    fn header(self, value: &str, max_age_s: i64) -> Option<HeaderValue> {
        let secure = if self.secure { "; Secure" } else { "" };
        HeaderValue::from_str(&format!(
            "{COOKIE_NAME}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_s}{secure}"
        ))
        .ok()
    }

    /// Clears the cookie in the browser.
    pub fn clear(self) -> Option<HeaderValue> {
        self.header("", 0)
    }
}

fn hash(cookie: &str) -> [u8; 32] {
    Sha256::digest(cookie.as_bytes()).into()
}

/// The hash naming the session of the request's console cookie (what the database keeps).
pub fn cookie_hash(headers: &HeaderMap) -> Option<[u8; 32]> {
    cookie(headers).map(hash)
}

/// The console cookie a request carries, if any.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value)
        .filter(|value| !value.is_empty())
}

/// Opens a console session for `operator_id` and returns the `Set-Cookie` header value.
#[tracing::instrument(skip_all)]
pub async fn open(state: &AppState, operator_id: Uuid) -> Result<HeaderValue, Failure> {
    let mut secret = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut secret);
    let cookie = URL_SAFE_NO_PAD.encode(secret);
    let at = now();
    let settings = state.console.settings;
    let session = ConsoleSession {
        session: Session {
            id: Uuid::new_v4(),
            operator_id,
            created_at: at,
            expires_at: at + settings.session_lifetime(),
        },
        cookie_hash: hash(&cookie),
        idle_expires_at: at + settings.idle_timeout(),
    };
    state.store.create_console_session(&session).await?;
    let max_age = i64::try_from(settings.session_lifetime_s).unwrap_or(i64::MAX);
    state
        .console
        .cookie
        .header(&cookie, max_age)
        .ok_or_else(|| Failure::internal("the session cookie is not a header value"))
}

/// The operator behind the request's console cookie, if the session is live. Moves the
/// session's idle end on (written at most every minute, or every quarter of the idle
/// timeout when that is shorter, so browsing does not write on every request).
#[tracing::instrument(skip_all)]
pub async fn principal(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Principal>, Failure> {
    let Some(cookie) = cookie(headers) else {
        return Ok(None);
    };
    let at = now();
    let Some((principal, idle_end)) = state.store.console_principal(&hash(cookie), at).await?
    else {
        return Ok(None);
    };
    let idle = state.console.settings.idle_timeout();
    let step = std::cmp::min(chrono::Duration::seconds(60), idle / 4);
    let new_end = at + idle;
    if new_end - idle_end >= step {
        // A busy database only delays the move; the session stays valid until idle_end.
        if let Err(error) = state
            .store
            .touch_console_session(principal.session_id, new_end)
            .await
        {
            tracing::warn!(%error, "could not extend a console session");
        }
    }
    Ok(Some(principal))
}

/// A console page or action for an operator whose role holds permission `P`. Without a
/// live session the browser is sent to the login page (and back here after it); with
/// another role the answer is a 403 page.
pub struct Console<P: Permission> {
    pub principal: Principal,
    request_id: Option<String>,
    _permission: PhantomData<P>,
}

impl<P: Permission> Console<P> {
    /// The operator as the author of a change, for the operator log (as the API's).
    pub fn actor(&self) -> Actor {
        Actor {
            id: Some(self.principal.operator_id),
            name: self.principal.username.clone(),
            request_id: self.request_id.clone(),
        }
    }
}

/// Why a console request was not let in.
pub enum Refused {
    /// No live session: to the login page, then back to `next`.
    Login {
        next: String,
    },
    Failure(Failure),
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        match self {
            Refused::Login { next } => {
                let query = serde_urlencoded::to_string([("next", next)]).unwrap_or_default();
                Redirect::to(&format!("/login?{query}")).into_response()
            }
            Refused::Failure(failure) => failure.into_response(),
        }
    }
}

impl<P: Permission> FromRequestParts<AppState> for Console<P> {
    type Rejection = Refused;

    #[tracing::instrument(skip_all)]
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Refused> {
        let Some(principal) = principal(state, &parts.headers)
            .await
            .map_err(Refused::Failure)?
        else {
            let next = parts
                .extensions
                .get::<OriginalUri>()
                .map_or_else(|| parts.uri.to_string(), |uri| uri.0.to_string());
            return Err(Refused::Login { next });
        };
        crate::auth::visibility::authenticated(principal.role);
        if !P::ROLES.contains(&principal.role) {
            return Err(Refused::Failure(Failure::forbidden()));
        }
        Ok(Console {
            principal,
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
            _permission: PhantomData,
        })
    }
}

/// `Set-Cookie` for a response.
pub fn set_cookie(value: HeaderValue) -> [(axum::http::HeaderName, HeaderValue); 1] {
    [(SET_COOKIE, value)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; gatehouse_session=xyz; b=2"),
        );
        assert_eq!(cookie(&headers), Some("xyz"));
        headers.insert(COOKIE, HeaderValue::from_static("gatehouse_session="));
        assert_eq!(cookie(&headers), None);
        headers.insert(
            COOKIE,
            HeaderValue::from_static("other_gatehouse_session=1"),
        );
        assert_eq!(cookie(&headers), None);
    }

    #[test]
    fn cookie_attributes() -> anyhow::Result<()> {
        let plain = CookiePolicy { secure: false }
            .header("v", 60)
            .ok_or_else(|| anyhow::anyhow!("no header"))?;
        assert_eq!(
            plain.to_str()?,
            "gatehouse_session=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=60"
        );
        let tls = CookiePolicy { secure: true }
            .header("v", 60)
            .ok_or_else(|| anyhow::anyhow!("no header"))?;
        assert!(tls.to_str()?.ends_with("; Secure"));
        Ok(())
    }
}
