//! Checking a username and password: one path for the API's login and the console's, so
//! both take the throttle's failure budget before the password is checked.

use crate::api::error::ApiError;
use crate::auth::password;
use crate::domain::operator;
use crate::state::AppState;
use crate::store::{Actor, Operator, OperatorStatus, Principal, now};
use secrecy::{ExposeSecret, SecretString};
use std::net::IpAddr;

/// The active operator with this username and password; 401 (the same answer for an
/// unknown user and a wrong password) or 429 when throttled.
#[tracing::instrument(skip_all)]
pub async fn check_credentials(
    state: &AppState,
    username: &str,
    password: SecretString,
    client: IpAddr,
) -> Result<Operator, ApiError> {
    let username = username.trim().to_lowercase();
    let keys = [format!("user:{username}"), format!("ip:{client}")];
    let attempt = state.throttle.reserve(&state.store, &keys, now()).await?;

    let account = state.store.operator_with_hash(&username).await?;
    let (operator, hash) = match account {
        Some((operator, hash)) => (Some(operator), Some(hash)),
        None => (None, None),
    };
    let password_ok = password::verify(password, hash).await?;
    let operator = operator.filter(|o| password_ok && o.status == OperatorStatus::Active);
    let Some(operator) = operator else {
        // The reserved attempt stays recorded as the failure.
        tracing::info!(username = %username, %client, "login failed");
        return Err(ApiError::InvalidCredentials);
    };
    state
        .throttle
        .succeeded(&state.store, &attempt, &keys[0])
        .await?;
    tracing::info!(username = %operator.username, "login");
    Ok(operator)
}

/// Changes the logged-in operator's own password (API and console). A wrong current
/// password is a 422 naming `current_password` and counts as a failed login for the
/// account and the address; every other session of the operator ends.
#[tracing::instrument(skip_all)]
pub async fn change_own_password(
    state: &AppState,
    principal: &Principal,
    actor: &Actor,
    current_password: SecretString,
    new_password: SecretString,
    client: IpAddr,
) -> Result<(), ApiError> {
    operator::check_password("new_password", new_password.expose_secret())?;
    let username = principal.username.clone();
    let keys = [format!("user:{username}"), format!("ip:{client}")];
    let attempt = state.throttle.reserve(&state.store, &keys, now()).await?;
    let hash = state
        .store
        .operator_with_hash(&username)
        .await?
        .map(|(_, hash)| hash);
    let same = new_password.expose_secret() == current_password.expose_secret();
    if !password::verify(current_password, hash).await? {
        // The reserved attempt stays recorded as the failure.
        tracing::info!(username = %username, %client, "password change refused");
        return Err(ApiError::field(
            "current_password",
            "is not your current password",
        ));
    }
    state
        .throttle
        .succeeded(&state.store, &attempt, &keys[0])
        .await?;
    if same {
        return Err(ApiError::field(
            "new_password",
            "must differ from the current password",
        ));
    }
    let new_hash = password::hash(new_password).await?;
    state
        .store
        .replace_operator_password(
            principal.operator_id,
            &new_hash,
            actor,
            Some(principal.session_id),
        )
        .await?;
    tracing::info!(username = %username, "own password changed");
    Ok(())
}
