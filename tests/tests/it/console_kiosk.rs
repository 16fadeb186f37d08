//! A kiosk in a real browser: an administrator registers it and reads its one-time code;
//! the tablet's browser types the code once and becomes the kiosk; a visitor types the
//! check-in code as a keyboard-wedge scanner does (the code, then Enter), confirms who
//! they are and is checked in; a walk-in registers and waits for reception. axe checks
//! every page on the way.

use chrono::{Duration, Utc};
use gatehouse_e2e::Console;
use gatehouse_e2e::console::ADMIN_PASSWORD;
use gatehouse_e2e::visits::visit_place;
use serde_json::json;

/// WebDriver's Enter key.
const ENTER: &str = "\u{E007}";

#[tokio::test]
async fn a_visitor_checks_in_at_the_kiosk_with_the_code_and_a_walk_in_registers() {
    let Some(mut console) = Console::start("console_kiosk", &[]).await else {
        return;
    };
    let place = visit_place(&console, "Hana Host", "sam-security").await;
    let now = Utc::now();
    let visit = json!({"visitor_name": "Vera Visitor", "visitor_organisation": "Northwind",
        "host_person_id": place.host, "window_start": now - Duration::minutes(10),
        "window_end": now + Duration::hours(2), "allowed_zone_ids": [place.lobby]});
    let visit = console.api.created(&console.admin, "/visits", visit).await;
    let code = visit["check_in_code"].as_str().unwrap().to_owned();

    // The administrator registers the kiosk and reads its code.
    let browser = &mut console.browser;
    browser.login("admin", ADMIN_PASSWORD).await;
    browser.goto("/admin/kiosks").await;
    browser
        .submit_in(
            "form[action='/admin/kiosks']",
            &[("name", "Main lobby")],
            "Register kiosk",
        )
        .await;
    let enrolment = browser.text("#kiosk-code").await;
    browser.press("Log out").await;

    // The tablet becomes the kiosk.
    browser.goto("/kiosk").await;
    assert!(browser.page_text().await.contains("Set up this kiosk"));
    browser.fill("#kiosk-code", &enrolment).await;
    browser.press("Make this browser the kiosk").await;
    assert!(browser.page_text().await.contains("Type or scan the code"));

    // The scanner types the code and Enter into the focused field.
    assert!(
        browser.focused().await.contains("checkin-code"),
        "the code field has focus"
    );
    browser
        .keys(&format!("{}{ENTER}", code.to_lowercase()), true)
        .await;
    let confirm = browser.page_text().await;
    assert!(
        confirm.contains("Vera Visitor") && confirm.contains("visiting Hana Host"),
        "{confirm}"
    );
    browser.press("Yes, check me in").await;
    assert!(browser.page_text().await.contains("You are checked in"));
    let path = format!("/visits/{}", visit["id"].as_str().unwrap());
    assert_eq!(console.get(&path).await["status"], "checked_in");

    // A walk-in registers for reception.
    let browser = &mut console.browser;
    browser.follow("Done").await;
    browser.follow("I have no invitation").await;
    let fields = [
        ("name", "Wanda Walker"),
        ("organisation", "Contoso"),
        ("host", "Hana Host"),
    ];
    browser
        .submit_in("form[action='/kiosk/walk-in']", &fields, "Register")
        .await;
    assert!(
        browser
            .page_text()
            .await
            .contains("Reception will be with you")
    );
    let walk_ins = console.get("/visits?q=wanda").await;
    assert_eq!(walk_ins["items"][0]["status"], "invited");
    console.finish().await;
}
