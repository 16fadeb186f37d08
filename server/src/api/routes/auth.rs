//! Login, logout, "who am I" and changing one's own password.

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::ApiJson;
use crate::auth::extract::Authorized;
use crate::auth::login::{change_own_password as change_own_password_checked, check_credentials};
use crate::auth::permissions::AnyOperator;
use crate::state::AppState;
use crate::store::{Operator, Session, now};
use axum::Json;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use secrecy::SecretString;
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
    let operator =
        check_credentials(&state, &request.username, request.password, client.ip()).await?;
    let at = now();
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
    change_own_password_checked(
        &state,
        &auth.principal,
        &auth.actor(),
        request.current_password,
        request.new_password,
        client.ip(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
