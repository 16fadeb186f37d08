//! Helpers for end-to-end tests: start the real `gatehouse` and `door-agent` binaries
//! and talk to them. One module per reason to change:
//!
//! - `server`: [`ServerProcess`] runs `gatehouse serve` in a folder of its own (a
//!   temporary directory), on ports from [`free_port`] (`ports`), with its logs in a file there;
//!   [`gatehouse`] runs one-shot commands (`operator add`, `migrate`, ...) against the
//!   same database.
//! - `agent`: [`AgentProcess`] runs `door-agent run` with its configuration
//!   ([`agent_config`]), after [`enroll_agent`].
//! - `api`: [`Api`] is a thin HTTP client for the routes the tests call.
//! - `fixture`: [`OneDoorSite`], the smallest site a door agent can serve.
//! - `browser`: [`Browser`], a headless Chromium over WebDriver with axe-core checks;
//!   `console`: [`Console`], a server with a browser on it, for the console's tests.
//! - `admin`: an administrator's set-up through the console's forms (site, zones, door,
//!   a door agent enrolled with the command the page shows).
//! - `live`: [`LiveDoorSite`] and [`DoorStream`], live door state and remote commands.
//! - `visits`: a site with a zone open to visitors and a host, for the visit screens.
//! - `smtp`: [`smtp::SmtpSink`], a real SMTP server (aiosmtpd) that keeps what it gets;
//!   `pdf`: a PDF read back by poppler and zbar (a badge's QR code).
//! - `ports`: [`free_port`]; `memory`: [`memory_mib`], a process's memory for the benches.
//!
//! Waiting is always done by polling with a deadline, through [`wait_until`].

#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod admin;
mod agent;
mod api;
pub mod bench_table;
pub mod browser;
pub mod console;
mod fixture;
mod live;
mod memory;
pub mod pdf;
mod ports;
mod server;
pub mod smtp;
pub mod visits;

pub use agent::{AgentProcess, agent_config, door_agent_binary, enroll_agent, enroll_agent_binary};
pub use api::{Api, expect_json};
pub use browser::Browser;
pub use console::Console;
pub use fixture::{OneDoorSite, SecondDoor};
pub use live::{
    ADMIN_PASSWORD as LIVE_ADMIN_PASSWORD, DoorStream, HEARTBEAT_S, LiveDoorSite, OFFLINE_AFTER_S,
};
pub use memory::memory_mib;
pub use ports::free_port;
pub use server::{
    COMMAND_TIMEOUT, READY_TIMEOUT, STOP_TIMEOUT, ServerProcess, database_url, gatehouse,
    gatehouse_binary, gatehouse_command, run_to_exit,
};

use std::time::{Duration, Instant};

/// Pause between two checks in [`wait_until`].
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Calls `probe` until it returns `Some`, every [`POLL_INTERVAL`]; panics naming `what`
/// when `timeout` passes first.
pub async fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut probe: impl AsyncFnMut() -> Option<T>,
) -> T {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}
