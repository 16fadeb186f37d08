//! The policy data model: sites, zones, doors, people, visits, credentials, grants and
//! schedules, exactly as the server compiles them into a snapshot for the door.
//!
//! These are plain serde types with no behaviour beyond small predicates; the indexing
//! lives in [`crate::policy`] and the rules in [`crate::decide`].

mod card;
mod credential;
mod groups;
mod pin;
mod schedule;
mod stamp;

pub use card::Card;
pub use credential::{
    Assurance, CARD_PATTERN, CardError, CardKind, Credential, CredentialState, MAX_CARD_CHARS,
    normalize_card,
};
pub use groups::GroupIds;
pub use pin::{PinCheck, PinError, PinHash, PinKey, PinUncheckable, PinVerifier};
pub use schedule::{DaySet, Schedule, Window};
pub use stamp::Stamp;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use uuid::Uuid;

/// A facility. Its time zone is the one schedules are evaluated in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Site {
    /// Site id.
    pub id: Uuid,
    /// Human name.
    pub name: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: chrono_tz::Tz,
    /// The site's current threat level.
    #[serde(default)]
    pub threat: ThreatLevel,
    /// From this threat level on (`threat.level >=` it), every zone of the site needs
    /// [`Assurance::Secure`] cards, whatever its own `min_assurance`. `None`: never.
    #[serde(default)]
    pub secure_cards_from_threat_level: Option<u8>,
}

impl Site {
    /// Whether the site's threat level makes every zone need secure cards.
    pub fn secure_cards_required(&self) -> bool {
        self.secure_cards_from_threat_level
            .is_some_and(|from| self.threat.level >= from)
    }

    /// The assurance `zone` (of this site) needs now: its own minimum, raised to
    /// [`Assurance::Secure`] by the threat level (see
    /// [`Site::secure_cards_from_threat_level`]).
    pub fn required_assurance(&self, zone: &Zone) -> Assurance {
        if self.secure_cards_required() {
            Assurance::Secure
        } else {
            zone.min_assurance
        }
    }
}

/// A site's threat level: raises every zone's minimum clearance, or locks doors down.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ThreatLevel {
    /// The level as operators name it (informational; the effect is in the other fields).
    pub level: u8,
    /// Added to every zone's level to get the minimum clearance.
    pub clearance_raise: u8,
    /// Every door of the site refuses entry, except to exempt people.
    pub lockdown: bool,
    /// Responders who pass a lockdown (and a door in locked mode).
    #[serde(default)]
    pub exempt: BTreeSet<Uuid>,
}

/// Anti-passback mode of a zone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum AntiPassback {
    /// No anti-passback.
    #[default]
    Off,
    /// Re-entry while inside is granted but raises an alarm.
    Soft,
    /// Re-entry while inside is denied.
    Hard,
}

/// A security zone, a node in the site's zone tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Zone {
    /// Zone id.
    pub id: Uuid,
    /// The site the zone belongs to.
    pub site_id: Uuid,
    /// Enclosing zone; `None` for a root.
    pub parent_id: Option<Uuid>,
    /// Security level: 0 = public, higher = more sensitive.
    pub level: u8,
    /// Entry needs a vetting cleared at the time of entry.
    pub vetting_required: bool,
    /// Visitors whose visit requires an escort wait for one here.
    pub escort_required: bool,
    /// Entry needs two different authorised people at the door.
    pub two_person: bool,
    /// Entry needs card and PIN.
    pub pin_required: bool,
    /// Anti-passback mode.
    pub anti_passback: AntiPassback,
    /// After this many seconds inside, re-entry no longer counts as passback.
    pub anti_passback_timeout_s: Option<u32>,
    /// Maximum number of holders inside at once (this zone and the zones within it);
    /// an entry that would exceed it is refused with `zone_full`. `None`: no limit.
    #[serde(default)]
    pub max_occupancy: Option<u32>,
    /// The weakest credential entry accepts: a `uid` card is refused
    /// (`assurance_insufficient`) where this is [`Assurance::Secure`]. The site's threat
    /// level may raise it (see [`Site::required_assurance`]).
    #[serde(default)]
    pub min_assurance: Assurance,
}

/// Door mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum DoorMode {
    /// Cards decide.
    #[default]
    Normal,
    /// Entry refused to everyone but exempt people.
    Locked,
    /// Held open; presentations are still decided and recorded.
    Unlocked,
}

