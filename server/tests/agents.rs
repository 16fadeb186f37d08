//! Door agents on the server: enrolment and identity, policy and presence by long-poll, event upload
//! and ingest alarms, PIN verifiers and the PIN key (`pins`), the events list (`api`, `policy`, `ingest`, on SQLite through the
//! HTTP API) and their storage on both backends (`store`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

#[path = "agents/api.rs"]
mod api;
#[path = "agents/ingest.rs"]
mod ingest;
#[path = "agents/pins.rs"]
mod pins;
#[path = "agents/policy.rs"]
mod policy;
#[path = "agents/presence.rs"]
mod presence;
#[path = "support/site_model.rs"]
mod site_support;
#[path = "agents/store.rs"]
mod store;
#[path = "agents/support.rs"]
mod support;
