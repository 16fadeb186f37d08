//! The events list (`Store::list_events`, `GET /api/v1/events`): every filter alone and
//! in combination, read in pages of 1, 7 and 500, against the same filter applied in
//! memory to every stored event, on SQLite and PostgreSQL. A period is walked through
//! the window of ids its events can have, so the events outside it must not be lost:
//! late ones (uploaded long after they occurred), early ones (an agent whose clock runs
//! ahead), and rows at the edges of the window (written directly, with ids taken from
//! a minute before to ten minutes after their arrival). Then the API: the new filters
//! over HTTP and a 422 naming the parameter for each bad value.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use crate::support::site_model as site_support;

use chrono::{DateTime, Duration, Utc};
use common::{TestApp, TestDb, expect, invalid};
use gatehouse_core::decide::{Direction, Outcome, Reason};
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, PresentationRecord, chain_hash};
use gatehouse_server::store::{
    Actor, EventFilter, EventRecord, NewAgent, Store, UploadRecord, now,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use site_support::{new_door, site, zone};
use uuid::Uuid;

conformance!(
    every_filter_and_combination_pages_like_the_filter_in_memory,
    events_at_the_edges_of_the_id_window_are_listed,
);

/// What the events are about: three doors between two zones, three people with a card
/// each and a card presented but known to nobody.
struct World {
    doors: [Uuid; 3],
    zones: [Uuid; 2],
    people: [Uuid; 3],
    cards: [Uuid; 4],
}

/// The `i`th event of the test set: mostly presentations with every filtered field
/// varying at its own rhythm, some door alarms, a few late (occurred days before they
/// were uploaded) and a few early (occurred after they were uploaded).
fn event(world: &World, i: usize, base: DateTime<Utc>) -> DoorEvent {
    let n = i64::try_from(i).unwrap();
    // Occurrence order differs from upload (id) order; uploaded up to 100 minutes
    // after, so some arrived late already.
    let mut occurred_at = base + Duration::minutes((n * 37) % 100);
    if i % 29 == 5 {
        occurred_at = base - Duration::days(3);
    }
    if i % 31 == 7 {
        occurred_at = now() + Duration::hours(2) + Duration::minutes(n);
    }
    let kind = match i % 11 {
        3 => EventKind::ForcedOpen,
        8 => EventKind::HeldOpen,
        _ => {
            let (outcome, reason) = match i % 7 {
                0 | 2 | 4 => (Outcome::Granted, Reason::Granted),
                1 => (Outcome::Denied, Reason::NoGrant),
                3 => (Outcome::Denied, Reason::OutsideSchedule),
                5 => (Outcome::Pending, Reason::EscortRequired),
                _ => (Outcome::Denied, Reason::UnknownCredential),
            };
            let holder = (reason != Reason::UnknownCredential).then_some(i % 3);
            EventKind::Presentation(PresentationRecord {
                reader: "reader-1".into(),
                card: format!("0A{:02X}", i % 4),
                direction: Direction::Entry,
                outcome,
                reason,
                person_id: holder.map(|h| world.people[h]),
                visit_id: None,
                credential_id: Some(world.cards[holder.unwrap_or(3)]),
                zone_id: Some(world.zones[usize::from(i % 3 == 2)]),
                alarms: vec![],
                policy_version: 1,
                trace: None,
            })
        }
    };
    DoorEvent {
        occurred_at,
        door_id: Some(world.doors[i % 3]),
        kind,
    }
}

/// The upload records of `events`, numbered from 1 and chained.
fn chained(events: &[DoorEvent]) -> Vec<UploadRecord> {
    let mut previous = GENESIS_HASH;
    events
        .iter()
        .zip(1u64..)
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

async fn world(store: &Store) -> World {
    let site = site(store, "HQ").await;
    let outer = zone(store, site.id, None, 0).await;
    let inner = zone(store, site.id, Some(outer.id), 1).await;
    // Events at doors 0 and 1 are in the outer zone, at door 2 in the inner one (see
    // `event`): the server stores the zone the door leads into.
    let mut doors = [Uuid::nil(); 3];
    for (i, door) in doors.iter_mut().enumerate() {
        let (from, to) = if i == 2 {
            (outer.id, inner.id)
        } else {
            (inner.id, outer.id)
        };
        *door = store
            .create_door(new_door(from, to), &Actor::cli())
            .await
            .unwrap()
            .id;
    }
    World {
        doors,
        zones: [outer.id, inner.id],
        people: [Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7()],
        cards: [
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
            Uuid::now_v7(),
        ],
    }
}

/// Whether `e` passes `f`, written independently of the store.
fn matches(world: &World, f: &EventFilter, e: &EventRecord) -> bool {
    let same = |want: Option<Uuid>, have: Option<Uuid>| want.is_none() || want == have;
    // A zone's events: those recorded in it, and the door incidents at the doors
    // leading into it (door 2 leads into the inner zone, the others into the outer).
    let into = |door: Uuid| world.zones[usize::from(door == world.doors[2])];
    let incident = matches!(e.kind.as_str(), "forced_open" | "held_open");
    let in_zone = |zone: Uuid| {
        e.zone_id == Some(zone) || (incident && e.door_id.is_some_and(|d| into(d) == zone))
    };
    let same_text = |want: &Option<String>, have: &Option<String>| {
        want.is_none() || want.as_deref() == have.as_deref()
    };
    same(f.door_id, e.door_id)
        && same(f.person_id, e.person_id)
        && same(f.credential_id, e.credential_id)
        && f.zone_id.is_none_or(in_zone)
        && same_text(&f.outcome, &e.outcome)
        && same_text(&f.reason, &e.reason)
        && f.kind.as_ref().is_none_or(|k| *k == e.kind)
        && f.from.is_none_or(|from| e.occurred_at >= from)
        && f.to.is_none_or(|to| e.occurred_at < to)
        && same_text(&f.card, &e.card)
}

/// The ids of every page of `filter`, `limit` at a time.
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

async fn every_filter_and_combination_pages_like_the_filter_in_memory(db: &TestDb) {
    let store = db.store().await;
    let world = world(&store).await;
    let agent = store
        .create_agent(
            NewAgent {
                name: "agent".into(),
                door_ids: world.doors.to_vec(),
                code_hash: b"code".to_vec(),
                code_expires_at: now() + Duration::minutes(15),
            },
            &Actor::cli(),
        )
        .await
        .unwrap()
        .id;
    let base = now() - Duration::minutes(100);
    let events: Vec<DoorEvent> = (0..400).map(|i| event(&world, i, base)).collect();
    for batch in chained(&events).chunks(50) {
        let outcome = store.ingest_events(agent, batch, 0).await.unwrap();
        assert_eq!(outcome.stored as usize, batch.len());
    }

    let mut everything: Vec<EventRecord> = Vec::new();
    loop {
        let after = everything.last().map(|e| e.id);
        let page = store
            .list_events(&EventFilter::default(), after, 150)
            .await
            .unwrap();
        if page.is_empty() {
            break;
        }
        everything.extend(page);
    }
    assert_eq!(everything.len(), 400);
    assert!(everything.windows(2).all(|w| w[0].id < w[1].id));
    let early = everything
        .iter()
        .filter(|e| e.received_at < e.occurred_at)
        .count();
    assert!(early >= 10, "the set must hold early events: {early}");

    let [d0, d1, _] = world.doors;
    let [z0, z1] = world.zones;
    let [p0, p1, _] = world.people;
    let [c0, _, c2, unknown] = world.cards;
    let at = |minutes: i64| Some(base + Duration::minutes(minutes));
    let text = |s: &str| Some(s.to_owned());
    let ahead = Some(now() + Duration::minutes(30));
    let f = EventFilter::default;
    #[rustfmt::skip]
    let table: Vec<(&str, EventFilter)> = vec![
        ("nothing", f()),
        ("door", EventFilter { door_id: Some(d0), ..f() }),
        ("person", EventFilter { person_id: Some(p1), ..f() }),
        ("credential", EventFilter { credential_id: Some(c2), ..f() }),
        ("unknown card", EventFilter { credential_id: Some(unknown), ..f() }),
        ("zone", EventFilter { zone_id: Some(z1), ..f() }),
        ("outcome", EventFilter { outcome: text("denied"), ..f() }),
        ("pending", EventFilter { outcome: text("pending"), ..f() }),
        ("reason", EventFilter { reason: text("outside_schedule"), ..f() }),
        ("kind", EventFilter { kind: text("forced_open"), ..f() }),
        ("from", EventFilter { from: at(60), ..f() }),
        ("to", EventFilter { to: at(30), ..f() }),
        ("period", EventFilter { from: at(20), to: at(70), ..f() }),
        ("late only", EventFilter { to: at(-60), ..f() }),
        ("early only", EventFilter { from: ahead, ..f() }),
        ("early, bounded", EventFilter { from: ahead, to: at(100 + 120 + 100), ..f() }),
        ("empty period", EventFilter { from: at(10), to: at(10), ..f() }),
        ("door and period", EventFilter { door_id: Some(d1), from: at(10), to: at(90), ..f() }),
        ("door and from", EventFilter { door_id: Some(d1), from: at(50), ..f() }),
        ("door and early", EventFilter { door_id: Some(d1), from: ahead, ..f() }),
        ("person and period", EventFilter { person_id: Some(p0), from: at(0), to: at(50), ..f() }),
        ("person and door", EventFilter { person_id: Some(p0), door_id: Some(d0), ..f() }),
        ("credential and outcome", EventFilter { credential_id: Some(c0), outcome: text("granted"), ..f() }),
        ("zone, reason and from", EventFilter { zone_id: Some(z0), reason: text("no_grant"), from: at(20), ..f() }),
        ("kind and door", EventFilter { kind: text("held_open"), door_id: Some(d1), ..f() }),
        ("kind and period", EventFilter { kind: text("presentation"), from: at(45), to: at(75), ..f() }),
        ("reason and to", EventFilter { reason: text("granted"), to: at(50), ..f() }),
        ("outcome and period", EventFilter { outcome: text("denied"), from: at(-5000), to: at(80), ..f() }),
        ("door, zone and outcome", EventFilter { door_id: Some(d0), zone_id: Some(z0), outcome: text("granted"), ..f() }),
        ("no such kind", EventFilter { kind: text("lock_fault"), ..f() }),
        ("card", EventFilter { card: text("0A01"), ..f() }),
        ("card and period", EventFilter { card: text("0A02"), from: at(10), to: at(90), ..f() }),
        ("card and credential", EventFilter { card: text("0A03"), credential_id: Some(c2), ..f() }),
        ("everything at once", EventFilter {
            door_id: Some(d0), person_id: Some(p0), credential_id: Some(c0), zone_id: Some(z0),
            outcome: text("granted"), reason: text("granted"), kind: text("presentation"),
            from: at(0), to: at(100), card: text("0A00"), person_name: None, site_id: None,
        }),
    ];
    let mut empty = Vec::new();
    for (name, filter) in &table {
        let expected: Vec<Uuid> = everything
            .iter()
            .filter(|e| matches(&world, filter, e))
            .map(|e| e.id)
            .collect();
        if expected.is_empty() {
            empty.push(*name);
        }
        for limit in [1, 7, 500] {
            let got = all_pages(&store, filter, limit).await;
            assert_eq!(got, expected, "{name} (pages of {limit})");
        }
    }
    assert_eq!(
        empty,
        vec!["empty period", "no such kind"],
        "every other filter must match something"
    );
}

/// A UUIDv7 of `at` whose random bits come from `n`.
fn v7(at: DateTime<Utc>, n: u64) -> Uuid {
    let millis = u128::from(u64::try_from(at.timestamp_millis()).unwrap());
    let random = u128::from(n.wrapping_mul(0x9E37_79B9_7F4A_7C15)) << 8;
    Uuid::from_u128(millis << 80 | 0x7 << 76 | 0b10 << 62 | (random & ((1 << 62) - 1)))
}

/// Writes `rows` (id, received_at, occurred_at, door) of `agent` directly: door events
/// whose arrival the test chooses, which ingest (taking the time now) cannot make.
async fn insert_rows(
    db: &TestDb,
    agent: Uuid,
    rows: &[(Uuid, DateTime<Utc>, DateTime<Utc>, Uuid)],
) {
    macro_rules! insert {
        ($pool:expr) => {{
            let pool = $pool;
            for (seq, (id, received_at, occurred_at, door)) in (1i64..).zip(rows) {
                sqlx::query(
                    "INSERT INTO access_events (id, agent_id, seq, hash, payload, occurred_at, \
                     received_at, door_id, kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, \
                     'door_opened')",
                )
                .bind(id)
                .bind(agent)
                .bind(seq)
                .bind(vec![0u8; 32])
                .bind(vec![1u8])
                .bind(occurred_at)
                .bind(received_at)
                .bind(door)
                .execute(&pool)
                .await
                .unwrap();
            }
            pool.close().await;
        }};
    }
    if db.url.starts_with("postgres") {
        insert!(sqlx::PgPool::connect(&db.url).await.unwrap());
    } else {
        insert!(sqlx::SqlitePool::connect(&db.url).await.unwrap());
    }
}

async fn events_at_the_edges_of_the_id_window_are_listed(db: &TestDb) {
    let store = db.store().await;
    let world = world(&store).await;
    let agent = store
        .create_agent(
            NewAgent {
                name: "agent".into(),
                door_ids: world.doors.to_vec(),
                code_hash: b"code".to_vec(),
                code_expires_at: now() + Duration::minutes(15),
            },
            &Actor::cli(),
        )
        .await
        .unwrap()
        .id;
    // A week of arrivals every 15 minutes. Each occurred a lag before it arrived: none,
    // just under an hour, an hour, just over (late), two days (late), just after
    // arriving (early), three days after (early), or up to 55 minutes; and its id was
    // taken 59 s before to 599 s after it arrived (a clock stepped back, a slow
    // transaction).
    let start = now() - Duration::days(8);
    let ms = Duration::milliseconds;
    let rows: Vec<_> = (0..672u32)
        .map(|k| {
            let received_at = start
                + Duration::minutes(15 * i64::from(k))
                + Duration::microseconds(i64::from(k) * 7919 % 1_000_000);
            let lag = match k % 12 {
                0 => Duration::zero(),
                1 => Duration::hours(1) - ms(1),
                2 => Duration::hours(1),
                3 => Duration::hours(1) + ms(1),
                4 => Duration::days(2),
                5 => -ms(1),
                6 => -Duration::days(3),
                _ => Duration::seconds(i64::from(k * 97 % 3300)),
            };
            let taken = match k % 5 {
                0 => -Duration::seconds(59),
                1 => Duration::seconds(599),
                2 => Duration::zero(),
                3 => ms(1),
                _ => Duration::seconds(300),
            };
            let id = v7(received_at + taken, u64::from(k));
            (
                id,
                received_at,
                received_at - lag,
                world.doors[(k % 2) as usize],
            )
        })
        .collect();
    insert_rows(db, agent, &rows).await;

    let everything = store
        .list_events(&EventFilter::default(), None, 1000)
        .await
        .unwrap();
    assert_eq!(everything.len(), rows.len());
    let occurred = |k: usize| Some(rows[k].2);
    let mut table: Vec<(String, EventFilter)> = vec![
        (
            "from exactly an event".into(),
            EventFilter {
                from: occurred(123),
                ..EventFilter::default()
            },
        ),
        (
            "to exactly an event".into(),
            EventFilter {
                to: occurred(321),
                ..EventFilter::default()
            },
        ),
        (
            "between two events".into(),
            EventFilter {
                from: occurred(200),
                to: occurred(207),
                ..EventFilter::default()
            },
        ),
    ];
    // Periods ending just after an event that arrived an hour after it occurred and was
    // given its id ten minutes later still, or starting at one given its id a minute
    // before it arrived.
    for k in [60, 61, 120, 121, 420, 421] {
        let at = rows[k].2;
        table.push((
            format!("to just after event {k}"),
            EventFilter {
                from: Some(at - Duration::days(1)),
                to: Some(at + Duration::microseconds(1)),
                ..EventFilter::default()
            },
        ));
        table.push((
            format!("from event {k}"),
            EventFilter {
                from: Some(at),
                to: Some(at + Duration::hours(1)),
                ..EventFilter::default()
            },
        ));
    }
    for hours in [0, 1, 13, 50, 100, 149, 190] {
        for length in [Duration::hours(1), Duration::hours(6), Duration::days(2)] {
            let from = start + Duration::hours(hours);
            let period = EventFilter {
                from: Some(from),
                to: Some(from + length),
                ..EventFilter::default()
            };
            table.push((format!("{hours} h + {length}"), period.clone()));
            let door = EventFilter {
                door_id: Some(world.doors[1]),
                ..period
            };
            table.push((format!("door, {hours} h + {length}"), door));
        }
        let from = start + Duration::hours(hours);
        table.push((
            format!("from {hours} h"),
            EventFilter {
                from: Some(from),
                ..EventFilter::default()
            },
        ));
        table.push((
            format!("to {hours} h"),
            EventFilter {
                to: Some(from),
                ..EventFilter::default()
            },
        ));
    }
    for (name, filter) in &table {
        let expected: Vec<Uuid> = everything
            .iter()
            .filter(|e| matches(&world, filter, e))
            .map(|e| e.id)
            .collect();
        for limit in [1, 7, 500] {
            let got = all_pages(&store, filter, limit).await;
            assert_eq!(got, expected, "{name} (pages of {limit})");
        }
    }
}

/// An enrolled agent for a new door, through the API: (door, token).
async fn api_agent(app: &TestApp, admin: &str) -> (Uuid, String) {
    let body = json!({"name": "HQ", "timezone": "Europe/Berlin"});
    let site = expect(
        app.post("/api/v1/sites", admin, body).await,
        StatusCode::CREATED,
    )
    .await;
    let mut zones = Vec::new();
    for level in [0, 1] {
        let body = json!({"site_id": site["id"], "name": format!("z{level}"), "level": level});
        let zone = expect(
            app.post("/api/v1/zones", admin, body).await,
            StatusCode::CREATED,
        )
        .await;
        zones.push(zone["id"].clone());
    }
    let body = json!({"name": "door", "from_zone_id": zones[0], "to_zone_id": zones[1]});
    let door = expect(
        app.post("/api/v1/doors", admin, body).await,
        StatusCode::CREATED,
    )
    .await;
    let door: Uuid = door["id"].as_str().unwrap().parse().unwrap();
    let body = json!({"name": "agent", "door_ids": [door]});
    let created = expect(
        app.post("/api/v1/agents", admin, body).await,
        StatusCode::CREATED,
    )
    .await;
    let enrolled = expect(
        app.request(reqwest::Method::POST, "/api/v1/agent/enroll", None)
            .json(&json!({"code": created["enrollment_code"]}))
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    (door, enrolled["token"].as_str().unwrap().to_owned())
}

fn presentation(
    door: Uuid,
    credential: Option<Uuid>,
    zone: Option<Uuid>,
    why: Reason,
) -> DoorEvent {
    let outcome = if why == Reason::Granted {
        Outcome::Granted
    } else {
        Outcome::Denied
    };
    DoorEvent {
        occurred_at: Utc::now(),
        door_id: Some(door),
        kind: EventKind::Presentation(PresentationRecord {
            reader: "reader-1".into(),
            card: "0A".into(),
            direction: Direction::Entry,
            outcome,
            reason: why,
            person_id: None,
            visit_id: None,
            credential_id: credential,
            zone_id: zone,
            alarms: vec![],
            policy_version: 1,
            trace: None,
        }),
    }
}

#[tokio::test]
async fn the_api_filters_by_credential_zone_and_reason_and_names_bad_values() {
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (door, token) = api_agent(&app, &admin).await;
    // The zone the door leads into: the one the server stores for its presentations.
    let door_record = app.get_json(&format!("/api/v1/doors/{door}"), &admin).await;
    let zone: Uuid = door_record["to_zone_id"].as_str().unwrap().parse().unwrap();
    let card = Uuid::now_v7();
    let events = [
        presentation(door, Some(card), Some(zone), Reason::Granted),
        presentation(door, None, Some(zone), Reason::AntiPassback),
        presentation(door, Some(card), None, Reason::PinIncorrect),
    ];
    let records: Vec<Value> = chained(&events)
        .iter()
        .map(|r| {
            let hash = hex::encode(r.hash);
            json!({"seq": r.seq, "payload": STANDARD.encode(&r.payload), "hash": hash})
        })
        .collect();
    let body = json!({"agent_time": Utc::now().to_rfc3339(), "records": records});
    expect(
        app.post("/api/v1/agent/events", &token, body).await,
        StatusCode::OK,
    )
    .await;

    for (query, expected) in [
        (format!("credential_id={card}"), vec![1, 3]),
        (format!("zone_id={zone}"), vec![1, 2]),
        ("reason=anti_passback".to_owned(), vec![2]),
        (
            format!("reason=pin_incorrect&credential_id={card}"),
            vec![3],
        ),
        (
            format!("zone_id={zone}&reason=granted&door_id={door}"),
            vec![1],
        ),
        ("reason=door_locked".to_owned(), vec![]),
    ] {
        let page = app
            .get_json(&format!("/api/v1/events?{query}"), &admin)
            .await;
        let seqs: Vec<i64> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["seq"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, expected, "{query}");
    }

    for (query, field) in [
        ("door_id=front", "door_id"),
        ("person_id=1", "person_id"),
        ("credential_id=", "credential_id"),
        ("zone_id=zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz", "zone_id"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("from=2026-11-23T10:00:00Z&to=2026-11-23T10:00:00Z", "to"),
        ("from=2026-11-23T10:00:00Z&to=2026-11-22T10:00:00Z", "to"),
        ("outcome=maybe", "outcome"),
        ("reason=because", "reason"),
        ("reason=Granted", "reason"),
        ("kind=Forced-Open", "kind"),
        ("kind=", "kind"),
        ("limit=abc", "limit"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("cursor=not-a-cursor", "cursor"),
    ] {
        let response = app.get(&format!("/api/v1/events?{query}"), &admin).await;
        invalid(response, field).await;
    }
    let long = "a".repeat(65);
    for field in ["door_id", "from", "outcome", "reason", "kind"] {
        let response = app
            .get(&format!("/api/v1/events?{field}={long}"), &admin)
            .await;
        invalid(response, field).await;
    }
}
