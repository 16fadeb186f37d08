//! The smallest site model a bench needs: one site ("HQ", Europe/Berlin), an outer zone
//! at level 0, an inner zone at level 1 inside it, and `doors` doors between them.

use super::Result;
use gatehouse_core::model::DoorMode;
use gatehouse_server::import::import_people;
use gatehouse_server::store::{Actor, NewDoor, NewSite, NewZone, Store, ZoneRules};
use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;
use uuid::Uuid;

/// (the site's id, the doors' ids), written as `Actor::cli()`.
pub async fn site_with_doors(store: &Store, doors: usize) -> Result<(Uuid, Vec<Uuid>)> {
    let actor = Actor::cli();
    let site = NewSite {
        name: "HQ".into(),
        timezone: "Europe/Berlin".into(),
        secure_cards_from_threat_level: None,
    };
    let site = store.create_site(site, &actor).await?;
    let mut zones = Vec::new();
    for level in [0, 1] {
        let zone = NewZone {
            site_id: site.id,
            parent_id: zones.first().copied(),
            name: format!("level {level}"),
            level,
            rules: ZoneRules::default(),
        };
        zones.push(store.create_zone(zone, &actor).await?.id);
    }
    let mut ids = Vec::with_capacity(doors);
    for n in 0..doors {
        let door = NewDoor {
            name: format!("Door {n:03}"),
            from_zone_id: zones[0],
            to_zone_id: zones[1],
            mode: DoorMode::Normal,
            unlock_ms: 3000,
            held_open_ms: 30000,
        };
        ids.push(store.create_door(door, &actor).await?.id);
    }
    Ok((site.id, ids))
}

/// Rows a bench imports per HR import.
const IMPORT_CHUNK: usize = 500_000;

/// `n` people with a card each (`E<p>`, card `04` + 12 hex digits), through the HR import
/// in chunks of [`IMPORT_CHUNK`] rows.
pub async fn people_with_cards(store: &Store, n: usize) -> Result<()> {
    let started = Instant::now();
    for first in (0..n).step_by(IMPORT_CHUNK) {
        let mut csv = String::from("external_id,name,kind,clearance,card\n");
        for p in first..(first + IMPORT_CHUNK).min(n) {
            writeln!(
                csv,
                "E{p},Person {p},staff,1,{:014X}",
                0x04_0000_0000_0000usize + p
            )?;
        }
        import_people(store, csv.into_bytes(), &Actor::cli(), Arc::new(()))
            .await
            .map_err(|e| format!("import: {e:?}"))?;
    }
    eprintln!(
        "{n} people with cards imported in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
