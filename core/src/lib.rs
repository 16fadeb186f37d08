//! Types shared by the Gatehouse server and door agent. This crate does no I/O, so the
//! agent at the door and the server answering "why not?" run the very same code.
//!
//! - [`model`]: the policy records (sites, zones, doors, people, credentials, ...).
//! - [`policy`]: the compiled, indexed policy and its signed snapshot.
//! - [`decide`]: the access decision engine.
//! - [`protocol`]: the door agent ↔ server wire contract.

pub mod decide;
pub mod event;
pub mod model;
pub mod policy;
pub mod protocol;
pub mod role;
pub mod text;

#[cfg(test)]
pub(crate) mod fixture;
