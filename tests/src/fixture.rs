//! The smallest site a door agent can serve, made through the API.

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

impl OneDoorSite {
    /// Creates it through the API; `door_settings` adds fields to the door (e.g. its
    /// unlock and held-open times).
    pub async fn create(api: &Api, admin: &str, card: &str, door_settings: Value) -> OneDoorSite {
        let site = api
            .created(admin, "/sites", json!({"name": "HQ", "timezone": "UTC"}))
            .await;
        let zone =
            |name: &str, level: u8| json!({"site_id": site["id"], "name": name, "level": level});
        let lobby = api.created(admin, "/zones", zone("Lobby", 0)).await;
        let office = api.created(admin, "/zones", zone("Office", 1)).await;
        let mut door =
            json!({"name": "Front", "from_zone_id": lobby["id"], "to_zone_id": office["id"]});
        if let (Some(door), Some(settings)) = (door.as_object_mut(), door_settings.as_object()) {
            door.extend(settings.clone());
        }
        let door = api.created(admin, "/doors", door).await;
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
        let agent = api
            .created(
                admin,
                "/agents",
                json!({"name": "front door", "door_ids": [door["id"]]}),
            )
            .await;
        let text = |v: &Value| v.as_str().unwrap().to_owned();
        OneDoorSite {
            site: text(&site["id"]),
            door: text(&door["id"]),
            person: text(&person["id"]),
            credential: text(&credential["id"]),
            enrollment_code: text(&agent["enrollment_code"]),
        }
    }
}
