//! The audit trail on SQLite and PostgreSQL through the store: a trail that verifies,
//! the ways to tamper with the database behind the server's back, and exports verified
//! offline (`chain`, `export`); the HTTP API (`api`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;
#[path = "audit/api.rs"]
mod api;
#[path = "audit/chain.rs"]
mod chain;
#[path = "audit/export.rs"]
mod export;
#[path = "audit/retention.rs"]
mod retention;
#[path = "support/site_model.rs"]
mod site_support;
#[path = "audit/trail.rs"]
mod trail;
#[path = "audit/undecodable.rs"]
mod undecodable;
