//! [`Policy::apply`]: a delta applied in place, in time proportional to what it changes.
//!
//! Two phases. The first checks what the delta would make of the policy without
//! changing it: the references of every upserted record exist in the result, and when
//! records others refer to are removed, every record that could refer to them is checked
//! again (a person removed at 2,000,000 credentials scans the credentials once). Sites,
//! zones, doors and schedules are few: their new records and indexes are made whole in
//! this phase, with the zone-derived indexes. The second phase cannot fail: it removes
//! (moving the last record into the gap and repointing its index entries), replaces and
//! adds people, visits, credentials and grants, keeping each index current.
//!
//! The result answers every lookup as [`Policy::build`] of
//! [`PolicySource::apply`](super::PolicySource::apply)
//! would, errs exactly when that build errs, and on an error leaves the policy as it
//! was (the property tests in `delta/tests.rs` hold it to that).

use super::delta::apply_changes;
use super::index::{self, Index, Table, check_len};
use super::{
    Changes, Policy, PolicyDelta, PolicyError, Record, View, ZoneIndexes, lookup, zone_indexes,
};
use crate::model::{Card, Credential, Grant};
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use uuid::Uuid;

/// One kind's changes, each id upserted once (the last wins, as in
/// [`PolicySource::apply`](super::PolicySource::apply)).
struct Change<'a, T> {
    upserted: Vec<&'a T>,
    by_id: HashMap<Uuid, &'a T>,
    removed: HashSet<Uuid>,
}

impl<'a, T: Record> Change<'a, T> {
    fn new(changes: &'a Changes<T>) -> Self {
        let by_id: HashMap<Uuid, &T> = changes.upserted.iter().map(|r| (r.id(), r)).collect();
        let mut seen = HashSet::new();
        let mut upserted: Vec<&T> = (changes.upserted.iter().rev())
            .filter(|r| seen.insert(r.id()))
            .collect();
        upserted.reverse();
        Change {
            upserted,
            by_id,
            removed: changes.removed.iter().copied().collect(),
        }
    }

    fn is_empty(&self) -> bool {
        self.upserted.is_empty() && self.removed.is_empty()
    }

    /// Whether a record of the old policy is gone or replaced.
    fn touches(&self, id: Uuid) -> bool {
        self.removed.contains(&id) || self.by_id.contains_key(&id)
    }

    /// The record with `id` once applied, given the one in the old policy.
    fn after(&self, id: Uuid, before: Option<&'a T>) -> Option<&'a T> {
        match self.by_id.get(&id) {
            Some(&r) => Some(r),
            None if self.removed.contains(&id) => None,
            None => before,
        }
    }

    /// Every record once applied.
    fn all(&'a self, before: &'a [T]) -> impl Iterator<Item = &'a T> + 'a {
        (before.iter())
            .filter(|r| !self.touches(r.id()))
            .chain(self.upserted.iter().copied())
    }

    /// Whether records of this kind are removed (the ones referring to them then need
    /// checking again).
    fn removes(&self) -> bool {
        !self.removed.is_empty()
    }
}

/// A small kind made whole: its records and index once applied.
struct Remade<T> {
    records: Vec<T>,
    index: Index,
}

fn remake<T: Record>(
    before: &[T],
    changes: &Changes<T>,
    kind: &'static str,
    hasher: &RandomState,
) -> Result<Option<Remade<T>>, PolicyError> {
    if changes.is_empty() {
        return Ok(None);
    }
    let mut records = before.to_vec();
    apply_changes(&mut records, changes);
    let index = index::by_id(&records, kind, hasher)?;
    Ok(Some(Remade { records, index }))
}

/// What the first phase found the delta makes: the small kinds whole, and the
/// zone-derived indexes when zones changed.
struct Plan {
    sites: Option<Remade<crate::model::Site>>,
    zones: Option<(Remade<crate::model::Zone>, ZoneIndexes)>,
    doors: Option<Remade<crate::model::Door>>,
    schedules: Option<Remade<crate::model::Schedule>>,
}

impl Policy {
    /// Applies `delta` to this policy in place, which then has the records of the new
    /// version (see the module documentation). On an error (the result would be
    /// inconsistent) the policy is left as it was. The version is the caller's to set
    /// ([`Policy::with_version`]).
    pub fn apply(&mut self, delta: &PolicyDelta) -> Result<(), PolicyError> {
        let plan = self.check(delta)?;
        self.commit(delta, plan);
        Ok(())
    }

