//! The agent's configuration file (`config/door-agent.toml` documents every key).
//!
//! Read with figment from one TOML file; unknown keys are refused and every error names
//! the key. Values serde cannot check (plain HTTP only to loopback, reader names, the
//! hardware section) are checked by [`AgentConfig::validate`].

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Format, Toml};
use serde::{Deserialize, Serialize};

use crate::door::HardwareConfig;
use crate::reader::{ReaderConfig, ReaderMap};

/// The whole file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    /// `[server]`: where the Gatehouse server is and how to reach it.
    #[serde(default)]
    pub server: ServerConfig,
    /// `[agent]`: files the agent keeps and its policy age limit.
    #[serde(default)]
    pub agent: AgentSection,
    /// `[status]`: the local status endpoint.
    #[serde(default)]
    pub status: StatusConfig,
    /// `[reader]`: which card reader implementation.
    #[serde(default)]
    pub reader: ReaderKindConfig,
    /// `[[readers]]`: each reader's door and direction.
    #[serde(default)]
    pub readers: Vec<ReaderConfig>,
    /// `[hardware]`: lock, door contact and exit button.
    #[serde(default)]
    pub hardware: HardwareConfig,
    /// `[keypad]`: PIN keypads and the PIN timeout.
    #[serde(default)]
    pub keypad: crate::reader::keypad::KeypadConfig,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Base URL of the server (without `/api/v1`).
    pub url: String,
    /// Allow `http://`; even then only to a loopback address.
    pub allow_plain_http: bool,
    /// PEM file of the certificate (or CA) the server's TLS certificate must chain to.
    /// When set, it is the only trusted root (pinning).
    pub ca_cert: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            url: "http://127.0.0.1:8080".into(),
            allow_plain_http: false,
            ca_cert: None,
        }
    }
}

/// `[agent]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentSection {
    /// The credential written by `door-agent enroll` (mode 0600).
    pub credential_file: PathBuf,
    /// Journal directory and last good policy snapshot live here.
    pub state_dir: PathBuf,
    /// Seconds since the policy was last confirmed current beyond which entries are
    /// denied (exits stay free) and `policy_stale` is raised.
    pub max_policy_age_s: u64,
    /// Seconds without an answer from the server's presence feed (who is inside where)
    /// beyond which hard anti-passback is applied as soft and `presence_unconfirmed` is
    /// journalled.
    pub presence_max_age_s: u64,
    /// Records per upload (1 to 1000).
    pub upload_batch: usize,
    /// Seconds between door-state reports when nothing changes (1 to 60): the heartbeat
    /// that keeps the agent online at the server. A change is reported at once.
    pub heartbeat_s: u64,
}

impl Default for AgentSection {
    fn default() -> Self {
        AgentSection {
            credential_file: "/var/lib/gatehouse-agent/credential.json".into(),
            state_dir: "/var/lib/gatehouse-agent".into(),
            max_policy_age_s: 86_400,
            presence_max_age_s: 60,
            upload_batch: 1_000,
            heartbeat_s: 5,
        }
    }
}

/// `[status]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StatusConfig {
    /// Where `/healthz` and `/status` listen; must be a loopback address.
    pub listen: SocketAddr,
}

impl Default for StatusConfig {
    fn default() -> Self {
        StatusConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9100)),
        }
    }
}

/// `[reader]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReaderKindConfig {
    /// `simulated` (lines on standard input) or `pcsc` (needs the `pcsc` feature).
    pub kind: ReaderKind,
}

/// The card reader implementation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReaderKind {
    /// `<reader-name> <hex-card>` lines on standard input, plus `contact <door-id>
    /// open|closed` and `exit <door-id>` lines driving the simulated door.
    #[default]
    Simulated,
    /// pcsc-lite.
    Pcsc,
}

