//! The person page's forms: each calls the API's checks and store call (so the same
//! validation and operator-log entry), then shows the person again.

use super::{clearance, given};
use crate::api::error::ApiError;
use crate::api::routes::site_model::not_found;
use crate::auth::permissions::WriteSecurityModel;
use crate::console::names::Names;
use crate::console::page::Failure;
use crate::console::session::Console;
use crate::console::time;
use crate::domain::credential::{CredentialChangeInput, CredentialInput};
use crate::domain::group;
use crate::state::AppState;
use crate::store::{CredentialChange, NewCredential, NewVetting, PersonChange, now};
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use gatehouse_core::model::{CardKind, CredentialState, PersonStatus, VettingStatus};
use secrecy::SecretString;
use serde::Deserialize;
use uuid::Uuid;

fn back(id: Uuid) -> Response {
    Redirect::to(&format!("/admin/people/{id}")).into_response()
}

#[derive(Deserialize)]
pub struct Details {
    name: String,
    #[serde(default)]
    employer: String,
    clearance: String,
    #[serde(default)]
    external_id: String,
}

/// `POST /admin/people/{id}`: name, organisation, clearance and HR number (the API's
/// `PATCH /people/{id}`; an empty organisation or HR number clears it).
pub async fn edit(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
    Form(form): Form<Details>,
) -> Result<Response, Failure> {
    let change = PersonChange {
        external_id: Some(given(&form.external_id)),
        name: Some(form.name),
        employer: Some(given(&form.employer)),
        clearance: Some(clearance(&form.clearance)?),
        status: None,
    };
    change_person(&state, &user, id, change).await
}

/// The API's checks and store call of `PATCH /people/{id}`, then back to the person.
async fn change_person(
    state: &AppState,
    user: &Console<WriteSecurityModel>,
    id: Uuid,
    change: PersonChange,
) -> Result<Response, Failure> {
    let change = change.checked().map_err(ApiError::from)?;
    state
        .store
        .update_person(id, change, &user.actor())
        .await
        .map_err(not_found("person"))?;
    Ok(back(id))
}

#[derive(Deserialize)]
pub struct Status {
    status: String,
}

/// `POST /admin/people/{id}/status`: suspend, reinstate or mark a leaver (`left`).
pub async fn status(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
    Form(form): Form<Status>,
) -> Result<Response, Failure> {
    let status: PersonStatus = form
        .status
        .parse()
        .map_err(|_| ApiError::field("status", "is active, suspended or left"))?;
    let change = PersonChange {
        external_id: None,
        name: None,
        employer: None,
        clearance: None,
        status: Some(status),
    };
    change_person(&state, &user, id, change).await
}

#[derive(Deserialize)]
pub struct Email {
    #[serde(default)]
    email: String,
}

/// `POST /admin/people/{id}/email`: where the person is told their visitors arrived
/// (empty clears it); the API's check and log entry.
pub async fn email(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
    Form(form): Form<Email>,
) -> Result<Response, Failure> {
    let email = crate::domain::checks::optional_email("email", Some(&form.email))
        .map_err(ApiError::Validation)?;
    let set = state.store.set_person_email(id, email, &user.actor()).await;
    set.map_err(crate::console::admin::sites::fields::failure)?;
    Ok(Redirect::to(&format!("/admin/people/{id}")).into_response())
}

#[derive(Deserialize)]
pub struct Vetting {
    status: String,
    /// Local `YYYY-MM-DDTHH:MM`; empty for no end.
    #[serde(default)]
    cleared_until: String,
    #[serde(default)]
    reference: String,
    #[serde(default)]
    note: String,
}

/// `POST /admin/people/{id}/vetting`: records a vetting decision (the API's
/// `PUT /people/{id}/vetting`).
pub async fn vetting(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
    Form(form): Form<Vetting>,
) -> Result<Response, Failure> {
    let status: VettingStatus = form.status.parse().map_err(|_| {
        ApiError::field("status", "is one of pending, cleared, expired and revoked")
    })?;
    let names = Names::load(&state.store).await?;
    let tz = names.tz(names.only_site());
    let new = NewVetting {
        status,
        cleared_until: time::parse_local("cleared_until", &form.cleared_until, tz)?,
        reference: given(&form.reference),
        note: given(&form.note),
    }
    .checked(now())
    .map_err(ApiError::from)?;
    state
        .store
        .record_vetting(id, new, &user.actor())
        .await
        .map_err(not_found("person"))?;
    Ok(back(id))
}

