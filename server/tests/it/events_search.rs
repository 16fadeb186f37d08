//! The events search of the console (issue 12): site, zone (with the door incidents at
//! the doors leading into it) and kind next to name, card, door, period, outcome and
//! reason, each alone and combined, against the same filter written here in memory,
//! on SQLite and PostgreSQL; then the API's `site_id`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{TestApp, TestDb, expect, invalid};
use crate::support::site_model::{new_door, site, zone};
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::decide::{Direction, Outcome, Reason};
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, PresentationRecord, chain_hash};
use gatehouse_core::model::PersonKind;
use gatehouse_server::store::{
    Actor, EventFilter, EventRecord, NewAgent, NewPerson, Store, UploadRecord, now,
};
use reqwest::StatusCode;
use std::collections::HashMap;
use uuid::Uuid;

conformance!(the_search_filters_match_the_filter_in_memory);

/// Two sites; at HQ doors A and B lead into zone "east", door C into "west"; at the
/// lab, door L into "lab". People: two Adas, Bob, and 20 Commons (more than a name
/// search reads person by person).
struct World {
    hq: Uuid,
    lab: Uuid,
    east: Uuid,
    west: Uuid,
    lab_zone: Uuid,
    doors: [Uuid; 4],
    /// Door → (site, zone it leads into).
    door_places: HashMap<Uuid, (Uuid, Uuid)>,
    people: Vec<(Uuid, String)>,
    names: HashMap<Uuid, String>,
}

async fn world(store: &Store) -> World {
    let hq = site(store, "HQ").await.id;
    let lab = site(store, "Lab").await.id;
    let outside = zone(store, hq, None, 0).await.id;
    let east = zone(store, hq, Some(outside), 1).await.id;
    let west = zone(store, hq, Some(outside), 1).await.id;
    let lab_out = zone(store, lab, None, 0).await.id;
    let lab_zone = zone(store, lab, Some(lab_out), 1).await.id;
    let mut door_places = HashMap::new();
    let mut doors = [Uuid::nil(); 4];
    for (i, (from, to, at)) in [
        (outside, east, hq),
        (outside, east, hq),
        (outside, west, hq),
        (lab_out, lab_zone, lab),
    ]
    .into_iter()
    .enumerate()
    {
        doors[i] = store
            .create_door(new_door(from, to), &Actor::cli())
            .await
            .unwrap()
            .id;
        door_places.insert(doors[i], (at, to));
    }
    let mut names: Vec<String> = vec!["Ada Lovelace".into(), "Ada Byron".into(), "Bob".into()];
    names.extend((0..20).map(|n| format!("Common {n:02}")));
    let mut people = Vec::new();
    for name in names {
        let new = NewPerson {
            name: name.clone(),
            kind: PersonKind::Staff,
            employer: None,
            clearance: 0,
        };
        people.push((
            store.create_person(new, &Actor::cli()).await.unwrap().id,
            name,
        ));
    }
    World {
        hq,
        lab,
        east,
        west,
        lab_zone,
        doors,
        names: people.iter().cloned().collect(),
        door_places,
        people,
    }
}

/// The `i`th event: presentations by everyone at every door, and door incidents and
/// routine door events at their own rhythm; some late, some early.
fn event(w: &World, i: usize, base: DateTime<Utc>) -> DoorEvent {
    let n = i64::try_from(i).unwrap();
    let door = w.doors[i % 4];
    let mut occurred_at = base + Duration::minutes((n * 37) % 100);
    if i % 29 == 5 {
        occurred_at = base - Duration::days(3);
    }
    if i % 31 == 7 {
        occurred_at = now() + Duration::hours(2) + Duration::minutes(n);
    }
    let kind = match i % 13 {
        3 => EventKind::ForcedOpen,
        6 => EventKind::HeldOpen,
        9 => EventKind::ExitRequested,
        11 => EventKind::DoorOpened,
        12 => EventKind::Tamper,
        _ => {
            let (outcome, reason) = match i % 5 {
                0 | 2 => (Outcome::Granted, Reason::Granted),
                1 => (Outcome::Denied, Reason::NoGrant),
                3 => (Outcome::Denied, Reason::OutsideSchedule),
                _ => (Outcome::Pending, Reason::EscortRequired),
            };
            let (person, _) = &w.people[(i * 7) % w.people.len()];
            EventKind::Presentation(PresentationRecord {
                reader: "r".into(),
                card: format!("0B{:02X}", (i * 7) % w.people.len()),
                direction: Direction::Entry,
                outcome,
                reason,
                person_id: Some(*person),
                visit_id: None,
                credential_id: None,
                zone_id: Some(Uuid::nil()),
                alarms: vec![],
                policy_version: 1,
                trace: None,
            })
        }
    };
    DoorEvent {
        occurred_at,
        door_id: Some(door),
        kind,
    }
}

