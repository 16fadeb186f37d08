//! The exporter's side of the name snapshot ([`super::display`]): before each page of
//! lines, the names its full records need that no earlier `names` line gave, signed; then
//! each full record's display columns from everything sent so far. Redacted lines name
//! nothing, so the snapshot names only what the export shows. The site model is read
//! once when the export starts; people and agents as they first appear (at most once
//! each), so memory grows with the names, not with the records.

use super::display::{self, AgentName, DoorName, Names, PersonName, SignedNames, ZoneName};
use super::line::Line;
use crate::audit::checkpoint::AuditKey;
use crate::store::{Store, StoreError};
use chrono::Utc;
use serde_json::json;
use uuid::Uuid;

/// The names an export has sent, and how to find more.
pub struct Resolver {
    key: AuditKey,
    model: crate::console::names::Names,
    sent: Names,
    started: bool,
}

impl Resolver {
    pub async fn new(store: &Store, key: AuditKey, export_id: Uuid) -> Result<Self, StoreError> {
        let model = crate::console::names::Names::load(store).await?;
        let timezone = model.tz(model.only_site()).name().to_owned();
        let sent = Names {
            export_id,
            as_of: Some(Utc::now()),
            timezone,
            ..Names::default()
        };
        Ok(Resolver {
            key,
            model,
            sent,
            started: false,
        })
    }

    fn add_zone(&self, new: &mut Names, zone: Uuid) {
        if self.sent.zones.contains_key(&zone) || new.zones.contains_key(&zone) {
            return;
        }
        if let Some(z) = self.model.zones.get(&zone) {
            let name = z.name.clone();
            new.zones.insert(
                zone,
                ZoneName {
                    name,
                    site: z.site_id,
                },
            );
            self.add_site(new, z.site_id);
        }
    }

    fn add_site(&self, new: &mut Names, site: Uuid) {
        if self.sent.sites.contains_key(&site) || new.sites.contains_key(&site) {
            return;
        }
        if let Some(s) = self.model.sites.get(&site) {
            let entry = display::SiteName {
                name: s.name.clone(),
                timezone: s.zone.name().to_owned(),
            };
            new.sites.insert(site, entry);
        }
    }

    fn add_door(&self, new: &mut Names, door: Uuid) {
        if self.sent.doors.contains_key(&door) || new.doors.contains_key(&door) {
            return;
        }
        if let Some(d) = self.model.doors.get(&door) {
            let entry = DoorName {
                name: d.name.clone(),
                site: d.site_id,
                zone: d.to_zone_id,
            };
            new.doors.insert(door, entry);
            self.add_zone(new, d.to_zone_id);
            self.add_site(new, d.site_id);
        }
    }

    /// Fills the display columns of the full records among `lines`; returns the signed
    /// `names` line to go before them (always one first, for the default time zone).
    pub async fn prepare(
        &mut self,
        store: &Store,
        lines: &mut [Line],
    ) -> Result<Option<Line>, StoreError> {
        let mut new = Names {
            export_id: self.sent.export_id,
            as_of: self.sent.as_of,
            timezone: self.sent.timezone.clone(),
            ..Names::default()
        };
        for line in lines.iter() {
            if !matches!(line.kind(), "record" | "member") {
                continue;
            }
            let id = |name: &str| line.get(name).and_then(|v| v.parse::<Uuid>().ok());
            if let Some(person) = id("person_id")
                && !self.sent.people.contains_key(&person)
                && !new.people.contains_key(&person)
            {
                let entry = match store.person(person).await {
                    Ok(p) => PersonName {
                        name: p.name,
                        organisation: p.employer,
                    },
                    Err(StoreError::NotFound) => PersonName {
                        name: "(removed person)".to_owned(),
                        organisation: None,
                    },
                    Err(other) => return Err(other),
                };
                new.people.insert(person, entry);
            }
            if let Some(door) = id("door_id") {
                self.add_door(&mut new, door);
            }
            if let Some(zone) = id("zone_id") {
                self.add_zone(&mut new, zone);
            }
            if line.get("source") == Some("alarm")
                && let Some(agent) = id("agent_id")
                && !self.sent.agents.contains_key(&agent)
                && !new.agents.contains_key(&agent)
            {
                let entry = match store.agent(agent).await {
                    Ok(a) => AgentName {
                        name: a.name,
                        doors: a.door_ids,
                    },
                    Err(StoreError::NotFound) => AgentName {
                        name: "(removed agent)".to_owned(),
                        doors: Vec::new(),
                    },
                    Err(other) => return Err(other),
                };
                for door in &entry.doors {
                    self.add_door(&mut new, *door);
                }
                new.agents.insert(agent, entry);
            }
        }
        let names_line = if new.is_empty() && self.started {
            None
        } else {
            self.started = true;
            let signature = hex::encode(self.key.sign_names(&new));
            let data = SignedNames {
                names: new.clone(),
                signature,
            };
            Some(Line::with_data("names", &json!(data)))
        };
        // Cannot conflict: only ids not sent before were looked up.
        let _ = self.sent.merge(new);
        for line in lines.iter_mut() {
            if matches!(line.kind(), "record" | "member") {
                display::fill(line, &self.sent);
            }
        }
        Ok(names_line)
    }
}
