//! Live doors with the real server and the real door agent (simulated hardware): a
//! forced door shows on `GET /doors/status` and its stream within a second of the agent
//! seeing it; a remote release moves the simulated relay and is journalled at the door
//! naming the operator (in `/events`) and in the operator log; a killed agent shows
//! offline within `alarms.agent_offline_after_s`, and a command for it is refused.

use gatehouse_e2e::{LiveDoorSite, OFFLINE_AFTER_S, expect_json, wait_until};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tempfile::TempDir;

const WAIT: Duration = Duration::from_secs(30);

fn changes(status: &Value) -> u64 {
    status["relay_changes"].as_u64().unwrap()
}

#[tokio::test]
async fn doors_are_live_and_commanded_from_the_server() {
    let dir = TempDir::new().unwrap();
    let site = LiveDoorSite::create(dir.path()).await;
    let api = &site.api;
    api.created(
        &site.admin,
        "/operators",
        json!({"username": "grace", "password": "operator-password-1", "role": "security"}),
    )
    .await;
    let grace = api.token("grace", "operator-password-1").await;
    let mut agent = site.start_agent();
    agent
        .wait_status(WAIT, "the agent's status", |s| s["policy_version"].is_u64())
        .await;
    wait_until(WAIT, "the agent online", async || {
        let door = site.door_status().await;
        (door["agent_online"] == true && door["lock"] == "locked").then_some(())
    })
    .await;

    // A forced door: on the stream within a second of the agent seeing it, and listed.
    let mut stream = site.stream(&grace).await;
    let first = stream.next_door(WAIT).await.unwrap();
    assert_eq!(
        (&first["door"], &first["site"]),
        (&json!("Front"), &json!("HQ"))
    );
    agent.send_line(&format!("contact {} open", site.door));
    let opened = Instant::now();
    let forced = stream
        .wait_door(WAIT, |d| d["alarms"] == json!(["forced_open"]))
        .await
        .expect("the forced door on the stream");
    let latency = opened.elapsed();
    assert_eq!(forced["contact"], "open");
    // The agent debounces the contact (50 ms) before it knows; the bound is 1 s after.
    assert!(latency < Duration::from_millis(1500), "{latency:?}");
    let listed = site.door_status().await;
    assert_eq!(
        (
            &listed["alarms"],
            &listed["contact"],
            &listed["agent_online"]
        ),
        (&json!(["forced_open"]), &json!("open"), &json!(true))
    );
    agent.send_line(&format!("contact {} closed", site.door));
    stream
        .wait_door(WAIT, |d| {
            d["contact"] == "closed" && d["alarms"] == json!([])
        })
        .await
        .expect("the door closed on the stream");

    // A remote release moves the simulated relay.
    let before = changes(&agent.status().await.unwrap());
    let path = format!("/doors/{}/release", site.door);
    let given = expect_json(api.post(&path, &grace, &json!({"seconds": 2})).await, 202).await;
    assert!(
        given["status"] == "delivered" || given["status"] == "done",
        "{given}"
    );
    agent
        .wait_status(WAIT, "the relay released", |s| changes(s) > before)
        .await;
    stream
        .wait_door(WAIT, |d| d["lock"] == "released")
        .await
        .expect("the release on the stream");
    // Journalled at the door, naming the operator, and in the operator log.
    let event = wait_until(WAIT, "the remote_command event", async || {
        let events = api.list_all("/events", &site.admin, 500).await;
        events.into_iter().find(|e| e["kind"] == "remote_command")
    })
    .await;
    assert_eq!(event["reason"], "release 2 s by grace");
    assert_eq!(event["door_id"], site.door.as_str());
    let log = api.list_all("/operator-log", &site.admin, 500).await;
    let entry = log.iter().find(|e| e["action"] == "door.release").unwrap();
    assert_eq!(entry["actor"], "grace");
    let id = given["id"].as_str().unwrap();
    wait_until(WAIT, "the command done", async || {
        let command = api.get(&format!("/doors/commands/{id}"), &grace).await;
        let command: Value = command.json().await.ok()?;
        (command["status"] == "done").then_some(())
    })
    .await;

    // Killed: offline within the bound, and a command for it is refused, saying so.
    agent.kill9();
    let killed = Instant::now();
    wait_until(WAIT, "the agent offline", async || {
        (site.door_status().await["agent_online"] == false).then_some(())
    })
    .await;
    let after = killed.elapsed();
    assert!(
        after <= Duration::from_secs(OFFLINE_AFTER_S + 1),
        "offline after {after:?}"
    );
    let refused = api.post(&path, &grace, &json!({"seconds": 2})).await;
    let error = expect_json(refused, 409).await;
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("offline"), "{message}");
}
