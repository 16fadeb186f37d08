//! Logging in and out of the console, and where `/` leads.

use super::page::{Failure, home, render};
use super::session::{self, Console, set_cookie};
use crate::api::error::ApiError;
use crate::auth::login::check_credentials;
use crate::auth::permissions::AnyOperator;
use crate::state::AppState;
use askama::Template;
use axum::Form;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use secrecy::SecretString;
use serde::Deserialize;
use std::net::SocketAddr;

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    next: String,
    username: String,
    problem: Option<String>,
}

#[derive(Deserialize)]
pub struct Next {
    #[serde(default)]
    next: String,
}

/// `/`: the operator's home, or the login page.
pub async fn root(State(state): State<AppState>, headers: HeaderMap) -> Result<Redirect, Failure> {
    Ok(match session::principal(&state, &headers).await? {
        Some(principal) => Redirect::to(home(principal.role)),
        None => Redirect::to("/login"),
    })
}

/// `GET /login`.
pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(Next { next }): Query<Next>,
) -> Result<Response, Failure> {
    if let Some(principal) = session::principal(&state, &headers).await? {
        return Ok(Redirect::to(local_path(&next).unwrap_or(home(principal.role))).into_response());
    }
    Ok(render(LoginPage {
        next,
        username: String::new(),
        problem: None,
    }))
}

#[derive(Deserialize)]
pub struct Credentials {
    username: String,
    password: SecretString,
    #[serde(default)]
    next: String,
}

/// `POST /login`: the API login's checks and throttle, then a session cookie.
pub async fn submit(
    State(state): State<AppState>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Form(credentials): Form<Credentials>,
) -> Result<Response, Failure> {
    let checked = check_credentials(
        &state,
        &credentials.username,
        credentials.password,
        client.ip(),
    )
    .await;
    let again = |status: StatusCode, problem: String| {
        let mut page = render(LoginPage {
            next: credentials.next.clone(),
            username: credentials.username.clone(),
            problem: Some(problem),
        });
        *page.status_mut() = status;
        page
    };
    let operator = match checked {
        Ok(operator) => operator,
        Err(ApiError::InvalidCredentials) => {
            return Ok(again(
                StatusCode::UNAUTHORIZED,
                "Wrong username or password.".to_owned(),
            ));
        }
        Err(ApiError::TooManyRequests { retry_after_s }) => {
            return Ok(again(
                StatusCode::TOO_MANY_REQUESTS,
                format!("Too many failed attempts. Try again in {retry_after_s} seconds."),
            ));
        }
        Err(other) => return Err(other.into()),
    };
    let cookie = session::open(&state, operator.id).await?;
    let to = local_path(&credentials.next).unwrap_or(home(operator.role));
    Ok((set_cookie(cookie), Redirect::to(to)).into_response())
}

/// `POST /logout`: ends the session on the server, clears the cookie.
pub async fn logout(
    State(state): State<AppState>,
    user: Result<Console<AnyOperator>, session::Refused>,
) -> Result<Response, Failure> {
    if let Ok(user) = user {
        state
            .store
            .revoke_session(user.principal.session_id)
            .await?;
    }
    let clear = state.console.cookie.clear();
    let mut response = Redirect::to("/login").into_response();
    if let Some(clear) = clear {
        response
            .headers_mut()
            .insert(axum::http::header::SET_COOKIE, clear);
    }
    Ok(response)
}

/// A path on this server to go back to after the login; never another site
/// (`//evil`, `/\evil` and absolute URLs are refused).
fn local_path(next: &str) -> Option<&str> {
    let ok = next.starts_with('/')
        && !next.starts_with("//")
        && !next.starts_with("/\\")
        && !next.chars().any(char::is_control)
        && next != "/login";
    ok.then_some(next)
}

/// Longest report logged.
const REPORT_LOG_BYTES: usize = 2048;

/// `POST /csp-report`: the browser reports a Content-Security-Policy violation.
pub async fn csp_report(body: Bytes) -> StatusCode {
    let shown = &body[..body.len().min(REPORT_LOG_BYTES)];
    tracing::warn!(report = %String::from_utf8_lossy(shown), "csp violation");
    StatusCode::NO_CONTENT
}

#[cfg(test)]
mod tests {
    use super::local_path;

    #[test]
    fn only_local_paths_are_followed() {
        for good in ["/alarms", "/events?person=a%20b", "/desk"] {
            assert_eq!(local_path(good), Some(good));
        }
        for bad in [
            "",
            "alarms",
            "//evil.example",
            "/\\evil",
            "https://evil",
            "/login",
            "/a\nb",
        ] {
            assert_eq!(local_path(bad), None, "{bad:?}");
        }
    }
}
