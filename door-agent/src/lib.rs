//! The Gatehouse door agent: reads cards, drives the lock, decides from a signed policy
//! snapshot even when the server is unreachable, journals every event durably and syncs
//! with the server.
//!
//! Built in parts (see the README for what works today).

// The door must not panic: no `panic!`, no `unreachable!`, no indexing that can be out of
// bounds, on top of the workspace lints (CI runs clippy with `-D warnings`). Tests may.
#![warn(clippy::panic, clippy::unreachable, clippy::indexing_slicing)]
#![cfg_attr(
    test,
    allow(clippy::panic, clippy::unreachable, clippy::indexing_slicing)
)]
// journal: durable, hash-chained, checksummed event journal
pub mod journal;
// door: pure door state machine, hardware traits, simulated hardware
pub mod door;
// reader: card reader trait, simulated reader, PC/SC behind the `pcsc` feature
pub mod reader;
// agent: the runtime wiring reader, decisions, journal, door, policy sync and upload
pub mod agent;
// config: the agent's TOML configuration
pub mod config;
