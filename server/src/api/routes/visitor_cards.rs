//! The visitor card pool: reception registers a site's visitor cards once, hands one to a
//! checked-in visitor (`POST /visits/{id}/card`: a credential held by the visit, working
//! only in its zones and window), and takes it back. The front desk's permission
//! (`WriteVisits`) is enough for all of it; issuing any other card needs the security
//! model's (`POST /credentials`).

use super::site_model::not_found;
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::Page;
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadVisits, WriteVisits};
use crate::domain::FieldErrors;
use crate::domain::checks::check_text;
use crate::state::AppState;
use crate::store::{
    CredentialRecord, NewVisitorCard, VisitorCardChange, VisitorCardRecord, VisitorCardState,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use gatehouse_core::model::normalize_card;
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

/// Longest label, in characters.
pub const LABEL_MAX: usize = 32;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_visitor_cards, create_visitor_card))
        .routes(routes!(get_visitor_card, update_visitor_card))
        .routes(routes!(issue_card))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateVisitorCard {
    site_id: Uuid,
    /// Card identifier in hex; `:`, `-` and spaces between digits are ignored.
    #[schema(
        pattern = "^[:\\- ]*(?:[0-9A-Fa-f][:\\- ]*[0-9A-Fa-f][:\\- ]*){1,32}$",
        max_length = 128
    )]
    card: String,
    /// What is printed on the card, e.g. `V-07`.
    #[schema(pattern = "\\S", min_length = 1, max_length = 32)]
    label: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateVisitorCard {
    /// `available` (the card came back), `lost` or `retired`. Leaving `issued` or
    /// `unreturned` deactivates the card's credential at every door.
    state: Option<VisitorCardState>,
    #[schema(pattern = "\\S", min_length = 1, max_length = 32)]
    label: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueCard {
    /// An `available` card of the visit's site.
    visitor_card_id: Uuid,
}

/// A card handed out and the credential made for it.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IssuedCard {
    visitor_card: VisitorCardRecord,
    credential: CredentialRecord,
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListVisitorCards {
    /// Only this site's cards.
    site_id: Option<Uuid>,
    /// Only cards in this state.
    state: Option<VisitorCardState>,
}

/// The label, trimmed, or the problem with it.
pub fn checked_label(label: &str) -> Result<String, FieldErrors> {
    let mut problems = FieldErrors::new();
    check_text(&mut problems, "label", Some(label), LABEL_MAX);
    crate::domain::accept(problems, || label.trim().to_owned())
}

/// The visitor card pool, by site and label: one page holds it whole.
#[utoipa::path(get, path = "/visitor-cards", tag = "visitor cards", security(("bearer" = [])),
    params(ListVisitorCards),
    responses((status = 200, body = Page<VisitorCardRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_visitor_cards(
    State(state): State<AppState>,
    _auth: Authorized<ReadVisits>,
    ApiQuery(query): ApiQuery<ListVisitorCards>,
) -> Result<Json<Page<VisitorCardRecord>>, ApiError> {
    let items = state
        .store
        .list_visitor_cards(query.site_id, query.state)
        .await?;
    Ok(Json(Page {
        items,
        next_cursor: None,
    }))
}

/// Register a card in a site's pool. A card live as a credential, or already in the
/// pool, is refused (422 on `card`).
#[utoipa::path(post, path = "/visitor-cards", tag = "visitor cards", security(("bearer" = [])),
    request_body = CreateVisitorCard,
    responses((status = 201, body = VisitorCardRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn create_visitor_card(
    State(state): State<AppState>,
    auth: Authorized<WriteVisits>,
    ApiJson(request): ApiJson<CreateVisitorCard>,
) -> Result<(StatusCode, Json<VisitorCardRecord>), ApiError> {
    let new = parse_new(request.site_id, &request.card, &request.label)?;
    let card = state.store.create_visitor_card(new, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(card)))
}

/// The card to register: the number normalised, the label checked (every problem at
/// once). The console's form calls it too.
pub fn parse_new(site_id: Uuid, card: &str, label: &str) -> Result<NewVisitorCard, FieldErrors> {
    let mut problems = FieldErrors::new();
    let card = normalize_card(card)
        .inspect_err(|e| {
            problems.insert("card".into(), e.to_string());
        })
        .ok();
    let label = checked_label(label)
        .inspect_err(|e| problems.extend(e.clone()))
        .ok();
    match (card, label) {
        (Some(card), Some(label)) if problems.is_empty() => Ok(NewVisitorCard {
            site_id,
            card,
            label,
        }),
        _ => Err(problems),
    }
}

/// One card of the pool.
#[utoipa::path(get, path = "/visitor-cards/{id}", tag = "visitor cards",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = VisitorCardRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_visitor_card(
    State(state): State<AppState>,
    _auth: Authorized<ReadVisits>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<VisitorCardRecord>, ApiError> {
    let card = state
        .store
        .visitor_card(id)
        .await
        .map_err(not_found("visitor card"))?;
    Ok(Json(card))
}

/// Mark a card returned (`available`), lost or retired, or relabel it.
#[utoipa::path(patch, path = "/visitor-cards/{id}", tag = "visitor cards",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateVisitorCard,
    responses((status = 200, body = VisitorCardRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn update_visitor_card(
    State(state): State<AppState>,
    auth: Authorized<WriteVisits>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<UpdateVisitorCard>,
) -> Result<Json<VisitorCardRecord>, ApiError> {
    let label = request.label.as_deref().map(checked_label).transpose()?;
    let change = VisitorCardChange {
        state: request.state,
        label,
    };
    let card = state
        .store
        .update_visitor_card(id, change, &auth.actor())
        .await
        .map_err(not_found("visitor card"))?;
    Ok(Json(card))
}

/// Hand a pool card to a checked-in visitor: an available card of the visit's site (422
/// on `visitor_card_id` otherwise, 409 when it is not available), to a visit that is
/// checked in (409). The card then opens only the visit's zones, until its window ends
/// or it is checked out.
#[utoipa::path(post, path = "/visits/{id}/card", tag = "visitor cards",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = IssueCard,
    responses((status = 201, body = IssuedCard), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "the visit is not checked in, or the card is not available",
            body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn issue_card(
    State(state): State<AppState>,
    auth: Authorized<WriteVisits>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<IssueCard>,
) -> Result<(StatusCode, Json<IssuedCard>), ApiError> {
    let (visitor_card, credential) = state
        .store
        .issue_pool_card(id, request.visitor_card_id, &auth.actor())
        .await
        .map_err(not_found("visit"))?;
    Ok((
        StatusCode::CREATED,
        Json(IssuedCard {
            visitor_card,
            credential,
        }),
    ))
}