fn chained(events: &[DoorEvent]) -> Vec<UploadRecord> {
    let mut previous = GENESIS_HASH;
    (events.iter().zip(1u64..))
        .map(|(event, seq)| {
            let payload = event.encode().unwrap();
            let hash = chain_hash(&previous, seq, &payload);
            previous = hash;
            UploadRecord {
                seq,
                payload,
                hash,
                event: event.clone(),
            }
        })
        .collect()
}

const INCIDENTS: [&str; 3] = ["forced_open", "held_open", "tamper"];

/// Whether `e` passes `f`, written from the filters' documentation.
fn matches(w: &World, f: &EventFilter, e: &EventRecord) -> bool {
    let same = |want: Option<Uuid>, have: Option<Uuid>| want.is_none() || want == have;
    let text = |want: &Option<String>, have: &Option<String>| {
        want.is_none() || want.as_deref() == have.as_deref()
    };
    let place = e.door_id.and_then(|d| w.door_places.get(&d));
    let in_zone = |zone: Uuid| {
        e.zone_id == Some(zone)
            || (INCIDENTS.contains(&e.kind.as_str()) && place.is_some_and(|p| p.1 == zone))
    };
    let named = |name: &String| {
        let name = name.to_lowercase();
        (e.person_id.and_then(|p| w.names.get(&p)))
            .is_some_and(|n| n.to_lowercase().contains(&name))
    };
    same(f.door_id, e.door_id)
        && same(f.person_id, e.person_id)
        && f.zone_id.is_none_or(in_zone)
        && f.site_id.is_none_or(|s| place.is_some_and(|p| p.0 == s))
        && text(&f.outcome, &e.outcome)
        && text(&f.reason, &e.reason)
        && f.kind.as_ref().is_none_or(|k| *k == e.kind)
        && f.from.is_none_or(|from| e.occurred_at >= from)
        && f.to.is_none_or(|to| e.occurred_at < to)
        && text(&f.card, &e.card)
        && f.person_name.as_ref().is_none_or(named)
}

async fn all_pages(store: &Store, filter: &EventFilter, limit: u32) -> Vec<Uuid> {
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_events(filter, after, limit + 1).await.unwrap();
        let more = page.len() > limit as usize;
        ids.extend(page.iter().take(limit as usize).map(|e| e.id));
        if !more {
            return ids;
        }
        after = ids.last().copied();
    }
}

