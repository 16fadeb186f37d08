//! The policy: the last good snapshot loaded from disk at start, then kept current by
//! long-polling the server. Every snapshot is verified with the key pinned at enrolment
//! and must not be older than the one in use; a good one is written to disk atomically
//! before it is swapped in.
//!
//! Policy age (for `max_policy_age_s`) is measured from the last moment the server
//! *confirmed* the policy in hand is current: a verified new snapshot or a long-poll that
//! ended with "nothing newer" (204). At start-up, before any answer, that moment is the
//! snapshot's signed `issued_at` — the file's own time could be forged, the signed one
//! cannot — so an agent rebooted offline does not extend its policy's life.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use gatehouse_core::policy::{Policy, SignedSnapshot, verify_and_load};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;

use super::credential::write_atomic;

/// A verified policy in use.
pub struct LoadedPolicy {
    /// The engine's policy.
    pub policy: Policy,
    /// Its snapshot version.
    pub version: u64,
    /// When the server signed it.
    pub issued_at: DateTime<Utc>,
}

/// The policy in use and when it was last confirmed current.
pub struct PolicyState {
    /// The policy (none before the first good snapshot).
    pub current: watch::Sender<Option<Arc<LoadedPolicy>>>,
    confirmed_ms: AtomicI64,
    snapshot_path: PathBuf,
    key: VerifyingKey,
}

impl PolicyState {
    /// Loads `state_dir/policy.snapshot` if present and valid; an altered or foreign
    /// snapshot is refused (logged) and the agent starts without a policy.
    pub fn load(state_dir: &Path, key: VerifyingKey) -> PolicyState {
        let snapshot_path = state_dir.join("policy.snapshot");
        let state = PolicyState {
            current: watch::Sender::new(None),
            confirmed_ms: AtomicI64::new(i64::MIN),
            snapshot_path,
            key,
        };
        match std::fs::read(&state.snapshot_path) {
            Ok(bytes) => match state.verify(&bytes, 0) {
                Ok(loaded) => {
                    tracing::info!(
                        version = loaded.version,
                        "loaded the last good policy snapshot from disk"
                    );
                    state
                        .confirmed_ms
                        .store(loaded.issued_at.timestamp_millis(), Ordering::SeqCst);
                    state.current.send_replace(Some(Arc::new(loaded)));
                }
                Err(e) => tracing::error!(
                    path = %state.snapshot_path.display(),
                    error = %e,
                    "REFUSED the policy snapshot on disk; deciding without a policy until the server sends one"
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::warn!("no policy snapshot on disk yet");
            }
            Err(e) => tracing::error!(error = %e, "cannot read the policy snapshot"),
        }
        state
    }

    fn verify(&self, bytes: &[u8], min_version: u64) -> Result<LoadedPolicy, String> {
        let envelope = SignedSnapshot::from_bytes(bytes).map_err(|e| e.to_string())?;
        let policy = verify_and_load(bytes, &self.key, min_version).map_err(|e| e.to_string())?;
        Ok(LoadedPolicy {
            policy,
            version: envelope.version,
            issued_at: envelope.issued_at,
        })
    }

    /// The version in use.
    pub fn version(&self) -> Option<u64> {
        self.current.borrow().as_ref().map(|p| p.version)
    }

    /// Seconds since the policy was last confirmed current (`None` without a policy).
    pub fn age_s(&self) -> Option<i64> {
        self.current.borrow().as_ref()?;
        let confirmed = self.confirmed_ms.load(Ordering::SeqCst);
        Some((Utc::now().timestamp_millis().saturating_sub(confirmed)) / 1000)
    }

    /// Whether the policy is older than `max_age_s` (never without a policy: there is
    /// then nothing to be stale, and every entry is denied anyway).
    pub fn is_stale(&self, max_age_s: u64) -> bool {
        self.age_s()
            .is_some_and(|age| age > i64::try_from(max_age_s).unwrap_or(i64::MAX))
    }

    fn confirm_now(&self) {
        self.confirmed_ms
            .store(Utc::now().timestamp_millis(), Ordering::SeqCst);
    }

    /// Verifies, persists and swaps in a snapshot from the server.
    async fn accept(&self, bytes: Vec<u8>) -> Result<u64, String> {
        let loaded = self.verify(&bytes, self.version().unwrap_or(0))?;
        let path = self.snapshot_path.clone();
        tokio::task::spawn_blocking(move || write_atomic(&path, &bytes, 0o600))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot persist the snapshot: {e:#}"))?;
        let version = loaded.version;
        self.current.send_replace(Some(Arc::new(loaded)));
        self.confirm_now();
        Ok(version)
    }
}

/// Long-polls the server for newer policy until the task is dropped.
pub async fn sync_loop(
    state: Arc<PolicyState>,
    client: reqwest::Client,
    base_url: String,
    token: SecretString,
) {
    let url = format!("{}/api/v1/agent/policy", base_url.trim_end_matches('/'));
    let mut backoff = Backoff::new();
    loop {
        let mut query = vec![("wait_s", "25".to_owned())];
        if let Some(v) = state.version() {
            query.push(("after_version", v.to_string()));
        }
        let answer = client
            .get(&url)
            .query(&query)
            .bearer_auth(token.expose_secret())
            .timeout(Duration::from_secs(40))
            .send()
            .await;
        let ok = match answer {
            Ok(r) if r.status() == reqwest::StatusCode::OK => match r.bytes().await {
                Ok(bytes) => match state.accept(bytes.to_vec()).await {
                    Ok(version) => {
                        tracing::info!(version, "new policy in use");
                        true
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "REFUSED a policy snapshot from the server");
                        false
                    }
                },
                Err(e) => {
                    tracing::warn!(error = %e, "policy download interrupted");
                    false
                }
            },
            Ok(r) if r.status() == reqwest::StatusCode::NO_CONTENT => {
                state.confirm_now();
                true
            }
            Ok(r) => {
                tracing::warn!(status = %r.status(), "policy request refused by the server");
                false
            }
            Err(e) => {
                tracing::warn!(error = %without_url(&e), "server unreachable for policy");
                false
            }
        };
        if ok {
            backoff.reset();
        } else {
            tokio::time::sleep(backoff.next_wait()).await;
        }
    }
}

/// A reqwest error without its URL (which carries nothing secret, but is noise).
pub fn without_url(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    if let Some(url) = e.url() {
        text = text.replace(url.as_str(), url.path());
    }
    text
}

/// Exponential backoff, 250 ms doubling to 10 s.
pub struct Backoff(Duration);

impl Backoff {
    /// Starts at the shortest wait.
    pub fn new() -> Self {
        Backoff(Duration::from_millis(250))
    }

    /// The wait to use now; the next one is twice as long (capped).
    pub fn next_wait(&mut self) -> Duration {
        let now = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(10));
        now
    }

    /// Back to the shortest wait.
    pub fn reset(&mut self) {
        self.0 = Duration::from_millis(250);
    }
}

impl Default for Backoff {
    fn default() -> Self {
        Self::new()
    }
}
