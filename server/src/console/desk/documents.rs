//! `/visits/{id}/documents`: the desk page where the visitor signs the documents due for
//! the visit (typed name and consent without JavaScript; a drawn signature with it), and
//! the signed copies with links to their PDFs. Also the console's badge and signed-copy
//! PDFs, answered by the same code as the API's (`api::routes::{badges, documents}`).

use crate::api::error::ApiError;
use crate::api::routes::badges::badge_response;
use crate::api::routes::documents::{sign_document, signature_pdf_response};
use crate::auth::permissions::{Permission, ReadVisits, WriteVisits};
use crate::badges::BadgeSize;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::documents::signed_copy::Strokes;
use crate::state::AppState;
use crate::store::documents::{DueReason, SignMethod, Signature};
use crate::store::now;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gatehouse_core::local_time::in_zone;
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/visits/{id}/documents", get(page))
        .route("/visits/{id}/documents/{template}/sign", post(sign))
        .route("/visits/{id}/signed/{signature}/pdf", get(signed_pdf))
        .route("/visits/{id}/badge.pdf", get(badge))
}

struct DueLine {
    template_id: Uuid,
    title: String,
    version: i32,
    reason: &'static str,
    body: String,
}

struct SignedLine {
    id: Uuid,
    title: String,
    version: i32,
    signed_at: String,
    method: &'static str,
    typed_name: String,
    purged: bool,
}

#[derive(Template)]
#[template(path = "visit_documents.html")]
struct DocumentsPage {
    chrome: Chrome,
    visit_id: Uuid,
    visitor: String,
    organisation: String,
    host: String,
    site: String,
    date: String,
    due: Vec<DueLine>,
    signed: Vec<SignedLine>,
    can_write: bool,
}

fn reason(reason: DueReason) -> &'static str {
    match reason {
        DueReason::NotSigned => "not signed yet",
        DueReason::NewVersion => "a new version since the last signature",
        DueReason::Expired => "the last signature is too old",
    }
}

/// `GET /visits/{id}/documents`.
async fn page(
    State(state): State<AppState>,
    user: Console<ReadVisits>,
    Path(id): Path<Uuid>,
) -> Result<Response, Failure> {
    let sheet = state
        .store
        .visit_sheet(id)
        .await
        .map_err(Failure::unless_found("visit"))?;
    let documents = state.store.visit_documents(id, now()).await?;
    let zone = sheet.zone();
    let due = documents
        .due
        .into_iter()
        .map(|d| DueLine {
            template_id: d.template_id,
            title: d.title,
            version: d.version,
            reason: reason(d.reason),
            body: d.body,
        })
        .collect();
    let signed = documents
        .signed
        .into_iter()
        .map(|s| SignedLine {
            id: s.id,
            title: s.title,
            version: s.version,
            signed_at: crate::console::time::local(s.signed_at, zone),
            method: match s.method.0 {
                SignMethod::Typed => "typed name",
                SignMethod::Drawn => "drawn signature",
            },
            typed_name: s.typed_name.unwrap_or_default(),
            purged: s.purged_at.is_some(),
        })
        .collect();
    let title = format!("Documents: {}", sheet.visitor_name);
    Ok(render(DocumentsPage {
        chrome: Chrome::new(&user.principal, "/visits", title),
        visit_id: id,
        visitor: sheet.visitor_name.clone(),
        organisation: sheet.visitor_organisation.clone().unwrap_or_default(),
        host: sheet.host_name.clone(),
        site: sheet.site_name.clone().unwrap_or_else(|| "—".to_owned()),
        date: in_zone(sheet.window_start, zone)
            .format("%A %-d %B %Y")
            .to_string(),
        due,
        signed,
        can_write: WriteVisits::ROLES.contains(&user.principal.role),
    }))
}

/// The signing form (also the kiosk's): a typed name, the consent box, and the strokes
/// of a drawn signature when JavaScript drew one.
#[derive(Deserialize)]
pub(crate) struct SignForm {
    #[serde(default)]
    version: String,
    #[serde(default)]
    typed_name: String,
    /// The checkbox: present when ticked.
    consent: Option<String>,
    /// JSON strokes from the drawing pad (console.js); empty without JavaScript.
    #[serde(default)]
    strokes: String,
}

impl SignForm {
    /// The typed name as typed, to show the form again.
    pub(crate) fn typed_name(&self) -> &str {
        &self.typed_name
    }

    /// What the visitor gave: a drawn signature when strokes came, else a typed name.
    pub(crate) fn signature(self) -> Result<Signature, ApiError> {
        let strokes = match self.strokes.trim() {
            "" | "[]" => None,
            text => Some(
                serde_json::from_str::<Strokes>(text)
                    .map_err(|_| ApiError::field("strokes", "is not a drawn signature"))?,
            ),
        };
        let version = match self.version.trim() {
            "" => None,
            text => Some(
                text.parse::<i32>()
                    .map_err(|_| ApiError::field("version", "is not a number"))?,
            ),
        };
        Ok(Signature {
            method: if strokes.is_some() {
                SignMethod::Drawn
            } else {
                SignMethod::Typed
            },
            typed_name: Some(self.typed_name),
            consent: self.consent.is_some(),
            strokes,
            version,
        })
    }
}

/// `POST /visits/{id}/documents/{template}/sign`: the API's signing, then the page again.
async fn sign(
    State(state): State<AppState>,
    user: Console<WriteVisits>,
    Path((id, template)): Path<(Uuid, Uuid)>,
    Form(form): Form<SignForm>,
) -> Result<Response, Failure> {
    let signature = form.signature()?;
    sign_document(&state, id, template, signature, &user.actor()).await?;
    Ok(Redirect::to(&format!("/visits/{id}/documents")).into_response())
}

/// `GET /visits/{id}/signed/{signature}/pdf`: a signed copy of this visit.
async fn signed_pdf(
    State(state): State<AppState>,
    _user: Console<ReadVisits>,
    Path((id, signature)): Path<(Uuid, Uuid)>,
) -> Result<Response, Failure> {
    let (record, _) = state
        .store
        .document_signature(signature)
        .await
        .map_err(Failure::unless_found("signed copy"))?;
    if record.visit_id != id {
        return Err(Failure::not_found("signed copy"));
    }
    Ok(signature_pdf_response(&state, signature).await?)
}

#[derive(Deserialize)]
struct BadgeQuery {
    size: Option<String>,
}

/// `GET /visits/{id}/badge.pdf?size=…`: the badge, as the API prints it (and logs it).
async fn badge(
    State(state): State<AppState>,
    user: Console<WriteVisits>,
    Path(id): Path<Uuid>,
    Query(query): Query<BadgeQuery>,
) -> Result<Response, Failure> {
    let size = match query.size.as_deref() {
        None | Some("") => BadgeSize::Cr80,
        Some(text) => text
            .parse()
            .map_err(|_| ApiError::field("size", "is cr80, a6 or label62"))?,
    };
    Ok(badge_response(&state, id, size, &user.actor()).await?)
}
