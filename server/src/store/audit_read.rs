//! The audit trail read back for `audit::verify` and exports. The verifier reads rows
//! that may have been altered behind the database's back, so each row is decoded on its
//! own: one that does not decode (any column, any way) comes back as [`Unreadable`] with
//! its position, for the verifier to name, instead of failing the whole page.

use super::audit::{ChainEntry, Checkpoint};
use super::{Store, StoreError, on};
use crate::audit::hash32;
use crate::audit::records::{AlarmRow, EventRef, EventRow, OperatorRow, Source};
use crate::store::stored_time::StoredTime;
use futures_util::TryStreamExt;
use sqlx::{ColumnIndex, Decode, FromRow, Row, Type, ValueRef};
use uuid::Uuid;

/// A row that does not decode: its position, when that much reads, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub seq: Option<i64>,
    pub error: String,
}

impl From<Unreadable> for StoreError {
    fn from(unreadable: Unreadable) -> StoreError {
        StoreError::Database(sqlx::Error::Decode(unreadable.error.into()))
    }
}

/// A record with the chain position that names it. The verifier reads `row` as a
/// `Result`: the record, or why it does not decode.
#[derive(Debug, sqlx::FromRow)]
pub struct Chained<T> {
    pub chain_seq: i64,
    #[sqlx(flatten)]
    pub row: T,
}

/// A record as the verifier reads it: the row, or why it does not decode.
type Decoded<T> = Chained<Result<T, String>>;

/// Decodes each of `rows` on its own, reading the position from `seq_column`.
fn decode_each<R, T>(rows: &[R], seq_column: &str) -> Vec<Result<T, Unreadable>>
where
    R: Row,
    T: for<'r> FromRow<'r, R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    rows.iter()
        .map(|row| {
            T::from_row(row).map_err(|e| Unreadable {
                seq: row.try_get::<i64, _>(seq_column).ok(),
                error: e.to_string(),
            })
        })
        .collect()
}

/// Decodes records joined to their chain entries; a row whose chain position does not
/// decode is left out (the entry itself is then unreadable in [`Store::chain_page_read`]).
fn decode_chained<R, T>(rows: &[R]) -> Vec<Decoded<T>>
where
    R: Row,
    T: for<'r> FromRow<'r, R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    rows.iter()
        .filter_map(|row| {
            let chain_seq = row.try_get::<i64, _>("chain_seq").ok()?;
            let row = T::from_row(row).map_err(|e| e.to_string());
            Some(Chained { chain_seq, row })
        })
        .collect()
}

const CHAIN_PAGE: &str = "SELECT seq, source, record_id, digest, hash, recorded_at \
    FROM audit_chain WHERE seq > $1 ORDER BY seq LIMIT $2";

const CHECKPOINTS: &str = "SELECT seq, hash, signed_at, signature FROM audit_checkpoints \
    WHERE seq > $1 ORDER BY seq LIMIT $2";

/// [`CHECKPOINTS`] up to a position: a page's own, not every later one.
const CHECKPOINTS_UP_TO: &str = "SELECT seq, hash, signed_at, signature FROM audit_checkpoints \
    WHERE seq > $1 AND seq <= $3 ORDER BY seq LIMIT $2";

const EVENTS: &str = "SELECT c.seq AS chain_seq, e.id, e.agent_id, e.seq, e.hash, e.payload, \
    e.occurred_at, e.received_at, e.door_id, e.kind, e.reader, e.direction, e.card, \
    e.outcome, e.reason, e.person_id, e.visit_id, e.credential_id, e.zone_id, \
    e.policy_version, e.released_by, e.release_of, e.trace \
    FROM audit_chain c JOIN access_events e ON e.id = c.record_id \
    WHERE c.seq >= $1 AND c.seq <= $2 AND (c.source || '') = 'event'";

const OPERATOR_LOG: &str = "SELECT c.seq AS chain_seq, o.id, o.at, o.actor_id, o.actor, \
    o.action, o.target_type, o.target_id, o.before, o.after, o.request_id, o.detail_salt, \
    o.detail_hash FROM audit_chain c JOIN operator_log o ON o.id = c.record_id \
    WHERE c.seq >= $1 AND c.seq <= $2 AND (c.source || '') = 'operator'";

