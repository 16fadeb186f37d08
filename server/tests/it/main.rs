//! The server's integration tests, in one test binary: each module is a former binary of
//! its own (`server/tests/<name>.rs`), kept whole. One binary links the server once
//! instead of twenty times, which is most of a cold `cargo test`. Run one part with a
//! filter on its module, e.g. `cargo test -p gatehouse-server --test it -- role_matrix::`.
//!
//! `common` (the server in-process on a fresh database, and `conformance!`) and
//! `support` (builders and checks several parts share) are declared here once; `common`
//! comes first so its macro is in scope in every module after it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;
mod support;

mod access_questions;
mod agents;
mod alarms;
mod api_conventions;
mod api_inputs;
mod audit;
mod card_keys;
mod console;
mod differential;
mod documents;
mod door_live;
mod events_detail;
mod events_query;
mod events_search;
mod import;
mod issuing;
mod jwt_attacks;
mod local_times;
mod login_throttle;
mod notifications;
mod occupancy;
mod operator_log_filters;
mod own_password;
mod people_model;
mod replicas;
mod reports;
mod role_matrix;
mod site_model;
mod site_model_api;
mod site_model_load;
mod store_conformance;
mod stored_times;
mod tls;
mod visitor_cards;
mod visits;
mod watchlist;
mod zone_assurance;
