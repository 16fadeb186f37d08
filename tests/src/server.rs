//! The `gatehouse` binary of this build as a process: `gatehouse serve` in a folder of
//! its own ([`ServerProcess`]) and one-shot commands on the same database
//! ([`gatehouse`]).

use crate::api::{Api, http_client};
use crate::{free_port, wait_until};
use std::fs::File;
use std::io::{Seek, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::Duration;

/// How long a server may take to answer `/readyz` after it is started.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may take to exit after SIGTERM (its shutdown grace is 10 s).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a one-shot command may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

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
        ServerProcess::start_on_database(dir, &database_url(dir), extra_env, api_port)
    }

    /// [`ServerProcess::start_on`] with the database at `database` (e.g. a PostgreSQL
    /// database that several servers share) instead of the one in `dir`.
    pub fn start_on_database(
        dir: &Path,
        database: &str,
        extra_env: &[(&str, &str)],
        api_port: u16,
    ) -> ServerProcess {
        let metrics_port = free_port();
        let log_path = new_log_path(dir);
        let log = File::create(&log_path).expect("create the server log");
        let mut command = gatehouse_command(dir);
        command
            .arg("--database-url")
            .arg(database)
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
