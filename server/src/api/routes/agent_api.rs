//! The API door agents call with their own token: enrolment (with a one-time code),
//! the policy for their doors' sites and the presence feed (who is where) by long-poll,
//! the PIN key (which checks the PIN verifiers in their snapshots; no operator endpoint
//! gives it), and event upload. Operator tokens are not accepted here, nor agent tokens
//! anywhere else. Their bodies, queries and answers are the wire contract in
//! `gatehouse_core::protocol`, which the agent shares.

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiQuery};
use crate::auth::agent::{AuthenticatedAgent, hash_secret, new_agent_token, normalize_code};
use crate::state::AppState;
use crate::store::{PresenceChange, UploadRecord, now};
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{AppendHeaders, IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use gatehouse_core::event::DoorEvent;
use gatehouse_core::protocol::{
    CARD_KEY_SET_HEADER, EnrollRequest, Enrolled, FORMAT_DELTA, FORMAT_SNAPSHOT, FedPresence,
    HASH_EXPECTED, POLICY_FORMAT_HEADER, PinKeyAnswer, PolicyQuery, PresencePage, PresenceQuery,
    Upload, UploadAnswer, UploadedRecord,
};
use std::time::Duration;
use tokio::time::Instant;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// Most records in one upload.
const MAX_RECORDS: usize = 1_000;
/// Largest payload of one record.
const MAX_PAYLOAD: usize = 64 * 1024;
/// Longest and default long-poll wait, in seconds.
/// Below the smallest request timeout the server accepts (30 s), so a long-poll ends
/// with 204, never with the timeout's 408.
const MAX_WAIT_S: u64 = 25;
const DEFAULT_WAIT_S: u64 = 25;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(enroll))
        .routes(routes!(policy))
        .routes(routes!(presence))
        .routes(routes!(pin_key))
        .routes(routes!(upload_events))
        // live door state and remote commands
        .merge(super::agent_doors::router())
        // site card keys sealed to the agent
        .merge(super::agent_card_keys::router())
}

/// Exchange a one-time enrolment code for the agent's token. An unknown, used or
/// expired code gets one and the same 401.
#[utoipa::path(post, path = "/agent/enroll", tag = "agent", request_body = EnrollRequest,
    responses((status = 200, body = Enrolled), (status = 401, body = ErrorResponse)))]
async fn enroll(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<EnrollRequest>,
) -> Result<Json<Enrolled>, ApiError> {
    let code = normalize_code(&request.code);
    let card_key = (request.card_public_key.as_deref())
        .map(|k| super::agent_card_keys::decode_public_key(k, "card_public_key"))
        .transpose()?;
    let token = new_agent_token();
    let enrolled = state
        .store
        .enroll_agent_with_key(
            &hash_secret(&code),
            &hash_secret(&token),
            card_key.as_ref().map(<[u8; 32]>::as_slice),
            now(),
        )
        .await?
        .ok_or(ApiError::InvalidToken)?;
    Ok(Json(Enrolled {
        agent_id: enrolled.id,
        token,
        door_ids: enrolled.door_ids,
        pin_key: Some(STANDARD.encode(state.policy.pin_key().as_bytes())),
    }))
}

/// The key that checks the PIN verifiers in the agent's policy snapshots (HMAC-SHA256
/// over the stored PIN hash). Agents only: a snapshot without this key tests no PIN.
#[utoipa::path(get, path = "/agent/pin-key", tag = "agent", security(("bearer" = [])),
    responses((status = 200, body = PinKeyAnswer), (status = 401, body = ErrorResponse)))]
async fn pin_key(State(state): State<AppState>, _agent: AuthenticatedAgent) -> Json<PinKeyAnswer> {
    Json(PinKeyAnswer {
        pin_key: STANDARD.encode(state.policy.pin_key().as_bytes()),
    })
}

