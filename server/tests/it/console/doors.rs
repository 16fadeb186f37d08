//! The door board: each door's reported state by name, and remote commands from the
//! console, refused for an offline agent and sent (and logged) for an online one.

use super::client::Console;
use crate::agents::support::{agent, door};
use crate::common::{ADMIN_PASSWORD, TestApp, TestDb};
use chrono::Utc;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn report(app: &TestApp, token: &str, door: uuid::Uuid, alarms: &[&str], contact: &str) {
    let state = json!({
        "door_id": door, "lock": "locked", "contact": contact, "mode": "normal",
        "mode_until": null, "alarms": alarms,
        "last_event": {"kind": "forced_open", "at": Utc::now(), "detail": null},
    });
    let answer = app
        .request(Method::POST, "/api/v1/agent/door-state", Some(token))
        .json(&json!({ "doors": [state] }))
        .send()
        .await
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}

async fn board_and_commands(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (_, token) = agent(&app, &admin, &[front]).await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;

    // Not yet reported: shown as such, and a command is refused saying why.
    let board = console.get("/desk").await;
    assert_eq!(board.status, StatusCode::OK);
    assert!(board.body.contains("not reported"), "{}", board.body);
    let release = format!("/desk/doors/{front}/release");
    let refused = console.submit(&release, &[("seconds", "5")]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(refused.body.contains("offline"), "{}", refused.body);
    let bad = console.submit(&release, &[("seconds", "301")]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Reported forced open: the board says so.
    report(&app, &token, front, &["forced_open"], "open").await;
    let board = console.get("/desk").await;
    assert!(board.body.contains("FORCED OPEN"));
    assert!(board.body.contains("online"));

    // Online: the release is sent; the board says where it stands; the agent gets it.
    let sent = console.submit(&release, &[("seconds", "5")]).await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    assert!(sent.location().starts_with("/desk?command="));
    let notice = console.get(sent.location()).await;
    assert!(notice.body.contains("for 5 s"), "{}", notice.body);
    let commands = app
        .request(Method::POST, "/api/v1/agent/commands", Some(&token))
        .json(&json!({"done": [], "wait_s": 0}))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(commands["commands"].as_array().unwrap().len(), 1);
    let mode = console
        .submit(
            &format!("/desk/doors/{front}/mode"),
            &[("mode", "locked"), ("until", "")],
        )
        .await;
    assert_eq!(mode.status, StatusCode::SEE_OTHER, "{}", mode.body);

    let log = app.get_json("/api/v1/operator-log?limit=200", &admin).await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("door."))
        .collect();
    assert!(actions.contains(&"door.release"), "{actions:?}");
    assert!(actions.contains(&"door.set_mode"), "{actions:?}");
    app.stop().await;
}

conformance!(board_and_commands);

/// Two replicas on one PostgreSQL database: a door state uploaded to one shows on the
/// door board of a console logged in on the other, page and stream.
#[tokio::test]
async fn a_console_on_one_replica_sees_a_door_reported_to_the_other() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, b) = tokio::join!(TestApp::start_on(&db), TestApp::start_on(&db));
    let admin = a.admin_token().await;
    let (_, front) = door(&a, &admin, "HQ").await;
    let (_, token) = agent(&a, &admin, &[front]).await;
    let console = Console::login(&a, "admin", ADMIN_PASSWORD).await;
    let cookie = console.cookie.clone().unwrap();
    let stream = a
        .client
        .get(a.url("/desk/stream"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    report(&b, &token, front, &["forced_open"], "open").await;
    let mut stream = stream;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut seen = String::new();
    while !seen.contains("forced_open") {
        assert!(
            std::time::Instant::now() < deadline,
            "no door event: {seen}"
        );
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), stream.chunk())
            .await
            .expect("the stream answers")
            .unwrap()
            .expect("the stream goes on");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(console.get("/desk").await.body.contains("FORCED OPEN"));
    a.stop().await;
    b.stop().await;
}
