//! Questions the security desk asks, all answered by the door's own decision engine on
//! the current policy: "why can't this card open that door?", "who can enter this
//! zone?", "where can this person go?", "whose vetting expires soon?".
//!
//! The server answers from the policy alone, with no door state: anti-passback
//! presence, pending escorts and PIN lockouts live at the doors.

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::time::Timestamp;
use crate::auth::extract::Authorized;
use crate::auth::permissions::QueryAccess;
use crate::policy::CompiledPolicy;
use crate::state::AppState;
use crate::store::Actor;
use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use gatehouse_core::decide::{
    Authentication, Decision, Direction, EngineState, Outcome, Presentation, Reason, decide,
};
use gatehouse_core::model::{Holder, VettingStatus, normalize_card};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(check))
        .routes(routes!(zone_access))
        .routes(routes!(person_access))
        .routes(routes!(vetting_expiring))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    door_id: Uuid,
    /// Card identifier in hex (separators allowed).
    // The pattern is gatehouse_core::model::CARD_PATTERN (a test compares them).
    #[schema(
        pattern = "^[:\\- ]*(?:[0-9A-Fa-f][:\\- ]*[0-9A-Fa-f][:\\- ]*){1,32}$",
        max_length = 128
    )]
    card: String,
    /// When to decide for; default now.
    at: Option<Timestamp>,
    #[serde(default)]
    direction: Direction,
    /// A PIN to check as the keypad would. Never logged.
    #[schema(value_type = Option<String>, format = Password)]
    pin: Option<String>,
    /// How the reader reads the card. Default: as issued (`authenticated` for a secure
    /// credential, `not_attempted`, a UID read, otherwise); `not_attempted` for a secure
    /// credential asks what a clone of its UID gets.
    authentication: Option<Authentication>,
}

/// The engine's decision, and the policy version it was made on.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CheckResponse {
    #[serde(flatten)]
    decision: Decision,
    policy_version: i64,
}

