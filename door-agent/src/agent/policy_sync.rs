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
//!
//! Operators' mode overrides (remote `set_mode` commands) are applied on top of the
//! verified policy: `current` is the snapshot with each overridden door's mode replaced,
//! so the decision engine (a door locked this way refuses all but exempt people) and the
//! door (through `follow_policy`) both follow it, and a new snapshot keeps them. An
//! override ends at its `until`, at the next mode command, or when the agent restarts
//! (fail-secure: the policy's mode again).
//!
//! PINs are checked with the server's PIN key, which is never in the snapshot: it comes
//! with enrolment or, for an agent enrolled before there was one, from
//! `GET /agent/pin-key`, and is kept beside the credential file. Until the agent has it,
//! a PIN cannot be checked and an entry that needs one is refused.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use gatehouse_core::model::{DoorMode, PinKey};
use gatehouse_core::policy::{Policy, SignedSnapshot, verify_and_load};
use gatehouse_core::protocol::{PinKeyAnswer, PolicyQuery};
use secrecy::{ExposeSecret, SecretString};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::backoff::Backoff;
use super::credential::{decode_pin_key, save_pin_key, write_atomic};

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
    /// Given to every policy loaded, so it can check PINs.
    pin_key: Mutex<Option<PinKey>>,
    /// The verified policy, before overrides.
    base: Mutex<Option<Arc<LoadedPolicy>>>,
    /// Operators' mode overrides: door → (mode, until).
    overrides: Mutex<BTreeMap<Uuid, ModeOverride>>,
}

/// An operator's mode at a door, and when it ends (`None`: at the next mode command).
pub type ModeOverride = (DoorMode, Option<DateTime<Utc>>);

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
            pin_key: Mutex::new(None),
            base: Mutex::new(None),
            overrides: Mutex::new(BTreeMap::new()),
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
                    state.publish(Arc::new(loaded));
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
        let mut policy =
            verify_and_load(bytes, &self.key, min_version).map_err(|e| e.to_string())?;
        if let Some(key) = self.pin_key() {
            policy = policy.with_pin_key(key);
        }
        Ok(LoadedPolicy {
            policy,
            version: envelope.version,
            issued_at: envelope.issued_at,
        })
    }

    fn pin_key(&self) -> Option<PinKey> {
        self.pin_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Whether the agent has the PIN key.
    pub fn has_pin_key(&self) -> bool {
        self.pin_key().is_some()
    }

    /// Sets the PIN key for every policy from now on, and for the one in use.
    pub fn set_pin_key(&self, key: PinKey) {
        *self.pin_key.lock().unwrap_or_else(PoisonError::into_inner) = Some(key.clone());
        let base = self
            .base
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(loaded) = base {
            self.publish(Arc::new(LoadedPolicy {
                policy: loaded.policy.clone().with_pin_key(key),
                version: loaded.version,
                issued_at: loaded.issued_at,
            }));
        }
    }

    /// Makes `base` the verified policy and publishes it with the overrides applied.
    fn publish(&self, base: Arc<LoadedPolicy>) {
        *self.base.lock().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&base));
        self.republish();
    }

    fn republish(&self) {
        let Some(base) = self
            .base
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        else {
            return;
        };
        let overrides = self
            .overrides
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let effective = if overrides.is_empty() {
            base
        } else {
            let policy = overrides
                .iter()
                .fold(base.policy.clone(), |p, (door, (mode, _))| {
                    p.with_door_mode(*door, *mode)
                });
            Arc::new(LoadedPolicy {
                policy,
                version: base.version,
                issued_at: base.issued_at,
            })
        };
        self.current.send_replace(Some(effective));
    }

    /// An operator's mode for `door` until `until` (or the next mode command). A mode
    /// the policy already gives the door, with no end, clears the override instead.
    pub fn set_override(&self, door: Uuid, mode: DoorMode, until: Option<DateTime<Utc>>) {
        let policy_mode = self
            .base
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .and_then(|b| b.policy.door(door).map(|d| d.mode));
        {
            let mut overrides = self
                .overrides
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if until.is_none() && policy_mode == Some(mode) {
                overrides.remove(&door);
            } else {
                overrides.insert(door, (mode, until));
            }
        }
        self.republish();
    }

    /// The override in force at `door`: its mode and end.
    pub fn override_of(&self, door: Uuid) -> Option<ModeOverride> {
        self.overrides
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&door)
            .copied()
    }

    /// Ends the overrides whose time is up; returns whether any did.
    pub fn expire_overrides(&self, now: DateTime<Utc>) -> bool {
        let expired = {
            let mut overrides = self
                .overrides
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let before = overrides.len();
            overrides.retain(|_, (_, until)| until.is_none_or(|u| u > now));
            overrides.len() != before
        };
        if expired {
            self.republish();
        }
        expired
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
        self.publish(Arc::new(loaded));
        self.confirm_now();
        Ok(version)
    }
}

