//! A group's grants: create one (the API's `POST /grants`, group as subject) or revoke
//! one (the API's `DELETE /grants/{id}`).

use crate::api::error::ApiError;
use crate::api::routes::site_model::not_found;
use crate::auth::permissions::WriteSecurityModel;
use crate::console::names::Names;
use crate::console::page::Failure;
use crate::console::session::Console;
use crate::console::time;
use crate::domain::grant::GrantInput;
use crate::state::AppState;
use crate::store::NewGrant;
use axum::Form;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
pub struct NewGroupGrant {
    zone: String,
    #[serde(default)]
    schedule: String,
    #[serde(default)]
    valid_from: String,
    #[serde(default)]
    valid_until: String,
}

fn choice(field: &str, text: &str) -> Result<Option<Uuid>, ApiError> {
    match text {
        "" => Ok(None),
        text => Uuid::parse_str(text)
            .map(Some)
            .map_err(|_| ApiError::field(field, "is not one of the choices")),
    }
}

/// `POST /admin/groups/{id}/grants`.
pub async fn create(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path(id): Path<Uuid>,
    Form(form): Form<NewGroupGrant>,
) -> Result<Response, Failure> {
    state.store.group(id).await.map_err(not_found("group"))?;
    let zone_id =
        choice("zone", &form.zone)?.ok_or_else(|| ApiError::field("zone", "is required"))?;
    let names = Names::load(&state.store).await?;
    let tz = names.tz(names.zones.get(&zone_id).map(|z| z.site_id));
    let new = NewGrant::parse(GrantInput {
        person_id: None,
        group_id: Some(id),
        zone_id,
        schedule_id: choice("schedule", &form.schedule)?,
        valid_from: time::parse_local("valid_from", &form.valid_from, tz)?,
        valid_until: time::parse_local("valid_until", &form.valid_until, tz)?,
    })
    .map_err(ApiError::from)?;
    state
        .store
        .create_grant(new, &user.actor())
        .await
        .map_err(ApiError::from)?;
    Ok(Redirect::to(&format!("/admin/groups/{id}")).into_response())
}

/// `POST /admin/groups/{id}/grants/{grant}/delete`: revokes one of the group's grants.
pub async fn delete(
    State(state): State<AppState>,
    user: Console<WriteSecurityModel>,
    Path((id, grant)): Path<(Uuid, Uuid)>,
) -> Result<Response, Failure> {
    let record = state.store.grant(grant).await.map_err(not_found("grant"))?;
    if record.group_id != Some(id) {
        return Err(Failure::not_found("grant"));
    }
    state
        .store
        .delete_grant(grant, &user.actor())
        .await
        .map_err(not_found("grant"))?;
    Ok(Redirect::to(&format!("/admin/groups/{id}")).into_response())
}
