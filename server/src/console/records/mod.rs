//! Records for auditors and management: ISO 28000 reports and the audit trail's
//! verification and exports (the events page and the operator log are desk pages).

pub mod audit;
pub mod reports;

use crate::state::AppState;
use axum::Router;

pub fn router() -> Router<AppState> {
    Router::new()
        .merge(audit::router())
        .merge(reports::router())
}
