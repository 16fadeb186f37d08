//! A blocked watchlist match in a real browser: security lists a name (API); the
//! receptionist's check-in of a visitor with that name (accent and word order aside) is
//! held with the reason; the security officer finds the match on the Screening page,
//! allows it with a note; the receptionist checks the visitor in.

use chrono::{Duration, Utc};
use gatehouse_e2e::Console;
use gatehouse_e2e::visits::visit_place;
use serde_json::json;

#[tokio::test]
async fn a_blocked_visitor_is_held_until_an_officer_allows_the_match() {
    let Some(mut console) = Console::start("console_screening", &[]).await else {
        return;
    };
    let place = visit_place(&console, "Hana Host", "sam").await;
    let officer = console.api.token("sam", "sam-password-1").await;
    let entry =
        json!({"name": "VISITOR, Véra", "reason": "Banned after an incident", "action": "block"});
    console.api.created(&officer, "/watchlist", entry).await;
    let now = Utc::now();
    let visit = json!({"visitor_name": "Vera Visitor", "host_person_id": place.host,
        "window_start": now - Duration::minutes(10), "window_end": now + Duration::hours(2),
        "allowed_zone_ids": [place.lobby]});
    let visit = console.api.created(&console.admin, "/visits", visit).await;
    let path = format!("/visits/{}", visit["id"].as_str().unwrap());
    let desk = console.operator("rita", "receptionist").await;

    // The desk's check-in is held, and says why.
    let browser = &mut console.browser;
    browser.login("rita", &desk).await;
    browser.goto(&path).await;
    assert!(browser.page_text().await.contains("awaiting a decision"));
    browser.press("Check in").await;
    assert!(
        browser
            .page_text()
            .await
            .contains("security officer must decide")
    );
    browser.goto("/").await;
    browser.press("Log out").await;

    // The officer allows the match with a note.
    browser.login("sam", "sam-password-1").await;
    browser.goto("/screenings").await;
    let pending = browser.text("section[aria-labelledby='pending-h']").await;
    assert!(
        pending.contains("Vera Visitor") && pending.contains("check-in blocked"),
        "{pending}"
    );
    let note = [("note", "A namesake: another date of birth on her passport")];
    browser
        .submit_in(
            "section[aria-labelledby='pending-h']",
            &note,
            "Allow Vera Visitor",
        )
        .await;
    let decided = browser.text("section[aria-labelledby='decided-h']").await;
    assert!(
        decided.contains("allowed") && decided.contains("namesake"),
        "{decided}"
    );
    browser.press("Log out").await;

    // Now the desk checks her in.
    browser.login("rita", &desk).await;
    browser.goto(&path).await;
    browser.press("Check in").await;
    assert_eq!(console.get(&path).await["status"], "checked_in");
    console.finish().await;
}
