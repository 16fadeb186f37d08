//! The cache of what agents fetch: one cell per set of sites and starting version (a
//! snapshot, or a delta from the version an agent holds), for one policy version at a
//! time. A request for a newer version empties it; a request still holding an older
//! compiled policy (it raced a version bump) is not cached at all. Built snapshots are
//! evicted least recently used first once there are more than `max_entries` of them or
//! they take more than `budget_bytes` together; the one just built is always kept.
//!
//! An entry is also rebuilt once it is older than `max_age`, even at the same version:
//! a snapshot's signed `issued_at` is what an agent restarted offline counts its policy's
//! age from, so a snapshot served now must not carry a time long past.
//!
//! The lock is a plain mutex held only to look up or trim, never across a build: the
//! cells (`tokio::sync::OnceCell`) make concurrent requests for the same sites wait for
//! one build, while other sites build in parallel.

use super::SiteSnapshot;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;
use uuid::Uuid;

/// Most bytes of snapshots kept: five snapshots of 2M credentials (about 195 MiB each).
const BUDGET_BYTES: usize = 1024 * 1024 * 1024;
/// Most sets of sites kept.
const MAX_ENTRIES: usize = 64;
/// Oldest snapshot served: far below any sensible `max_policy_age_s` of an agent.
const MAX_AGE: Duration = Duration::from_secs(600);

/// Where one answer is built once and then read: `None` for a delta the server cannot
/// give (the agent gets a snapshot instead).
pub(super) type Cell = Arc<OnceCell<Option<SiteSnapshot>>>;

/// What an agent asks for: the sites of its doors, and the version it holds when it
/// can take a delta from it (`None`: a whole snapshot).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct Key {
    pub(super) sites: BTreeSet<Uuid>,
    pub(super) from: Option<u64>,
}

pub(super) struct SnapshotCache {
    inner: Mutex<Inner>,
    budget_bytes: usize,
    max_entries: usize,
    max_age: Duration,
}

struct Inner {
    /// The policy version every entry belongs to.
    version: i64,
    entries: HashMap<Key, Entry>,
    /// Counts lookups, for least-recently-used eviction.
    clock: u64,
}

struct Entry {
    cell: Cell,
    last_used: u64,
    created: Instant,
}

impl Default for SnapshotCache {
    fn default() -> Self {
        SnapshotCache::with_limits(BUDGET_BYTES, MAX_ENTRIES, MAX_AGE)
    }
}

impl SnapshotCache {
    pub(super) fn with_limits(budget_bytes: usize, max_entries: usize, max_age: Duration) -> Self {
        SnapshotCache {
            inner: Mutex::new(Inner {
                version: i64::MIN,
                entries: HashMap::new(),
                clock: 0,
            }),
            budget_bytes,
            max_entries,
            max_age,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Nothing here can be left half-changed by a panic: carry on after one.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The cell of `key` at `version`, created empty if there is none or its answer is
    /// older than `max_age`; `None` when the cache already holds a newer version.
    pub(super) fn cell(&self, version: i64, key: &Key) -> Option<Cell> {
        let mut inner = self.lock();
        if version < inner.version {
            return None;
        }
        if version > inner.version {
            inner.entries.clear();
            inner.version = version;
        }
        inner.clock += 1;
        let clock = inner.clock;
        let fresh = || Entry {
            cell: Cell::default(),
            last_used: clock,
            created: Instant::now(),
        };
        let entry = inner.entries.entry(key.clone()).or_insert_with(fresh);
        if entry.cell.initialized() && entry.created.elapsed() > self.max_age {
            *entry = fresh();
        }
        entry.last_used = clock;
        Some(entry.cell.clone())
    }

    /// Evicts built answers of `version`, least recently used first and never `keep`,
    /// until the rest are within the limits.
    pub(super) fn trim(&self, version: i64, keep: &Key) {
        let mut inner = self.lock();
        if inner.version != version {
            return;
        }
        loop {
            let (count, bytes) = usage(&inner);
            if count <= self.max_entries && bytes <= self.budget_bytes {
                return;
            }
            let victim = inner
                .entries
                .iter()
                .filter(|(key, e)| *key != keep && e.cell.initialized())
                .min_by_key(|(_, e)| e.last_used)
                .map(|(key, _)| key.clone());
            match victim {
                Some(key) => inner.entries.remove(&key),
                None => return,
            };
        }
    }

    /// How many snapshots are built and kept, and their total size in bytes.
    pub(super) fn usage(&self) -> (usize, usize) {
        usage(&self.lock())
    }
}

fn usage(inner: &Inner) -> (usize, usize) {
    inner
        .entries
        .values()
        .filter_map(|e| e.cell.get().and_then(Option::as_ref))
        .fold((0, 0), |(count, bytes), s| (count + 1, bytes + s.len()))
}
