//! Card + PIN at a door, end to end: the real server, the real door agent with the
//! simulated reader and its simulated keypad (`<reader> <card> pin <digits>` lines on
//! standard input, which the agent turns into the card and then the keypad's keys). The
//! office needs a PIN; Alice's card has one. Checked at the server: a card with no PIN in
//! time is refused `pin_required`, the right PIN opens, a wrong one is refused
//! `pin_incorrect`, the duress PIN opens and raises the duress alarm, and after
//! `pin_max_failures` (3) wrong PINs the card is suspended (`pin_lockout`) and refused
//! even with the right PIN. No PIN appears in the agent's log, its status or the events.

use gatehouse_e2e::{
    AgentProcess, OneDoorSite, ServerProcess, agent_config, enroll_agent, expect_json, free_port,
    wait_until,
};
use serde_json::{Value, json};
use std::time::Duration;
use tempfile::TempDir;

const ADMIN_PASSWORD: &str = "admin-password-for-pin-e2e";
const BOOTSTRAP: (&str, &str) = ("GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD);
const CARD: &str = "04A1B2C3D4E5F6";
const READER: &str = "front";
/// Eight digits, so that none of them turns up in a log by chance.
const PIN: &str = "58264913";
/// The duress PIN: the PIN with its last digit plus one.
const DURESS: &str = "58264914";
const WRONG: &str = "70415362";
const WAIT: Duration = Duration::from_secs(30);

/// The presentations of [`CARD`] at the server, in the agent's order.
async fn presentations(api: &gatehouse_e2e::Api, admin: &str) -> Vec<Value> {
    let mut found: Vec<Value> = api
        .list_all("/events", admin, 500)
        .await
        .into_iter()
        .filter(|e| e["kind"] == "presentation" && e["card"] == CARD)
        .collect();
    found.sort_by_key(|e| e["seq"].as_i64());
    found
}

#[tokio::test]
async fn card_and_pin_right_wrong_duress_timeout_and_lock_out() {
    let dir = TempDir::new().unwrap();
    let server = ServerProcess::start_ready(dir.path(), &[BOOTSTRAP]).await;
    let api = server.api();
    let admin = api.token("admin", ADMIN_PASSWORD).await;
    let one = OneDoorSite::create(&api, &admin, CARD, json!({"unlock_ms": 1000})).await;
    let door = expect_json(api.get(&format!("/doors/{}", one.door), &admin).await, 200).await;
    let office = door["to_zone_id"].as_str().unwrap();
    let needs_pin = json!({"pin_required": true});
    let zone = api
        .patch(&format!("/zones/{office}"), &admin, &needs_pin)
        .await;
    assert!(zone.status().is_success(), "zone: {}", zone.status());
    let pin = json!({"pin": PIN});
    let credential = format!("/credentials/{}", one.credential);
    let set = api.patch(&credential, &admin, &pin).await;
    assert!(set.status().is_success(), "PIN: {}", set.status());

    let status_port = free_port();
    let config = dir.path().join("door-agent.toml");
    let toml = agent_config(
        &server.base_url,
        &dir.path().join("agent-state"),
        status_port,
        86_400,
        "simulated",
        (READER, &one.door),
    ) + "\n[keypad]\npin_timeout_s = 2\n";
    std::fs::write(&config, toml).unwrap();
    let enrolled = enroll_agent(&server.base_url, &one.enrollment_code, &config).await;
    assert!(enrolled.status.success(), "{enrolled:?}");
    let status_url = format!("http://127.0.0.1:{status_port}");
    let mut agent = AgentProcess::start(dir.path(), &config, &status_url);
    agent
        .wait_status(WAIT, "a policy version", |s| s["policy_version"].is_u64())
        .await;

    // Each line, then its decision at the server: (line's PIN, outcome, reason, alarms).
    let steps: [(Option<&str>, &str, &str, &[&str]); 8] = [
        (None, "denied", "pin_required", &[]),
        (Some(PIN), "granted", "granted", &[]),
        (Some(WRONG), "denied", "pin_incorrect", &[]),
        (Some(DURESS), "granted", "granted", &["duress"]),
        // The duress PIN, like the right one, ended the run of wrong PINs: three more.
        (Some(WRONG), "denied", "pin_incorrect", &[]),
        (Some(WRONG), "denied", "pin_incorrect", &[]),
        (Some(WRONG), "denied", "pin_incorrect", &["pin_lockout"]),
        (Some(PIN), "denied", "credential_inactive", &[]),
    ];
    for (i, (pin, outcome, reason, alarms)) in steps.into_iter().enumerate() {
        let line = match pin {
            Some(pin) => format!("{READER} {CARD} pin {pin}"),
            None => format!("{READER} {CARD}"),
        };
        agent.send_line(&line);
        let decided = wait_until(WAIT, &format!("presentation {i}"), async || {
            let found = presentations(&api, &admin).await;
            (found.len() > i).then_some(found)
        })
        .await;
        let event = &decided[i];
        assert_eq!(
            (event["outcome"].as_str(), event["reason"].as_str()),
            (Some(outcome), Some(reason)),
            "step {i}: {event}"
        );
        // Alarms are stored with the event they came with.
        let desk = api.list_all("/alarms", &admin, 100).await;
        let raised: Vec<&str> = (desk.iter())
            .filter(|a| a["event_id"] == event["id"])
            .filter_map(|a| a["kind"].as_str())
            .collect();
        assert_eq!(raised, alarms, "step {i}: {desk:?}");
    }

    // The silent alarms are at the alarm desk, at this door.
    for kind in ["duress", "pin_lockout"] {
        let raised = api
            .list_all(&format!("/alarms?kind={kind}"), &admin, 100)
            .await;
        assert_eq!(raised.len(), 1, "{kind}: {raised:?}");
        assert_eq!(raised[0]["door_id"], one.door.as_str(), "{kind}");
    }

    // No PIN anywhere: the agent's log and status, every event the server holds.
    let status = agent.status().await.unwrap();
    let events = api.list_all("/events", &admin, 500).await;
    let seen = [agent.logs(), status.to_string(), json!(events).to_string()];
    for pin in [PIN, DURESS, WRONG] {
        for (where_, text) in ["agent log", "status", "events"].iter().zip(&seen) {
            assert!(!text.contains(pin), "a PIN is in the {where_}");
        }
    }
    assert_eq!(agent.stop().await.code(), Some(0));
}