/// A configuration that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl AgentConfig {
    /// Reads and validates `path`.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let config: AgentConfig = Figment::new()
            .merge(Toml::file_exact(path))
            .extract()
            .map_err(|e| {
                let messages: Vec<String> = e.into_iter().map(|e| e.to_string()).collect();
                ConfigError(format!("{}: {}", path.display(), messages.join("; ")))
            })?;
        config.validate()?;
        Ok(config)
    }

    /// Checks `server.url` against `server.allow_plain_http` (by `run`, which talks to
    /// it; `enroll` checks its `--server` argument instead).
    pub fn check_server(&self) -> Result<reqwest::Url, ConfigError> {
        check_server_url(&self.server.url, self.server.allow_plain_http)
            .map_err(|e| ConfigError(format!("server.url: {e}")))
    }

    /// Checks what serde cannot.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !self.status.listen.ip().is_loopback() {
            return Err(ConfigError(format!(
                "status.listen = {}: must be a loopback address",
                self.status.listen
            )));
        }
        if self.agent.max_policy_age_s == 0 {
            return Err(ConfigError(
                "agent.max_policy_age_s: must be at least 1".into(),
            ));
        }
        if self.agent.presence_max_age_s == 0 {
            return Err(ConfigError(
                "agent.presence_max_age_s: must be at least 1".into(),
            ));
        }
        if !(1..=1000).contains(&self.agent.upload_batch) {
            return Err(ConfigError(
                "agent.upload_batch: must be between 1 and 1000".into(),
            ));
        }
        if !(1..=60).contains(&self.agent.heartbeat_s) {
            return Err(ConfigError(
                "agent.heartbeat_s: must be between 1 and 60".into(),
            ));
        }
        ReaderMap::new(self.readers.clone()).map_err(|e| ConfigError(format!("readers: {e}")))?;
        // Reader names reach the server in every event and are read by people there.
        for reader in &self.readers {
            let lines = gatehouse_core::text::Lines::Single;
            if let Some(problem) = gatehouse_core::text::text_problem(&reader.name, 64, lines) {
                return Err(ConfigError(format!(
                    "readers.name {:?}: {problem}",
                    reader.name
                )));
            }
        }
        (self
            .keypad
            .validate(self.readers.iter().map(|r| r.name.as_str())))
        .map_err(ConfigError)?;
        self.hardware
            .validate()
            .map_err(|e| ConfigError(e.to_string()))?;
        if self.reader.kind == ReaderKind::Pcsc && !cfg!(feature = "pcsc") {
            return Err(ConfigError(
                "reader.kind = \"pcsc\": this build has no PC/SC support (cargo feature `pcsc`)"
                    .into(),
            ));
        }
        if matches!(self.hardware, HardwareConfig::Gpio(_)) && !cfg!(feature = "gpio") {
            return Err(ConfigError(
                "hardware.kind = \"gpio\": this build has no GPIO support (cargo feature `gpio`)"
                    .into(),
            ));
        }
        Ok(())
    }
}

/// `https://` anywhere; `http://` only when allowed and only to a loopback address.
pub fn check_server_url(url: &str, allow_plain_http: bool) -> Result<reqwest::Url, String> {
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("{url:?} is not a URL ({e})"))?;
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" => {
            if !allow_plain_http {
                return Err(format!(
                    "{url:?} is plain HTTP; use https, or set server.allow_plain_http = true \
                     (accepted only for a loopback address)"
                ));
            }
            let host = parsed.host_str().unwrap_or_default();
            let host = host.trim_start_matches('[').trim_end_matches(']');
            let loopback = host.eq_ignore_ascii_case("localhost")
                || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
            if loopback {
                Ok(parsed)
            } else {
                Err(format!(
                    "{url:?}: plain HTTP is accepted only to a loopback address (127.0.0.0/8, ::1, localhost)"
                ))
            }
        }
        other => Err(format!("{url:?}: scheme {other:?} is not http or https")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_when_allowed_and_loopback() {
        assert!(check_server_url("https://gatehouse.example", false).is_ok());
        assert!(check_server_url("http://127.0.0.1:8080", false).is_err());
        assert!(check_server_url("http://127.0.0.1:8080", true).is_ok());
        assert!(check_server_url("http://localhost:8080", true).is_ok());
        assert!(check_server_url("http://[::1]:8080", true).is_ok());
        assert!(check_server_url("http://10.0.0.5:8080", true).is_err());
        assert!(check_server_url("http://gatehouse.example", true).is_err());
        assert!(check_server_url("ftp://127.0.0.1", true).is_err());
    }

    #[test]
    fn gpio_hardware_is_accepted_only_by_a_build_with_the_feature() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(
            &path,
            "[hardware]\nkind = \"gpio\"\nrelay_pin = 17\nrelay_active_high = false\n\
             fail_mode = \"fail_secure\"\ncontact_pin = 27\n",
        )
        .unwrap();
        let loaded = AgentConfig::load(&path);
        if cfg!(feature = "gpio") {
            let hardware = loaded.map(|c| c.hardware);
            assert!(
                matches!(hardware, Ok(HardwareConfig::Gpio(_))),
                "{hardware:?}"
            );
        } else {
            let e = loaded.unwrap_err().to_string();
            assert!(e.contains("cargo feature `gpio`"), "{e}");
        }
    }

    #[test]
    fn the_heartbeat_is_bounded_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        for (value, ok) in [(0, false), (1, true), (60, true), (61, false)] {
            std::fs::write(&path, format!("[agent]\nheartbeat_s = {value}\n")).unwrap();
            let loaded = AgentConfig::load(&path);
            assert_eq!(loaded.is_ok(), ok, "{value}: {loaded:?}");
            if let Err(e) = loaded {
                assert!(e.to_string().contains("agent.heartbeat_s"), "{e}");
            }
        }
    }

    #[test]
    fn unknown_keys_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.toml");
        std::fs::write(&path, "[agent]\nmax_policy_age = 3\n").unwrap();
        let e = AgentConfig::load(&path).unwrap_err().to_string();
        assert!(e.contains("max_policy_age"), "{e}");
    }
}
