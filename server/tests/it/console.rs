//! The web console over HTTP (no browser; the browser tests are in the e2e crate):
//! sessions, the page × role matrix, cross-site refusal, headers, escaping, and that
//! console actions reach the operator log like the API's.

mod admin_accounts;
mod admin_model;
mod admin_people;
pub mod client;
mod doors;
mod events;
mod forms;
mod kiosk;
mod matrix;
mod reports;
mod sessions;
mod visitor_photo;
mod visits;
