//! The store's own enums follow the workspace convention (see the core's `wire_names`):
//! strum's names are serde's, since the same text is served (serde) and stored (strum).
//! One table-driven test holds the two together for every variant.

use super::{AgentStatus, AlarmKind, AlarmOrigin, JobState, OperatorStatus};
use gatehouse_core::wire_names::names_match_serde;
use std::fmt::Debug;
use strum::IntoEnumIterator;

/// Every variant of `T` reads back through the `TryFrom<String>` of its
/// `#[sqlx(try_from = "String")]` column, and an unknown name is refused.
fn column_reads_back<T>()
where
    T: IntoEnumIterator + AsRef<str> + TryFrom<String> + Debug + PartialEq,
{
    for value in T::iter() {
        assert!(
            T::try_from(value.as_ref().to_owned()).is_ok_and(|v| v == value),
            "{value:?}"
        );
    }
    assert!(T::try_from("no such name".to_owned()).is_err());
}

#[test]
fn store_enums() {
    names_match_serde::<OperatorStatus>();
    names_match_serde::<AgentStatus>();
    names_match_serde::<AlarmKind>();
    names_match_serde::<AlarmOrigin>();
    names_match_serde::<JobState>();
    column_reads_back::<OperatorStatus>();
    column_reads_back::<AgentStatus>();
    column_reads_back::<AlarmKind>();
    column_reads_back::<AlarmOrigin>();
}

#[test]
fn alarm_kind_as_str_is_strums() {
    for kind in AlarmKind::iter() {
        assert_eq!(kind.as_str(), kind.as_ref());
    }
}