/// The signed policy for the sites of the agent's doors, once its version is above
/// `after_version`: at once when it is, else as soon as it changes within `wait_s`
/// seconds (200), or 204 when the wait ends first. With `delta=true`, the signed
/// changes from `after_version` when the server has them (a `SignedDelta`), else a
/// whole `SignedSnapshot`; `x-policy-format` says which.
#[utoipa::path(get, path = "/agent/policy", tag = "agent", security(("bearer" = [])),
    params(PolicyQuery),
    responses((status = 200, description = "signed snapshot or delta; version in \
            `x-policy-version`, `snapshot` or `delta` in `x-policy-format`",
            content_type = "application/octet-stream", body = Vec<u8>),
        (status = 204, description = "no newer version within the wait"),
        (status = 401, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn policy(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    ApiQuery(query): ApiQuery<PolicyQuery>,
) -> Result<Response, ApiError> {
    let wait_s = query.wait_s.unwrap_or(DEFAULT_WAIT_S);
    if wait_s > MAX_WAIT_S {
        return Err(ApiError::field("wait_s", "must be between 0 and 25"));
    }
    let deadline = Instant::now() + Duration::from_secs(wait_s);
    if let Some(have) = query.after_version {
        // A version past what this server can number is never exceeded: wait it out.
        let have = i64::try_from(have).unwrap_or(i64::MAX);
        let version = state.store.policy_version().await?;
        if version <= have && !state.policy_versions.wait_above(have, deadline).await {
            return Ok((card_key_set(&state).await, StatusCode::NO_CONTENT).into_response());
        }
    }
    let sites = state.store.agent_site_ids(agent.agent_id).await?;
    let delta = match (query.delta, query.after_version) {
        (Some(true), Some(after)) => state.policy.delta_for_sites(after, &sites).await,
        _ => Ok(None),
    };
    let answer = match delta.map_err(|e| ApiError::Internal(e.into()))? {
        Some(delta) => delta,
        None => state
            .policy
            .snapshot_for_sites(&sites)
            .await
            .map_err(|e| ApiError::Internal(e.into()))?,
    };
    let format = match answer.from_version {
        Some(_) => FORMAT_DELTA,
        None => FORMAT_SNAPSHOT,
    };
    let bytes = answer
        .to_bytes()
        .map_err(|e| ApiError::Internal(e.into()))?;
    let headers = [
        (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
        (
            header::HeaderName::from_static("x-policy-version"),
            answer.version.to_string(),
        ),
        (
            header::HeaderName::from_static(POLICY_FORMAT_HEADER),
            format.to_owned(),
        ),
    ];
    Ok((card_key_set(&state).await, headers, bytes).into_response())
}

/// The card key-set number as a header of every policy answer: an agent that holds
/// another fetches its card keys (`GET /agent/card-keys`). Agents that know nothing of
/// card keys ignore it; the policy bytes are unchanged. Left out when the number cannot
/// be read (a busy database): the policy still goes out, the next answer carries it.
async fn card_key_set(state: &AppState) -> AppendHeaders<Option<(header::HeaderName, String)>> {
    let key_set = match state.card_keys.key_set().await {
        Ok(n) => Some(n),
        Err(error) => {
            tracing::warn!(%error, "card key-set number not read; left out of the answer");
            None
        }
    };
    let name = header::HeaderName::from_static(CARD_KEY_SET_HEADER);
    AppendHeaders(key_set.map(|n| (name, n.to_string())))
}

/// Most presence changes in one answer.
const PRESENCE_PAGE: u32 = 5_000;

/// Who is where, as the server knows it from every agent's events: the changes after
/// `after`, as soon as there are any within `wait_s` seconds (an empty page when the
/// wait ends first). The agent merges them into its anti-passback and occupancy state;
/// a passage it recorded itself more recently wins.
#[utoipa::path(get, path = "/agent/presence", tag = "agent", security(("bearer" = [])),
    params(PresenceQuery),
    responses((status = 200, body = PresencePage), (status = 401, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn presence(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    ApiQuery(query): ApiQuery<PresenceQuery>,
) -> Result<Json<PresencePage>, ApiError> {
    let wait_s = query.wait_s.unwrap_or(DEFAULT_WAIT_S);
    if wait_s > MAX_WAIT_S {
        return Err(ApiError::field("wait_s", "must be between 0 and 25"));
    }
    if query.after.is_some_and(|a| a < 0) {
        return Err(ApiError::field("after", "must be 0 or more"));
    }
    let sites = state.store.agent_site_ids(agent.agent_id).await?;
    let deadline = Instant::now() + Duration::from_secs(wait_s);
    // Read again only when the server's feeds task sees the presence move (any replica's
    // upload): see `crate::feeds`.
    let mut moved = state.feeds.presence();
    let changes = loop {
        let changes = state
            .store
            .presence_changes(&sites, query.after, PRESENCE_PAGE)
            .await?;
        if !changes.is_empty() || !moved.changed_by(deadline).await {
            break changes;
        }
    };
    let more = changes.len() >= PRESENCE_PAGE as usize;
    let revision = changes
        .last()
        .map_or(query.after.unwrap_or(0), |c| c.revision);
    let presences = changes
        .into_iter()
        .map(|c: PresenceChange| FedPresence {
            holder_id: c.holder_id,
            zone_id: c.zone_id,
            since: c.since,
        })
        .collect();
    Ok(Json(PresencePage {
        revision,
        more,
        presences,
    }))
}

/// Upload journal records. Stored each (agent, seq) once, checked for continuity of the
/// hash chain; gaps, broken links and reused numbers raise alarms (see the agent's
/// alarms). A batch holding a record that does not decode is refused whole (422, nothing
/// stored: a newer agent than this server, to be fixed by upgrading, not by skipping),
/// and so is one holding an event of a door this agent does not serve (403).
#[utoipa::path(post, path = "/agent/events", tag = "agent", security(("bearer" = [])),
    request_body = Upload,
    responses((status = 200, body = UploadAnswer), (status = 401, body = ErrorResponse),
        (status = 403, description = "an event of another agent's door", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn upload_events(
    State(state): State<AppState>,
    agent: AuthenticatedAgent,
    ApiJson(upload): ApiJson<Upload>,
) -> Result<Json<UploadAnswer>, ApiError> {
    if upload.records.len() > MAX_RECORDS {
        return Err(ApiError::field(
            "records",
            "at most 1000 records per upload",
        ));
    }
    let doors = state.store.agent(agent.agent_id).await?.door_ids;
    let mut records = Vec::with_capacity(upload.records.len());
    for (i, record) in upload.records.into_iter().enumerate() {
        let record = decode(i, record)?;
        if record.event.door_id.is_some_and(|d| !doors.contains(&d)) {
            return Err(ApiError::Forbidden);
        }
        records.push(record);
    }
    records.sort_by_key(|r| r.seq);
    if records.windows(2).any(|w| w[0].seq == w[1].seq) {
        return Err(ApiError::field("records", "a seq appears twice"));
    }
    let clock_offset_ms = (Utc::now() - *upload.agent_time).num_milliseconds();
    let outcome = state
        .store
        .ingest_events(agent.agent_id, &records, clock_offset_ms)
        .await?;
    Ok(Json(UploadAnswer {
        outcome,
        clock_offset_ms,
    }))
}

/// Checks and decodes record `i` of an upload; a 422 naming the field otherwise.
fn decode(i: usize, record: UploadedRecord) -> Result<UploadRecord, ApiError> {
    let field = |name: &str| format!("records[{i}].{name}");
    if record.seq == 0 || i64::try_from(record.seq).is_err() {
        return Err(ApiError::field(
            &field("seq"),
            "must be between 1 and 2^63-1",
        ));
    }
    // base64 grows 3 bytes into 4: refuse an oversized payload before decoding it.
    if record.payload.len() > MAX_PAYLOAD / 3 * 4 + 4 {
        return Err(ApiError::field(&field("payload"), "larger than 64 KiB"));
    }
    let payload = STANDARD
        .decode(record.payload.as_bytes())
        .map_err(|_| ApiError::field(&field("payload"), "is not base64"))?;
    if payload.len() > MAX_PAYLOAD {
        return Err(ApiError::field(&field("payload"), "larger than 64 KiB"));
    }
    let hash =
        (record.hash.bytes()).ok_or_else(|| ApiError::field(&field("hash"), HASH_EXPECTED))?;
    let event = DoorEvent::decode(&payload)
        .map_err(|_| ApiError::field(&field("payload"), "does not decode as a door event"))?;
    Ok(UploadRecord {
        seq: record.seq,
        payload,
        hash,
        event,
    })
}
