//! The events page filtered by zone: the zone's events with the forced door leading into
//! it (not another zone's), the alarms at its doors, and for auditors and admins only a
//! link to export the same records carrying the page's filters.

use super::client::Console;
use crate::common::{ADMIN_PASSWORD, PASSWORD, TestApp, TestDb};
use crate::support::site_model::{new_door, site, zone};
use chrono::{Duration, Utc};
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, chain_hash};
use gatehouse_server::store::{Actor, NewAgent, NewDoor, UploadRecord, now};
use reqwest::StatusCode;

conformance!(the_events_page_shows_a_zones_incidents_and_alarms);

async fn the_events_page_shows_a_zones_incidents_and_alarms(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let store = db.store().await;
    let hq = site(&store, "HQ").await.id;
    let outside = zone(&store, hq, None, 0).await.id;
    let vault = zone(&store, hq, Some(outside), 1).await.id;
    let lobby = zone(&store, hq, Some(outside), 1).await.id;
    let door = |name: &str, to| NewDoor {
        name: name.into(),
        ..new_door(outside, to)
    };
    let actor = Actor::cli();
    let vault_door = store.create_door(door("Vault door", vault), &actor);
    let vault_door = vault_door.await.unwrap().id;
    let lobby_door = store.create_door(door("Lobby door", lobby), &actor);
    let lobby_door = lobby_door.await.unwrap().id;
    let agent = NewAgent {
        name: "agent".into(),
        door_ids: vec![vault_door, lobby_door],
        code_hash: b"code".to_vec(),
        code_expires_at: now() + Duration::minutes(15),
    };
    let agent = store.create_agent(agent, &Actor::cli()).await.unwrap().id;
    let at = Utc::now() - Duration::minutes(5);
    let mut previous = GENESIS_HASH;
    let mut records = Vec::new();
    for (seq, (door, kind)) in [
        (vault_door, EventKind::ForcedOpen),
        (lobby_door, EventKind::HeldOpen),
    ]
    .into_iter()
    .enumerate()
    {
        let event = DoorEvent {
            occurred_at: at,
            door_id: Some(door),
            kind,
        };
        let seq = seq as u64 + 1;
        let payload = event.encode().unwrap();
        let hash = chain_hash(&previous, seq, &payload);
        previous = hash;
        records.push(UploadRecord {
            seq,
            payload,
            hash,
            event,
        });
    }
    store.ingest_events(agent, &records, 0).await.unwrap();

    let admin = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let page = admin.get(&format!("/events?zone={vault}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    // The events table (the filters above it name every kind).
    let (_, events) = page
        .body
        .split_once("<section aria-label=\"Events\">")
        .unwrap();
    let events = events.split("Alarms at these doors").next().unwrap();
    assert!(events.contains("Door forced open"), "{}", page.body);
    assert!(events.contains("Vault door"));
    assert!(
        !events.contains("Door held open"),
        "another zone's incident"
    );
    let (_, alarms) = page.body.split_once("Alarms at these doors").unwrap();
    assert!(alarms.contains("Door forced open") && alarms.contains("Vault door"));
    assert!(!alarms.contains("Lobby door"));
    assert!(alarms.contains("href=\"/alarms?site="));
    // The export link carries the page's filters, by the names /audit reads.
    let link = page.body.split("href=\"/audit?").nth(1).unwrap();
    let link = link.split('"').next().unwrap().replace("&#38;", "&");
    assert!(link.starts_with("from=20"), "{link}");
    assert!(
        link.contains(&format!("&zone={vault}&door=&outcome=")),
        "{link}"
    );
    assert!(page.body.contains("Export these records"));

    // A security officer searches too but does not export.
    let token = app.admin_token().await;
    app.create_operator(&token, "guard", "security").await;
    let guard = Console::login(&app, "guard", PASSWORD).await;
    let page = guard
        .get(&format!("/events?site={hq}&kind=held_open"))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let (_, events) = page
        .body
        .split_once("<section aria-label=\"Events\">")
        .unwrap();
    assert!(events.contains("Door held open") && events.contains("Lobby door"));
    assert!(
        !events
            .split("Alarms at these doors")
            .next()
            .unwrap()
            .contains("Vault door")
    );
    assert!(events.contains("Alarms at these doors"));
    assert!(!page.body.contains("Export these records"));
    // An unknown zone is refused, naming the field.
    let bad = guard.get(&format!("/events?zone={outside}x")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
}
