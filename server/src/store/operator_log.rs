//! The operator log: every change an operator (or the CLI) makes, with before and after,
//! append-only (the database rejects UPDATE and DELETE on it).

use super::people_common::MAX_BINDS;
use super::{Db, Store, StoreError, now, on};
use crate::audit::records::{OperatorRow, Source};
use crate::auth::visibility::unrestricted;
use crate::store::stored_time::StoredTime;
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::Serialize;
use serde_json::Value;
use sqlx::types::Json;
use uuid::Uuid;

/// Columns bound per operator-log row.
const LOG_COLUMNS: usize = 12;

/// Who makes a change: an operator through the API, or the command line.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: Option<Uuid>,
    pub name: String,
    pub request_id: Option<String>,
}

impl Actor {
    /// Changes made with the `gatehouse` command on the server machine.
    pub fn cli() -> Actor {
        Actor {
            id: None,
            name: "cli".to_owned(),
            request_id: None,
        }
    }

    /// Changes the server makes by itself (first-start bootstrap).
    pub fn system() -> Actor {
        Actor {
            id: None,
            name: "system".to_owned(),
            request_id: None,
        }
    }
}

/// One entry of the operator log, as stored and served.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LogRecord {
    /// Position in the log, increasing with each entry (on PostgreSQL a rolled-back
    /// change can leave a gap in the numbers).
    pub seq: i64,
    pub id: Uuid,
    #[sqlx(try_from = "StoredTime")]
    pub at: DateTime<Utc>,
    /// The operator who made the change; absent for `cli` and `system`.
    pub actor_id: Option<Uuid>,
    /// Username of the operator, or `cli` / `system`.
    pub actor: String,
    /// What was done, e.g. `operator.create`.
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub before: Option<Json<Value>>,
    #[schema(value_type = Option<Object>)]
    pub after: Option<Json<Value>>,
    pub request_id: Option<String>,
}

/// Which log entries to list; `None` matches all. `action` ending in `.` is a prefix
/// (`site.` for every site action). `from` is inclusive, `to` exclusive.
#[derive(Debug, Default, Clone)]
pub struct LogFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A log entry about to be written, in the same transaction as the change it records:
/// the row as stored (see [`OperatorRow`] for why it carries a salt).
pub(crate) struct NewLogEntry;

impl NewLogEntry {
    #[allow(clippy::new_ret_no_self)]
    pub fn new<T: Serialize>(
        actor: &Actor,
        action: &'static str,
        target_type: &'static str,
        target_id: impl ToString,
        before: Option<&T>,
        after: Option<&T>,
    ) -> OperatorRow {
        // The full record, whoever made the change (see `auth::visibility`). `before` and
        // `after` are objects (the log's schema says so): anything else is kept under
        // `value`, so no caller can break that promise.
        let json = |v: Option<&T>| {
            v.and_then(|v| unrestricted(|| serde_json::to_value(v)).ok())
                .map(|v| match v {
                    Value::Object(_) => v,
                    other => serde_json::json!({ "value": other }),
                })
                .map(Json)
        };
        let mut salt = vec![0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut salt);
        OperatorRow {
            id: Uuid::now_v7(),
            at: now(),
            actor_id: actor.id,
            actor: actor.name.clone(),
            action: action.to_owned(),
            target_type: target_type.to_owned(),
            target_id: Some(target_id.to_string()),
            before: json(before),
            after: json(after),
            request_id: actor.request_id.clone(),
            detail_salt: Some(salt),
            detail_hash: None,
        }
    }
}

