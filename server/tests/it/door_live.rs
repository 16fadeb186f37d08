//! Live doors through the HTTP API, on both backends: agents report their doors' state
//! (stored, listed with names, served on the stream, also from another replica); an agent
//! that goes quiet is shown offline and raises `agent_offline`; remote commands need the
//! permission, reach only the agent serving the door, are refused for an offline agent,
//! are logged, and their journalled event names the operator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::agents::support::{Journal, agent, door, upload};
use crate::alarms::support::SseReader;
use crate::common::{PASSWORD, TestApp, TestDb, error_of, expect, invalid};
use chrono::Utc;
use gatehouse_core::event::{DoorEvent, EventKind, RemoteCommandRecord};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;

const WITHIN: Duration = Duration::from_secs(10);

fn state(door: Uuid, alarms: &[&str], contact: &str, lock: &str) -> Value {
    json!({
        "door_id": door, "lock": lock, "contact": contact, "mode": "normal",
        "mode_until": null, "alarms": alarms,
        "last_event": {"kind": "forced_open", "at": Utc::now(), "detail": null},
    })
}

async fn report(app: &TestApp, token: &str, doors: Value) -> reqwest::Response {
    app.request(Method::POST, "/api/v1/agent/door-state", Some(token))
        .json(&json!({ "doors": doors }))
        .send()
        .await
        .unwrap()
}

async fn poll(app: &TestApp, token: &str, done: &[Uuid], wait_s: u64) -> Vec<Value> {
    let answer = app
        .request(Method::POST, "/api/v1/agent/commands", Some(token))
        .json(&json!({"done": done, "wait_s": wait_s}))
        .send()
        .await
        .unwrap();
    let page = expect(answer, StatusCode::OK).await;
    page["commands"].as_array().unwrap().clone()
}

async fn board(app: &TestApp, token: &str) -> Vec<Value> {
    let board = app.get_json("/api/v1/doors/status", token).await;
    board["doors"].as_array().unwrap().clone()
}

fn door_in(doors: &[Value], id: Uuid) -> Value {
    doors
        .iter()
        .find(|d| d["door_id"] == json!(id))
        .cloned()
        .unwrap()
}

async fn log_actions(app: &TestApp, admin: &str) -> Vec<Value> {
    let page = app.get_json("/api/v1/operator-log?limit=500", admin).await;
    page["items"].as_array().unwrap().clone()
}

async fn state_is_stored_and_listed_with_names(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let (site, front) = door(&app, &admin, "HQ").await;
    let (_, other) = door(&app, &admin, "Annex").await;
    let (agent_id, token) = agent(&app, &admin, &[front]).await;

    let before = door_in(&board(&app, &admin).await, front);
    assert_eq!(
        (&before["site"], &before["door"], &before["agent_id"]),
        (&json!("HQ"), &json!("door"), &json!(agent_id))
    );
    assert_eq!(
        (&before["lock"], &before["agent_online"]),
        (&Value::Null, &json!(false))
    );
    assert_eq!(before["from_zone"], "zone 0");

    let forced = state(front, &["forced_open"], "open", "locked");
    let taken = report(&app, &token, json!([forced])).await;
    assert_eq!(taken.status(), StatusCode::NO_CONTENT);
    let now = door_in(&board(&app, &admin).await, front);
    assert_eq!(
        (
            &now["lock"],
            &now["contact"],
            &now["alarms"],
            &now["agent_online"]
        ),
        (
            &json!("locked"),
            &json!("open"),
            &json!(["forced_open"]),
            &json!(true)
        )
    );
    assert_eq!(now["last_event"]["kind"], "forced_open");
    assert_eq!(now["site_id"], json!(site));
    // The same state again changes nothing (the heartbeat writes nothing).
    let again = report(&app, &token, json!([forced])).await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT);
    let same = door_in(&board(&app, &admin).await, front);
    assert_eq!(same["updated_at"], now["updated_at"]);

    // Another agent's door: refused whole.
    let foreign = report(&app, &token, json!([state(other, &[], "closed", "locked")])).await;
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let untouched = door_in(&board(&app, &admin).await, other);
    assert_eq!(untouched["lock"], Value::Null);
    // A detail too long is named.
    let mut long = state(front, &[], "closed", "locked");
    long["last_event"]["detail"] = json!("x".repeat(257));
    invalid(
        report(&app, &token, json!([long])).await,
        "doors[0].last_event.detail",
    )
    .await;
    // Operators: readers of door status only.
    app.create_operator(&admin, "desk", "receptionist").await;
    let desk = app.login("desk", PASSWORD).await;
    assert_eq!(
        app.get("/api/v1/doors/status", &desk).await.status(),
        StatusCode::FORBIDDEN
    );
    // One site only.
    let only = app
        .get_json(&format!("/api/v1/doors/status?site_id={site}"), &admin)
        .await;
    assert_eq!(only["doors"].as_array().unwrap().len(), 1);
}

