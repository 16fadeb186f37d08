//! The site model's storage on SQLite and PostgreSQL: sites, zones and doors stored,
//! changed and logged, every write bumping the policy version and every refused write
//! changing nothing. (Schedules, deletes and loading: `site_model_load.rs`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;
use crate::support::site_model as support;

use common::TestDb;
use gatehouse_core::model::{AntiPassback, Assurance, DoorMode};
use gatehouse_server::store::{Actor, DoorChange, SiteChange, StoreError, Threat, ZoneChange};
use support::{assert_invalid, new_door, new_zone, site, zone};
use uuid::Uuid;

conformance!(
    sites_are_stored_changed_and_logged,
    zone_tree_stays_on_its_site_and_acyclic,
    occupancy_limits_stay_in_range,
    migration_clears_occupancy_limits_out_of_range,
    doors_join_two_zones_of_one_site,
);

async fn sites_are_stored_changed_and_logged(db: &TestDb) {
    let store = db.store().await;
    let v0 = store.policy_version().await.unwrap();
    let created = site(&store, "HQ").await;
    assert_eq!(created.threat, Threat::default());
    assert_eq!(store.site(created.id).await.unwrap(), created);
    assert_eq!(store.policy_version().await.unwrap(), v0 + 1);

    let change = SiteChange {
        name: Some("Head office".into()),
        timezone: Some("America/New_York".into()),
        secure_cards_from_threat_level: Some(Some(3)),
    };
    let renamed = store
        .update_site(created.id, change, &Actor::cli())
        .await
        .unwrap();
    assert_eq!(
        (renamed.name.as_str(), renamed.timezone.as_str()),
        ("Head office", "America/New_York")
    );
    assert_eq!(created.secure_cards_from_threat_level, None);
    assert_eq!(renamed.secure_cards_from_threat_level, Some(3));
    assert_eq!(store.site(created.id).await.unwrap(), renamed);
    let responder = Uuid::now_v7();
    let threat = Threat {
        level: 3,
        clearance_raise: 2,
        lockdown: true,
        exempt_person_ids: vec![responder, responder],
    };
    let raised = store
        .set_threat_level(created.id, threat, &Actor::cli())
        .await
        .unwrap();
    assert_eq!(
        raised.threat.exempt_person_ids,
        vec![responder],
        "duplicates dropped"
    );
    assert_eq!(store.site(created.id).await.unwrap(), raised);
    assert_eq!(store.policy_version().await.unwrap(), v0 + 3);

    // Reads and refused writes leave the version alone.
    store.list_sites(None, 10).await.unwrap();
    let missing = store
        .update_site(Uuid::now_v7(), SiteChange::default(), &Actor::cli())
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
    assert_eq!(store.policy_version().await.unwrap(), v0 + 3);

    let second = site(&store, "Plant").await;
    let page = store.list_sites(Some(created.id), 10).await.unwrap();
    assert_eq!(
        page.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![second.id]
    );

    let log = store.list_operator_log(None, 100).await.unwrap();
    let actions: Vec<_> = log
        .iter()
        .filter(|e| e.target_type == "site")
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        actions,
        [
            "site.create",
            "site.update",
            "site.threat_level",
            "site.create"
        ]
    );
    let threat_entry = &log
        .iter()
        .find(|e| e.action == "site.threat_level")
        .unwrap();
    assert_eq!(
        threat_entry.before.as_ref().unwrap().0["threat"]["level"],
        0
    );
    assert_eq!(threat_entry.after.as_ref().unwrap().0["threat"]["level"], 3);
}
async fn zone_tree_stays_on_its_site_and_acyclic(db: &TestDb) {
    let store = db.store().await;
    let (hq, plant) = (site(&store, "HQ").await, site(&store, "Plant").await);
    let root = zone(&store, hq.id, None, 0).await;
    let child = zone(&store, hq.id, Some(root.id), 2).await;
    let grandchild = zone(&store, hq.id, Some(child.id), 4).await;
    let elsewhere = zone(&store, plant.id, None, 0).await;
    assert_eq!(store.zone(grandchild.id).await.unwrap(), grandchild);
    let v = store.policy_version().await.unwrap();
    let log_len = store.list_operator_log(None, 1000).await.unwrap().len();

    let cli = Actor::cli();
    assert_invalid(
        store
            .create_zone(new_zone(Uuid::now_v7(), None, 1), &cli)
            .await,
        "site_id",
    );
    assert_invalid(
        store
            .create_zone(new_zone(hq.id, Some(elsewhere.id), 1), &cli)
            .await,
        "parent_id",
    );
    assert_invalid(
        store
            .create_zone(new_zone(hq.id, Some(Uuid::now_v7()), 1), &cli)
            .await,
        "parent_id",
    );
    let reparent = |parent| ZoneChange {
        parent_id: Some(parent),
        ..Default::default()
    };
    assert_invalid(
        store
            .update_zone(root.id, reparent(Some(grandchild.id)), &cli)
            .await,
        "parent_id",
    );
    assert_invalid(
        store
            .update_zone(root.id, reparent(Some(root.id)), &cli)
            .await,
        "parent_id",
    );
    assert_invalid(
        store
            .update_zone(child.id, reparent(Some(elsewhere.id)), &cli)
            .await,
        "parent_id",
    );
    assert_eq!(
        store.policy_version().await.unwrap(),
        v,
        "refusals bump nothing"
    );
    assert_eq!(
        store.list_operator_log(None, 1000).await.unwrap().len(),
        log_len,
        "nor log"
    );
    assert_eq!(store.zone(root.id).await.unwrap().parent_id, None);

    // A legal move, and every flag changed at once.
    let change = ZoneChange {
        parent_id: Some(Some(root.id)),
        name: Some("vault".into()),
        level: Some(9),
        vetting_required: Some(true),
        escort_required: Some(true),
        two_person: Some(true),
        pin_required: Some(true),
        anti_passback: Some(AntiPassback::Hard),
        anti_passback_timeout_s: Some(Some(600)),
        max_occupancy: Some(Some(4)),
        min_assurance: Some(Assurance::Secure),
    };
    let moved = store
        .update_zone(grandchild.id, change, &cli)
        .await
        .unwrap();
    assert_eq!(store.zone(moved.id).await.unwrap(), moved);
    assert_eq!(
        (moved.parent_id, moved.level, moved.rules.anti_passback),
        (Some(root.id), 9, AntiPassback::Hard)
    );
    assert_eq!(
        (
            moved.rules.anti_passback_timeout_s,
            moved.rules.max_occupancy
        ),
        (Some(600), Some(4))
    );
    assert!(moved.rules.vetting_required && moved.rules.two_person && moved.rules.pin_required);
    assert_eq!(moved.rules.min_assurance, Assurance::Secure);
    let clear = ZoneChange {
        parent_id: Some(None),
        max_occupancy: Some(None),
        ..Default::default()
    };
    let root_again = store.update_zone(moved.id, clear, &cli).await.unwrap();
    assert_eq!(
        (root_again.parent_id, root_again.rules.max_occupancy),
        (None, None)
    );
    assert_eq!(store.policy_version().await.unwrap(), v + 2);

    let listed = store.list_zones(Some(hq.id), None, 10).await.unwrap();
    assert_eq!(
        listed.iter().map(|z| z.id).collect::<Vec<_>>(),
        vec![root.id, child.id, grandchild.id]
    );
    assert_eq!(
        store
            .list_zones(None, Some(grandchild.id), 10)
            .await
            .unwrap()
            .len(),
        1
    );
}
async fn occupancy_limits_stay_in_range(db: &TestDb) {
    let store = db.store().await;
    let cli = Actor::cli();
    let hq = site(&store, "HQ").await;
    let with_limit = |limit| {
        let mut new = new_zone(hq.id, None, 1);
        new.rules.max_occupancy = limit;
        new
    };
    let v = store.policy_version().await.unwrap();
    for bad in [0, 1_000_001, u32::MAX] {
        assert_invalid(
            store.create_zone(with_limit(Some(bad)), &cli).await,
            "max_occupancy",
        );
    }
    let lowest = store.create_zone(with_limit(Some(1)), &cli).await.unwrap();
    let highest = store
        .create_zone(with_limit(Some(1_000_000)), &cli)
        .await
        .unwrap();
    assert_eq!(
        (
            store.zone(lowest.id).await.unwrap().rules.max_occupancy,
            store.zone(highest.id).await.unwrap().rules.max_occupancy
        ),
        (Some(1), Some(1_000_000))
    );
    let limit = |max_occupancy| ZoneChange {
        max_occupancy,
        ..Default::default()
    };
    assert_invalid(
        store
            .update_zone(lowest.id, limit(Some(Some(0))), &cli)
            .await,
        "max_occupancy",
    );
    assert_eq!(store.policy_version().await.unwrap(), v + 2);
    let cleared = store
        .update_zone(lowest.id, limit(Some(None)), &cli)
        .await
        .unwrap();
    assert_eq!(cleared.rules.max_occupancy, None);

    // The database refuses what the store would, whoever writes.
    let id = highest.id.simple().to_string();
    let key = if db.url.starts_with("postgres") {
        format!("'{id}'")
    } else {
        format!("X'{id}'")
    };
    for bad in ["0", "-1", "1000001"] {
        let sql = format!("UPDATE zones SET max_occupancy = {bad} WHERE id = {key}");
        let error = db.raw_execute(&sql).await.expect_err(&sql);
        assert!(error.contains("max_occupancy"), "{sql}: {error}");
    }
    for fine in ["1", "NULL"] {
        let sql = format!("UPDATE zones SET max_occupancy = {fine} WHERE id = {key}");
        db.raw_execute(&sql).await.unwrap();
    }
    assert_eq!(
        store.zone(highest.id).await.unwrap().rules.max_occupancy,
        None
    );
}

