//! Administration without curl: the security model, people and cards, the HR import,
//! door agents, operator accounts and the server's health. Each page demands the API's
//! read permission for what it shows; its forms are offered to, and its actions demand,
//! the API's write permission, so an auditor sees the model and can change nothing.

pub mod agents;
pub mod documents;
pub mod groups;
pub mod health;
pub mod import;
pub mod kiosks;
pub mod operators;
pub mod people;
pub mod schedules;
pub mod secure_cards;
pub mod sites;
pub mod visit_rules;
pub mod watchlist;

use crate::auth::permissions::ReadSecurityModel;
use crate::console::page::{ADMIN, ADMIN_PAGES, Chrome, NavLink, links, render};
use crate::console::session::Console;
use crate::state::AppState;
use askama::Template;
use axum::Router;
use axum::response::Response;
use axum::routing::get;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(ADMIN, get(index))
        .merge(sites::router())
        .merge(schedules::router())
        .merge(people::router())
        .merge(secure_cards::router())
        .merge(groups::router())
        .merge(import::router())
        .merge(agents::router())
        .merge(kiosks::router())
        .merge(operators::router())
        .merge(health::router())
        .merge(visit_rules::router())
        .merge(documents::router())
        .merge(watchlist::router())
}

#[derive(Template)]
#[template(path = "admin/index.html")]
struct IndexPage {
    chrome: Chrome,
    pages: Vec<NavLink>,
}

/// `GET /admin`: the administration pages this operator may open.
async fn index(user: Console<ReadSecurityModel>) -> Response {
    render(IndexPage {
        chrome: Chrome::new(&user.principal, ADMIN, "Administration"),
        pages: links(ADMIN_PAGES, user.principal.role, ADMIN),
    })
}
