//! Live doors end to end: a server whose agents count as offline after
//! [`OFFLINE_AFTER_S`], one door with an enrolled agent reporting every second
//! ([`LiveDoorSite`]), and a reader of the door status stream ([`DoorStream`]). Shared
//! by the end-to-end test and the latency bench.

use crate::agent::{AgentProcess, agent_config, enroll_agent};
use crate::api::Api;
use crate::fixture::OneDoorSite;
use crate::free_port;
use crate::server::ServerProcess;
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `alarms.agent_offline_after_s` of the live-door server (the smallest it accepts).
pub const OFFLINE_AFTER_S: u64 = 5;
/// The agents' `agent.heartbeat_s`.
pub const HEARTBEAT_S: u64 = 1;
pub const ADMIN_PASSWORD: &str = "admin-password-for-live-doors";

/// A server, a door, and its agent enrolled (configured, not started).
pub struct LiveDoorSite {
    pub server: ServerProcess,
    pub api: Api,
    pub admin: String,
    pub door: String,
    /// The person holding the site's card (granted the door's zone).
    pub person: String,
    pub config: PathBuf,
    pub status_url: String,
    dir: PathBuf,
}

impl LiveDoorSite {
    /// Creates it in `dir`; the door releases for 1 s on a grant.
    pub async fn create(dir: &Path) -> LiveDoorSite {
        LiveDoorSite::create_with(dir, &[]).await
    }

    /// Creates it with more server settings in the environment (`GATEHOUSE__...`).
    pub async fn create_with(dir: &Path, more_env: &[(&str, &str)]) -> LiveDoorSite {
        let offline = OFFLINE_AFTER_S.to_string();
        let mut env = vec![
            ("GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("GATEHOUSE__ALARMS__AGENT_OFFLINE_AFTER_S", offline.as_str()),
        ];
        env.extend_from_slice(more_env);
        let server = ServerProcess::start_ready(dir, &env).await;
        let api = server.api();
        let admin = api.token("admin", ADMIN_PASSWORD).await;
        let one = OneDoorSite::create(
            &api,
            &admin,
            "04A1B2C3D4E5F6",
            json!({"unlock_ms": 1000, "held_open_ms": 30000}),
        )
        .await;
        let status_port = free_port();
        let state = dir.join("agent-state");
        let config = dir.join("door-agent.toml");
        let text = agent_config(
            &server.base_url,
            &state,
            status_port,
            86_400,
            "simulated",
            ("front", &one.door),
        )
        .replace(
            "max_policy_age_s = 86400\n",
            &format!("max_policy_age_s = 86400\nheartbeat_s = {HEARTBEAT_S}\n"),
        );
        std::fs::write(&config, text).expect("write the agent configuration");
        let enrolled = enroll_agent(&server.base_url, &one.enrollment_code, &config).await;
        assert!(
            enrolled.status.success(),
            "enroll failed: {}",
            String::from_utf8_lossy(&enrolled.stderr)
        );
        LiveDoorSite {
            server,
            api,
            admin,
            door: one.door,
            person: one.person,
            config,
            status_url: format!("http://127.0.0.1:{status_port}"),
            dir: dir.to_owned(),
        }
    }

    pub fn start_agent(&self) -> AgentProcess {
        AgentProcess::start(&self.dir, &self.config, &self.status_url)
    }

    /// This site's door on `GET /doors/status`.
    pub async fn door_status(&self) -> Value {
        let board = self.api.get("/doors/status", &self.admin).await;
        let board: Value = board.json().await.expect("the door board");
        board["doors"]
            .as_array()
            .and_then(|doors| doors.iter().find(|d| d["door_id"] == self.door.as_str()))
            .cloned()
            .expect("the door on the board")
    }

    /// Opens the status stream as `token`.
    pub async fn stream(&self, token: &str) -> DoorStream {
        let response = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/doors/status/stream",
                self.server.base_url
            ))
            .bearer_auth(token)
            .send()
            .await
            .expect("connect to the door stream");
        assert_eq!(response.status(), reqwest::StatusCode::OK);
        DoorStream {
            response,
            buffer: String::new(),
        }
    }
}

/// A reader of `GET /doors/status/stream`.
pub struct DoorStream {
    response: reqwest::Response,
    buffer: String,
}

impl DoorStream {
    /// The next `door` event's data; `None` when the stream ends (after 25 s) or nothing
    /// comes within `within`.
    pub async fn next_door(&mut self, within: Duration) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = "";
                let mut data = String::new();
                for line in block.lines() {
                    match line.split_once(':') {
                        Some(("event", v)) => event = v.trim(),
                        Some(("data", v)) => data.push_str(v.strip_prefix(' ').unwrap_or(v)),
                        _ => {}
                    }
                }
                if event == "door" {
                    return serde_json::from_str(&data).ok();
                }
                continue;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            match chunk {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// Reads `door` events until one satisfies `cond`; `None` after `within`.
    pub async fn wait_door(
        &mut self,
        within: Duration,
        cond: impl Fn(&Value) -> bool,
    ) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let door = self.next_door(left).await?;
            if cond(&door) {
                return Some(door);
            }
        }
    }
}
