//! Visitor management over the API: the visit rules (and the escalation they close),
//! hosts, group and weekly invitations, the lifecycle.

mod expiry;
mod hosts;
mod invitations;
mod notices;
pub(crate) mod photo;
mod rules;
mod screening;
pub(crate) mod support;
