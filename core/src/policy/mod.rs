//! The compiled policy: a validated, indexed snapshot of the model that answers every
//! lookup the decision needs in O(1) (card → credential, ids → records, person/group →
//! grants, zone → the zones whose grants cover it).

mod apply;
mod delta;
mod error;
mod index;
mod signed_delta;
mod snapshot;

pub use delta::{Changes, PolicyDelta, Record};
pub use error::PolicyError;
pub use signed_delta::{DeltaBase, SignedDelta};

pub use snapshot::{
    LoadedSnapshot, SignedSnapshot, SnapshotError, generate_key, key_id, load_snapshot, sign,
    sign_at, verify_and_load,
};

use crate::model::{
    Card, Credential, Door, Grant, Holder, Person, PinKey, PinVerifier, Schedule, Site, Subject,
    Visit, Zone,
};
use index::{Index, find_id};
use serde::{Deserialize, Serialize};
use std::hash::{BuildHasher, RandomState};
use uuid::Uuid;

/// Tunables of the stateful rules, shipped with the policy so every door agrees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Consecutive wrong PINs after which a credential is suspended at the door (0: never).
    pub pin_max_failures: u8,
    /// Seconds an escort has to badge after a visitor is held pending.
    pub escort_window_s: u32,
    /// Seconds the second person has to badge in a two-person zone.
    pub two_person_window_s: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            pin_max_failures: 3,
            escort_window_s: 30,
            two_person_window_s: 30,
        }
    }
}

/// Everything a policy is built from, as the server reads it from its database. This is
/// also the signed snapshot's payload: the indexes are cheaper to rebuild than to ship.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PolicySource {
    /// Rule tunables.
    pub settings: Settings,
    /// Sites.
    pub sites: Vec<Site>,
    /// Zones of all sites.
    pub zones: Vec<Zone>,
    /// Doors.
    pub doors: Vec<Door>,
    /// People.
    pub people: Vec<Person>,
    /// Visits.
    pub visits: Vec<Visit>,
    /// Credentials.
    pub credentials: Vec<Credential>,
    /// Grants.
    pub grants: Vec<Grant>,
    /// Schedules.
    pub schedules: Vec<Schedule>,
}

impl PolicySource {
    /// The same source with every PIN verifier replaced by [`PinVerifier::Withheld`]:
    /// which credentials have a PIN stays known, nothing to test a guess against is left.
    /// What operators are given.
    pub fn without_pin_verifiers(&self) -> PolicySource {
        let mut source = self.clone();
        for c in &mut source.credentials {
            if c.pin.is_some() {
                c.pin = Some(Box::new(PinVerifier::Withheld));
            }
        }
        source
    }
}

/// A validated, indexed policy. Build it with [`Policy::build`] or load a signed
/// snapshot with [`verify_and_load`]; keep it current with [`Policy::apply`].
#[derive(Debug, Clone)]
pub struct Policy {
    source: PolicySource,
    version: u64,
    /// Hashes every index's keys (seeded per process: cards come from outside).
    hasher: RandomState,
    by_card: Index,
    credentials: Index,
    sites: Index,
    zones: Index,
    doors: Index,
    people: Index,
    visits: Index,
    schedules: Index,
    grants: Index,
    /// Grants by subject (a person or a group): many positions to a key, each found by
    /// the hash of its grant's subject.
    grants_by_subject: Index,
    /// Per zone (same order as `source.zones`): the zone and its ancestors, nearest first.
    ancestry: Vec<Vec<usize>>,
    /// Per zone: the zones a grant on which covers it (itself, and every ancestor whose
    /// level is at least its own).
    covered_by: Vec<Vec<Uuid>>,
    /// The key PIN verifiers are checked with; never part of the source or a snapshot.
    pin_key: Option<PinKey>,
}

/// The zone-derived indexes, rebuilt whole when zones change (they are few).
struct ZoneIndexes {
    ancestry: Vec<Vec<usize>>,
    covered_by: Vec<Vec<Uuid>>,
}