/// A console on replica B sees a state reported to replica A within a second.
async fn the_stream_shows_a_change_made_on_another_replica(db: &TestDb) {
    // One after the other: two SQLite servers would race to create the file's schema.
    let a = TestApp::start_on(db).await;
    let b = TestApp::start_on(db).await;
    let admin = a.admin_token().await;
    let (_, front) = door(&a, &admin, "HQ").await;
    let (_, token) = agent(&a, &admin, &[front]).await;
    let closed = state(front, &[], "closed", "locked");
    assert_eq!(
        report(&a, &token, json!([closed])).await.status(),
        StatusCode::NO_CONTENT
    );
    let stream = b
        .request(Method::GET, "/api/v1/doors/status/stream", Some(&admin))
        .send()
        .await
        .unwrap();
    let mut stream = SseReader::new(stream);
    // Every door first.
    let first = stream.next(WITHIN).await.unwrap();
    assert_eq!(first.event.as_deref(), Some("door"));
    assert_eq!(first.json()["contact"], "closed");

    let reported = Instant::now();
    let forced = state(front, &["forced_open"], "open", "locked");
    assert_eq!(
        report(&a, &token, json!([forced])).await.status(),
        StatusCode::NO_CONTENT
    );
    let change = stream.next(WITHIN).await.unwrap();
    let latency = reported.elapsed();
    let door = change.json();
    assert_eq!(
        (&door["contact"], &door["alarms"]),
        (&json!("open"), &json!(["forced_open"]))
    );
    assert!(latency < Duration::from_secs(1), "{latency:?}");
}

