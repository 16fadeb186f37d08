//! The compiled policy: a validated, indexed snapshot of the model that answers every
//! lookup the decision needs in O(1) (card → credential, ids → records, person/group →
//! grants, zone → the zones whose grants cover it).

mod delta;
mod error;
mod signed_delta;
mod snapshot;

pub use delta::{Changes, PolicyDelta, Record};
pub use error::PolicyError;
pub use signed_delta::{DeltaBase, SignedDelta};

pub use snapshot::{
    SignedSnapshot, SnapshotError, generate_key, key_id, sign, sign_at, verify_and_load,
};

use crate::model::{
    CardError, Credential, Door, Grant, Holder, Person, PinKey, PinVerifier, Schedule, Site,
    Subject, Visit, Zone, normalize_card,
};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
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
                c.pin = Some(PinVerifier::Withheld);
            }
        }
        source
    }
}

/// A validated, indexed policy. Build it with [`Policy::build`] or load a signed
/// snapshot with [`verify_and_load`].
#[derive(Debug, Clone)]
pub struct Policy {
    source: PolicySource,
    version: u64,
    by_card: HashMap<String, usize>,
    credentials: HashMap<Uuid, usize>,
    sites: HashMap<Uuid, usize>,
    zones: HashMap<Uuid, usize>,
    doors: HashMap<Uuid, usize>,
    people: HashMap<Uuid, usize>,
    visits: HashMap<Uuid, usize>,
    schedules: HashMap<Uuid, usize>,
    grants_by_person: HashMap<Uuid, Vec<usize>>,
    grants_by_group: HashMap<Uuid, Vec<usize>>,
    /// Per zone (same order as `source.zones`): the zone and its ancestors, nearest first.
    ancestry: Vec<Vec<usize>>,
    /// Per zone: the zones a grant on which covers it (itself, and every ancestor whose
    /// level is at least its own).
    covered_by: Vec<Vec<Uuid>>,
    /// The key PIN verifiers are checked with; never part of the source or a snapshot.
    pin_key: Option<PinKey>,
}

