//! "Why was this denied?": an event in full (`Store::event_detail`, `GET /events/{id}`)
//! with the names of whom and where it concerns and the decision trace the door sent
//! (absent when it sent none), the trace covered by the audit chain and exports, and the
//! events list searched by card and by name; on SQLite and PostgreSQL, then over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::audit::trail::drop_guards;
use crate::common::{TestApp, TestDb, expect, invalid};
use crate::occupancy::support::Site;
use crate::support::openapi::assert_declared;
use chrono::Duration;
use futures_util::StreamExt;
use gatehouse_core::decide::{Check, Direction, Outcome, Reason, TraceStep};
use gatehouse_core::event::{DoorEvent, EventKind, PresentationRecord};
use gatehouse_core::model::PersonKind;
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::export::offline::verify_export;
use gatehouse_server::audit::export::{self, ExportFilter, ExportRequest, Format};
use gatehouse_server::audit::verify::verify;
use gatehouse_server::store::{Actor, EventFilter, EventRecord, NewPerson, StoreError, now};
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

conformance!(
    an_event_is_shown_with_names_and_the_trace_of_its_time,
    the_trace_is_covered_by_the_chain_and_exports,
    events_are_searched_by_card_and_by_name,
);

fn trace() -> Vec<TraceStep> {
    let step = |check, passed, detail: &'static str| TraceStep {
        check,
        passed,
        detail: detail.into(),
    };
    vec![
        step(Check::Door, true, "door known"),
        step(Check::Credential, true, "card known"),
        step(Check::Grant, false, "no grant covers the zone"),
    ]
}

/// A presentation at `door` by `person` with card `card`, traced or not.
fn presentation(s: &Site, door: Uuid, person: Uuid, card: &str, traced: bool) -> DoorEvent {
    DoorEvent {
        occurred_at: s.t0,
        door_id: Some(door),
        kind: EventKind::Presentation(PresentationRecord {
            reader: "r".into(),
            card: card.into(),
            direction: Direction::Entry,
            outcome: Outcome::Denied,
            reason: Reason::NoGrant,
            person_id: Some(person),
            visit_id: None,
            credential_id: None,
            // The server stores the zone the door leads into.
            zone_id: Some(Uuid::nil()),
            alarms: vec![],
            policy_version: 4,
            trace: traced.then(trace),
        }),
    }
}

/// The stored events, oldest first.
async fn events(s: &Site) -> Vec<EventRecord> {
    s.store
        .list_events(&EventFilter::default(), None, 100)
        .await
        .unwrap()
}

/// The site of `occupancy` with: Ada's traced denial at the lab door, Cy's (employer
/// Acme) untraced one at the front door, the visitor Vera (host Ada) at the front door
/// and a forced door; their events in that order.
async fn site(db: &TestDb) -> (Site, Vec<EventRecord>) {
    let mut s = Site::create(db.store().await).await;
    let cy = NewPerson {
        name: "Cy".into(),
        kind: PersonKind::Contractor,
        employer: Some("Acme".into()),
        clearance: 0,
    };
    let cy = s.store.create_person(cy, &Actor::cli()).await.unwrap().id;
    s.upload(presentation(&s, s.lab_door, s.ada, "04A1B2", true))
        .await;
    s.upload(presentation(&s, s.front, cy, "0C", false)).await;
    s.badge(s.visit, s.front, Direction::Entry, Outcome::Denied, 1)
        .await;
    let forced = DoorEvent {
        occurred_at: s.t0,
        door_id: Some(s.front),
        kind: EventKind::ForcedOpen,
    };
    s.upload(forced).await;
    let events = events(&s).await;
    assert_eq!(events.len(), 4);
    (s, events)
}

async fn an_event_is_shown_with_names_and_the_trace_of_its_time(db: &TestDb) {
    let (s, events) = site(db).await;
    let detail = |i: usize| s.store.event_detail(events[i].id);

    let ada = detail(0).await.unwrap();
    assert_eq!(ada.event, events[0]);
    assert_eq!(ada.trace, Some(trace()), "the trace as the door sent it");
    assert_eq!(ada.person_name.as_deref(), Some("Ada"));
    assert_eq!(
        (ada.door_name.as_deref(), ada.zone_name.as_deref()),
        (Some("Lab door"), Some("Lab"))
    );
    assert_eq!(
        (ada.site_id, ada.site_name.as_deref()),
        (Some(s.site), Some("HQ"))
    );
    assert_eq!(ada.agent_name, "agent");
    assert_eq!((ada.visitor_name, ada.host_name), (None, None));

    let cy = detail(1).await.unwrap();
    assert_eq!(cy.trace, None, "an agent that sent no trace: none");
    assert_eq!(
        (cy.person_name.as_deref(), cy.organisation.as_deref()),
        (Some("Cy"), Some("Acme"))
    );

    let vera = detail(2).await.unwrap();
    assert_eq!(
        (vera.visitor_name.as_deref(), vera.person_name.as_deref()),
        (Some("Vera"), None)
    );
    assert_eq!(
        (vera.host_person_id, vera.host_name.as_deref()),
        (Some(s.ada), Some("Ada"))
    );
    assert_eq!(vera.door_name.as_deref(), Some("Front"));

    let forced = detail(3).await.unwrap();
    assert_eq!(
        (forced.event.kind.as_str(), forced.trace),
        ("forced_open", None)
    );
    assert_eq!(forced.door_name.as_deref(), Some("Front"));
    assert_eq!(forced.site_name.as_deref(), Some("HQ"));

    assert!(matches!(
        s.store.event_detail(Uuid::now_v7()).await,
        Err(StoreError::NotFound)
    ));
}