/// Fetches the PIN key from the agent channel and keeps it in `path` (mode 0600);
/// `None` when `stop` was cancelled while waiting for the server.
async fn fetch_pin_key(
    client: &reqwest::Client,
    base_url: &str,
    token: &SecretString,
    path: &Path,
    stop: &CancellationToken,
) -> Result<Option<PinKey>, String> {
    let url = format!("{}/api/v1/agent/pin-key", base_url.trim_end_matches('/'));
    let request = async {
        client
            .get(&url)
            .bearer_auth(token.expose_secret())
            .timeout(Duration::from_secs(30))
            .send()
            .await?
            .error_for_status()?
            .json::<PinKeyAnswer>()
            .await
    };
    let Some(answer) = stop.run_until_cancelled(request).await else {
        return Ok(None);
    };
    let answer = answer.map_err(|e| without_url(&e))?;
    let key = decode_pin_key(&answer.pin_key).map_err(|e| format!("{e:#}"))?;
    let (path, saved) = (path.to_owned(), key.clone());
    tokio::task::spawn_blocking(move || save_pin_key(&path, &saved))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("cannot keep the PIN key: {e:#}"))?;
    Ok(Some(key))
}

/// Long-polls the server for newer policy until `stop` is cancelled; first fetches the
/// PIN key into `pin_key_file` if the agent has none (retried before every poll until
/// it succeeds, without holding the policy up). Stops while it waits for the server or
/// between attempts, never while a snapshot or the PIN key is being written.
pub async fn sync_loop(
    state: Arc<PolicyState>,
    client: reqwest::Client,
    base_url: String,
    token: SecretString,
    pin_key_file: PathBuf,
    stop: CancellationToken,
) {
    let url = format!("{}/api/v1/agent/policy", base_url.trim_end_matches('/'));
    let mut backoff = Backoff::new();
    while !stop.is_cancelled() {
        if !state.has_pin_key() {
            match fetch_pin_key(&client, &base_url, &token, &pin_key_file, &stop).await {
                Ok(Some(key)) => {
                    state.set_pin_key(key);
                    tracing::info!("PIN key received");
                }
                Ok(None) => return,
                Err(e) => tracing::warn!(error = %e, "no PIN key yet; PINs cannot be checked"),
            }
        }
        let query = PolicyQuery {
            after_version: state.version(),
            wait_s: Some(25),
            delta: None,
        };
        let request = client
            .get(&url)
            .query(&query)
            .bearer_auth(token.expose_secret())
            .timeout(Duration::from_secs(40))
            .send();
        let Some(answer) = stop.run_until_cancelled(request).await else {
            return;
        };
        let ok = match answer {
            Ok(r) if r.status() == reqwest::StatusCode::OK => {
                let Some(bytes) = stop.run_until_cancelled(r.bytes()).await else {
                    return;
                };
                match bytes {
                    Ok(bytes) => match state.accept(bytes.to_vec()).await {
                        Ok(version) => {
                            tracing::info!(version, "new policy in use");
                            true
                        }
                        Err(e) => {
                            tracing::error!(
                                error = %e,
                                "REFUSED a policy snapshot from the server"
                            );
                            false
                        }
                    },
                    Err(e) => {
                        tracing::warn!(error = %e, "policy download interrupted");
                        false
                    }
                }
            }
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
        } else if !backoff.wait(&stop).await {
            return;
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

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_core::policy::{PolicySource, generate_key, sign};

    fn has_key(state: &PolicyState) -> bool {
        let current = state.current.borrow();
        current.as_ref().unwrap().policy.pin_key().is_some()
    }

    #[tokio::test]
    async fn the_sync_loop_stops_when_asked_while_the_server_is_unreachable() {
        let dir = tempfile::tempdir().unwrap();
        let state = Arc::new(PolicyState::load(
            dir.path(),
            generate_key().verifying_key(),
        ));
        // Nothing answers on port 9: the loop fails and backs off between attempts (and
        // were something there, it would wait on it): either way it must stop when asked.
        let stop = CancellationToken::new();
        let task = tokio::spawn(sync_loop(
            state,
            reqwest::Client::new(),
            "http://127.0.0.1:9".to_owned(),
            SecretString::from("token".to_owned()),
            dir.path().join("pin-key"),
            stop.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(600)).await;
        stop.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }

    #[tokio::test]
    async fn the_pin_key_reaches_the_policy_in_use_and_every_later_one() {
        let dir = tempfile::tempdir().unwrap();
        let signing = generate_key();
        let snapshot = |version| {
            let signed = sign(&PolicySource::default(), version, &signing).unwrap();
            signed.to_bytes().unwrap()
        };
        std::fs::write(dir.path().join("policy.snapshot"), snapshot(1)).unwrap();
        let state = PolicyState::load(dir.path(), signing.verifying_key());
        assert!(
            !state.has_pin_key() && !has_key(&state),
            "the snapshot alone has none"
        );
        let key = PinKey::from_bytes([5; 32]);
        state.set_pin_key(key.clone());
        assert!(has_key(&state), "the policy in use");
        state.accept(snapshot(2)).await.unwrap();
        let current = state.current.borrow().clone().unwrap();
        assert_eq!((current.version, current.policy.pin_key()), (2, Some(&key)));
        let on_disk = std::fs::read(dir.path().join("policy.snapshot")).unwrap();
        assert!(!on_disk.windows(32).any(|w| w == key.as_bytes()));
    }
}
