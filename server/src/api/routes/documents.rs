//! Visitor documents: the templates security keeps (an NDA, a safety briefing, per site
//! and visit type, with versions), a visit's due and signed documents, signing, and the
//! signed copy as a PDF.

use super::site_model::{not_found, nullable};
use crate::api::error::{ApiError, ErrorResponse};
use crate::api::extract::{ApiJson, ApiPath};
use crate::auth::extract::Authorized;
use crate::auth::permissions::{ManageVisitRules, ReadVisitRules, ReadVisits, WriteVisits};
use crate::documents::signed_copy::Strokes;
use crate::state::AppState;
use crate::store::documents::{
    NewTemplate, SignMethod, Signature, SignatureRecord, TemplateChange, TemplateRecord,
    VisitDocuments,
};
use crate::store::now;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_templates, create_template))
        .routes(routes!(get_template, update_template))
        .routes(routes!(visit_documents))
        .routes(routes!(sign))
        .routes(routes!(signature_pdf))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTemplate {
    /// The site it applies to; absent: every site.
    site_id: Option<Uuid>,
    /// The visit type it applies to (e.g. `contractor`); absent: every type.
    #[schema(pattern = "^[a-z0-9_-]{1,40}$")]
    visit_type: Option<String>,
    /// e.g. `nda`, `safety_briefing`.
    #[schema(pattern = "^[a-z0-9_-]{1,40}$")]
    kind: String,
    #[schema(pattern = "\\S", min_length = 1, max_length = 200)]
    title: String,
    /// Signed again this many days after the last signature; absent: only when a new
    /// version is published.
    #[schema(minimum = 1, maximum = 3650)]
    resign_after_days: Option<i32>,
    /// The text of version 1.
    #[schema(pattern = "\\S", min_length = 1, max_length = 100000)]
    body: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTemplate {
    #[schema(pattern = "\\S", min_length = 1, max_length = 200)]
    title: Option<String>,
    /// `null`: signed once per version.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<i32>, minimum = 1, maximum = 3650)]
    resign_after_days: Option<Option<i32>>,
    /// False: no longer due for anyone (signatures made are kept).
    active: Option<bool>,
    /// A new text: published as the next version, due again for every visitor.
    #[schema(pattern = "\\S", min_length = 1, max_length = 100000)]
    body: Option<String>,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignDocument {
    /// `typed` (a typed name) or `drawn` (a signature drawn on the screen).
    method: SignMethod,
    /// Required for `typed`; optional beside a drawing.
    #[schema(max_length = 200)]
    typed_name: Option<String>,
    /// Must be true: the visitor confirms reading and accepting the text.
    consent: bool,
    /// For `drawn`: strokes of `[x, y]` points, x in 0..1000, y in 0..400 (downwards);
    /// at most 100 strokes and 5000 points.
    strokes: Option<Strokes>,
    /// The version shown to the visitor; 409 when a newer one was published meanwhile.
    version: Option<i32>,
}

/// Every document template with its current text.
#[utoipa::path(get, path = "/document-templates", tag = "documents", security(("bearer" = [])),
    responses((status = 200, body = Vec<TemplateRecord>), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse)))]
async fn list_templates(
    State(state): State<AppState>,
    _auth: Authorized<ReadVisitRules>,
) -> Result<Json<Vec<TemplateRecord>>, ApiError> {
    Ok(Json(state.store.document_templates().await?))
}

