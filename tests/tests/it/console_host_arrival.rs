//! A host's invitation and arrival notice in a real browser, delivered by a real SMTP
//! server (aiosmtpd; see `gatehouse_e2e::smtp`): a host account linked to a person with
//! an email invites a visitor through the console's form (the visitor's invitation email
//! arrives); the receptionist checks the visitor in from `/visits` and the visit's page
//! lists the arrival notice as sent; the host's arrival email arrives, naming the visitor
//! in its subject; the host sees the visitor under "Arrived today" on My visitors. With
//! `GATEHOUSE_SCREENSHOTS` set, the README's pictures of the visit's page (an NDA to
//! sign and a pool card to hand out, registered through the API for it) and of My
//! visitors are taken.

use gatehouse_e2e::Console;
use gatehouse_e2e::browser::PAGE_TIMEOUT;
use gatehouse_e2e::smtp::SmtpSink;
use gatehouse_e2e::visits::{
    Invitation, host_account, invite, readme_page_picture, readme_picture, section, visit_place,
};
use serde_json::json;

const HOST_EMAIL: &str = "hana.host@harbour.example";
const VISITOR_EMAIL: &str = "hugo.guest@northwind.example";

#[tokio::test]
async fn a_host_invites_and_is_emailed_when_the_visitor_arrives() {
    let test = "console_host_arrival";
    let Some(smtp) = SmtpSink::start(test).await else {
        return;
    };
    let env = smtp.server_env();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let Some(mut console) = Console::start(test, &env).await else {
        return;
    };
    let place = visit_place(&console, "Hana Host", "sam-security").await;
    let email = json!({"email": HOST_EMAIL});
    let set = console
        .api
        .put(
            &format!("/people/{}/email", place.host),
            &console.admin,
            &email,
        )
        .await;
    assert_eq!(set.status().as_u16(), 204, "the host's email");
    let nda = json!({"kind": "nda", "title": "Visitor NDA", "site_id": place.site,
        "body": "What you see here stays here."});
    console
        .api
        .created(&console.admin, "/document-templates", nda)
        .await;
    let pool = json!({"site_id": place.site, "card": "04F15170000007", "label": "V-07"});
    console
        .api
        .created(&console.admin, "/visitor-cards", pool)
        .await;
    let host_password = host_account(&console, "hana", &place.host).await;
    let desk_password = console.operator("rita", "receptionist").await;

    // The host invites Hugo; his invitation reaches him.
    console.browser.login("hana", &host_password).await;
    console.browser.goto("/visits/new").await;
    let hugo = Invitation {
        email: VISITOR_EMAIL,
        ..Invitation::to_lobby(&place, "Hugo Guest", None)
    };
    let path = invite(&mut console.browser, &place, &hugo).await;
    let invitation = smtp.wait_message_to(VISITOR_EMAIL).await;
    assert!(
        invitation["subject"]
            .as_str()
            .is_some_and(|s| s.contains("Harbour House")),
        "{invitation}"
    );
    console.browser.goto("/").await;
    console.browser.press("Log out").await;

    // The receptionist checks him in from the list; the visit's page shows the notice.
    let browser = &mut console.browser;
    browser.login("rita", &desk_password).await;
    browser.press_in("Hugo Guest", "Check in Hugo Guest").await;
    let arrival = smtp.wait_message_to(HOST_EMAIL).await;
    assert_eq!(arrival["rcpt_tos"], json!([HOST_EMAIL]), "{arrival}");
    assert!(arrival["to"].as_str().unwrap().contains(HOST_EMAIL));
    let subject = arrival["subject"].as_str().unwrap();
    assert_eq!(subject, "Hugo Guest has arrived at Harbour House");
    // Recorded as sent once the server heard the SMTP server's answer.
    let sent = gatehouse_e2e::wait_until(PAGE_TIMEOUT, "the notice sent", async || {
        browser.goto(&path).await;
        let notices = section(browser, "visit-notices").await;
        notices
            .lines()
            .any(|l| l.starts_with("Arrival notice to the host") && l.contains("sent"))
            .then_some(notices)
    })
    .await;
    assert!(sent.contains(HOST_EMAIL), "{sent}");
    readme_page_picture(browser, "visit.png").await;
    browser.goto("/").await;
    browser.press("Log out").await;

    // The host sees the arrival in the console too.
    browser.login("hana", &host_password).await;
    assert_eq!(browser.path().await, "/visits");
    let arrived = section(browser, "arrived-today").await;
    assert!(arrived.contains("Hugo Guest"), "{arrived}");
    readme_picture(browser, "visits-host.png").await;
    console.finish().await;
}
