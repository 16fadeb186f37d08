//! Types shared by the Gatehouse server and door agent. This crate does no I/O, so the
//! agent at the door and the server answering "why not?" run the very same code.
//!
//! - [`model`]: the policy records (sites, zones, doors, people, credentials, ...).
//! - [`policy`]: the compiled, indexed policy and its signed snapshot.
//! - [`decide`]: the access decision engine.
//! - [`protocol`]: the door agent ↔ server wire contract.
//! - [`local_time`]: instants as a site's clock reads them, without panicking.

// The door runs this code: no panic, however malformed the policy, card or journal.
// (Cargo cannot add lints to a crate that inherits the workspace's, hence attributes.)
#![deny(clippy::panic, clippy::unreachable, clippy::indexing_slicing)]
// A panic in a test is a failed test, which is what we want.
#![cfg_attr(
    test,
    allow(clippy::panic, clippy::unreachable, clippy::indexing_slicing)
)]

pub mod decide;
pub mod event;
pub mod local_time;
pub mod model;
pub mod policy;
pub mod protocol;
pub mod role;
pub mod text;

#[cfg(test)]
pub(crate) mod fixture;
#[cfg(any(test, feature = "test-util"))]
pub mod wire_names;
