//! One module per resource.

pub mod auth;
pub mod health;
pub mod operator_log;
pub mod operators;
// site model routes (sites, zones, doors, schedules)
// people model routes (people, credentials, groups, grants, visits)
