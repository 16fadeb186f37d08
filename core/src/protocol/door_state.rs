//! Live door state: what a door agent reports of each of its doors (`POST
//! /agent/door-state`) on every change and as its heartbeat. Each report carries the
//! whole current state of every door the agent drives, so a lost report is made good by
//! the next one and the server needs no history to answer "how is this door now".

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::model::DoorMode;

/// The lock relay as the agent last moved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::EnumString, strum::Display)]
#[strum(serialize_all = "snake_case")]
pub enum LockState {
    /// The lock holds the door.
    Locked,
    /// The lock lets the door open.
    Released,
}

/// The door contact (debounced).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::EnumString, strum::Display)]
#[strum(serialize_all = "snake_case")]
pub enum ContactState {
    Open,
    Closed,
}

/// An alarm condition standing at a door now (not the alarm record: see `/alarms`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::EnumString, strum::Display)]
#[strum(serialize_all = "snake_case")]
pub enum DoorAlarm {
    /// Opened without a grant, exit request or unlocked mode, and not yet closed.
    ForcedOpen,
    /// Legitimately opened and standing open past its held-open time.
    HeldOpen,
    /// The enclosure's tamper switch is open.
    Tamper,
}

/// The last event journalled at a door.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct LastEvent {
    /// The event kind (`presentation`, `forced_open`, `remote_command`, ...).
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub kind: String,
    /// When, by the agent's clock.
    pub at: DateTime<Utc>,
    /// A short summary: `granted`, `denied: no_grant`, `release 5 s by alice`.
    #[cfg_attr(feature = "openapi", schema(max_length = 256))]
    pub detail: Option<String>,
}

/// One door as the agent sees it now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DoorState {
    pub door_id: Uuid,
    pub lock: LockState,
    pub contact: ContactState,
    /// The mode in force (an operator's override while it lasts, else the policy's).
    pub mode: DoorMode,
    /// When an operator's mode override ends; `null` when none is in force or it lasts
    /// until the next command.
    pub mode_until: Option<DateTime<Utc>>,
    /// Alarm conditions standing now, in a fixed order; empty when none.
    #[cfg_attr(feature = "openapi", schema(max_items = 3))]
    pub alarms: Vec<DoorAlarm>,
    pub last_event: Option<LastEvent>,
}

/// `POST /agent/door-state`: every door the agent drives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct DoorStateReport {
    #[cfg_attr(feature = "openapi", schema(max_items = 256))]
    pub doors: Vec<DoorState>,
}
