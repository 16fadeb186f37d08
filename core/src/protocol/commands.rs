//! Remote door commands: what an operator asked of a door (a momentary release, a mode
//! change) as the agent fetches it by long-poll (`POST /agent/commands`). The agent
//! executes each command once, journals it at the door as a `remote_command` event
//! naming the operator, and reports it done in its next poll; a command not done before
//! it expires is never executed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::DoorMode;

/// Shortest and longest momentary release, in seconds.
pub const RELEASE_SECONDS: std::ops::RangeInclusive<u32> = 1..=300;

/// What to do at the door.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum CommandAction {
    /// Release the lock for `seconds` (1 to 300); the door relocks when it closes after
    /// opening, or when the time is up.
    Release {
        #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 300))]
        seconds: u32,
    },
    /// Put the door in `mode` until `until` (then the policy's mode again), or until the
    /// next mode command when `until` is absent.
    SetMode {
        mode: DoorMode,
        until: Option<DateTime<Utc>>,
    },
}

impl CommandAction {
    /// A short description: `release 5 s`, `mode locked`, `mode unlocked until ...`.
    pub fn describe(&self) -> String {
        match self {
            CommandAction::Release { seconds } => format!("release {seconds} s"),
            CommandAction::SetMode { mode, until: None } => format!("mode {mode}"),
            CommandAction::SetMode {
                mode,
                until: Some(until),
            } => format!(
                "mode {mode} until {}",
                until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }
}

/// A command for one of the agent's doors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoorCommand {
    pub id: Uuid,
    pub door_id: Uuid,
    pub action: CommandAction,
    /// Who asked.
    pub operator_id: Uuid,
    /// Their username, journalled with the command.
    pub operator: String,
    pub issued_at: DateTime<Utc>,
    /// Not executed after this.
    pub expires_at: DateTime<Utc>,
}

/// `POST /agent/commands`: the commands done since the last poll, and how long to wait
/// for new ones.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CommandPoll {
    /// Ids of commands executed (journalled) since the last poll.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 1000))]
    pub done: Vec<Uuid>,
    /// Seconds to wait for a command, 0 to 25 (default 25).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 25))]
    pub wait_s: Option<u64>,
}

/// The commands waiting for the agent's doors (not done, not expired), oldest first; an
/// empty list when the wait ended first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CommandPage {
    pub commands: Vec<DoorCommand>,
}