impl Policy {
    /// Validates `source` and builds the indexes.
    ///
    /// Grant coverage compares only the two ends: a grant on ancestor A covers zone T when
    /// `T.level <= A.level`, whatever the levels between. A higher-level zone in between
    /// still needs its own grant to be entered, so nobody reaches T through it unless
    /// granted there too.
    pub fn build(source: PolicySource) -> Result<Policy, PolicyError> {
        let hasher = RandomState::new();
        let h = &hasher;
        let sites = index::by_id(&source.sites, "site", h)?;
        let zones = index::by_id(&source.zones, "zone", h)?;
        let doors = index::by_id(&source.doors, "door", h)?;
        let people = index::by_id(&source.people, "person", h)?;
        let visits = index::by_id(&source.visits, "visit", h)?;
        let credentials = index::by_id(&source.credentials, "credential", h)?;
        let schedules = index::by_id(&source.schedules, "schedule", h)?;
        let grants = index::by_id(&source.grants, "grant", h)?;

        // The lookups borrow the source until this block ends.
        let (grants_by_subject, by_card) = {
            let site = lookup(&sites, &source.sites, h);
            let zone = lookup(&zones, &source.zones, h);
            let schedule = lookup(&schedules, &source.schedules, h);
            let person = lookup(&people, &source.people, h);
            let visit = lookup(&visits, &source.visits, h);
            let view = View {
                site: &site,
                zone: &zone,
                schedule: &schedule,
                person: &person,
                visit: &visit,
            };
            view.check_structure(&source.zones, &source.doors, &source.schedules)?;
            for v in &source.visits {
                view.check_visit(v)?;
            }
            // Groups are only ids on people, so a group nobody is in is not an error.
            let mut grants_by_subject = Index::with_capacity(source.grants.len());
            let subject_hash = |i: usize| source.grants.get(i).map_or(0, |g| h.hash_one(g.subject));
            for (i, g) in source.grants.iter().enumerate() {
                view.check_grant(g)?;
                grants_by_subject.insert(subject_hash(i), i, subject_hash);
            }
            let mut by_card = Index::with_capacity(source.credentials.len());
            let card_hash = |i: usize| source.credentials.get(i).map_or(0, |c| h.hash_one(c.card));
            for (i, c) in source.credentials.iter().enumerate() {
                view.check_credential(c)?;
                let hash = card_hash(i);
                let same = |j: usize| source.credentials.get(j).is_some_and(|o| o.card == c.card);
                if let Some(first) = by_card.find(hash, same) {
                    return Err(PolicyError::DuplicateCard {
                        card: c.card.to_string(),
                        // `first` indexes `source.credentials`: it was inserted below.
                        first: source.credentials.get(first).map_or(c.id, |f| f.id),
                        second: c.id,
                    });
                }
                by_card.insert(hash, i, card_hash);
            }
            (grants_by_subject, by_card)
        };
        let ZoneIndexes {
            ancestry,
            covered_by,
        } = zone_indexes(&source.zones, &zones, h)?;
        Ok(Policy {
            source,
            version: 0,
            hasher,
            by_card,
            credentials,
            sites,
            zones,
            doors,
            people,
            visits,
            schedules,
            grants,
            grants_by_subject,
            ancestry,
            covered_by,
            pin_key: None,
        })
    }

    /// The snapshot version this policy was loaded from (0 when built directly).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The records the policy was built from.
    pub fn source(&self) -> &PolicySource {
        &self.source
    }

    /// Rule tunables.
    pub fn settings(&self) -> &Settings {
        &self.source.settings
    }

    /// The credential carrying a normalised card identifier (nothing for one not in
    /// normal form; see [`Card::from_normalised`]).
    pub fn credential_by_card(&self, card: &str) -> Option<&Credential> {
        self.credential_of(Card::from_normalised(card)?)
    }

