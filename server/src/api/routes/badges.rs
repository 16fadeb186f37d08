//! Printable visitor badges: a PDF of the visit's badge at card, A6 or label size.

use super::site_model::not_found;
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiPath, ApiQuery};
use crate::auth::extract::Authorized;
use crate::auth::permissions::WriteVisits;
use crate::badges::{BadgeContent, BadgeSize, render};
use crate::state::AppState;
use crate::store::Actor;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(badge_pdf))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BadgeQuery {
    /// `cr80` (ID card, the default), `a6` or `label62` (62 mm label).
    #[param(inline)]
    size: Option<BadgeSize>,
}

/// The visit's badge as a PDF (shown inline, to print). Recorded in the operator log
/// (`visit.badge_printed`). 409 when the visit has no check-in code or no site yet.
#[utoipa::path(get, path = "/visits/{id}/badge.pdf", tag = "visits", security(("bearer" = [])),
    params(("id" = Uuid, Path), BadgeQuery),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse), (status = 409, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn badge_pdf(
    State(state): State<AppState>,
    auth: Authorized<WriteVisits>,
    ApiPath(id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<BadgeQuery>,
) -> Result<Response, ApiError> {
    badge_response(
        &state,
        id,
        query.size.unwrap_or(BadgeSize::Cr80),
        &auth.actor(),
    )
    .await
}

/// Renders the badge, logs `visit.badge_printed` and answers with the PDF inline. The
/// console's badge links call this too.
pub async fn badge_response(
    state: &AppState,
    id: Uuid,
    size: BadgeSize,
    actor: &Actor,
) -> Result<Response, ApiError> {
    let sheet = state
        .store
        .visit_sheet(id)
        .await
        .map_err(not_found("visit"))?;
    let mut content =
        BadgeContent::of_visit(&sheet).map_err(|why| ApiError::Conflict(why.to_owned()))?;
    if let Some(visitor) = sheet.visitor_id
        && let Some(photo) = state.store.visitor_photo(visitor).await?
    {
        // Decoding a PNG takes a moment: off the runtime's threads.
        let image = tokio::task::spawn_blocking(move || {
            crate::badges::photo::badge_image(&photo.content_type, &photo.bytes)
        });
        content.photo = image.await.map_err(anyhow::Error::from)?;
    }
    let pdf = render(&content, size).map_err(|e| ApiError::Conflict(e.to_string()))?;
    let details = serde_json::json!({ "size": size.as_ref() });
    state
        .store
        .log_operator_action(actor, "visit.badge_printed", "visit", id, &details)
        .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("inline; filename=\"badge-{}.pdf\"", size.as_ref()),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        pdf,
    )
        .into_response())
}