/// Why this card would (not) open that door at that time: the decision, its reason code
/// and the trace of every rule checked. The question is written to the operator log;
/// it is not an access event.
#[utoipa::path(post, path = "/access/check", tag = "access", security(("bearer" = [])),
    request_body = CheckRequest,
    responses((status = 200, body = CheckResponse), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, description = "no such door", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn check(
    State(state): State<AppState>,
    auth: Authorized<QueryAccess>,
    ApiJson(request): ApiJson<CheckRequest>,
) -> Result<Json<CheckResponse>, ApiError> {
    let question = Presentation {
        card: request.card,
        pin: request.pin,
        door_id: request.door_id,
        direction: request.direction,
        at: request.at.map_or_else(Utc::now, DateTime::from),
        authentication: Default::default(),
    };
    let (decision, policy_version) =
        check_access(&state, &auth.actor(), question, request.authentication).await?;
    Ok(Json(CheckResponse {
        decision,
        policy_version,
    }))
}

/// The decision the door's engine makes for this card at this door and time on the
/// current policy (no door state), with the policy version; written to the operator log
/// (the PIN never is). Shared by the API and the console. The question's card is as
/// typed (normalised here); it is read as `authentication` says, or, when that is
/// `None`, as issued (see [`as_issued`]).
pub(crate) async fn check_access(
    state: &AppState,
    actor: &Actor,
    question: Presentation,
    authentication: Option<Authentication>,
) -> Result<(Decision, i64), ApiError> {
    let card =
        normalize_card(&question.card).map_err(|e| ApiError::field("card", e.to_string()))?;
    let door_id = question.door_id;
    let compiled = current(state).await?;
    if compiled.policy.door(door_id).is_none() {
        return Err(ApiError::NotFound("door"));
    }
    let authentication = authentication.unwrap_or_else(|| as_issued(&compiled.policy, &card));
    let presentation = Presentation {
        card,
        authentication,
        ..question
    };
    let decision = decide(&compiled.policy, &presentation, &mut EngineState::default());
    let details = serde_json::json!({
        "card": presentation.card,
        "at": presentation.at,
        "direction": presentation.direction,
        "pin_given": presentation.pin.is_some(),
        "authentication": presentation.authentication,
        "outcome": decision.outcome,
        "reason": decision.reason,
        "policy_version": compiled.version,
    });
    state
        .store
        .log_operator_action(actor, "access.check", "door", door_id, &details)
        .await?;
    Ok((decision, compiled.version))
}

pub(crate) async fn current(state: &AppState) -> Result<std::sync::Arc<CompiledPolicy>, ApiError> {
    state
        .policy
        .current()
        .await
        .map_err(|e| ApiError::Internal(e.into()))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AtParams {
    /// The instant to answer for (RFC 3339); default now.
    at: Option<Timestamp>,
}

/// One credential's answer at one door.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AccessItem {
    door_id: Uuid,
    zone_id: Option<Uuid>,
    credential_id: Uuid,
    person_id: Option<Uuid>,
    visit_id: Option<Uuid>,
    outcome: Outcome,
    /// `granted`, or the condition still to meet: `pin_required`, `escort_required`,
    /// `second_person_required`; for a person's doors, also the reason of a denial.
    reason: Reason,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccessAnswer {
    at: DateTime<Utc>,
    policy_version: i64,
    items: Vec<AccessItem>,
}

/// Whether a decision means "can enter", perhaps on a condition met at the door.
pub(crate) fn can_enter(decision: &Decision) -> bool {
    decision.granted()
        || matches!(
            decision.reason,
            Reason::PinRequired | Reason::EscortRequired | Reason::SecondPersonRequired
        )
}

fn item(door_id: Uuid, credential_id: Uuid, decision: Decision) -> AccessItem {
    AccessItem {
        door_id,
        zone_id: decision.zone_id,
        credential_id,
        person_id: decision.person_id,
        visit_id: decision.visit_id,
        outcome: decision.outcome,
        reason: decision.reason,
    }
}

/// Who can enter the zone at `at`: every credential that would be granted (or held only
/// for a PIN, an escort or a second person) at some door into it.
#[utoipa::path(get, path = "/zones/{id}/access", tag = "access", security(("bearer" = [])),
    params(("id" = Uuid, Path), AtParams),
    responses((status = 200, body = AccessAnswer), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn zone_access(
    State(state): State<AppState>,
    _auth: Authorized<QueryAccess>,
    ApiPath(zone_id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<AtParams>,
) -> Result<Json<AccessAnswer>, ApiError> {
    let compiled = current(&state).await?;
    let policy = &compiled.policy;
    if policy.zone(zone_id).is_none() {
        return Err(ApiError::NotFound("zone"));
    }
    let at = params.at.map_or_else(Utc::now, DateTime::from);
    let doors: Vec<Uuid> = policy
        .source()
        .doors
        .iter()
        .filter(|d| d.to_zone_id == zone_id)
        .map(|d| d.id)
        .collect();
    let mut items = Vec::new();
    for credential in &policy.source().credentials {
        // The first door through which the credential gets in answers for it.
        let entry = doors.iter().find_map(|&door_id| {
            let decision = entry_decision(policy, &credential.card, door_id, at);
            can_enter(&decision).then(|| item(door_id, credential.id, decision))
        });
        items.extend(entry);
    }
    Ok(Json(AccessAnswer {
        at,
        policy_version: compiled.version,
        items,
    }))
}

/// The engine's decision for an entry with `card` at `door_id` at `at`, without door
/// state, the card read as issued (shared with the console's "what can this person
/// open" and "who can open this zone").
pub(crate) fn entry_decision(
    policy: &gatehouse_core::policy::Policy,
    card: &gatehouse_core::model::Card,
    door_id: Uuid,
    at: DateTime<Utc>,
) -> Decision {
    let presentation = Presentation {
        card: card.to_string(),
        pin: None,
        door_id,
        direction: Direction::Entry,
        at,
        authentication: policy
            .credential_of(*card)
            .map_or(Authentication::NotAttempted, |c| {
                Authentication::as_issued(c.kind)
            }),
    };
    decide(policy, &presentation, &mut EngineState::default())
}

/// How the card the policy knows by `card` is read when it is the card issued: the
/// desk's questions are about the credential, not about a clone of it. An unknown card
/// is a UID read (its refusal is `unknown_credential`).
pub(crate) fn as_issued(policy: &gatehouse_core::policy::Policy, card: &str) -> Authentication {
    policy
        .credential_by_card(card)
        .map_or(Authentication::NotAttempted, |c| {
            Authentication::as_issued(c.kind)
        })
}

/// Where the person can go at `at`: the decision at every door for each of their
/// credentials, with the reason wherever the answer is no.
#[utoipa::path(get, path = "/people/{id}/access", tag = "access", security(("bearer" = [])),
    params(("id" = Uuid, Path), AtParams),
    responses((status = 200, body = AccessAnswer), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn person_access(
    State(state): State<AppState>,
    _auth: Authorized<QueryAccess>,
    ApiPath(person_id): ApiPath<Uuid>,
    ApiQuery(params): ApiQuery<AtParams>,
) -> Result<Json<AccessAnswer>, ApiError> {
    let compiled = current(&state).await?;
    let policy = &compiled.policy;
    if policy.person(person_id).is_none() {
        return Err(ApiError::NotFound("person"));
    }
    let at = params.at.map_or_else(Utc::now, DateTime::from);
    let mut items = Vec::new();
    let credentials = policy
        .source()
        .credentials
        .iter()
        .filter(|c| c.holder == Holder::Person(person_id));
    for credential in credentials {
        for door in &policy.source().doors {
            let decision = entry_decision(policy, &credential.card, door.id, at);
            items.push(item(door.id, credential.id, decision));
        }
    }
    Ok(Json(AccessAnswer {
        at,
        policy_version: compiled.version,
        items,
    }))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ExpiringParams {
    /// Days ahead to look, 1 to 3650 (default 30).
    #[param(minimum = 1, maximum = 3650)]
    within_days: Option<u32>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ExpiringVetting {
    person_id: Uuid,
    cleared_until: DateTime<Utc>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ExpiringAnswer {
    from: DateTime<Utc>,
    until: DateTime<Utc>,
    /// Soonest first.
    items: Vec<ExpiringVetting>,
}

/// Cleared people whose vetting ends within the next N days (soonest first).
#[utoipa::path(get, path = "/vetting/expiring", tag = "access", security(("bearer" = [])),
    params(ExpiringParams),
    responses((status = 200, body = ExpiringAnswer), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn vetting_expiring(
    State(state): State<AppState>,
    _auth: Authorized<QueryAccess>,
    ApiQuery(params): ApiQuery<ExpiringParams>,
) -> Result<Json<ExpiringAnswer>, ApiError> {
    let days = params.within_days.unwrap_or(30);
    if !(1..=3650).contains(&days) {
        return Err(ApiError::field("within_days", "must be between 1 and 3650"));
    }
    let compiled = current(&state).await?;
    let from = Utc::now();
    let until = from + chrono::Duration::days(i64::from(days));
    let mut items: Vec<ExpiringVetting> = compiled
        .policy
        .source()
        .people
        .iter()
        .filter_map(|person| {
            let vetting = person.vetting.as_ref()?;
            let ends = vetting.cleared_until?;
            (vetting.status == VettingStatus::Cleared && ends >= from && ends < until).then_some(
                ExpiringVetting {
                    person_id: person.id,
                    cleared_until: ends,
                },
            )
        })
        .collect();
    items.sort_by_key(|i| i.cleared_until);
    Ok(Json(ExpiringAnswer { from, until, items }))
}