    /// The first phase: changes nothing.
    fn check(&self, delta: &PolicyDelta) -> Result<Plan, PolicyError> {
        let h = &self.hasher;
        let s = &self.source;
        let sites = remake(&s.sites, &delta.sites, "site", h)?;
        let zones = remake(&s.zones, &delta.zones, "zone", h)?;
        let doors = remake(&s.doors, &delta.doors, "door", h)?;
        let schedules = remake(&s.schedules, &delta.schedules, "schedule", h)?;
        let people = Change::new(&delta.people);
        let visits = Change::new(&delta.visits);
        let credentials = Change::new(&delta.credentials);
        let grants = Change::new(&delta.grants);
        for (len, kind) in [
            (s.people.len() + people.upserted.len(), "person"),
            (s.visits.len() + visits.upserted.len(), "visit"),
            (
                s.credentials.len() + credentials.upserted.len(),
                "credential",
            ),
            (s.grants.len() + grants.upserted.len(), "grant"),
        ] {
            check_len(len, kind)?;
        }

        // The lookups borrow the remade kinds until this block ends.
        let derived = {
            let site = match &sites {
                Some(r) => lookup(&r.index, &r.records, h),
                None => lookup(&self.sites, &s.sites, h),
            };
            let zone = match &zones {
                Some(r) => lookup(&r.index, &r.records, h),
                None => lookup(&self.zones, &s.zones, h),
            };
            let schedule = match &schedules {
                Some(r) => lookup(&r.index, &r.records, h),
                None => lookup(&self.schedules, &s.schedules, h),
            };
            let person_before = lookup(&self.people, &s.people, h);
            let person = |id| people.after(id, person_before(id));
            let visit_before = lookup(&self.visits, &s.visits, h);
            let visit = |id| visits.after(id, visit_before(id));
            let view = View {
                site: &site,
                zone: &zone,
                schedule: &schedule,
                person: &person,
                visit: &visit,
            };

            // What refers to sites and zones, checked whole when any of them changes.
            let small = [sites.is_some(), zones.is_some(), doors.is_some()];
            let structure = small.contains(&true) || schedules.is_some();
            if structure {
                view.check_structure(
                    zones.as_ref().map_or(&s.zones, |z| &z.records),
                    doors.as_ref().map_or(&s.doors, |d| &d.records),
                    schedules.as_ref().map_or(&s.schedules, |d| &d.records),
                )?;
            }
            let derived = (zones.as_ref())
                .map(|z| zone_indexes(&z.records, &z.index, h))
                .transpose()?;

            if structure || people.removes() {
                for v in visits.all(&s.visits) {
                    view.check_visit(v)?;
                }
            } else {
                for v in &visits.upserted {
                    view.check_visit(v)?;
                }
            }
            if structure || people.removes() {
                for g in grants.all(&s.grants) {
                    view.check_grant(g)?;
                }
            } else {
                for g in &grants.upserted {
                    view.check_grant(g)?;
                }
            }
            if people.removes() || visits.removes() {
                for c in credentials.all(&s.credentials) {
                    view.check_credential(c)?;
                }
            } else {
                for c in &credentials.upserted {
                    view.check_credential(c)?;
                }
            }
            self.check_cards(&credentials)?;
            derived
        };
        Ok(Plan {
            sites,
            zones: zones.zip(derived),
            doors,
            schedules,
        })
    }

    /// No card is on two credentials once applied: an upserted card is not on another
    /// upserted credential, nor on one of the policy that the delta keeps.
    fn check_cards(&self, credentials: &Change<'_, Credential>) -> Result<(), PolicyError> {
        let records = &self.source.credentials;
        let mut cards: HashMap<Card, Uuid> = HashMap::with_capacity(credentials.upserted.len());
        for c in &credentials.upserted {
            if let Some(&first) = cards.get(&c.card) {
                return Err(duplicate(c, first));
            }
            cards.insert(c.card, c.id);
            let holder = self.by_card.find(self.hasher.hash_one(c.card), |i| {
                records.get(i).is_some_and(|o| o.card == c.card)
            });
            if let Some(other) = holder.and_then(|i| records.get(i))
                && other.id != c.id
                && !credentials.touches(other.id)
            {
                return Err(duplicate(c, other.id));
            }
        }
        Ok(())
    }

