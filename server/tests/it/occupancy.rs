//! Who is inside: presence kept from ingested door events over sequences of entries and
//! exits across two doors, zone occupancy, the site's muster list and musters, on SQLite
//! and PostgreSQL (`store`); the API with its formats (`api`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod api;
mod desk;
mod store;
pub(crate) mod support;
