//! A real server with one door, and this build's `door-agent` (with PC/SC) enrolled for
//! it, reading vpcd's first reader as the door's entry reader. Shared by the agent's
//! PC/SC end-to-end test and the card → relay benchmark.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use gatehouse_e2e::{
    AgentProcess, Api, OneDoorSite, ServerProcess, agent_config, enroll_agent_binary, free_port,
};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

const ADMIN_PASSWORD: &str = "admin-password-for-pcsc-e2e";
/// How long the agent may take to show a state the test waits for.
pub const WAIT: Duration = Duration::from_secs(30);

pub struct PcscSite {
    pub dir: TempDir,
    pub server: ServerProcess,
    pub api: Api,
    pub admin: String,
    pub door: String,
    /// The site's and the card holder's ids.
    pub site_id: String,
    pub person_id: String,
    config: PathBuf,
    status_url: String,
}

impl PcscSite {
    /// The site, with `card_hex` allowed through the door (unlock time 1 s), and the
    /// agent enrolled with `reader` as its entry reader (not yet running).
    pub async fn create(card_hex: &str, reader: &str) -> PcscSite {
        let dir = TempDir::new().unwrap();
        let bootstrap = ("GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD);
        let server = ServerProcess::start_ready(dir.path(), &[bootstrap]).await;
        let api = server.api();
        let admin = api.token("admin", ADMIN_PASSWORD).await;
        let one = OneDoorSite::create(&api, &admin, card_hex, json!({"unlock_ms": 1000})).await;
        let status_port = free_port();
        let config = dir.path().join("door-agent.toml");
        let toml = agent_config(
            &server.base_url,
            &dir.path().join("agent-state"),
            status_port,
            86_400,
            "pcsc",
            (reader, &one.door),
        );
        std::fs::write(&config, toml).unwrap();
        let output = enroll_agent_binary(
            agent_binary(),
            &server.base_url,
            &one.enrollment_code,
            &config,
        )
        .await;
        assert!(
            output.status.success(),
            "enroll failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        PcscSite {
            dir,
            server,
            api,
            admin,
            door: one.door,
            site_id: one.site,
            person_id: one.person,
            config,
            status_url: format!("http://127.0.0.1:{status_port}"),
        }
    }

    /// Starts the agent and waits until it has a policy and its reader is attached.
    pub async fn start_agent(&self, reader: &str) -> AgentProcess {
        let mut agent = AgentProcess::start_binary(
            agent_binary(),
            self.dir.path(),
            &self.config,
            &self.status_url,
        );
        agent
            .wait_status(WAIT, "a policy and the reader attached", |s| {
                s["policy_version"].is_u64() && reader_attached(s, reader) == Some(true)
            })
            .await;
        agent
    }

    /// The zone the door leads into.
    pub async fn door_zone(&self) -> String {
        let door = self
            .api
            .get(&format!("/doors/{}", self.door), &self.admin)
            .await;
        let door: Value = door.json().await.unwrap();
        door["to_zone_id"].as_str().unwrap().to_owned()
    }

    /// The server's presentations of `card`, in arrival order.
    pub async fn presentations(&self, card_hex: &str) -> Vec<Value> {
        self.api
            .list_all("/events", &self.admin, 500)
            .await
            .into_iter()
            .filter(|e| e["kind"] == "presentation" && e["card"] == card_hex)
            .collect()
    }
}

/// This build's agent binary: the one cargo built for these tests (with `pcsc`).
fn agent_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_door-agent"))
}

/// Whether `/status` shows `reader` attached (`None`: not known yet).
pub fn reader_attached(status: &Value, reader: &str) -> Option<bool> {
    status["readers"]
        .as_array()?
        .iter()
        .find(|r| r["name"] == reader)?["attached"]
        .as_bool()
}

/// Relay moves since the agent started.
pub fn relay_changes(status: &Value) -> u64 {
    status["relay_changes"].as_u64().unwrap()
}
