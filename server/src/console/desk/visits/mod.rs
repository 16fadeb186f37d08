//! The reception and host screens for visits (issue 13): `/visits` (expected today, on
//! site now, awaiting approval, search; for a host "My visitors" with today's arrivals),
//! a visit's page ([`detail`]) with its actions, the invitation form ([`form`]) and the
//! auditors' visitor log with its CSV ([`log`]), the visitor's photo ([`photo`]). Every change goes through
//! `crate::visits`, the API's own flow: the same rules, checks and operator-log entries.

mod detail;
mod entered;
mod form;
mod home;
mod log;
mod photo;
mod words;

use crate::auth::permissions::Permission;
use crate::console::page::Failure;
use crate::console::session::Console;
use crate::state::AppState;
use crate::visits::Caller;
use axum::Router;
use axum::routing::{get, post};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/visits", get(home::page))
        .route("/visits/code", get(detail::by_code))
        .route("/visits/new", get(form::new).post(form::invite))
        .route("/visits/log", get(log::page))
        .route("/visits/log.csv", get(log::csv))
        .route(
            "/visits/invitations/{id}/check-in",
            post(detail::check_in_group),
        )
        .route("/visits/{id}", get(detail::page))
        .route("/visits/{id}/edit", get(form::edit).post(form::update))
        .route("/visits/{id}/check-in", post(detail::check_in))
        .route("/visits/{id}/check-out", post(detail::check_out))
        .route("/visits/{id}/cancel", post(detail::cancel))
        .route("/visits/{id}/approve", post(detail::approve))
        .merge(photo::router())
}

/// The visit flow's caller for a console user (a host with its linked person).
async fn caller<P: Permission>(state: &AppState, user: &Console<P>) -> Result<Caller, Failure> {
    let p = &user.principal;
    Ok(Caller::of(state, p.operator_id, p.role, user.actor()).await?)
}

/// Whether the user's role holds permission `Q` (to show its buttons and forms).
fn may<Q: Permission, P: Permission>(user: &Console<P>) -> bool {
    Q::ROLES.contains(&user.principal.role)
}
