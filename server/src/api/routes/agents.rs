//! Door agents as operators see them: registering one for its doors (with a single-use
//! enrolment code), listing, revoking, issuing a new code, and the alarms raised while
//! ingesting its uploads. Admins write; security officers read.

use super::site_model::not_found;
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::auth::agent::{CODE_VALIDITY, hash_secret, new_enrollment_code};
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ManageAgents, ReadAgents};
use crate::state::AppState;
use crate::store::{AgentRecord, AlarmRecord, NewAgent, now};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_agents, create_agent))
        .routes(routes!(get_agent))
        .routes(routes!(revoke_agent))
        .routes(routes!(issue_enrollment_code))
        .routes(routes!(list_alarms))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAgent {
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: String,
    /// The doors it serves (1 to 64), each served by no other agent.
    #[schema(min_items = 1, max_items = 64)]
    door_ids: Vec<Uuid>,
}

/// An agent with a fresh enrolment code: shown once, stored only as a hash.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AgentWithCode {
    #[serde(flatten)]
    agent: AgentRecord,
    /// 16 characters, single-use, valid until `enrollment_expires_at` (15 minutes).
    enrollment_code: String,
}

/// A fresh code and its hash and expiry (also for the console's agents page).
pub(crate) fn code() -> (String, Vec<u8>, chrono::DateTime<chrono::Utc>) {
    let code = new_enrollment_code();
    let hash = hash_secret(&code);
    (code, hash, now() + CODE_VALIDITY)
}

/// List agents in creation order.
#[utoipa::path(get, path = "/agents", tag = "agents", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<AgentRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_agents(
    State(state): State<AppState>,
    _auth: Authorized<ReadAgents>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<AgentRecord>>, ApiError> {
    let limit = page.limit()?;
    let rows = state.store.list_agents(page.cursor()?, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |a| a.id)))
}

/// Register an agent for its doors; the answer carries its enrolment code.
#[utoipa::path(post, path = "/agents", tag = "agents", security(("bearer" = [])),
    request_body = CreateAgent,
    responses((status = 201, body = AgentWithCode), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 409, description = "a door is served by another agent", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn create_agent(
    State(state): State<AppState>,
    auth: Authorized<ManageAgents>,
    ApiJson(request): ApiJson<CreateAgent>,
) -> Result<(StatusCode, Json<AgentWithCode>), ApiError> {
    let (enrollment_code, code_hash, code_expires_at) = code();
    let new = NewAgent {
        name: request.name,
        door_ids: request.door_ids,
        code_hash,
        code_expires_at,
    }
    .checked()?;
    let agent = state.store.create_agent(new, &auth.actor()).await?;
    let body = AgentWithCode {
        agent,
        enrollment_code,
    };
    Ok((StatusCode::CREATED, Json(body)))
}

/// One agent.
#[utoipa::path(get, path = "/agents/{id}", tag = "agents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AgentRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_agent(
    State(state): State<AppState>,
    _auth: Authorized<ReadAgents>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<AgentRecord>, ApiError> {
    let agent = state.store.agent(id).await.map_err(not_found("agent"))?;
    Ok(Json(agent))
}

/// Revoke an agent for good: its token stops working at once.
#[utoipa::path(post, path = "/agents/{id}/revoke", tag = "agents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AgentRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "revoked already", body = ErrorResponse)))]
async fn revoke_agent(
    State(state): State<AppState>,
    auth: Authorized<ManageAgents>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<AgentRecord>, ApiError> {
    let revoked = state.store.revoke_agent(id, &auth.actor()).await;
    Ok(Json(revoked.map_err(not_found("agent"))?))
}

/// A new enrolment code (re-enrolment): enrolling with it replaces the agent's token.
#[utoipa::path(post, path = "/agents/{id}/enrollment-code", tag = "agents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = AgentWithCode), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "the agent is revoked", body = ErrorResponse)))]
async fn issue_enrollment_code(
    State(state): State<AppState>,
    auth: Authorized<ManageAgents>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<AgentWithCode>, ApiError> {
    let (enrollment_code, hash, expires_at) = code();
    let issued = state
        .store
        .issue_enrollment_code(id, &hash, expires_at, &auth.actor())
        .await;
    let agent = issued.map_err(not_found("agent"))?;
    Ok(Json(AgentWithCode {
        agent,
        enrollment_code,
    }))
}

/// The alarms raised while ingesting an agent's uploads, oldest first.
#[utoipa::path(get, path = "/agents/{id}/alarms", tag = "agents", security(("bearer" = [])),
    params(("id" = Uuid, Path), PageParams),
    responses((status = 200, body = Page<AlarmRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn list_alarms(
    State(state): State<AppState>,
    _auth: Authorized<ReadAgents>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<AlarmRecord>>, ApiError> {
    let limit = page.limit()?;
    state.store.agent(id).await.map_err(not_found("agent"))?;
    let rows = state
        .store
        .list_agent_alarms(id, page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |a| a.id)))
}