/// An agent not heard from for `agent_offline_after_s` shows offline (on the board and
/// the stream) and raises `agent_offline`.
async fn a_quiet_agent_shows_offline_and_raises_agent_offline(db: &TestDb) {
    let mut settings = db.settings();
    settings.alarms.agent_offline_after_s = 2;
    let app = TestApp::start_with(settings).await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (agent_id, token) = agent(&app, &admin, &[front]).await;
    let closed = state(front, &[], "closed", "locked");
    report(&app, &token, json!([closed])).await;
    let stream = app
        .request(Method::GET, "/api/v1/doors/status/stream", Some(&admin))
        .send()
        .await
        .unwrap();
    let mut stream = SseReader::new(stream);
    let first = stream.next(WITHIN).await.unwrap().json();
    assert_eq!(first["agent_online"], true);
    let quiet = Instant::now();
    let offline = stream.next(WITHIN).await.unwrap().json();
    assert_eq!(offline["agent_online"], false);
    let after = quiet.elapsed();
    assert!(after < Duration::from_secs(4), "{after:?}");
    assert_eq!(
        door_in(&board(&app, &admin).await, front)["agent_online"],
        false
    );
    let deadline = Instant::now() + WITHIN;
    loop {
        let alarms = app
            .get_json("/api/v1/alarms?kind=agent_offline", &admin)
            .await;
        let items = alarms["items"].as_array().unwrap();
        if items.iter().any(|a| a["agent_id"] == json!(agent_id)) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no agent_offline alarm: {alarms}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Heard from again: online.
    report(&app, &token, json!([closed])).await;
    assert_eq!(
        door_in(&board(&app, &admin).await, front)["agent_online"],
        true
    );
}

async fn commands_reach_only_the_serving_agent_and_are_logged(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (_, back) = door(&app, &admin, "Annex").await;
    let (front_agent, front_token) = agent(&app, &admin, &[front]).await;
    let (_, back_token) = agent(&app, &admin, &[back]).await;
    app.create_operator(&admin, "grace", "security").await;
    app.create_operator(&admin, "audrey", "auditor").await;
    let grace = app.login("grace", PASSWORD).await;
    let audrey = app.login("audrey", PASSWORD).await;
    let release = format!("/api/v1/doors/{front}/release");

    // Offline (never heard from): refused, saying so, and nothing stored or logged.
    let refused = app.post(&release, &grace, json!({"seconds": 5})).await;
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let message = error_of(refused).await["message"].to_string();
    assert!(message.contains("offline"), "{message}");
    let logged_before = log_actions(&app, &admin).await.len();

    // Both agents heard from.
    report(
        &app,
        &front_token,
        json!([state(front, &[], "closed", "locked")]),
    )
    .await;
    report(
        &app,
        &back_token,
        json!([state(back, &[], "closed", "locked")]),
    )
    .await;

    // Permission: auditors read, may not command.
    let denied = app.post(&release, &audrey, json!({"seconds": 5})).await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    invalid(
        app.post(&release, &grace, json!({"seconds": 0})).await,
        "seconds",
    )
    .await;
    invalid(
        app.post(&release, &grace, json!({"seconds": 301})).await,
        "seconds",
    )
    .await;
    let past = json!({"mode": "locked", "until": "2020-01-01T00:00:00Z"});
    invalid(
        app.post(&format!("/api/v1/doors/{front}/mode"), &grace, past)
            .await,
        "until",
    )
    .await;
    let unknown = format!("/api/v1/doors/{}/release", Uuid::new_v4());
    let missing = app.post(&unknown, &grace, json!({"seconds": 5})).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    assert_eq!(log_actions(&app, &admin).await.len(), logged_before);

    // Accepted while nobody polls: pending, with its expiry.
    let given = expect(
        app.post(&release, &grace, json!({"seconds": 5})).await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(
        (&given["status"], &given["operator"], &given["agent_id"]),
        (&json!("pending"), &json!("grace"), &json!(front_agent))
    );
    assert!(given["expires_at"].is_string());
    let command_id: Uuid = given["id"].as_str().unwrap().parse().unwrap();
    // The other agent gets nothing; the serving one gets it, with the operator.
    assert!(poll(&app, &back_token, &[command_id], 0).await.is_empty());
    let commands = poll(&app, &front_token, &[], 0).await;
    assert_eq!(commands.len(), 1);
    assert_eq!(
        (
            &commands[0]["id"],
            &commands[0]["door_id"],
            &commands[0]["action"],
            &commands[0]["operator"]
        ),
        (
            &json!(command_id),
            &json!(front),
            &json!({"action": "release", "seconds": 5}),
            &json!("grace")
        )
    );
    let path = format!("/api/v1/doors/commands/{command_id}");
    assert_eq!(app.get_json(&path, &audrey).await["status"], "delivered");
    // Reported done: handed out no more.
    assert!(poll(&app, &front_token, &[command_id], 0).await.is_empty());
    assert_eq!(app.get_json(&path, &audrey).await["status"], "done");

    // An agent waiting in its long-poll gets a command at once.
    let waiting = {
        let app_base = app.base.clone();
        let token = front_token.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let answer = reqwest::Client::new()
                .post(format!("{app_base}/api/v1/agent/commands"))
                .bearer_auth(token)
                .json(&json!({"wait_s": 10}))
                .send()
                .await
                .unwrap();
            let page: Value = answer.json().await.unwrap();
            (page, started.elapsed())
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let given_at = Instant::now();
    let mode = json!({"mode": "locked", "until": "2099-01-01T00:00:00Z"});
    let locked = expect(
        app.post(&format!("/api/v1/doors/{front}/mode"), &grace, mode)
            .await,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(
        locked["status"], "delivered",
        "the answer waits for the agent"
    );
    let (page, _) = waiting.await.unwrap();
    assert!(given_at.elapsed() < Duration::from_secs(2));
    assert_eq!(
        page["commands"][0]["action"],
        json!({"action": "set_mode", "mode": "locked", "until": "2099-01-01T00:00:00Z"})
    );

    // Logged like every other write, naming the operator.
    let log = log_actions(&app, &admin).await;
    let actions: Vec<(&Value, &Value)> = log
        .iter()
        .skip(logged_before)
        .map(|e| (&e["action"], &e["actor"]))
        .collect();
    assert_eq!(
        actions,
        vec![
            (&json!("door.release"), &json!("grace")),
            (&json!("door.set_mode"), &json!("grace"))
        ]
    );

    // A command its agent did not fetch in time is never handed out, and says so.
    let stale = expect(
        app.post(&release, &grace, json!({"seconds": 3})).await,
        StatusCode::ACCEPTED,
    )
    .await;
    db.raw_execute("UPDATE door_commands SET expires_at = issued_at WHERE done_at IS NULL")
        .await
        .unwrap();
    assert!(poll(&app, &front_token, &[], 0).await.is_empty());
    let stale = format!("/api/v1/doors/commands/{}", stale["id"].as_str().unwrap());
    assert_eq!(app.get_json(&stale, &grace).await["status"], "expired");

    // The agent journals the command at the door: in /events, naming the operator.
    let mut journal = Journal::new();
    let event = DoorEvent {
        occurred_at: Utc::now(),
        door_id: Some(front),
        kind: EventKind::RemoteCommand(RemoteCommandRecord {
            command_id,
            operator_id: given["operator_id"].as_str().unwrap().parse().unwrap(),
            operator: "grace".into(),
            action: gatehouse_core::event::RemoteAction::Release { seconds: 5 },
        }),
    };
    upload(&app, &front_token, &[journal.append(&event)]).await;
    let events = app
        .get_json(
            &format!("/api/v1/events?door_id={front}&kind=remote_command"),
            &admin,
        )
        .await;
    assert_eq!(events["items"][0]["reason"], "release 5 s by grace");
}

conformance!(
    state_is_stored_and_listed_with_names,
    the_stream_shows_a_change_made_on_another_replica,
    a_quiet_agent_shows_offline_and_raises_agent_offline,
    commands_reach_only_the_serving_agent_and_are_logged,
);
