//! The audit trail on SQLite and PostgreSQL through the store: a trail that verifies,
//! the ways to tamper with the database behind the server's back, and exports verified
//! offline (`chain`, `export`); the HTTP API (`api`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::site_model as site_support;

mod api;
mod chain;
mod display;
mod export;
mod import_batch;
mod pages;
mod retention;
pub(crate) mod trail;
mod undecodable;
