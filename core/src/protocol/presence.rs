//! The long-polls: the policy snapshot's query (its answer is the binary snapshot, see
//! [`crate::policy`]) and the presence feed, who is where as the server knows it from
//! every agent's events.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The query of `GET /agent/policy`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct PolicyQuery {
    /// The version the agent has; absent: answer at once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_version: Option<u64>,
    /// Seconds to wait for a newer version, 0 to 25 (default 25).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 0, maximum = 25))]
    pub wait_s: Option<u64>,
    /// The agent can apply a signed delta from `after_version` (`true`); without it, or
    /// when the server has no delta to give, the answer is a full snapshot. Which one
    /// came is in the [`POLICY_FORMAT_HEADER`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delta: Option<bool>,
}

/// The header of `GET /agent/policy`'s answer naming its body: [`FORMAT_SNAPSHOT`] (a
/// `SignedSnapshot`) or [`FORMAT_DELTA`] (a `SignedDelta`).
pub const POLICY_FORMAT_HEADER: &str = "x-policy-format";
/// The body is a signed snapshot.
pub const FORMAT_SNAPSHOT: &str = "snapshot";
/// The body is a signed delta.
pub const FORMAT_DELTA: &str = "delta";

/// The query of `GET /agent/presence`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
#[serde(deny_unknown_fields)]
pub struct PresenceQuery {
    /// The `revision` of the agent's last answer; absent: from the start (everyone).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 0))]
    pub after: Option<i64>,
    /// Seconds to wait for a change, 0 to 25 (default 25).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", param(minimum = 0, maximum = 25))]
    pub wait_s: Option<u64>,
}

/// One answer of the presence feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PresencePage {
    /// Where the next request starts (`after`).
    pub revision: i64,
    /// More changes are waiting: ask again at once.
    pub more: bool,
    /// In revision order.
    pub presences: Vec<FedPresence>,
}

/// One change of the feed: where a holder last passed to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FedPresence {
    /// The person's id, or the visit's.
    pub holder_id: Uuid,
    /// The zone the holder last passed into; `null` when it is not in one of this
    /// agent's sites (they left for somewhere else).
    pub zone_id: Option<Uuid>,
    /// When they passed (by the clock of the agent that let them).
    pub since: DateTime<Utc>,
}
