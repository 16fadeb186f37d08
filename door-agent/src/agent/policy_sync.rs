//! The policy: the last good snapshot and the deltas kept after it, loaded from disk at
//! start (see [`store`] for the files and why a crash leaves a good version), then kept
//! current by long-polling the server. Every snapshot is verified with the key pinned at
//! enrolment and must not be older than the one in use; it is streamed to disk and
//! loaded from there record by record (its bytes are never all in memory). An agent
//! holding a policy asks for a delta (`delta=true`); the answer's `x-policy-format`
//! says which came. A delta is verified against the version in hand and the sites of
//! the snapshot it came from, kept on disk, then applied in place; any refusal makes
//! the next request ask for a full snapshot, as does a chain grown long.
//!
//! Policy age (for `max_policy_age_s`) is measured from the last moment the server
//! *confirmed* the policy in hand is current: a verified new snapshot or delta, or a
//! long-poll that ended with "nothing newer" (204). At start-up, before any answer, that
//! moment is the signed `issued_at` of the snapshot or of the last delta re-applied —
//! the file's own time could be forged, the signed one cannot — so an agent rebooted
//! offline does not extend its policy's life.
//!
//! Operators' mode overrides (remote `set_mode` commands) are laid on the policy in
//! use, in place: each overridden door's mode is replaced and the policy's own mode
//! remembered, so the decision engine (a door locked this way refuses all but exempt
//! people) and the door (through `follow_policy`) both follow it. They are lifted
//! before a delta applies and laid again after, and laid on a new snapshot. There is
//! one policy in memory, never a verified one beside an overridden copy. An override
//! ends at its `until`, at the next mode command, or when the agent restarts
//! (fail-secure: the policy's mode again).
//!
//! Changes happen in place while no decision holds the policy (decisions hold it for
//! microseconds); one that waits longer than [`IN_PLACE_WAIT`] changes a copy instead.
//!
//! PINs are checked with the server's PIN key, which is never in the snapshot: it comes
//! with enrolment or, for an agent enrolled before there was one, from
//! `GET /agent/pin-key`, and is kept beside the credential file. Until the agent has it,
//! a PIN cannot be checked and an entry that needs one is refused.

mod store;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use gatehouse_core::model::{DoorMode, PinKey};
use gatehouse_core::policy::{Policy, SignedDelta, load_snapshot};
use gatehouse_core::protocol::{
    CARD_KEY_SET_HEADER, FORMAT_DELTA, POLICY_FORMAT_HEADER, PinKeyAnswer, PolicyQuery,
};
use secrecy::{ExposeSecret, SecretString};
use tokio::io::AsyncWriteExt;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::backoff::Backoff;
use super::credential::{decode_pin_key, save_pin_key};
pub use store::{Chain, PolicyStore, StoreError};

/// How long an update waits for decisions in flight to let go of the policy before it
/// changes a copy instead (which costs a second policy in memory for a moment).
const IN_PLACE_WAIT: Duration = Duration::from_millis(250);

/// A verified policy in use.
#[derive(Clone)]
pub struct LoadedPolicy {
    /// The engine's policy.
    pub policy: Policy,
    /// Its version (the snapshot's, or the last delta's).
    pub version: u64,
    /// When the server signed it (the snapshot, or the last delta applied).
    pub issued_at: DateTime<Utc>,
    /// The sites of the snapshot it comes from: a delta must be made for them.
    pub site_ids: Vec<Uuid>,
}

/// Operators' overrides and the policy's own mode of each door they change.
#[derive(Default)]
struct Overrides {
    active: BTreeMap<Uuid, ModeOverride>,
    /// The verified policy's mode of every door an override has changed.
    policy_modes: BTreeMap<Uuid, DoorMode>,
}

impl Overrides {
    /// Puts the verified modes back (before a delta, or before the overrides change).
    fn lift(&mut self, policy: &mut Policy) {
        for (door, mode) in std::mem::take(&mut self.policy_modes) {
            policy.set_door_mode(door, mode);
        }
    }

