//! How many are inside each zone, against its `max_occupancy`. A zone's limit counts
//! everyone inside it and the zones within it (as the decision engine counts), so each
//! zone has two counts: those whose last passage led into it (`count`) and those inside
//! it at all (`inside`, which the limit applies to).

use crate::store::{Occupant, ZoneRecord};
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

/// How many are inside one zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ZoneCount {
    pub zone_id: Uuid,
    pub zone_name: String,
    /// The enclosing zone; absent for a root zone.
    pub parent_id: Option<Uuid>,
    /// Last seen entering this zone itself.
    pub count: usize,
    /// Inside this zone or a zone within it: what `max_occupancy` limits.
    pub inside: usize,
    /// How many may be inside at once; `null`: no limit.
    pub max_occupancy: Option<u32>,
}

/// The counts of every zone in `zones` (in that order), from `occupants`. A zone whose
/// parent is not in `zones` is a root here; occupants of zones not in `zones` count
/// nowhere. A parent chain that loops (which the store refuses) stops counting at the
/// first zone seen twice.
pub fn zone_counts(zones: &[ZoneRecord], occupants: &[Occupant]) -> Vec<ZoneCount> {
    let parents: HashMap<Uuid, Option<Uuid>> = zones.iter().map(|z| (z.id, z.parent_id)).collect();
    let mut count: HashMap<Uuid, usize> = HashMap::new();
    let mut inside: HashMap<Uuid, usize> = HashMap::new();
    for occupant in occupants {
        if !parents.contains_key(&occupant.zone_id) {
            continue;
        }
        *count.entry(occupant.zone_id).or_default() += 1;
        let mut seen = Vec::new();
        let mut zone = Some(occupant.zone_id);
        while let Some(id) = zone.filter(|id| parents.contains_key(id) && !seen.contains(id)) {
            *inside.entry(id).or_default() += 1;
            seen.push(id);
            zone = parents.get(&id).copied().flatten();
        }
    }
    zones
        .iter()
        .map(|z| ZoneCount {
            zone_id: z.id,
            zone_name: z.name.clone(),
            parent_id: z.parent_id,
            count: count.get(&z.id).copied().unwrap_or(0),
            inside: inside.get(&z.id).copied().unwrap_or(0),
            max_occupancy: z.rules.max_occupancy,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ZoneRules;
    use chrono::Utc;

    fn zone(n: u128, parent: Option<u128>, max: Option<u32>) -> ZoneRecord {
        ZoneRecord {
            id: Uuid::from_u128(n),
            site_id: Uuid::nil(),
            parent_id: parent.map(Uuid::from_u128),
            name: format!("zone {n}"),
            level: 0,
            rules: ZoneRules {
                max_occupancy: max,
                ..ZoneRules::default()
            },
            created_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    fn in_zone(n: u128) -> Occupant {
        Occupant {
            holder_id: Uuid::now_v7(),
            kind: "person".into(),
            name: "x".into(),
            zone_id: Uuid::from_u128(n),
            zone_name: String::new(),
            door_id: Uuid::nil(),
            door_name: None,
            direction: "entry".into(),
            since: Utc::now(),
            organisation: None,
            host_person_id: None,
            host_name: None,
        }
    }

    /// Building 1 holds floors 2 and 3; floor 2 holds lab 4; 5 is a second root.
    #[test]
    fn each_zone_counts_its_own_and_everyone_within() {
        let zones = [
            zone(1, None, Some(100)),
            zone(2, Some(1), None),
            zone(3, Some(1), Some(2)),
            zone(4, Some(2), Some(1)),
            zone(5, None, None),
        ];
        // (case, occupants' zones, expected (count, inside) per zone 1..=5)
        type Row = (&'static str, Vec<u128>, [(usize, usize); 5]);
        let rows: Vec<Row> = vec![
            ("nobody", vec![], [(0, 0); 5]),
            (
                "in the building's hall",
                vec![1],
                [(1, 1), (0, 0), (0, 0), (0, 0), (0, 0)],
            ),
            (
                "in the lab: inside all three",
                vec![4],
                [(0, 1), (0, 1), (0, 0), (1, 1), (0, 0)],
            ),
            (
                "spread out",
                vec![1, 2, 3, 3, 4, 5],
                [(1, 5), (1, 2), (2, 2), (1, 1), (1, 1)],
            ),
            ("in a zone of another site", vec![99], [(0, 0); 5]),
        ];
        for (case, at, expected) in rows {
            let occupants: Vec<Occupant> = at.into_iter().map(in_zone).collect();
            let counts = zone_counts(&zones, &occupants);
            let got: Vec<(usize, usize)> = counts.iter().map(|c| (c.count, c.inside)).collect();
            assert_eq!(got, expected, "{case}");
            let limits: Vec<Option<u32>> = counts.iter().map(|c| c.max_occupancy).collect();
            assert_eq!(limits, [Some(100), None, Some(2), Some(1), None], "{case}");
        }
    }

    #[test]
    fn a_looping_parent_chain_ends() {
        let zones = [zone(1, Some(2), None), zone(2, Some(1), None)];
        let counts = zone_counts(&zones, &[in_zone(1)]);
        let got: Vec<(usize, usize)> = counts.iter().map(|c| (c.count, c.inside)).collect();
        assert_eq!(got, [(1, 1), (0, 1)]);
    }
}
