//! What the API accepts as input, checked across every endpoint the OpenAPI document
//! lists where the rule is general: an empty `cursor` is the first page on every list,
//! card patterns are the parser's, export filters refuse what `/events` refuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{TestApp, error_of};
use reqwest::StatusCode;
use serde_json::Value;

/// GET paths whose operation takes a `cursor` query parameter.
fn paginated(doc: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        let params = item["get"]["parameters"].as_array();
        let has_cursor = params
            .into_iter()
            .flatten()
            .any(|p| p["name"] == "cursor" && p["in"] == "query");
        if has_cursor {
            paths.push(path.clone());
        }
    }
    paths
}

#[tokio::test]
async fn an_empty_cursor_is_the_first_page_on_every_list() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let doc = app.public_json("/api/v1/openapi.json").await;
    let paths = paginated(&doc);
    assert!(paths.len() >= 13, "{paths:?}");
    for path in paths {
        // Path parameters get an id that names nothing: a 404 is fine, a 422 is not.
        let concrete: String = path
            .split('/')
            .map(|s| {
                if s.starts_with('{') {
                    uuid::Uuid::now_v7().to_string()
                } else {
                    s.to_owned()
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        let empty = app.get(&format!("{concrete}?cursor="), &admin).await;
        let status = empty.status();
        let body = empty.text().await.unwrap();
        assert_ne!(status, StatusCode::UNPROCESSABLE_ENTITY, "{path}: {body}");
        if status == StatusCode::OK {
            let first = app.get_json(&concrete, &admin).await;
            let empty: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(empty, first, "{path}");
        }
    }
}

#[tokio::test]
async fn card_patterns_in_the_document_are_the_parsers() {
    let (app, _db) = TestApp::start().await;
    let doc = app.public_json("/api/v1/openapi.json").await;
    let mut found = 0;
    for (name, schema) in doc["components"]["schemas"].as_object().unwrap() {
        let card = &schema["properties"]["card"];
        if let Some(pattern) = card["pattern"].as_str() {
            found += 1;
            assert_eq!(pattern, gatehouse_core::model::CARD_PATTERN, "{name}");
            assert_eq!(
                card["maxLength"],
                gatehouse_core::model::MAX_CARD_CHARS,
                "{name}"
            );
        }
    }
    assert!(
        found >= 2,
        "the credential and check requests carry the pattern"
    );
}

#[tokio::test]
async fn export_filters_refuse_what_events_refuse() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let period = "from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00Z";
    for (param, value) in [
        ("outcome", "maybe"),
        ("reason", "because"),
        ("kind", "Forced-Open"),
        ("kind", ""),
        ("outcome", "granted%20"),
    ] {
        let query = format!("{param}={value}");
        for path in [
            format!("/api/v1/events?{query}"),
            format!("/api/v1/audit/export?format=ndjson&{period}&{query}"),
        ] {
            let response = app.get(&path, &admin).await;
            assert_eq!(
                response.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}"
            );
            let error = error_of(response).await;
            assert!(error["fields"][param].is_string(), "{path}: {error}");
        }
    }
    // Known values are accepted by both, operator actions by the export.
    for query in ["outcome=denied", "reason=no_grant", "kind=forced_open"] {
        for path in [
            format!("/api/v1/events?{query}"),
            format!("/api/v1/audit/export?format=ndjson&{period}&{query}"),
        ] {
            assert_eq!(
                app.get(&path, &admin).await.status(),
                StatusCode::OK,
                "{path}"
            );
        }
    }
    let action = format!("/api/v1/audit/export?format=ndjson&{period}&kind=visit.create");
    assert_eq!(app.get(&action, &admin).await.status(), StatusCode::OK);
}

use crate::support::site_model as site_support;

mod uploads {
    //! An agent's upload may not place a presentation in a zone its door does not lead
    //! into: the stored zone is the server's door's.
    use super::site_support::{new_door, site, zone};
    use crate::common::TestDb;
    use gatehouse_core::decide::{Direction, Outcome, Reason};
    use gatehouse_core::event::{
        DoorEvent, EventKind, GENESIS_HASH, PresentationRecord, chain_hash,
    };
    use gatehouse_server::store::{Actor, EventFilter, NewAgent, UploadRecord, now};
    use uuid::Uuid;

