//! Enum ↔ text has one convention: strum derives (`AsRefStr`, `IntoStaticStr`,
//! `EnumString`, `Display`) whose names must equal the serde names, since the same text
//! is on the wire (serde), in the database and in filters (strum). One table-driven test
//! per family of enums holds the two together for every variant; other crates call
//! [`names_match_serde`] for theirs (feature `test-util`).
#![allow(clippy::unwrap_used, clippy::panic)] // a test assertion, for tests only

use serde::Serialize;
use std::fmt::{Debug, Display};
use std::str::FromStr;
use strum::IntoEnumIterator;

/// Every variant of `T`: strum's name is serde's, parses back, and displays the same.
pub fn names_match_serde<T>()
where
    T: IntoEnumIterator + Serialize + AsRef<str> + FromStr + Display + Debug + PartialEq,
{
    for value in T::iter() {
        let serde_name = serde_json::to_value(&value).unwrap();
        assert_eq!(serde_name, value.as_ref(), "{value:?}");
        assert_eq!(value.to_string(), value.as_ref(), "{value:?}");
        assert!(
            T::from_str(value.as_ref()).is_ok_and(|v| v == value),
            "{value:?}"
        );
    }
}

#[cfg(test)]
#[test]
fn model_enums() {
    use crate::model::*;
    names_match_serde::<AntiPassback>();
    names_match_serde::<DoorMode>();
    names_match_serde::<PersonKind>();
    names_match_serde::<PersonStatus>();
    names_match_serde::<VettingStatus>();
    names_match_serde::<CardKind>();
    names_match_serde::<CredentialState>();
}

#[cfg(test)]
#[test]
fn decision_enums() {
    use crate::decide::*;
    names_match_serde::<Direction>();
    names_match_serde::<Outcome>();
    names_match_serde::<Reason>();
    names_match_serde::<Check>();
    names_match_serde::<Alarm>();
    names_match_serde::<PendingKind>();
}

#[cfg(test)]
#[test]
fn roles() {
    use crate::role::Role;
    names_match_serde::<Role>();
    assert_eq!(
        Role::iter().collect::<Vec<_>>(),
        Role::ALL,
        "ALL lists every role"
    );
}
