//! The README's screenshots of the auditor's and administrator's pages, made from a real
//! server, door agent and Chromium when `GATEHOUSE_SCREENSHOTS` names a folder:
//! `GATEHOUSE_SCREENSHOTS=$PWD/docs cargo test -p gatehouse-e2e --test it readme_screenshots`
//! (skipped otherwise). Each page must open without an error page.

use gatehouse_e2e::console::READER;
use gatehouse_e2e::visits::readme_page_picture;
use gatehouse_e2e::{Console, expect_json};
use serde_json::json;
use std::path::PathBuf;

const CARD: &str = "04A1B2C3D4E5F6";

#[tokio::test]
async fn readme_screenshots() {
    let Some(folder) = std::env::var_os("GATEHOUSE_SCREENSHOTS").map(PathBuf::from) else {
        eprintln!("skipped: set GATEHOUSE_SCREENSHOTS to a folder to make the screenshots");
        return;
    };
    let Some(mut console) = Console::start("readme_screenshots", &[]).await else {
        return;
    };
    let (site, mut agent) = console.door_agent(CARD).await;
    // Each presentation on the server before the next (each card's new event).
    let cards = [CARD, "04DEDEDEDEDEDE", CARD, "04BEEFBEEFBEEF", CARD];
    let mut seen = std::collections::HashSet::new();
    let mut seen_last = None;
    for card in cards {
        agent.send_line(&format!("{READER} {card}"));
        let event = console
            .wait_event("the presentation", |e| {
                e["kind"] == "presentation"
                    && e["card"] == card
                    && !seen.contains(e["id"].as_str().unwrap_or_default())
            })
            .await;
        let id = event["id"].as_str().unwrap().to_owned();
        seen.insert(id.clone());
        seen_last = Some(id);
    }
    // The last (granted) card's unlock over, the door locked again: the opening is
    // forced. Event ids are in arrival order.
    let last = seen_last.expect("a presentation");
    console
        .wait_event("the last unlock's end", |e| {
            e["kind"] == "not_opened_after_grant" && e["id"].as_str() > Some(last.as_str())
        })
        .await;
    agent.send_line(&format!("contact {} open", site.door));
    console
        .wait_event("the forced door", |e| e["kind"] == "forced_open")
        .await;
    agent.send_line(&format!("contact {} closed", site.door));

    // The site's card keys, for its page's Card keys panel.
    let keys = format!("/sites/{}/card-keys", site.site);
    let made = console.api.post(&keys, &console.admin, &json!({})).await;
    expect_json(made, 201).await;

    console
        .browser
        .login("admin", gatehouse_e2e::console::ADMIN_PASSWORD)
        .await;
    // The administrator's pages whole (their card keys and secure-card forms are below
    // the first screen); the others as the window shows them.
    let pages = [
        (
            format!("/admin/sites/{}", site.site),
            "admin-site.png",
            true,
        ),
        (
            format!("/admin/people/{}", site.person),
            "admin-person.png",
            true,
        ),
        (format!("/reports?site={}", site.site), "reports.png", false),
        ("/events".to_owned(), "events.png", false),
        ("/audit".to_owned(), "audit.png", false),
    ];
    for (path, file, whole) in pages {
        let browser = &mut console.browser;
        browser.goto(&path).await;
        let text = browser.page_text().await;
        assert!(
            !text.contains("Error 4") && !text.contains("Error 5"),
            "{path}: {text}"
        );
        if whole {
            readme_page_picture(browser, file).await;
        } else {
            std::fs::write(folder.join(file), browser.screenshot().await).expect("a screenshot");
        }
    }
    console.finish().await;
}
