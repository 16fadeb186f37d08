//! A visitor with a code at the kiosk: "Is this you?", then each document still due for
//! the visit, one after another, signed through the API's and the desk's signing (same
//! checks, same chained log entry, the kiosk as the actor); the check-in only once
//! nothing is left to sign (a visitor who declines is sent to reception); then the
//! badge to print. Every step carries the check-in code, never the visit's id.

use super::{CodeForm, DonePage, Kiosk, WelcomePage, expected, refused};
use crate::api::error::ApiError;
use crate::api::routes::badges::badge_response;
use crate::api::routes::documents::sign_document;
use crate::badges::BadgeSize;
use crate::console::desk::documents::SignForm;
use crate::console::page::{Failure, render};
use crate::state::AppState;
use crate::store::{VisitRecord, VisitStatus, normalise_check_in_code, now};
use crate::visits;
use askama::Template;
use axum::Form;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

/// The badge size a kiosk prints: the ID card, as the desk's default.
const KIOSK_BADGE: BadgeSize = BadgeSize::Cr80;

#[derive(Template)]
#[template(path = "kiosk/confirm.html")]
struct ConfirmPage {
    kiosk: String,
    code: String,
    visitor: String,
    organisation: Option<String>,
    host: String,
    /// How many documents the visitor will be asked to sign before the check-in.
    documents: usize,
}

/// `POST /kiosk/code`: who the code says the visitor is, to confirm.
pub(super) async fn code(
    State(state): State<AppState>,
    kiosk: Kiosk,
    Form(form): Form<CodeForm>,
) -> Result<Response, Failure> {
    let visit = match expected(&state, &kiosk, &form.code).await? {
        Ok(visit) => visit,
        Err(why) => return Ok(refused(&kiosk, why)),
    };
    let host = state.store.person(visit.host_person_id).await?.name;
    let documents = state.store.documents_due(visit.id, now()).await?.len();
    Ok(render(ConfirmPage {
        kiosk: kiosk.0.name.clone(),
        code: normalise_check_in_code(&form.code),
        visitor: visit.visitor_name,
        organisation: visit.visitor_organisation,
        host,
        documents,
    }))
}

#[derive(Template)]
#[template(path = "kiosk/document.html")]
struct DocumentPage {
    kiosk: String,
    code: String,
    visitor: String,
    template_id: Uuid,
    title: String,
    version: i32,
    body: String,
    /// Documents still to sign, this one included.
    left: usize,
    typed_name: String,
    errors: Vec<String>,
}

/// What went wrong with the last signing, to show above the document.
struct Problem {
    status: StatusCode,
    errors: Vec<String>,
    typed_name: String,
}

/// The next step for a confirmed visitor: the first document still due, or, when none
/// is left, the check-in and the done page.
async fn next_step(
    state: &AppState,
    kiosk: &Kiosk,
    visit: VisitRecord,
    code: String,
    problem: Option<Problem>,
) -> Result<Response, Failure> {
    let due = state.store.documents_due(visit.id, now()).await?;
    if let Some(first) = due.first() {
        let (status, errors, typed_name) = match problem {
            Some(p) => (p.status, p.errors, p.typed_name),
            None => (StatusCode::OK, Vec::new(), String::new()),
        };
        let page = render(DocumentPage {
            kiosk: kiosk.0.name.clone(),
            code,
            visitor: visit.visitor_name,
            template_id: first.template_id,
            title: first.title.clone(),
            version: first.version,
            body: first.body.clone(),
            left: due.len(),
            typed_name,
            errors,
        });
        return Ok((status, page).into_response());
    }
    let checked_in = match visits::check_in(state, &kiosk.caller(), visit.id).await {
        Ok(visit) => visit,
        Err(ApiError::Conflict(why)) => {
            return Ok(refused(kiosk, format!("{why}. Please ask at reception.")));
        }
        Err(other) => return Err(other.into()),
    };
    let host = state.store.person(checked_in.host_person_id).await?.name;
    Ok(render(DonePage {
        kiosk: kiosk.0.name.clone(),
        visitor: checked_in.visitor_name,
        host,
        walk_in: false,
        badge_code: Some(code),
    }))
}

