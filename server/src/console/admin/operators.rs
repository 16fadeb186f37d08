//! `/admin/operators`: operator accounts for admins (`ManageOperators`): the list with
//! each role and status; create an account, change a role or display name, disable or
//! enable, set a new password. The API's code does each: a role or status change or a
//! new password ends that operator's sessions, the last active admin cannot be demoted
//! or disabled, and each change is in the operator log.

use crate::api::error::ApiError;
use crate::auth::password;
use crate::auth::permissions::ManageOperators;
use crate::console::admin::sites::fields::failure;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render, role_label};
use crate::console::session::Console;
use crate::domain::operator;
use crate::state::AppState;
use crate::store::{NewOperator, Operator, OperatorChange, OperatorStatus, StoreError};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use gatehouse_core::role::Role;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use uuid::Uuid;

const PATH: &str = "/admin/operators";

pub fn router() -> Router<AppState> {
    Router::new()
        .route(PATH, get(list).post(create))
        .route("/admin/operators/{id}/role", post(change_role))
        .route("/admin/operators/{id}/status", post(change_status))
        .route("/admin/operators/{id}/password", post(set_password))
        .route("/admin/operators/person", post(link_person))
}

struct OperatorRow {
    id: Uuid,
    username: String,
    display_name: String,
    role: Role,
    role_label: &'static str,
    active: bool,
    created: String,
    is_me: bool,
    /// The linked person's name (hosts invite that person's visitors).
    person: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/operators.html")]
struct OperatorsPage {
    chrome: Chrome,
    operators: Vec<OperatorRow>,
    roles: Vec<(&'static str, &'static str)>,
}

impl OperatorRow {
    fn has_role(&self, value: &str) -> bool {
        self.role.as_str() == value
    }
}

/// Every role, as `(value, words)`, for the choosers.
fn roles() -> Vec<(&'static str, &'static str)> {
    Role::ALL
        .iter()
        .map(|r| (r.as_str(), role_label(*r)))
        .collect()
}

/// `GET /admin/operators`.
async fn list(
    State(state): State<AppState>,
    user: Console<ManageOperators>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let zone = names.tz(names.only_site());
    let mut operators: Vec<Operator> = Vec::new();
    let mut after = None;
    loop {
        let page = state.store.list_operators(after, 500).await?;
        after = page.last().map(|o| o.id);
        let full = page.len() == 500;
        operators.extend(page);
        if !full {
            break;
        }
    }
    operators.sort_by(|a, b| a.username.cmp(&b.username));
    let mut people = crate::console::names::PeopleNames::default();
    let mut linked = Vec::with_capacity(operators.len());
    for o in &operators {
        linked.push(match o.person_id {
            Some(id) => Some(people.name(&state.store, id).await?),
            None => None,
        });
    }
    let rows = operators
        .into_iter()
        .zip(linked)
        .map(|(o, person)| OperatorRow {
            person,
            is_me: o.id == user.principal.operator_id,
            role_label: role_label(o.role),
            active: o.status == OperatorStatus::Active,
            created: crate::console::time::local(o.created_at, zone),
            id: o.id,
            username: o.username,
            display_name: o.display_name,
            role: o.role,
        })
        .collect();
    Ok(render(OperatorsPage {
        chrome: Chrome::new(&user.principal, PATH, "Operator accounts"),
        operators: rows,
        roles: roles(),
    }))
}

fn role(text: &str) -> Result<Role, ApiError> {
    text.parse::<Role>()
        .map_err(|_| ApiError::field("role", "is admin, security, receptionist, host or auditor"))
}

fn operator_not_found(error: StoreError) -> Failure {
    Failure::unless_found("operator")(error)
}

#[derive(Deserialize)]
struct NewAccount {
    username: String,
    #[serde(default)]
    display_name: String,
    role: String,
    password: SecretString,
}

/// `POST /admin/operators`.
async fn create(
    State(state): State<AppState>,
    user: Console<ManageOperators>,
    Form(form): Form<NewAccount>,
) -> Result<Response, Failure> {
    let role = role(&form.role)?;
    let shown = Some(form.display_name.as_str()).filter(|n| !n.trim().is_empty());
    let display_name = operator::check_new(&form.username, form.password.expose_secret(), shown)
        .map_err(failure)?;
    let new = NewOperator {
        display_name,
        username: form.username,
        role,
        password_hash: password::hash(form.password).await.map_err(failure)?,
    };
    state.store.create_operator(new, &user.actor()).await?;
    Ok(Redirect::to(PATH).into_response())
}

/// The API's store call for a role or status change (sessions end), then the list.
async fn update(
    state: &AppState,
    user: &Console<ManageOperators>,
    id: Uuid,
    change: OperatorChange,
) -> Result<Response, Failure> {
    state
        .store
        .update_operator(id, change, &user.actor())
        .await
        .map_err(operator_not_found)?;
    Ok(Redirect::to(PATH).into_response())
}

#[derive(Deserialize)]
struct RoleForm {
    role: String,
}

/// `POST /admin/operators/{id}/role`: ends the operator's sessions.
async fn change_role(
    State(state): State<AppState>,
    user: Console<ManageOperators>,
    Path(id): Path<Uuid>,
    Form(form): Form<RoleForm>,
) -> Result<Response, Failure> {
    let change = OperatorChange {
        display_name: None,
        role: Some(role(&form.role)?),
        status: None,
    };
    update(&state, &user, id, change).await
}

#[derive(Deserialize)]
struct StatusForm {
    status: String,
}

/// `POST /admin/operators/{id}/status`: `active` or `disabled`; ends the sessions.
async fn change_status(
    State(state): State<AppState>,
    user: Console<ManageOperators>,
    Path(id): Path<Uuid>,
    Form(form): Form<StatusForm>,
) -> Result<Response, Failure> {
    let status = form
        .status
        .parse::<OperatorStatus>()
        .map_err(|_| ApiError::field("status", "is active or disabled"))?;
    let change = OperatorChange {
        display_name: None,
        role: None,
        status: Some(status),
    };
    update(&state, &user, id, change).await
}

#[derive(Deserialize)]
struct PasswordForm {
    password: SecretString,
}

/// `POST /admin/operators/{id}/password`: a new password; ends the sessions.
async fn set_password(
    State(state): State<AppState>,
    user: Console<ManageOperators>,
    Path(id): Path<Uuid>,
    Form(form): Form<PasswordForm>,
) -> Result<Response, Failure> {
    operator::check_password("password", form.password.expose_secret()).map_err(failure)?;
    let hash = password::hash(form.password).await.map_err(failure)?;
    state
        .store
        .set_operator_password(id, &hash, &user.actor())
        .await
        .map_err(operator_not_found)?;
    Ok(Redirect::to(PATH).into_response())
}

#[derive(Deserialize)]
struct LinkForm {
    operator: String,
    /// The person's name as in People (exact, ignoring case); empty unlinks.
    #[serde(default)]
    person: String,
}

/// `POST /admin/operators/person`: links the account to the one person of that name
/// (ignoring case), or unlinks it when empty; an unknown or ambiguous name is refused
/// naming the field.
async fn link_person(
    State(state): State<AppState>,
    user: Console<ManageOperators>,
    Form(form): Form<LinkForm>,
) -> Result<Response, Failure> {
    let id = form
        .operator
        .parse::<Uuid>()
        .map_err(|_| ApiError::field("operator", "is not one of the choices"))?;
    let name = form.person.trim();
    let person_id = if name.is_empty() {
        None
    } else {
        let found = state
            .store
            .search_people(None, Some(name), None, 50)
            .await?;
        let exact: Vec<_> = found
            .iter()
            .filter(|p| p.name.to_lowercase() == name.to_lowercase())
            .collect();
        match exact.as_slice() {
            [one] => Some(one.id),
            [] => return Err(ApiError::field("person", "no person has this name").into()),
            _ => {
                let problem = "several people have this name; rename one on the People page";
                return Err(ApiError::field("person", problem).into());
            }
        }
    };
    let linked = state
        .store
        .link_operator_person(id, person_id, &user.actor())
        .await;
    linked.map_err(crate::api::routes::site_model::not_found::<
        crate::store::ModelError,
    >("operator"))?;
    Ok(Redirect::to(PATH).into_response())
}