#[derive(Deserialize)]
pub struct Issue {
    card: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    pin: String,
    #[serde(default)]
    valid_until: String,
}

/// `POST /admin/people/{id}/cards`: issues a card (the API's `POST /credentials`).
pub async fn issue_card(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
    Form(form): Form<Issue>,
) -> Result<Response, Failure> {
    state.store.person(id).await.map_err(not_found("person"))?;
    let kind: Option<CardKind> = match form.kind.as_str() {
        "" => None,
        text => Some(
            text.parse()
                .map_err(|_| ApiError::field("kind", "is uid or secure"))?,
        ),
    };
    let names = Names::load(&state.store).await?;
    let tz = names.tz(names.only_site());
    let new = NewCredential::parse(CredentialInput {
        person_id: Some(id),
        visit_id: None,
        card: form.card,
        kind,
        valid_from: None,
        valid_until: time::parse_local("valid_until", &form.valid_until, tz)?,
        pin: given(&form.pin).map(SecretString::from),
    })
    .map_err(ApiError::from)?;
    state
        .store
        .create_credential(new, &user.actor())
        .await
        .map_err(ApiError::from)?;
    Ok(back(id))
}

#[derive(Deserialize)]
pub struct CardState {
    state: String,
}

/// `POST /admin/people/{id}/cards/{card}`: suspends, reactivates, reports lost or
/// revokes one of the person's cards (the API's `PATCH /credentials/{id}`).
pub async fn card_state(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path((id, card)): Path<(Uuid, Uuid)>,
    Form(form): Form<CardState>,
) -> Result<Response, Failure> {
    let credential = state
        .store
        .credential(card)
        .await
        .map_err(not_found("credential"))?;
    if credential.person_id != Some(id) {
        return Err(Failure::not_found("credential"));
    }
    let new: CredentialState = form
        .state
        .parse()
        .map_err(|_| ApiError::field("state", "is one of active, suspended, lost and revoked"))?;
    let change = CredentialChange::parse(CredentialChangeInput {
        state: Some(new),
        valid_from: None,
        valid_until: None,
        pin: None,
    })
    .map_err(ApiError::from)?;
    state
        .store
        .update_credential(card, change, &user.actor())
        .await
        .map_err(not_found("credential"))?;
    Ok(back(id))
}

#[derive(Deserialize)]
pub struct Join {
    group: String,
}

/// Puts the person in or out of a group: the group's members as a whole, as the API's
/// `PUT /groups/{id}/members` sets them.
async fn set_member(
    state: &AppState,
    user: &Console<WriteSecurityModel>,
    person: Uuid,
    group_id: Uuid,
    member: bool,
) -> Result<(), Failure> {
    state
        .store
        .person(person)
        .await
        .map_err(not_found("person"))?;
    let group = state
        .store
        .group(group_id)
        .await
        .map_err(not_found("group"))?;
    let mut ids: Vec<Uuid> = group
        .person_ids
        .into_iter()
        .filter(|p| *p != person)
        .collect();
    if member {
        ids.push(person);
    }
    let members = group::members(ids).map_err(ApiError::from)?;
    state
        .store
        .set_group_members(group_id, members, &user.actor())
        .await
        .map_err(not_found("group"))?;
    Ok(())
}

/// `POST /admin/people/{id}/groups`: adds the person to a group.
pub async fn join_group(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
    Form(form): Form<Join>,
) -> Result<Response, Failure> {
    let group_id = Uuid::parse_str(&form.group)
        .map_err(|_| ApiError::field("group", "is not one of the choices"))?;
    set_member(&state, &user, id, group_id, true).await?;
    Ok(back(id))
}

/// `POST /admin/people/{id}/groups/{group}/leave`: takes the person out of a group.
pub async fn leave_group(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path((id, group_id)): Path<(Uuid, Uuid)>,
) -> Result<Response, Failure> {
    set_member(&state, &user, id, group_id, false).await?;
    Ok(back(id))
}
