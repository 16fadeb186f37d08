//! People, vetting, groups, credentials, grants and visits: storage behaviour on SQLite
//! and PostgreSQL (`store`), and the HTTP contract (`api`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

#[path = "people_model/api.rs"]
mod api;
#[path = "people_model/api_visits.rs"]
mod api_visits;
#[path = "people_model/store.rs"]
mod store;
#[path = "people_model/store_holders.rs"]
mod store_holders;
