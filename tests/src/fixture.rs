//! The smallest site a door agent can serve, made through the API (and the same with a
//! second door, for refusals at a door the first does not show).

use crate::api::Api;
use serde_json::{Value, json};

/// A site with one door from a lobby (level 0) into an office (level 1), a person whose
/// card may enter the office, and an agent registered for the door.
pub struct OneDoorSite {
    pub site: String,
    pub door: String,
    pub person: String,
    pub credential: String,
    pub enrollment_code: String,
}

/// The second door of [`OneDoorSite::create_two_doors`]: from the office into a lab
/// (level 1) nobody is granted, served by the same agent.
pub struct SecondDoor {
    pub door: String,
    pub zone: String,
}

impl OneDoorSite {
    /// Creates it through the API; `door_settings` adds fields to the door (e.g. its
    /// unlock and held-open times).
    pub async fn create(api: &Api, admin: &str, card: &str, door_settings: Value) -> OneDoorSite {
        OneDoorSite::build(api, admin, card, door_settings, false)
            .await
            .0
    }

    /// [`OneDoorSite::create`] with a [`SecondDoor`] (the same settings) for its agent.
    pub async fn create_two_doors(
        api: &Api,
        admin: &str,
        card: &str,
        door_settings: Value,
    ) -> (OneDoorSite, SecondDoor) {
        let (site, lab) = OneDoorSite::build(api, admin, card, door_settings, true).await;
        (site, lab.expect("the second door"))
    }

    async fn build(
        api: &Api,
        admin: &str,
        card: &str,
        door_settings: Value,
        second_door: bool,
    ) -> (OneDoorSite, Option<SecondDoor>) {
        let site = api
            .created(admin, "/sites", json!({"name": "HQ", "timezone": "UTC"}))
            .await;
        let zone =
            |name: &str, level: u8| json!({"site_id": site["id"], "name": name, "level": level});
        let lobby = api.created(admin, "/zones", zone("Lobby", 0)).await;
        let office = api.created(admin, "/zones", zone("Office", 1)).await;
        let door_between = |name: &str, from: &Value, to: &Value| {
            let mut door =
                json!({"name": name, "from_zone_id": from["id"], "to_zone_id": to["id"]});
            if let (Some(door), Some(settings)) = (door.as_object_mut(), door_settings.as_object())
            {
                door.extend(settings.clone());
            }
            door
        };
        let door = api
            .created(admin, "/doors", door_between("Front", &lobby, &office))
            .await;
        let mut lab = None;
        if second_door {
            let zone = api.created(admin, "/zones", zone("Lab", 1)).await;
            let door = api
                .created(admin, "/doors", door_between("Lab", &office, &zone))
                .await;
            lab = Some((zone, door));
        }
        let person = api
            .created(
                admin,
                "/people",
                json!({"name": "Alice", "kind": "staff", "clearance": 1}),
            )
            .await;
        let credential = api
            .created(
                admin,
                "/credentials",
                json!({"person_id": person["id"], "card": card}),
            )
            .await;
        api.created(
            admin,
            "/grants",
            json!({"person_id": person["id"], "zone_id": office["id"]}),
        )
        .await;
        let mut doors = vec![door["id"].clone()];
        doors.extend(lab.iter().map(|(_, door)| door["id"].clone()));
        let agent = api
            .created(
                admin,
                "/agents",
                json!({"name": "front door", "door_ids": doors}),
            )
            .await;
        let text = |v: &Value| v.as_str().unwrap().to_owned();
        let site = OneDoorSite {
            site: text(&site["id"]),
            door: text(&door["id"]),
            person: text(&person["id"]),
            credential: text(&credential["id"]),
            enrollment_code: text(&agent["enrollment_code"]),
        };
        let lab = lab.map(|(zone, door)| SecondDoor {
            door: text(&door["id"]),
            zone: text(&zone["id"]),
        });
        (site, lab)
    }
}
