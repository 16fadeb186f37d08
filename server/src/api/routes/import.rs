//! Bulk onboarding: `POST /import/people` takes HR's CSV file (format in
//! [`crate::import`]) and imports it whole or not at all.
//!
//! A file with problems is a 422 `validation_failed` whose `error.fields` has one entry
//! per line and column, keyed `"line 3: card"` (the header is line 1; `row` names the
//! row as a whole); nothing is changed. The body may be up to 50 MiB, a route limit
//! above the API's default.

use crate::api::error::{ApiError, ErrorResponse, FieldErrors};
use crate::auth::extract::Authorized;
use crate::auth::permissions::WriteSecurityModel;
use crate::import::{ImportError, ImportSummary, LineError, MAX_BYTES, import_people};
use crate::state::AppState;
use axum::Json;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, header};
use std::sync::Arc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(import_people_csv))
        // Slack for the request line and headers around the largest file accepted.
        .route_layer(DefaultBodyLimit::max(MAX_BYTES + 64 * 1024))
}

/// Media types accepted for the file.
const CSV_TYPES: [&str; 4] = [
    "text/csv",
    "application/csv",
    "text/plain",
    "application/octet-stream",
];

/// The API's answer to a failed import.
impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Invalid(lines) => ApiError::Validation(line_fields(&lines)),
            ImportError::TooLarge => ApiError::PayloadTooLarge,
            ImportError::Store(e) => e.into(),
            ImportError::Internal(e) => ApiError::Internal(e),
        }
    }
}

/// Line errors as `error.fields`: `"line N: column"` → message (messages of one key
/// joined with `; `).
fn line_fields(lines: &[LineError]) -> FieldErrors {
    let mut fields = FieldErrors::new();
    for line in lines {
        let key = format!("line {}: {}", line.line, line.field);
        fields
            .entry(key)
            .and_modify(|m| {
                m.push_str("; ");
                m.push_str(&line.message);
            })
            .or_insert_with(|| line.message.clone());
    }
    fields
}

/// Import people, vetting and cards from HR's CSV file: every row is checked first and
/// all problems are reported per line (422, nothing changed); otherwise all rows are
/// applied in one transaction. Importing the same file again changes nothing.
#[utoipa::path(post, path = "/import/people", tag = "import", security(("bearer" = [])),
    request_body(content = String, content_type = "text/csv",
        description = "Header row, then one row per person and card (see the README)"),
    responses((status = 200, body = ImportSummary), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse),
        (status = 422, description = "`error.fields` keyed `line N: column`", body = ErrorResponse)))]
async fn import_people_csv(
    State(state): State<AppState>,
    auth: Authorized<WriteSecurityModel>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ImportSummary>, ApiError> {
    let media_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase());
    if !media_type.is_some_and(|t| CSV_TYPES.contains(&t.as_str())) {
        return Err(ApiError::BadRequest(
            "expected a CSV body with Content-Type: text/csv".to_owned(),
        ));
    }
    let summary = import_people(&state.store, body, &auth.actor(), Arc::new(())).await?;
    Ok(Json(summary))
}
