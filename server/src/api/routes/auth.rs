//! Login, logout, "who am I" and changing one's own password.

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::ApiJson;
use crate::auth::extract::Authorized;
use crate::auth::password;
use crate::auth::permissions::AnyOperator;
use crate::domain::operator;
use crate::state::AppState;
use crate::store::{Operator, OperatorStatus, Session, now};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(login))
        .routes(routes!(logout))
        .routes(routes!(me))
        .routes(routes!(change_own_password))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    username: String,
    #[schema(value_type = String, format = Password)]
    password: SecretString,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct TokenResponse {
    access_token: String,
    /// Always `Bearer`.
    token_type: &'static str,
    /// Seconds until the token expires (at most 900).
    expires_in: u64,
}

/// Log in with username and password; returns a short-lived bearer token.
///
/// Unknown user and wrong password get the same answer. Repeated failures per account
/// and per client address are throttled (429 with `Retry-After`).
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses(
        (status = 200, body = TokenResponse),
        (status = 401, description = "invalid username or password", body = ErrorResponse),
        (status = 422, body = ErrorResponse),
        (status = 429, description = "too many failures; see Retry-After", body = ErrorResponse),
    ))]
async fn login(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<TokenResponse>, ApiError> {
    let username = request.username.trim().to_lowercase();
    let keys = [format!("user:{username}"), format!("ip:{}", client.ip())];
    let at = now();
    let attempt = state.throttle.reserve(&state.store, &keys, at).await?;

    let account = state.store.operator_with_hash(&username).await?;
    let (operator, hash) = match account {
        Some((operator, hash)) => (Some(operator), Some(hash)),
        None => (None, None),
    };
    let password_ok = password::verify(request.password, hash).await?;
    let operator = operator.filter(|o| password_ok && o.status == OperatorStatus::Active);
    let Some(operator) = operator else {
        // The reserved attempt stays recorded as the failure.
        tracing::info!(username = %username, client = %client.ip(), "login failed");
        return Err(ApiError::InvalidCredentials);
    };
    state
        .throttle
        .succeeded(&state.store, &attempt, &keys[0])
        .await?;

    let ttl = chrono::Duration::seconds(i64::try_from(state.tokens.ttl_s()).unwrap_or(900));
    let session = Session {
        id: Uuid::new_v4(),
        operator_id: operator.id,
        created_at: at,
        expires_at: at + ttl,
    };
    state.store.create_session(&session).await?;
    let claims = state
        .tokens
        .claims(operator.id, session.id, operator.role, at);
    let access_token = state.tokens.sign(&claims)?;
    tracing::info!(username = %operator.username, "login");
    Ok(Json(TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in: state.tokens.ttl_s(),
    }))
}

/// End the current session; its token stops working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = ErrorResponse)))]
async fn logout(
    State(state): State<AppState>,
    auth: Authorized<AnyOperator>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .revoke_session(auth.principal.session_id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in operator's account.
#[utoipa::path(get, path = "/auth/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = Operator), (status = 401, body = ErrorResponse)))]
async fn me(
    State(state): State<AppState>,
    auth: Authorized<AnyOperator>,
) -> Result<Json<Operator>, ApiError> {
    Ok(Json(
        state.store.operator(auth.principal.operator_id).await?,
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangeOwnPassword {
    #[schema(value_type = String, format = Password)]
    current_password: SecretString,
    /// 12 to 1024 characters, not the current password.
    #[schema(value_type = String, format = Password, min_length = 12, max_length = 1024)]
    new_password: SecretString,
}

/// Change the logged-in operator's own password; any role may.
///
/// The current password is required: a wrong one is 422 naming `current_password` and
/// counts as a failed login for the account and the client address (so it is throttled
/// like logins: 429 with `Retry-After`). On success every other session of the operator
/// ends; the one making the change stays logged in. The operator log records the
/// change, never the hash.
#[utoipa::path(put, path = "/auth/me/password", tag = "auth", security(("bearer" = [])),
    request_body = ChangeOwnPassword,
    responses((status = 204), (status = 401, body = ErrorResponse),
        (status = 422, description = "wrong current password, or the new one is unusable",
            body = ErrorResponse),
        (status = 429, description = "too many failures; see Retry-After", body = ErrorResponse)))]
async fn change_own_password(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    auth: Authorized<AnyOperator>,
    ApiJson(request): ApiJson<ChangeOwnPassword>,
) -> Result<StatusCode, ApiError> {
    let new_password = request.new_password;
    operator::check_password("new_password", new_password.expose_secret())?;
    let username = auth.principal.username.clone();
    let keys = [format!("user:{username}"), format!("ip:{}", client.ip())];
    let attempt = state.throttle.reserve(&state.store, &keys, now()).await?;
    let hash = state
        .store
        .operator_with_hash(&username)
        .await?
        .map(|(_, hash)| hash);
    let same = new_password.expose_secret() == request.current_password.expose_secret();
    if !password::verify(request.current_password, hash).await? {
        // The reserved attempt stays recorded as the failure.
        tracing::info!(username = %username, client = %client.ip(), "password change refused");
        return Err(ApiError::field(
            "current_password",
            "is not your current password",
        ));
    }
    state
        .throttle
        .succeeded(&state.store, &attempt, &keys[0])
        .await?;
    if same {
        return Err(ApiError::field(
            "new_password",
            "must differ from the current password",
        ));
    }
    let new_hash = password::hash(new_password).await?;
    state
        .store
        .replace_operator_password(
            auth.principal.operator_id,
            &new_hash,
            &auth.actor(),
            Some(auth.principal.session_id),
        )
        .await?;
    tracing::info!(username = %username, "own password changed");
    Ok(StatusCode::NO_CONTENT)
}