impl Db<'_> {
    /// Appends `entry` (from [`NewLogEntry::new`]) to the operator log and the audit
    /// chain, in the transaction making the change it records.
    pub(crate) async fn insert_log(mut self, entry: &OperatorRow) -> Result<(), StoreError> {
        self.re()
            .insert_logs(std::slice::from_ref(entry), None)
            .await?;
        self.chain_records(&[(Source::Operator, entry.id, entry.digest())])
            .await?;
        Ok(())
    }

    /// Appends `entries` to the operator log, in as few statements as the bind limit
    /// allows; the caller chains them (the bulk import does so last, all at once).
    /// Entries of an import's `batch` stay invisible until it is published.
    pub(crate) async fn insert_logs(
        self,
        entries: &[OperatorRow],
        batch: Option<Uuid>,
    ) -> Result<(), StoreError> {
        on!(self, |c| {
            // Row counts are not bounded, so statements are cut by rows to stay under the
            // databases' bind-parameter limits.
            for rows in entries.chunks(MAX_BINDS / LOG_COLUMNS) {
                // The batch column only for an import's entries: every other writer's
                // statement is the one it was before the column existed.
                let mut query = sqlx::QueryBuilder::new(match batch {
                    Some(_) => {
                        "INSERT INTO operator_log (id, at, actor_id, actor, action, \
                         target_type, target_id, before, after, request_id, detail_salt, \
                         import_batch) "
                    }
                    None => {
                        "INSERT INTO operator_log (id, at, actor_id, actor, action, \
                         target_type, target_id, before, after, request_id, detail_salt) "
                    }
                });
                query.push_values(rows, |mut row, e| {
                    row.push_bind(e.id)
                        .push_bind(e.at)
                        .push_bind(e.actor_id)
                        .push_bind(&e.actor)
                        .push_bind(&e.action)
                        .push_bind(&e.target_type)
                        .push_bind(&e.target_id)
                        .push_bind(&e.before)
                        .push_bind(&e.after)
                        .push_bind(&e.request_id)
                        .push_bind(&e.detail_salt);
                    if let Some(batch) = batch {
                        row.push_bind(batch);
                    }
                });
                query.build().execute(&mut *c).await?;
            }
        });
        Ok(())
    }
}

impl Store {
    /// Records an operator action that changes nothing but must be accountable (e.g. an
    /// access check: who asked about which card).
    #[tracing::instrument(skip_all)]
    pub async fn log_operator_action(
        &self,
        actor: &Actor,
        action: &'static str,
        target_type: &'static str,
        target_id: impl ToString,
        details: &Value,
    ) -> Result<(), StoreError> {
        let entry = NewLogEntry::new(actor, action, target_type, target_id, None, Some(details));
        let mut tx = self.write().await?;
        tx.db().insert_log(&entry).await?;
        tx.commit().await
    }

    /// Log entries after `after_seq`, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn list_operator_log(
        &self,
        after_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LogRecord>, StoreError> {
        self.search_operator_log(&LogFilter::default(), after_seq, limit)
            .await
    }

    /// Log entries after `after_seq` that pass `filter`, oldest first.
    #[tracing::instrument(skip_all)]
    pub async fn search_operator_log(
        &self,
        filter: &LogFilter,
        after_seq: Option<i64>,
        limit: u32,
    ) -> Result<Vec<LogRecord>, StoreError> {
        // Only the filters given are in the statement, so each can be read from its
        // index (an `$n IS NULL OR ...` condition cannot be, on either database).
        let rows = on!(self.pool(), |pool| {
            let mut query = sqlx::QueryBuilder::new(
                "SELECT seq, id, at, actor_id, actor, action, target_type, target_id, \
                 before, after, request_id FROM visible_operator_log WHERE seq > ",
            );
            query.push_bind(after_seq.unwrap_or(0));
            if let Some(actor) = &filter.actor {
                query.push(" AND actor = ").push_bind(actor);
            }
            match filter.action.as_deref().map(|a| (a, a.strip_suffix('.'))) {
                // `site.` matches every site action (compared as text: a range would
                // depend on the database's collation); a whole name matches itself only.
                Some((prefix, Some(_))) => {
                    query
                        .push(" AND substr(action, 1, length(")
                        .push_bind(prefix);
                    query.push(")) = ").push_bind(prefix);
                }
                Some((action, None)) => {
                    query.push(" AND action = ").push_bind(action);
                }
                None => {}
            }
            if let Some(target_type) = &filter.target_type {
                query.push(" AND target_type = ").push_bind(target_type);
            }
            if let Some(target_id) = &filter.target_id {
                query.push(" AND target_id = ").push_bind(target_id);
            }
            if let Some(from) = filter.from {
                query.push(" AND at >= ").push_bind(from);
            }
            if let Some(to) = filter.to {
                query.push(" AND at < ").push_bind(to);
            }
            query
                .push(" ORDER BY seq LIMIT ")
                .push_bind(i64::from(limit));
            query.build_query_as::<LogRecord>().fetch_all(pool).await?
        });
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_and_after_are_always_objects() {
        let list = vec![1, 2];
        let entry = NewLogEntry::new(&Actor::cli(), "x.y", "x", 1, Some(&list), Some(&list));
        let after = entry.after.map(|j| j.0);
        assert_eq!(after, Some(serde_json::json!({"value": [1, 2]})));
        let record = serde_json::json!({"a": 1});
        let entry = NewLogEntry::new(&Actor::cli(), "x.y", "x", 1, None, Some(&record));
        assert_eq!(
            (entry.before, entry.after.map(|j| j.0)),
            (None, Some(record))
        );
    }
}
