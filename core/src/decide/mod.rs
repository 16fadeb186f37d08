//! The access decision: "may this card open this door now, and if not, why not?"
//!
//! [`decide`] applies the rules of product.md ("The decision, precisely") in order; the
//! first that fails decides. It is pure apart from the [`EngineState`] it is handed, so
//! the door agent deciding at the door and the server answering "why not?" agree.
//!
//! Conventions where product.md leaves a choice:
//! - Every validity period is `[from, until)`: credential, grant, visit window and
//!   vetting `cleared_until`. "Expires at 09:00:00" refuses at 09:00:00.000 exactly.
//! - Visitors are never vetted (a vetting zone refuses them); a visit's permission for a
//!   zone stands in for clearance and grant; a visit covers exactly its allowed zones
//!   (no inheritance) and has no schedule beyond its window. A visitor at a zone outside
//!   the visit is refused `zone_not_in_visit` by the first of rules 4–6 that applies.
//! - Grant coverage: a grant on zone A covers A and every descendant T with
//!   `T.level <= A.level` (see [`crate::policy::Policy::build`]).
//! - Threat level: the clearance raise applies to everyone; exempt people pass a
//!   lockdown and a door in locked mode. A door in unlocked mode still decides normally.
//! - PIN: no PIN where one is needed is a denial (`pin_required`), not pending. A wrong
//!   PIN counts towards `Settings::pin_max_failures` (default 3; 0 disables) consecutive
//!   failures, then the credential is suspended in [`EngineState`] (later:
//!   `credential_inactive`) with a `pin_lockout` alarm, until [`EngineState::reinstate`].
//!   The duress PIN is the PIN with its last digit plus one (9 → 0): granted, with a
//!   silent `duress` alarm. A card without an enrolled PIN fails with `pin_incorrect`
//!   and is not counted; so does a PIN that cannot be checked (the policy was given no
//!   PIN key, or its verifier is withheld, as in the operators' snapshot).
//! - Escort: a granted person releases the oldest visitor pending at the same door if
//!   they are staff or the visit's host (contractors escort only their own visitors).
//!   The escort must itself be granted outright (a two-person zone holds it pending).
//!   The released holder (escorted visitor, or first of a pair) enters with the
//!   releasing presentation: [`Decision::releases`] names them, the state counts them
//!   inside like any entry (anti-passback, occupancy), and the door agent journals their
//!   entry as its own granted event ([`crate::event::EventKind::ReleasedEntry`]); their
//!   `pending` decision stays what it was.
//! - Pending windows (escort, two-person; default 30 s) are exclusive: a badge exactly
//!   at the end is too late.
//! - Anti-passback: "inside" is the holder's last recorded zone or any zone enclosing
//!   it; the timeout, if set, forgives re-entry from `since + timeout` on. A soft
//!   violation's alarm stands even if a later rule denies: the attempt is the violation.
//! - Occupancy (rule 9b, `zone_full`, after anti-passback and before the PIN): an entry
//!   is refused when it would take a zone with a `max_occupancy` over that limit. The
//!   zones an entry takes a holder into are the door's `to_zone` and every zone
//!   enclosing it that the door's `from_zone` is not in (a door straight from outside
//!   into a child counts against the parent's limit too). "Inside" is the holder's last
//!   recorded zone or any zone enclosing it, as for anti-passback but with no timeout
//!   (the timeout forgives passback, it does not mean the holder left). A holder
//!   already inside does not count against themselves: re-entering adds no one, so it
//!   passes even when the zone is full (soft anti-passback still alarms; hard still
//!   refuses first). An entry that would also admit a waiting holder — the partner it
//!   completes in a two-person zone, or the visitor a granted person escorts — needs
//!   room for both, or it is `zone_full` and the request stays pending. The count is
//!   the [`EngineState`]'s: the holders this state let in and not yet out (a door agent
//!   counts its own doors; a limited zone needs exit readers, and state starts empty).
//!   A limit of 0 admits no one (the server never stores one).
//! - Card authenticity (rule 1b, `credential_not_authentic`, checked right after the
//!   card is looked up, before rule 2): the presentation says what the reader proved
//!   ([`Presentation::authentication`]). A failed authentication is refused, with a
//!   `credential_not_authentic` alarm, whether or not the identifier is known (a card
//!   that carries our application and fails it claimed to be ours). A credential of
//!   kind `secure` read by its UID alone is refused the same way: that is what a clone
//!   of its UID looks like. An authenticated read of a `uid` credential passes.
//! - Assurance (rule 5b, `assurance_insufficient`, after clearance, before the grant):
//!   the credential's kind (`uid` < `secure`) must meet the zone's `min_assurance`,
//!   raised to `secure` for every zone of a site whose threat level is at or above its
//!   `secure_cards_from_threat_level`. Like the clearance raise it applies to everyone,
//!   visitors and exempt people included.
//! - Exit readers always grant, even for unknown, inactive or unauthenticated cards
//!   (no alarm either), and move a known holder back into the door's `from_zone`; they
//!   never count against a limit. An unknown door is `unknown_door`.