    /// The credential carrying `card`.
    pub fn credential_of(&self, card: Card) -> Option<&Credential> {
        let records = &self.source.credentials;
        let at = (self.by_card).find(self.hasher.hash_one(card), |i| {
            records.get(i).is_some_and(|c| c.card == card)
        })?;
        records.get(at)
    }

    /// A credential by id.
    pub fn credential(&self, id: Uuid) -> Option<&Credential> {
        let records = &self.source.credentials;
        records.get(find_id(&self.credentials, records, &self.hasher, id)?)
    }

    /// A site by id.
    pub fn site(&self, id: Uuid) -> Option<&Site> {
        let records = &self.source.sites;
        records.get(find_id(&self.sites, records, &self.hasher, id)?)
    }

    /// A zone by id.
    pub fn zone(&self, id: Uuid) -> Option<&Zone> {
        self.source.zones.get(self.zone_at(id)?)
    }

    /// A door by id.
    pub fn door(&self, id: Uuid) -> Option<&Door> {
        let records = &self.source.doors;
        records.get(find_id(&self.doors, records, &self.hasher, id)?)
    }

    /// This policy with door `id` in `mode` (an operator's override at the door agent,
    /// which the decision engine and the door then follow). A door not in the policy
    /// leaves it as it is.
    pub fn with_door_mode(mut self, id: Uuid, mode: crate::model::DoorMode) -> Policy {
        let at = find_id(&self.doors, &self.source.doors, &self.hasher, id);
        if let Some(door) = at.and_then(|i| self.source.doors.get_mut(i)) {
            door.mode = mode;
        }
        self
    }

    /// Sets door `id`'s mode in place (see [`Policy::with_door_mode`]); returns the mode
    /// it had, `None` for a door not in the policy.
    pub fn set_door_mode(
        &mut self,
        id: Uuid,
        mode: crate::model::DoorMode,
    ) -> Option<crate::model::DoorMode> {
        let at = find_id(&self.doors, &self.source.doors, &self.hasher, id)?;
        let door = self.source.doors.get_mut(at)?;
        Some(std::mem::replace(&mut door.mode, mode))
    }

    /// A person by id.
    pub fn person(&self, id: Uuid) -> Option<&Person> {
        let records = &self.source.people;
        records.get(find_id(&self.people, records, &self.hasher, id)?)
    }

    /// A visit by id.
    pub fn visit(&self, id: Uuid) -> Option<&Visit> {
        let records = &self.source.visits;
        records.get(find_id(&self.visits, records, &self.hasher, id)?)
    }

    /// A schedule by id.
    pub fn schedule(&self, id: Uuid) -> Option<&Schedule> {
        let records = &self.source.schedules;
        records.get(find_id(&self.schedules, records, &self.hasher, id)?)
    }

    /// A grant by id.
    pub fn grant(&self, id: Uuid) -> Option<&Grant> {
        let records = &self.source.grants;
        records.get(find_id(&self.grants, records, &self.hasher, id)?)
    }

