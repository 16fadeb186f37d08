//! Alarms for the security desk, in one model over their three sources: door events that
//! are alarms (`event_alarms` points at them in `access_events`; nothing is copied), the
//! alarms the server raises (`agent_alarms`: ingest problems, agents gone quiet, one card
//! denied again and again; append-only and chained), and acknowledgements (`alarm_acks`,
//! each recorded in the operator log in the same transaction, so chained too).
//!
//! `ingest` finds alarms in an upload (inside its transaction), `raise` has what the
//! server raises on its own, `feed` what the live stream reads.

mod feed;
pub(crate) mod ingest;
mod raise;

pub use feed::{AckNotice, FEED_WINDOW, FeedItem};
pub use raise::DenialRule;

use super::audit::ChainItem;
use super::operator_log::{Actor, NewLogEntry};
use super::{Db, Store, StoreError, now, on};
use crate::audit::records::{AlarmRow, Source};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What an alarm is about.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
    PartialOrd,
    Ord,
)]
#[serde(rename_all = "snake_case")]
#[derive(
    strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display, strum::EnumIter,
)]
#[strum(serialize_all = "snake_case")]
pub enum AlarmKind {
    /// A door opened with no grant and no exit request.
    ForcedOpen,
    /// A door stayed open past its held-open time.
    HeldOpen,
    /// Someone entered the duress PIN: the door opened, silently alarmed.
    Duress,
    /// Too many wrong PINs: the card is suspended at the door.
    PinLockout,
    /// Soft anti-passback let someone in twice.
    AntiPassbackViolation,
    /// A lock relay did not move when commanded.
    LockFault,
    /// A door's tamper switch opened (reader or controller enclosure).
    Tamper,
    /// A door agent's policy grew too old: it refuses entries.
    PolicyStale,
    /// A door agent's journal is over capacity.
    JournalFull,
    /// A door agent's clock is more than 10 s off (recorded by the agent, or measured by
    /// the server at an upload).
    ClockOffset,
    /// Numbers missing from an agent's upload.
    JournalGap,
    /// An uploaded record does not chain from the one before it.
    ChainBroken,
    /// An agent reused a number with other content.
    SeqConflict,
    /// An active agent has not been heard from for `alarms.agent_offline_after_s`.
    AgentOffline,
    /// One card was denied `alarms.repeated_denials` times within
    /// `alarms.repeated_denials_window_s`, at any doors.
    RepeatedDenials,
    /// A visitor card of the pool was not returned by its visit's end (raised on a door
    /// agent of the visit's site; the detail names the card, the visit, the site and zones).
    VisitorCardUnreturned,
    /// A card failed authentication at a door, or a secure credential's UID was presented
    /// without it: a clone or a forgery (`credential_not_authentic`).
    CredentialNotAuthentic,
}

impl AlarmKind {
    /// The name stored and served (strum's, equal to serde's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// Whether the server raises alarms of this kind (`agent_alarms`).
    pub fn raised_by_server(self) -> bool {
        matches!(
            self,
            AlarmKind::ClockOffset
                | AlarmKind::JournalGap
                | AlarmKind::ChainBroken
                | AlarmKind::SeqConflict
                | AlarmKind::AgentOffline
                | AlarmKind::RepeatedDenials
                | AlarmKind::VisitorCardUnreturned
        )
    }

    /// Whether door agents record alarms of this kind (`event_alarms`).
    pub fn recorded_at_doors(self) -> bool {
        self == AlarmKind::ClockOffset || !self.raised_by_server()
    }
}

impl TryFrom<String> for AlarmKind {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse().map_err(|_| format!("unknown alarm kind {s:?}"))
    }
}

/// Who raised an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum AlarmOrigin {
    /// A door agent recorded it: `event_id` is its event.
    Door,
    /// The server raised it (ingest problems, agent offline, repeated denials).
    Server,
}

impl TryFrom<String> for AlarmOrigin {
    type Error = String;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse().map_err(|_| format!("unknown alarm origin {s:?}"))
    }
}

