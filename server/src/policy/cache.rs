//! The per-site snapshot cache: one cell per set of sites, for one policy version at a
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

/// Where one snapshot is built once and then read.
pub(super) type Cell = Arc<OnceCell<SiteSnapshot>>;

pub(super) struct SnapshotCache {
    inner: Mutex<Inner>,
    budget_bytes: usize,
    max_entries: usize,
    max_age: Duration,
}

struct Inner {
    /// The policy version every entry belongs to.
    version: i64,
    entries: HashMap<BTreeSet<Uuid>, Entry>,
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

    /// The cell of `sites` at `version`, created empty if there is none or its snapshot
    /// is older than `max_age`; `None` when the cache already holds a newer version.
    pub(super) fn cell(&self, version: i64, sites: &BTreeSet<Uuid>) -> Option<Cell> {
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
        let entry = inner.entries.entry(sites.clone()).or_insert_with(fresh);
        if entry.cell.initialized() && entry.created.elapsed() > self.max_age {
            *entry = fresh();
        }
        entry.last_used = clock;
        Some(entry.cell.clone())
    }

    /// Evicts built snapshots of `version`, least recently used first and never `keep`,
    /// until the rest are within the limits.
    pub(super) fn trim(&self, version: i64, keep: &BTreeSet<Uuid>) {
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
                .filter(|(sites, e)| *sites != keep && e.cell.initialized())
                .min_by_key(|(_, e)| e.last_used)
                .map(|(sites, _)| sites.clone());
            match victim {
                Some(sites) => inner.entries.remove(&sites),
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
        .filter_map(|e| e.cell.get())
        .fold((0, 0), |(count, bytes), s| (count + 1, bytes + s.len()))
}