    /// Every grant of a person, direct or through one of their groups.
    /// In no particular order.
    pub fn grants_of<'a>(&'a self, person: &'a Person) -> impl Iterator<Item = &'a Grant> + 'a {
        let groups = person.group_ids.iter().map(|&g| Subject::Group(g));
        std::iter::once(Subject::Person(person.id))
            .chain(groups)
            .flat_map(move |subject| self.grants_for(subject))
    }

    /// The grants whose subject is `subject`.
    fn grants_for(&self, subject: Subject) -> impl Iterator<Item = &Grant> + '_ {
        let hash = self.hasher.hash_one(subject);
        (self.grants_by_subject)
            .find_all(hash)
            .filter_map(|i| self.source.grants.get(i))
            .filter(move |g| g.subject == subject)
    }

    /// Whether a grant on zone `granted` covers zone `target`.
    pub fn covers(&self, granted: Uuid, target: Uuid) -> bool {
        self.zone_at(target)
            .and_then(|i| self.covered_by.get(i))
            .is_some_and(|covering| covering.contains(&granted))
    }

    /// Whether zone `inner` is zone `outer` or lies inside it.
    pub fn within(&self, inner: Uuid, outer: Uuid) -> bool {
        self.enclosing(inner).any(|zone| zone.id == outer)
    }

    /// The zone and the zones enclosing it, nearest first; nothing for an unknown zone.
    pub fn enclosing(&self, zone: Uuid) -> impl Iterator<Item = &Zone> + '_ {
        self.zone_at(zone)
            .into_iter()
            .filter_map(|i| self.ancestry.get(i))
            .flatten()
            .filter_map(|&a| self.source.zones.get(a))
    }

    /// The key PIN verifiers are checked with, if one was given.
    pub fn pin_key(&self) -> Option<&PinKey> {
        self.pin_key.as_ref()
    }

    /// Gives the key PIN verifiers are checked with (the server's own; a door agent's
    /// from its key file). Without it every PIN is uncheckable and refused.
    pub fn with_pin_key(mut self, key: PinKey) -> Self {
        self.pin_key = Some(key);
        self
    }

    /// Gives the PIN key in place (see [`Policy::with_pin_key`]).
    pub fn set_pin_key(&mut self, key: PinKey) {
        self.pin_key = Some(key);
    }

    /// Names the version in place (see [`Policy::with_version`]).
    pub fn set_version(&mut self, version: u64) {
        self.version = version;
    }

    /// Names the policy version (the server's counter; a snapshot's own version).
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }

    fn zone_at(&self, id: Uuid) -> Option<usize> {
        find_id(&self.zones, &self.source.zones, &self.hasher, id)
    }
}

/// The records references are checked against: a policy's, or what a delta would make
/// of them. Each kind is a lookup by id.
struct View<'f, 'r> {
    site: &'f dyn Fn(Uuid) -> Option<&'r Site>,
    zone: &'f dyn Fn(Uuid) -> Option<&'r Zone>,
    schedule: &'f dyn Fn(Uuid) -> Option<&'r Schedule>,
    person: &'f dyn Fn(Uuid) -> Option<&'r Person>,
    visit: &'f dyn Fn(Uuid) -> Option<&'r Visit>,
}

/// A lookup by id over one kind's index and records.
fn lookup<'a, T: Record>(
    index: &'a Index,
    records: &'a [T],
    hasher: &'a RandomState,
) -> impl Fn(Uuid) -> Option<&'a T> + 'a {
    move |id| records.get(find_id(index, records, hasher, id)?)
}

impl View<'_, '_> {
    fn site_of(&self, zone: Uuid) -> Option<Uuid> {
        (self.zone)(zone).map(|z| z.site_id)
    }

    fn zone_in_site(
        &self,
        kind: &'static str,
        id: Uuid,
        field: &'static str,
        zone: Uuid,
        site: Uuid,
    ) -> Result<(), PolicyError> {
        exists((self.zone)(zone).is_some(), kind, id, field, zone)?;
        if self.site_of(zone) == Some(site) {
            Ok(())
        } else {
            Err(cross_site(kind, id, field, zone))
        }
    }

    /// Zones, doors and schedules: what refers to sites and zones, all few.
    fn check_structure(
        &self,
        zones: &[Zone],
        doors: &[Door],
        schedules: &[Schedule],
    ) -> Result<(), PolicyError> {
        for z in zones {
            let site = (self.site)(z.site_id).is_some();
            exists(site, "zone", z.id, "site_id", z.site_id)?;
            if let Some(parent) = z.parent_id {
                self.zone_in_site("zone", z.id, "parent_id", parent, z.site_id)?;
            }
        }
        for d in doors {
            let site = (self.site)(d.site_id).is_some();
            exists(site, "door", d.id, "site_id", d.site_id)?;
            self.zone_in_site("door", d.id, "from_zone_id", d.from_zone_id, d.site_id)?;
            self.zone_in_site("door", d.id, "to_zone_id", d.to_zone_id, d.site_id)?;
        }
        for s in schedules {
            let site = (self.site)(s.site_id).is_some();
            exists(site, "schedule", s.id, "site_id", s.site_id)?;
        }
        Ok(())
    }

