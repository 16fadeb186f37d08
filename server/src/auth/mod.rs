//! Operator authentication and authorisation.

pub mod agent;
pub mod extract;
pub mod login;
pub mod password;
pub mod permissions;
pub mod stream_holder;
pub mod throttle;
pub mod tokens;
pub mod visibility;
