//! `access_events` rows written straight into the server's schema, for benches that
//! load events in bulk or measure ingest next to raw inserts: the row ingest would
//! store, the multi-row `INSERT` and its binding, one copy for both backends.

use super::Result;
use chrono::{DateTime, SubsecRound, Utc};
use gatehouse_core::event::EventKind;
use gatehouse_server::store::UploadRecord;
use sqlx::query::Query;
use sqlx::{Database, Encode, Type};
use std::borrow::Cow;
use uuid::Uuid;

/// The columns [`insert_sql`] writes, in its order.
const COLUMNS: usize = 19;

/// One `access_events` row.
pub struct Row {
    pub id: Uuid,
    pub agent_id: Uuid,
    pub seq: i64,
    pub hash: Vec<u8>,
    pub payload: Vec<u8>,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub door_id: Option<Uuid>,
    pub kind: &'static str,
    pub reader: Option<Cow<'static, str>>,
    pub direction: Option<&'static str>,
    pub card: Option<String>,
    pub outcome: Option<&'static str>,
    pub reason: Option<&'static str>,
    pub person_id: Option<Uuid>,
    pub visit_id: Option<Uuid>,
    pub credential_id: Option<Uuid>,
    pub zone_id: Option<Uuid>,
    pub policy_version: Option<i64>,
}

impl Row {
    /// The row ingest would store for `record`, with a new id and arrival time
    /// `received_at`.
    pub fn of(agent_id: Uuid, record: UploadRecord, received_at: DateTime<Utc>) -> Result<Row> {
        let event = record.event;
        let mut row = Row {
            id: Uuid::now_v7(),
            agent_id,
            seq: i64::try_from(record.seq)?,
            hash: record.hash.to_vec(),
            payload: record.payload,
            occurred_at: event.occurred_at.trunc_subsecs(6),
            received_at,
            door_id: event.door_id,
            kind: event.kind.name(),
            reader: None,
            direction: None,
            card: None,
            outcome: None,
            reason: None,
            person_id: None,
            visit_id: None,
            credential_id: None,
            zone_id: None,
            policy_version: None,
        };
        if let EventKind::Presentation(p) = event.kind {
            row.reader = Some(Cow::Owned(p.reader));
            row.direction = Some(p.direction.as_str());
            row.card = Some(p.card);
            row.outcome = Some(p.outcome.as_str());
            row.reason = Some(p.reason.as_str());
            row.person_id = p.person_id;
            row.visit_id = p.visit_id;
            row.credential_id = p.credential_id;
            row.zone_id = p.zone_id;
            row.policy_version = i64::try_from(p.policy_version).ok();
        }
        Ok(row)
    }
}

/// The insert of `rows` rows (placeholders `$1`, `$2`, ...: both backends read them).
pub fn insert_sql(rows: usize) -> String {
    let mut sql = String::from(
        "INSERT INTO access_events (id, agent_id, seq, hash, payload, occurred_at, received_at, \
         door_id, kind, reader, direction, card, outcome, reason, person_id, visit_id, \
         credential_id, zone_id, policy_version) VALUES ",
    );
    let values: Vec<String> = (0..rows)
        .map(|r| {
            let columns: Vec<String> = (1..=COLUMNS)
                .map(|c| format!("${}", r * COLUMNS + c))
                .collect();
            format!("({})", columns.join(", "))
        })
        .collect();
    sql.push_str(&values.join(", "));
    sql
}

/// Binds the columns of `rows` to `query` (an [`insert_sql`] of as many rows), in its
/// order.
pub fn bind_rows<'q, DB>(
    mut query: Query<'q, DB, DB::Arguments>,
    rows: impl IntoIterator<Item = Row>,
) -> Query<'q, DB, DB::Arguments>
where
    DB: Database,
    Uuid: Encode<'static, DB> + Type<DB>,
    Option<Uuid>: Encode<'static, DB> + Type<DB>,
    i64: Encode<'static, DB> + Type<DB>,
    Option<i64>: Encode<'static, DB> + Type<DB>,
    Vec<u8>: Encode<'static, DB> + Type<DB>,
    DateTime<Utc>: Encode<'static, DB> + Type<DB>,
    &'static str: Encode<'static, DB> + Type<DB>,
    Option<&'static str>: Encode<'static, DB> + Type<DB>,
    Option<Cow<'static, str>>: Encode<'static, DB> + Type<DB>,
    Option<String>: Encode<'static, DB> + Type<DB>,
{
    for row in rows {
        query = query
            .bind(row.id)
            .bind(row.agent_id)
            .bind(row.seq)
            .bind(row.hash)
            .bind(row.payload)
            .bind(row.occurred_at)
            .bind(row.received_at)
            .bind(row.door_id)
            .bind(row.kind)
            .bind(row.reader)
            .bind(row.direction)
            .bind(row.card)
            .bind(row.outcome)
            .bind(row.reason)
            .bind(row.person_id)
            .bind(row.visit_id)
            .bind(row.credential_id)
            .bind(row.zone_id)
            .bind(row.policy_version);
    }
    query
}

/// The secondary indexes of `access_events` (name, definition) as the migrations made
/// them, for bulk loaders that drop them and make them again after the rows.
pub const SQLITE_INDEXES: &str = "SELECT name, sql FROM sqlite_master WHERE type = 'index' \
                                  AND tbl_name = 'access_events' AND sql IS NOT NULL";
pub const POSTGRES_INDEXES: &str = "SELECT i.indexname::text, i.indexdef FROM pg_indexes i \
     WHERE i.tablename = 'access_events' AND NOT EXISTS \
     (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)";