/// Limits the API never accepted, written by hand before migration 0011, are cleared
/// ("no limit") by it, and the policy version moves on so agents fetch the change.
async fn migration_clears_occupancy_limits_out_of_range(db: &TestDb) {
    // The embedded migrations, as `Store::migrate` applies them, up to 0010.
    if db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let migrator = sqlx::migrate!("../migrations/postgres");
        migrator.run_to(10, &pool).await.unwrap();
        pool.close().await;
    } else {
        let url = format!("{}?mode=rwc", db.url);
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        let migrator = sqlx::migrate!("../migrations/sqlite");
        migrator.run_to(10, &pool).await.unwrap();
        pool.close().await;
    }

    // Rows as the schema of 0010 holds them, written in SQL: today's store code writes
    // to tables later migrations add (the policy change log).
    let postgres = db.url.starts_with("postgres");
    let literal = |id: Uuid| match postgres {
        true => format!("'{id}'"),
        false => format!("X'{}'", id.simple()),
    };
    let at = "'2024-01-01T00:00:00+00:00'";
    let hq = Uuid::now_v7();
    let sql = format!(
        "INSERT INTO sites (id, name, timezone, created_at, updated_at) \
         VALUES ({}, 'HQ', 'Europe/Berlin', {at}, {at})",
        literal(hq)
    );
    db.raw_execute(&sql).await.unwrap();
    let mut ids = Vec::new();
    for level in 0..4 {
        let id = Uuid::now_v7();
        let sql = format!(
            "INSERT INTO zones (id, site_id, name, level, created_at, updated_at) \
             VALUES ({}, {}, 'Zone {level}', {level}, {at}, {at})",
            literal(id),
            literal(hq)
        );
        db.raw_execute(&sql).await.unwrap();
        ids.push(id);
    }
    let store = gatehouse_server::store::Store::connect(&db.settings().database)
        .await
        .unwrap();
    for (level, limit) in [(0, "0"), (1, "1000001"), (2, "1000000"), (3, "7")] {
        let sql = format!("UPDATE zones SET max_occupancy = {limit} WHERE level = {level}");
        db.raw_execute(&sql).await.unwrap();
    }
    let v = store.policy_version().await.unwrap();
    store.migrate().await.unwrap();
    let mut limits = Vec::new();
    for id in ids {
        limits.push(store.zone(id).await.unwrap().rules.max_occupancy);
    }
    assert_eq!(limits, [None, None, Some(1_000_000), Some(7)]);
    assert_eq!(store.policy_version().await.unwrap(), v + 1);
}

