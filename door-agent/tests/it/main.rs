//! The door agent's integration tests, in one test binary: the command line (`cli`),
//! policy deltas and card keys against stub servers (`policy_delta`, `card_keys`) always; with the `pcsc`
//! feature, the PC/SC reader against real pcscd and the
//! project's virtual card (`pcsc`) and the real agent process reading through it
//! (`agent_pcsc`), and the virtual DESFire card read over PC/SC by the crate's reader
//! side and by python-desfire (`desfire_pcsc`). Users of pcscd in this process take
//! `support::pcscd`'s one lock, so the PC/SC tests of all modules run one at a time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod card_keys;
mod cli;
mod policy_delta;

#[cfg(feature = "pcsc")]
mod agent_pcsc;
#[cfg(feature = "pcsc")]
mod desfire_pcsc;
#[cfg(feature = "pcsc")]
mod pcsc;
#[cfg(feature = "pcsc")]
mod secure_e2e;
#[cfg(feature = "pcsc")]
mod support;