const ALARMS: &str = "SELECT c.seq AS chain_seq, a.id, a.agent_id, a.at, a.kind, a.detail \
    FROM audit_chain c JOIN agent_alarms a ON a.id = c.record_id \
    WHERE c.seq >= $1 AND c.seq <= $2 AND (c.source || '') = 'alarm'";

/// Chain entries with their access events in one statement: the chain's columns under
/// names of their own, the event's under [`EventRow`]'s (so a column that does not
/// decode is named as when the event is read alone). The event is joined only to an
/// entry of source `event`; `e.id` is NULL when there is none.
const CHAIN_EVENTS: &str = "SELECT c.seq AS chain_seq, c.source AS chain_source, \
    c.record_id AS chain_record_id, c.digest AS chain_digest, c.hash AS chain_hash, \
    c.recorded_at AS chain_recorded_at, e.id, e.agent_id, e.seq, e.hash, e.payload, \
    e.occurred_at, e.received_at, e.door_id, e.kind, e.reader, e.direction, e.card, \
    e.outcome, e.reason, e.person_id, e.visit_id, e.credential_id, e.zone_id, \
    e.policy_version, e.released_by, e.release_of, e.trace \
    FROM audit_chain c LEFT JOIN access_events e ON c.source = 'event' AND e.id = c.record_id \
    WHERE c.seq > $1 AND c.seq <= $3 ORDER BY c.seq LIMIT $2";

/// Pages of [`Store::chain_page_with_events`] at least this long are read in two halves
/// at once.
const SPLIT_FROM: u32 = 1_000;

/// A chain entry as [`CHAIN_EVENTS`] names its columns.
#[derive(sqlx::FromRow)]
struct JoinedEntry {
    chain_seq: i64,
    chain_source: String,
    chain_record_id: Uuid,
    chain_digest: Vec<u8>,
    chain_hash: Vec<u8>,
    chain_recorded_at: StoredTime,
}

/// A chain entry, each decoded on its own, with what was made of its access event:
/// `None` when the entry names none (another source, or the event is not in the
/// database), otherwise the event or why its row does not decode.
#[derive(Debug)]
pub struct EntryEvent<T> {
    pub entry: Result<ChainEntry, Unreadable>,
    pub event: Option<Result<T, String>>,
}