/// Create a template (version 1). 422 naming a bad field.
#[utoipa::path(post, path = "/document-templates", tag = "documents", security(("bearer" = [])),
    request_body = CreateTemplate,
    responses((status = 201, body = TemplateRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn create_template(
    State(state): State<AppState>,
    auth: Authorized<ManageVisitRules>,
    ApiJson(request): ApiJson<CreateTemplate>,
) -> Result<(StatusCode, Json<TemplateRecord>), ApiError> {
    let new = NewTemplate {
        site_id: request.site_id,
        visit_type: request.visit_type,
        kind: request.kind,
        title: request.title,
        resign_after_days: request.resign_after_days,
        body: request.body,
    };
    let record = state
        .store
        .create_document_template(new, &auth.actor())
        .await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// One template with its current text.
#[utoipa::path(get, path = "/document-templates/{id}", tag = "documents",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = TemplateRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn get_template(
    State(state): State<AppState>,
    _auth: Authorized<ReadVisitRules>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<TemplateRecord>, ApiError> {
    let record = state
        .store
        .document_template(id)
        .await
        .map_err(not_found("document template"))?;
    Ok(Json(record))
}

/// Change a template: title, re-signing period, active; a new `body` is published as the
/// next version (earlier versions and their signatures stay).
#[utoipa::path(patch, path = "/document-templates/{id}", tag = "documents",
    security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateTemplate,
    responses((status = 200, body = TemplateRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 422, body = ErrorResponse)))]
async fn update_template(
    State(state): State<AppState>,
    auth: Authorized<ManageVisitRules>,
    ApiPath(id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<UpdateTemplate>,
) -> Result<Json<TemplateRecord>, ApiError> {
    let change = TemplateChange {
        title: request.title,
        resign_after_days: request.resign_after_days,
        active: request.active,
        body: request.body,
    };
    let record = state
        .store
        .update_document_template(id, change, &auth.actor())
        .await
        .map_err(not_found("document template"))?;
    Ok(Json(record))
}

/// The visit's documents: still due for its visitor (with the text to show), and signed
/// for this visit.
#[utoipa::path(get, path = "/visits/{id}/documents", tag = "documents",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, body = VisitDocuments), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse)))]
async fn visit_documents(
    State(state): State<AppState>,
    _auth: Authorized<ReadVisits>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Json<VisitDocuments>, ApiError> {
    let documents = state
        .store
        .visit_documents(id, now())
        .await
        .map_err(not_found("visit"))?;
    Ok(Json(documents))
}

/// The visitor signs a due document (typed name or drawing, and consent). The signed
/// copy is stored as a PDF and its SHA-256 written to the audit trail. 409 when the
/// document is not due or the version shown is no longer current; 422 naming the field.
#[utoipa::path(post, path = "/visits/{id}/documents/{template_id}/signature", tag = "documents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path), ("template_id" = Uuid, Path)), request_body = SignDocument,
    responses((status = 201, body = SignatureRecord), (status = 401, body = ErrorResponse),
        (status = 403, body = ErrorResponse), (status = 404, body = ErrorResponse),
        (status = 409, body = ErrorResponse), (status = 422, body = ErrorResponse)))]
async fn sign(
    State(state): State<AppState>,
    auth: Authorized<WriteVisits>,
    ApiPath((id, template_id)): ApiPath<(Uuid, Uuid)>,
    ApiJson(request): ApiJson<SignDocument>,
) -> Result<(StatusCode, Json<SignatureRecord>), ApiError> {
    let signature = Signature {
        method: request.method,
        typed_name: request.typed_name,
        consent: request.consent,
        strokes: request.strokes,
        version: request.version,
    };
    let record = sign_document(&state, id, template_id, signature, &auth.actor()).await?;
    Ok((StatusCode::CREATED, Json(record)))
}

/// Signs through the store, with 404s naming the visit or the template; the console's
/// desk page calls this too.
pub async fn sign_document(
    state: &AppState,
    visit_id: Uuid,
    template_id: Uuid,
    signature: Signature,
    actor: &crate::store::Actor,
) -> Result<SignatureRecord, ApiError> {
    state
        .store
        .visit_sheet(visit_id)
        .await
        .map_err(not_found("visit"))?;
    state
        .store
        .document_template(template_id)
        .await
        .map_err(not_found("document template"))?;
    state
        .store
        .sign_document(visit_id, template_id, signature, actor)
        .await
        .map_err(not_found("visit"))
}

/// The signed copy (PDF, inline). 404 when unknown or removed by retention.
#[utoipa::path(get, path = "/document-signatures/{id}/pdf", tag = "documents",
    security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, content_type = "application/pdf", body = Vec<u8>),
        (status = 401, body = ErrorResponse), (status = 403, body = ErrorResponse),
        (status = 404, body = ErrorResponse)))]
async fn signature_pdf(
    State(state): State<AppState>,
    _auth: Authorized<ReadVisits>,
    ApiPath(id): ApiPath<Uuid>,
) -> Result<Response, ApiError> {
    signature_pdf_response(&state, id).await
}

/// The signed copy as an inline PDF response (shared with the console).
pub async fn signature_pdf_response(state: &AppState, id: Uuid) -> Result<Response, ApiError> {
    let (record, pdf) = state
        .store
        .document_signature(id)
        .await
        .map_err(not_found("signed copy"))?;
    let pdf = pdf.ok_or(ApiError::NotFound("signed copy"))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/pdf".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!(
                    "inline; filename=\"signed-{}-v{}.pdf\"",
                    record.kind, record.version
                ),
            ),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
        pdf,
    )
        .into_response())
}
