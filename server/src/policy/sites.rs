//! Cutting the policy down to the sites of an agent's doors: a whole policy for a
//! snapshot ([`site_source`]), and the changes between two versions for a delta
//! ([`site_delta`]) by the same rules, so a delta applied to a site snapshot of one
//! version gives the site snapshot of the next.

use gatehouse_core::policy::{Changes, PolicyDelta, PolicySource};
use std::collections::{BTreeSet, HashMap};
use uuid::Uuid;

/// The policy cut down to some sites. Kept: those sites with their zones, doors and
/// schedules; grants on their zones; every visit with its allowed zones narrowed to them;
/// every person and credential (an unknown card must still be decided as unknown, not
/// missing), and threat exemptions as they are. The caller builds the result as a policy
/// before signing it, so a snapshot never holds a dangling reference.
pub(super) fn site_source(full: &PolicySource, site_ids: &BTreeSet<Uuid>) -> PolicySource {
    let zones: Vec<_> = full
        .zones
        .iter()
        .filter(|z| site_ids.contains(&z.site_id))
        .cloned()
        .collect();
    let zone_ids: BTreeSet<Uuid> = zones.iter().map(|z| z.id).collect();
    let visits = full.visits.iter().map(|v| {
        let mut visit = v.clone();
        visit.allowed_zone_ids.retain(|z| zone_ids.contains(z));
        visit
    });
    PolicySource {
        settings: full.settings.clone(),
        sites: full
            .sites
            .iter()
            .filter(|s| site_ids.contains(&s.id))
            .cloned()
            .collect(),
        doors: full
            .doors
            .iter()
            .filter(|d| site_ids.contains(&d.site_id))
            .cloned()
            .collect(),
        schedules: full
            .schedules
            .iter()
            .filter(|s| site_ids.contains(&s.site_id))
            .cloned()
            .collect(),
        grants: full
            .grants
            .iter()
            .filter(|g| zone_ids.contains(&g.zone_id))
            .cloned()
            .collect(),
        visits: visits.collect(),
        zones,
        people: full.people.clone(),
        credentials: full.credentials.clone(),
    }
}

/// `delta` cut down to `site_ids` by the rules of [`site_source`]: a record of the
/// sites, or on one of their zones, as it is; a visit with its allowed zones narrowed;
/// every person and credential. A record that is not (or no longer) for these sites is
/// removed, which removes nothing where the agent never had it. `zone_sites` gives each
/// zone's site at the delta's new version.
pub(super) fn site_delta(
    delta: &PolicyDelta,
    site_ids: &BTreeSet<Uuid>,
    zone_sites: &HashMap<Uuid, Uuid>,
) -> PolicyDelta {
    let in_sites = |site: Uuid| site_ids.contains(&site);
    let zone_in_sites = |zone: Uuid| zone_sites.get(&zone).is_some_and(|s| in_sites(*s));
    let visits = delta.visits.upserted.iter().map(|v| {
        let mut visit = v.clone();
        visit.allowed_zone_ids.retain(|&z| zone_in_sites(z));
        visit
    });
    PolicyDelta {
        settings: delta.settings.clone(),
        sites: keep(&delta.sites, |s| in_sites(s.id)),
        zones: keep(&delta.zones, |z| in_sites(z.site_id)),
        doors: keep(&delta.doors, |d| in_sites(d.site_id)),
        schedules: keep(&delta.schedules, |s| in_sites(s.site_id)),
        grants: keep(&delta.grants, |g| zone_in_sites(g.zone_id)),
        visits: Changes {
            upserted: visits.collect(),
            removed: delta.visits.removed.clone(),
        },
        people: delta.people.clone(),
        credentials: delta.credentials.clone(),
    }
}

/// The upserts `wanted`; the others become removals.
fn keep<T: gatehouse_core::policy::Record>(
    changes: &Changes<T>,
    wanted: impl Fn(&T) -> bool,
) -> Changes<T> {
    let (upserted, elsewhere): (Vec<&T>, Vec<&T>) =
        changes.upserted.iter().partition(|r| wanted(r));
    Changes {
        upserted: upserted.into_iter().cloned().collect(),
        removed: (changes.removed.iter().copied())
            .chain(elsewhere.into_iter().map(|r| r.id()))
            .collect(),
    }
}

/// Each zone's site once `delta` is applied to `source`.
pub(super) fn zone_sites(source: &PolicySource, delta: &PolicyDelta) -> HashMap<Uuid, Uuid> {
    let mut sites: HashMap<Uuid, Uuid> = source.zones.iter().map(|z| (z.id, z.site_id)).collect();
    for id in &delta.zones.removed {
        sites.remove(id);
    }
    sites.extend(delta.zones.upserted.iter().map(|z| (z.id, z.site_id)));
    sites
}
