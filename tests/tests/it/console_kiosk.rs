//! A kiosk in a real browser: an administrator registers it and reads its one-time code;
//! the tablet's browser types the code once and becomes the kiosk; a visitor types the
//! check-in code as a keyboard-wedge scanner does (the code, then Enter), confirms who
//! they are, signs the site's document (typed name and consent; the drawing pad is
//! there too), is checked in and prints the badge; a walk-in registers and waits for
//! reception. axe checks every page on the way.

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
    let nda = json!({"kind": "nda", "title": "Visitor NDA", "site_id": place.site,
        "body": "What you see here stays here.\nThank you."});
    console
        .api
        .created(&console.admin, "/document-templates", nda)
        .await;

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
    assert!(confirm.contains("sign one document"), "{confirm}");
    browser.press("Yes, continue").await;

    // The document, signed with the typed name and the consent box.
    let document = browser.page_text().await;
    assert!(
        document.contains("Visitor NDA") && document.contains("What you see here stays here."),
        "{document}"
    );
    let pad = browser
        .execute("return document.querySelectorAll('.signature-pad canvas').length;")
        .await;
    assert_eq!(
        pad,
        json!(1),
        "console.js draws the signature pad on the kiosk"
    );
    let html = browser.html("main").await;
    assert!(
        !html.contains(visit["id"].as_str().unwrap()),
        "no visit id: {html}"
    );
    browser.fill("#kiosk-typed-name", "Vera Visitor").await;
    browser.click("#kiosk-consent").await;
    browser.press("Sign Visitor NDA").await;
    let done = browser.page_text().await;
    assert!(done.contains("You are checked in"), "{done}");
    assert!(done.contains("Hana Host has been told"), "{done}");
    let path = format!("/visits/{}", visit["id"].as_str().unwrap());
    assert_eq!(console.get(&path).await["status"], "checked_in");
    let documents = console.get(&format!("{path}/documents")).await;
    assert_eq!(documents["signed"][0]["typed_name"], "Vera Visitor");

    // The badge link answers the kiosk's browser with a PDF.
    let browser = &mut console.browser;
    let badge = browser
        .links("main")
        .await
        .into_iter()
        .find(|href| href.starts_with("/kiosk/badge?code="))
        .expect("a badge link on the done page");
    let fetched = browser
        .execute(&format!(
            "return fetch({badge:?}, {{credentials: 'same-origin'}})
               .then(r => r.arrayBuffer().then(b => [r.status,
                 r.headers.get('content-type'),
                 String.fromCharCode.apply(null, new Uint8Array(b).slice(0, 4))]));"
        ))
        .await;
    assert_eq!(fetched, json!([200, "application/pdf", "%PDF"]), "{badge}");

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

    // A visitor who does not agree to a document is sent to reception.
    let browser = &mut console.browser;
    browser.goto("/kiosk/declined").await;
    assert!(
        browser
            .page_text()
            .await
            .contains("You have not been checked in")
    );
    console.finish().await;
}
