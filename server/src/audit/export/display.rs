//! Display columns: who, where and when in words next to a record's chain fields.
//!
//! They are not in the chain digest (names change; the records must not). Instead an
//! export carries a **name snapshot**: `names` lines, each signed with the audit key,
//! giving the names (as of the export) of the people, doors, zones, sites and door
//! agents its records name, and the sites' time zones. Every display column is a pure
//! function ([`display`]) of the record's digested ids and time and that snapshot, so
//! the verifier recomputes each one and names the line and column of any difference:
//! editing a display column cannot make a record look like another person's (or door's,
//! or time) without the verifier saying so, and editing the snapshot breaks its
//! signature. A snapshot's signature also covers the export's id, so a snapshot cannot
//! be moved from another export.

use super::line::{Line, source_of};
use crate::audit::canon::Canon;
use crate::audit::records::Source;
use chrono::{DateTime, Datelike, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write;
use uuid::Uuid;

/// The display columns, in CSV order.
pub const DISPLAY_COLUMNS: [&str; 6] = [
    "local_time",
    "person_name",
    "organisation",
    "door_name",
    "zone_name",
    "site_name",
];

/// What the header says of the display columns.
pub const DISPLAY_NOTE: &str = "not in the chain digest; checked against the signed name snapshot";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonName {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DoorName {
    pub name: String,
    pub site: Uuid,
    /// The zone the door leads into.
    pub zone: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ZoneName {
    pub name: String,
    pub site: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteName {
    pub name: String,
    /// IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentName {
    pub name: String,
    /// The doors it serves.
    pub doors: Vec<Uuid>,
}

/// One signed part of the name snapshot (the `names` member of a `names` line's data).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Names {
    /// The export this snapshot belongs to (the header's `display.export_id`).
    pub export_id: Uuid,
    /// When the names were read.
    pub as_of: Option<DateTime<Utc>>,
    /// The time zone of records at no site (operator actions): the only site's, or UTC.
    pub timezone: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub people: BTreeMap<Uuid, PersonName>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub doors: BTreeMap<Uuid, DoorName>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub zones: BTreeMap<Uuid, ZoneName>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sites: BTreeMap<Uuid, SiteName>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub agents: BTreeMap<Uuid, AgentName>,
}

/// The `data` of a `names` line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedNames {
    pub names: Names,
    /// Ed25519 over [`Names::message`], hex.
    pub signature: String,
}

impl Names {
    /// What the signature covers: the snapshot's canonical JSON (sorted maps, fixed
    /// field order), under its own domain so no other signed message can pass for it.
    pub fn message(&self) -> [u8; 32] {
        let json = serde_json::to_string(self).unwrap_or_default();
        Canon::new("gatehouse.audit.names.v1")
            .text("names", Some(&json))
            .finish()
    }

    pub fn is_empty(&self) -> bool {
        self.people.is_empty()
            && self.doors.is_empty()
            && self.zones.is_empty()
            && self.sites.is_empty()
            && self.agents.is_empty()
    }

    /// Adds `part`'s entries; an id `part` names differently from before is an error.
    pub fn merge(&mut self, part: Names) -> Result<(), String> {
        fn add<V: PartialEq>(
            into: &mut BTreeMap<Uuid, V>,
            from: BTreeMap<Uuid, V>,
            what: &str,
        ) -> Result<(), String> {
            for (id, value) in from {
                match into.get(&id) {
                    Some(old) if *old != value => {
                        return Err(format!("{what} {id} is named twice, differently"));
                    }
                    Some(_) => {}
                    None => {
                        into.insert(id, value);
                    }
                }
            }
            Ok(())
        }
        add(&mut self.people, part.people, "person")?;
        add(&mut self.doors, part.doors, "door")?;
        add(&mut self.zones, part.zones, "zone")?;
        add(&mut self.sites, part.sites, "site")?;
        add(&mut self.agents, part.agents, "agent")?;
        Ok(())
    }

    fn tz(&self, site: Option<Uuid>) -> Tz {
        site.and_then(|s| self.sites.get(&s))
            .map_or(self.timezone.as_str(), |s| s.timezone.as_str())
            .parse()
            .unwrap_or(chrono_tz::UTC)
    }
}

/// [`crate::console::time::local`]'s text (tested): `2026-12-06 14:03:07 CET`. Written
/// digit by digit (chrono's formatter was a good part of an export's time); chrono's
/// own text for the years the fast path does not cover.
fn local(at: DateTime<Utc>, zone: Tz) -> String {
    let naive = gatehouse_core::local_time::local_naive(at, zone);
    let Some((naive, year @ 0..=9999)) =
        naive.and_then(|n| Some((n, u32::try_from(n.year()).ok()?)))
    else {
        return crate::console::time::local(at, zone);
    };
    let mut text = String::with_capacity(32);
    super::line::push_date_time(&mut text, year, naive, ' ');
    text.push(' ');
    // The zone's abbreviation, as %Z writes it. Writing to a String cannot fail.
    let _ = write!(text, "{}", zone.offset_from_utc_datetime(&at.naive_utc()));
    text
}

/// The display columns of a full record line (`record` or `member`), from its chain
/// fields and the snapshot, in [`DISPLAY_COLUMNS`] order.
/// The names are borrowed from the snapshot: a line is made for each of millions of
/// records, and the values are copied once, into the line.
pub fn display<'n>(line: &Line, names: &'n Names) -> [Option<Cow<'n, str>>; 6] {
    let id = |name: &str| line.get(name).and_then(|v| v.parse::<Uuid>().ok());
    let person = id("person_id").and_then(|p| names.people.get(&p));
    // An alarm's doors are its agent's.
    let door = id("door_id");
    let record_doors: &[Uuid] = match source_of(line) {
        Some(Source::Alarm) => id("agent_id")
            .and_then(|a| names.agents.get(&a))
            .map_or(&[], |a| a.doors.as_slice()),
        _ => door.as_slice(),
    };
    let doors: Vec<&DoorName> = record_doors
        .iter()
        .filter_map(|d| names.doors.get(d))
        .collect();
    let door_name = match doors.as_slice() {
        [] => None,
        [door] => Some(Cow::Borrowed(door.name.as_str())),
        doors => {
            let names: Vec<&str> = doors.iter().map(|d| d.name.as_str()).collect();
            Some(Cow::Owned(names.join(", ")))
        }
    };
    // The record's zone; for a door incident, the zone the door leads into.
    let zone_id = id("zone_id").or(match doors.as_slice() {
        [door] => Some(door.zone),
        _ => None,
    });
    let zone = zone_id.and_then(|z| names.zones.get(&z));
    let site_id = doors
        .first()
        .map(|d| d.site)
        .or_else(|| zone.map(|z| z.site));
    let site = site_id.and_then(|s| names.sites.get(&s));
    let local_time = line
        .get("occurred_at")
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
        .map(|t| Cow::Owned(local(t, names.tz(site_id))));
    let borrowed = |text: &'n String| Cow::Borrowed(text.as_str());
    [
        local_time,
        person.map(|p| borrowed(&p.name)),
        person.and_then(|p| p.organisation.as_ref().map(borrowed)),
        door_name,
        zone.map(|z| borrowed(&z.name)),
        site.map(|s| borrowed(&s.name)),
    ]
}

/// Sets the display columns of a full record line.
pub fn fill(line: &mut Line, names: &Names) {
    for (column, value) in DISPLAY_COLUMNS.iter().zip(display(line, names)) {
        line.set(column, value.as_deref());
    }
}

/// The first display column of `line` that differs from what the snapshot gives, with
/// the line's and the snapshot's values.
pub fn difference(line: &Line, names: &Names) -> Option<String> {
    DISPLAY_COLUMNS
        .iter()
        .zip(display(line, names))
        .find(|(column, want)| line.get(column) != want.as_deref())
        .map(|(column, want)| {
            format!(
                "column {column} says {:?}, the signed name snapshot gives {:?}",
                line.get(column).unwrap_or(""),
                want.unwrap_or_default()
            )
        })
}

/// Whether any display column of `line` is set.
pub fn has_display(line: &Line) -> bool {
    DISPLAY_COLUMNS.iter().any(|c| line.get(c).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> (Names, Uuid, Uuid, Uuid, Uuid) {
        let (person, door, zone, site) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let mut names = Names {
            export_id: Uuid::new_v4(),
            as_of: None,
            timezone: "UTC".into(),
            ..Names::default()
        };
        let person_name = PersonName {
            name: "Ada".into(),
            organisation: Some("Acme".into()),
        };
        names.people.insert(person, person_name);
        let door_name = DoorName {
            name: "Lab door".into(),
            site,
            zone,
        };
        names.doors.insert(door, door_name);
        names.zones.insert(
            zone,
            ZoneName {
                name: "Lab".into(),
                site,
            },
        );
        let berlin = SiteName {
            name: "HQ".into(),
            timezone: "Europe/Berlin".into(),
        };
        names.sites.insert(site, berlin);
        (names, person, door, zone, site)
    }

    fn event(person: Option<Uuid>, door: Uuid) -> Line {
        let mut line = Line::with_data("record", &serde_json::Value::Null);
        line.set("data", None);
        line.set("source", Some("event"));
        line.set("occurred_at", Some("2026-12-06T13:00:00Z"));
        line.set("person_id", person.map(|p| p.to_string()).as_deref());
        line.set("door_id", Some(&door.to_string()));
        line
    }

    #[test]
    fn display_columns_follow_from_ids_time_and_snapshot() {
        let (names, person, door, _, _) = snapshot();
        let shown = display(&event(Some(person), door), &names);
        assert_eq!(
            shown.map(|v| v.unwrap_or_default()),
            [
                "2026-12-06 14:00:00 CET",
                "Ada",
                "Acme",
                "Lab door",
                "Lab",
                "HQ"
            ]
            .map(str::to_owned)
        );
        // A door incident names no person; its zone is the one the door leads into.
        let mut forced = event(None, door);
        fill(&mut forced, &names);
        assert_eq!(forced.get("person_name"), None);
        assert_eq!(forced.get("zone_name"), Some("Lab"));
        assert_eq!(difference(&forced, &names), None);
        forced.set("door_name", Some("Front"));
        let detail = difference(&forced, &names).unwrap_or_default();
        assert!(detail.contains("door_name"), "{detail}");
    }

    #[test]
    fn a_snapshot_naming_an_id_twice_differently_is_refused() {
        let (mut names, person, ..) = snapshot();
        let mut again = names.clone();
        assert_eq!(names.merge(again.clone()), Ok(()));
        if let Some(p) = again.people.get_mut(&person) {
            p.name = "Bo".into();
        }
        assert!(names.merge(again).is_err());
    }

    #[test]
    fn the_signature_covers_every_entry() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        let audit_key = crate::audit::checkpoint::AuditKey::from_signing_key(key);
        let (names, person, ..) = snapshot();
        let signature = audit_key.sign_names(&names);
        let public = audit_key.public_key();
        use crate::audit::checkpoint::names_signature_valid;
        assert!(names_signature_valid(&public, &names, &signature));
        let mut edited = names.clone();
        if let Some(p) = edited.people.get_mut(&person) {
            p.organisation = None;
        }
        assert!(!names_signature_valid(&public, &edited, &signature));
        let mut moved = names.clone();
        moved.export_id = Uuid::new_v4();
        assert!(!names_signature_valid(&public, &moved, &signature));
    }

    #[test]
    fn local_times_read_as_the_console_writes_them() {
        let zones = [
            chrono_tz::Europe::Berlin,
            chrono_tz::UTC,
            chrono_tz::America::New_York,
            chrono_tz::Asia::Kolkata,
            chrono_tz::Australia::Lord_Howe,
            chrono_tz::America::Sao_Paulo,
            chrono_tz::Etc::GMTPlus3,
        ];
        let times = super::super::line::times_to_test(5_000, 4_000_000_000_000_000);
        for zone in zones {
            for &at in &times {
                assert_eq!(local(at, zone), crate::console::time::local(at, zone));
            }
        }
    }
}
