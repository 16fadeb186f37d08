//! What door agents upload: their hash-chained events, stored each (agent, seq) exactly
//! once and append-only, and the alarms raised while ingesting them (a gap in the
//! numbers, a broken chain, a number reused with other content, a drifting clock).
//!
//! Alarms are minimal here (kind and a sentence); `store::alarms` is the alarm model.
//! Storing is in [`ingest`], reading in [`list`] and, one event in full, [`detail`].

mod batch;
mod detail;
mod ingest;
mod list;

use crate::store::stored_time::StoredTime;
pub(crate) use batch::rows_per_insert;
use chrono::{DateTime, Utc};
pub use detail::EventDetail;
use gatehouse_core::event::DoorEvent;
pub use gatehouse_core::protocol::IngestOutcome;
use serde::Serialize;
use uuid::Uuid;

/// Offsets beyond this (either way) raise a `clock_offset` alarm (IEC 60839-11-1: ±10 s).
pub const MAX_CLOCK_OFFSET_MS: i64 = 10_000;

/// One journal record as uploaded, its payload already decoded.
pub struct UploadRecord {
    pub seq: u64,
    pub payload: Vec<u8>,
    pub hash: [u8; 32],
    pub event: DoorEvent,
}

/// An event as served.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct EventRecord {
    pub id: Uuid,
    pub agent_id: Uuid,
    /// The agent's sequence number.
    pub seq: i64,
    /// By the agent's clock.
    #[sqlx(try_from = "StoredTime")]
    pub occurred_at: DateTime<Utc>,
    /// By the server's clock.
    #[sqlx(try_from = "StoredTime")]
    pub received_at: DateTime<Utc>,
    pub door_id: Option<Uuid>,
    /// e.g. `presentation`, `forced_open`, `held_open`.
    pub kind: String,
    pub reader: Option<String>,
    pub direction: Option<String>,
    pub card: Option<String>,
    pub outcome: Option<String>,
    /// A presentation's reason; on a `remote_command`, what was done and by which
    /// operator (`release 5 s by alice`).
    pub reason: Option<String>,
    pub person_id: Option<Uuid>,
    pub visit_id: Option<Uuid>,
    pub credential_id: Option<Uuid>,
    pub zone_id: Option<Uuid>,
    pub policy_version: Option<i64>,
    /// On a `released_entry` (a waiting holder let in by another's presentation): the
    /// person or visit whose presentation released it (the escort, the second person).
    pub released_by: Option<Uuid>,
    /// On a `released_entry`: the id of the releasing presentation's event.
    pub release_of: Option<Uuid>,
}

/// Which events to list; `None` matches all. `from` is inclusive, `to` exclusive (both on
/// `occurred_at`, the agent's clock).
#[derive(Debug, Default, Clone)]
pub struct EventFilter {
    pub door_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub credential_id: Option<Uuid>,
    /// Events recorded in the zone (presentations into it) and the door incidents
    /// ([`INCIDENT_KINDS`]) at the doors leading into it.
    pub zone_id: Option<Uuid>,
    /// Events at the site's doors.
    pub site_id: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    pub kind: Option<String>,
    /// Presentations of this card (normalised).
    pub card: Option<String>,
    /// Events of a person or visitor whose name contains this (case-insensitive).
    pub person_name: Option<String>,
}

/// The door incidents: what a door records about itself, not a passage or a routine
/// opening (`door_opened`, `door_closed`, `exit_requested` are routine). A zone's
/// events include these at the doors leading into it; migration 0021 indexes them
/// (`access_events_incident`, whose predicate lists the same kinds).
pub const INCIDENT_KINDS: [&str; 13] = [
    "forced_open",
    "held_open",
    "held_open_cleared",
    "not_opened_after_grant",
    "policy_stale",
    "journal_full",
    "reader_error",
    "agent_started",
    "lock_fault",
    "clock_offset",
    "tamper",
    "tamper_cleared",
    "presence_unconfirmed",
];

/// An ingest alarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AlarmRecord {
    pub id: Uuid,
    pub agent_id: Uuid,
    #[sqlx(try_from = "StoredTime")]
    pub at: DateTime<Utc>,
    /// `journal_gap`, `chain_broken`, `clock_offset` or `seq_conflict`.
    pub kind: String,
    pub detail: String,
}
