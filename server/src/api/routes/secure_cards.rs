//! The issuing station from the API (issue 15): issue a blank DESFire card to a person,
//! re-key or wipe an issued card, on the server's desk reader. Each call starts a desk job
//! and answers `202` at once; `GET /desk-jobs/{id}` follows it (waiting for a card,
//! writing, done or failed). One job at a time: the desk has one reader.

use super::site_model::not_found;
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath};
use crate::api::time::Timestamp;
use crate::auth::extract::Authorized;
use crate::auth::permissions::IssueSecureCards;
use crate::issuing::IssueRequest;
use crate::issuing::jobs::{DeskJob, Operation, StartError};
use crate::state::AppState;
use crate::store::CardKeyState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::DateTime;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(issue_secure_card))
        .routes(routes!(rekey_secure_card))
        .routes(routes!(wipe_secure_card))
        .routes(routes!(desk_job))
}

impl From<StartError> for ApiError {
    fn from(error: StartError) -> Self {
        ApiError::Conflict(error.to_string())
    }
}

/// What to issue.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueSecureCard {
    /// The site whose current card keys the card gets.
    site_id: Uuid,
    valid_from: Option<Timestamp>,
    valid_until: Option<Timestamp>,
}

/// Checks the site exists (404) and has current keys (409) before a card is asked for.
pub(crate) async fn require_current_keys(state: &AppState, site_id: Uuid) -> Result<(), ApiError> {
    let versions = state
        .card_keys
        .versions(site_id)
        .await
        .map_err(|e| match e {
            crate::cards::CardKeyError::Store(s) => not_found("site")(s),
            other => other.into(),
        })?;
    if !versions.iter().any(|v| v.state == CardKeyState::Current) {
        return Err(ApiError::Conflict(
            "the site has no card keys; create them first".to_owned(),
        ));
    }
    Ok(())
}

fn start(
    state: &AppState,
    operation: Operation,
    auth_actor: crate::store::Actor,
) -> Result<(StatusCode, Json<DeskJob>), ApiError> {
    let job = state.desk.start(
        state.store.clone(),
        state.card_keys.clone(),
        operation,
        auth_actor,
    )?;
    Ok((StatusCode::ACCEPTED, Json(job)))
}

/// Issue the blank DESFire card laid on the desk reader to this person, with the site's
/// current keys. The credential (kind `secure`, active) is stored once the card read
/// back; follow the job for it.
#[utoipa::path(post, path = "/people/{id}/secure-cards", tag = "credentials",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = IssueSecureCard,
    responses((status = 202, body = DeskJob), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "no card keys, no desk reader, or the desk is busy",
            body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn issue_secure_card(
    State(state): State<AppState>,
    auth: Authorized<IssueSecureCards>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<IssueSecureCard>,
) -> Result<(StatusCode, Json<DeskJob>), ApiError> {
    let (from, until) = (
        request.valid_from.map(DateTime::from),
        request.valid_until.map(DateTime::from),
    );
    if let (Some(from), Some(until)) = (from, until)
        && until <= from
    {
        return Err(ApiError::field("valid_until", "must be after valid_from"));
    }
    state.store.person(id).await.map_err(not_found("person"))?;
    require_current_keys(&state, request.site_id).await?;
    let operation = Operation::Issue(IssueRequest {
        person_id: id,
        site_id: request.site_id,
        valid_from: from,
        valid_until: until,
    });
    start(&state, operation, auth.actor())
}

/// Re-key the issued card laid on the desk reader to this site's current keys.
#[utoipa::path(post, path = "/sites/{id}/secure-cards/rekey", tag = "credentials",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 202, body = DeskJob), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "no card keys, no desk reader, or the desk is busy",
            body = ErrorResponse)))]
async fn rekey_secure_card(
    State(state): State<AppState>,
    auth: Authorized<IssueSecureCards>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<DeskJob>), ApiError> {
    require_current_keys(&state, id).await?;
    start(&state, Operation::Rekey { site_id: id }, auth.actor())
}

/// Wipe the issued card laid on the desk reader (this site's keys) and revoke its
/// credential.
#[utoipa::path(post, path = "/sites/{id}/secure-cards/wipe", tag = "credentials",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 202, body = DeskJob), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "no card keys, no desk reader, or the desk is busy",
            body = ErrorResponse)))]
async fn wipe_secure_card(
    State(state): State<AppState>,
    auth: Authorized<IssueSecureCards>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<(StatusCode, Json<DeskJob>), ApiError> {
    require_current_keys(&state, id).await?;
    start(&state, Operation::Wipe { site_id: id }, auth.actor())
}

/// A desk job: waiting for a card, writing, done (with the card and credential) or
/// failed (and why). Jobs are kept in the memory of the server with the desk reader.
#[utoipa::path(get, path = "/desk-jobs/{id}", tag = "credentials", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = DeskJob), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn desk_job(
    State(state): State<AppState>,
    _auth: Authorized<IssueSecureCards>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<DeskJob>, ApiError> {
    state
        .desk
        .get(id)
        .map(Json)
        .ok_or(ApiError::NotFound("desk job"))
}
