//! Every page of the console's menus (the main one and any a page adds, such as
//! administration's), for every role, in a real browser: it opens (no
//! error page), passes axe-core (no serious or critical violation, checked as each page
//! loads), breaks no CSP rule, and fits the desk screen (1366×768) and a tablet
//! (768×1024) without sideways scrolling. The site has a door
//! with a real agent, an alarm and events, so that lists are not empty.

use gatehouse_e2e::Console;
use gatehouse_e2e::console::READER;

const CARD: &str = "04A1B2C3D4E5F6";
const ROLES: [&str; 5] = ["admin", "security", "receptionist", "auditor", "host"];

#[tokio::test]
async fn every_page_of_every_role_opens_and_is_accessible() {
    let Some(mut console) = Console::start("every_page", &[]).await else {
        return;
    };
    let (site, mut agent) = console.door_agent(CARD).await;
    agent.send_line(&format!("{READER} {CARD}"));
    agent.send_line(&format!("{READER} 04DEDEDEDEDEDE"));
    agent.send_line(&format!("contact {} open", site.door));
    console
        .wait_event("the forced door", |e| e["kind"] == "forced_open")
        .await;
    agent.send_line(&format!("contact {} closed", site.door));
    // A watchlist entry, so its page shows a full table.
    let entry = serde_json::json!({"name": "Αριστομένης Ελευθερίου",
        "aliases": ["Aris Eleftheriou"], "date_of_birth": "1971-02-03", "organisation": "Northwind Logistics International",
        "reason": "Trespass order 2025-114: entered the loading bay without escort twice",
        "action": "block"});
    console
        .api
        .created(&console.admin, "/watchlist", entry)
        .await;

    for role in ROLES {
        let username = format!("{role}-1");
        console.login_as(&username, role).await;
        let browser = &mut console.browser;
        let mut pages = browser.links("nav").await;
        assert!(pages.contains(&"/account".to_owned()), "{role}: {pages:?}");
        let mut next = 0;
        while let Some(page) = pages.get(next).cloned() {
            next += 1;
            browser.goto(&page).await;
            for link in browser.links("nav").await {
                if !pages.contains(&link) {
                    pages.push(link);
                }
            }
            let text = browser.page_text().await;
            assert!(!text.contains("Error 4"), "{role} {page}: {text}");
            assert!(!text.contains("Error 5"), "{role} {page}: {text}");
            // Readable without sideways scrolling on the desk screen and on a tablet.
            assert_eq!(browser.overflow_x().await, 0, "{role} {page} at 1366x768");
            browser.resize(768, 1024).await;
            let width = browser.execute("return window.innerWidth;").await;
            assert_eq!(width, 768, "the window did not resize");
            assert_eq!(browser.overflow_x().await, 0, "{role} {page} at 768x1024");
            browser.resize(1366, 768).await;
        }
        browser.press("Log out").await;
    }
    // The login page and an error page too.
    let browser = &mut console.browser;
    if browser.checks_accessibility() {
        // Each role's pages, its login and its logout.
        assert!(
            browser.checked_pages.len() >= 30,
            "{:?}",
            browser.checked_pages
        );
    }
    browser.goto("/no-such-page").await;
    assert!(browser.page_text().await.contains("Error 404"));
    console.finish().await;
}