/// A portal from one zone into another. Entry readers lead into `to_zone_id`; exit
/// readers lead out of it, back into `from_zone_id`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Door {
    /// Door id.
    pub id: Uuid,
    /// The site the door belongs to.
    pub site_id: Uuid,
    /// The zone on the outside.
    pub from_zone_id: Uuid,
    /// The zone an entry leads into.
    pub to_zone_id: Uuid,
    /// Door mode.
    pub mode: DoorMode,
    /// How long the lock releases on a grant.
    pub unlock_ms: u32,
    /// How long the door may stand open before it alarms.
    pub held_open_ms: u32,
}

/// Staff or contractor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum PersonKind {
    /// Employee.
    Staff,
    /// Works for a supplier or partner.
    Contractor,
}

/// Whether a person may use their credentials at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum PersonStatus {
    /// May use credentials.
    Active,
    /// Temporarily barred.
    Suspended,
    /// Has left the organisation.
    Left,
}

/// Background-check status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum VettingStatus {
    /// Requested, not decided.
    Pending,
    /// Cleared (until `cleared_until`, when set).
    Cleared,
    /// Lapsed.
    Expired,
    /// Withdrawn.
    Revoked,
}

/// The current vetting of a person (history is the server's business).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Vetting {
    /// Status.
    pub status: VettingStatus,
    /// The instant the clearance ends (exclusive); `None` = no end.
    pub cleared_until: Option<DateTime<Utc>>,
}

impl Vetting {
    /// Cleared at `at`: status cleared and `at` before `cleared_until`.
    pub fn cleared_at(&self, at: DateTime<Utc>) -> bool {
        self.status == VettingStatus::Cleared && within(at, None, self.cleared_until)
    }
}

/// A person who may hold credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    /// Person id.
    pub id: Uuid,
    /// Staff or contractor.
    pub kind: PersonKind,
    /// Status.
    pub status: PersonStatus,
    /// Clearance level, compared with zone levels.
    pub clearance: u8,
    /// Current vetting, if any was ever requested.
    pub vetting: Option<Vetting>,
    /// Groups the person belongs to (for group grants); one is held inline.
    #[serde(default)]
    pub group_ids: GroupIds,
}

/// A visit: a visitor's stay, holder of a temporary credential.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Visit {
    /// Visit id.
    pub id: Uuid,
    /// The staff member the visitor comes to see.
    pub host_person_id: Uuid,
    /// Start of the expected window (inclusive).
    pub window_start: DateTime<Utc>,
    /// End of the expected window (exclusive).
    pub window_end: DateTime<Utc>,
    /// Checked in at reception.
    pub checked_in: bool,
    /// Checked out (the card stops working).
    pub checked_out: bool,
    /// Zones the visit may enter (exactly these; no inheritance).
    pub allowed_zone_ids: Vec<Uuid>,
    /// The visitor needs an escort in escort zones.
    pub escort_required: bool,
}

impl Visit {
    /// The visit is under way at `at`: checked in, not out, inside its window.
    pub fn active_at(&self, at: DateTime<Utc>) -> bool {
        self.checked_in
            && !self.checked_out
            && within(at, Some(self.window_start), Some(self.window_end))
    }
}

/// Who holds a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Holder {
    /// A person (staff or contractor).
    Person(Uuid),
    /// A visit.
    Visit(Uuid),
}

impl Holder {
    /// The person's or visit's id.
    pub fn id(self) -> Uuid {
        match self {
            Holder::Person(id) | Holder::Visit(id) => id,
        }
    }
}

/// Who a grant is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// One person.
    Person(Uuid),
    /// Every member of a group.
    Group(Uuid),
}

/// Access to a zone (and its descendants of the same or lower level).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// Grant id.
    pub id: Uuid,
    /// Person or group.
    pub subject: Subject,
    /// The zone granted.
    pub zone_id: Uuid,
    /// When the grant applies; `None` = always.
    pub schedule_id: Option<Uuid>,
    /// Start of validity (inclusive).
    pub valid_from: Option<DateTime<Utc>>,
    /// End of validity (exclusive).
    pub valid_until: Option<DateTime<Utc>>,
}

impl Grant {
    /// The grant is in its validity period at `at`.
    pub fn valid_at(&self, at: DateTime<Utc>) -> bool {
        within(at, self.valid_from, self.valid_until)
    }
}

/// The one validity convention used everywhere: `from` inclusive, `until` exclusive.
/// Something that "expires at 09:00:00" works at 08:59:59.999 and not at 09:00:00.
pub fn within(
    at: DateTime<Utc>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
) -> bool {
    from.is_none_or(|f| at >= f) && until.is_none_or(|u| at < u)
}
