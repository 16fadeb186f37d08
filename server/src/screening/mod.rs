//! Watchlist screening of visitors (issue 13 item 4).
//!
//! [`screen_visit`] compares a visitor with the watchlist and records the screening with
//! its operator-log entry; the visit flow calls it at invitation and at check-in, and
//! asks [`crate::store::Store::check_in_blocked`] before checking in. Matching
//! ([`matcher`]) is pure; the index of the list is built once per list version and kept
//! in memory ([`cache`]), so a screening costs a few hash lookups and a few hundred
//! Jaro-Winkler comparisons, not a pass over the list.

mod cache;
pub mod import;
pub mod matcher;
pub mod normalise;

pub use matcher::{ALGORITHM, Candidate, DEFAULT_THRESHOLD};

use crate::store::watchlist::{
    NewScreening, ScreeningMatch, ScreeningRecord, ScreeningStage, WatchAction, WatchlistEntry,
};
use crate::store::{Actor, ModelError, Store};
use matcher::{Index, Listed};
use uuid::Uuid;

impl From<&WatchlistEntry> for Listed {
    fn from(entry: &WatchlistEntry) -> Listed {
        Listed {
            id: entry.id,
            name: entry.name.clone(),
            aliases: entry.aliases.clone(),
            date_of_birth: entry.date_of_birth,
            organisation: entry.organisation.clone(),
            reason: entry.reason.clone(),
            block: entry.action == WatchAction::Block,
        }
    }
}

/// Screens the visit's visitor against the current watchlist and records the result
/// (operator-log entry `visit.screening` in the same transaction). 422 on `visit_id` for
/// an unknown visit, on `name` for a blank name.
pub async fn screen_visit(
    store: &Store,
    visit_id: Uuid,
    candidate: Candidate,
    stage: ScreeningStage,
    actor: &Actor,
) -> Result<ScreeningRecord, ModelError> {
    let (version, index) = cache::index(store).await?;
    let matches = index
        .screen(&candidate, DEFAULT_THRESHOLD)
        .into_iter()
        .filter_map(|hit| {
            let entry = index.entries().get(hit.entry)?;
            Some(ScreeningMatch {
                entry_id: entry.id,
                entry_name: entry.name.clone(),
                listed_name: hit.matched_name,
                candidate_name: candidate.name.clone(),
                score: hit.score,
                action: if entry.block {
                    WatchAction::Block
                } else {
                    WatchAction::Flag
                },
                reason: entry.reason.clone(),
            })
        })
        .collect();
    store
        .record_screening(
            NewScreening {
                visit_id,
                stage,
                list_version: version,
                algorithm: ALGORITHM,
                candidate_name: candidate.name,
                candidate_date_of_birth: candidate.date_of_birth,
                candidate_organisation: candidate.organisation,
                matches,
            },
            actor,
        )
        .await
}

/// Builds an index from entries (the bench and tests build theirs directly).
pub fn index_of(entries: &[WatchlistEntry]) -> Index {
    Index::build(entries.iter().map(Listed::from).collect())
}

#[cfg(test)]
mod eval;