/// An alarm as the console sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Alarm {
    pub id: Uuid,
    pub kind: AlarmKind,
    /// 1 (most urgent) to 5, by kind (`[alarms.priority]`; the store alone gives the
    /// built-in default, the API the configured one: `alarm_desk`).
    #[schema(minimum = 1, maximum = 5)]
    pub priority: u8,
    /// What the officer should do, by kind (`[alarms.instructions]`, as `priority`).
    pub instructions: String,
    pub origin: AlarmOrigin,
    /// When the server learned of it.
    pub raised_at: DateTime<Utc>,
    /// When it happened: by the agent's clock for door alarms.
    pub occurred_at: DateTime<Utc>,
    /// The door agent it concerns.
    pub agent_id: Uuid,
    pub agent_name: String,
    /// The door, when a door event names one. Server alarms concern an agent and so all
    /// its doors.
    pub door_id: Option<Uuid>,
    pub door_name: Option<String>,
    /// The door's site.
    pub site_id: Option<Uuid>,
    pub site_name: Option<String>,
    /// The access event a door alarm is.
    pub event_id: Option<Uuid>,
    /// The card presented (duress, PIN lock-out, anti-passback).
    pub card: Option<String>,
    pub person_id: Option<Uuid>,
    pub person_name: Option<String>,
    /// What the server found, in words (server alarms).
    pub detail: Option<String>,
    /// Absent until a security officer acknowledges it.
    pub acknowledgement: Option<Acknowledgement>,
}

/// Who acknowledged an alarm, when, and their note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Acknowledgement {
    pub at: DateTime<Utc>,
    pub operator_id: Uuid,
    /// Their username at the time.
    pub operator: String,
    pub note: String,
}

