//! Weekly schedules with holidays. Security officers and admins write; auditors read.

use super::site_model::{ListQuery, delete_record, get_record, list_records, not_found};
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::pagination::Page;
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ReadSecurityModel, WriteSecurityModel};
use crate::state::AppState;
use crate::store::{NewSchedule, ScheduleChange, ScheduleRecord, WindowSpec};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_schedules, create_schedule))
        .routes(routes!(get_schedule, update_schedule, delete_schedule))
}

/// Windows are in the site's local time; a window whose `end` is not after its `start`
/// crosses midnight (`22:00`–`06:00` on `fri` runs into Saturday morning). On a holiday
/// (a local date) nothing is admitted, midnight to midnight.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSchedule {
    site_id: Uuid,
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: String,
    #[schema(min_items = 1, max_items = 64)]
    windows: Vec<WindowSpec>,
    /// Dates `YYYY-MM-DD`.
    #[serde(default)]
    #[schema(value_type = Vec<String>, format = Date, max_items = 1000)]
    holidays: Vec<NaiveDate>,
}

/// Absent fields stay; `windows` and `holidays` are replaced whole.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSchedule {
    #[schema(pattern = "\\S", min_length = 1, max_length = 128)]
    name: Option<String>,
    #[schema(min_items = 1, max_items = 64)]
    windows: Option<Vec<WindowSpec>>,
    #[schema(value_type = Option<Vec<String>>, format = Date, max_items = 1000)]
    holidays: Option<Vec<NaiveDate>>,
}

/// List schedules in creation order, of one site or of all.
#[utoipa::path(get, path = "/schedules", tag = "schedules", security(("bearer" = [])),
    params(ListQuery),
    responses((status = 200, body = Page<ScheduleRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_schedules(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Page<ScheduleRecord>>, ApiError> {
    list_records(&state, query.site_id, &query.page()).await
}

/// Create a schedule on a site.
#[utoipa::path(post, path = "/schedules", tag = "schedules", security(("bearer" = [])),
    request_body = CreateSchedule,
    responses((status = 201, body = ScheduleRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn create_schedule(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiJson(request): ApiJson<CreateSchedule>,
) -> Result<(StatusCode, Json<ScheduleRecord>), ApiError> {
    let new = NewSchedule {
        site_id: request.site_id,
        name: request.name,
        windows: request.windows,
        holidays: request.holidays,
    }
    .checked()?;
    let schedule = state.store.create_schedule(new, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(schedule)))
}

/// One schedule.
#[utoipa::path(get, path = "/schedules/{id}", tag = "schedules", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = ScheduleRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_schedule(
    State(state): State<AppState>,
    _auth: Authorized<ReadSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<ScheduleRecord>, ApiError> {
    get_record(&state, id, "schedule").await
}

/// Rename a schedule or replace its windows or holidays.
#[utoipa::path(patch, path = "/schedules/{id}", tag = "schedules", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateSchedule,
    responses((status = 200, body = ScheduleRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn update_schedule(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<UpdateSchedule>,
) -> Result<Json<ScheduleRecord>, ApiError> {
    let change = ScheduleChange {
        name: request.name,
        windows: request.windows,
        holidays: request.holidays,
    }
    .checked()?;
    let schedule = state
        .store
        .update_schedule(id, change, &auth.actor())
        .await
        .map_err(not_found("schedule"))?;
    Ok(Json(schedule))
}

/// Delete a schedule. Refused (409) while grants use it.
#[utoipa::path(delete, path = "/schedules/{id}", tag = "schedules", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, description = "still in use", body = ErrorResponse)))]
async fn delete_schedule(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<StatusCode, ApiError> {
    delete_record::<ScheduleRecord>(&state, &auth.actor(), id, "schedule").await
}
