//! The operator log, for admins and auditors.

use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::ApiQuery;
use crate::api::pagination::{Page, PageParams};
use crate::auth::extract::Authorized;
use crate::auth::permissions::ReadOperatorLog;
use crate::state::AppState;
use crate::store::LogRecord;
use axum::Json;
use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_operator_log))
}

/// Every change operators made, oldest first, with before and after.
#[utoipa::path(get, path = "/operator-log", tag = "operators", security(("bearer" = [])),
    params(PageParams),
    responses((status = 200, body = Page<LogRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn list_operator_log(
    State(state): State<AppState>,
    _auth: Authorized<ReadOperatorLog>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> Result<Json<Page<LogRecord>>, ApiError> {
    let limit = page.limit()?;
    let rows = state
        .store
        .list_operator_log(page.cursor()?, limit + 1)
        .await?;
    Ok(Json(Page::from_rows(rows, limit, |r| r.seq)))
}
