//! Operator authentication and authorisation.

pub mod agent;
pub mod extract;
pub mod password;
pub mod permissions;
pub mod throttle;
pub mod tokens;
pub mod visibility;
