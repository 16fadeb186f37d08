//! The policy's lookup indexes: hash tables of record positions (`u32`) that hash the
//! key found in the record itself, so an index owns no copy of any key.
//!
//! At 2,000,000 credentials a `HashMap<String, usize>` by card cost 32 bytes a bucket
//! plus a heap copy of every card, and each `HashMap<Uuid, usize>` 24 bytes a bucket;
//! these tables cost 4 bytes and a control byte a bucket (about 10 bytes an entry at
//! hashbrown's load factor), for every index alike.

use super::{PolicyError, Record};
use hashbrown::HashTable;
use std::hash::{BuildHasher, RandomState};
use uuid::Uuid;

/// Positions of records, found by a hash of their key (see the module documentation).
#[derive(Debug, Clone, Default)]
pub(super) struct Index(HashTable<u32>);

/// The position as stored: a policy has far fewer than 2³² records of a kind, and
/// [`check_len`] refuses one that has not.
fn slot(at: usize) -> u32 {
    u32::try_from(at).unwrap_or(u32::MAX)
}

/// Refuses a kind with more records than an index can hold.
pub(super) fn check_len(len: usize, kind: &'static str) -> Result<(), PolicyError> {
    if u32::try_from(len).is_ok_and(|n| n < u32::MAX) {
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
        self.0
            .find(hash, |&at| is(at as usize))
            .map(|&at| at as usize)
    }

    /// Every position filed under `hash` (a multi-index holds many under one key; the
    /// caller checks each record's key).
    pub(super) fn find_all(&self, hash: u64) -> impl Iterator<Item = usize> + '_ {
        self.0.iter_hash(hash).map(|&at| at as usize)
    }

    /// Adds position `at` (not in the index yet); `rehash` gives the hash of the record
    /// at a position, should the table grow.
    pub(super) fn insert(&mut self, hash: u64, at: usize, rehash: impl Fn(usize) -> u64) {
        self.0
            .insert_unique(hash, slot(at), |&p| rehash(p as usize));
    }

    /// Removes position `at`; whether it was there.
    pub(super) fn remove(&mut self, hash: u64, at: usize) -> bool {
        match self.0.find_entry(hash, |&p| p as usize == at) {
            Ok(entry) => {
                entry.remove();
                true
            }
            Err(_) => false,
        }
    }

    /// The record at `from` moved to `to`.
    pub(super) fn relocate(&mut self, hash: u64, from: usize, to: usize) {
        if let Some(p) = self.0.find_mut(hash, |&p| p as usize == from) {
            *p = slot(to);
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
    for (at, record) in records.iter().enumerate() {
        let id = record.id();
        let same = |p: &u32| records.get(*p as usize).is_some_and(|r| r.id() == id);
        let rehash = |p: &u32| {
            records
                .get(*p as usize)
                .map_or(0, |r| hasher.hash_one(r.id()))
        };
        match table.entry(hasher.hash_one(id), same, rehash) {
            hashbrown::hash_table::Entry::Occupied(_) => {
                return Err(PolicyError::DuplicateId { kind, id });
            }
            hashbrown::hash_table::Entry::Vacant(slot_here) => {
                slot_here.insert(slot(at));
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
