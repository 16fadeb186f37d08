//! The site model's storage on SQLite and PostgreSQL: schedules, deletes refused while
//! others depend on a record, and the whole model loaded for the policy compiler exactly
//! as stored.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::support::site_model as support;

use chrono::{NaiveTime, TimeZone, Utc, Weekday};
use common::TestDb;
use gatehouse_core::model::AntiPassback;
use gatehouse_server::store::{
    Actor, Day, NewSchedule, ScheduleChange, StoreError, Threat, ZoneRules,
};
use support::{assert_in_use, assert_invalid, date, new_door, new_zone, site, window, zone};
use uuid::Uuid;

conformance!(
    schedules_keep_windows_and_holidays,
    records_in_use_are_not_deleted,
    the_model_loads_as_stored,
);

async fn schedules_keep_windows_and_holidays(db: &TestDb) {
    let store = db.store().await;
    let hq = site(&store, "HQ").await;
    let cli = Actor::cli();
    let new = NewSchedule {
        site_id: hq.id,
        name: "nights".into(),
        windows: vec![window(&[Day::Fri], "22:00", "06:00")],
        holidays: vec![date("2025-12-26"), date("2025-12-25"), date("2025-12-26")],
    };
    let created = store.create_schedule(new, &cli).await.unwrap();
    assert_eq!(
        created.holidays,
        vec![date("2025-12-25"), date("2025-12-26")],
        "sorted, once each"
    );
    assert_eq!(store.schedule(created.id).await.unwrap(), created);

    let unknown_site = NewSchedule {
        site_id: Uuid::now_v7(),
        name: "x".into(),
        windows: vec![],
        holidays: vec![],
    };
    assert_invalid(store.create_schedule(unknown_site, &cli).await, "site_id");

    let v = store.policy_version().await.unwrap();
    let change = ScheduleChange {
        windows: Some(vec![window(&[Day::Mon, Day::Tue], "08:00", "18:00")]),
        ..Default::default()
    };
    let changed = store
        .update_schedule(created.id, change, &cli)
        .await
        .unwrap();
    assert_eq!(changed.name, "nights");
    assert_eq!(changed.holidays, created.holidays);
    assert_eq!(changed.windows[0].days, vec![Day::Mon, Day::Tue]);
    assert_eq!(store.schedule(created.id).await.unwrap(), changed);
    assert_eq!(store.policy_version().await.unwrap(), v + 1);
    assert_eq!(
        store.list_schedules(Some(hq.id), None, 10).await.unwrap(),
        vec![changed]
    );

    store.delete_schedule(created.id, &cli).await.unwrap();
    assert_eq!(store.policy_version().await.unwrap(), v + 2);
    assert!(matches!(
        store.schedule(created.id).await,
        Err(StoreError::NotFound)
    ));
}
async fn records_in_use_are_not_deleted(db: &TestDb) {
    let store = db.store().await;
    let cli = Actor::cli();
    let hq = site(&store, "HQ").await;
    let root = zone(&store, hq.id, None, 0).await;
    let inner = zone(&store, hq.id, Some(root.id), 1).await;
    let door = store
        .create_door(new_door(root.id, inner.id), &cli)
        .await
        .unwrap();
    let v = store.policy_version().await.unwrap();

    assert_in_use(store.delete_site(hq.id, &cli).await);
    assert_in_use(store.delete_zone(root.id, &cli).await);
    assert_in_use(store.delete_zone(inner.id, &cli).await);
    assert_eq!(
        store.policy_version().await.unwrap(),
        v,
        "refused deletes bump nothing"
    );
    assert_eq!(store.zone(inner.id).await.unwrap(), inner);

    store.delete_door(door.id, &cli).await.unwrap();
    store.delete_zone(inner.id, &cli).await.unwrap();
    store.delete_zone(root.id, &cli).await.unwrap();
    let schedule = NewSchedule {
        site_id: hq.id,
        name: "s".into(),
        windows: vec![],
        holidays: vec![],
    };
    let schedule = store.create_schedule(schedule, &cli).await.unwrap();
    assert_in_use(store.delete_site(hq.id, &cli).await);
    store.delete_schedule(schedule.id, &cli).await.unwrap();
    store.delete_site(hq.id, &cli).await.unwrap();
    assert!(matches!(
        store.delete_site(hq.id, &cli).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(store.policy_version().await.unwrap(), v + 6);
}
async fn the_model_loads_as_stored(db: &TestDb) {
    let store = db.store().await;
    let cli = Actor::cli();
    let hq = site(&store, "HQ").await;
    let responder = Uuid::now_v7();
    let threat = Threat {
        level: 2,
        clearance_raise: 1,
        lockdown: false,
        exempt_person_ids: vec![responder],
    };
    store.set_threat_level(hq.id, threat, &cli).await.unwrap();
    let lobby = zone(&store, hq.id, None, 0).await;
    let mut vault = new_zone(hq.id, Some(lobby.id), 7);
    vault.rules = ZoneRules {
        vetting_required: true,
        anti_passback: AntiPassback::Soft,
        anti_passback_timeout_s: Some(300),
        max_occupancy: Some(12),
        ..Default::default()
    };
    let vault = store.create_zone(vault, &cli).await.unwrap();
    let door = store
        .create_door(new_door(lobby.id, vault.id), &cli)
        .await
        .unwrap();
    let nights = NewSchedule {
        site_id: hq.id,
        name: "nights".into(),
        windows: vec![window(&[Day::Fri], "22:00", "06:00")],
        holidays: vec![date("2025-12-27")],
    };
    let nights = store.create_schedule(nights, &cli).await.unwrap();

    let (sites, zones, doors, schedules) = store.load_site_model().await.unwrap();
    assert_eq!(sites.len(), 1);
    assert_eq!(sites[0].timezone, chrono_tz::Europe::Berlin);
    assert_eq!(
        (sites[0].threat.level, sites[0].threat.clearance_raise),
        (2, 1)
    );
    assert!(sites[0].threat.exempt.contains(&responder));
    assert_eq!(
        zones,
        vec![lobby.clone().to_model(), vault.clone().to_model()]
    );
    assert_eq!(zones[1].anti_passback_timeout_s, Some(300));
    assert_eq!(
        (zones[0].max_occupancy, zones[1].max_occupancy),
        (None, Some(12)),
        "the limit reaches the engine"
    );
    assert_eq!(doors.len(), 1);
    assert_eq!(
        (doors[0].id, doors[0].site_id, doors[0].to_zone_id),
        (door.id, hq.id, vault.id)
    );
    assert_eq!(schedules.len(), 1);
    let window = &schedules[0].windows[0];
    assert!(window.days.contains(Weekday::Fri) && !window.days.contains(Weekday::Sat));
    assert_eq!(
        (window.start, window.end),
        (
            NaiveTime::from_hms_opt(22, 0, 0).unwrap(),
            NaiveTime::from_hms_opt(6, 0, 0).unwrap()
        )
    );
    assert_eq!(schedules[0].id, nights.id);
    // Friday 2025-12-19 23:30 and Saturday 05:00 Berlin time are inside; 06:00 is not.
    let tz = sites[0].timezone;
    let at = |d, h, m| {
        tz.with_ymd_and_hms(2025, 12, d, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    };
    assert!(schedules[0].admits(at(19, 23, 30), tz) && schedules[0].admits(at(20, 5, 0), tz));
    assert!(!schedules[0].admits(at(20, 6, 0), tz));
    assert!(
        !schedules[0].admits(at(27, 1, 0), tz),
        "holiday Saturday cuts the night"
    );
}
