//! The `door-agent` binary of this build as a process: `door-agent enroll`, then
//! `door-agent run` ([`AgentProcess`]) with a configuration made by [`agent_config`].

use crate::api::http_client;
use crate::server::{STOP_TIMEOUT, gatehouse_binary, run_to_exit};
use crate::{POLL_INTERVAL, wait_until};
use serde_json::Value;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::time::{Duration, Instant};

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
