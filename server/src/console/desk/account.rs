//! My account: who I am, and changing my own password.

use crate::auth::login::change_own_password;
use crate::auth::permissions::AnyOperator;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use askama::Template;
use axum::Form;
use axum::extract::{ConnectInfo, State};
use axum::response::Response;
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Template)]
#[template(path = "account.html")]
struct AccountPage {
    chrome: Chrome,
    username: String,
    changed: bool,
}

pub async fn page(user: Console<AnyOperator>) -> Response {
    render(AccountPage {
        chrome: Chrome::new(&user.principal, "/account", "My account"),
        username: user.principal.username.clone(),
        changed: false,
    })
}

#[derive(Deserialize)]
pub struct PasswordChange {
    current_password: SecretString,
    new_password: SecretString,
}

/// `POST /account/password`: the API's checks and throttle; other sessions end.
pub async fn change_password(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    user: Console<AnyOperator>,
    Form(change): Form<PasswordChange>,
) -> Result<Response, Failure> {
    change_own_password(
        &state,
        &user.principal,
        &user.actor(),
        change.current_password,
        change.new_password,
        client.ip(),
    )
    .await?;
    Ok(render(AccountPage {
        chrome: Chrome::new(&user.principal, "/account", "My account"),
        username: user.principal.username.clone(),
        changed: true,
    }))
}
