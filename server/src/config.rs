//! Server settings: built-in defaults, then a TOML file, then `GATEHOUSE__SECTION__KEY`
//! environment variables, then command-line flags. Every value is checked once, here, so
//! a bad one stops start-up with a message that names its key.

use crate::store::DatabaseSettings;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// The config file read when `--config` is not given and the file exists.
pub const DEFAULT_CONFIG_PATH: &str = "config/server.toml";
/// Environment variables with this prefix override the file; `__` separates section and key.
pub const ENV_PREFIX: &str = "GATEHOUSE__";
/// Longest access-token lifetime the server accepts, in seconds.
pub const MAX_TOKEN_TTL_S: u64 = 900;

/// All server settings. See `config/server.toml` for what each key means.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub metrics: MetricsSettings,
    pub log: LogSettings,
    pub bootstrap: BootstrapSettings,
    /// HTTPS for the API; off unless both files are named.
    #[serde(default)]
    pub tls: TlsSettings,
    /// Tunables of the stateful door rules, shipped to every door with the policy.
    pub policy: gatehouse_core::policy::Settings,
    /// When the audit chain gets a signed checkpoint.
    #[serde(default)]
    pub audit: crate::audit::checkpoint::CheckpointSettings,
    /// How long visitors' personal data is kept.
    #[serde(default)]
    pub retention: crate::retention::RetentionSettings,
    /// When the server raises alarms by itself (agent offline, repeated denials).
    #[serde(default)]
    pub alarms: crate::alarms::AlarmSettings,
    /// How long a web console login lasts.
    #[serde(default)]
    pub console: crate::console::ConsoleSettings,
    /// Invitation and arrival notices: SMTP, webhooks, retries.
    #[serde(default)]
    pub notify: crate::notify::NotifySettings,
    /// How often visits past their window are ended automatically.
    #[serde(default)]
    pub visit_expiry: crate::visit_expiry::VisitExpirySettings,
    /// Where the card key-encryption key is (secure cards, issue 15).
    #[serde(default)]
    pub cards: crate::cards::CardSettings,
    /// The issuing station's desk reader (secure cards, issue 15).
    #[serde(default)]
    pub issuing: crate::issuing::IssuingSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub listen: SocketAddr,
    pub request_timeout_s: u64,
    pub body_limit_bytes: usize,
    pub shutdown_grace_s: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub token_ttl_s: u64,
    pub issuer: String,
    pub audience: String,
    pub login_backoff_after: u32,
    pub login_max_failures_per_hour: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    pub enabled: bool,
    pub listen: SocketAddr,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BootstrapSettings {
    /// Password for the first `admin` account; generated and printed once when absent.
    #[serde(default, serialize_with = "skip_secret")]
    pub admin_password: Option<SecretString>,
}

/// The API's certificate chain and private key (PEM files). Both or neither.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsSettings {
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

impl TlsSettings {
    /// The server configuration when TLS is on; the error names `tls.cert` or `tls.key`.
    pub fn server_config(
        &self,
    ) -> Result<Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>, ConfigError> {
        match (&self.cert, &self.key) {
            (None, None) => Ok(None),
            (Some(_), None) => Err(ConfigError(
                "tls.key: must be set when tls.cert is (set both or neither)".to_owned(),
            )),
            (None, Some(_)) => Err(ConfigError(
                "tls.cert: must be set when tls.key is (set both or neither)".to_owned(),
            )),
            (Some(cert), Some(key)) => crate::tls::server_config(cert, key)
                .map(Some)
                .map_err(ConfigError),
        }
    }
}

fn skip_secret<S: serde::Serializer>(_: &Option<SecretString>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_none()
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            server: ServerSettings {
                listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
                request_timeout_s: 30,
                body_limit_bytes: 1024 * 1024,
                shutdown_grace_s: 10,
            },
            database: DatabaseSettings {
                url: "sqlite://data/gatehouse.db".to_owned(),
                max_connections: 10,
            },
            auth: AuthSettings {
                token_ttl_s: MAX_TOKEN_TTL_S,
                issuer: "gatehouse".to_owned(),
                audience: "gatehouse-api".to_owned(),
                login_backoff_after: 5,
                login_max_failures_per_hour: 100,
            },
            metrics: MetricsSettings {
                enabled: true,
                listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            },
            log: LogSettings {
                level: "info".to_owned(),
                format: LogFormat::Text,
            },
            bootstrap: BootstrapSettings::default(),
            tls: TlsSettings::default(),
            policy: gatehouse_core::policy::Settings::default(),
            audit: crate::audit::checkpoint::CheckpointSettings::default(),
            retention: crate::retention::RetentionSettings::default(),
            alarms: crate::alarms::AlarmSettings::default(),
            console: crate::console::ConsoleSettings::default(),
            notify: crate::notify::NotifySettings::default(),
            visit_expiry: crate::visit_expiry::VisitExpirySettings::default(),
            cards: crate::cards::CardSettings::default(),
            issuing: Default::default(),
        }
    }
}