impl Policy {
    /// Validates `source` and builds the indexes.
    ///
    /// Grant coverage compares only the two ends: a grant on ancestor A covers zone T when
    /// `T.level <= A.level`, whatever the levels between. A higher-level zone in between
    /// still needs its own grant to be entered, so nobody reaches T through it unless
    /// granted there too.
    pub fn build(source: PolicySource) -> Result<Policy, PolicyError> {
        let sites = index(&source.sites, "site", |s| s.id)?;
        let zones = index(&source.zones, "zone", |z| z.id)?;
        let doors = index(&source.doors, "door", |d| d.id)?;
        let people = index(&source.people, "person", |p| p.id)?;
        let visits = index(&source.visits, "visit", |v| v.id)?;
        let credentials = index(&source.credentials, "credential", |c| c.id)?;
        let schedules = index(&source.schedules, "schedule", |s| s.id)?;
        index(&source.grants, "grant", |g| g.id)?;

        let site_of = |zone: Uuid| {
            let zone = zones.get(&zone).and_then(|&i| source.zones.get(i));
            zone.map(|z| z.site_id)
        };
        let zone_in_site = |kind: &'static str, id, field: &'static str, zone, site| {
            exists(&zones, kind, id, field, zone)?;
            if site_of(zone) == Some(site) {
                Ok(())
            } else {
                Err(cross_site(kind, id, field, zone))
            }
        };
        for z in &source.zones {
            exists(&sites, "zone", z.id, "site_id", z.site_id)?;
            if let Some(parent) = z.parent_id {
                zone_in_site("zone", z.id, "parent_id", parent, z.site_id)?;
            }
        }
        for d in &source.doors {
            exists(&sites, "door", d.id, "site_id", d.site_id)?;
            zone_in_site("door", d.id, "from_zone_id", d.from_zone_id, d.site_id)?;
            zone_in_site("door", d.id, "to_zone_id", d.to_zone_id, d.site_id)?;
        }
        for s in &source.schedules {
            exists(&sites, "schedule", s.id, "site_id", s.site_id)?;
        }
        for v in &source.visits {
            exists(&people, "visit", v.id, "host_person_id", v.host_person_id)?;
            for &z in &v.allowed_zone_ids {
                exists(&zones, "visit", v.id, "allowed_zone_ids", z)?;
            }
        }
        let mut grants_by_person: HashMap<Uuid, Vec<usize>> = HashMap::new();
        let mut grants_by_group: HashMap<Uuid, Vec<usize>> = HashMap::new();
        for (i, g) in source.grants.iter().enumerate() {
            exists(&zones, "grant", g.id, "zone_id", g.zone_id)?;
            if let Some(sid) = g.schedule_id {
                exists(&schedules, "grant", g.id, "schedule_id", sid)?;
                let schedule = schedules.get(&sid).and_then(|&i| source.schedules.get(i));
                let schedule_site = schedule.map(|s| s.site_id);
                if site_of(g.zone_id) != schedule_site {
                    return Err(cross_site("grant", g.id, "schedule_id", sid));
                }
            }
            match g.subject {
                // Groups are only ids on people, so a group nobody is in is not an error.
                Subject::Group(gid) => grants_by_group.entry(gid).or_default().push(i),
                Subject::Person(pid) => {
                    exists(&people, "grant", g.id, "subject", pid)?;
                    grants_by_person.entry(pid).or_default().push(i);
                }
            }
        }
        let mut by_card: HashMap<String, usize> = HashMap::with_capacity(source.credentials.len());
        for (i, c) in source.credentials.iter().enumerate() {
            if !is_normalised(&c.card) {
                let error = normalize_card(&c.card).err();
                return Err(PolicyError::InvalidCard {
                    id: c.id,
                    error: error.unwrap_or(CardError::NotNormalised),
                });
            }
            match c.holder {
                Holder::Person(p) => exists(&people, "credential", c.id, "holder", p)?,
                Holder::Visit(v) => exists(&visits, "credential", c.id, "holder", v)?,
            }
            if let Some(&first) = by_card.get(&c.card) {
                return Err(PolicyError::DuplicateCard {
                    card: c.card.clone(),
                    // `first` indexes `source.credentials`: it was inserted below.
                    first: source.credentials.get(first).map_or(c.id, |f| f.id),
                    second: c.id,
                });
            }
            by_card.insert(c.card.clone(), i);
        }
        let ancestry = ancestry(&source.zones, &zones)?;
        let covered_by = ancestry
            .iter()
            .zip(&source.zones)
            .map(|(path, zone)| {
                path.iter()
                    .filter_map(|&a| source.zones.get(a))
                    .filter(|a| a.level >= zone.level)
                    .map(|a| a.id)
                    .collect()
            })
            .collect();
        Ok(Policy {
            source,
            version: 0,
            by_card,
            credentials,
            sites,
            zones,
            doors,
            people,
            visits,
            schedules,
            grants_by_person,
            grants_by_group,
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

    /// The credential carrying a (normalised) card identifier.
    pub fn credential_by_card(&self, card: &str) -> Option<&Credential> {
        let i = self.by_card.get(card)?;
        self.source.credentials.get(*i)
    }

    /// A credential by id.
    pub fn credential(&self, id: Uuid) -> Option<&Credential> {
        let i = self.credentials.get(&id)?;
        self.source.credentials.get(*i)
    }

    /// A site by id.
    pub fn site(&self, id: Uuid) -> Option<&Site> {
        self.source.sites.get(*self.sites.get(&id)?)
    }

    /// A zone by id.
    pub fn zone(&self, id: Uuid) -> Option<&Zone> {
        self.source.zones.get(*self.zones.get(&id)?)
    }

    /// A door by id.
    pub fn door(&self, id: Uuid) -> Option<&Door> {
        self.source.doors.get(*self.doors.get(&id)?)
    }

    /// This policy with door `id` in `mode` (an operator's override at the door agent,
    /// which the decision engine and the door then follow). A door not in the policy
    /// leaves it as it is.
    pub fn with_door_mode(mut self, id: Uuid, mode: crate::model::DoorMode) -> Policy {
        if let Some(door) = self
            .doors
            .get(&id)
            .copied()
            .and_then(|i| self.source.doors.get_mut(i))
        {
            door.mode = mode;
        }
        self
    }

    /// A person by id.
    pub fn person(&self, id: Uuid) -> Option<&Person> {
        self.source.people.get(*self.people.get(&id)?)
    }

    /// A visit by id.
    pub fn visit(&self, id: Uuid) -> Option<&Visit> {
        self.source.visits.get(*self.visits.get(&id)?)
    }

    /// A schedule by id.
    pub fn schedule(&self, id: Uuid) -> Option<&Schedule> {
        self.source.schedules.get(*self.schedules.get(&id)?)
    }

    /// Every grant of a person, direct or through one of their groups.
    pub fn grants_of<'a>(&'a self, person: &'a Person) -> impl Iterator<Item = &'a Grant> + 'a {
        let direct = self.grants_by_person.get(&person.id).into_iter().flatten();
        let groups = person
            .group_ids
            .iter()
            .filter_map(|g| self.grants_by_group.get(g))
            .flatten();
        direct
            .chain(groups)
            .filter_map(|&i| self.source.grants.get(i))
    }

    /// Whether a grant on zone `granted` covers zone `target`.
    pub fn covers(&self, granted: Uuid, target: Uuid) -> bool {
        self.zones
            .get(&target)
            .and_then(|&i| self.covered_by.get(i))
            .is_some_and(|covering| covering.contains(&granted))
    }

    /// Whether zone `inner` is zone `outer` or lies inside it.
    pub fn within(&self, inner: Uuid, outer: Uuid) -> bool {
        self.enclosing(inner).any(|zone| zone.id == outer)
    }

    /// The zone and the zones enclosing it, nearest first; nothing for an unknown zone.
    pub fn enclosing(&self, zone: Uuid) -> impl Iterator<Item = &Zone> + '_ {
        self.zones
            .get(&zone)
            .into_iter()
            .filter_map(|&i| self.ancestry.get(i))
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

    /// Names the policy version (the server's counter; a snapshot's own version).
    pub fn with_version(mut self, version: u64) -> Self {
        self.version = version;
        self
    }
}

fn index<T>(
    items: &[T],
    kind: &'static str,
    id: impl Fn(&T) -> Uuid,
) -> Result<HashMap<Uuid, usize>, PolicyError> {
    let mut map = HashMap::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        if map.insert(id(item), i).is_some() {
            return Err(PolicyError::DuplicateId { kind, id: id(item) });
        }
    }
    Ok(map)
}

/// For each zone, the indexes of itself and its ancestors, nearest first.
fn ancestry(zones: &[Zone], index: &HashMap<Uuid, usize>) -> Result<Vec<Vec<usize>>, PolicyError> {
    zones
        .iter()
        .enumerate()
        .map(|(start, zone)| {
            let mut path = vec![start];
            let mut at = zone;
            while let Some(parent) = at.parent_id {
                // Parents were checked to exist, so a missing one cannot happen; a path
                // longer than the number of zones can only be a loop.
                let Some(&p) = index.get(&parent) else { break };
                if path.len() > zones.len() || p == start {
                    return Err(PolicyError::ZoneCycle(zone.id));
                }
                path.push(p);
                let Some(parent) = zones.get(p) else { break };
                at = parent;
            }
            Ok(path)
        })
        .collect()
}

fn exists(
    map: &HashMap<Uuid, usize>,
    kind: &'static str,
    id: Uuid,
    field: &'static str,
    target: Uuid,
) -> Result<(), PolicyError> {
    if map.contains_key(&target) {
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

/// The normal form [`normalize_card`] produces, checked without allocating (building a
/// policy of millions of credentials checks every card).
fn is_normalised(card: &str) -> bool {
    card.len().is_multiple_of(2)
        && (2..=64).contains(&card.len())
        && card.bytes().all(|b| matches!(b, b'0'..=b'9' | b'A'..=b'F'))
}

#[cfg(test)]
mod tests;