    /// Applies the overrides, remembering the modes they replace.
    fn lay(&mut self, policy: &mut Policy) {
        for (door, (mode, _)) in &self.active {
            if let Some(before) = policy.set_door_mode(*door, *mode) {
                self.policy_modes.insert(*door, before);
            }
        }
    }
}

/// The policy in use and when it was last confirmed current.
pub struct PolicyState {
    /// The policy (none before the first good snapshot), with the overrides applied in
    /// place: there is one policy in memory, not a verified one and an overridden copy.
    pub current: watch::Sender<Option<Arc<LoadedPolicy>>>,
    confirmed_ms: AtomicI64,
    store: PolicyStore,
    key: VerifyingKey,
    /// Given to every policy loaded, so it can check PINs.
    pin_key: Mutex<Option<PinKey>>,
    /// Operators' mode overrides; its lock also serialises every change of `current`.
    overrides: Mutex<Overrides>,
    /// The delta chain on disk since the snapshot.
    chain: Mutex<Chain>,
    /// A delta was refused: ask for a full snapshot next.
    want_snapshot: AtomicBool,
    /// The server's card key-set number from the last policy answer (`x-card-key-set`),
    /// which `card_keys::card_key_loop` follows; `None` from servers without card keys.
    pub card_key_set: watch::Sender<Option<u64>>,
}

/// An operator's mode at a door, and when it ends (`None`: at the next mode command).
pub type ModeOverride = (DoorMode, Option<DateTime<Utc>>);

/// How an answer from the server was taken.
#[derive(Debug, PartialEq, Eq)]
pub enum Accepted {
    /// A full snapshot, now in use.
    Snapshot(u64),
    /// A delta, applied in place.
    Delta(u64),
}

