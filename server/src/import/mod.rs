//! Bulk onboarding from HR: a CSV file of people, their vetting and their cards, checked
//! in full and then applied all or nothing (written invisibly in short transactions,
//! then published at once), and importing it again changes nothing. The API (`POST /api/v1/import/people`,
//! which runs it as a [`job`] and answers `202` at once) and the CLI
//! (`gatehouse import people FILE`) both call [`import_people`]. How no lock is held
//! for long (planned from plain reads, written invisibly in short transactions, then
//! published in one) is told in `store/import.rs` and `store/import_batch.rs`.
//!
//! # The file
//!
//! UTF-8 (a byte-order mark is ignored; a UTF-16 or Latin-1 file is refused with one
//! error saying it is not UTF-8), separated by commas, semicolons or tabs (whichever the
//! header line has most of outside quotes: much of Europe saves `;`), fields quoted as
//! RFC 4180 says (`"Smith, Jane"`, `""` for a quote inside quotes), LF or CRLF line ends. The first row
//! names the columns, in any order, in lower case; unknown or repeated columns are
//! errors. Values are trimmed; an empty value is "not given".
//!
//! | column | required | meaning |
//! | --- | --- | --- |
//! | `external_id` | yes | HR's employee number: the key matched on re-import (1–128 characters) |
//! | `name` | yes | 1–128 characters |
//! | `kind` | yes | `staff` or `contractor` |
//! | `employer` | no | 1–128 characters; empty = none |
//! | `clearance` | yes | 0 to 255 |
//! | `status` | no | `active`, `suspended` or `left`; empty = unchanged (`active` for a new person) |
//! | `vetting_status` | no | `pending`, `cleared`, `expired` or `revoked`; empty = vetting unchanged |
//! | `vetting_cleared_until` | no | only with `cleared`, in the future; no end when empty |
//! | `vetting_reference` | no | the check's reference, 1–128 characters |
//! | `card` | no | card identifier in hex (`:`, `-`, spaces ignored) |
//! | `card_kind` | no | `uid` or `secure`; empty = `uid` for a new card, unchanged for an issued one |
//! | `card_valid_from` | no | start of the card's validity |
//! | `card_valid_until` | no | end of the card's validity (exclusive), after `card_valid_from` |
//! | `groups` | no | the groups the person is in, exactly: names separated by `\|` or `,` (matched exactly; an unknown name is the line's error); empty = unchanged; only separators = in no group |
//!
//! Enumerated values are matched ignoring case. Times are RFC 3339
//! (`2027-03-31T17:00:00Z`) or a date (`2027-03-31`, midnight UTC). A person with
//! several cards takes several rows with the same `external_id`; the person columns of
//! those rows must agree. Each card may appear on one row only.
//!
//! # What an import does
//!
//! A row whose `external_id` is unknown creates the person; a known one updates the
//! person's columns that differ. A vetting record is appended only when status,
//! `cleared_until` or reference differ from the person's current vetting. A card that no
//! live (non-revoked) credential holds is issued to the person; a card the person already
//! holds gets the row's validity; a card another holder has is an error. A `groups`
//! cell that differs from the person's groups sets them (part of the person's logged
//! update, published with the rest). Cards the file
//! does not mention are left alone (nothing is revoked). Every change is in the operator
//! log, and the policy version is bumped once if anything changed.

pub mod job;
pub(crate) mod parse;
mod row;
#[cfg(test)]
mod tests;

pub use parse::{ImportCard, ImportPerson, ImportVetting, Parsed, check_start, parse};

use crate::store::{Actor, Store, StoreError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Largest file accepted, in bytes (50 MiB).
pub const MAX_BYTES: usize = 50 * 1024 * 1024;
/// Most data rows accepted in one file.
pub const MAX_ROWS: u64 = 1_000_000;

/// One problem with the file: its line (the header is line 1; a row with a quoted line
/// break is numbered by its first line), the column, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LineError {
    pub line: u64,
    /// A column name, `row` for the row as a whole, or `file` for the whole file (one
    /// not in UTF-8).
    pub field: String,
    pub message: String,
}

impl LineError {
    pub fn new(line: u64, field: &str, message: impl Into<String>) -> LineError {
        LineError {
            line,
            field: field.to_owned(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for LineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "line {}: {}: {}", self.line, self.field, self.message)
    }
}

/// What an import changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct ImportSummary {
    pub people_created: u64,
    pub people_updated: u64,
    pub vetting_recorded: u64,
    pub credentials_created: u64,
    pub credentials_updated: u64,
    /// Rows that changed nothing.
    pub unchanged_rows: u64,
    /// The policy version after the import (unchanged when nothing changed).
    pub policy_version: i64,
}

impl ImportSummary {
    /// Whether the import changed anything.
    pub fn changed(&self) -> bool {
        self.people_created
            + self.people_updated
            + self.vetting_recorded
            + self.credentials_created
            + self.credentials_updated
            > 0
    }
}

/// Why an import changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the file has {} error(s); nothing was imported", .0.len())]
    Invalid(Vec<LineError>),
    #[error("the file is larger than {MAX_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The checking thread failed (a bug).
    #[error("the import failed")]
    Internal(#[source] anyhow::Error),
}

/// Told how far an import has got: a stage starts with its total, then advances.
pub trait Progress: Send + Sync {
    /// `stage` (`checking` counts bytes, `applying` counts people) begins.
    fn start(&self, stage: &'static str, total: u64);
    /// `done` more units of the current stage are finished.
    fn advance(&self, done: u64);
    /// `rows` data rows have been checked so far.
    fn rows(&self, _rows: u64) {}
}

/// No progress reports (the API).
impl Progress for () {
    fn start(&self, _: &'static str, _: u64) {}
    fn advance(&self, _: u64) {}
}

/// Checks every row of `csv` and, when all are valid, applies them all or nothing as
/// `actor`. Parsing runs on a blocking thread.
pub async fn import_people(
    store: &Store,
    csv: impl AsRef<[u8]> + Send + 'static,
    actor: &Actor,
    progress: Arc<dyn Progress>,
) -> Result<ImportSummary, ImportError> {
    if csv.as_ref().len() > MAX_BYTES {
        return Err(ImportError::TooLarge);
    }
    let now = crate::store::now();
    let parsing = Arc::clone(&progress);
    let parsed = tokio::task::spawn_blocking(move || parse(csv.as_ref(), now, parsing.as_ref()))
        .await
        .map_err(|e| ImportError::Internal(e.into()))?
        .map_err(ImportError::Invalid)?;
    store
        .apply_import(&parsed, actor, progress.as_ref())
        .await?
        .map_err(ImportError::Invalid)
}