/// Decodes one row of [`CHAIN_EVENTS`], making `event` of its access event. An entry
/// that does not decode has no event (the verifier stops at the entry).
fn decode_entry_event<R, T>(row: &R, event: &impl Fn(EventRef<'_>) -> T) -> EntryEvent<T>
where
    R: Row,
    JoinedEntry: for<'r> FromRow<'r, R>,
    for<'r> EventRef<'r>: FromRow<'r, R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    let entry = JoinedEntry::from_row(row)
        .map(|e| ChainEntry {
            seq: e.chain_seq,
            source: e.chain_source,
            record_id: e.chain_record_id,
            digest: e.chain_digest,
            hash: e.chain_hash,
            recorded_at: e.chain_recorded_at.into(),
        })
        .map_err(|e| Unreadable {
            seq: row.try_get::<i64, _>("chain_seq").ok(),
            error: e.to_string(),
        });
    let present = row.try_get_raw("id").is_ok_and(|v| !v.is_null());
    let event = (entry.is_ok() && present).then(|| {
        EventRef::from_row(row)
            .map(event)
            .map_err(|e| e.to_string())
    });
    EntryEvent { entry, event }
}

impl Store {
    /// Chain entries after position `after_seq`, in order, each decoded on its own.
    #[tracing::instrument(skip_all)]
    pub async fn chain_page_read(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Result<ChainEntry, Unreadable>>, StoreError> {
        self.read_after(CHAIN_PAGE, after_seq, limit).await
    }

    /// Chain entries after position `after_seq`, in order; one that does not decode is
    /// an error (the verifier reads them with [`Store::chain_page_read`]).
    #[tracing::instrument(skip_all)]
    pub async fn chain_page(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<ChainEntry>, StoreError> {
        let rows = self.chain_page_read(after_seq, limit).await?;
        Ok(rows.into_iter().collect::<Result<_, _>>()?)
    }

    /// Up to `limit` chain entries after position `after_seq`, in order, each with
    /// `event` made of its access event (see [`EntryEvent`]): one statement, the rows
    /// decoded as they arrive, the event's texts and bytes borrowed from its row.
    ///
    /// A long page is read as two halves at once, each on a connection of its own:
    /// reading the rows is most of an export's and a verification's work (on SQLite the
    /// driver's thread stepping the statement and copying every value, on PostgreSQL the
    /// server's process), and one statement keeps one core busy.
    #[tracing::instrument(skip_all)]
    pub async fn chain_page_with_events<T>(
        &self,
        after_seq: i64,
        limit: u32,
        event: impl Fn(EventRef<'_>) -> T,
    ) -> Result<Vec<EntryEvent<T>>, StoreError> {
        if limit < SPLIT_FROM {
            return self.chain_events(after_seq, i64::MAX, limit, &event).await;
        }
        // The first half stops at its positions; the second takes up to the rest after
        // them. Positions have no gaps, but were some missing, the halves would still
        // neither overlap nor skip an entry.
        let half = limit / 2;
        let middle = after_seq.saturating_add(i64::from(half));
        let (mut first, second) = tokio::try_join!(
            self.chain_events(after_seq, middle, half, &event),
            self.chain_events(middle, i64::MAX, limit - half, &event),
        )?;
        first.extend(second);
        Ok(first)
    }

    /// Up to `limit` rows of [`CHAIN_EVENTS`] at positions in `(after_seq, up_to]`.
    async fn chain_events<T>(
        &self,
        after_seq: i64,
        up_to: i64,
        limit: u32,
        event: &impl Fn(EventRef<'_>) -> T,
    ) -> Result<Vec<EntryEvent<T>>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            let mut rows = sqlx::query(CHAIN_EVENTS)
                .bind(after_seq)
                .bind(i64::from(limit))
                .bind(up_to)
                .fetch(pool);
            let mut decoded = Vec::with_capacity(limit.min(10_000) as usize);
            while let Some(row) = rows.try_next().await? {
                decoded.push(decode_entry_event(&row, event));
            }
            decoded
        });
        Ok(rows)
    }

    /// Checkpoints at positions after `after_seq`, lowest first, each decoded on its own.
    #[tracing::instrument(skip_all)]
    pub async fn checkpoints_after_read(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Result<Checkpoint, Unreadable>>, StoreError> {
        self.read_after(CHECKPOINTS, after_seq, limit).await
    }

    /// Checkpoints at positions after `after_seq` up to `to_seq`, lowest first, each
    /// decoded on its own (a page's: reading every later one for each page read most
    /// of them again and again).
    #[tracing::instrument(skip_all)]
    pub async fn checkpoints_up_to_read(
        &self,
        after_seq: i64,
        to_seq: i64,
        limit: u32,
    ) -> Result<Vec<Result<Checkpoint, Unreadable>>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            let mut rows = sqlx::query(CHECKPOINTS_UP_TO)
                .bind(after_seq)
                .bind(i64::from(limit))
                .bind(to_seq)
                .fetch(pool);
            let mut decoded = Vec::new();
            while let Some(row) = rows.try_next().await? {
                decoded.extend(decode_each(std::slice::from_ref(&row), "seq"));
            }
            decoded
        });
        Ok(rows)
    }

    /// [`Store::checkpoints_up_to_read`]; one that does not decode is an error.
    #[tracing::instrument(skip_all)]
    pub async fn checkpoints_up_to(
        &self,
        after_seq: i64,
        to_seq: i64,
        limit: u32,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        let rows = self
            .checkpoints_up_to_read(after_seq, to_seq, limit)
            .await?;
        Ok(rows.into_iter().collect::<Result<_, _>>()?)
    }

    /// Checkpoints at positions after `after_seq`, lowest first; one that does not
    /// decode is an error.
    #[tracing::instrument(skip_all)]
    pub async fn checkpoints_after(
        &self,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Checkpoint>, StoreError> {
        let rows = self.checkpoints_after_read(after_seq, limit).await?;
        Ok(rows.into_iter().collect::<Result<_, _>>()?)
    }

    /// The access events named by chain entries `from..=to`.
    ///
    /// Here and in the two below, `(c.source || '')` keeps SQLite (which has no
    /// statistics unless analysed) from walking the (source, record_id) index through
    /// every record of that source instead of the seq range: 0.9 s a page at 1M events,
    /// against milliseconds. PostgreSQL plans the seq range either way.
    #[tracing::instrument(skip_all)]
    pub async fn chained_events(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<Decoded<EventRow>>, StoreError> {
        self.chained(EVENTS, from, to).await
    }

    /// The operator log entries named by chain entries `from..=to`.
    #[tracing::instrument(skip_all)]
    pub async fn chained_operator_log(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<Decoded<OperatorRow>>, StoreError> {
        self.chained(OPERATOR_LOG, from, to).await
    }

    /// The ingest alarms named by chain entries `from..=to`.
    #[tracing::instrument(skip_all)]
    pub async fn chained_alarms(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<Decoded<AlarmRow>>, StoreError> {
        self.chained(ALARMS, from, to).await
    }

    /// Up to `limit` rows of `sql` (positions after `$1`, `LIMIT $2`), each decoded on
    /// its own.
    async fn read_after<T>(
        &self,
        sql: &'static str,
        after_seq: i64,
        limit: u32,
    ) -> Result<Vec<Result<T, Unreadable>>, StoreError>
    where
        T: for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> FromRow<'r, sqlx::postgres::PgRow>,
    {
        // Each row decoded as it arrives (not a page of rows held, then decoded): a
        // fraction of the allocator's work on pages of thousands.
        let rows = on!(self.pool(), |pool| {
            let mut rows = sqlx::query(sql)
                .bind(after_seq)
                .bind(i64::from(limit))
                .fetch(pool);
            let mut decoded = Vec::with_capacity(limit.min(10_000) as usize);
            while let Some(row) = rows.try_next().await? {
                decoded.extend(decode_each(std::slice::from_ref(&row), "seq"));
            }
            decoded
        });
        Ok(rows)
    }

    async fn chained<T>(
        &self,
        sql: &'static str,
        from: i64,
        to: i64,
    ) -> Result<Vec<Decoded<T>>, StoreError>
    where
        T: for<'r> FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> FromRow<'r, sqlx::postgres::PgRow>,
    {
        let rows = on!(self.pool(), |pool| {
            let mut rows = sqlx::query(sql).bind(from).bind(to).fetch(pool);
            let mut decoded = Vec::new();
            while let Some(row) = rows.try_next().await? {
                decoded.extend(decode_chained(std::slice::from_ref(&row)));
            }
            decoded
        });
        Ok(rows)
    }

    /// A record of `source`'s table that no chain entry names, if there is one: its id,
    /// or why that does not decode.
    #[tracing::instrument(skip_all)]
    pub async fn unchained_record(
        &self,
        source: Source,
    ) -> Result<Option<Result<Uuid, String>>, StoreError> {
        let sql = match source {
            Source::Event => {
                "SELECT id FROM access_events t WHERE NOT EXISTS (SELECT 1 FROM audit_chain c \
                 WHERE c.source = 'event' AND c.record_id = t.id) ORDER BY id LIMIT 1"
            }
            Source::Operator => {
                // Members of a chained import batch are chained through it; rows of an
                // import still being written are not part of the trail yet.
                "SELECT id FROM operator_log t WHERE NOT EXISTS (SELECT 1 FROM audit_chain c \
                 WHERE c.source = 'operator' AND c.record_id = t.id) \
                 AND NOT EXISTS (SELECT 1 FROM audit_import_members m JOIN audit_chain c \
                 ON c.source = 'operator' AND c.record_id = m.batch WHERE m.record_id = t.id) \
                 AND (t.import_batch IS NULL \
                 OR t.import_batch NOT IN (SELECT batch FROM import_pending)) \
                 ORDER BY seq LIMIT 1"
            }
            Source::Alarm => {
                "SELECT id FROM agent_alarms t WHERE NOT EXISTS (SELECT 1 FROM audit_chain c \
                 WHERE c.source = 'alarm' AND c.record_id = t.id) ORDER BY id LIMIT 1"
            }
        };
        let id = on!(self.pool(), |pool| {
            let row = sqlx::query(sql).fetch_optional(pool).await?;
            row.map(|row| row.try_get::<Uuid, _>("id").map_err(|e| e.to_string()))
        });
        Ok(id)
    }

    /// The chain head as the verifier reads it: position and hash, or why they do not
    /// decode.
    #[tracing::instrument(skip_all)]
    pub async fn audit_head_read(&self) -> Result<Result<(i64, [u8; 32]), String>, StoreError> {
        let head = on!(self.pool(), |pool| {
            let row = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
                .fetch_optional(pool)
                .await?;
            match row {
                None => Err("the chain head is missing".to_owned()),
                Some(row) => row
                    .try_get::<i64, _>("seq")
                    .and_then(|seq| Ok((seq, hash32(&row.try_get::<Vec<u8>, _>("hash")?))))
                    .map_err(|e| e.to_string()),
            }
        });
        Ok(head)
    }
}

/// One member of an import batch as the verifier reads it: its position, the id and
/// digest the list holds, and its operator-log row (`None` when there is none; an
/// error when it does not decode).
#[derive(Debug)]
pub struct BatchMember {
    pub pos: i64,
    pub record_id: Uuid,
    pub digest: [u8; 32],
    pub row: Option<Result<OperatorRow, String>>,
}

const BATCH_HEADS: &str = "SELECT c.seq, c.record_id FROM audit_chain c \
    WHERE c.seq >= $1 AND c.seq <= $2 AND (c.source || '') = 'operator' \
    AND EXISTS (SELECT 1 FROM audit_import_members m WHERE m.batch = c.record_id) \
    ORDER BY c.seq";

const BATCH_MEMBERS: &str = "SELECT m.pos, m.record_id, m.digest, o.id AS present, o.id, \
    o.at, o.actor_id, o.actor, o.action, o.target_type, o.target_id, o.before, o.after, \
    o.request_id, o.detail_salt, o.detail_hash \
    FROM audit_import_members m LEFT JOIN operator_log o ON o.id = m.record_id \
    WHERE m.batch = $1 AND m.pos > $2 ORDER BY m.pos LIMIT $3";

/// Decodes member rows; a row whose list columns do not decode is an error for the
/// verifier to name (`Err` with the position when it reads).
fn decode_members<R>(rows: &[R]) -> Vec<Result<BatchMember, Unreadable>>
where
    R: Row,
    OperatorRow: for<'r> FromRow<'r, R>,
    i64: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    Uuid: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    Vec<u8>: Type<R::Database> + for<'r> Decode<'r, R::Database>,
    for<'a> &'a str: ColumnIndex<R>,
{
    rows.iter()
        .map(|row| {
            let pos = row.try_get::<i64, _>("pos");
            let unreadable = |e: sqlx::Error| Unreadable {
                seq: pos.as_ref().ok().copied(),
                error: e.to_string(),
            };
            let present = row
                .try_get::<Option<Uuid>, _>("present")
                .map_err(unreadable)?;
            Ok(BatchMember {
                pos: row.try_get("pos").map_err(unreadable)?,
                record_id: row.try_get("record_id").map_err(unreadable)?,
                digest: hash32(&row.try_get::<Vec<u8>, _>("digest").map_err(unreadable)?),
                row: present.map(|_| OperatorRow::from_row(row).map_err(|e| e.to_string())),
            })
        })
        .collect()
}

impl Store {
    /// The chain entries `from..=to` that are import batches: position and batch id.
    #[tracing::instrument(skip_all)]
    pub async fn chained_batches(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<(i64, Uuid)>, StoreError> {
        let heads = on!(self.pool(), |pool| {
            sqlx::query_as::<_, (i64, Uuid)>(BATCH_HEADS)
                .bind(from)
                .bind(to)
                .fetch_all(pool)
                .await?
        });
        Ok(heads)
    }

    /// Up to `limit` members of import batch `batch` after position `after_pos`, in
    /// order, each decoded on its own (`Unreadable::seq` is then the member's position).
    #[tracing::instrument(skip_all)]
    pub async fn batch_members(
        &self,
        batch: Uuid,
        after_pos: i64,
        limit: u32,
    ) -> Result<Vec<Result<BatchMember, Unreadable>>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            let rows = sqlx::query(BATCH_MEMBERS)
                .bind(batch)
                .bind(after_pos)
                .bind(i64::from(limit))
                .fetch_all(pool)
                .await?;
            decode_members(&rows)
        });
        Ok(rows)
    }
}