/// A setting that cannot be used; the message names the key.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {0}")]
pub struct ConfigError(String);

impl Settings {
    /// Reads defaults, the file (explicit path, or the default path when it exists) and
    /// the environment, then validates.
    pub fn load(explicit_file: Option<&Path>) -> Result<Settings, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match explicit_file {
            Some(path) if !path.is_file() => {
                return Err(ConfigError(format!(
                    "config file {} does not exist",
                    path.display()
                )));
            }
            Some(path) => figment = figment.merge(Toml::file_exact(path)),
            None if Path::new(DEFAULT_CONFIG_PATH).is_file() => {
                figment = figment.merge(Toml::file_exact(DEFAULT_CONFIG_PATH));
            }
            None => {}
        }
        let settings: Settings = figment
            .merge(Env::prefixed(ENV_PREFIX).split("__"))
            .extract()
            .map_err(|e| ConfigError(describe_figment_error(e)))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks values that parse but make no sense. Called again after CLI overrides.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let fail = |key: &str, why: &str| Err(ConfigError(format!("{key}: {why}")));
        if self.server.request_timeout_s < 30 {
            // Door agents long-poll for policy changes for up to 25 s.
            return fail("server.request_timeout_s", "must be at least 30");
        }
        if self.server.body_limit_bytes < 1024 {
            return fail("server.body_limit_bytes", "must be at least 1024");
        }
        if let Some((key, why)) = self.database.url_problem() {
            return fail(key, why);
        }
        if !(1..=3650).contains(&self.retention.visitor_personal_data_days) {
            return fail(
                "retention.visitor_personal_data_days",
                "must be between 1 and 3650 days",
            );
        }
        if let Some((key, why)) = self.alarms.problem() {
            return fail(key, why);
        }
        if let Some((key, why)) = self.console.problem() {
            return fail(key, why);
        }
        if let Some((key, why)) = self.notify.problem() {
            return fail(key, why);
        }
        let desk = &self.alarms;
        if let Some((key, why)) = (desk.priority.problem()).or_else(|| desk.instructions.problem())
        {
            return fail(&key, why);
        }
        if self.audit.checkpoint_records == 0 {
            return fail("audit.checkpoint_records", "must be at least 1");
        }
        if !(1..=86_400).contains(&self.audit.checkpoint_interval_s) {
            return fail(
                "audit.checkpoint_interval_s",
                "must be between 1 and 86400 seconds",
            );
        }
        if self.database.max_connections == 0 {
            return fail("database.max_connections", "must be at least 1");
        }
        if self.auth.token_ttl_s == 0 || self.auth.token_ttl_s > MAX_TOKEN_TTL_S {
            return fail("auth.token_ttl_s", "must be between 1 and 900 seconds");
        }
        if self.auth.issuer.trim().is_empty() {
            return fail("auth.issuer", "must not be empty");
        }
        if self.auth.audience.trim().is_empty() {
            return fail("auth.audience", "must not be empty");
        }
        if self.auth.login_max_failures_per_hour == 0 || self.auth.login_max_failures_per_hour > 100
        {
            return fail(
                "auth.login_max_failures_per_hour",
                "must be between 1 and 100",
            );
        }
        if self.auth.login_backoff_after == 0 {
            return fail("auth.login_backoff_after", "must be at least 1");
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log.level).is_err() {
            return fail(
                "log.level",
                "is not a valid filter (e.g. info, or gatehouse=debug)",
            );
        }
        // Reads and parses both files, and checks that the key fits the certificate.
        self.tls.server_config()?;
        Ok(())
    }
}

/// Figment errors already name the key and the source; keep them on one line.
fn describe_figment_error(error: figment::Error) -> String {
    error
        .into_iter()
        .map(|e| {
            let key = e.path.join(".");
            let origin = e
                .metadata
                .as_ref()
                .map(|m| format!(" (from {})", m.name))
                .unwrap_or_default();
            if key.is_empty() {
                format!("{}{origin}", e.kind)
            } else {
                format!("{key}: {}{origin}", e.kind)
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid() {
        Settings::default()
            .validate()
            .unwrap_or_else(|e| panic!("{e}"));
    }

    #[test]
    fn validation_names_the_key() {
        let mut s = Settings::default();
        s.auth.token_ttl_s = 3600;
        let err = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("auth.token_ttl_s"), "{err}");

        let mut s = Settings::default();
        s.database.url = "mysql://x".to_owned();
        let err = s
            .validate()
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("database.url"), "{err}");
    }
}
