//! Helpers for end-to-end tests: start the real `gatehouse` binary and talk to it.
