//! One module per resource.

pub mod auth;
pub mod health;
pub mod operator_log;
pub mod operators;
