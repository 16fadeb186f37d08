//! A receptionist's and a host's visits in a real browser: a security officer opens the
//! lobby to visitors (API); the receptionist invites a visitor with the console's form,
//! finds them under "Expected today", checks them in with one click from the list, sees
//! them "On site now" and checks them out from the visit's page; a host account linked
//! to a person invites its own visitor and, once the receptionist checks them in, sees
//! them under "Arrived today". With `GATEHOUSE_SCREENSHOTS` set, the README's pictures
//! of `/visits` and `/visits/new` are taken on the way.

use chrono::{Duration, Utc};
use gatehouse_e2e::Console;
use gatehouse_e2e::visits::{
    Invitation, LOBBY, host_account, invite, readme_picture, section, visit_place,
};
use serde_json::json;

#[tokio::test]
async fn a_receptionist_checks_a_visitor_in_and_out_and_a_host_sees_the_arrival() {
    let Some(mut console) = Console::start("console_visits", &[]).await else {
        return;
    };
    let place = visit_place(&console, "Hana Host", "sam-security").await;
    let host_password = host_account(&console, "hana", &place.host).await;
    let desk_password = console.operator("rita", "receptionist").await;
    // Another visitor expected this afternoon (registered through the API).
    let now = Utc::now();
    let omar = json!({"visitor_name": "Omar Haddad", "visitor_organisation": "Contoso",
        "host_person_id": place.host, "allowed_zone_ids": [place.lobby],
        "window_start": now + Duration::hours(3), "window_end": now + Duration::hours(5)});
    console.api.created(&console.admin, "/visits", omar).await;

    // The receptionist invites Vera through the form.
    console.browser.login("rita", &desk_password).await;
    assert_eq!(console.browser.path().await, "/visits");
    console.browser.goto("/visits/new").await;
    let form = console.browser.page_text().await;
    assert!(
        form.contains(LOBBY) && form.contains("visits up to 8 hours"),
        "{form}"
    );
    let vera = Invitation::to_lobby(&place, "Vera Visitor", Some(&place.host));
    // The form as the receptionist fills it in (the README's picture).
    let browser = &console.browser;
    browser.fill("#v-name", vera.visitor).await;
    browser.fill("#v-org", "Northwind").await;
    browser.fill("#v-email", vera.email).await;
    readme_picture(browser, "visit-new.png").await;
    invite(&mut console.browser, &place, &vera).await;
    let visit = console.browser.page_text().await;
    assert!(
        visit.contains("Hana Host") && visit.contains("Expected"),
        "{visit}"
    );

    // Expected today; one click checks her in, and she is on site.
    console.browser.goto("/visits").await;
    assert!(
        section(&console.browser, "expected-today")
            .await
            .contains("Vera Visitor")
    );
    console
        .browser
        .press_in("Vera Visitor", "Check in Vera Visitor")
        .await;
    assert_eq!(console.browser.path().await, "/visits");
    readme_picture(&console.browser, "visits.png").await;
    assert!(
        section(&console.browser, "on-site")
            .await
            .contains("Vera Visitor")
    );
    assert!(
        !section(&console.browser, "expected-today")
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
        section(&console.browser, "arrived-today")
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
    let hugo = Invitation::to_lobby(&place, "Hugo Guest", None);
    invite(&mut console.browser, &place, &hugo).await;
    console.browser.goto("/visits").await;
    assert!(
        !section(&console.browser, "arrived-today")
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
    let on_site = section(&console.browser, "on-site").await;
    assert!(
        on_site.contains("Hugo Guest") && !on_site.contains("Vera Visitor"),
        "{on_site}"
    );
    console.browser.goto("/").await;
    console.browser.press("Log out").await;

    console.browser.login("hana", &host_password).await;
    let arrived = section(&console.browser, "arrived-today").await;
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
