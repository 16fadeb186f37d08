//! The watchlist security keeps: entries (name, aliases, date of birth, organisation,
//! reason, flag or block) and the list's version, bumped in the transaction of every
//! change, each change an operator-log entry. Screenings against it are in
//! [`screenings`].

mod import;
mod screenings;
pub use import::WatchlistImport;
pub use screenings::{
    NewScreening, ScreeningDecision, ScreeningFilter, ScreeningMatch, ScreeningOutcome,
    ScreeningRecord, ScreeningStage,
};

use super::operator_log::{Actor, NewLogEntry};
use super::{Db, ModelError, Store, StoreError, now, on};
use crate::store::stored_time::StoredTime;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use sqlx::types::Json;
use uuid::Uuid;

/// Longest name, alias or organisation, in characters.
const MAX_NAME: usize = 200;
/// Most aliases an entry has.
const MAX_ALIASES: usize = 20;
/// Longest reason, in characters.
const MAX_REASON: usize = 1000;

/// What a match against an entry does: `flag` warns the desk, `block` stops check-in
/// until a security officer decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
#[derive(strum::AsRefStr, strum::EnumString, strum::Display)]
#[strum(serialize_all = "lowercase")]
pub enum WatchAction {
    Flag,
    Block,
}

/// An entry of the watchlist as stored and served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[schema(as = WatchlistEntry)]
pub struct WatchlistEntry {
    pub id: Uuid,
    pub name: String,
    /// Other names the person is known by.
    pub aliases: Vec<String>,
    /// `YYYY-MM-DD`.
    pub date_of_birth: Option<NaiveDate>,
    pub organisation: Option<String>,
    /// Why the person is listed (shown to the officer deciding a match).
    pub reason: String,
    pub action: WatchAction,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The fields of an entry, as given to create it or (all of them) to replace it.
#[derive(Debug, Clone)]
pub struct WatchlistInput {
    pub name: String,
    pub aliases: Vec<String>,
    pub date_of_birth: Option<NaiveDate>,
    pub organisation: Option<String>,
    pub reason: String,
    pub action: WatchAction,
}

/// The list's version: a number bumped by every change, and a UUID new at each change
/// (`None` before the first), which names the list's content across databases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct WatchlistVersion {
    pub version: i64,
    #[serde(skip)]
    pub revision: Option<Uuid>,
}

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: Uuid,
    name: String,
    aliases: Json<Vec<String>>,
    date_of_birth: Option<String>,
    organisation: Option<String>,
    reason: String,
    action: String,
    #[sqlx(try_from = "StoredTime")]
    created_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    updated_at: DateTime<Utc>,
}

/// `SELECT <EntryRow columns> FROM watchlist_entries <rest>`.
macro_rules! select_entry {
    ($rest:literal) => {
        concat!(
            "SELECT id, name, aliases, date_of_birth, organisation, reason, action, ",
            "created_at, updated_at FROM watchlist_entries ",
            $rest
        )
    };
}

impl TryFrom<EntryRow> for WatchlistEntry {
    type Error = StoreError;

