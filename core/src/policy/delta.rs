//! Policy deltas: the changes from one policy version to a later one, record by record.
//!
//! A delta lists, for each kind of record, the records as they are at the new version
//! (`upserted`: new or changed) and the ids of those gone (`removed`: deleted, or no
//! longer among the sites a delta covers). Applying it to the source of the old version
//! gives the source of the new one, up to the order of records ([`PolicySource::sorted`]
//! compares them whatever the order). [`PolicySource::apply`] is the plain definition;
//! [`Policy::apply`](super::Policy::apply) keeps a built policy's indexes current in
//! place.
//!
//! Removing an id that is not there, or upserting a record equal to the one there, is
//! not an error: a delta of the changes n → m still applies where some were already seen.

use super::{PolicySource, Settings};
use crate::model::{Credential, Door, Grant, Person, Schedule, Site, Visit, Zone};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use uuid::Uuid;

/// The changes of one kind of record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Changes<T> {
    /// New or changed records, as they now are.
    pub upserted: Vec<T>,
    /// Ids of records gone.
    pub removed: Vec<Uuid>,
}

impl<T> Default for Changes<T> {
    fn default() -> Self {
        Changes {
            upserted: Vec::new(),
            removed: Vec::new(),
        }
    }
}

impl<T> Changes<T> {
    /// How many records it changes.
    pub fn len(&self) -> usize {
        self.upserted.len() + self.removed.len()
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The changes from one policy version to another (see the module documentation).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicyDelta {
    /// The rule tunables at the new version.
    pub settings: Settings,
    /// Sites.
    pub sites: Changes<Site>,
    /// Zones.
    pub zones: Changes<Zone>,
    /// Doors.
    pub doors: Changes<Door>,
    /// People.
    pub people: Changes<Person>,
    /// Visits.
    pub visits: Changes<Visit>,
    /// Credentials.
    pub credentials: Changes<Credential>,
    /// Grants.
    pub grants: Changes<Grant>,
    /// Schedules.
    pub schedules: Changes<Schedule>,
}

/// A record of the policy, known by its id.
pub trait Record: Clone + PartialEq {
    /// The record's id.
    fn id(&self) -> Uuid;
}

macro_rules! records {
    ($($t:ty),*) => {$(
        impl Record for $t {
            fn id(&self) -> Uuid {
                self.id
            }
        }
    )*};
}
records!(Site, Zone, Door, Person, Visit, Credential, Grant, Schedule);

impl PolicyDelta {
    /// How many records it changes.
    pub fn len(&self) -> usize {
        self.sites.len()
            + self.zones.len()
            + self.doors.len()
            + self.people.len()
            + self.visits.len()
            + self.credentials.len()
            + self.grants.len()
            + self.schedules.len()
    }

    /// Whether it changes no record (the settings may still differ).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The changes that turn `old` into `new`.
    pub fn between(old: &PolicySource, new: &PolicySource) -> PolicyDelta {
        PolicyDelta {
            settings: new.settings.clone(),
            sites: changes(&old.sites, &new.sites),
            zones: changes(&old.zones, &new.zones),
            doors: changes(&old.doors, &new.doors),
            people: changes(&old.people, &new.people),
            visits: changes(&old.visits, &new.visits),
            credentials: changes(&old.credentials, &new.credentials),
            grants: changes(&old.grants, &new.grants),
            schedules: changes(&old.schedules, &new.schedules),
        }
    }
}

fn changes<T: Record>(old: &[T], new: &[T]) -> Changes<T> {
    let before: HashMap<Uuid, &T> = old.iter().map(|r| (r.id(), r)).collect();
    let now: HashSet<Uuid> = new.iter().map(Record::id).collect();
    Changes {
        upserted: new
            .iter()
            .filter(|r| before.get(&r.id()) != Some(r))
            .cloned()
            .collect(),
        removed: old
            .iter()
            .map(Record::id)
            .filter(|id| !now.contains(id))
            .collect(),
    }
}

impl PolicySource {
    /// Applies `delta` record by record: the plain definition of a delta, in time linear
    /// in the size of the source ([`super::Policy::apply`] is the fast one).
    pub fn apply(&mut self, delta: &PolicyDelta) {
        self.settings = delta.settings.clone();
        apply_changes(&mut self.sites, &delta.sites);
        apply_changes(&mut self.zones, &delta.zones);
        apply_changes(&mut self.doors, &delta.doors);
        apply_changes(&mut self.people, &delta.people);
        apply_changes(&mut self.visits, &delta.visits);
        apply_changes(&mut self.credentials, &delta.credentials);
        apply_changes(&mut self.grants, &delta.grants);
        apply_changes(&mut self.schedules, &delta.schedules);
    }

    /// The same records, each kind sorted by id: two sources with the same records in
    /// another order are equal once sorted.
    pub fn sorted(mut self) -> PolicySource {
        sort_by_id(&mut self.sites);
        sort_by_id(&mut self.zones);
        sort_by_id(&mut self.doors);
        sort_by_id(&mut self.people);
        sort_by_id(&mut self.visits);
        sort_by_id(&mut self.credentials);
        sort_by_id(&mut self.grants);
        sort_by_id(&mut self.schedules);
        self
    }
}

fn sort_by_id<T: Record>(records: &mut [T]) {
    records.sort_unstable_by_key(Record::id);
}

pub(super) fn apply_changes<T: Record>(records: &mut Vec<T>, changes: &Changes<T>) {
    if changes.is_empty() {
        return;
    }
    let removed: HashSet<Uuid> = changes.removed.iter().copied().collect();
    records.retain(|r| !removed.contains(&r.id()));
    let mut at: HashMap<Uuid, usize> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.id(), i))
        .collect();
    for record in &changes.upserted {
        match at.get(&record.id()).and_then(|&i| records.get_mut(i)) {
            Some(slot) => *slot = record.clone(),
            None => {
                at.insert(record.id(), records.len());
                records.push(record.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests;
