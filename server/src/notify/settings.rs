//! `[notify]`: the SMTP server, the webhooks and the retry schedule.

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// Notification delivery (`[notify]` in the configuration).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    /// The SMTP server emails go through; absent: every email is recorded as failed
    /// ("SMTP not configured").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpSettings>,
    /// Where arrival notices are also posted (none by default).
    #[serde(default)]
    pub webhook: WebhookSettings,
    /// Attempts per notification before it is marked failed (1 to 100).
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// Wait after the first failed attempt, doubled after each further one (milliseconds,
    /// 10 to 86,400,000)...
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// ...up to this (milliseconds).
    #[serde(default = "default_max_backoff_ms")]
    pub max_backoff_ms: u64,
    /// How often the worker looks for notifications enqueued by another replica or a
    /// tool (milliseconds, 10 to 3,600,000); this server's own wake it at once.
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
}

fn default_max_attempts() -> u32 {
    6
}
fn default_backoff_ms() -> u64 {
    30_000
}
fn default_max_backoff_ms() -> u64 {
    3_600_000
}
fn default_poll_ms() -> u64 {
    15_000
}

impl Default for NotifySettings {
    fn default() -> Self {
        NotifySettings {
            smtp: None,
            webhook: WebhookSettings::default(),
            max_attempts: default_max_attempts(),
            backoff_ms: default_backoff_ms(),
            max_backoff_ms: default_max_backoff_ms(),
            poll_ms: default_poll_ms(),
        }
    }
}

/// How the SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (a relay on the same host or network only). Default port 25.
    None,
    /// STARTTLS, required (not opportunistic). Default port 587.
    Starttls,
    /// TLS from the first byte ("SMTPS"). Default port 465.
    Tls,
}

/// `[notify.smtp]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    pub host: String,
    /// Default by `tls`: 25, 587 or 465.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default = "default_tls")]
    pub tls: SmtpTls,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Never logged; redacted in `Debug`.
    #[serde(default, skip_serializing)]
    pub password: Option<SecretString>,
    /// The sender, e.g. `Gatehouse <gatehouse@example.org>`.
    pub from: String,
    /// Longest wait for the server, per attempt (seconds, 1 to 300).
    #[serde(default = "default_timeout_s")]
    pub timeout_s: u64,
}

fn default_tls() -> SmtpTls {
    SmtpTls::Starttls
}
fn default_timeout_s() -> u64 {
    30
}

impl SmtpSettings {
    /// The port to connect to.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }
}

/// `[notify.webhook]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Each arrival notice is posted to every one of these (http or https).
    #[serde(default)]
    pub urls: Vec<String>,
    /// The HMAC-SHA256 key of `X-Gatehouse-Signature`; required when `urls` is not empty.
    #[serde(default, skip_serializing)]
    pub secret: Option<SecretString>,
    /// Longest wait for a receiver's answer, per attempt (seconds, 1 to 300).
    #[serde(default = "default_webhook_timeout_s")]
    pub timeout_s: u64,
}

fn default_webhook_timeout_s() -> u64 {
    10
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            urls: Vec::new(),
            secret: None,
            timeout_s: default_webhook_timeout_s(),
        }
    }
}

