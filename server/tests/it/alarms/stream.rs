//! The live stream, read with a real HTTP client: an alarm raised after the console
//! connected arrives as an `alarm` event, an acknowledgement as an `ack` event; a
//! console resumes from `Last-Event-ID`, and is told the position read up to when
//! nothing is sent; only readers of alarms may connect; the stream ends when the session
//! does.

use super::agent_support::{Journal, agent, door, upload};
use super::support::{SseReader, incident};
use crate::common::{PASSWORD, TestApp, TestDb, invalid};
use gatehouse_core::event::EventKind;
use reqwest::{Method, StatusCode};
use serde_json::json;
use std::time::Duration;

const WITHIN: Duration = Duration::from_secs(10);

async fn connect(app: &TestApp, token: &str, last_event_id: Option<&str>) -> reqwest::Response {
    let mut request = app.request(Method::GET, "/api/v1/alarms/stream", Some(token));
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn an_alarm_raised_after_connecting_arrives_on_the_stream() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (agent_id, token) = agent(&app, &admin, &[front]).await;
    let mut journal = Journal::new();
    // Before the console connects: not sent.
    upload(
        &app,
        &token,
        &[journal.append(&incident(front, EventKind::HeldOpen))],
    )
    .await;
    app.create_operator(&admin, "grace", "security").await;
    let grace = app.login("grace", PASSWORD).await;
    let mut stream = SseReader::new(connect(&app, &grace, None).await);

    upload(
        &app,
        &token,
        &[
            journal.append(&incident(front, EventKind::DoorOpened)),
            journal.append(&incident(front, EventKind::ForcedOpen)),
        ],
    )
    .await;
    let event = stream.next_named("alarm", WITHIN).await;
    let alarm = event.json();
    assert_eq!(
        (
            &alarm["kind"],
            &alarm["agent_id"],
            &alarm["door_id"],
            &alarm["origin"]
        ),
        (
            &json!("forced_open"),
            &json!(agent_id),
            &json!(front),
            &json!("door")
        )
    );
    let position: i64 = event.id.as_deref().unwrap().parse().unwrap();

    let id = alarm["id"].as_str().unwrap();
    let note = json!({"note": "on my way"});
    let acked = app
        .post(&format!("/api/v1/alarms/{id}/ack"), &grace, note)
        .await;
    assert_eq!(acked.status(), StatusCode::OK);
    let event = stream.next_named("ack", WITHIN).await;
    let ack = event.json();
    assert_eq!(
        (&ack["alarm_id"], &ack["operator"], &ack["note"]),
        (&json!(id), &json!("grace"), &json!("on my way"))
    );
    assert!(event.id.as_deref().unwrap().parse::<i64>().unwrap() > position);

    // Another console resumes after the alarm: only what came later.
    let auditor = {
        app.create_operator(&admin, "audrey", "auditor").await;
        app.login("audrey", PASSWORD).await
    };
    let mut resumed =
        SseReader::new(connect(&app, &auditor, Some(&(position - 1).to_string())).await);
    let again = resumed.next(WITHIN).await.unwrap();
    assert_eq!(again.event.as_deref(), Some("alarm"));
    assert_eq!(again.json()["id"], json!(id));
    let then = resumed.next(WITHIN).await.unwrap();
    assert_eq!(then.event.as_deref(), Some("ack"));
}

#[tokio::test]
async fn only_readers_of_alarms_connect() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "rita", "receptionist").await;
    let rita = app.login("rita", PASSWORD).await;
    let anonymous = app
        .request(Method::GET, "/api/v1/alarms/stream", None)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        connect(&app, &rita, None).await.status(),
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        connect(&app, "not-a-token", None).await.status(),
        StatusCode::UNAUTHORIZED
    );
    invalid(
        connect(&app, &admin, Some("yesterday")).await,
        "last-event-id",
    )
    .await;
    SseReader::new(connect(&app, &admin, None).await);
}

#[tokio::test]
async fn the_stream_ends_with_the_session_and_with_the_server() {
    let db = TestDb::sqlite();
    let app = TestApp::start_on(&db).await;
    let admin = app.admin_token().await;
    let mut stream = SseReader::new(connect(&app, &admin, None).await);
    let logout = app
        .request(Method::POST, "/api/v1/auth/logout", Some(&admin))
        .send()
        .await
        .unwrap();
    assert!(logout.status().is_success());
    // Revocation is noticed within seconds, before the stream's own end.
    assert!(stream.next(Duration::from_secs(15)).await.is_none());

    let admin = app.admin_token().await;
    let mut stream = SseReader::new(connect(&app, &admin, None).await);
    // Stopping the server ends the stream at once; it does not wait for it.
    let started = std::time::Instant::now();
    app.stop().await;
    assert!(stream.next(WITHIN).await.is_none());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_quiet_stream_passes_on_the_position_it_read_up_to() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (_, token) = agent(&app, &admin, &[front]).await;
    let mut stream = SseReader::new(connect(&app, &admin, None).await);
    stream.positions = true;
    let mut journal = Journal::new();
    let records: Vec<_> = (0..3)
        .map(|_| journal.append(&incident(front, EventKind::DoorOpened)))
        .collect();
    upload(&app, &token, &records).await;
    // No alarm: only the position, within 5 s.
    let event = stream.next(WITHIN).await.unwrap();
    assert_eq!((event.event.as_deref(), event.data.as_str()), (None, ""));
    let position: i64 = event.id.unwrap().parse().unwrap();
    let chain = app.get_json("/api/v1/audit/verify", &admin).await;
    assert_eq!(chain["records"].as_i64(), Some(position), "{chain}");
}