    fn check_visit(&self, v: &Visit) -> Result<(), PolicyError> {
        let host = (self.person)(v.host_person_id).is_some();
        exists(host, "visit", v.id, "host_person_id", v.host_person_id)?;
        for &z in &v.allowed_zone_ids {
            exists(
                (self.zone)(z).is_some(),
                "visit",
                v.id,
                "allowed_zone_ids",
                z,
            )?;
        }
        Ok(())
    }

    fn check_grant(&self, g: &Grant) -> Result<(), PolicyError> {
        let zone = (self.zone)(g.zone_id).is_some();
        exists(zone, "grant", g.id, "zone_id", g.zone_id)?;
        if let Some(sid) = g.schedule_id {
            let schedule = (self.schedule)(sid);
            exists(schedule.is_some(), "grant", g.id, "schedule_id", sid)?;
            if self.site_of(g.zone_id) != schedule.map(|s| s.site_id) {
                return Err(cross_site("grant", g.id, "schedule_id", sid));
            }
        }
        if let Subject::Person(pid) = g.subject {
            exists((self.person)(pid).is_some(), "grant", g.id, "subject", pid)?;
        }
        Ok(())
    }

    /// Its holder exists (a duplicate card is the caller's; a [`Card`] is normalised).
    fn check_credential(&self, c: &Credential) -> Result<(), PolicyError> {
        let found = match c.holder {
            Holder::Person(p) => (self.person)(p).is_some(),
            Holder::Visit(v) => (self.visit)(v).is_some(),
        };
        exists(found, "credential", c.id, "holder", c.holder.id())
    }
}

/// For each zone, the indexes of itself and its ancestors, nearest first, and the zones
/// whose grants cover it.
fn zone_indexes(
    zones: &[Zone],
    index: &Index,
    hasher: &RandomState,
) -> Result<ZoneIndexes, PolicyError> {
    let ancestry = zones
        .iter()
        .enumerate()
        .map(|(start, zone)| {
            let mut path = vec![start];
            let mut at = zone;
            while let Some(parent) = at.parent_id {
                // Parents were checked to exist, so a missing one cannot happen; a path
                // longer than the number of zones can only be a loop.
                let Some(p) = find_id(index, zones, hasher, parent) else {
                    break;
                };
                if path.len() > zones.len() || p == start {
                    return Err(PolicyError::ZoneCycle(zone.id));
                }
                path.push(p);
                let Some(parent) = zones.get(p) else { break };
                at = parent;
            }
            Ok(path)
        })
        .collect::<Result<Vec<_>, _>>()?;
    let covered_by = ancestry
        .iter()
        .zip(zones)
        .map(|(path, zone)| {
            path.iter()
                .filter_map(|&a| zones.get(a))
                .filter(|a| a.level >= zone.level)
                .map(|a| a.id)
                .collect()
        })
        .collect();
    Ok(ZoneIndexes {
        ancestry,
        covered_by,
    })
}

fn exists(
    found: bool,
    kind: &'static str,
    id: Uuid,
    field: &'static str,
    target: Uuid,
) -> Result<(), PolicyError> {
    if found {
        Ok(())
    } else {
        Err(PolicyError::Dangling {
            kind,
            id,
            field,
            target,
        })
    }
}

fn cross_site(kind: &'static str, id: Uuid, field: &'static str, target: Uuid) -> PolicyError {
    PolicyError::CrossSite {
        kind,
        id,
        field,
        target,
    }
}

#[cfg(test)]
mod tests;
