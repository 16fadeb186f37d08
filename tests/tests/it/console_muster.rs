//! A muster run to its end in a real browser: the person who badged in at a real door
//! agent is inside (occupancy), is on the muster's list, is marked accounted for with a
//! note (the touch-sized button naming them), the printable list shows it, and the
//! muster is closed.

use gatehouse_e2e::Console;
use gatehouse_e2e::console::{AGENT_WAIT, READER};

const CARD: &str = "04A1B2C3D4E5F6";

#[tokio::test]
async fn a_muster_is_run_to_the_end() {
    let Some(mut console) = Console::start("muster", &[]).await else {
        return;
    };
    let (_site, mut agent) = console.door_agent(CARD).await;
    agent.send_line(&format!("{READER} {CARD}"));
    let entry = console
        .wait_event("Alice's entry", |e| e["kind"] == "presentation")
        .await;
    assert_eq!(entry["outcome"], "granted", "{entry}");
    agent
        .wait_status(AGENT_WAIT, "the relay to move", |s| {
            s["relay_changes"].as_u64() >= Some(1)
        })
        .await;

    console.login_as("officer", "security").await;
    let browser = &mut console.browser;
    browser.goto("/occupancy").await;
    let inside = browser.text("main").await;
    assert!(inside.contains("HQ: 1 inside"), "{inside}");
    assert!(inside.contains("Alice"), "{inside}");

    browser.goto("/muster").await;
    browser.press("Start muster").await;
    assert!(browser.path().await.starts_with("/muster/"));
    let muster_path = browser.path().await;
    assert!(
        browser
            .text("main")
            .await
            .contains("1 of 1 not accounted for")
    );
    browser
        .fill_in("Alice", "input[name=note]", "At the assembly point")
        .await;
    browser.press_in("Alice", "Alice is accounted for").await;
    let after = browser.text("main").await;
    assert!(after.contains("0 of 1 not accounted for"), "{after}");
    assert!(after.contains("At the assembly point"), "{after}");

    browser.goto(&format!("{muster_path}/print")).await;
    let printed = browser.text("main").await;
    assert!(printed.contains("Alice"), "{printed}");
    assert!(
        !printed.contains("is accounted for"),
        "a button on paper: {printed}"
    );

    browser.goto(&muster_path).await;
    browser.press("Close muster").await;
    browser.goto(&muster_path).await;
    let closed = browser.text("main").await;
    assert!(closed.contains("Closed"), "{closed}");
    assert!(!closed.contains("Close muster"), "{closed}");
    browser.goto("/muster").await;
    assert!(browser.text("main").await.contains("Closed"));
    console.finish().await;
}
