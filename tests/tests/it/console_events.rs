//! "Why was this denied?" in a real browser: a badge refused at a real door agent during
//! a lockdown is found by the person's name; its page shows the rules the door checked
//! at the time (the lockdown), even after the lockdown is lifted; its link to the live
//! access check says the card would open the door now.

use gatehouse_e2e::console::{AGENT_WAIT, READER};
use gatehouse_e2e::{AgentProcess, Console, expect_json};
use serde_json::json;

const CARD: &str = "04A1B2C3D4E5F6";

async fn set_lockdown(console: &Console, site: &str, agent: &mut AgentProcess, on: bool) {
    let before = agent.status().await.unwrap()["policy_version"]
        .as_u64()
        .unwrap();
    let body = json!({"level": 0, "clearance_raise": 0, "lockdown": on, "exempt_person_ids": []});
    let response = console
        .api
        .put(
            &format!("/sites/{site}/threat-level"),
            &console.admin,
            &body,
        )
        .await;
    expect_json(response, 200).await;
    agent
        .wait_status(AGENT_WAIT, "the new policy", |s| {
            s["policy_version"].as_u64() > Some(before)
        })
        .await;
}

#[tokio::test]
async fn a_denial_is_found_and_explained_as_the_door_decided_it() {
    let Some(mut console) = Console::start("why_denied", &[]).await else {
        return;
    };
    let (site, mut agent) = console.door_agent(CARD).await;
    set_lockdown(&console, &site.site, &mut agent, true).await;
    agent.send_line(&format!("{READER} {CARD}"));
    let denied = console
        .wait_event("the refused badge", |e| e["kind"] == "presentation")
        .await;
    assert_eq!(denied["outcome"], "denied", "{denied}");
    set_lockdown(&console, &site.site, &mut agent, false).await;

    console.login_as("auditor", "auditor").await;
    let browser = &mut console.browser;
    assert!(browser.path().await.starts_with("/events"));
    browser.fill("#f-name", "Alice").await;
    browser.press("Search").await;
    let list = browser.text("main section").await;
    assert!(list.contains("Alice"), "{list}");
    assert!(list.contains("Front"), "{list}");
    let link = browser.html("main section tbody a").await;
    assert!(
        link.contains(&format!("/events/{}", denied["id"].as_str().unwrap())),
        "{link}"
    );
    browser
        .goto(&format!("/events/{}", denied["id"].as_str().unwrap()))
        .await;
    let detail = browser.text("main").await;
    assert!(detail.contains("Alice"), "{detail}");
    assert!(
        detail.contains("Rules the door checked at the time"),
        "{detail}"
    );
    let trace = browser.text(".trace").await;
    assert!(
        trace.contains("failed"),
        "no failed rule in the trace: {trace}"
    );
    console.finish().await;
}
