//! Alarms on the security desk, in a real browser: a door forced at a real door agent
//! (simulated hardware) appears on the open alarm page without a reload, is announced,
//! and is acknowledged with a note through the row's form; the operator log has it.

use gatehouse_e2e::Console;
use serde_json::Value;
use std::time::Duration;

const CARD: &str = "04A1B2C3D4E5F6";
/// An alarm at the server shows on the open page within this (measured: 0.4 s).
const LIVE: Duration = Duration::from_secs(5);
const NOTE: &str = "Checked on camera: the cleaner";

#[tokio::test]
async fn an_alarm_arrives_live_and_is_acknowledged_with_a_note() {
    let Some(mut console) = Console::start("alarm_live", &[]).await else {
        return;
    };
    let (site, mut agent) = console.door_agent(CARD).await;
    console.login_as("officer", "security").await;
    let browser = &mut console.browser;
    browser.goto("/alarms").await;
    assert!(
        browser
            .text("#alarm-list")
            .await
            .contains("No alarms match")
    );
    // The page's script has opened the stream; a marker shows the page is not reloaded.
    let connected = browser
        .execute(
            "window.__sameDocument = true;
             return document.getElementById('live').dataset.connected;",
        )
        .await;
    assert_eq!(connected, "true");
    browser.wait_stream_open("/alarms/stream").await;

    agent.send_line(&format!("contact {} open", site.door));
    // The agent uploads the event (its own pace), then the page must show it at once.
    console
        .wait_event("the forced door", |e| e["kind"] == "forced_open")
        .await;
    agent.send_line(&format!("contact {} closed", site.door));
    let browser = &mut console.browser;
    let list = browser
        .wait_for_text("#alarm-list", "Door forced open", LIVE)
        .await;
    assert!(list.contains("Front · HQ"), "{list}");
    assert_eq!(
        browser
            .execute("return window.__sameDocument === true;")
            .await,
        true
    );
    let announced = browser.text("#announce").await;
    assert!(announced.contains("New alarm"), "{announced:?}");
    browser.assert_accessible().await;

    browser
        .fill_in("Door forced open", "input[name=note]", NOTE)
        .await;
    browser.press_in("Door forced open", "Acknowledge").await;
    assert_eq!(browser.path().await, "/alarms");
    assert!(
        !browser
            .text("#alarm-list")
            .await
            .contains("Door forced open")
    );
    browser.goto("/alarms?state=acknowledged").await;
    let done = browser.text("#alarm-list").await;
    assert!(done.contains("Door forced open"), "{done}");
    assert!(done.contains(&format!("by officer: {NOTE}")), "{done}");

    let alarms = console.api.list_all("/alarms", &console.admin, 100).await;
    let forced: Vec<&Value> = alarms
        .iter()
        .filter(|a| a["kind"] == "forced_open")
        .collect();
    assert_eq!(forced.len(), 1, "{alarms:?}");
    assert_eq!(
        forced[0]["acknowledgement"]["note"], NOTE,
        "{:?}",
        forced[0]
    );
    let log = console
        .api
        .list_all("/operator-log", &console.admin, 500)
        .await;
    assert!(
        log.iter()
            .any(|e| e["action"] == "alarm.acknowledge" && e["actor"] == "officer"),
        "no acknowledgement by officer in the operator log: {log:?}"
    );
    console.finish().await;
}