    fn try_from(row: EntryRow) -> Result<Self, StoreError> {
        let bad = |what: &str| {
            StoreError::Database(sqlx::Error::Decode(
                format!("stored watchlist {what} is not valid").into(),
            ))
        };
        Ok(WatchlistEntry {
            id: row.id,
            name: row.name,
            aliases: row.aliases.0,
            date_of_birth: parse_date(row.date_of_birth.as_deref())
                .map_err(|_| bad("date of birth"))?,
            organisation: row.organisation,
            reason: row.reason,
            action: row.action.parse().map_err(|_| bad("action"))?,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A stored `YYYY-MM-DD` date.
pub(crate) fn parse_date(text: Option<&str>) -> Result<Option<NaiveDate>, chrono::ParseError> {
    text.map(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d"))
        .transpose()
}

pub(crate) fn format_date(date: Option<NaiveDate>) -> Option<String> {
    date.map(|d| d.format("%Y-%m-%d").to_string())
}

/// A trimmed text of 1 to `max` characters.
fn text(value: &str, field: &'static str, max: usize) -> Result<String, ModelError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ModelError::invalid(field, "must not be blank"));
    }
    if value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ModelError::invalid(
            field,
            "is too long or holds control characters",
        ));
    }
    Ok(value.to_owned())
}

impl WatchlistInput {
    /// The input checked and trimmed (422 naming the field); a name must hold a letter or
    /// digit, since a name of punctuation only could never match.
    pub(crate) fn checked(self) -> Result<WatchlistInput, ModelError> {
        let name = text(&self.name, "name", MAX_NAME)?;
        if crate::screening::normalise::words(&name).is_empty() {
            return Err(ModelError::invalid("name", "must hold a letter or a digit"));
        }
        if self.aliases.len() > MAX_ALIASES {
            return Err(ModelError::invalid("aliases", "at most 20"));
        }
        let mut aliases = Vec::with_capacity(self.aliases.len());
        for alias in &self.aliases {
            let alias = text(alias, "aliases", MAX_NAME)?;
            if crate::screening::normalise::words(&alias).is_empty() {
                return Err(ModelError::invalid(
                    "aliases",
                    "must each hold a letter or a digit",
                ));
            }
            aliases.push(alias);
        }
        let today = Utc::now().naive_utc().date();
        if let Some(date) = self.date_of_birth
            && (date > today || date < NaiveDate::from_ymd_opt(1850, 1, 1).unwrap_or(date))
        {
            return Err(ModelError::invalid(
                "date_of_birth",
                "must be between 1850-01-01 and today",
            ));
        }
        let organisation = match self.organisation.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(org) => Some(text(org, "organisation", MAX_NAME)?),
        };
        Ok(WatchlistInput {
            name,
            aliases,
            date_of_birth: self.date_of_birth,
            organisation,
            reason: text(&self.reason, "reason", MAX_REASON)?,
            action: self.action,
        })
    }
}

/// What the search looks in: the normalised name and aliases, one per line.
fn search_text(input: &WatchlistInput) -> String {
    std::iter::once(&input.name)
        .chain(&input.aliases)
        .map(|n| crate::screening::normalise::key(n))
        .collect::<Vec<_>>()
        .join("\n")
}

impl Db<'_> {
    /// Bumps the list's version (a change is being made in this transaction).
    async fn bump_watchlist_version(self) -> Result<i64, StoreError> {
        let version = on!(self, |c| {
            sqlx::query_scalar::<_, i64>(
                "UPDATE watchlist_state SET version = version + 1, revision = $1, \
                 updated_at = $2 WHERE id = 1 RETURNING version",
            )
            .bind(Uuid::new_v4())
            .bind(now())
            .fetch_one(c)
            .await?
        });
        Ok(version)
    }

    async fn watchlist_entry(self, id: Uuid) -> Result<WatchlistEntry, StoreError> {
        let row = on!(self, |c| {
            sqlx::query_as::<_, EntryRow>(select_entry!("WHERE id = $1"))
                .bind(id)
                .fetch_one(c)
                .await?
        });
        row.try_into()
    }

    pub(crate) async fn watchlist_version(self) -> Result<WatchlistVersion, StoreError> {
        let (version, revision) = on!(self, |c| {
            sqlx::query_as::<_, (i64, Option<Uuid>)>(
                "SELECT version, revision FROM watchlist_state WHERE id = 1",
            )
            .fetch_one(c)
            .await?
        });
        Ok(WatchlistVersion { version, revision })
    }
}

/// What the operator log holds for a change: the entry and the version it made.
#[derive(Serialize)]
struct Logged<'a> {
    entry: &'a WatchlistEntry,
    list_version: i64,
}

impl Store {
    /// Adds an entry and bumps the list's version (422 naming the field for bad input).
    #[tracing::instrument(skip_all)]
    pub async fn create_watchlist_entry(
        &self,
        input: WatchlistInput,
        actor: &Actor,
    ) -> Result<WatchlistEntry, ModelError> {
        let input = input.checked()?;
        let (_, mut added) = self
            .add_entries(std::slice::from_ref(&input), actor)
            .await?;
        added.pop().ok_or(ModelError::Store(StoreError::NotFound))
    }

