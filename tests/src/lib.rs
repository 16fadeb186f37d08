//! Helpers for end-to-end tests: start the real `gatehouse` binary and talk to it.
//!
//! [`ServerProcess`] runs `gatehouse serve` in a folder of its own (a temporary
//! directory), on ports picked at random, with its logs in a file there. [`gatehouse`]
//! runs one-shot commands (`operator add`, `migrate`, ...) against the same database.
//! [`Api`] is a thin HTTP client for the routes the tests call.
//!
//! Waiting is always done by polling with a deadline, through [`wait_until`].

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::fs::File;
use std::io::{Seek, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer `/readyz` after it is started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to exit after SIGTERM (its shutdown grace is 10 s).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a one-shot command may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two checks in [`wait_until`].
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// The `gatehouse` binary of this build: `target/debug/gatehouse`, next to the `deps`
/// folder that holds the test binary.
pub fn gatehouse_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let binary = exe
        .parent()
        .and_then(Path::parent)
        .expect("the test binary lives in target/<profile>/deps")
        .join(format!("gatehouse{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} does not exist: build it with cargo build --workspace \
         (or cargo build -p gatehouse-server --bin gatehouse)",
        binary.display()
    );
    binary
}

/// A `gatehouse` command that runs in `dir`, with no `GATEHOUSE__*` or `RUST_LOG`
/// variable inherited from the test's environment.
pub fn gatehouse_command(dir: &Path) -> Command {
    let mut command = Command::new(gatehouse_binary());
    command.current_dir(dir).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        let inherited = name.to_string_lossy();
        if inherited.starts_with("GATEHOUSE__") || inherited == "RUST_LOG" {
            command.env_remove(&name);
        }
    }
    command
}

/// The SQLite database the processes of one test share, inside `dir`.
pub fn database_url(dir: &Path) -> String {
    format!("sqlite://{}", dir.join("gatehouse.db").display())
}

/// Runs `command` until it exits (killed after [`COMMAND_TIMEOUT`]), with `stdin` as
/// its standard input, and returns its status and output.
pub async fn run_to_exit(mut command: Command, stdin: Option<&str>) -> Output {
    command
        .stdin(stdin.map_or_else(Stdio::null, input_file))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = tokio::process::Command::from(command)
        .kill_on_drop(true)
        .spawn()
        .expect("start gatehouse");
    tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("gatehouse did not exit within {COMMAND_TIMEOUT:?}"))
        .expect("wait for gatehouse")
}

/// `text` in an anonymous temporary file, to be read as a process's standard input.
fn input_file(text: &str) -> Stdio {
    let mut file = tempfile::tempfile().expect("create a temporary file");
    file.write_all(text.as_bytes()).expect("write the input");
    file.rewind().expect("rewind the input");
    Stdio::from(file)
}

/// Runs a one-shot `gatehouse` command on the database in `dir`, e.g.
/// `gatehouse(dir, &["operator", "list"], None)`.
pub async fn gatehouse(dir: &Path, args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = gatehouse_command(dir);
    command
        .arg("--database-url")
        .arg(database_url(dir))
        .args(args);
    run_to_exit(command, stdin).await
}

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

/// A port that was free a moment ago on 127.0.0.1.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A running `gatehouse serve`. Killed when dropped.
pub struct ServerProcess {
    child: Child,
    /// `http://127.0.0.1:PORT` of the API.
    pub base_url: String,
    /// `http://127.0.0.1:PORT` of the metrics listener.
    pub metrics_url: String,
    /// The folder it runs in; its database is there too.
    pub dir: PathBuf,
    log_path: PathBuf,
}

impl ServerProcess {
    /// Starts `gatehouse serve` in `dir` on the database [`database_url`]`(dir)`, with
    /// `extra_env` set (e.g. `GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD`). Each start logs to
    /// a new file in `dir`. Does not wait: see [`ServerProcess::wait_ready`].
    pub fn start(dir: &Path, extra_env: &[(&str, &str)]) -> ServerProcess {
        ServerProcess::start_on(dir, extra_env, free_port())
    }

