//! Live doors: each door's current state as its agent reports it (`door_states`), read
//! back with the names of its door, site, zones and agent and whether that agent is
//! online; and operators' remote commands (`door_commands`), handed to the agent that
//! serves the door until it reports them done or they expire.
//!
//! An agent is online while it has been heard from (any request with its token: the
//! door-state heartbeat, a long-poll, an upload) within the configured time. Reports
//! that change nothing write nothing, so the heartbeat costs one read.

use super::operator_log::{Actor, NewLogEntry};
use super::{Db, Store, StoreError, now, on};
use crate::store::stored_time::{OptionalStoredTime, StoredTime};
use chrono::{DateTime, Utc};
use gatehouse_core::model::DoorMode;
use gatehouse_core::protocol::{
    CommandAction, ContactState, DoorAlarm, DoorCommand, DoorState, LastEvent, LockState,
};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Duration;
use uuid::Uuid;

/// One door as the security desk sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct DoorStatus {
    pub door_id: Uuid,
    pub door: String,
    pub site_id: Uuid,
    pub site: String,
    pub from_zone_id: Uuid,
    pub from_zone: String,
    pub to_zone_id: Uuid,
    pub to_zone: String,
    /// The mode the site model gives the door (`mode` is the one in force at the door).
    pub configured_mode: DoorMode,
    /// The agent serving the door; `null` when none does.
    pub agent_id: Option<Uuid>,
    pub agent: Option<String>,
    /// Heard from within `alarms.agent_offline_after_s`. When `false`, the state below
    /// is the last one reported.
    pub agent_online: bool,
    pub agent_last_seen_at: Option<DateTime<Utc>>,
    /// `null` until the agent first reports the door.
    pub lock: Option<LockState>,
    pub contact: Option<ContactState>,
    pub mode: Option<DoorMode>,
    /// When an operator's mode override ends (`null`: none, or until the next command).
    pub mode_until: Option<DateTime<Utc>>,
    /// Alarm conditions standing at the door now.
    pub alarms: Vec<DoorAlarm>,
    pub last_event: Option<LastEvent>,
    /// When the server took the last change of the door's state.
    pub updated_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
struct StatusRow {
    door_id: Uuid,
    door: String,
    site_id: Uuid,
    site: String,
    from_zone_id: Uuid,
    from_zone: String,
    to_zone_id: Uuid,
    to_zone: String,
    configured_mode: String,
    agent_id: Option<Uuid>,
    agent: Option<String>,
    agent_status: Option<String>,
    #[sqlx(try_from = "OptionalStoredTime")]
    last_seen_at: Option<DateTime<Utc>>,
    lock_state: Option<String>,
    contact: Option<String>,
    mode: Option<String>,
    #[sqlx(try_from = "OptionalStoredTime")]
    mode_until: Option<DateTime<Utc>>,
    alarms: Option<String>,
    last_event_kind: Option<String>,
    #[sqlx(try_from = "OptionalStoredTime")]
    last_event_at: Option<DateTime<Utc>>,
    last_event_detail: Option<String>,
    #[sqlx(try_from = "OptionalStoredTime")]
    updated_at: Option<DateTime<Utc>>,
}

/// A stored enum that does not parse: the row was altered behind the server's back.
fn parse<T: std::str::FromStr>(text: &str) -> Result<T, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Database(sqlx::Error::Decode(format!("{text:?}").into())))
}

fn parse_opt<T: std::str::FromStr>(text: Option<&str>) -> Result<Option<T>, StoreError> {
    text.map(parse).transpose()
}

