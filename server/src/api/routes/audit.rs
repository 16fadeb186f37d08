//! The audit trail, for admins and auditors: verification and the key that signs it.

use crate::api::error::{ApiError, ErrorResponse};
use crate::audit::verify::{VerifyReport, verify};
use crate::auth::extract::Authorized;
use crate::auth::permissions::VerifyAudit;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(verify_trail))
        .routes(routes!(audit_public_key))
}

/// Recomputes the whole audit chain and its signed checkpoints; names the first bad
/// record. `ok` is true only when everything verifies.
#[utoipa::path(get, path = "/audit/verify", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = VerifyReport), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse)))]
async fn verify_trail(
    State(state): State<AppState>,
    _auth: Authorized<VerifyAudit>,
) -> Result<Json<VerifyReport>, ApiError> {
    Ok(Json(
        verify(&state.store, &state.audit_key.public_key()).await?,
    ))
}

/// The public key that verifies the audit checkpoints.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AuditPublicKey {
    /// Always `Ed25519`.
    pub algorithm: &'static str,
    /// The 32-byte key, base64.
    pub public_key: String,
}

/// The key auditors verify checkpoints and exports with (keep a copy of your own).
#[utoipa::path(get, path = "/audit/public-key", tag = "audit", security(("bearer" = [])),
    responses((status = 200, body = AuditPublicKey), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse)))]
async fn audit_public_key(
    State(state): State<AppState>,
    _auth: Authorized<VerifyAudit>,
) -> Json<AuditPublicKey> {
    Json(AuditPublicKey {
        algorithm: "Ed25519",
        public_key: STANDARD.encode(state.audit_key.public_key().as_bytes()),
    })
}
