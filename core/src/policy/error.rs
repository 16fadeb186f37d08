//! Why a policy could not be built: each error names the offending record, so the
//! server can point an operator at the row to fix.

use uuid::Uuid;

/// Why a policy could not be built. Each names the offending record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// Two records of one kind share an id.
    #[error("duplicate {kind} id {id}")]
    DuplicateId {
        /// Record kind.
        kind: &'static str,
        /// The repeated id.
        id: Uuid,
    },
    /// Two credentials carry the same card.
    #[error("card {card} is on two credentials ({first} and {second})")]
    DuplicateCard {
        /// The card identifier.
        card: String,
        /// The credential seen first.
        first: Uuid,
        /// The credential seen second.
        second: Uuid,
    },
    /// A reference to a record that is not in the policy.
    #[error("{kind} {id}: {field} {target} does not exist")]
    Dangling {
        /// Kind of the referring record.
        kind: &'static str,
        /// Id of the referring record.
        id: Uuid,
        /// The referring field.
        field: &'static str,
        /// The missing id.
        target: Uuid,
    },
    /// A reference to a record of another site.
    #[error("{kind} {id}: {field} {target} belongs to another site")]
    CrossSite {
        /// Kind of the referring record.
        kind: &'static str,
        /// Id of the referring record.
        id: Uuid,
        /// The referring field.
        field: &'static str,
        /// The foreign id.
        target: Uuid,
    },
    /// More records of one kind than the policy's indexes hold (16,777,215).
    #[error("too many {kind} records")]
    TooLarge {
        /// Record kind.
        kind: &'static str,
    },
    /// The zone parents form a loop.
    #[error("zone {0} is its own ancestor")]
    ZoneCycle(Uuid),
}
