//! The console's pages, one module a page (or a page and its actions).

pub mod account;
pub mod alarms;
pub mod doors;
pub mod threat;

use crate::state::AppState;
use axum::Router;
use axum::routing::{get, post};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account::page))
        .route("/account/password", post(account::change_password))
        .route("/alarms", get(alarms::page))
        .route("/alarms/{id}/ack", post(alarms::acknowledge))
        .route("/alarms/stream", get(alarms::live))
        .route("/desk", get(doors::page))
        .route("/threat", get(threat::page))
        .route("/threat/{site}", get(threat::confirm).post(threat::apply))
}
