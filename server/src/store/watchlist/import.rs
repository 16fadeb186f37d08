//! Adding a file's entries to the watchlist (parsed by `crate::screening::import`):
//! every row is checked as the API checks one entry, and nothing is added when any row
//! is wrong. Rows already on the list (the same name, aliases, date of birth,
//! organisation, reason and action) are skipped, so importing a file again adds nothing.
//!
//! Entries are written a chunk at a time, each chunk in a short transaction with its
//! operator-log entries (`watchlist.create`, as for one entry) and a version bump, so an
//! import of 100,000 entries never holds the database's write lock for long; a chunk
//! that fails leaves the chunks before it on the list, and importing the file again
//! finishes the work.

use super::{Logged, WatchlistEntry, WatchlistInput, format_date, search_text};
use crate::audit::records::Source;
use crate::import::{ImportError, LineError};
use crate::screening::import::{ImportRow, MAX_ERRORS};
use crate::store::operator_log::{Actor, NewLogEntry};
use crate::store::{ModelError, Store, now, on};
use serde::Serialize;
use sqlx::types::Json;
use std::collections::HashSet;
use uuid::Uuid;

/// Entries per transaction.
const CHUNK: usize = 1_000;

/// What an import did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WatchlistImport {
    /// Entries added to the list.
    pub added: u64,
    /// Rows skipped because the list already had them (or the file had them before).
    pub already_listed: u64,
    /// The list's version after the import.
    pub list_version: i64,
}

/// What makes two entries the same for an import.
type Key = (
    String,
    Vec<String>,
    Option<String>,
    Option<String>,
    String,
    String,
);

fn key(input: &WatchlistInput) -> Key {
    (
        input.name.clone(),
        input.aliases.clone(),
        format_date(input.date_of_birth),
        input.organisation.clone(),
        input.reason.clone(),
        input.action.as_ref().to_owned(),
    )
}

impl Store {
    /// Checks every row and, when all are valid, adds those not already listed.
    #[tracing::instrument(skip_all, fields(rows = rows.len()))]
    pub async fn import_watchlist(
        &self,
        rows: Vec<ImportRow>,
        actor: &Actor,
    ) -> Result<WatchlistImport, ImportError> {
        let mut checked = Vec::with_capacity(rows.len());
        let mut errors = Vec::new();
        for row in rows {
            match row.input.checked() {
                Ok(input) => checked.push(input),
                Err(ModelError::Invalid { field, problem }) => {
                    errors.push(LineError::new(row.line, field, problem));
                }
                Err(ModelError::Store(e)) => return Err(e.into()),
            }
        }
        if !errors.is_empty() {
            errors.truncate(MAX_ERRORS);
            return Err(ImportError::Invalid(errors));
        }
        let (version, listed) = self.watchlist_snapshot().await?;
        let mut seen: HashSet<Key> = listed
            .iter()
            .map(|e| {
                key(&WatchlistInput {
                    name: e.name.clone(),
                    aliases: e.aliases.clone(),
                    date_of_birth: e.date_of_birth,
                    organisation: e.organisation.clone(),
                    reason: e.reason.clone(),
                    action: e.action,
                })
            })
            .collect();
        let total = checked.len() as u64;
        let new: Vec<WatchlistInput> = checked
            .into_iter()
            .filter(|i| seen.insert(key(i)))
            .collect();
        let mut summary = WatchlistImport {
            added: 0,
            already_listed: total - new.len() as u64,
            list_version: version.version,
        };
        for chunk in new.chunks(CHUNK) {
            (summary.list_version, _) = self.add_entries(chunk, actor).await?;
            summary.added += chunk.len() as u64;
        }
        Ok(summary)
    }

    /// Adds checked entries in one transaction, each with its `watchlist.create` log
    /// entry, and bumps the list's version once: the version after it, and the entries.
    pub(super) async fn add_entries(
        &self,
        inputs: &[WatchlistInput],
        actor: &Actor,
    ) -> Result<(i64, Vec<WatchlistEntry>), crate::store::StoreError> {
        let at = now();
        let entries: Vec<WatchlistEntry> = inputs
            .iter()
            .map(|input| WatchlistEntry {
                id: Uuid::now_v7(),
                name: input.name.clone(),
                aliases: input.aliases.clone(),
                date_of_birth: input.date_of_birth,
                organisation: input.organisation.clone(),
                reason: input.reason.clone(),
                action: input.action,
                created_at: at,
                updated_at: at,
            })
            .collect();
        let mut tx = self.write().await?;
        on!(tx.db(), |c| {
            // Ten parameters a row: a chunk stays under both databases' bind limits.
            let mut q = sqlx::QueryBuilder::new(
                "INSERT INTO watchlist_entries (id, name, aliases, search_text, \
                 date_of_birth, organisation, reason, action, created_at, updated_at) ",
            );
            q.push_values(entries.iter().zip(inputs), |mut row, (entry, input)| {
                row.push_bind(entry.id)
                    .push_bind(&entry.name)
                    .push_bind(Json(&entry.aliases))
                    .push_bind(search_text(input))
                    .push_bind(format_date(entry.date_of_birth))
                    .push_bind(&entry.organisation)
                    .push_bind(&entry.reason)
                    .push_bind(entry.action.as_ref())
                    .push_bind(at)
                    .push_bind(at);
            });
            q.build().execute(&mut *c).await?;
        });
        let list_version = tx.db().bump_watchlist_version().await?;
        let log: Vec<_> = entries
            .iter()
            .map(|entry| {
                let logged = Logged {
                    entry,
                    list_version,
                };
                NewLogEntry::new(
                    actor,
                    "watchlist.create",
                    "watchlist_entry",
                    entry.id,
                    None,
                    Some(&logged),
                )
            })
            .collect();
        tx.db().insert_logs(&log, None).await?;
        let chained: Vec<_> = log
            .iter()
            .map(|e| (Source::Operator, e.id, e.digest()))
            .collect();
        tx.db().chain_records(&chained).await?;
        tx.commit().await?;
        Ok((list_version, entries))
    }
}