async fn doors_join_two_zones_of_one_site(db: &TestDb) {
    let store = db.store().await;
    let (hq, plant) = (site(&store, "HQ").await, site(&store, "Plant").await);
    let lobby = zone(&store, hq.id, None, 0).await;
    let office = zone(&store, hq.id, Some(lobby.id), 1).await;
    let yard = zone(&store, plant.id, None, 0).await;
    let cli = Actor::cli();

    let door = store
        .create_door(new_door(lobby.id, office.id), &cli)
        .await
        .unwrap();
    assert_eq!(door.site_id, hq.id, "the site comes from the zones");
    assert_eq!(store.door(door.id).await.unwrap(), door);
    let v = store.policy_version().await.unwrap();
    assert_invalid(
        store.create_door(new_door(lobby.id, yard.id), &cli).await,
        "to_zone_id",
    );
    assert_invalid(
        store.create_door(new_door(lobby.id, lobby.id), &cli).await,
        "to_zone_id",
    );
    assert_invalid(
        store
            .create_door(new_door(Uuid::now_v7(), office.id), &cli)
            .await,
        "from_zone_id",
    );
    let rewire = DoorChange {
        to_zone_id: Some(yard.id),
        ..Default::default()
    };
    assert_invalid(store.update_door(door.id, rewire, &cli).await, "to_zone_id");
    assert_eq!(store.policy_version().await.unwrap(), v);

    let change = DoorChange {
        mode: Some(DoorMode::Locked),
        unlock_ms: Some(8000),
        ..Default::default()
    };
    let locked = store.update_door(door.id, change, &cli).await.unwrap();
    assert_eq!(
        (locked.mode, locked.unlock_ms, locked.held_open_ms),
        (DoorMode::Locked, 8000, 30000)
    );
    assert_eq!(store.door(door.id).await.unwrap(), locked);
    assert_eq!(store.policy_version().await.unwrap(), v + 1);

    let other = store
        .create_door(new_door(office.id, lobby.id), &cli)
        .await
        .unwrap();
    let ids = |doors: Vec<gatehouse_server::store::DoorRecord>| {
        doors.into_iter().map(|d| d.id).collect::<Vec<_>>()
    };
    assert_eq!(
        ids(store
            .list_doors(None, Some(office.id), None, 10)
            .await
            .unwrap()),
        vec![door.id, other.id]
    );
    assert_eq!(
        ids(store
            .list_doors(Some(plant.id), None, None, 10)
            .await
            .unwrap()),
        Vec::<Uuid>::new()
    );
    store.delete_door(other.id, &cli).await.unwrap();
    assert!(matches!(
        store.door(other.id).await,
        Err(StoreError::NotFound)
    ));
    let log = store.list_operator_log(None, 1000).await.unwrap();
    let last = log.last().unwrap();
    assert_eq!(
        (last.action.as_str(), last.target_id.clone()),
        ("door.delete", Some(other.id.to_string()))
    );
    assert!(last.before.is_some() && last.after.is_none());
}