async fn export_ndjson(s: &Site, key: &AuditKey) -> String {
    let request = ExportRequest {
        from: now() - Duration::days(1),
        to: now() + Duration::days(1),
        filter: ExportFilter::default(),
        format: Format::Ndjson,
    };
    let plan = export::plan(&s.store, key, request).await.unwrap();
    let mut chunks = std::pin::pin!(export::stream(s.store.clone(), plan));
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        out.extend(chunk.unwrap().0);
    }
    String::from_utf8(out).unwrap()
}

async fn the_trace_is_covered_by_the_chain_and_exports(db: &TestDb) {
    let (s, events) = site(db).await;
    let key = AuditKey::load(&s.store).await.unwrap();
    let report = verify(&s.store, &key.public_key()).await.unwrap();
    assert!(report.ok, "{report:?}");

    // Exported with its trace, and verified offline; an edited trace is found.
    let ndjson = export_ndjson(&s, &key).await;
    let report = verify_export(ndjson.as_bytes(), &key.public_key()).unwrap();
    assert!(report.ok, "{report:?}");
    let traced = ndjson
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|l| l["record_id"] == events[0].id.to_string().as_str())
        .unwrap();
    let stored: Vec<TraceStep> = serde_json::from_str(traced["trace"].as_str().unwrap()).unwrap();
    assert_eq!(stored, trace());
    let edited = ndjson.replace("no grant covers the zone", "a grant covers the zone");
    assert_ne!(edited, ndjson);
    let report = verify_export(edited.as_bytes(), &key.public_key()).unwrap();
    assert!(!report.ok, "an edited trace must fail: {report:?}");

    // Changed in the database behind the server's back: the record is named.
    drop_guards(db, "access_events").await;
    db.raw_execute("UPDATE access_events SET trace = '[]' WHERE seq = 1")
        .await
        .unwrap();
    let report = verify(&s.store, &key.public_key()).await.unwrap();
    let bad = report.first_bad.unwrap();
    assert_eq!(
        (bad.problem.as_str(), bad.record_id),
        ("record_altered", Some(events[0].id))
    );
}

async fn events_are_searched_by_card_and_by_name(db: &TestDb) {
    let (s, events) = site(db).await;
    let ids = |rows: Vec<EventRecord>| rows.into_iter().map(|e| e.id).collect::<Vec<_>>();
    let text = |t: &str| Some(t.to_owned());
    let f = EventFilter::default;
    // (case, filter, the events expected by position)
    #[rustfmt::skip]
    let rows: Vec<(&str, EventFilter, Vec<usize>)> = vec![
        ("card", EventFilter { card: text("04A1B2"), ..f() }, vec![0]),
        ("other card", EventFilter { card: text("0C"), ..f() }, vec![1]),
        ("no such card", EventFilter { card: text("FF"), ..f() }, vec![]),
        ("name, any case", EventFilter { person_name: text("aDA"), ..f() }, vec![0]),
        ("part of a name", EventFilter { person_name: text("y"), ..f() }, vec![1]),
        ("a visitor's name", EventFilter { person_name: text("ver"), ..f() }, vec![2]),
        ("a wildcard is a character", EventFilter { person_name: text("%"), ..f() }, vec![]),
        ("so is _", EventFilter { person_name: text("_"), ..f() }, vec![]),
        ("a formula in a name", EventFilter { person_name: text("=bo<"), ..f() }, vec![]),
        ("name and door", EventFilter {
            person_name: text("a"), door_id: Some(s.front), ..f()
        }, vec![2]),
        ("name and card", EventFilter {
            person_name: text("ada"), card: text("0C"), ..f()
        }, vec![]),
    ];
    for (case, filter, expected) in rows {
        let got = ids(s.store.list_events(&filter, None, 100).await.unwrap());
        let expected: Vec<Uuid> = expected.iter().map(|&i| events[i].id).collect();
        assert_eq!(got, expected, "{case}");
    }
}

