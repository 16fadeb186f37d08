//! People, vetting, groups, credentials, grants and visits: storage behaviour on SQLite
//! and PostgreSQL (`store`), and the HTTP contract (`api`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub(crate) mod api;
mod api_visits;
mod store;
mod store_holders;
