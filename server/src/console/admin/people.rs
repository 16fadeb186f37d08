//! People and their cards: a search by name, organisation or card number (a page at a
//! time) and a form to register someone; each person's page ([`person`]) with details,
//! status (suspend, reinstate, leaver), vetting history, cards, groups and what the
//! engine would let them open now. Every action ([`actions`]) is the API's: the same
//! checks (`domain`), the same store call and operator-log entry.

mod actions;
pub(crate) mod person;
pub(crate) mod words;

use crate::api::error::ApiError;
use crate::auth::permissions::{Permission, ReadSecurityModel, WriteSecurityModel};
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::domain::person::name_query;
use crate::state::AppState;
use crate::store::{NewPerson, PersonRecord};
use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gatehouse_core::model::{PersonKind, normalize_card};
use serde::Deserialize;
use uuid::Uuid;

/// People shown per page of the search.
const PAGE: u32 = 50;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/people", get(list).post(create))
        .route("/admin/people/{id}", get(person::page).post(actions::edit))
        .route("/admin/people/{id}/status", post(actions::status))
        .route("/admin/people/{id}/email", post(actions::email))
        .route("/admin/people/{id}/vetting", post(actions::vetting))
        .route("/admin/people/{id}/cards", post(actions::issue_card))
        .route("/admin/people/{id}/cards/{card}", post(actions::card_state))
        .route("/admin/people/{id}/groups", post(actions::join_group))
        .route(
            "/admin/people/{id}/groups/{group}/leave",
            post(actions::leave_group),
        )
}

/// Whether the operator may change the security model (so sees its forms).
pub(crate) fn may_write<P: Permission>(user: &Console<P>) -> bool {
    WriteSecurityModel::ROLES.contains(&user.principal.role)
}

#[derive(Deserialize, Default)]
pub struct Search {
    #[serde(default)]
    q: String,
    /// The last person of the previous page.
    #[serde(default)]
    after: String,
}

struct Row {
    id: Uuid,
    name: String,
    organisation: String,
    kind: &'static str,
    status: &'static str,
    active: bool,
}

#[derive(Template)]
#[template(path = "admin/people.html")]
struct ListPage {
    chrome: Chrome,
    q: String,
    rows: Vec<Row>,
    next: Option<String>,
    may_write: bool,
}

/// `GET /admin/people`: the search, and the form to register someone.
async fn list(
    State(state): State<AppState>,
    user: Console<ReadSecurityModel>,
    Query(search): Query<Search>,
) -> Result<Response, Failure> {
    let q = name_query(given(&search.q).as_deref()).map_err(ApiError::from)?;
    let card = q.as_deref().and_then(|q| normalize_card(q).ok());
    let after = match search.after.as_str() {
        "" => None,
        text => Some(Uuid::parse_str(text).map_err(|_| ApiError::field("after", "is not valid"))?),
    };
    let mut people = state
        .store
        .search_people(after, q.as_deref(), card.as_deref(), PAGE + 1)
        .await?;
    let next = (people.len() > PAGE as usize).then(|| {
        people.truncate(PAGE as usize);
        let last = people.last().map(|p| p.id.to_string()).unwrap_or_default();
        serde_urlencoded::to_string([("q", search.q.as_str()), ("after", last.as_str())])
            .unwrap_or_default()
    });
    Ok(render(ListPage {
        chrome: Chrome::new(&user.principal, "/admin/people", "People and cards"),
        q: search.q.clone(),
        rows: people.iter().map(row).collect(),
        next,
        may_write: may_write(&user),
    }))
}

fn row(person: &PersonRecord) -> Row {
    Row {
        id: person.id,
        name: person.name.clone(),
        organisation: person.employer.clone().unwrap_or_default(),
        kind: words::kind(person.kind),
        status: words::status(person.status),
        active: person.status == gatehouse_core::model::PersonStatus::Active,
    }
}

#[derive(Deserialize)]
pub struct NewPersonForm {
    name: String,
    kind: String,
    #[serde(default)]
    employer: String,
    clearance: String,
}

/// A form's optional text: `None` when empty.
pub(crate) fn given(text: &str) -> Option<String> {
    Some(text.trim().to_owned()).filter(|t| !t.is_empty())
}

pub(crate) fn clearance(text: &str) -> Result<u8, ApiError> {
    text.trim()
        .parse()
        .map_err(|_| ApiError::field("clearance", "must be a whole number from 0 to 255"))
}

/// `POST /admin/people`: registers a person (the API's `POST /people`), then shows them.
async fn create(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Form(form): Form<NewPersonForm>,
) -> Result<Response, Failure> {
    let kind: PersonKind = form
        .kind
        .parse()
        .map_err(|_| ApiError::field("kind", "is staff or contractor"))?;
    let new = NewPerson {
        name: form.name,
        kind,
        employer: given(&form.employer),
        clearance: clearance(&form.clearance)?,
    }
    .checked()
    .map_err(ApiError::from)?;
    let person = state.store.create_person(new, &user.actor()).await?;
    Ok(Redirect::to(&format!("/admin/people/{}", person.id)).into_response())
}
