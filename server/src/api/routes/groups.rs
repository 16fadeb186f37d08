//! Groups of people, the subjects of group grants. Members are set as a whole; a group
//! that grants still name cannot be deleted (409).

use super::site_model::not_found;
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadSecurityModel, WriteSecurityModel};
use crate::domain::group;
use crate::state::AppState;
use crate::store::GroupRecord;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, delete_group))
        .routes(routes!(set_members))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// Unique among groups.
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMembers {
    /// The complete new set of members (duplicates are ignored).
    #[schema(max_items = 10000)]
    person_ids: Vec<Uuid>,
}

/// List groups in creation order.
#[utoipa::path(get, path = "/groups", tag = "groups", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<GroupRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_groups(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<GroupRecord>>, ApiError> {
    let limit = page.limit()?;
    let rows = state.store.list_groups(page.cursor()?, limit + 1).await?;
    Ok(Json(Page::from_rows(rows, limit, |g| g.id)))
}

/// Create an empty group.
#[utoipa::path(post, path = "/groups", tag = "groups", security(("bearer" = [])),
    request_body = CreateGroup,
    responses((status = 201, body = GroupRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 409, description = "name taken", body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn create_group(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiJson(request): ApiJson<CreateGroup>,
) -> Result<(StatusCode, Json<GroupRecord>), ApiError> {
    let name = group::group_name(&request.name)?;
    let group = state.store.create_group(name, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(group)))
}

/// One group with its members.
#[utoipa::path(get, path = "/groups/{id}", tag = "groups", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = GroupRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_group(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<GroupRecord>, ApiError> {
    Ok(Json(
        state.store.group(id).await.map_err(not_found("group"))?,
    ))
}

/// Replace the members of a group; every id must name a person (422).
#[utoipa::path(put, path = "/groups/{id}/members", tag = "groups", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = SetMembers,
    responses((status = 200, body = GroupRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn set_members(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<SetMembers>,
) -> Result<Json<GroupRecord>, ApiError> {
    let members = group::members(request.person_ids)?;
    let group = state
        .store
        .set_group_members(id, members, &auth.actor())
        .await
        .map_err(not_found("group"))?;
    Ok(Json(group))
}

/// Delete a group and its memberships. Refused (409) while grants name the group.
#[utoipa::path(delete, path = "/groups/{id}", tag = "groups", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "still in use by grants", body = ErrorResponse)))]
async fn delete_group(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    state
        .store
        .delete_group(id, &auth.actor())
        .await
        .map_err(not_found("group"))?;
    Ok(StatusCode::NO_CONTENT)
}
