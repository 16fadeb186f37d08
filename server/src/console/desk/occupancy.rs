//! Occupancy: who is inside each zone now, with each zone's count against its
//! `max_occupancy`.

use crate::auth::permissions::ReadOccupancy;
use crate::console::names::Names;
use crate::console::page::{Chrome, Failure, render};
use crate::console::session::Console;
use crate::state::AppState;
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use std::collections::BTreeMap;

struct Inside {
    name: String,
    kind: &'static str,
    with: String,
    since: String,
    door: String,
}

struct ZoneLine {
    name: String,
    count: usize,
    max: Option<u32>,
    over: bool,
    people: Vec<Inside>,
}

struct SiteLine {
    name: String,
    count: usize,
    zones: Vec<ZoneLine>,
}

#[derive(Template)]
#[template(path = "occupancy.html")]
struct OccupancyPage {
    chrome: Chrome,
    sites: Vec<SiteLine>,
}

pub async fn page(
    State(state): State<AppState>,
    user: Console<ReadOccupancy>,
) -> Result<Response, Failure> {
    let names = Names::load(&state.store).await?;
    let mut sites = Vec::new();
    for (site_id, site_name) in names.sites_by_name() {
        let occupants = state.store.site_occupants(site_id).await?;
        let mut zones: BTreeMap<(String, uuid::Uuid), ZoneLine> = BTreeMap::new();
        for zone in names.zones.values().filter(|z| z.site_id == site_id) {
            zones.insert(
                (zone.name.clone(), zone.id),
                ZoneLine {
                    name: zone.name.clone(),
                    count: 0,
                    max: zone.rules.max_occupancy,
                    over: false,
                    people: Vec::new(),
                },
            );
        }
        for o in &occupants {
            let line = zones
                .entry((o.zone_name.clone(), o.zone_id))
                .or_insert_with(|| ZoneLine {
                    name: o.zone_name.clone(),
                    count: 0,
                    max: None,
                    over: false,
                    people: Vec::new(),
                });
            line.count += 1;
            line.people.push(Inside {
                name: o.name.clone(),
                kind: if o.kind == "visitor" {
                    "Visitor"
                } else {
                    "Staff"
                },
                with: super::muster::organisation_and_host(
                    o.organisation.as_deref(),
                    o.host_name.as_deref(),
                ),
                since: names.time(o.since, Some(site_id)),
                door: o
                    .door_name
                    .clone()
                    .unwrap_or_else(|| "(removed door)".to_owned()),
            });
        }
        let zones: Vec<ZoneLine> = zones
            .into_values()
            .map(|mut z| {
                z.over = z.max.is_some_and(|max| z.count >= max as usize);
                z.people.sort_by(|a, b| a.name.cmp(&b.name));
                z
            })
            .collect();
        sites.push(SiteLine {
            name: site_name.to_owned(),
            count: occupants.len(),
            zones,
        });
    }
    Ok(render(OccupancyPage {
        chrome: Chrome::new(&user.principal, "/occupancy", "Occupancy"),
        sites,
    }))
}
