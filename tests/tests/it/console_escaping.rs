//! Every name a user can enter is shown as text: a site, door and person named like a
//! script show literally on each page that names them (door board, alarms, lockdown,
//! events, occupancy, muster), and nothing of it runs or becomes markup.

use gatehouse_e2e::console::READER;
use gatehouse_e2e::{Browser, Console, expect_json};
use serde_json::json;

const CARD: &str = "04A1B2C3D4E5F6";
const NASTY: &str = "<script>document.title='pwned'</script><b>x</b>";

/// The page shown names `NASTY` as text, and none of it ran or became markup.
async fn shown_literally(browser: &Browser, what: &str) {
    let path = browser.path().await;
    let text = browser.page_text().await;
    assert!(
        text.contains(NASTY),
        "{path} does not show the {what} literally: {text}"
    );
    assert_ne!(
        browser.title().await,
        "pwned",
        "a name's script ran on {path}"
    );
    let markup = browser
        .execute(
            "return Array.from(document.querySelectorAll('b')).filter(b =>
                 b.textContent === 'x').length
               + document.querySelectorAll('script:not([src])').length;",
        )
        .await;
    assert_eq!(markup, 0, "a name became markup on {path}");
}

#[tokio::test]
async fn names_are_shown_escaped() {
    let Some(mut console) = Console::start("escaping", &[]).await else {
        return;
    };
    let (site, mut agent) = console.door_agent(CARD).await;
    for (path, id) in [
        ("/sites", &site.site),
        ("/doors", &site.door),
        ("/people", &site.person),
    ] {
        let response = console
            .api
            .patch(
                &format!("{path}/{id}"),
                &console.admin,
                &json!({"name": NASTY}),
            )
            .await;
        expect_json(response, 200).await;
    }
    agent.send_line(&format!("contact {} open", site.door));
    console
        .wait_event("the forced door", |e| e["kind"] == "forced_open")
        .await;
    agent.send_line(&format!("contact {} closed", site.door));
    // The person goes in: named on the events, occupancy and muster pages.
    agent.send_line(&format!("{READER} {CARD}"));
    console
        .wait_event("the entry", |e| {
            e["kind"] == "presentation" && e["outcome"] == "granted"
        })
        .await;

    console.login_as("officer", "security").await;
    let browser = &mut console.browser;
    shown_literally(browser, "door board's site and door").await;
    browser.goto("/alarms").await;
    let place = format!("{NASTY} · {NASTY}");
    assert!(browser.text("#alarm-list").await.contains(&place));
    shown_literally(browser, "alarm's door and site").await;
    browser.goto("/threat").await;
    shown_literally(browser, "site").await;
    browser.press_in(NASTY, "Change…").await;
    shown_literally(browser, "site to confirm").await;
    browser.goto("/events").await;
    shown_literally(browser, "person and door of an event").await;
    browser.goto("/occupancy").await;
    shown_literally(browser, "site and person inside").await;
    browser.goto("/muster").await;
    shown_literally(browser, "site to muster").await;
    browser.press("Start muster").await;
    shown_literally(browser, "person to account for").await;
    console.finish().await;
}
