//! A receptionist's and a host's visits in a real browser: a security officer opens the
//! lobby to visitors (API); the receptionist invites a visitor with the console's form,
//! finds them under "Expected today", checks them in with one click from the list, sees
//! them "On site now" and checks them out from the visit's page; a host account linked
//! to a person invites its own visitor and, once the receptionist checks them in, sees
//! them under "Arrived today". With `GATEHOUSE_SCREENSHOTS` set, the README's pictures
//! of `/visits` and `/visits/new` are taken on the way.

use chrono::{Duration, Utc};
use gatehouse_e2e::Console;
use gatehouse_e2e::visits::{LOBBY, VisitPlace, host_account, visit_place};
use std::path::PathBuf;

/// `HH:MM` at the place's site, `minutes` from now.
fn local(place: &VisitPlace, minutes: i64) -> String {
    let at = Utc::now() + Duration::hours(place.offset_h) + Duration::minutes(minutes);
    at.format("%H:%M").to_string()
}

/// Today's date at the place's site.
fn today(place: &VisitPlace) -> String {
    (Utc::now() + Duration::hours(place.offset_h))
        .format("%Y-%m-%d")
        .to_string()
}

/// Fills the invitation form and presses "Invite" (the browser is on `/visits/new`).
async fn invite(console: &mut Console, place: &VisitPlace, name: &str, host: Option<&str>) {
    let browser = &mut console.browser;
    browser
        .click(&format!("input[name='zone'][value='{}']", place.lobby))
        .await;
    let (start, end, today) = (local(place, 30), local(place, 150), today(place));
    let mut fields = vec![
        ("visitor_name", name),
        ("visitor_organisation", "Northwind"),
        ("visitor_email", "visitor@example.com"),
        ("date", today.as_str()),
        ("start", start.as_str()),
        ("end", end.as_str()),
        ("purpose", "Quarterly review"),
    ];
    if let Some(host) = host {
        fields.push(("host_person_id", host));
    }
    browser
        .submit_in("form.visit-form", &fields, "Invite")
        .await;
    let path = browser.path().await;
    assert!(
        path.starts_with("/visits/") && !path.ends_with("/new"),
        "the invitation was refused: {}",
        browser.page_text().await
    );
}

/// The text of `/visits`'s section headed `heading`.
async fn section(console: &Console, id: &str) -> String {
    console
        .browser
        .text(&format!("section[aria-labelledby='{id}']"))
        .await
}

fn screenshots() -> Option<PathBuf> {
    std::env::var_os("GATEHOUSE_SCREENSHOTS").map(PathBuf::from)
}

#[tokio::test]
async fn a_receptionist_checks_a_visitor_in_and_out_and_a_host_sees_the_arrival() {
    let Some(mut console) = Console::start("console_visits", &[]).await else {
        return;
    };
    let place = visit_place(&console, "Hana Host", "sam-security").await;
    let host_password = host_account(&console, "hana", &place.host).await;
    let desk_password = console.operator("rita", "receptionist").await;

    // The receptionist invites Vera through the form.
    console.browser.login("rita", &desk_password).await;
    assert_eq!(console.browser.path().await, "/visits");
    console.browser.goto("/visits/new").await;
    let form = console.browser.page_text().await;
    assert!(
        form.contains(LOBBY) && form.contains("visits up to 8 hours"),
        "{form}"
    );
    if let Some(folder) = screenshots() {
        let picture = console.browser.screenshot().await;
        std::fs::write(folder.join("visit-new.png"), picture).expect("a screenshot");
    }
    invite(&mut console, &place, "Vera Visitor", Some(&place.host)).await;
    let visit = console.browser.page_text().await;
    assert!(
        visit.contains("Hana Host") && visit.contains("Expected"),
        "{visit}"
    );

    // Expected today; one click checks her in, and she is on site.
    console.browser.goto("/visits").await;
    assert!(
        section(&console, "expected-today")
            .await
            .contains("Vera Visitor")
    );
    if let Some(folder) = screenshots() {
        let picture = console.browser.screenshot().await;
        std::fs::write(folder.join("visits.png"), picture).expect("a screenshot");
    }
    console
        .browser
        .press_in("Vera Visitor", "Check in Vera Visitor")
        .await;
    assert_eq!(console.browser.path().await, "/visits");
    assert!(section(&console, "on-site").await.contains("Vera Visitor"));
    assert!(
        !section(&console, "expected-today")
            .await
            .contains("Vera Visitor")
    );

    // The host invites its own visitor; the receptionist checks him in.
    console.browser.goto("/").await;
    console.browser.press("Log out").await;
    console.browser.login("hana", &host_password).await;
    assert_eq!(console.browser.path().await, "/visits");
    assert!(console.browser.title().await.contains("My visitors"));
    // Vera came for Hana: already in Hana's arrivals.
    assert!(
        section(&console, "arrived-today")
            .await
            .contains("Vera Visitor")
    );
    console.browser.goto("/visits/new").await;
    assert!(
        console
            .browser
            .page_text()
            .await
            .contains("Host: Hana Host")
    );
    invite(&mut console, &place, "Hugo Guest", None).await;
    console.browser.goto("/visits").await;
    assert!(
        !section(&console, "arrived-today")
            .await
            .contains("Hugo Guest")
    );
    console.browser.goto("/").await;
    console.browser.press("Log out").await;

    console.browser.login("rita", &desk_password).await;
    console
        .browser
        .press_in("Hugo Guest", "Check in Hugo Guest")
        .await;
    // Vera leaves: checked out from her visit's page.
    console.browser.follow("Vera Visitor").await;
    console.browser.press("Check out").await;
    assert!(console.browser.page_text().await.contains("Left"));
    console.browser.goto("/visits").await;
    let on_site = section(&console, "on-site").await;
    assert!(
        on_site.contains("Hugo Guest") && !on_site.contains("Vera Visitor"),
        "{on_site}"
    );
    console.browser.goto("/").await;
    console.browser.press("Log out").await;

    console.browser.login("hana", &host_password).await;
    let arrived = section(&console, "arrived-today").await;
    assert!(
        arrived.contains("Hugo Guest") && arrived.contains("Vera Visitor"),
        "{arrived}"
    );
    // Newest first: Hugo arrived after Vera.
    assert!(
        arrived.find("Hugo Guest") < arrived.find("Vera Visitor"),
        "{arrived}"
    );
    console.assert_no_csp_violation();
    console.finish().await;
}
