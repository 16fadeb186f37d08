//! The policy's lookup indexes: hash tables of record positions (three bytes each)
//! that hash the key found in the record itself, so an index owns no copy of any key.
//!
//! At 2,000,000 credentials a `HashMap<String, usize>` by card cost 32 bytes a bucket
//! plus a heap copy of every card, and each `HashMap<Uuid, usize>` 24 bytes a bucket;
//! these tables cost 3 bytes and a control byte a bucket (hashbrown keeps between 1.14
//! and 2.3 buckets an entry: 5 to 9 bytes), for every index alike. Three-byte positions
//! bound a kind to 16,777,215 records, eight times the largest site we size for; a `u32`
//! cost a byte a bucket more (12 MiB at 2,000,000 credentials).

use super::{PolicyError, Record};
use hashbrown::HashTable;
use std::hash::{BuildHasher, RandomState};
use uuid::Uuid;

/// Positions of records, found by a hash of their key (see the module documentation).
#[derive(Debug, Clone, Default)]
pub(super) struct Index(HashTable<Slot>);

/// A record position as stored: 24 bits, little-endian.
type Slot = [u8; 3];

/// More records of a kind than this are refused ([`check_len`]).
pub(super) const MAX_RECORDS: usize = (1 << 24) - 1;

/// The position as stored: [`check_len`] refuses a kind with more records than fit.
fn slot(at: usize) -> Slot {
    let [a, b, c, _] = u32::try_from(at.min(MAX_RECORDS))
        .unwrap_or(u32::MAX)
        .to_le_bytes();
    [a, b, c]
}

/// The position a slot holds.
fn at(slot: &Slot) -> usize {
    let [a, b, c] = *slot;
    u32::from_le_bytes([a, b, c, 0]) as usize
}

/// Refuses a kind with more records than an index can hold.
pub(super) fn check_len(len: usize, kind: &'static str) -> Result<(), PolicyError> {
    if len <= MAX_RECORDS {
        Ok(())
    } else {
        Err(PolicyError::TooLarge { kind })
    }
}

impl Index {
    /// An empty index with room for `n` positions (filled without rehashing).
    pub(super) fn with_capacity(n: usize) -> Self {
        Index(HashTable::with_capacity(n))
    }

    /// The position whose record `is` the one sought.
    pub(super) fn find(&self, hash: u64, is: impl Fn(usize) -> bool) -> Option<usize> {
        self.0.find(hash, |s| is(at(s))).map(at)
    }

    /// Every position filed under `hash` (a multi-index holds many under one key; the
    /// caller checks each record's key).
    pub(super) fn find_all(&self, hash: u64) -> impl Iterator<Item = usize> + '_ {
        self.0.iter_hash(hash).map(at)
    }

    /// Adds position `at` (not in the index yet); `rehash` gives the hash of the record
    /// at a position, should the table grow.
    pub(super) fn insert(&mut self, hash: u64, here: usize, rehash: impl Fn(usize) -> u64) {
        self.0.insert_unique(hash, slot(here), |s| rehash(at(s)));
    }

    /// Removes position `at`; whether it was there.
    pub(super) fn remove(&mut self, hash: u64, here: usize) -> bool {
        match self.0.find_entry(hash, |s| at(s) == here) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// The record at `from` moved to `to`.
    pub(super) fn relocate(&mut self, hash: u64, from: usize, to: usize) {
        if let Some(s) = self.0.find_mut(hash, |s| at(s) == from) {
            *s = slot(to);
        }
    }
}

/// Indexes records by id; refuses two records with one id.
pub(super) fn by_id<T: Record>(
    records: &[T],
    kind: &'static str,
    hasher: &RandomState,
) -> Result<Index, PolicyError> {
    check_len(records.len(), kind)?;
    let mut table = HashTable::with_capacity(records.len());
    for (here, record) in records.iter().enumerate() {
        let id = record.id();
        let same = |s: &Slot| records.get(at(s)).is_some_and(|r| r.id() == id);
        let rehash = |s: &Slot| records.get(at(s)).map_or(0, |r| hasher.hash_one(r.id()));
        match table.entry(hasher.hash_one(id), same, rehash) {
            hashbrown::hash_table::Entry::Occupied(_) => {
                return Err(PolicyError::DuplicateId { kind, id });
            }
            hashbrown::hash_table::Entry::Vacant(slot_here) => {
                slot_here.insert(slot(here));
            }
        }
    }
    Ok(Index(table))
}

/// The position of the record with `id`.
pub(super) fn find_id<T: Record>(
    index: &Index,
    records: &[T],
    hasher: &RandomState,
    id: Uuid,
) -> Option<usize> {
    index.find(hasher.hash_one(id), |at| {
        records.get(at).is_some_and(|r| r.id() == id)
    })
}

/// Records of one kind with their id index, changed in place.
pub(super) struct Table<'a, T> {
    pub records: &'a mut Vec<T>,
    pub index: &'a mut Index,
    pub hasher: &'a RandomState,
}

impl<T: Record> Table<'_, T> {
    /// The position of the record with `id`.
    pub fn find(&self, id: Uuid) -> Option<usize> {
        find_id(self.index, self.records, self.hasher, id)
    }

    /// Removes the record at `at` by moving the last one there; returns the removed
    /// record and, when one moved, where it came from.
    pub fn swap_remove(&mut self, at: usize) -> Option<(T, Option<usize>)> {
        let id = self.records.get(at)?.id();
        self.index.remove(self.hasher.hash_one(id), at);
        let last = self.records.len() - 1;
        let removed = self.records.swap_remove(at);
        if at == last {
            return Some((removed, None));
        }
        let moved = self.records.get(at)?.id();
        self.index.relocate(self.hasher.hash_one(moved), last, at);
        Some((removed, Some(last)))
    }

    /// Replaces the record with the same id, or adds it; returns its position and the
    /// record it replaced.
    pub fn upsert(&mut self, record: &T) -> (usize, Option<T>) {
        if let Some(at) = self.find(record.id())
            && let Some(slot_here) = self.records.get_mut(at)
        {
            return (at, Some(std::mem::replace(slot_here, record.clone())));
        }
        let at = self.records.len();
        self.records.push(record.clone());
        let (records, hasher) = (&*self.records, self.hasher);
        self.index.insert(hasher.hash_one(record.id()), at, |p| {
            records.get(p).map_or(0, |r| hasher.hash_one(r.id()))
        });
        (at, None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_fit_three_bytes_and_more_records_are_refused() {
        for here in [0, 1, 255, 256, 65_536, 2_000_000, MAX_RECORDS] {
            assert_eq!(at(&slot(here)), here);
        }
        assert!(check_len(MAX_RECORDS, "credential").is_ok());
        assert!(matches!(
            check_len(MAX_RECORDS + 1, "credential"),
            Err(PolicyError::TooLarge { kind: "credential" })
        ));
    }
}