    /// The second phase: cannot fail.
    fn commit(&mut self, delta: &PolicyDelta, plan: Plan) {
        self.source.settings = delta.settings.clone();
        if let Some(r) = plan.sites {
            (self.source.sites, self.sites) = (r.records, r.index);
        }
        if let Some((r, derived)) = plan.zones {
            (self.source.zones, self.zones) = (r.records, r.index);
            (self.ancestry, self.covered_by) = (derived.ancestry, derived.covered_by);
        }
        if let Some(r) = plan.doors {
            (self.source.doors, self.doors) = (r.records, r.index);
        }
        if let Some(r) = plan.schedules {
            (self.source.schedules, self.schedules) = (r.records, r.index);
        }
        let h = &self.hasher;
        plain(
            Table {
                records: &mut self.source.people,
                index: &mut self.people,
                hasher: h,
            },
            &Change::new(&delta.people),
        );
        plain(
            Table {
                records: &mut self.source.visits,
                index: &mut self.visits,
                hasher: h,
            },
            &Change::new(&delta.visits),
        );
        self.commit_credentials(&Change::new(&delta.credentials));
        self.commit_grants(&Change::new(&delta.grants));
    }

    fn commit_credentials(&mut self, change: &Change<'_, Credential>) {
        if change.is_empty() {
            return;
        }
        let h = &self.hasher;
        let card_hash = |c: &Credential| h.hash_one(c.card);
        let mut table = Table {
            records: &mut self.source.credentials,
            index: &mut self.credentials,
            hasher: h,
        };
        for &id in &change.removed {
            let Some(at) = table.find(id) else { continue };
            if let Some(c) = table.records.get(at) {
                self.by_card.remove(card_hash(c), at);
            }
            if let Some((_, Some(from))) = table.swap_remove(at)
                && let Some(moved) = table.records.get(at)
            {
                self.by_card.relocate(card_hash(moved), from, at);
            }
        }
        // Cards are unindexed first and indexed again once every record is in place:
        // two credentials may swap cards.
        let mut index_cards = Vec::new();
        for c in &change.upserted {
            match table.upsert(c) {
                (at, Some(old)) if old.card != c.card => {
                    self.by_card.remove(card_hash(&old), at);
                    index_cards.push(at);
                }
                (_, Some(_)) => {}
                (at, None) => index_cards.push(at),
            }
        }
        let records = &*table.records;
        for at in index_cards {
            if let Some(c) = records.get(at) {
                self.by_card
                    .insert(card_hash(c), at, |i| records.get(i).map_or(0, card_hash));
            }
        }
    }

    fn commit_grants(&mut self, change: &Change<'_, Grant>) {
        if change.is_empty() {
            return;
        }
        let h = &self.hasher;
        let subject_hash = |g: &Grant| h.hash_one(g.subject);
        let mut table = Table {
            records: &mut self.source.grants,
            index: &mut self.grants,
            hasher: h,
        };
        let by_subject = &mut self.grants_by_subject;
        for &id in &change.removed {
            let Some(at) = table.find(id) else { continue };
            if let Some(g) = table.records.get(at) {
                by_subject.remove(subject_hash(g), at);
            }
            if let Some((_, Some(from))) = table.swap_remove(at)
                && let Some(moved) = table.records.get(at)
            {
                by_subject.relocate(subject_hash(moved), from, at);
            }
        }
        // As for cards: filed again once every record is in place.
        let mut file = Vec::new();
        for g in &change.upserted {
            match table.upsert(g) {
                (at, Some(old)) if old.subject != g.subject => {
                    by_subject.remove(subject_hash(&old), at);
                    file.push(at);
                }
                (_, Some(_)) => {}
                (at, None) => file.push(at),
            }
        }
        let records = &*table.records;
        for at in file {
            if let Some(g) = records.get(at) {
                by_subject.insert(subject_hash(g), at, |i| {
                    records.get(i).map_or(0, subject_hash)
                });
            }
        }
    }
}

/// Removes, replaces and adds records of a kind nothing else indexes.
fn plain<T: Record>(mut table: Table<'_, T>, change: &Change<'_, T>) {
    for &id in &change.removed {
        if let Some(at) = table.find(id) {
            table.swap_remove(at);
        }
    }
    for r in &change.upserted {
        table.upsert(r);
    }
}

fn duplicate(c: &Credential, first: Uuid) -> PolicyError {
    PolicyError::DuplicateCard {
        card: c.card.to_string(),
        first,
        second: c.id,
    }
}