/// `POST /kiosk/check-in`: the visitor confirmed who they are. Shows the first document
/// due; with none due, checks the visitor in (the desk's checks and log entry). A visit
/// with a document unsigned is never checked in here.
pub(super) async fn check_in(
    State(state): State<AppState>,
    kiosk: Kiosk,
    Form(form): Form<CodeForm>,
) -> Result<Response, Failure> {
    let visit = match expected(&state, &kiosk, &form.code).await? {
        Ok(visit) => visit,
        Err(why) => return Ok(refused(&kiosk, why)),
    };
    let code = normalise_check_in_code(&form.code);
    next_step(&state, &kiosk, visit, code, None).await
}

#[derive(Deserialize)]
pub(super) struct KioskSignForm {
    code: String,
    /// The document shown (a template's id: not a visit's).
    #[serde(default)]
    template: String,
    #[serde(flatten)]
    signature: SignForm,
}

/// A refused signature in the visitor's words (the store names the field).
fn visitor_words(field: &str, problem: &str) -> String {
    match field {
        "consent" => "Please tick the box to confirm you have read and accept the text.".into(),
        "typed_name" => "Please type your full name to sign.".into(),
        "strokes" => "Please draw your signature again, or clear it and type your name.".into(),
        other => format!("{}: {problem}", other.replace('_', " ")),
    }
}

/// `POST /kiosk/sign`: the visitor signs the document shown; then the next one, or the
/// check-in when it was the last.
pub(super) async fn sign(
    State(state): State<AppState>,
    kiosk: Kiosk,
    Form(form): Form<KioskSignForm>,
) -> Result<Response, Failure> {
    let visit = match expected(&state, &kiosk, &form.code).await? {
        Ok(visit) => visit,
        Err(why) => return Ok(refused(&kiosk, why)),
    };
    let code = normalise_check_in_code(&form.code);
    let template: Uuid = form
        .template
        .trim()
        .parse()
        .map_err(|_| ApiError::field("template", "is not a document"))?;
    let typed_name = form.signature.typed_name().to_owned();
    let signed = match form.signature.signature() {
        Ok(signature) => {
            let actor = kiosk.caller().actor;
            sign_document(&state, visit.id, template, signature, &actor).await
        }
        Err(error) => Err(error),
    };
    let problem = match signed {
        Ok(_) => None,
        Err(ApiError::Validation(fields)) => Some(Problem {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            errors: fields.iter().map(|(f, p)| visitor_words(f, p)).collect(),
            typed_name,
        }),
        // A newer version published while the visitor read: the next step shows it. A
        // document signed meanwhile (a second tap) is no problem: the next step goes on.
        Err(ApiError::Conflict(_)) => {
            let due = state.store.documents_due(visit.id, now()).await?;
            due.iter()
                .any(|d| d.template_id == template)
                .then(|| Problem {
                    status: StatusCode::CONFLICT,
                    errors: vec!["This document has changed: please read it again.".into()],
                    typed_name,
                })
        }
        Err(other) => return Err(other.into()),
    };
    next_step(&state, &kiosk, visit, code, problem).await
}

/// `GET /kiosk/declined`: the visitor does not sign; reception has to see them.
pub(super) async fn declined(kiosk: Kiosk) -> Response {
    render(WelcomePage {
        kiosk: kiosk.0.name,
        error: Some(
            "You have not been checked in: the documents have to be signed first. \
             Please ask at reception."
                .to_owned(),
        ),
    })
}

#[derive(Deserialize)]
pub(super) struct BadgeQuery {
    #[serde(default)]
    code: String,
}

/// `GET /kiosk/badge?code=…`: the badge of a visitor checked in at this kiosk's site, as
/// the API prints it (and logs it, the kiosk as the actor). 403 on a browser that is no
/// kiosk; 404 for a code unknown, at another site or not checked in.
pub(super) async fn badge(
    State(state): State<AppState>,
    kiosk: Result<Kiosk, Response>,
    Query(query): Query<BadgeQuery>,
) -> Result<Response, Failure> {
    let Ok(kiosk) = kiosk else {
        return Err(Failure::forbidden());
    };
    let visit = state
        .store
        .visit_by_code(&query.code)
        .await
        .map_err(Failure::unless_found("badge"))?;
    let here = visit.site_id == Some(kiosk.0.site_id);
    if !here || !matches!(visit.status, VisitStatus::CheckedIn) {
        return Err(Failure::not_found("badge"));
    }
    let actor = kiosk.caller().actor;
    Ok(badge_response(&state, visit.id, KIOSK_BADGE, &actor).await?)
}
