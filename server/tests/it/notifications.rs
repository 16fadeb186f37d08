//! Notifications (issue 13 item 3): the outbox on both databases, and delivery by the
//! running server to a real SMTP server (aiosmtpd) and a real HTTP receiver that checks
//! the webhook signature with its own code.

mod console;
mod delivery;
mod outbox;
mod support;