    /// [`ServerProcess::start`] on API port `api_port` (to restart a server where its
    /// clients expect it).
    pub fn start_on(dir: &Path, extra_env: &[(&str, &str)], api_port: u16) -> ServerProcess {
        let metrics_port = free_port();
        let log_path = new_log_path(dir);
        let log = File::create(&log_path).expect("create the server log");
        let mut command = gatehouse_command(dir);
        command
            .arg("--database-url")
            .arg(database_url(dir))
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{api_port}"))
            .arg("--metrics-listen")
            .arg(format!("127.0.0.1:{metrics_port}"))
            .envs(extra_env.iter().copied())
            .stdout(log.try_clone().expect("share the server log"))
            .stderr(log);
        ServerProcess {
            child: command.spawn().expect("start gatehouse serve"),
            base_url: format!("http://127.0.0.1:{api_port}"),
            metrics_url: format!("http://127.0.0.1:{metrics_port}"),
            dir: dir.to_owned(),
            log_path,
        }
    }

    /// [`ServerProcess::start`], then [`ServerProcess::wait_ready`].
    pub async fn start_ready(dir: &Path, extra_env: &[(&str, &str)]) -> ServerProcess {
        let mut server = ServerProcess::start(dir, extra_env);
        server.wait_ready().await;
        server
    }

    /// Waits until `/readyz` answers 200; panics with the logs if the process exits or
    /// [`READY_TIMEOUT`] passes.
    pub async fn wait_ready(&mut self) {
        let client = http_client();
        let url = format!("{}/readyz", self.base_url);
        wait_until(READY_TIMEOUT, &format!("{url} to answer 200"), async || {
            if let Some(status) = self.child.try_wait().expect("poll the server process") {
                panic!(
                    "gatehouse exited ({status}) before it was ready; its log:\n{}",
                    self.logs()
                );
            }
            let response = client.get(&url).send().await.ok()?;
            (response.status() == reqwest::StatusCode::OK).then_some(())
        })
        .await;
    }

    /// A client for this server's API.
    pub fn api(&self) -> Api {
        Api::new(&self.base_url)
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the process with SIGKILL (no chance to clean up) and reaps it.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL the server");
        self.child.wait().expect("reap the server");
    }

    /// Sends SIGTERM and waits up to [`STOP_TIMEOUT`] for the process to exit.
    pub async fn stop(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.pid().to_string())
            .status()
            .expect("run kill -TERM");
        assert!(sent.success(), "kill -TERM {} failed: {sent}", self.pid());
        let child = &mut self.child;
        wait_until(
            STOP_TIMEOUT,
            "the server to exit after SIGTERM",
            async || child.try_wait().expect("poll the server process"),
        )
        .await
    }

    /// Everything the process wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).expect("read the server log")
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `server-N.log` in `dir`, for the first N not yet used.
fn new_log_path(dir: &Path) -> PathBuf {
    (1..)
        .map(|n| dir.join(format!("server-{n}.log")))
        .find(|path| !path.exists())
        .expect("a free log file name")
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("build the HTTP client")
}

/// The API of one server, under `/api/v1`.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    base_url: String,
}

impl Api {
    pub fn new(base_url: &str) -> Api {
        Api::with_client(base_url, http_client())
    }

    /// An API client sending through `client` (e.g. one that trusts only a test's own
    /// TLS certificate).
    pub fn with_client(base_url: &str, client: reqwest::Client) -> Api {
        Api {
            client,
            base_url: format!("{base_url}/api/v1"),
        }
    }

    /// `POST /auth/login`, whatever the answer.
    pub async fn login(&self, username: &str, password: &str) -> reqwest::Response {
        let body = serde_json::json!({ "username": username, "password": password });
        self.send(self.client.post(self.url("/auth/login")).json(&body))
            .await
    }