impl NotifySettings {
    /// The first setting that cannot work, as (key, why).
    pub fn problem(&self) -> Option<(&'static str, &'static str)> {
        use secrecy::ExposeSecret;
        if !(1..=100).contains(&self.max_attempts) {
            return Some(("notify.max_attempts", "must be between 1 and 100"));
        }
        if !(10..=86_400_000).contains(&self.backoff_ms) {
            return Some(("notify.backoff_ms", "must be between 10 and 86400000"));
        }
        if self.max_backoff_ms < self.backoff_ms {
            return Some((
                "notify.max_backoff_ms",
                "must be at least notify.backoff_ms",
            ));
        }
        if !(10..=3_600_000).contains(&self.poll_ms) {
            return Some(("notify.poll_ms", "must be between 10 and 3600000"));
        }
        if let Some(smtp) = &self.smtp {
            if smtp.host.trim().is_empty() {
                return Some(("notify.smtp.host", "must not be empty"));
            }
            if smtp.from.parse::<lettre::message::Mailbox>().is_err() {
                return Some(("notify.smtp.from", "must be an email address"));
            }
            if smtp.username.is_some() != smtp.password.is_some() {
                return Some((
                    "notify.smtp.password",
                    "set both username and password, or neither",
                ));
            }
            if !(1..=300).contains(&smtp.timeout_s) {
                return Some(("notify.smtp.timeout_s", "must be between 1 and 300"));
            }
        }
        let webhook = &self.webhook;
        for url in &webhook.urls {
            match reqwest::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host_str().is_some() => {}
                _ => return Some(("notify.webhook.urls", "each must be an http(s) URL")),
            }
        }
        let secret_empty = webhook
            .secret
            .as_ref()
            .is_none_or(|s| s.expose_secret().is_empty());
        if !webhook.urls.is_empty() && secret_empty {
            return Some(("notify.webhook.secret", "must be set when urls are"));
        }
        if !(1..=300).contains(&webhook.timeout_s) {
            return Some(("notify.webhook.timeout_s", "must be between 1 and 300"));
        }
        None
    }

    /// The sender mailbox, parsed (`Name <address>` or a bare address).
    pub fn from(&self) -> Option<lettre::message::Mailbox> {
        let smtp = self.smtp.as_ref()?;
        smtp.from.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_work_and_problems_name_their_key() {
        assert_eq!(NotifySettings::default().problem(), None);
        let mut s = NotifySettings::default();
        s.webhook.urls = vec!["https://hooks.example.org/x".to_owned()];
        assert_eq!(s.problem().map(|p| p.0), Some("notify.webhook.secret"));
        s.webhook.secret = Some(SecretString::from("k"));
        assert_eq!(s.problem(), None);
        s.webhook.urls = vec!["ftp://x".to_owned()];
        assert_eq!(s.problem().map(|p| p.0), Some("notify.webhook.urls"));
        let mut s = NotifySettings {
            smtp: Some(SmtpSettings {
                host: "mail".to_owned(),
                port: None,
                tls: SmtpTls::Tls,
                username: None,
                password: None,
                from: "Gatehouse <gh@example.org>".to_owned(),
                timeout_s: 30,
            }),
            ..NotifySettings::default()
        };
        assert_eq!(s.problem(), None);
        assert_eq!(s.smtp.as_ref().map(SmtpSettings::port), Some(465));
        assert!(s.from().is_some());
        if let Some(smtp) = s.smtp.as_mut() {
            smtp.from = "nobody".to_owned();
        }
        assert_eq!(s.problem().map(|p| p.0), Some("notify.smtp.from"));
    }

    /// The shipped `config/server.toml` states the defaults; a file's SMTP section and
    /// secrets are read (and still hidden from `Debug`).
    #[test]
    fn the_shipped_config_states_the_defaults_and_secrets_are_read() {
        use secrecy::ExposeSecret;
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let shipped = crate::config::Settings::load(Some(&dir.join("../config/server.toml")));
        let shipped = shipped.unwrap().notify;
        assert_eq!(
            serde_json::to_value(&shipped).unwrap(),
            serde_json::to_value(NotifySettings::default()).unwrap()
        );
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("server.toml");
        std::fs::write(
            &path,
            "[notify.smtp]\nhost = \"mail\"\nfrom = \"gh@example.org\"\nusername = \"u\"\n\
             password = \"pw-789\"\n[notify.webhook]\nurls = [\"https://h.example/x\"]\n\
             secret = \"key-012\"\n",
        )
        .unwrap();
        let notify = crate::config::Settings::load(Some(&path)).unwrap().notify;
        let smtp = notify.smtp.as_ref().unwrap();
        assert_eq!((smtp.port(), smtp.tls), (587, SmtpTls::Starttls));
        assert_eq!(smtp.password.as_ref().unwrap().expose_secret(), "pw-789");
        let secret = notify.webhook.secret.as_ref().unwrap();
        assert_eq!(secret.expose_secret(), "key-012");
        let debug = format!("{notify:?}");
        assert!(!debug.contains("pw-789") && !debug.contains("key-012"));
    }

    #[test]
    fn debug_hides_the_secrets() {
        let s = NotifySettings {
            smtp: Some(SmtpSettings {
                host: "mail".to_owned(),
                port: None,
                tls: SmtpTls::Tls,
                username: Some("u".to_owned()),
                password: Some(SecretString::from("smtp-pass-456")),
                from: "gh@example.org".to_owned(),
                timeout_s: 30,
            }),
            webhook: WebhookSettings {
                secret: Some(SecretString::from("webhook-key-123")),
                ..WebhookSettings::default()
            },
            ..NotifySettings::default()
        };
        let debug = format!("{s:?}");
        assert!(!debug.contains("webhook-key-123") && !debug.contains("smtp-pass-456"));
    }
}
