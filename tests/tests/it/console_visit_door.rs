//! A visitor's card at a real door, driven from the console: security opens the office
//! to visitors and reception registers a pool card (API); the receptionist checks the
//! visitor in on the visit's page and hands out the pool card there; the card opens the
//! office door through a real `door-agent`; the receptionist checks the visitor out and
//! the same card is refused at the door (revoked), and the card is back in the pool.

use chrono::{Duration, Utc};
use gatehouse_e2e::Console;
use gatehouse_e2e::console::{AGENT_WAIT, READER};
use serde_json::{Value, json};

const STAFF_CARD: &str = "04C0FFEE000001";
const POOL_CARD: &str = "04F15170000007";

/// The server's policy version now (the agent must reach it to know the last change).
async fn server_version(console: &Console) -> u64 {
    let snapshot = console.api.get("/policy/snapshot", &console.admin).await;
    let version = snapshot.headers()["x-policy-version"].to_str().unwrap();
    version.parse().unwrap()
}

fn presentation(outcome: &'static str) -> impl Fn(&Value) -> bool {
    move |e: &Value| {
        e["kind"] == "presentation" && e["card"] == POOL_CARD && e["outcome"] == outcome
    }
}

#[tokio::test]
async fn a_pool_card_opens_the_door_during_the_visit_and_not_after_check_out() {
    let Some(mut console) = Console::start("console_visit_door", &[]).await else {
        return;
    };
    let (site, mut agent) = console.door_agent(STAFF_CARD).await;
    let (api, admin) = (&console.api, console.admin.as_str());
    let door = api.get(&format!("/doors/{}", site.door), admin).await;
    let office = door.json::<Value>().await.unwrap()["to_zone_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rule = json!({"longest_visit_minutes": 480});
    let opened = api
        .put(&format!("/zones/{office}/visitor-rule"), admin, &rule)
        .await;
    assert_eq!(opened.status().as_u16(), 200);
    let pool = json!({"site_id": site.site, "card": POOL_CARD, "label": "V-07"});
    let pool = api.created(admin, "/visitor-cards", pool).await;
    let now = Utc::now();
    let visit = json!({"visitor_name": "Vera Visitor", "host_person_id": site.person,
        "window_start": now - Duration::minutes(10), "window_end": now + Duration::hours(2),
        "allowed_zone_ids": [office]});
    let visit = api.created(admin, "/visits", visit).await;
    let path = format!("/visits/{}", visit["id"].as_str().unwrap());
    let desk = console.operator("rita", "receptionist").await;

    // Check in and hand out the pool card, both on the visit's page.
    let browser = &mut console.browser;
    browser.login("rita", &desk).await;
    browser.goto(&path).await;
    browser.press("Check in").await;
    assert_eq!(browser.path().await, path);
    browser.press("Hand out card").await;
    assert_eq!(
        console
            .get(&format!("/visitor-cards/{}", pool["id"].as_str().unwrap()))
            .await["state"],
        "issued"
    );

    // The card opens the door once the agent holds the policy that has it.
    let version = server_version(&console).await;
    let has = move |s: &Value| s["policy_version"].as_u64() >= Some(version);
    agent
        .wait_status(AGENT_WAIT, "the visitor's card", has)
        .await;
    agent.send_line(&format!("{READER} {POOL_CARD}"));
    console
        .wait_event("the visitor's entry", presentation("granted"))
        .await;

    // Checked out: the card is refused at the door and back in the pool.
    console.browser.goto(&path).await;
    console.browser.press("Check out").await;
    let version = server_version(&console).await;
    let has = move |s: &Value| s["policy_version"].as_u64() >= Some(version);
    agent.wait_status(AGENT_WAIT, "the check-out", has).await;
    agent.send_line(&format!("{READER} {POOL_CARD}"));
    let refused = console
        .wait_event("the refusal", presentation("denied"))
        .await;
    assert_eq!(refused["reason"], "credential_inactive", "{refused}");
    assert_eq!(
        console
            .get(&format!("/visitor-cards/{}", pool["id"].as_str().unwrap()))
            .await["state"],
        "available"
    );
    console.finish().await;
}