    conformance!(a_presentation_is_stored_with_its_doors_zone);

    fn presentation(door: Uuid, zone_id: Option<Uuid>) -> DoorEvent {
        DoorEvent {
            occurred_at: now(),
            door_id: Some(door),
            kind: EventKind::Presentation(PresentationRecord {
                reader: "front".into(),
                card: "04A2".into(),
                direction: Direction::Entry,
                outcome: Outcome::Granted,
                reason: Reason::Granted,
                person_id: None,
                visit_id: None,
                credential_id: None,
                zone_id,
                alarms: vec![],
                policy_version: 1,
                trace: None,
            }),
        }
    }

    async fn a_presentation_is_stored_with_its_doors_zone(db: &TestDb) {
        let store = db.store().await;
        let hq = site(&store, "HQ").await;
        let (lobby, office) = (
            zone(&store, hq.id, None, 0).await,
            zone(&store, hq.id, None, 1).await,
        );
        let door = store
            .create_door(new_door(lobby.id, office.id), &Actor::cli())
            .await
            .unwrap();
        let other = site(&store, "Branch").await;
        let vault = zone(&store, other.id, None, 3).await;
        let agent = store
            .create_agent(
                NewAgent {
                    name: "front".into(),
                    door_ids: vec![door.id],
                    code_hash: b"code".to_vec(),
                    code_expires_at: now() + chrono::Duration::minutes(15),
                },
                &Actor::cli(),
            )
            .await
            .unwrap()
            .id;
        let unknown_door = Uuid::now_v7();
        // (event, zone the server stores)
        let cases = [
            (presentation(door.id, Some(vault.id)), Some(office.id)),
            (presentation(door.id, Some(office.id)), Some(office.id)),
            (presentation(door.id, None), None),
            (presentation(unknown_door, Some(vault.id)), None),
        ];
        let mut previous = GENESIS_HASH;
        let mut records = Vec::new();
        for (seq, (event, _)) in (1..).zip(&cases) {
            let payload = event.encode().unwrap();
            let hash = chain_hash(&previous, seq, &payload);
            previous = hash;
            records.push(UploadRecord {
                seq,
                payload,
                hash,
                event: event.clone(),
            });
        }
        store.ingest_events(agent, &records, 0).await.unwrap();
        let mut events = store
            .list_events(&EventFilter::default(), None, 100)
            .await
            .unwrap();
        events.sort_by_key(|e| e.seq);
        let stored: Vec<Option<Uuid>> = events.iter().map(|e| e.zone_id).collect();
        let expected: Vec<Option<Uuid>> = cases.iter().map(|(_, zone)| *zone).collect();
        assert_eq!(stored, expected);
        let report = gatehouse_server::audit::verify::verify(
            &store,
            &gatehouse_server::audit::checkpoint::AuditKey::load(&store)
                .await
                .unwrap()
                .public_key(),
        )
        .await
        .unwrap();
        assert!(report.ok, "the stored row is what was chained: {report:?}");
    }
}

/// `text` with `+` written so a query keeps it.
fn query_value(text: &str) -> String {
    text.replace('+', "%2B")
}

