//! Groups of people, the subjects of group grants. Members are set as a whole; a group
//! that grants still name cannot be deleted (409).

use super::people_model::{check_text, conflict};
use super::site_model::{not_found, reject};
use crate::api::error::{ApiError, ErrorResponse, FieldErrors};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::{Page, PageParams};
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadSecurityModel, WriteSecurityModel};
use crate::state::AppState;
use crate::store::GroupRecord;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use std::collections::BTreeSet;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_groups, create_group))
        .routes(routes!(get_group, delete_group))
        .routes(routes!(set_members))
}

/// Most members a group may have.
const MAX_MEMBERS: usize = 10_000;

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
    let mut problems = FieldErrors::new();
    check_text(&mut problems, "name", Some(&request.name), 128);
    reject(problems)?;
    let group = state
        .store
        .create_group(request.name.trim().to_owned(), &auth.actor())
        .await
        .map_err(conflict)?;
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
    if request.person_ids.len() > MAX_MEMBERS {
        return Err(ApiError::field("person_ids", "at most 10000 members"));
    }
    let members: BTreeSet<Uuid> = request.person_ids.into_iter().collect();
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