mod engine;
mod may_enter;
mod rules;
mod state;

pub use engine::decide;
pub use may_enter::person_may_enter;
pub use state::{EngineState, PendingKind, PendingRequest, Presence, Presences};

use crate::model::{Assurance, CardKind, Holder};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use uuid::Uuid;

/// Which reader of a door the card was presented at.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum Direction {
    /// Into the door's `to_zone`.
    #[default]
    Entry,
    /// Out of the door's `to_zone`.
    Exit,
}

impl Direction {
    /// The wire name, `entry` or `exit` (strum's, equal to serde's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// What the reader proved about the card beyond its identifier.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum Authentication {
    /// Only the identifier was read (a UID read): proves [`Assurance::Uid`].
    #[default]
    NotAttempted,
    /// The card passed mutual authentication with the site's keys: proves
    /// [`Assurance::Secure`].
    Authenticated,
    /// The card carries the Gatehouse secure application but failed authentication: a
    /// forgery or a clone (`credential_not_authentic`, with an alarm).
    Failed,
}

impl Authentication {
    /// The assurance this read proved; `None` for a failed authentication.
    pub fn proves(self) -> Option<Assurance> {
        match self {
            Authentication::NotAttempted => Some(Assurance::Uid),
            Authentication::Authenticated => Some(Assurance::Secure),
            Authentication::Failed => None,
        }
    }

    /// How a card of `kind` is read when it is the card issued (not a clone): what the
    /// server's "why not?" questions assume.
    pub fn as_issued(kind: CardKind) -> Authentication {
        match kind {
            CardKind::Uid => Authentication::NotAttempted,
            CardKind::Secure => Authentication::Authenticated,
        }
    }

    /// The wire name (strum's, equal to serde's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// One card presentation at a reader. Its `Debug` never shows the PIN.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Presentation {
    /// Card identifier (normalised; a non-normalised one is normalised on a miss).
    pub card: String,
    /// PIN typed at the keypad, if any.
    pub pin: Option<String>,
    /// The door.
    pub door_id: Uuid,
    /// Entry or exit reader.
    pub direction: Direction,
    /// When (UTC).
    pub at: DateTime<Utc>,
    /// What the reader proved about the card; absent (an older agent, a UID reader):
    /// `not_attempted`.
    #[serde(default)]
    pub authentication: Authentication,
}

impl std::fmt::Debug for Presentation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presentation")
            .field("card", &self.card)
            .field("pin", &self.pin.as_ref().map(|_| "<redacted>"))
            .field("door_id", &self.door_id)
            .field("direction", &self.direction)
            .field("at", &self.at)
            .field("authentication", &self.authentication)
            .finish()
    }
}

/// What the door does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(
    strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display, strum::EnumIter,
)]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    /// Unlock.
    Granted,
    /// Stay locked.
    Denied,
    /// Stay locked for now: waiting for an escort or a second person.
    Pending,
}

impl Outcome {
    /// The wire name: `granted`, `denied` or `pending` (strum's, equal to serde's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// Why: the first rule that failed, or `granted`. Codes as in product.md, plus
/// `policy_stale`, which only the door agent records, and `zone_full` (rule 9b).
///
/// New variants go at the end: journals and uploads encode the variant's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(
    strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display, strum::EnumIter,
)]
#[strum(serialize_all = "snake_case")]
pub enum Reason {
    /// The door is not in the policy.
    UnknownDoor,
    /// Rule 1.
    UnknownCredential,
    /// Rule 2.
    CredentialInactive,
    /// Rule 3.
    HolderInactive,
    /// Rule 4.
    VettingInvalid,
    /// Rule 5.
    InsufficientClearance,
    /// Rule 6.
    NoGrant,
    /// Rule 7.
    OutsideSchedule,
    /// Rule 8.
    DoorLocked,
    /// Rule 9.
    AntiPassback,
    /// Rule 10, no PIN entered.
    PinRequired,
    /// Rule 10, wrong PIN.
    PinIncorrect,
    /// Rule 11.
    EscortRequired,
    /// Rule 12.
    SecondPersonRequired,
    /// Every rule passed.
    Granted,
    /// Not a rule of the engine (which never returns it): the door agent refused an
    /// entry because its policy is missing or older than `agent.max_policy_age_s`, so it
    /// cannot vouch for a grant.
    PolicyStale,
    /// Rule 9b: the entry would take a zone over its maximum occupancy.
    ZoneFull,
    /// Rules 4–6 for a visitor: the zone is not one of the visit's zones (a visitor's
    /// refusal says so, not "clearance" or "grant", which visitors never have).
    ZoneNotInVisit,
    /// Rule 1b, right after the card is looked up: the card failed authentication, or a
    /// `secure` credential was presented by a UID read only (a clone of its UID). Alarms.
    CredentialNotAuthentic,
    /// Rule 5b, after clearance: the zone (or the site's threat level) needs a `secure`
    /// card and the credential is a `uid` one.
    AssuranceInsufficient,
}

