//! A console under test: a `gatehouse serve` (SQLite, in a folder of its own) with its
//! bootstrap admin, an API client logged in as that admin, and a [`Browser`] on it.
//! [`Console::finish`] ends every browser test: no page broke the Content-Security-
//! Policy (the server logs each report as "csp violation").

use crate::api::Api;
use crate::browser::Browser;
use crate::server::ServerProcess;
use crate::wait_until;
use serde_json::json;
use std::time::Duration;
use tempfile::TempDir;

/// The bootstrap admin's password.
pub const ADMIN_PASSWORD: &str = "admin-password-for-the-console";
/// The line the server logs for each CSP violation report.
pub const CSP_VIOLATION: &str = "csp violation";

pub struct Console {
    pub server: ServerProcess,
    pub api: Api,
    /// The admin's API token.
    pub admin: String,
    pub browser: Browser,
    // Last: the server's folder outlives the server.
    pub dir: TempDir,
}

impl Console {
    /// A server with `extra_env` (e.g. `GATEHOUSE__CONSOLE__IDLE_TIMEOUT_S`) and a
    /// browser on it, or `None` when the browser tests are skipped (see `browser`).
    pub async fn start(test: &str, extra_env: &[(&str, &str)]) -> Option<Console> {
        let dir = TempDir::new().expect("a folder for the server");
        let mut env = vec![("GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD)];
        env.extend_from_slice(extra_env);
        let server = ServerProcess::start(dir.path(), &env);
        // The browser starts while the server does.
        let browser = Browser::start(test, &server.base_url).await?;
        let mut server = server;
        server.wait_ready().await;
        let api = server.api();
        let admin = api.token("admin", ADMIN_PASSWORD).await;
        Some(Console {
            server,
            api,
            admin,
            browser,
            dir,
        })
    }

    /// Creates an operator `username` with `role` (`security`, `receptionist`, ...)
    /// through the API; returns the password.
    pub async fn operator(&self, username: &str, role: &str) -> String {
        let password = format!("{username}-password-1");
        let body = json!({"username": username, "password": password, "role": role});
        let response = self.api.post("/operators", &self.admin, &body).await;
        assert_eq!(
            response.status().as_u16(),
            201,
            "create operator {username}"
        );
        password
    }

    /// Creates an operator with `role` and logs the browser in as them.
    pub async fn login_as(&mut self, username: &str, role: &str) {
        let password = self.operator(username, role).await;
        self.browser.login(username, &password).await;
    }

    /// The server's log lines that contain `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.server
            .logs()
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_owned)
            .collect()
    }

    /// Waits until the server logged a line containing `needle`; returns it.
    pub async fn wait_log(&self, needle: &str, timeout: Duration) -> String {
        wait_until(
            timeout,
            &format!("{needle:?} in the server log"),
            async || self.log_lines(needle).into_iter().next(),
        )
        .await
    }

    /// Fails if the server logged any CSP violation report.
    pub fn assert_no_csp_violation(&self) {
        let reports = self.log_lines(CSP_VIOLATION);
        assert!(
            reports.is_empty(),
            "the browser reported CSP violations:\n{}",
            reports.join("\n")
        );
    }

    /// The end of every browser test: the browser is closed, then the server's log must
    /// hold no CSP violation (closing first lets the browser send what it still holds).
    pub async fn finish(self) {
        self.browser.close().await;
        self.assert_no_csp_violation();
    }
}
