//! The signed policy snapshot and the key that verifies it.

use crate::api::error::{ApiError, ErrorResponse};
use crate::auth::extract::Authorized;
use crate::auth::permissions::ReadSecurityModel;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::policy::key_id;
use gatehouse_core::protocol::PublicKey;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(public_key))
        .routes(routes!(snapshot))
}

/// The public key that verifies policy snapshots (no authentication: it is public).
#[utoipa::path(get, path = "/policy/public-key", tag = "policy",
    responses((status = 200, body = PublicKey)))]
async fn public_key(State(state): State<AppState>) -> Json<PublicKey> {
    let key = state.policy.public_key();
    Json(PublicKey {
        algorithm: "Ed25519".to_owned(),
        public_key: STANDARD.encode(key.as_bytes()),
        key_id: key_id(&key),
    })
}

/// The current policy as a signed snapshot (binary; verify it with the public key).
/// The policy version is in the `x-policy-version` header too. PIN verifiers are
/// withheld: a credential shows that it has a PIN, nothing to test a guess against.
#[utoipa::path(get, path = "/policy/snapshot", tag = "policy", security(("bearer" = [])),
    responses((status = 200, description = "signed snapshot", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse)))]
async fn snapshot(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
) -> Result<impl IntoResponse, ApiError> {
    let snapshot = state
        .policy
        .operator_snapshot()
        .await
        .map_err(|e| ApiError::Internal(e.into()))?;
    let bytes = snapshot
        .to_bytes()
        .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::HeaderName::from_static("x-policy-version"),
                snapshot.version.to_string(),
            ),
        ],
        bytes,
    ))
}