/// Which alarms to list; `None` matches all. `from` is inclusive, `to` exclusive (by
/// `occurred_at`). `door_id` and `site_id` match server alarms of an agent serving them.
#[derive(Debug, Default, Clone)]
pub struct AlarmFilter {
    pub acknowledged: Option<bool>,
    pub kind: Option<AlarmKind>,
    pub agent_id: Option<Uuid>,
    pub door_id: Option<Uuid>,
    pub site_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// A row of the alarm model as selected (see [`alarm_select!`]).
#[derive(sqlx::FromRow)]
struct AlarmDbRow {
    id: Uuid,
    #[sqlx(try_from = "String")]
    kind: AlarmKind,
    #[sqlx(try_from = "String")]
    origin: AlarmOrigin,
    #[sqlx(try_from = "StoredTime")]
    raised_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    occurred_at: DateTime<Utc>,
    agent_id: Uuid,
    agent_name: String,
    door_id: Option<Uuid>,
    door_name: Option<String>,
    site_id: Option<Uuid>,
    site_name: Option<String>,
    event_id: Option<Uuid>,
    card: Option<String>,
    person_id: Option<Uuid>,
    person_name: Option<String>,
    detail: Option<String>,
    #[sqlx(try_from = "OptionalStoredTime")]
    ack_at: Option<DateTime<Utc>>,
    ack_operator_id: Option<Uuid>,
    ack_operator: Option<String>,
    ack_note: Option<String>,
}

impl From<AlarmDbRow> for Alarm {
    fn from(row: AlarmDbRow) -> Alarm {
        let acknowledgement = match (
            row.ack_at,
            row.ack_operator_id,
            row.ack_operator,
            row.ack_note,
        ) {
            (Some(at), Some(operator_id), Some(operator), Some(note)) => Some(Acknowledgement {
                at,
                operator_id,
                operator,
                note,
            }),
            _ => None,
        };
        let desk = crate::alarm_desk::AlarmDesk::default();
        Alarm {
            id: row.id,
            kind: row.kind,
            priority: desk.priority(row.kind),
            instructions: desk.instructions(row.kind).to_owned(),
            origin: row.origin,
            raised_at: row.raised_at,
            occurred_at: row.occurred_at,
            agent_id: row.agent_id,
            agent_name: row.agent_name,
            door_id: row.door_id,
            door_name: row.door_name,
            site_id: row.site_id,
            site_name: row.site_name,
            event_id: row.event_id,
            card: row.card,
            person_id: row.person_id,
            person_name: row.person_name,
            detail: row.detail,
            acknowledgement,
        }
    }
}

/// The columns of the alarm model and their acknowledgement, from a server alarm `a`
/// or a door alarm `x` of event `e`, each joined to its acknowledgement `k`. Names are
/// read by subqueries, so every statement using these keeps its own `FROM`.
macro_rules! server_alarm_columns {
    () => {
        "a.id, a.kind, 'server' AS origin, a.at AS raised_at, a.at AS occurred_at, \
         a.agent_id, (SELECT g.name FROM agents g WHERE g.id = a.agent_id) AS agent_name, \
         NULL AS door_id, NULL AS door_name, NULL AS site_id, NULL AS site_name, \
         NULL AS event_id, NULL AS card, NULL AS person_id, NULL AS person_name, \
         a.detail, k.at AS ack_at, k.operator_id AS ack_operator_id, \
         k.operator AS ack_operator, k.note AS ack_note"
    };
}
macro_rules! door_alarm_columns {
    () => {
        "x.id, x.kind, 'door' AS origin, e.received_at AS raised_at, e.occurred_at, \
         e.agent_id, (SELECT g.name FROM agents g WHERE g.id = e.agent_id) AS agent_name, \
         e.door_id, (SELECT d.name FROM doors d WHERE d.id = e.door_id) AS door_name, \
         (SELECT d.site_id FROM doors d WHERE d.id = e.door_id) AS site_id, \
         (SELECT s.name FROM doors d JOIN sites s ON s.id = d.site_id \
          WHERE d.id = e.door_id) AS site_name, \
         e.id AS event_id, e.card, e.person_id, \
         (SELECT p.name FROM people p WHERE p.id = e.person_id) AS person_name, \
         NULL AS detail, k.at AS ack_at, k.operator_id AS ack_operator_id, \
         k.operator AS ack_operator, k.note AS ack_note"
    };
}
pub(super) use {door_alarm_columns, server_alarm_columns};

/// Every alarm as one relation `al` (`$rest` follows it: conditions, order, limit).
macro_rules! alarm_select {
    ($rest:literal) => {
        concat!(
            "SELECT * FROM (SELECT ",
            server_alarm_columns!(),
            " FROM agent_alarms a LEFT JOIN alarm_acks k ON k.alarm_id = a.id \
             UNION ALL SELECT ",
            door_alarm_columns!(),
            " FROM event_alarms x JOIN access_events e ON e.id = x.event_id \
             LEFT JOIN alarm_acks k ON k.alarm_id = x.id) al ",
            $rest
        )
    };
}

/// The list's filters as tests of a row whose kind, agent, door (`NULL` for server
/// alarms: they match through the agent's doors) and time are the given expressions;
/// parameters `$1` to `$7` as [`Store::list_alarms`] binds them. Written as row tests so
/// that each branch walks its primary key from the cursor (`$8`) in id order.
macro_rules! alarm_tests {
    ($kind:literal, $agent:literal, $door:literal, $at:literal) => {
        concat!(
            " AND ($1 IS NULL OR ",
            $kind,
            " = $1) AND ($2 IS NULL OR ",
            $agent,
            " = $2)",
            " AND ($3 IS NULL OR ",
            $door,
            " = $3 OR (",
            $door,
            " IS NULL AND ",
            $agent,
            " IN (SELECT agent_id FROM agent_doors WHERE door_id = $3)))",
            " AND ($4 IS NULL OR ",
            $door,
            " IN (SELECT id FROM doors WHERE site_id = $4)",
            " OR (",
            $door,
            " IS NULL AND ",
            $agent,
            " IN (SELECT ad.agent_id FROM agent_doors ad",
            " JOIN doors d ON d.id = ad.door_id WHERE d.site_id = $4)))",
            " AND ($5 IS NULL OR ",
            $at,
            " >= $5) AND ($6 IS NULL OR ",
            $at,
            " < $6)",
            " AND ($7 IS NULL OR $7 = (k.alarm_id IS NOT NULL))"
        )
    };
}

/// Binds the list's parameters `$1` to `$9` to `$query`.
macro_rules! bind_list {
    ($query:expr, $filter:expr, $after:expr, $limit:expr) => {{
        let filter: &AlarmFilter = $filter;
        $query
            .bind(filter.kind.map(<&str>::from))
            .bind(filter.agent_id)
            .bind(filter.door_id)
            .bind(filter.site_id)
            .bind(filter.from)
            .bind(filter.to)
            .bind(filter.acknowledged)
            .bind($after)
            .bind($limit)
    }};
}

impl Db<'_> {
    /// Appends an alarm the server raises (`kind`, a sentence) to `agent_alarms`, and
    /// returns its entry for the audit chain, which the caller extends with the rest of
    /// its transaction.
    pub(crate) async fn insert_agent_alarm(
        self,
        agent_id: Uuid,
        kind: AlarmKind,
        detail: String,
    ) -> Result<ChainItem, StoreError> {
        let row = AlarmRow {
            id: Uuid::now_v7(),
            agent_id,
            at: now(),
            kind: kind.as_ref().to_owned(),
            detail,
        };
        on!(self, |c| {
            sqlx::query(
                "INSERT INTO agent_alarms (id, agent_id, at, kind, detail) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(row.id)
            .bind(row.agent_id)
            .bind(row.at)
            .bind(&row.kind)
            .bind(&row.detail)
            .execute(c)
            .await?;
        });
        Ok((Source::Alarm, row.id, row.digest()))
    }
}

impl Store {
    /// Alarms in id (≈ raising) order after the cursor id. Each source is read in id
    /// order from the cursor along its primary key, up to `limit`, and the two merged.
    #[tracing::instrument(skip_all)]
    pub async fn list_alarms(
        &self,
        filter: &AlarmFilter,
        after: Option<Uuid>,
        limit: u32,
    ) -> Result<Vec<Alarm>, StoreError> {
        let after = after.unwrap_or(Uuid::nil());
        let limit = i64::from(limit);
        let (servers, doors) = (
            filter.kind.is_none_or(AlarmKind::raised_by_server),
            filter.kind.is_none_or(AlarmKind::recorded_at_doors),
        );
        let mut rows = on!(self.pool(), |pool| {
            let mut rows = Vec::new();
            if servers {
                let query = sqlx::query_as::<_, AlarmDbRow>(concat!(
                    "SELECT ",
                    server_alarm_columns!(),
                    " FROM agent_alarms a LEFT JOIN alarm_acks k ON k.alarm_id = a.id \
                     WHERE a.id > $8",
                    alarm_tests!("a.kind", "a.agent_id", "NULL", "a.at"),
                    " ORDER BY a.id LIMIT $9"
                ));
                rows.extend(
                    bind_list!(query, filter, after, limit)
                        .fetch_all(pool)
                        .await?,
                );
            }
            if doors {
                let query = sqlx::query_as::<_, AlarmDbRow>(concat!(
                    "SELECT ",
                    door_alarm_columns!(),
                    " FROM event_alarms x JOIN access_events e ON e.id = x.event_id \
                     LEFT JOIN alarm_acks k ON k.alarm_id = x.id WHERE x.id > $8",
                    alarm_tests!("x.kind", "e.agent_id", "e.door_id", "e.occurred_at"),
                    " ORDER BY x.id LIMIT $9"
                ));
                rows.extend(
                    bind_list!(query, filter, after, limit)
                        .fetch_all(pool)
                        .await?,
                );
            }
            rows
        });
        rows.sort_by_key(|row| row.id);
        rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        Ok(rows.into_iter().map(Alarm::from).collect())
    }

