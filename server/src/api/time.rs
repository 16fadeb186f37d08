//! Times in requests. Every body field and query parameter that takes a time is a
//! [`Timestamp`]: RFC 3339, from 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z. Earlier
//! or later times are refused (422 naming the field) rather than stored, because they
//! cannot be answered back as RFC 3339 (`+10000-01-01T…` is not) and no access-control
//! record needs them.
//!
//! The type lives in the wire contract (`gatehouse_core::protocol`), which the door
//! agent shares, so its uploads carry the same type the server checks.

pub use gatehouse_core::protocol::time::{EXPECTED, Timestamp};