    /// Replaces an entry's fields and bumps the list's version.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn update_watchlist_entry(
        &self,
        id: Uuid,
        input: WatchlistInput,
        actor: &Actor,
    ) -> Result<WatchlistEntry, ModelError> {
        let input = input.checked()?;
        let mut tx = self.write().await?;
        let before = tx.db().watchlist_entry(id).await?;
        let after = WatchlistEntry {
            name: input.name.clone(),
            aliases: input.aliases.clone(),
            date_of_birth: input.date_of_birth,
            organisation: input.organisation.clone(),
            reason: input.reason.clone(),
            action: input.action,
            updated_at: now(),
            ..before.clone()
        };
        on!(tx.db(), |c| {
            sqlx::query(
                "UPDATE watchlist_entries SET name = $2, aliases = $3, search_text = $4, \
                 date_of_birth = $5, organisation = $6, reason = $7, action = $8, \
                 updated_at = $9 WHERE id = $1",
            )
            .bind(id)
            .bind(&after.name)
            .bind(Json(&after.aliases))
            .bind(search_text(&input))
            .bind(format_date(after.date_of_birth))
            .bind(&after.organisation)
            .bind(&after.reason)
            .bind(after.action.as_ref())
            .bind(after.updated_at)
            .execute(c)
            .await?;
        });
        let list_version = tx.db().bump_watchlist_version().await?;
        let log = NewLogEntry::new(
            actor,
            "watchlist.update",
            "watchlist_entry",
            id,
            Some(&Logged {
                entry: &before,
                list_version: list_version - 1,
            }),
            Some(&Logged {
                entry: &after,
                list_version,
            }),
        );
        tx.db().insert_log(&log).await?;
        tx.commit().await?;
        Ok(after)
    }

    /// Removes an entry and bumps the list's version. Screenings that matched it keep
    /// the names and reason they recorded.
    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn delete_watchlist_entry(&self, id: Uuid, actor: &Actor) -> Result<(), StoreError> {
        let mut tx = self.write().await?;
        let before = tx.db().watchlist_entry(id).await?;
        on!(tx.db(), |c| {
            sqlx::query("DELETE FROM watchlist_entries WHERE id = $1")
                .bind(id)
                .execute(c)
                .await?;
        });
        let list_version = tx.db().bump_watchlist_version().await?;
        let log = NewLogEntry::new(
            actor,
            "watchlist.delete",
            "watchlist_entry",
            id,
            Some(&Logged {
                entry: &before,
                list_version: list_version - 1,
            }),
            None,
        );
        tx.db().insert_log(&log).await?;
        tx.commit().await
    }

    #[tracing::instrument(skip_all, fields(%id))]
    pub async fn watchlist_entry(&self, id: Uuid) -> Result<WatchlistEntry, StoreError> {
        let mut tx = self.read().await?;
        let entry = tx.db().watchlist_entry(id).await?;
        tx.commit().await?;
        Ok(entry)
    }

    /// Entries by id (the order they were added), after the cursor; `search` keeps those
    /// whose name or an alias holds it once both are normalised (case, accents, script).
    #[tracing::instrument(skip_all)]
    pub async fn list_watchlist(
        &self,
        search: Option<&str>,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<WatchlistEntry>, StoreError> {
        let pattern = search
            .map(crate::screening::normalise::key)
            .filter(|k| !k.is_empty())
            .map(|k| format!("%{}%", k.replace(' ', "%")));
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, EntryRow>(select_entry!(
                "WHERE ($1 IS NULL OR id > $1) \
                 AND ($2 IS NULL OR search_text LIKE $2) ORDER BY id LIMIT $3"
            ))
            .bind(after)
            .bind(pattern)
            .bind(i64::from(limit))
            .fetch_all(pool)
            .await?
        });
        rows.into_iter().map(TryInto::try_into).collect()
    }

    /// The list's current version.
    #[tracing::instrument(skip_all)]
    pub async fn watchlist_version(&self) -> Result<WatchlistVersion, StoreError> {
        let mut tx = self.read().await?;
        let version = tx.db().watchlist_version().await?;
        tx.commit().await?;
        Ok(version)
    }

    /// The whole list with its version, read in one snapshot (to build the index).
    #[tracing::instrument(skip_all)]
    pub async fn watchlist_snapshot(
        &self,
    ) -> Result<(WatchlistVersion, Vec<WatchlistEntry>), StoreError> {
        let mut tx = self.read().await?;
        let version = tx.db().watchlist_version().await?;
        let rows = on!(tx.db(), |c| {
            sqlx::query_as::<_, EntryRow>(select_entry!("ORDER BY id"))
                .fetch_all(c)
                .await?
        });
        tx.commit().await?;
        let entries = rows
            .into_iter()
            .map(TryInto::try_into)
            .collect::<Result<_, _>>()?;
        Ok((version, entries))
    }
}
