//! The web console: server-rendered pages (askama templates, checked when compiled) at
//! `/` on the API's port, for people who do not speak curl. Every page and action checks
//! the API's permission table (`auth::permissions`), writes the operator log through the
//! same store calls as the API, and is a plain link or form; the one script
//! (`assets/console.js`) only adds live updates.
//!
//! Safe by construction: a session cookie (see [`session`]), cross-site requests refused
//! ([`csrf`]), a strict Content-Security-Policy (scripts and styles from this server
//! only, nothing inline), and every value escaped by the templates.

pub mod admin;
pub mod assets;
pub mod csrf;
pub mod desk;
pub mod kiosk;
pub mod labels;
pub mod login;
pub mod names;
pub mod page;
pub mod records;
pub mod session;
pub mod settings;
pub mod time;
pub mod upload;

pub use settings::ConsoleSettings;

use crate::state::AppState;
use axum::Router;
use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::{get, post};

/// The console's settings as the running server applies them.
#[derive(Debug, Clone, Copy)]
pub struct ConsoleConfig {
    pub settings: ConsoleSettings,
    pub cookie: session::CookiePolicy,
}

/// Scripts, styles, images and connections from this server only; no inline script or
/// style, no eval, no framing, forms only to this server. Violations are reported to
/// `/csp-report` (logged), so a page that breaks the policy is noticed.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
                   base-uri 'none'; report-uri /csp-report";

/// Every console route with its middleware.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(login::root))
        .route("/login", get(login::form).post(login::submit))
        .route("/logout", post(login::logout))
        .route("/assets/{name}", get(assets::asset))
        .route("/csp-report", post(login::csp_report))
        .merge(desk::router())
        .merge(admin::router())
        .merge(records::router())
        .merge(kiosk::router())
        .layer(axum::middleware::from_fn(csrf::same_origin_only))
        .layer(axum::middleware::from_fn(console_headers))
}

/// Whether a path is the console's rather than the API's (for the 404 page).
pub fn is_console_path(path: &str) -> bool {
    !(path.starts_with("/api/") || path == "/api" || path == "/healthz" || path == "/readyz")
}

async fn console_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    response.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    response
}
