//! `/admin/documents`: the visitor documents security keeps (an NDA, a safety briefing)
//! per site and visit type: the list with each current version, a new template, a new
//! text (published as the next version), the re-signing period, activate or deactivate.
//! Everyone with `ReadVisitRules` reads it; the forms are for `ManageVisitRules`, and
//! each action is the API's store call.

use crate::api::error::ApiError;
use crate::auth::permissions::{ManageVisitRules, Permission, ReadVisitRules};
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use crate::store::documents::{NewTemplate, TemplateChange};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use uuid::Uuid;

const PATH: &str = "/admin/documents";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(list).post(create))
        .route("/admin/documents/{id}", post(update))
        .route("/admin/documents/{id}/active", post(set_active))
}

struct TemplateLine {
    id: Uuid,
    title: String,
    kind: String,
    site: String,
    visit_type: String,
    version: i32,
    resign: String,
    resign_days: String,
    active: bool,
    body: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "admin/documents.html")]
struct DocumentsPage {
    chrome: Chrome,
    templates: Vec<TemplateLine>,
    sites: Vec<(Uuid, String)>,
    can_write: bool,
}

/// `GET /admin/documents`.
async fn list(
    State(state): State<AppState>,
    user: Console<ReadVisitRules>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let templates = state
        .store
        .document_templates()
        .await?
        .into_iter()
        .map(|t| TemplateLine {
            id: t.id,
            site: t
                .site_id
                .map_or_else(|| "every site".to_owned(), |s| names.site(s).to_owned()),
            visit_type: t.visit_type.unwrap_or_else(|| "every type".to_owned()),
            resign: t.resign_after_days.map_or_else(
                || "on a new version".to_owned(),
                |d| format!("every {d} days and on a new version"),
            ),
            resign_days: t
                .resign_after_days
                .map(|d| d.to_string())
                .unwrap_or_default(),
            updated: names.time(t.updated_at, t.site_id.or(names.only_site())),
            title: t.title,
            kind: t.kind,
            version: t.current_version,
            active: t.active,
            body: t.body,
        })
        .collect();
    let sites = names
        .sites_by_name()
        .into_iter()
        .map(|(id, name)| (id, name.to_owned()))
        .collect();
    Ok(render(DocumentsPage {
        chrome: Chrome::new(&user.principal, PATH, "Visitor documents"),
        templates,
        sites,
        can_write: ManageVisitRules::ROLES.contains(&user.principal.role),
    }))
}

/// An optional number of days from a form field (empty: none).
fn days(text: &str) -> Result<Option<i32>, ApiError> {
    match text.trim() {
        "" => Ok(None),
        text => text
            .parse()
            .map(Some)
            .map_err(|_| ApiError::field("resign_after_days", "is not a whole number of days")),
    }
}

fn optional(text: String) -> Option<String> {
    Some(text).filter(|t| !t.trim().is_empty())
}

#[derive(Deserialize)]
struct NewForm {
    #[serde(default)]
    site_id: String,
    #[serde(default)]
    visit_type: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    resign_after_days: String,
    #[serde(default)]
    body: String,
}

/// `POST /admin/documents`: a new template (version 1).
async fn create(
    State(state): State<AppState>,
    user: Console<ManageVisitRules>,
    Form(form): Form<NewForm>,
) -> Result<Response, Failure> {
    let site_id = match form.site_id.trim() {
        "" => None,
        text => Some(
            text.parse::<Uuid>()
                .map_err(|_| ApiError::field("site_id", "no such site"))?,
        ),
    };
    let new = NewTemplate {
        site_id,
        visit_type: optional(form.visit_type),
        kind: form.kind,
        title: form.title,
        resign_after_days: days(&form.resign_after_days)?,
        body: form.body,
    };
    state
        .store
        .create_document_template(new, &user.actor())
        .await
        .map_err(ApiError::from)?;
    Ok(Redirect::to(PATH).into_response())
}

#[derive(Deserialize)]
struct ChangeForm {
    #[serde(default)]
    title: String,
    #[serde(default)]
    resign_after_days: String,
    #[serde(default)]
    body: String,
}

/// `POST /admin/documents/{id}`: title, re-signing period, and the text (a changed text
/// is published as the next version).
async fn update(
    State(state): State<AppState>,
    user: Console<ManageVisitRules>,
    Path(id): Path<Uuid>,
    Form(form): Form<ChangeForm>,
) -> Result<Response, Failure> {
    let change = TemplateChange {
        title: Some(form.title),
        resign_after_days: Some(days(&form.resign_after_days)?),
        active: None,
        body: Some(form.body),
    };
    apply(&state, &user, id, change).await
}

#[derive(Deserialize)]
struct ActiveForm {
    #[serde(default)]
    active: String,
}

/// `POST /admin/documents/{id}/active`: `true` or `false`.
async fn set_active(
    State(state): State<AppState>,
    user: Console<ManageVisitRules>,
    Path(id): Path<Uuid>,
    Form(form): Form<ActiveForm>,
) -> Result<Response, Failure> {
    let active = match form.active.as_str() {
        "true" => true,
        "false" => false,
        _ => return Err(ApiError::field("active", "is true or false").into()),
    };
    let change = TemplateChange {
        active: Some(active),
        ..TemplateChange::default()
    };
    apply(&state, &user, id, change).await
}

async fn apply(
    state: &AppState,
    user: &Console<ManageVisitRules>,
    id: Uuid,
    change: TemplateChange,
) -> Result<Response, Failure> {
    state
        .store
        .update_document_template(id, change, &user.actor())
        .await
        .map_err(crate::api::routes::site_model::not_found(
            "document template",
        ))?;
    Ok(Redirect::to(PATH).into_response())
}
