//! What the model's routes (sites, zones, doors, schedules; people, credentials, groups,
//! grants, visits) share: mapping store failures to answers, generic record reads, list
//! filters and nullable PATCH fields. The rules themselves are in `crate::domain`.

use crate::api::error::ApiError;
use crate::api::pagination::{Page, PageParams};
use crate::state::AppState;
use crate::store::{Actor, ModelError, Record, StoreError};
use axum::Json;
use axum::http::StatusCode;
use serde::{Deserialize, Deserializer};
use uuid::Uuid;

impl From<ModelError> for ApiError {
    fn from(error: ModelError) -> Self {
        match error {
            ModelError::Store(e) => e.into(),
            ModelError::Invalid { field, problem } => ApiError::field(field, problem),
        }
    }
}

/// Maps a failed call on one record to the API's answer, naming the record when the id
/// is unknown (a 404, not a 422: the id is in the path).
pub fn not_found<E: Into<ModelError>>(what: &'static str) -> impl Fn(E) -> ApiError {
    move |error| match error.into() {
        ModelError::Store(StoreError::NotFound) => ApiError::NotFound(what),
        other => other.into(),
    }
}

/// One record by id, or a 404 naming `what`.
pub(crate) async fn get_record<R: Record>(
    state: &AppState,
    id: Uuid,
    what: &'static str,
) -> Result<Json<R>, ApiError> {
    let record = state.store.model_record::<R>(id).await;
    Ok(Json(record.map_err(not_found(what))?))
}

/// A page of records, of one site or of all.
pub(crate) async fn list_records<R: Record>(
    state: &AppState,
    site_id: Option<Uuid>,
    page: &PageParams,
) -> Result<Json<Page<R>>, ApiError> {
    let limit = page.limit()?;
    let rows = state
        .store
        .list_model_records::<R>(site_id, page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, R::id)))
}

/// Deletes a record: 204, a 404 naming `what`, or a 409 while others depend on it.
pub(crate) async fn delete_record<R: Record>(
    state: &AppState,
    actor: &Actor,
    id: Uuid,
    what: &'static str,
) -> Result<StatusCode, ApiError> {
    let deleted = state.store.delete_model_record::<R>(id, actor).await;
    deleted.map_err(not_found(what))?;
    Ok(StatusCode::NO_CONTENT)
}

/// A list's query: an optional site filter and the page.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    /// Only records of this site.
    pub site_id: Option<Uuid>,
    /// Items per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl ListQuery {
    /// The page part, with its own checks.
    pub fn page(&self) -> PageParams {
        PageParams {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
}

/// For PATCH fields that may be cleared: absent → `None` (keep), `null` →
/// `Some(None)` (clear), a value → `Some(Some(value))`. Use with `#[serde(default)]`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
