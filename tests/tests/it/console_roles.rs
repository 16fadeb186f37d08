//! What a role may not do in the console, tried in a real browser: a receptionist
//! cannot open the security desk's pages, and its actions, sent with the receptionist's
//! own session from a console page, are refused and change nothing.

use gatehouse_e2e::Console;
use serde_json::Value;

const CARD: &str = "04A1B2C3D4E5F6";

#[tokio::test]
async fn a_receptionist_cannot_open_or_use_the_security_desk() {
    let Some(mut console) = Console::start("receptionist_refused", &[]).await else {
        return;
    };
    let (site, mut agent) = console.door_agent(CARD).await;
    // A forced door: an open alarm to try to acknowledge.
    agent.send_line(&format!("contact {} open", site.door));
    let alarm = console
        .wait_event("the forced door", |e| e["kind"] == "forced_open")
        .await;
    let alarms = console.api.list_all("/alarms", &console.admin, 100).await;
    let alarm_id = alarms
        .iter()
        .find(|a| a["event_id"] == alarm["id"])
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("no alarm for {alarm}: {alarms:?}"));

    console.login_as("desk", "receptionist").await;
    let browser = &mut console.browser;
    browser.goto("/account").await;
    let nav = browser.text("nav").await;
    for page in ["Door board", "Alarms", "Lockdown"] {
        assert!(!nav.contains(page), "the menu offers {page}: {nav}");
    }
    for path in [
        "/desk",
        "/alarms",
        "/threat",
        &format!("/threat/{}?level=1&clearance_raise=0", site.site),
    ] {
        browser.goto(path).await;
        let text = browser.page_text().await;
        assert!(text.contains("Error 403"), "{path} answered: {text}");
    }
    browser.goto("/account").await;
    let threat = format!("/threat/{}", site.site);
    let lockdown = [("level", "3"), ("clearance_raise", "1"), ("lockdown", "on")];
    assert_eq!(browser.post_form(&threat, &lockdown).await, 403);
    let ack = format!("/alarms/{alarm_id}/ack");
    assert_eq!(
        browser
            .post_form(&ack, &[("note", "not mine to ack")])
            .await,
        403
    );

    let now = console.get(&format!("/sites/{}", site.site)).await;
    assert_eq!(now["threat"]["lockdown"], false, "{now}");
    assert_eq!(now["threat"]["level"], 0, "{now}");
    let alarms = console.api.list_all("/alarms", &console.admin, 100).await;
    let still = alarms
        .iter()
        .find(|a| a["id"] == alarm_id.as_str())
        .unwrap();
    assert_eq!(still["acknowledgement"], Value::Null, "{still}");
    let log = console
        .api
        .list_all("/operator-log", &console.admin, 500)
        .await;
    assert!(
        log.iter().all(|e| e["actor"] != "desk"),
        "the receptionist's refused actions are in the operator log: {log:?}"
    );
    console.finish().await;
}
