//! The index of the current watchlist, kept in memory and rebuilt when the list's
//! revision changes. Keyed by the revision (a UUID new at every change, see
//! `watchlist_state`), never by the version number alone, so two databases served by one
//! process (tests, a restore) cannot share an index by accident.

use super::index_of;
use super::matcher::Index;
use crate::store::{Store, StoreError};
use std::sync::{Arc, Mutex};
use uuid::Uuid;

struct Cached {
    revision: Uuid,
    version: i64,
    index: Arc<Index>,
}

static CURRENT: Mutex<Option<Cached>> = Mutex::new(None);

fn cached(revision: Uuid) -> Option<(i64, Arc<Index>)> {
    let current = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
    current
        .as_ref()
        .filter(|c| c.revision == revision)
        .map(|c| (c.version, Arc::clone(&c.index)))
}

/// The index of the list as it is now, with its version: from memory when the list has
/// not changed since it was built, else read and built again (off the async runtime).
pub(super) async fn index(store: &Store) -> Result<(i64, Arc<Index>), StoreError> {
    let now = store.watchlist_version().await?;
    let Some(revision) = now.revision else {
        // Never changed: empty.
        return Ok((now.version, Arc::new(Index::build(Vec::new()))));
    };
    if let Some(hit) = cached(revision) {
        return Ok(hit);
    }
    let (version, entries) = store.watchlist_snapshot().await?;
    let index = tokio::task::spawn_blocking(move || index_of(&entries))
        .await
        .map_err(|e| StoreError::Database(sqlx::Error::Protocol(format!("index build: {e}"))))?;
    let index = Arc::new(index);
    if let Some(revision) = version.revision {
        let mut current = CURRENT.lock().unwrap_or_else(|p| p.into_inner());
        *current = Some(Cached {
            revision,
            version: version.version,
            index: Arc::clone(&index),
        });
    }
    Ok((version.version, index))
}