fn alarms_text(alarms: &[DoorAlarm]) -> String {
    let mut sorted = alarms.to_vec();
    sorted.sort();
    sorted.dedup();
    sorted
        .iter()
        .map(AsRef::<str>::as_ref)
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_alarms(text: &str) -> Result<Vec<DoorAlarm>, StoreError> {
    text.split(',')
        .filter(|a| !a.is_empty())
        .map(parse)
        .collect()
}

/// The oldest `last_seen_at` still counted as online.
fn online_since(offline_after: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(offline_after)
        .ok()
        .and_then(|d| now().checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

impl StatusRow {
    fn status(self, online_since: DateTime<Utc>) -> Result<DoorStatus, StoreError> {
        let last_event = match (self.last_event_kind, self.last_event_at) {
            (Some(kind), Some(at)) => Some(LastEvent {
                kind,
                at,
                detail: self.last_event_detail,
            }),
            _ => None,
        };
        Ok(DoorStatus {
            door_id: self.door_id,
            door: self.door,
            site_id: self.site_id,
            site: self.site,
            from_zone_id: self.from_zone_id,
            from_zone: self.from_zone,
            to_zone_id: self.to_zone_id,
            to_zone: self.to_zone,
            configured_mode: parse(&self.configured_mode)?,
            agent_id: self.agent_id,
            agent: self.agent,
            agent_online: self.agent_status.as_deref() == Some("active")
                && self.last_seen_at.is_some_and(|at| at >= online_since),
            agent_last_seen_at: self.last_seen_at,
            lock: parse_opt(self.lock_state.as_deref())?,
            contact: parse_opt(self.contact.as_deref())?,
            mode: parse_opt(self.mode.as_deref())?,
            mode_until: self.mode_until,
            alarms: parse_alarms(self.alarms.as_deref().unwrap_or_default())?,
            last_event,
            updated_at: self.updated_at,
        })
    }
}

/// Where a remote command stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CommandStatus {
    /// Waiting for the agent to fetch it (until `expires_at`).
    Pending,
    /// The agent has fetched it.
    Delivered,
    /// The agent executed and journalled it.
    Done,
    /// Not fetched before `expires_at`: it will never be executed.
    Expired,
}

/// A remote command as served to operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct CommandRecord {
    pub id: Uuid,
    pub door_id: Uuid,
    pub agent_id: Uuid,
    pub action: CommandAction,
    pub operator_id: Uuid,
    pub operator: String,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub done_at: Option<DateTime<Utc>>,
    pub status: CommandStatus,
}

#[derive(sqlx::FromRow)]
struct CommandRow {
    id: Uuid,
    door_id: Uuid,
    agent_id: Uuid,
    action: String,
    seconds: Option<i64>,
    mode: Option<String>,
    #[sqlx(try_from = "OptionalStoredTime")]
    mode_until: Option<DateTime<Utc>>,
    operator_id: Uuid,
    operator: String,
    #[sqlx(try_from = "StoredTime")]
    issued_at: DateTime<Utc>,
    #[sqlx(try_from = "StoredTime")]
    expires_at: DateTime<Utc>,
    #[sqlx(try_from = "OptionalStoredTime")]
    delivered_at: Option<DateTime<Utc>>,
    #[sqlx(try_from = "OptionalStoredTime")]
    done_at: Option<DateTime<Utc>>,
}

macro_rules! select_command {
    ($rest:literal) => {
        concat!(
            "SELECT c.id, c.door_id, c.agent_id, c.action, c.seconds, c.mode, c.mode_until, ",
            "c.operator_id, c.operator, c.issued_at, c.expires_at, c.delivered_at, c.done_at ",
            "FROM door_commands c ",
            $rest
        )
    };
}

impl CommandRow {
    fn action(&self) -> Result<CommandAction, StoreError> {
        match (self.action.as_str(), self.seconds, self.mode.as_deref()) {
            ("release", Some(seconds), _) => Ok(CommandAction::Release {
                seconds: u32::try_from(seconds).unwrap_or(0),
            }),
            ("set_mode", _, Some(mode)) => Ok(CommandAction::SetMode {
                mode: parse(mode)?,
                until: self.mode_until,
            }),
            _ => Err(StoreError::Database(sqlx::Error::Decode(
                format!("door command {} is incomplete", self.id).into(),
            ))),
        }
    }

    fn record(self, at: DateTime<Utc>) -> Result<CommandRecord, StoreError> {
        let action = self.action()?;
        let status = match (self.done_at, self.delivered_at) {
            (Some(_), _) => CommandStatus::Done,
            (None, Some(_)) => CommandStatus::Delivered,
            (None, None) if self.expires_at <= at => CommandStatus::Expired,
            (None, None) => CommandStatus::Pending,
        };
        Ok(CommandRecord {
            id: self.id,
            door_id: self.door_id,
            agent_id: self.agent_id,
            action,
            operator_id: self.operator_id,
            operator: self.operator,
            issued_at: self.issued_at,
            expires_at: self.expires_at,
            delivered_at: self.delivered_at,
            done_at: self.done_at,
            status,
        })
    }
}

/// Why a command was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum CommandRefused {
    #[error("door not found")]
    NoDoor,
    #[error("no door agent serves this door: the command was not sent")]
    NoAgent,
    /// The agent serving the door has not been heard from in time.
    #[error(
        "the door's agent {agent:?} is offline (last heard from {}): the command was not sent",
        last_seen_at.map_or("never".to_owned(), |at| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
    )]
    AgentOffline {
        agent: String,
        last_seen_at: Option<DateTime<Utc>>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CommandRefused {
    fn from(error: sqlx::Error) -> Self {
        CommandRefused::Store(error.into())
    }
}

/// A command to store: for `door_id`, valid `ttl` from now.
pub struct NewCommand {
    pub door_id: Uuid,
    pub action: CommandAction,
    pub ttl: Duration,
}

impl Store {
    /// Takes an agent's report of its doors: each door whose state differs from the
    /// stored one is replaced (`updated_at` now). Every door must be one the agent
    /// serves (checked by the caller). Returns how many doors changed.
    #[tracing::instrument(skip_all)]
    pub async fn report_door_states(
        &self,
        agent_id: Uuid,
        states: &[DoorState],
    ) -> Result<usize, StoreError> {
        let stored: Vec<StatusRow> = self.status_rows(None, Some(agent_id)).await?;
        let stored: BTreeMap<Uuid, StatusRow> =
            stored.into_iter().map(|r| (r.door_id, r)).collect();
        let changed: Vec<&DoorState> = states
            .iter()
            .filter(|s| stored.get(&s.door_id).is_none_or(|row| differs(row, s)))
            .collect();
        if changed.is_empty() {
            return Ok(0);
        }
        let at = now();
        on!(self.write().await?, |mut tx| {
            for state in &changed {
                let last = state.last_event.as_ref();
                sqlx::query(
                    "INSERT INTO door_states (door_id, agent_id, lock_state, contact, mode, \
                     mode_until, alarms, last_event_kind, last_event_at, last_event_detail, \
                     updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
                     ON CONFLICT (door_id) DO UPDATE SET agent_id = $2, lock_state = $3, \
                     contact = $4, mode = $5, mode_until = $6, alarms = $7, \
                     last_event_kind = $8, last_event_at = $9, last_event_detail = $10, \
                     updated_at = $11",
                )
                .bind(state.door_id)
                .bind(agent_id)
                .bind(state.lock.as_ref())
                .bind(state.contact.as_ref())
                .bind(state.mode.as_ref())
                .bind(state.mode_until.map(trunc))
                .bind(alarms_text(&state.alarms))
                .bind(last.map(|e| e.kind.as_str()))
                .bind(last.map(|e| trunc(e.at)))
                .bind(last.and_then(|e| e.detail.as_deref()))
                .bind(at)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
        });
        Ok(changed.len())
    }

    /// Every door (of `site_id`, when given) with its names, agent and live state, in
    /// site, door name and id order.
    #[tracing::instrument(skip_all)]
    pub async fn door_statuses(
        &self,
        site_id: Option<Uuid>,
        offline_after: Duration,
    ) -> Result<Vec<DoorStatus>, StoreError> {
        let since = online_since(offline_after);
        self.status_rows(site_id, None)
            .await?
            .into_iter()
            .map(|row| row.status(since))
            .collect()
    }

    async fn status_rows(
        &self,
        site_id: Option<Uuid>,
        agent_id: Option<Uuid>,
    ) -> Result<Vec<StatusRow>, StoreError> {
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, StatusRow>(
                "SELECT d.id AS door_id, d.name AS door, d.site_id, s.name AS site, \
                 d.from_zone_id, fz.name AS from_zone, d.to_zone_id, tz.name AS to_zone, \
                 d.mode AS configured_mode, g.id AS agent_id, g.name AS agent, \
                 g.status AS agent_status, g.last_seen_at, st.lock_state, st.contact, \
                 st.mode, st.mode_until, st.alarms, st.last_event_kind, st.last_event_at, \
                 st.last_event_detail, st.updated_at \
                 FROM doors d JOIN sites s ON s.id = d.site_id \
                 JOIN zones fz ON fz.id = d.from_zone_id JOIN zones tz ON tz.id = d.to_zone_id \
                 LEFT JOIN agent_doors ad ON ad.door_id = d.id \
                 LEFT JOIN agents g ON g.id = ad.agent_id \
                 LEFT JOIN door_states st ON st.door_id = d.id \
                 WHERE ($1 IS NULL OR d.site_id = $1) AND ($2 IS NULL OR ad.agent_id = $2) \
                 ORDER BY s.name, s.id, d.name, d.id",
            )
            .bind(site_id)
            .bind(agent_id)
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Stores a command for the agent serving the door, with its operator-log entry, if
    /// that agent is online (heard from within `offline_after`); refused otherwise.
    #[tracing::instrument(skip_all)]
    pub async fn create_door_command(
        &self,
        new: NewCommand,
        offline_after: Duration,
        actor: &Actor,
    ) -> Result<CommandRecord, CommandRefused> {
        let at = now();
        let ttl = chrono::Duration::from_std(new.ttl).unwrap_or(chrono::Duration::seconds(10));
        let (operation, seconds, mode, until): (_, _, Option<&'static str>, _) = match &new.action {
            CommandAction::Release { seconds } => {
                ("release", Some(i64::from(*seconds)), None, None)
            }
            CommandAction::SetMode { mode, until } => {
                ("set_mode", None, Some((*mode).into()), until.map(trunc))
            }
        };
        let record = CommandRecord {
            id: Uuid::now_v7(),
            door_id: new.door_id,
            agent_id: Uuid::nil(),
            action: match new.action {
                CommandAction::SetMode { mode, until } => CommandAction::SetMode {
                    mode,
                    until: until.map(trunc),
                },
                release => release,
            },
            operator_id: actor.id.unwrap_or_default(),
            operator: actor.name.clone(),
            issued_at: at,
            expires_at: at + ttl,
            delivered_at: None,
            done_at: None,
            status: CommandStatus::Pending,
        };
        let record = on!(self.write().await?, |mut tx| {
            let door = sqlx::query_scalar::<_, Uuid>("SELECT id FROM doors WHERE id = $1")
                .bind(new.door_id)
                .fetch_optional(&mut *tx)
                .await?;
            if door.is_none() {
                return Err(CommandRefused::NoDoor);
            }
            let agent: Option<(Uuid, String, String, OptionalStoredTime)> = sqlx::query_as(
                "SELECT g.id, g.name, g.status, g.last_seen_at FROM agent_doors ad \
                 JOIN agents g ON g.id = ad.agent_id WHERE ad.door_id = $1",
            )
            .bind(new.door_id)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((agent_id, agent, status, seen)) = agent else {
                return Err(CommandRefused::NoAgent);
            };
            let online =
                status == "active" && seen.0.is_some_and(|s| s >= online_since(offline_after));
            if !online {
                return Err(CommandRefused::AgentOffline {
                    agent,
                    last_seen_at: seen.0,
                });
            }
            let record = CommandRecord { agent_id, ..record };
            sqlx::query(
                "INSERT INTO door_commands (id, door_id, agent_id, action, seconds, mode, \
                 mode_until, operator_id, operator, issued_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
            )
            .bind(record.id)
            .bind(record.door_id)
            .bind(agent_id)
            .bind(operation)
            .bind(seconds)
            .bind(mode)
            .bind(until)
            .bind(record.operator_id)
            .bind(&record.operator)
            .bind(record.issued_at)
            .bind(record.expires_at)
            .execute(&mut *tx)
            .await?;
            let action = match operation {
                "release" => "door.release",
                _ => "door.set_mode",
            };
            Db::from(&mut *tx)
                .insert_log(&NewLogEntry::new(
                    actor,
                    action,
                    "door",
                    record.door_id,
                    None,
                    Some(&record),
                ))
                .await?;
            // The agent's waiting command long-poll, on whichever server it waits.
            Db::from(&mut *tx)
                .notify_feed(crate::feeds::COMMANDS_CHANNEL)
                .await?;
            tx.commit().await?;
            record
        });
        Ok(record)
    }

    /// One command as it stands now.
    #[tracing::instrument(skip_all)]
    pub async fn door_command(&self, id: Uuid) -> Result<CommandRecord, StoreError> {
        let row = on!(self.pool(), |pool| {
            sqlx::query_as::<_, CommandRow>(select_command!("WHERE c.id = $1"))
                .bind(id)
                .fetch_one(pool)
                .await?
        });
        row.record(now())
    }

    /// Marks the agent's commands `done` as executed, then hands it the commands waiting
    /// for the doors it serves now (not done, not expired), oldest first, marking them
    /// delivered. Ids of other agents' commands are ignored.
    #[tracing::instrument(skip_all)]
    pub async fn agent_commands(
        &self,
        agent_id: Uuid,
        done: &[Uuid],
    ) -> Result<Vec<DoorCommand>, StoreError> {
        let at = now();
        if !done.is_empty() {
            on!(self.write().await?, |mut tx| {
                for id in done {
                    sqlx::query(
                        "UPDATE door_commands SET done_at = $3, \
                         delivered_at = COALESCE(delivered_at, $3) \
                         WHERE id = $1 AND agent_id = $2 AND done_at IS NULL",
                    )
                    .bind(id)
                    .bind(agent_id)
                    .bind(at)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
            });
        }
        let rows = on!(self.pool(), |pool| {
            sqlx::query_as::<_, CommandRow>(select_command!(
                "JOIN agent_doors ad ON ad.door_id = c.door_id AND ad.agent_id = c.agent_id \
                 WHERE c.agent_id = $1 AND c.done_at IS NULL AND c.expires_at > $2 \
                 ORDER BY c.issued_at, c.id"
            ))
            .bind(agent_id)
            .bind(at)
            .fetch_all(pool)
            .await?
        });
        if rows.iter().any(|r| r.delivered_at.is_none()) {
            on!(self.pool(), |pool| {
                for row in rows.iter().filter(|r| r.delivered_at.is_none()) {
                    sqlx::query(
                        "UPDATE door_commands SET delivered_at = $2 \
                         WHERE id = $1 AND delivered_at IS NULL",
                    )
                    .bind(row.id)
                    .bind(at)
                    .execute(pool)
                    .await?;
                }
            });
        }
        rows.into_iter()
            .map(|row| {
                Ok(DoorCommand {
                    id: row.id,
                    door_id: row.door_id,
                    action: row.action()?,
                    operator_id: row.operator_id,
                    operator: row.operator,
                    issued_at: row.issued_at,
                    expires_at: row.expires_at,
                })
            })
            .collect()
    }
}

/// Whether the agent's report of a door differs from the stored state.
fn differs(row: &StatusRow, state: &DoorState) -> bool {
    let last = state.last_event.as_ref();
    row.lock_state.as_deref() != Some(state.lock.as_ref())
        || row.contact.as_deref() != Some(state.contact.as_ref())
        || row.mode.as_deref() != Some(state.mode.as_ref())
        || row.mode_until != state.mode_until.map(trunc)
        || row.alarms.as_deref() != Some(alarms_text(&state.alarms).as_str())
        || row.last_event_kind.as_deref() != last.map(|e| e.kind.as_str())
        || row.last_event_at != last.map(|e| trunc(e.at))
        || row.last_event_detail.as_deref() != last.and_then(|e| e.detail.as_deref())
}

/// A time at the precision both databases store (microseconds).
fn trunc(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    at.trunc_subsecs(6)
}