impl PolicyState {
    /// Loads `state_dir/policy.snapshot` and the deltas kept after it, if present and
    /// valid; an altered or foreign snapshot is refused (logged) and the agent starts
    /// without a policy.
    pub fn load(state_dir: &Path, key: VerifyingKey) -> PolicyState {
        let state = PolicyState {
            current: watch::Sender::new(None),
            confirmed_ms: AtomicI64::new(i64::MIN),
            store: PolicyStore::new(state_dir),
            key,
            pin_key: Mutex::new(None),
            overrides: Mutex::new(Overrides::default()),
            chain: Mutex::new(Chain::default()),
            want_snapshot: AtomicBool::new(false),
            card_key_set: watch::Sender::new(None),
        };
        match state.store.load(&state.key) {
            Ok(Some((loaded, chain))) => {
                tracing::info!(
                    version = loaded.version,
                    deltas = chain.count,
                    "loaded the last good policy from disk"
                );
                state
                    .confirmed_ms
                    .store(loaded.issued_at.timestamp_millis(), Ordering::SeqCst);
                *state.chain.lock().unwrap_or_else(PoisonError::into_inner) = chain;
                state.publish(loaded);
            }
            Ok(None) => tracing::warn!("no policy snapshot on disk yet"),
            Err(e) => tracing::error!(
                path = %state.store.snapshot_path().display(),
                error = %e,
                "REFUSED the policy snapshot on disk; deciding without a policy until the server sends one"
            ),
        }
        state
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
    pub async fn set_pin_key(&self, key: PinKey) {
        *self.pin_key.lock().unwrap_or_else(PoisonError::into_inner) = Some(key.clone());
        self.modify_async(|_, p| p.policy.set_pin_key(key.clone()))
            .await;
    }

    /// One attempt to change the policy in use in place: `Err(f)` back while decisions
    /// in flight hold it, unless `copy` (then a copy is changed, which costs a second
    /// policy in memory for a moment); `Ok(None)` without a policy. The caller holds the
    /// `overrides` lock.
    fn try_modify<R, F: FnOnce(&mut LoadedPolicy) -> R>(
        &self,
        copy: bool,
        f: F,
    ) -> Result<Option<R>, F> {
        let mut f = Some(f);
        let mut out = None;
        let mut absent = false;
        self.current.send_if_modified(|slot| {
            let Some(arc) = slot.as_mut() else {
                absent = true;
                return false;
            };
            let policy = if copy {
                Some(Arc::make_mut(arc))
            } else {
                Arc::get_mut(arc)
            };
            match (policy, f.take()) {
                (Some(p), Some(f)) => {
                    out = Some(f(p));
                    true
                }
                (None, f_back) => {
                    f = f_back;
                    false
                }
                (Some(_), None) => false,
            }
        });
        match f {
            Some(f) if out.is_none() && !absent => Err(f),
            _ => Ok(out),
        }
    }

    /// Changes the policy in use in place: once decisions in flight have let go of it
    /// (they hold it for microseconds), else on a copy after [`IN_PLACE_WAIT`]. The
    /// caller holds the `overrides` lock. `None` without a policy. It sleeps between
    /// attempts: for blocking threads only (async callers use [`Self::modify_async`]).
    fn modify<R>(&self, f: impl FnOnce(&mut LoadedPolicy) -> R) -> Option<R> {
        let mut f = f;
        let deadline = Instant::now() + IN_PLACE_WAIT;
        loop {
            match self.try_modify(Instant::now() >= deadline, f) {
                Ok(out) => return out,
                Err(back) => f = back,
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// [`Self::modify`] for async callers: each attempt takes the `overrides` lock and
    /// `change` gets it; between attempts the lock is free and the task waits on the
    /// runtime's timer, so no worker thread is blocked.
    async fn modify_async(&self, mut change: impl FnMut(&mut Overrides, &mut LoadedPolicy)) {
        let deadline = Instant::now() + IN_PLACE_WAIT;
        loop {
            {
                let mut overrides = self
                    .overrides
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let copy = Instant::now() >= deadline;
                if self.try_modify(copy, |p| change(&mut overrides, p)).is_ok() {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    }

    /// Makes `loaded` the policy in use, with the PIN key and the overrides.
    fn publish(&self, mut loaded: LoadedPolicy) {
        if let Some(key) = self.pin_key() {
            loaded.policy.set_pin_key(key);
        }
        let mut overrides = self
            .overrides
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        overrides.policy_modes.clear();
        overrides.lay(&mut loaded.policy);
        self.current.send_replace(Some(Arc::new(loaded)));
    }

    /// Lays the overrides afresh on the policy in use (as they are when it can be
    /// changed: another change meanwhile lays the same ones).
    async fn relay(&self) {
        self.modify_async(|overrides, p| {
            overrides.lift(&mut p.policy);
            overrides.lay(&mut p.policy);
        })
        .await;
    }

    /// An operator's mode for `door` until `until` (or the next mode command). A mode
    /// the policy already gives the door, with no end, clears the override instead.
    pub async fn set_override(&self, door: Uuid, mode: DoorMode, until: Option<DateTime<Utc>>) {
        {
            let mut overrides = self
                .overrides
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let policy_mode = overrides.policy_modes.get(&door).copied().or_else(|| {
                let current = self.current.borrow();
                current
                    .as_ref()
                    .and_then(|p| p.policy.door(door).map(|d| d.mode))
            });
            if until.is_none() && policy_mode == Some(mode) {
                overrides.active.remove(&door);
            } else {
                overrides.active.insert(door, (mode, until));
            }
        }
        self.relay().await;
    }

    /// The override in force at `door`: its mode and end.
    pub fn override_of(&self, door: Uuid) -> Option<ModeOverride> {
        self.overrides
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .active
            .get(&door)
            .copied()
    }

    /// Ends the overrides whose time is up; returns whether any did.
    pub async fn expire_overrides(&self, now: DateTime<Utc>) -> bool {
        let expired = {
            let mut overrides = self
                .overrides
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            let before = overrides.active.len();
            overrides
                .active
                .retain(|_, (_, until)| until.is_none_or(|u| u > now));
            overrides.active.len() != before
        };
        if expired {
            self.relay().await;
        }
        expired
    }

    /// The version in use.
    pub fn version(&self) -> Option<u64> {
        self.current.borrow().as_ref().map(|p| p.version)
    }

    /// Whether the next request may ask for a delta: the agent holds a policy, no delta
    /// was refused since the last snapshot, and the chain on disk is not too long.
    pub fn wants_delta(&self) -> bool {
        self.version().is_some()
            && !self.want_snapshot.load(Ordering::SeqCst)
            && !self
                .chain
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .too_long()
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

    /// Verifies, persists and swaps in the snapshot downloaded to the store's download
    /// file (streamed from there: its bytes are never all in memory).
    fn accept_download(&self) -> Result<u64, String> {
        let path = self.store.download_path();
        let file = std::fs::File::open(&path).map_err(|e| e.to_string())?;
        let min_version = self.version().unwrap_or(0);
        let loaded = load_snapshot(file, &self.key, min_version).map_err(|e| {
            let _ = std::fs::remove_file(&path);
            e.to_string()
        })?;
        self.store
            .install_download()
            .map_err(|e| format!("cannot persist the snapshot: {e}"))?;
        let version = loaded.policy.version();
        *self.chain.lock().unwrap_or_else(PoisonError::into_inner) = Chain {
            snapshot_bytes: loaded.size,
            ..Chain::default()
        };
        self.want_snapshot.store(false, Ordering::SeqCst);
        self.publish(LoadedPolicy {
            policy: loaded.policy,
            version,
            issued_at: loaded.issued_at,
            site_ids: loaded.site_ids,
        });
        self.confirm_now();
        Ok(version)
    }

    /// Verifies, persists and swaps in a snapshot given whole (tests, and small ones).
    pub async fn accept(&self, bytes: Vec<u8>) -> Result<u64, String> {
        let path = self.store.download_path();
        super::credential::write_atomic(&path, &bytes, 0o600).map_err(|e| format!("{e:#}"))?;
        self.accept_download()
    }

    /// Verifies a delta against the policy in hand, keeps it on disk, then applies it in
    /// place. Any refusal (another base, a bad signature, a delta that does not apply)
    /// makes the next request ask for a full snapshot.
    pub fn accept_delta(&self, bytes: &[u8]) -> Result<u64, String> {
        let result = self.try_delta(bytes);
        if result.is_err() {
            self.want_snapshot.store(true, Ordering::SeqCst);
        }
        result
    }

    fn try_delta(&self, bytes: &[u8]) -> Result<u64, String> {
        let delta = SignedDelta::from_bytes(bytes).map_err(|e| e.to_string())?;
        let mut overrides = self
            .overrides
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let changes = {
            let current = self.current.borrow();
            let held = current.as_ref().ok_or("no policy to apply a delta to")?;
            store::verify_delta(&delta, &self.key, held).map_err(|e| e.to_string())?
        };
        // Kept before it is used: a restart re-applies it; one that then fails to apply
        // ends the chain there, as it does here.
        self.store
            .append_delta(&delta, bytes)
            .map_err(|e| format!("cannot persist the delta: {e}"))?;
        let applied = self.modify(|p| {
            overrides.lift(&mut p.policy);
            let applied = store::apply(p, &delta, &changes);
            overrides.lay(&mut p.policy);
            applied
        });
        match applied {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(e.to_string()),
            None => return Err("no policy to apply a delta to".into()),
        }
        let mut chain = self.chain.lock().unwrap_or_else(PoisonError::into_inner);
        chain.count += 1;
        chain.bytes += bytes.len() as u64;
        drop(chain);
        self.confirm_now();
        Ok(delta.version)
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
                    state.set_pin_key(key).await;
                    tracing::info!("PIN key received");
                }
                Ok(None) => return,
                Err(e) => tracing::warn!(error = %e, "no PIN key yet; PINs cannot be checked"),
            }
        }
        let query = PolicyQuery {
            after_version: state.version(),
            wait_s: Some(25),
            delta: state.wants_delta().then_some(true),
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
        if let Ok(r) = &answer {
            note_card_key_set(&state, r.headers());
        }
        let ok = match answer {
            Ok(r) if r.status() == reqwest::StatusCode::OK => {
                let Some(taken) = take_answer(&state, r, &stop).await else {
                    return;
                };
                match taken {
                    Ok(Accepted::Snapshot(version)) => {
                        tracing::info!(version, "new policy in use");
                        true
                    }
                    Ok(Accepted::Delta(version)) => {
                        tracing::info!(version, "policy delta applied");
                        true
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "REFUSED a policy update from the server");
                        // A refused delta: the next request asks for a full snapshot.
                        !state.wants_delta() && query.delta.is_some()
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

/// Passes the card key-set number of a policy answer on, when it changed.
fn note_card_key_set(state: &PolicyState, headers: &reqwest::header::HeaderMap) {
    let number = headers
        .get(CARD_KEY_SET_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if number.is_some() {
        state.card_key_set.send_if_modified(|held| {
            let changed = *held != number;
            *held = number;
            changed
        });
    }
}

/// Takes a policy answer: a delta (small) is read whole, verified and applied in place;
/// a snapshot is streamed to the download file, then verified and loaded from there.
/// `None` when `stop` was cancelled while reading it (never once it is being applied).
async fn take_answer(
    state: &Arc<PolicyState>,
    mut answer: reqwest::Response,
    stop: &CancellationToken,
) -> Option<Result<Accepted, String>> {
    let format = answer.headers().get(POLICY_FORMAT_HEADER);
    let is_delta = format.and_then(|v| v.to_str().ok()) == Some(FORMAT_DELTA);
    let state = Arc::clone(state);
    if is_delta {
        let bytes = match stop.run_until_cancelled(answer.bytes()).await? {
            Ok(bytes) => bytes,
            Err(e) => return Some(Err(format!("policy download interrupted: {e}"))),
        };
        let applied = tokio::task::spawn_blocking(move || state.accept_delta(&bytes)).await;
        return Some(
            applied
                .map_err(|e| e.to_string())
                .and_then(|r| r.map(Accepted::Delta)),
        );
    }
    let path = state.store.download_path();
    let download = async {
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&path)
            .await
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        while let Some(chunk) = answer
            .chunk()
            .await
            .map_err(|e| format!("policy download interrupted: {}", without_url(&e)))?
        {
            file.write_all(&chunk).await.map_err(|e| e.to_string())?;
        }
        file.sync_all().await.map_err(|e| e.to_string())
    };
    if let Err(e) = stop.run_until_cancelled(download).await? {
        return Some(Err(e));
    }
    let loaded = tokio::task::spawn_blocking(move || state.accept_download()).await;
    Some(
        loaded
            .map_err(|e| e.to_string())
            .and_then(|r| r.map(Accepted::Snapshot)),
    )
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
        state.set_pin_key(key.clone()).await;
        assert!(has_key(&state), "the policy in use");
        state.accept(snapshot(2)).await.unwrap();
        let current = state.current.borrow().clone().unwrap();
        assert_eq!((current.version, current.policy.pin_key()), (2, Some(&key)));
        let on_disk = std::fs::read(dir.path().join("policy.snapshot")).unwrap();
        assert!(!on_disk.windows(32).any(|w| w == key.as_bytes()));
    }

    fn one_door(mode: DoorMode) -> PolicySource {
        use gatehouse_core::model::{AntiPassback, Door, Site, ThreatLevel, Zone};
        let (site, zone, door) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        PolicySource {
            sites: vec![Site {
                id: site,
                name: "S".into(),
                timezone: "UTC".parse().unwrap(),
                threat: ThreatLevel::default(),
                secure_cards_from_threat_level: None,
            }],
            zones: vec![Zone {
                id: zone,
                site_id: site,
                parent_id: None,
                level: 0,
                vetting_required: false,
                escort_required: false,
                two_person: false,
                pin_required: false,
                anti_passback: AntiPassback::Off,
                anti_passback_timeout_s: None,
                max_occupancy: None,
                min_assurance: Default::default(),
            }],
            doors: vec![Door {
                id: door,
                site_id: site,
                from_zone_id: zone,
                to_zone_id: zone,
                mode,
                unlock_ms: 3000,
                held_open_ms: 30000,
            }],
            ..PolicySource::default()
        }
    }

    /// A decision holding the policy makes an override wait; the wait is the task's, not
    /// the thread's: this test's runtime has one thread, which runs the test meanwhile.
    #[tokio::test]
    async fn an_update_waits_for_a_decision_in_flight_without_blocking_the_runtime() {
        let dir = tempfile::tempdir().unwrap();
        let signing = generate_key();
        let door = Uuid::from_u128(3);
        let bytes = sign(&one_door(DoorMode::Normal), 1, &signing)
            .unwrap()
            .to_bytes()
            .unwrap();
        std::fs::write(dir.path().join("policy.snapshot"), bytes).unwrap();
        let state = Arc::new(PolicyState::load(dir.path(), signing.verifying_key()));
        let in_flight = state.current.borrow().clone().unwrap();
        let update = tokio::spawn({
            let state = Arc::clone(&state);
            async move { state.set_override(door, DoorMode::Locked, None).await }
        });
        tokio::task::yield_now().await;
        assert!(!update.is_finished(), "it waits while the policy is held");
        assert_eq!(in_flight.policy.door(door).unwrap().mode, DoorMode::Normal);
        drop(in_flight);
        update.await.unwrap();
        let current = state.current.borrow().clone().unwrap();
        assert_eq!(current.policy.door(door).unwrap().mode, DoorMode::Locked);
    }

    #[tokio::test]
    async fn an_override_outlives_a_delta_and_ends_at_the_mode_the_delta_gave() {
        use gatehouse_core::policy::{PolicyDelta, SignedDelta};
        let dir = tempfile::tempdir().unwrap();
        let signing = generate_key();
        let door = Uuid::from_u128(3);
        let v1 = one_door(DoorMode::Normal);
        let bytes = sign(&v1, 1, &signing).unwrap().to_bytes().unwrap();
        std::fs::write(dir.path().join("policy.snapshot"), bytes).unwrap();
        let state = PolicyState::load(dir.path(), signing.verifying_key());
        let mode = |state: &PolicyState| {
            let current = state.current.borrow();
            let p = current.as_ref().unwrap();
            (
                p.version,
                p.policy.door(door).unwrap().mode,
                p.policy.door(door).unwrap().unlock_ms,
            )
        };
        state.set_override(door, DoorMode::Locked, None).await;
        assert_eq!(mode(&state), (1, DoorMode::Locked, 3000));

        let mut v2 = one_door(DoorMode::Unlocked);
        v2.doors[0].unlock_ms = 5000;
        let delta = PolicyDelta::between(&v1, &v2);
        let sites = vec![Uuid::from_u128(1)];
        let signed = SignedDelta::sign(&delta, 1, 2, sites, Utc::now(), &signing).unwrap();
        assert_eq!(state.accept_delta(&signed.to_bytes().unwrap()), Ok(2));
        assert_eq!(
            mode(&state),
            (2, DoorMode::Locked, 5000),
            "the override holds"
        );
        // Ending it gives the mode of the delta, not the snapshot's.
        state.set_override(door, DoorMode::Unlocked, None).await;
        assert_eq!(mode(&state), (2, DoorMode::Unlocked, 5000));
        assert_eq!(state.override_of(door), None);
        // On disk: the snapshot and the verified policy of the delta, without overrides.
        let reloaded = PolicyState::load(dir.path(), signing.verifying_key());
        assert_eq!(mode(&reloaded), (2, DoorMode::Unlocked, 5000));
        // The same delta again is for another base now: refused.
        assert!(state.accept_delta(&signed.to_bytes().unwrap()).is_err());
        assert!(!state.wants_delta(), "a refusal asks for a snapshot next");
    }
}
