//! One delivery attempt: an email through the configured SMTP server, or a webhook POST
//! signed with HMAC-SHA256. Errors are worded for the console and never carry a secret
//! (a webhook URL may hold a token: errors name its host only).

use super::settings::{NotifySettings, SmtpTls};
use hmac::{Hmac, Mac};
use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::time::Duration;

/// The header carrying the signing time (Unix seconds).
pub const TIMESTAMP_HEADER: &str = "X-Gatehouse-Timestamp";
/// The header carrying `sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>`.
pub const SIGNATURE_HEADER: &str = "X-Gatehouse-Signature";

/// Why an attempt failed, and whether another attempt could succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    pub message: String,
    /// False when trying again cannot help (nothing configured, a bad address).
    pub retryable: bool,
}

impl SendError {
    fn permanent(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            retryable: false,
        }
    }

    fn transient(message: impl Into<String>) -> SendError {
        SendError {
            message: message.into(),
            retryable: true,
        }
    }
}

/// What sends: the SMTP transport and the HTTP client, built once at start-up.
pub struct Senders {
    smtp: Option<(AsyncSmtpTransport<Tokio1Executor>, lettre::Address)>,
    http: reqwest::Client,
    webhook_secret: Option<SecretString>,
}

impl Senders {
    /// Builds the transports from settings already validated.
    pub fn new(settings: &NotifySettings) -> anyhow::Result<Senders> {
        let smtp = match &settings.smtp {
            None => None,
            Some(smtp) => {
                let host = smtp.host.trim();
                let builder = match smtp.tls {
                    SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
                    SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                        .map_err(|e| anyhow::anyhow!("notify.smtp.host: {e}"))?,
                    SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                        .map_err(|e| anyhow::anyhow!("notify.smtp.host: {e}"))?,
                };
                let mut builder = builder
                    .port(smtp.port())
                    .timeout(Some(Duration::from_secs(smtp.timeout_s)));
                if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
                    builder = builder.credentials(Credentials::new(
                        user.clone(),
                        password.expose_secret().to_owned(),
                    ));
                }
                let from = settings
                    .from()
                    .ok_or_else(|| anyhow::anyhow!("notify.smtp.from: not an email address"))?;
                Some((builder.build(), from.email))
            }
        };
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.webhook.timeout_s))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Senders {
            smtp,
            http,
            webhook_secret: settings.webhook.secret.clone(),
        })
    }

    /// Sends `message` (a whole RFC 5322 message) to `recipient`.
    pub async fn email(&self, recipient: &str, message: &[u8]) -> Result<(), SendError> {
        let Some((transport, from)) = &self.smtp else {
            return Err(SendError::permanent("SMTP not configured"));
        };
        if recipient.is_empty() {
            return Err(SendError::permanent("no email address"));
        }
        let to: lettre::Address = recipient.parse().map_err(|_| {
            SendError::permanent(format!("{recipient:?} is not a valid email address"))
        })?;
        if message.is_empty() {
            return Err(SendError::permanent("the message could not be built"));
        }
        let envelope = Envelope::new(Some(from.clone()), vec![to])
            .map_err(|e| SendError::permanent(e.to_string()))?;
        match transport.send_raw(&envelope, message).await {
            Ok(_) => Ok(()),
            // A 5xx answer (unknown mailbox, refused sender) will not change by retrying.
            Err(e) if e.is_permanent() => Err(SendError::permanent(format!("SMTP: {e}"))),
            Err(e) => Err(SendError::transient(format!("SMTP: {e}"))),
        }
    }

    /// POSTs `body` (JSON) to `url`, signed; any 2xx is delivered.
    pub async fn webhook(&self, url: &str, body: &[u8]) -> Result<(), SendError> {
        let Some(secret) = &self.webhook_secret else {
            return Err(SendError::permanent("webhook secret not configured"));
        };
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned))
            .unwrap_or_else(|| "the webhook".to_owned());
        let timestamp = chrono::Utc::now().timestamp().to_string();
        let signature = sign(secret.expose_secret().as_bytes(), &timestamp, body);
        let response = self
            .http
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, &timestamp)
            .header(SIGNATURE_HEADER, signature)
            .body(body.to_vec())
            .send()
            .await
            .map_err(|e| SendError::transient(describe(&host, &e.without_url())))?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(SendError::transient(format!(
                "{host} answered HTTP {status}"
            )))
        }
    }
}

/// `sha256=` and the hex HMAC-SHA256 of `timestamp.body` under `secret`.
pub fn sign(secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return String::new();
    };
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn describe(host: &str, error: &reqwest::Error) -> String {
    let what = if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        // The chain's innermost cause says most (e.g. "connection refused").
        let mut source: &dyn std::error::Error = error;
        while let Some(next) = source.source() {
            source = next;
        }
        source.to_string()
    };
    format!("{host}: {what}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_hmac_sha256_of_timestamp_dot_body() {
        // Computed independently: Python's hmac.new(b"secret",
        // b'1700000000.{"a":1}', hashlib.sha256).hexdigest().
        assert_eq!(
            sign(b"secret", "1700000000", br#"{"a":1}"#),
            "sha256=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }
}
