//! The console's pages, one module a page (or a page and its actions).

pub mod access;
pub mod account;
pub mod alarms;
pub mod documents;
pub mod doors;
pub mod events;
pub mod muster;
pub mod notifications;
pub mod occupancy;
pub mod operator_log;
pub mod screenings;
pub mod threat;
pub mod visitor_cards;
pub mod visits;

use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/access", get(access::page))
        .route("/account", get(account::page))
        .route("/account/password", post(account::change_password))
        .route("/alarms", get(alarms::page))
        .route("/alarms/{id}/ack", post(alarms::acknowledge))
        .route("/alarms/stream", get(alarms::live))
        .route("/desk", get(doors::page))
        .route("/desk/stream", get(doors::live))
        .route("/desk/doors/{id}/release", post(doors::release))
        .route("/desk/doors/{id}/mode", post(doors::set_mode))
        .route("/events", get(events::list))
        .route("/events/{id}", get(events::detail))
        .route("/muster", get(muster::list).post(muster::start))
        .route("/muster/{id}", get(muster::page))
        .route("/muster/{id}/print", get(muster::print))
        .route("/muster/{id}/accounted", post(muster::accounted))
        .route("/muster/{id}/close", post(muster::close))
        .route("/notifications", get(notifications::page))
        .route("/notifications/{id}/retry", post(notifications::retry))
        .route("/occupancy", get(occupancy::page))
        .route("/operator-log", get(operator_log::page))
        .route("/threat", get(threat::page))
        .route("/threat/{site}", get(threat::confirm).post(threat::apply))
        .merge(documents::router())
        .route(
            "/visitor-cards",
            get(visitor_cards::page).post(visitor_cards::register),
        )
        .route("/visitor-cards/{id}/state", post(visitor_cards::set_state))
        .route("/visitor-cards/hand-out", post(visitor_cards::hand_out))
        .merge(visits::router())
        .merge(screenings::router())
}
