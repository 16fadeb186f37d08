//! A lockdown set in the console, through its confirmation step, reaches a real door
//! agent: the badge that opened the door is refused; lifting the lockdown (its own
//! button, confirmed) admits it again.

use gatehouse_e2e::console::{AGENT_WAIT, READER};
use gatehouse_e2e::{AgentProcess, Console};
use serde_json::Value;

const CARD: &str = "04A1B2C3D4E5F6";

async fn policy_version(agent: &mut AgentProcess, after: u64) -> u64 {
    let status = agent
        .wait_status(AGENT_WAIT, "a newer policy", |s| {
            s["policy_version"].as_u64() > Some(after)
        })
        .await;
    status["policy_version"].as_u64().unwrap()
}

/// Presents the card and waits for its decision at the server (the `n`th presentation).
async fn badge(console: &Console, agent: &mut AgentProcess, n: usize) -> Value {
    agent.send_line(&format!("{READER} {CARD}"));
    gatehouse_e2e::wait_until(AGENT_WAIT, "the presentation's event", async || {
        let all = console.api.list_all("/events", &console.admin, 500).await;
        let seen: Vec<Value> = all
            .into_iter()
            .filter(|e| e["kind"] == "presentation" && e["card"] == CARD)
            .collect();
        seen.get(n).cloned()
    })
    .await
}

#[tokio::test]
async fn a_lockdown_refuses_a_badge_and_lifting_it_admits_again() {
    let Some(mut console) = Console::start("lockdown", &[]).await else {
        return;
    };
    let (site, mut agent) = console.door_agent(CARD).await;
    let version = agent.status().await.unwrap()["policy_version"]
        .as_u64()
        .unwrap();
    console.login_as("officer", "security").await;
    let browser = &mut console.browser;
    browser.goto("/threat").await;
    assert!(browser.text("main").await.contains("No lockdown"));
    browser
        .execute(&format!(
            "document.getElementById('lockdown-{}').click(); return null;",
            site.site
        ))
        .await;
    browser.press_in("HQ", "Change…").await;
    let confirm = browser.text("main").await;
    assert!(
        confirm.contains("Every door of HQ will refuse entry"),
        "{confirm}"
    );
    browser.press("Confirm").await;
    assert_eq!(browser.path().await, "/threat");
    assert!(browser.text("main").await.contains("LOCKDOWN"));

    let version = policy_version(&mut agent, version).await;
    let refused = badge(&console, &mut agent, 0).await;
    assert_eq!(refused["outcome"], "denied", "{refused}");
    let status = agent.status().await.unwrap();
    assert_eq!(
        status["relay_changes"], 0,
        "the relay moved in a lockdown: {status}"
    );

    let browser = &mut console.browser;
    browser.press("Lift lockdown…").await;
    let confirm = browser.text("main").await;
    assert!(confirm.contains("Lockdown on off"), "{confirm}");
    browser.press("Confirm").await;
    assert!(browser.text("main").await.contains("No lockdown"));
    policy_version(&mut agent, version).await;
    let admitted = badge(&console, &mut agent, 1).await;
    assert_eq!(admitted["outcome"], "granted", "{admitted}");
    agent
        .wait_status(AGENT_WAIT, "the relay to move", |s| {
            s["relay_changes"].as_u64() >= Some(1)
        })
        .await;

    let log = console
        .api
        .list_all("/operator-log", &console.admin, 500)
        .await;
    let changes = log
        .iter()
        .filter(|e| e["action"] == "site.threat_level" && e["actor"] == "officer")
        .count();
    assert_eq!(changes, 2, "{log:?}");
    console.finish().await;
}
