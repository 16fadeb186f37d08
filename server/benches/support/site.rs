//! The smallest site model a bench needs: one site ("HQ", Europe/Berlin), an outer zone
//! at level 0, an inner zone at level 1 inside it, and `doors` doors between them.

use super::Result;
use gatehouse_core::model::DoorMode;
use gatehouse_server::store::{Actor, NewDoor, NewSite, NewZone, Store, ZoneRules};
use uuid::Uuid;

/// (the site's id, the doors' ids), written as `Actor::cli()`.
pub async fn site_with_doors(store: &Store, doors: usize) -> Result<(Uuid, Vec<Uuid>)> {
    let actor = Actor::cli();
    let site = NewSite {
        name: "HQ".into(),
        timezone: "Europe/Berlin".into(),
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