    /// Logs in and returns the access token; panics unless the login succeeds.
    pub async fn token(&self, username: &str, password: &str) -> String {
        let response = self.login(username, password).await;
        let body = expect_json(response, 200).await;
        assert_eq!(body["token_type"], "Bearer", "{body}");
        body["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// `GET path` with `token` as bearer.
    pub async fn get(&self, path: &str, token: &str) -> reqwest::Response {
        self.send(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    /// `POST path` with a JSON body and `token` as bearer.
    /// POSTs and expects 201 Created; returns the new record.
    pub async fn created(&self, token: &str, path: &str, body: Value) -> Value {
        expect_json(self.post(path, token, &body).await, 201).await
    }

    pub async fn post(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// `PATCH path` with a JSON body and `token` as bearer.
    pub async fn patch(&self, path: &str, token: &str, body: &Value) -> reqwest::Response {
        self.send(
            self.client
                .patch(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    /// Every item of a paginated list, fetched `limit` at a time by following
    /// `next_cursor`.
    pub async fn list_all(&self, path: &str, token: &str, limit: u32) -> Vec<Value> {
        let mut items = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut query = vec![("limit", limit.to_string())];
            query.extend(cursor.take().map(|c| ("cursor", c)));
            let request = self
                .client
                .get(self.url(path))
                .bearer_auth(token)
                .query(&query);
            let page = expect_json(self.send(request).await, 200).await;
            let page_items = page["items"].as_array().expect("items");
            let page_len = u32::try_from(page_items.len()).expect("page length");
            assert!(
                page_len <= limit,
                "{path}: {page_len} items in a page of {limit}"
            );
            items.extend(page_items.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = Some(next.to_owned()),
                None => return items,
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> reqwest::Response {
        request.send().await.expect("send the request")
    }
}

/// The JSON body of `response`, after checking its status.
pub async fn expect_json(response: reqwest::Response, status: u16) -> Value {
    let (url, actual) = (response.url().clone(), response.status());
    let text = response.text().await.expect("read the response body");
    assert_eq!(actual.as_u16(), status, "{url} answered {actual}: {text}");
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{url} answered non-JSON ({e}): {text}"))
}

/// The `door-agent` binary of this build, next to `gatehouse` (see [`gatehouse_binary`]).
pub fn door_agent_binary() -> PathBuf {
    let binary =
        gatehouse_binary().with_file_name(format!("door-agent{}", std::env::consts::EXE_SUFFIX));
    assert!(
        binary.is_file(),
        "{} does not exist: build it with cargo build --workspace",
        binary.display()
    );
    binary
}

/// A running `door-agent run` with the simulated reader: its standard input is a pipe
/// the test writes card lines (`<reader> <hex-card>`) and door commands (`contact
/// <door-id> open|closed`) to; its `/status` is polled to observe the relay. Killed
/// when dropped.
pub struct AgentProcess {
    child: Child,
    /// `http://127.0.0.1:PORT` of the status endpoint.
    pub status_url: String,
    log_path: PathBuf,
}

impl AgentProcess {
    /// Starts `door-agent run --config <config>` in `dir`, its log in a new file there.
    pub fn start(dir: &Path, config: &Path, status_url: &str) -> AgentProcess {
        Self::start_binary(&door_agent_binary(), dir, config, status_url)
    }

    /// [`AgentProcess::start`] with another build of the agent (e.g. one with PC/SC).
    pub fn start_binary(
        binary: &Path,
        dir: &Path,
        config: &Path,
        status_url: &str,
    ) -> AgentProcess {
        let log_path = (1..)
            .map(|n| dir.join(format!("agent-{n}.log")))
            .find(|path| !path.exists())
            .expect("a free log file name");
        let log = File::create(&log_path).expect("create the agent log");
        let child = Command::new(binary)
            .arg("run")
            .arg("--config")
            .arg(config)
            .current_dir(dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::piped())
            .stdout(log.try_clone().expect("share the agent log"))
            .stderr(log)
            .spawn()
            .expect("start door-agent run");
        AgentProcess {
            child,
            status_url: status_url.to_owned(),
            log_path,
        }
    }

    /// Writes one line to the agent's standard input.
    pub fn send_line(&mut self, line: &str) {
        let stdin = self.child.stdin.as_mut().expect("the agent's stdin");
        writeln!(stdin, "{line}").expect("write to the agent's stdin");
        stdin.flush().expect("flush the agent's stdin");
    }

    /// `GET /status`, or `None` while the endpoint does not answer.
    pub async fn status(&self) -> Option<Value> {
        let response = http_client()
            .get(format!("{}/status", self.status_url))
            .send()
            .await
            .ok()?;
        response.json().await.ok()
    }

    /// Waits until `/status` answers and satisfies `cond`; returns that status. Panics
    /// with the agent's log after `timeout`, or if the agent exits.
    pub async fn wait_status(
        &mut self,
        timeout: Duration,
        what: &str,
        cond: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("poll the agent") {
                panic!("door-agent exited ({status}); its log:\n{}", self.logs());
            }
            if let Some(s) = self.status().await
                && cond(&s)
            {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "timed out after {timeout:?} waiting for {what}; agent log:\n{}",
                self.logs()
            );
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// Kills the agent with SIGKILL and reaps it.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL the agent");
        self.child.wait().expect("reap the agent");
    }

    /// Sends SIGTERM and waits for the agent to exit.
    pub async fn stop(&mut self) -> ExitStatus {
        let sent = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("run kill -TERM");
        assert!(sent.success());
        let child = &mut self.child;
        wait_until(
            STOP_TIMEOUT,
            "the agent to exit after SIGTERM",
            async || child.try_wait().expect("poll the agent"),
        )
        .await
    }

    /// Everything the agent wrote to stdout and stderr so far.
    pub fn logs(&self) -> String {
        std::fs::read_to_string(&self.log_path).expect("read the agent log")
    }
}

impl Drop for AgentProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A site with one door from a lobby (level 0) into an office (level 1), a person whose
/// card may enter the office, and an agent registered for the door.
pub struct OneDoorSite {
    pub door: String,
    pub credential: String,
    pub enrollment_code: String,
}

impl OneDoorSite {
    /// Creates it through the API; `door_settings` adds fields to the door (e.g. its
    /// unlock and held-open times).
    pub async fn create(api: &Api, admin: &str, card: &str, door_settings: Value) -> OneDoorSite {
        let site = api
            .created(admin, "/sites", json!({"name": "HQ", "timezone": "UTC"}))
            .await;
        let zone =
            |name: &str, level: u8| json!({"site_id": site["id"], "name": name, "level": level});
        let lobby = api.created(admin, "/zones", zone("Lobby", 0)).await;
        let office = api.created(admin, "/zones", zone("Office", 1)).await;
        let mut door =
            json!({"name": "Front", "from_zone_id": lobby["id"], "to_zone_id": office["id"]});
        if let (Some(door), Some(settings)) = (door.as_object_mut(), door_settings.as_object()) {
            door.extend(settings.clone());
        }
        let door = api.created(admin, "/doors", door).await;
        let person = api
            .created(
                admin,
                "/people",
                json!({"name": "Alice", "kind": "staff", "clearance": 1}),
            )
            .await;
        let credential = api
            .created(
                admin,
                "/credentials",
                json!({"person_id": person["id"], "card": card}),
            )
            .await;
        api.created(
            admin,
            "/grants",
            json!({"person_id": person["id"], "zone_id": office["id"]}),
        )
        .await;
        let agent = api
            .created(
                admin,
                "/agents",
                json!({"name": "front door", "door_ids": [door["id"]]}),
            )
            .await;
        let text = |v: &Value| v.as_str().unwrap().to_owned();
        OneDoorSite {
            door: text(&door["id"]),
            credential: text(&credential["id"]),
            enrollment_code: text(&agent["enrollment_code"]),
        }
    }
}

/// Runs `door-agent enroll --server URL --code CODE --config CONFIG` to its end.
pub async fn enroll_agent(url: &str, code: &str, config: &Path) -> Output {
    enroll_agent_binary(&door_agent_binary(), url, code, config).await
}

/// [`enroll_agent`] with another build of the agent.
pub async fn enroll_agent_binary(binary: &Path, url: &str, code: &str, config: &Path) -> Output {
    let mut enroll = Command::new(binary);
    enroll
        .args(["enroll", "--server", url, "--code", code, "--config"])
        .arg(config);
    run_to_exit(enroll, None).await
}

/// A test agent's configuration file: plain HTTP to `server_url` (loopback), state and
/// credential in `state_dir`, status on `127.0.0.1:status_port`, the given reader kind
/// (`simulated` or `pcsc`) and one entry reader for `door`.
pub fn agent_config(
    server_url: &str,
    state_dir: &Path,
    status_port: u16,
    max_policy_age_s: u64,
    reader_kind: &str,
    (reader, door): (&str, &str),
) -> String {
    format!(
        "[server]\nurl = \"{server_url}\"\nallow_plain_http = true\n\n\
         [agent]\ncredential_file = \"{state}/credential.json\"\nstate_dir = \"{state}\"\n\
         max_policy_age_s = {max_policy_age_s}\n\n\
         [status]\nlisten = \"127.0.0.1:{status_port}\"\n\n\
         [reader]\nkind = \"{reader_kind}\"\n\n\
         [[readers]]\nname = \"{reader}\"\ndoor_id = \"{door}\"\ndirection = \"entry\"\n",
        state = state_dir.display(),
    )
}
