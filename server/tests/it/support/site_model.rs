//! Builders and assertions shared by the site model's storage tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use gatehouse_core::model::DoorMode;
use gatehouse_server::store::{
    Actor, ClockTime, Day, ModelError, NewDoor, NewSite, NewZone, SiteRecord, Store, StoreError,
    WindowSpec, ZoneRecord, ZoneRules,
};
use uuid::Uuid;

pub async fn site(store: &Store, name: &str) -> SiteRecord {
    let new = NewSite {
        name: name.into(),
        timezone: "Europe/Berlin".into(),
        secure_cards_from_threat_level: None,
    };
    store.create_site(new, &Actor::cli()).await.unwrap()
}

pub fn new_zone(site_id: Uuid, parent_id: Option<Uuid>, level: u8) -> NewZone {
    NewZone {
        site_id,
        parent_id,
        name: format!("level {level}"),
        level,
        rules: ZoneRules::default(),
    }
}

pub async fn zone(store: &Store, site_id: Uuid, parent_id: Option<Uuid>, level: u8) -> ZoneRecord {
    let new = new_zone(site_id, parent_id, level);
    store.create_zone(new, &Actor::cli()).await.unwrap()
}

pub fn new_door(from_zone_id: Uuid, to_zone_id: Uuid) -> NewDoor {
    NewDoor {
        name: "door".into(),
        from_zone_id,
        to_zone_id,
        mode: DoorMode::Normal,
        unlock_ms: 5000,
        held_open_ms: 30000,
    }
}

pub fn window(days: &[Day], start: &str, end: &str) -> WindowSpec {
    WindowSpec {
        days: days.to_vec(),
        start: ClockTime::parse(start).unwrap(),
        end: ClockTime::parse(end).unwrap(),
    }
}

pub fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Asserts the field a refused change names.
pub fn assert_invalid<T: std::fmt::Debug>(result: Result<T, ModelError>, field: &str) {
    match result {
        Err(ModelError::Invalid { field: f, .. }) => assert_eq!(f, field),
        other => panic!("expected a refusal naming {field}, got {other:?}"),
    }
}

pub fn assert_in_use<T: std::fmt::Debug, E: Into<ModelError>>(result: Result<T, E>) {
    match result.map_err(Into::into) {
        Err(ModelError::Store(StoreError::InUse)) => {}
        other => panic!("expected in use, got {other:?}"),
    }
}
