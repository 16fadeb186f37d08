//! [`GroupIds`]: the groups a person is in, with the common case of one group inline.
//!
//! A policy holds one list per person (millions at a large site), and most people are
//! in one group or none. A `Vec<Uuid>` took 24 bytes and a heap block of 32 for a
//! single group; this takes the same 24 bytes and a heap block only for two or more.
//! On the wire it is the sequence of ids it always was.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use uuid::Uuid;

/// Group ids, in the order given (a sequence on the wire; dereferences to a slice).
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct GroupIds(Repr);

/// One form for each length class, so that equal lists are equal values.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
enum Repr {
    #[default]
    None,
    One(Uuid),
    /// Two or more.
    Many(Box<[Uuid]>),
}

impl GroupIds {
    /// No groups.
    pub fn new() -> Self {
        GroupIds(Repr::None)
    }

    /// The ids, in order.
    pub fn as_slice(&self) -> &[Uuid] {
        match &self.0 {
            Repr::None => &[],
            Repr::One(id) => std::slice::from_ref(id),
            Repr::Many(ids) => ids,
        }
    }

    /// Leaves no groups.
    pub fn clear(&mut self) {
        self.0 = Repr::None;
    }

    /// Adds a group at the end.
    pub fn push(&mut self, id: Uuid) {
        let mut ids = self.as_slice().to_vec();
        ids.push(id);
        *self = GroupIds::from(ids);
    }
}

impl std::ops::Deref for GroupIds {
    type Target = [Uuid];

    fn deref(&self) -> &[Uuid] {
        self.as_slice()
    }
}

impl From<Vec<Uuid>> for GroupIds {
    fn from(ids: Vec<Uuid>) -> Self {
        match ids.as_slice() {
            [] => GroupIds(Repr::None),
            [id] => GroupIds(Repr::One(*id)),
            _ => GroupIds(Repr::Many(ids.into_boxed_slice())),
        }
    }
}

impl From<&[Uuid]> for GroupIds {
    fn from(ids: &[Uuid]) -> Self {
        match ids {
            [] => GroupIds(Repr::None),
            [id] => GroupIds(Repr::One(*id)),
            _ => GroupIds(Repr::Many(ids.into())),
        }
    }
}

impl FromIterator<Uuid> for GroupIds {
    fn from_iter<I: IntoIterator<Item = Uuid>>(ids: I) -> Self {
        GroupIds::from(ids.into_iter().collect::<Vec<_>>())
    }
}

impl From<GroupIds> for Vec<Uuid> {
    fn from(ids: GroupIds) -> Vec<Uuid> {
        match ids.0 {
            Repr::None => Vec::new(),
            Repr::One(id) => vec![id],
            Repr::Many(ids) => ids.into_vec(),
        }
    }
}

impl<'a> IntoIterator for &'a GroupIds {
    type Item = &'a Uuid;
    type IntoIter = std::slice::Iter<'a, Uuid>;

    fn into_iter(self) -> Self::IntoIter {
        self.as_slice().iter()
    }
}

impl PartialEq<Vec<Uuid>> for GroupIds {
    fn eq(&self, other: &Vec<Uuid>) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl fmt::Debug for GroupIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.as_slice()).finish()
    }
}

impl Serialize for GroupIds {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.as_slice().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for GroupIds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<GroupIds, D::Error> {
        Vec::<Uuid>::deserialize(deserializer).map(GroupIds::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_ids_are_the_list_they_were_on_the_wire() {
        for n in 0..4u128 {
            let ids: Vec<Uuid> = (0..n).map(Uuid::from_u128).collect();
            let groups = GroupIds::from(ids.clone());
            assert_eq!(groups.as_slice(), ids.as_slice());
            assert_eq!(groups, ids.iter().copied().collect::<GroupIds>());
            assert_eq!(
                postcard::to_allocvec(&groups).unwrap(),
                postcard::to_allocvec(&ids).unwrap()
            );
            assert_eq!(
                serde_json::to_string(&groups).unwrap(),
                serde_json::to_string(&ids).unwrap()
            );
            let back: GroupIds =
                postcard::from_bytes(&postcard::to_allocvec(&ids).unwrap()).unwrap();
            assert_eq!(back, groups);
            assert_eq!(Vec::from(back), ids);
        }
        let mut grown = GroupIds::new();
        grown.push(Uuid::from_u128(0));
        grown.push(Uuid::from_u128(1));
        assert_eq!(
            grown,
            GroupIds::from(vec![Uuid::from_u128(0), Uuid::from_u128(1)])
        );
        grown.clear();
        assert!(grown.is_empty());
    }

    #[test]
    fn one_group_needs_no_heap_and_no_more_room_than_a_vec() {
        assert!(size_of::<GroupIds>() <= size_of::<Vec<Uuid>>());
    }
}