impl Reason {
    /// The reason code as on the wire (strum's, equal to serde's).
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The rule a trace step checked. The variants are in decision order except those
/// appended later (positions are part of the wire format): [`Check::Occupancy`] is
/// checked between [`Check::AntiPassback`] and [`Check::Pin`], [`Check::Authenticity`]
/// and [`Check::Assurance`] as their docs say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum Check {
    /// The door is known.
    Door,
    /// Rule 1: the card is known.
    Credential,
    /// Rule 2: the credential is active and valid.
    CredentialActive,
    /// Rule 3: the holder is active.
    HolderActive,
    /// Rule 4: vetting.
    Vetting,
    /// Rule 5: clearance.
    Clearance,
    /// Rule 6: a grant covers the zone.
    Grant,
    /// Rule 7: a covering grant's schedule admits now.
    Schedule,
    /// Rule 8: door mode and lockdown.
    DoorMode,
    /// Rule 9: anti-passback.
    AntiPassback,
    /// Rule 10: PIN.
    Pin,
    /// Rule 11: escort.
    Escort,
    /// Rule 12: two-person rule.
    TwoPerson,
    /// Exit readers: egress is never blocked.
    Exit,
    /// Rule 9b: maximum occupancy.
    Occupancy,
    /// Not a rule of the engine (which never records it): the door agent's policy is
    /// present and no older than `agent.max_policy_age_s` (a failed step goes with
    /// reason `policy_stale`).
    Policy,
    /// Rule 1b: the card is authentic (checked between [`Check::Credential`] and
    /// [`Check::CredentialActive`]).
    Authenticity,
    /// Rule 5b: the credential's assurance meets the zone's (checked between
    /// [`Check::Clearance`] and [`Check::Grant`]).
    Assurance,
}

/// One rule checked, with its result and a short explanation for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TraceStep {
    /// The rule.
    pub check: Check,
    /// Whether it passed.
    pub passed: bool,
    /// Why, in words.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub detail: Cow<'static, str>,
}

/// An alarm raised by a decision (sent to the security desk, never shown at the door).
/// Its schema is `DecisionAlarm`: `Alarm` is the security desk's alarm object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = DecisionAlarm))]
#[serde(rename_all = "snake_case")]
#[derive(strum::AsRefStr, strum::IntoStaticStr, strum::EnumString, strum::Display)]
#[cfg_attr(test, derive(strum::EnumIter))]
#[strum(serialize_all = "snake_case")]
pub enum Alarm {
    /// The duress PIN was entered: granted, silently.
    Duress,
    /// Too many wrong PINs: the credential is now suspended at the door.
    PinLockout,
    /// Soft anti-passback: re-entry while already inside, granted.
    AntiPassbackViolation,
    /// A card failed authentication, or a secure credential's UID was presented without
    /// it: a clone or a forgery at the door (`credential_not_authentic`).
    CredentialNotAuthentic,
}

/// A pending presentation that this decision completed (escort or two-person).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Release {
    /// Who was waiting.
    pub holder: Holder,
    /// With which credential.
    pub credential_id: Uuid,
    /// Why they were waiting.
    pub reason: Reason,
}

/// The result of one presentation: exactly one per presentation, recorded either way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Decision {
    /// What the door does.
    pub outcome: Outcome,
    /// Why.
    pub reason: Reason,
    /// The person holding the credential, if known.
    pub person_id: Option<Uuid>,
    /// The visit holding the credential, if known.
    pub visit_id: Option<Uuid>,
    /// The credential, if known.
    pub credential_id: Option<Uuid>,
    /// The zone entered (or, at an exit reader, left); `None` for an unknown door.
    pub zone_id: Option<Uuid>,
    /// Every rule checked, in order, up to the one that decided; a granted escort's
    /// release of a waiting visitor is noted as a final `escort` step.
    pub trace: Vec<TraceStep>,
    /// Alarms raised.
    pub alarms: Vec<Alarm>,
    /// The pending presentation this one completed, which is now granted too.
    pub releases: Option<Release>,
}

impl Decision {
    /// Whether the lock opens.
    pub fn granted(&self) -> bool {
        self.outcome == Outcome::Granted
    }
}

#[cfg(test)]
mod tests;
