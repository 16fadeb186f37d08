//! Door agents on the server: enrolment and identity, policy and presence by long-poll, event upload
//! and ingest alarms, PIN verifiers and the PIN key (`pins`), the events list (`api`, `policy`, `ingest`, on SQLite through the
//! HTTP API) and their storage on both backends (`store`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::site_model as site_support;

mod api;
mod batched;
mod feeds;
mod incremental;
mod ingest;
mod pins;
mod policy;
mod presence;
mod store;
pub mod support;
