//! Names for ids: pages show sites, zones and doors by name and times in the site's zone,
//! never UUIDs. Loaded once per page from the site model (small: hundreds of rows).

use super::time;
use crate::store::{DoorRecord, Store, StoreError, ZoneRecord};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use std::collections::HashMap;
use uuid::Uuid;

const PAGE: u32 = 1000;

/// People's names read once per page however often a list names them.
#[derive(Default)]
pub struct PeopleNames(HashMap<Uuid, String>);

impl PeopleNames {
    pub async fn name(&mut self, store: &Store, id: Uuid) -> Result<String, StoreError> {
        if let Some(name) = self.0.get(&id) {
            return Ok(name.clone());
        }
        let name = match store.person(id).await {
            Ok(person) => person.name,
            Err(StoreError::NotFound) => "(removed person)".to_owned(),
            Err(other) => return Err(other),
        };
        self.0.insert(id, name.clone());
        Ok(name)
    }
}

pub struct SiteName {
    pub name: String,
    pub zone: Tz,
}

/// The site model's names, by id.
pub struct Names {
    pub sites: HashMap<Uuid, SiteName>,
    pub zones: HashMap<Uuid, ZoneRecord>,
    pub doors: HashMap<Uuid, DoorRecord>,
}

impl Names {
    pub async fn load(store: &Store) -> Result<Names, StoreError> {
        let mut sites = HashMap::new();
        let mut after = None;
        loop {
            let page = store.list_sites(after, PAGE).await?;
            after = page.last().map(|s| s.id);
            for site in page.iter() {
                let zone = site.timezone.parse().unwrap_or(chrono_tz::UTC);
                let name = site.name.clone();
                sites.insert(site.id, SiteName { name, zone });
            }
            if page.len() < PAGE as usize {
                break;
            }
        }
        let mut zones = HashMap::new();
        let mut after = None;
        loop {
            let page = store.list_zones(None, after, PAGE).await?;
            after = page.last().map(|z| z.id);
            let full = page.len() == PAGE as usize;
            zones.extend(page.into_iter().map(|z| (z.id, z)));
            if !full {
                break;
            }
        }
        let mut doors = HashMap::new();
        let mut after = None;
        loop {
            let page = store.list_doors(None, None, after, PAGE).await?;
            after = page.last().map(|d| d.id);
            let full = page.len() == PAGE as usize;
            doors.extend(page.into_iter().map(|d| (d.id, d)));
            if !full {
                break;
            }
        }
        Ok(Names {
            sites,
            zones,
            doors,
        })
    }

    pub fn site(&self, id: Uuid) -> &str {
        self.sites.get(&id).map_or("(removed site)", |s| &s.name)
    }

    pub fn zone(&self, id: Uuid) -> &str {
        self.zones.get(&id).map_or("(removed zone)", |z| &z.name)
    }

    pub fn door(&self, id: Uuid) -> &str {
        self.doors.get(&id).map_or("(removed door)", |d| &d.name)
    }

    /// The site of a door, when the door still exists.
    pub fn door_site(&self, door_id: Uuid) -> Option<Uuid> {
        self.doors.get(&door_id).map(|d| d.site_id)
    }

    /// The time zone of a site; UTC when there is none.
    pub fn tz(&self, site_id: Option<Uuid>) -> Tz {
        site_id
            .and_then(|id| self.sites.get(&id))
            .map_or(chrono_tz::UTC, |s| s.zone)
    }

    /// The site whose time zone shows what belongs to no one site (a search over all
    /// doors, the operator log): the only site; none (so UTC) when there are several.
    pub fn only_site(&self) -> Option<Uuid> {
        let mut sites = self.sites.keys();
        match (sites.next(), sites.next()) {
            (Some(only), None) => Some(*only),
            _ => None,
        }
    }

    /// A time in the site's zone, with its abbreviation.
    pub fn time(&self, at: DateTime<Utc>, site_id: Option<Uuid>) -> String {
        time::local(at, self.tz(site_id))
    }

    /// Doors as `(id, "door · site", chosen)`, by that label, for choosers.
    pub fn door_choices(&self, chosen: Option<Uuid>) -> Vec<(String, String, bool)> {
        let mut doors: Vec<_> = self
            .doors
            .values()
            .map(|d| {
                let label = format!("{} · {}", d.name, self.site(d.site_id));
                (d.id.to_string(), label, chosen == Some(d.id))
            })
            .collect();
        doors.sort_by(|a, b| a.1.cmp(&b.1));
        doors
    }

    /// Sites by name, for choosers.
    pub fn sites_by_name(&self) -> Vec<(Uuid, &str)> {
        let mut sites: Vec<_> = self
            .sites
            .iter()
            .map(|(id, s)| (*id, s.name.as_str()))
            .collect();
        sites.sort_by(|a, b| a.1.cmp(b.1));
        sites
    }
}