#[tokio::test]
async fn times_outside_1970_to_9999_are_refused_naming_the_field() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let some = uuid::Uuid::now_v7();
    for bad in [
        "-0001-01-01T00:00:00Z",
        "0000-01-01T00:00:00Z",
        "1969-12-31T23:59:59Z",
        "+10000-01-01T00:00:00Z",
        "9999-12-31T23:00:00-01:00",
    ] {
        let q = query_value(bad);
        let queries = [
            (format!("/api/v1/alarms?from={q}"), "from"),
            (format!("/api/v1/alarms?to={q}"), "to"),
            (format!("/api/v1/events?from={q}"), "from"),
            (format!("/api/v1/people/{some}/access?at={q}"), "at"),
            (
                format!("/api/v1/audit/export?format=csv&from={q}&to=2026-01-01T00:00:00Z"),
                "from",
            ),
        ];
        for (path, field) in queries {
            let response = app.get(&path, &admin).await;
            assert_eq!(
                response.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}"
            );
            let error = error_of(response).await;
            assert!(error["fields"][field].is_string(), "{path}: {error}");
        }
        let bodies = [
            ("/api/v1/access/check", "at"),
            ("/api/v1/visits", "window_start"),
            ("/api/v1/visits", "window_end"),
            ("/api/v1/grants", "valid_from"),
            ("/api/v1/credentials", "valid_until"),
        ];
        for (path, field) in bodies {
            let body = serde_json::json!({ field: bad });
            let response = app.post(path, &admin, body).await;
            assert_eq!(
                response.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}"
            );
            let error = error_of(response).await;
            assert!(
                error["fields"][field].is_string(),
                "{path} {field}: {error}"
            );
        }
    }
    for good in ["1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z"] {
        let q = query_value(good);
        for path in [
            format!("/api/v1/alarms?from={q}"),
            format!("/api/v1/events?to={q}"),
        ] {
            assert_eq!(
                app.get(&path, &admin).await.status(),
                StatusCode::OK,
                "{path}"
            );
        }
    }
}

#[tokio::test]
async fn names_people_read_refuse_control_bidi_and_invisible_characters() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let site = app
        .post(
            "/api/v1/sites",
            &admin,
            serde_json::json!({"name": "HQ", "timezone": "Europe/Berlin"}),
        )
        .await;
    let site: Value = common::expect(site, StatusCode::CREATED).await;
    let person = app
        .post(
            "/api/v1/people",
            &admin,
            serde_json::json!({"name": "Ada", "kind": "staff", "clearance": 1}),
        )
        .await;
    let person: Value = common::expect(person, StatusCode::CREATED).await;
    let now = chrono::Utc::now();
    for bad in [
        "Ada\u{0}",
        "Ada\r\nMallory",
        "\u{202E}gpj.exe",
        "\u{200B}",
        "\u{200B}\u{FEFF}",
    ] {
        let cases = [
            (
                "/api/v1/sites",
                "name",
                serde_json::json!({"name": bad, "timezone": "UTC"}),
            ),
            (
                "/api/v1/zones",
                "name",
                serde_json::json!({"site_id": site["id"], "name": bad, "level": 0}),
            ),
            (
                "/api/v1/people",
                "name",
                serde_json::json!({"name": bad, "kind": "staff", "clearance": 1}),
            ),
            (
                "/api/v1/people",
                "employer",
                serde_json::json!({"name": "Bo", "kind": "contractor", "clearance": 0,
                    "employer": bad}),
            ),
            ("/api/v1/groups", "name", serde_json::json!({"name": bad})),
            (
                "/api/v1/visits",
                "visitor_organisation",
                serde_json::json!({"visitor_name": "Bo", "visitor_organisation": bad,
                    "host_person_id": person["id"], "window_start": now,
                    "window_end": now + chrono::Duration::hours(1), "allowed_zone_ids": []}),
            ),
            (
                "/api/v1/operators",
                "display_name",
                serde_json::json!({"username": "eve", "role": "host",
                    "password": common::PASSWORD, "display_name": bad}),
            ),
        ];
        for (path, field, body) in cases {
            let response = app.post(path, &admin, body).await;
            assert_eq!(
                response.status(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path} {field} = {bad:?}"
            );
            let error = error_of(response).await;
            assert!(
                error["fields"][field].is_string(),
                "{path} {field}: {error}"
            );
        }
    }
    // Names in any script, and notes over several lines, stay welcome.
    let fine = app
        .post(
            "/api/v1/people",
            &admin,
            serde_json::json!({"name": "Zoë Ñúñez 李小龍", "kind": "staff", "clearance": 1}),
        )
        .await;
    assert_eq!(fine.status(), StatusCode::CREATED);
}