#[tokio::test]
async fn the_event_detail_over_http() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "aud", "auditor").await;
    let auditor = app.login("aud", crate::common::PASSWORD).await;
    let (_s, events) = site(&db).await;
    let doc = app.public_json("/api/v1/openapi.json").await;
    let path = |id: Uuid| format!("/api/v1/events/{id}");

    let traced = expect(app.get(&path(events[0].id), &auditor).await, StatusCode::OK).await;
    assert_declared(&doc, "/api/v1/events/{id}", "get", "200", &traced);
    assert_eq!(traced["id"], events[0].id.to_string().as_str());
    assert_eq!(traced["person_name"], "Ada");
    assert_eq!(traced["door_name"], "Lab door");
    assert_eq!(traced["reason"], "no_grant");
    let steps: Vec<(&str, bool)> = traced["trace"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["check"].as_str().unwrap(), s["passed"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [("door", true), ("credential", true), ("grant", false)]
    );

    let untraced = expect(app.get(&path(events[1].id), &admin).await, StatusCode::OK).await;
    assert_declared(&doc, "/api/v1/events/{id}", "get", "200", &untraced);
    assert!(
        untraced.get("trace").is_none(),
        "absent, not null: {untraced}"
    );
    assert_eq!(untraced["organisation"], "Acme");

    expect(
        app.get(&path(Uuid::now_v7()), &admin).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let bad = app.get("/api/v1/events/not-a-uuid", &admin).await;
    assert_eq!(
        bad.status(),
        StatusCode::BAD_REQUEST,
        "as every malformed path"
    );

    // The list, searched by card (as typed at a desk) and by name.
    let page = expect(
        app.get("/api/v1/events?card=04:a1:b2", &admin).await,
        StatusCode::OK,
    )
    .await;
    assert_declared(&doc, "/api/v1/events", "get", "200", &page);
    assert_eq!(page["items"].as_array().unwrap().len(), 1, "{page}");
    let page = expect(
        app.get("/api/v1/events?person_name=Vera", &admin).await,
        StatusCode::OK,
    )
    .await;
    assert!(page["items"][0]["visit_id"].is_string(), "{page}");
    invalid(app.get("/api/v1/events?card=xyz", &admin).await, "card").await;
    invalid(
        app.get("/api/v1/events?person_name=", &admin).await,
        "person_name",
    )
    .await;
    let long = "a".repeat(65);
    let long = format!("/api/v1/events?person_name={long}");
    invalid(app.get(&long, &admin).await, "person_name").await;
    for bad in ["%00", "a%0Ab", "%20%20"] {
        let path = format!("/api/v1/events?person_name={bad}");
        invalid(app.get(&path, &admin).await, "person_name").await;
    }
    let page = expect(
        app.get("/api/v1/events?person_name=%20vera%20", &admin)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        page["items"].as_array().unwrap().len(),
        1,
        "trimmed: {page}"
    );
}

/// An agent older than traces uploads presentations as it always did (the record's
/// encoding without the trace's final byte): stored, listed and shown without a trace;
/// a newer agent's traced record next to it keeps its trace.
#[tokio::test]
async fn an_older_agent_still_uploads_and_its_events_have_no_trace() {
    use crate::agents::support::{agent, door, presentation, record, upload};
    use gatehouse_core::event::{GENESIS_HASH, chain_hash};
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (_, token) = agent(&app, &admin, &[front]).await;
    let old = presentation(front, "04AA", Outcome::Denied, None);
    let mut old_payload = old.encode().unwrap();
    assert_eq!(
        old_payload.pop(),
        Some(0),
        "the trace's None, which old agents lack"
    );
    let mut new = presentation(front, "04BB", Outcome::Denied, None);
    if let EventKind::Presentation(p) = &mut new.kind {
        p.trace = Some(trace());
    }
    let new_payload = new.encode().unwrap();
    let first = chain_hash(&GENESIS_HASH, 1, &old_payload);
    let second = chain_hash(&first, 2, &new_payload);
    let answer = upload(
        &app,
        &token,
        &[
            record(1, &old_payload, &first),
            record(2, &new_payload, &second),
        ],
    )
    .await;
    assert_eq!(answer["stored"], 2, "{answer}");
    let page = app.get_json("/api/v1/events", &admin).await;
    let items = page["items"].as_array().unwrap();
    let detail = |i: usize| {
        let id = items[i]["id"].as_str().unwrap().to_owned();
        let app = &app;
        let admin = &admin;
        async move { app.get_json(&format!("/api/v1/events/{id}"), admin).await }
    };
    let old = detail(0).await;
    assert_eq!(
        (&old["card"], old.get("trace")),
        (&Value::from("04AA"), None),
        "{old}"
    );
    let new = detail(1).await;
    assert_eq!(new["trace"].as_array().map(Vec::len), Some(3), "{new}");
    let report = app.get_json("/api/v1/audit/verify", &admin).await;
    assert_eq!(report["ok"], true, "{report}");
}
