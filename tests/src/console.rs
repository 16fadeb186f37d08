//! A console under test: a `gatehouse serve` (SQLite, in a folder of its own) with its
//! bootstrap admin, an API client logged in as that admin, and a [`Browser`] on it.
//! [`Console::finish`] ends every browser test: no page broke the Content-Security-
//! Policy (the server logs each report as "csp violation").

use crate::agent::{AgentProcess, agent_config, enroll_agent};
use crate::api::Api;
use crate::browser::Browser;
use crate::fixture::{OneDoorSite, SecondDoor};
use crate::server::ServerProcess;
use crate::{free_port, wait_until};
use serde_json::{Value, json};
use std::time::Duration;
use tempfile::TempDir;

/// The bootstrap admin's password.
pub const ADMIN_PASSWORD: &str = "admin-password-for-the-console";
/// The reader of [`Console::door_agent`]'s door.
pub const READER: &str = "front";
/// The reader of [`Console::two_door_agent`]'s second door.
pub const LAB_READER: &str = "lab";
/// How long an agent may take to load a policy, or an event to reach the server.
pub const AGENT_WAIT: Duration = Duration::from_secs(30);
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
        Console::start_on_database(test, None, extra_env).await
    }

    /// [`Console::start`] on the database at `database` (e.g. PostgreSQL, shared with
    /// [`Console::replica`]s), or on a SQLite file of its own when `None`.
    pub async fn start_on_database(
        test: &str,
        database: Option<&str>,
        extra_env: &[(&str, &str)],
    ) -> Option<Console> {
        let dir = TempDir::new().expect("a folder for the server");
        let env = server_env(extra_env);
        let database = database.map_or_else(|| crate::database_url(dir.path()), str::to_owned);
        let server = ServerProcess::start_on_database(dir.path(), &database, &env, free_port());
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

    /// Another `gatehouse serve` on the same (PostgreSQL) `database`, with the same
    /// `extra_env`, in a folder of its own under this console's, and ready.
    pub async fn replica(&self, database: &str, extra_env: &[(&str, &str)]) -> ServerProcess {
        let dir = self.dir.path().join(format!("replica-{}", free_port()));
        std::fs::create_dir(&dir).expect("a folder for the replica");
        let env = server_env(extra_env);
        let mut replica = ServerProcess::start_on_database(&dir, database, &env, free_port());
        replica.wait_ready().await;
        replica
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

    /// A [`OneDoorSite`] (unlock 1 s, held-open 1 s) whose person holds `card`, and a
    /// real `door-agent` with simulated hardware serving its door (door state reported
    /// every second), started and holding a policy.
    pub async fn door_agent(&self, card: &str) -> (OneDoorSite, AgentProcess) {
        self.door_agent_of(&self.server, card).await
    }

    /// [`Console::door_agent`] with the agent enrolled at and talking to `server` (e.g.
    /// a [`Console::replica`]).
    pub async fn door_agent_of(
        &self,
        server: &ServerProcess,
        card: &str,
    ) -> (OneDoorSite, AgentProcess) {
        let site = OneDoorSite::create(&self.api, &self.admin, card, door_settings()).await;
        let agent = self.serve(server, &site, &[]).await;
        (site, agent)
    }

    /// [`Console::door_agent`] on a site with a [`SecondDoor`] too, whose reader is
    /// [`LAB_READER`] on the same agent.
    pub async fn two_door_agent(&self, card: &str) -> (OneDoorSite, SecondDoor, AgentProcess) {
        let (site, lab) =
            OneDoorSite::create_two_doors(&self.api, &self.admin, card, door_settings()).await;
        let agent = self
            .serve(&self.server, &site, &[(LAB_READER, &lab.door)])
            .await;
        (site, lab, agent)
    }

    /// Enrols a `door-agent` with simulated hardware at `server` for `site`'s door (and
    /// each further `(reader, door)`), starts it and waits until it holds a policy.
    async fn serve(
        &self,
        server: &ServerProcess,
        site: &OneDoorSite,
        more_readers: &[(&str, &str)],
    ) -> AgentProcess {
        let status_port = free_port();
        let config = self.dir.path().join("door-agent.toml");
        let mut toml = agent_config(
            &server.base_url,
            &self.dir.path().join("agent-state"),
            status_port,
            86_400,
            "simulated",
            (READER, &site.door),
        )
        // Door state reported every second: the door board sees an agent go quiet soon.
        .replace(
            "max_policy_age_s = 86400\n",
            "max_policy_age_s = 86400\nheartbeat_s = 1\n",
        );
        for (reader, door) in more_readers {
            toml.push_str(&format!(
                "\n[[readers]]\nname = \"{reader}\"\ndoor_id = \"{door}\"\n\
                 direction = \"entry\"\n"
            ));
        }
        std::fs::write(&config, toml).expect("write the agent's configuration");
        let enrolled = enroll_agent(&server.base_url, &site.enrollment_code, &config).await;
        assert!(
            enrolled.status.success(),
            "enroll: {}",
            String::from_utf8_lossy(&enrolled.stderr)
        );
        let status_url = format!("http://127.0.0.1:{status_port}");
        let mut agent = AgentProcess::start(self.dir.path(), &config, &status_url);
        agent
            .wait_status(AGENT_WAIT, "a policy", |s| s["policy_version"].is_u64())
            .await;
        agent
    }

    /// The server's policy version now (an agent that reaches it knows every change
    /// made so far).
    pub async fn policy_version(&self) -> u64 {
        let snapshot = self.api.get("/policy/snapshot", &self.admin).await;
        let version = snapshot.headers()["x-policy-version"]
            .to_str()
            .expect("a policy version");
        version.parse().expect("a policy version")
    }

    /// Waits until `agent` holds the server's policy version of now (the last change
    /// made has reached the door); `what` names that change.
    pub async fn wait_agent_current(&self, agent: &mut AgentProcess, what: &str) {
        let version = self.policy_version().await;
        let has = move |s: &Value| s["policy_version"].as_u64() >= Some(version);
        agent.wait_status(AGENT_WAIT, what, has).await;
    }

    /// Waits until the server holds an event matching `pred`.
    pub async fn wait_event(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_until(AGENT_WAIT, what, async || {
            let events = self.api.list_all("/events", &self.admin, 500).await;
            events.into_iter().find(|e| pred(e))
        })
        .await
    }

    /// `GET path` of the API as the admin, expecting 200.
    pub async fn get(&self, path: &str) -> Value {
        crate::expect_json(self.api.get(path, &self.admin).await, 200).await
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

/// The doors of [`Console::door_agent`]: unlocked 1 s, held open after 1 s.
fn door_settings() -> Value {
    json!({"unlock_ms": 1000, "held_open_ms": 1000})
}

/// The bootstrap admin's password, then `extra_env`.
fn server_env<'a>(extra_env: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![("GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD)];
    env.extend_from_slice(extra_env);
    env
}
