//! The agent's side of site card keys: registering its X25519 public key once (agents
//! enrolled before card keys; newer ones send it with the enrolment), and fetching the
//! read and UID keys of its own sites' accepted versions, each sealed to that key
//! (`gatehouse_core::protocol::card_keys`). Never the master key. The policy long-poll
//! carries the key-set number (`x-card-key-set`), so an agent knows when to fetch.

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::ApiJson;
use crate::auth::agent::AuthenticatedAgent;
use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::protocol::card_keys;
use gatehouse_core::protocol::{CardKeySet, CardPublicKey};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(register_card_key))
        .routes(routes!(card_keys))
}

/// A 32-byte X25519 public key from base64; a 422 naming `field` otherwise.
pub fn decode_public_key(text: &str, field: &str) -> Result<[u8; 32], ApiError> {
    let problem = || ApiError::field(field, "must be a 32-byte X25519 public key, base64");
    if text.len() > 64 {
        return Err(problem());
    }
    let bytes = STANDARD.decode(text.trim()).map_err(|_| problem())?;
    let key: [u8; 32] = bytes.try_into().map_err(|_| problem())?;
    // A low-order point has no secret behind it: anyone could open what is sealed to it.
    card_keys::check_public_key(&key).map_err(|_| problem())?;
    Ok(key)
}

/// Register the agent's X25519 public key, for an agent enrolled before card keys. Once:
/// the same key again is accepted, another is refused (409; re-enrol the agent).
#[utoipa::path(put, path = "/agent/card-public-key", tag = "agent", security(("bearer" = [])),
    request_body = CardPublicKey,
    responses((status = 204, description = "registered"), (status = 401, body = ErrorResponse),
        (status = 409, description = "another key is registered", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn register_card_key(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    ApiJson(request): ApiJson<CardPublicKey>,
) -> Result<StatusCode, ApiError> {
    let key = decode_public_key(&request.public_key, "public_key")?;
    state
        .store
        .register_agent_card_key(agent.agent_id, &key)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The read and UID keys of every accepted version (current and previous) of the sites
/// of the agent's doors, each sealed to the agent's public key. 409 until it has one.
#[utoipa::path(get, path = "/agent/card-keys", tag = "agent", security(("bearer" = [])),
    responses((status = 200, body = CardKeySet), (status = 401, body = ErrorResponse),
        (status = 409, description = "no public key registered", body = ErrorResponse)))]
async fn card_keys(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
) -> Result<Json<CardKeySet>, ApiError> {
    let sites: Vec<_> = (state.store.agent_site_ids(agent.agent_id).await?)
        .into_iter()
        .collect();
    Ok(Json(
        state.card_keys.sealed_for(agent.agent_id, &sites).await?,
    ))
}