    /// One alarm; `NotFound` when no alarm has this id.
    #[tracing::instrument(skip_all)]
    pub async fn alarm(&self, id: Uuid) -> Result<Alarm, StoreError> {
        let row = on!(self.pool(), |pool| {
            sqlx::query_as::<_, AlarmDbRow>(alarm_select!("WHERE al.id = $1"))
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        Ok(row.into())
    }

    /// Acknowledges an alarm with the operator's note, and records that in the operator
    /// log in the same transaction. An alarm is acknowledged once: again is
    /// [`StoreError::Rejected`] (a 409); an unknown id is `NotFound`.
    #[tracing::instrument(skip_all)]
    pub async fn acknowledge_alarm(
        &self,
        id: Uuid,
        note: &str,
        actor: &Actor,
    ) -> Result<Alarm, StoreError> {
        const TWICE: StoreError = StoreError::Rejected("the alarm is acknowledged already");
        let Some(operator_id) = actor.id else {
            return Err(StoreError::Rejected("only an operator acknowledges alarms"));
        };
        let acknowledged = on!(self.write().await?, |mut tx| {
            let alarm: Alarm = sqlx::query_as::<_, AlarmDbRow>(alarm_select!("WHERE al.id = $1"))
                .bind(id)
                .fetch_one(&mut *tx)
                .await?
                .into();
            if alarm.acknowledgement.is_some() {
                return Err(TWICE);
            }
            let entry = NewLogEntry::new(
                actor,
                "alarm.acknowledge",
                "alarm",
                id,
                None,
                Some(&serde_json::json!({"kind": alarm.kind, "note": note})),
            );
            let ack = Acknowledgement {
                at: entry.at,
                operator_id,
                operator: actor.name.clone(),
                note: note.to_owned(),
            };
            let log_id = entry.id;
            Db::from(&mut *tx).insert_log(&entry).await?;
            let inserted = sqlx::query(
                "INSERT INTO alarm_acks (id, alarm_id, at, operator_id, operator, note, log_id) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(Uuid::now_v7())
            .bind(id)
            .bind(ack.at)
            .bind(ack.operator_id)
            .bind(&ack.operator)
            .bind(&ack.note)
            .bind(log_id)
            .execute(&mut *tx)
            .await;
            match inserted.map_err(StoreError::from) {
                // Another officer's acknowledgement committed first (PostgreSQL).
                Err(StoreError::Conflict { .. }) => return Err(TWICE),
                other => other?,
            };
            tx.commit().await?;
            Alarm {
                acknowledgement: Some(ack),
                ..alarm
            }
        });
        Ok(acknowledged)
    }
}
