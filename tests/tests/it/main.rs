//! The end-to-end tests, in one test binary: the real `gatehouse` and `door-agent`
//! binaries started as processes (see the `gatehouse_e2e` library). Each module is a
//! former binary of its own, kept whole: the server process (`server_process`), its
//! CLI (`audit_cli`, `import_cli`), the agent against the server (`agent_e2e`) and both
//! over TLS (`tls_e2e`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod agent_e2e;
mod agent_pin_e2e;
mod audit_cli;
mod card_keys_e2e;
mod console_admin_model;
mod console_admin_people;
mod console_alarms;
mod console_audit;
mod console_csrf;
mod console_documents;
mod console_doors;
mod console_escaping;
mod console_events;
mod console_host_arrival;
mod console_kiosk;
mod console_lockdown;
mod console_muster;
mod console_notifications;
mod console_pages;
mod console_reception_journey;
mod console_replicas;
mod console_roles;
mod console_screening;
mod console_session;
mod console_visits;
mod door_live_e2e;
mod import_cli;
mod readme_screenshots;
mod server_process;
mod tls_e2e;