async fn the_search_filters_match_the_filter_in_memory(db: &TestDb) {
    let store = db.store().await;
    let w = world(&store).await;
    let agent = NewAgent {
        name: "agent".into(),
        door_ids: w.doors.to_vec(),
        code_hash: b"code".to_vec(),
        code_expires_at: now() + Duration::minutes(15),
    };
    let agent = store.create_agent(agent, &Actor::cli()).await.unwrap().id;
    let base = now() - Duration::minutes(100);
    let events: Vec<DoorEvent> = (0..300).map(|i| event(&w, i, base)).collect();
    for batch in chained(&events).chunks(50) {
        store.ingest_events(agent, batch, 0).await.unwrap();
    }
    let everything = store
        .list_events(&EventFilter::default(), None, 1000)
        .await
        .unwrap();
    assert_eq!(everything.len(), 300);

    let [a, b, c, l] = w.doors;
    let at = |minutes: i64| Some(base + Duration::minutes(minutes));
    let text = |s: &str| Some(s.to_owned());
    let f = EventFilter::default;
    #[rustfmt::skip]
    let table: Vec<(&str, EventFilter)> = vec![
        ("site", EventFilter { site_id: Some(w.hq), ..f() }),
        ("other site", EventFilter { site_id: Some(w.lab), ..f() }),
        ("zone", EventFilter { zone_id: Some(w.east), ..f() }),
        ("other zone", EventFilter { zone_id: Some(w.west), ..f() }),
        ("zone and forced open", EventFilter { zone_id: Some(w.east), kind: text("forced_open"), ..f() }),
        ("zone and held open", EventFilter { zone_id: Some(w.west), kind: text("held_open"), ..f() }),
        ("zone and presentations", EventFilter { zone_id: Some(w.east), kind: text("presentation"), ..f() }),
        ("zone and exit requests (not incidents)", EventFilter { zone_id: Some(w.east), kind: text("exit_requested"), ..f() }),
        ("zone and period", EventFilter { zone_id: Some(w.lab_zone), from: at(20), to: at(70), ..f() }),
        ("zone, early", EventFilter { zone_id: Some(w.east), from: Some(now() + Duration::minutes(30)), ..f() }),
        ("zone and outcome", EventFilter { zone_id: Some(w.east), outcome: text("denied"), ..f() }),
        ("zone and door", EventFilter { zone_id: Some(w.east), door_id: Some(b), ..f() }),
        ("zone and another zone's door", EventFilter { zone_id: Some(w.east), door_id: Some(c), ..f() }),
        ("zone and site", EventFilter { zone_id: Some(w.lab_zone), site_id: Some(w.lab), ..f() }),
        ("zone and the other site", EventFilter { zone_id: Some(w.lab_zone), site_id: Some(w.hq), ..f() }),
        ("site and kind", EventFilter { site_id: Some(w.hq), kind: text("tamper"), ..f() }),
        ("site, outcome and reason", EventFilter { site_id: Some(w.hq), outcome: text("denied"), reason: text("no_grant"), ..f() }),
        ("site and period", EventFilter { site_id: Some(w.lab), from: at(0), to: at(60), ..f() }),
        ("kind", EventFilter { kind: text("door_opened"), ..f() }),
        ("card", EventFilter { card: text("0B03"), ..f() }),
        ("card and period", EventFilter { card: text("0B05"), from: at(10), to: at(90), ..f() }),
        ("card and zone", EventFilter { card: text("0B05"), zone_id: Some(w.west), ..f() }),
        ("a name of two people", EventFilter { person_name: text("ada"), ..f() }),
        ("a name of 20 people", EventFilter { person_name: text("common"), ..f() }),
        ("a name of nobody", EventFilter { person_name: text("zed"), ..f() }),
        ("name and zone", EventFilter { person_name: text("ADA"), zone_id: Some(w.east), ..f() }),
        ("name and period", EventFilter { person_name: text("bob"), from: at(0), to: at(80), ..f() }),
        ("name and door", EventFilter { person_name: text("common 1"), door_id: Some(a), ..f() }),
        ("name, site and outcome", EventFilter {
            person_name: text("o"), site_id: Some(w.lab), outcome: text("granted"), ..f()
        }),
        ("door and kind", EventFilter { door_id: Some(l), kind: text("forced_open"), ..f() }),
    ];
    let mut empty = Vec::new();
    for (name, filter) in &table {
        let expected: Vec<Uuid> = (everything.iter())
            .filter(|e| matches(&w, filter, e))
            .map(|e| e.id)
            .collect();
        if expected.is_empty() {
            empty.push(*name);
        }
        for limit in [1, 4, 500] {
            let got = all_pages(&store, filter, limit).await;
            assert_eq!(got, expected, "{name} (pages of {limit})");
        }
    }
    assert_eq!(
        empty,
        vec![
            "zone and exit requests (not incidents)",
            "zone and another zone's door",
            "zone and the other site",
            "a name of nobody",
        ],
        "every other filter must match something"
    );

    // The zone's forced-open incident at its own door is in; another zone's is not.
    let east_forced = EventFilter {
        zone_id: Some(w.east),
        kind: text("forced_open"),
        ..f()
    };
    let found = store.list_events(&east_forced, None, 500).await.unwrap();
    assert!(!found.is_empty());
    assert!(
        (found.iter()).all(|e| e.door_id == Some(a) || e.door_id == Some(b)),
        "only the forced doors leading into the zone"
    );
    let west = EventFilter {
        zone_id: Some(w.west),
        ..f()
    };
    let west = store.list_events(&west, None, 500).await.unwrap();
    assert!(
        west.iter()
            .any(|e| e.kind == "forced_open" && e.door_id == Some(c))
    );
    assert!(west.iter().all(|e| e.door_id == Some(c)));
}

#[tokio::test]
async fn the_api_filters_by_site_and_names_a_bad_site() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let other = Uuid::now_v7();
    let url = format!("/api/v1/events?site_id={other}");
    let page = expect(app.get(&url, &admin).await, StatusCode::OK).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0);
    let response = app.get("/api/v1/events?site_id=nope", &admin).await;
    invalid(response, "site_id").await;
}
