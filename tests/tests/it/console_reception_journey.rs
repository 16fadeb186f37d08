//! A receptionist's whole visit in a real browser, with a real `door-agent` serving two
//! doors: security opens the office to visitors, reception registers a pool card and
//! security publishes an NDA for the site (API). The receptionist pre-registers the
//! visitor with the console's form; the visit's page shows the watchlist screening
//! (clear); she checks the visitor in, has the NDA signed on the desk's documents page,
//! prints the badge from the page's link (the PDF's QR code decoded back to the check-in
//! code by zbar), hands out the pool card; the card opens the office door and is refused
//! at the lab's (`zone_not_in_visit`); she checks the visitor out and the card is refused
//! at the office door too and back in the pool. axe checks every page on the way.

use gatehouse_e2e::Console;
use gatehouse_e2e::console::{LAB_READER, READER};
use gatehouse_e2e::visits::{Invitation, VisitPlace, invite, late_morning_zone};
use serde_json::{Value, json};

const STAFF_CARD: &str = "04C0FFEE000001";
const POOL_CARD: &str = "04F15170000007";

/// The pool card presented at `door` with `outcome`.
fn presentation(door: &str, outcome: &'static str) -> impl Fn(&Value) -> bool {
    let door = door.to_owned();
    move |e: &Value| {
        e["kind"] == "presentation"
            && e["card"] == POOL_CARD
            && e["door_id"] == door.as_str()
            && e["outcome"] == outcome
    }
}

#[tokio::test]
async fn a_receptionist_runs_a_whole_visit_and_the_card_opens_only_the_visit_s_door() {
    let Some(mut console) = Console::start("console_reception_journey", &[]).await else {
        return;
    };
    let (site, lab, mut agent) = console.two_door_agent(STAFF_CARD).await;
    let (api, admin) = (&console.api, console.admin.as_str());
    // Late morning at the site, whenever the test runs: the visit fits in today.
    let tz = late_morning_zone();
    let moved = api
        .patch(
            &format!("/sites/{}", site.site),
            admin,
            &json!({"timezone": tz.name()}),
        )
        .await;
    assert_eq!(moved.status().as_u16(), 200, "the site's time zone");
    let door = console.get(&format!("/doors/{}", site.door)).await;
    let office = door["to_zone_id"].as_str().unwrap().to_owned();
    let rule = json!({"longest_visit_minutes": 480});
    let opened = api
        .put(&format!("/zones/{office}/visitor-rule"), admin, &rule)
        .await;
    assert_eq!(opened.status().as_u16(), 200);
    let pool = json!({"site_id": site.site, "card": POOL_CARD, "label": "V-07"});
    let pool = api.created(admin, "/visitor-cards", pool).await;
    let pool = format!("/visitor-cards/{}", pool["id"].as_str().unwrap());
    let nda = json!({"kind": "nda", "title": "Visitor NDA", "site_id": site.site,
        "body": "What you see here stays here."});
    let nda = api.created(admin, "/document-templates", nda).await;
    let nda = nda["id"].as_str().unwrap().to_owned();
    let place = VisitPlace {
        site: site.site.clone(),
        lobby: office.clone(),
        host: site.person.clone(),
        host_name: "Alice".to_owned(),
        tz,
    };
    let desk = console.operator("rita", "receptionist").await;

    // Pre-registered with the form: the visit's page shows the screening.
    let browser = &mut console.browser;
    browser.login("rita", &desk).await;
    browser.goto("/visits/new").await;
    let vera = Invitation {
        visitor: "Vera Visitor",
        email: "vera@visitor.example",
        zone: &office,
        // Started a few minutes ago: the card works from the window's start.
        from_min: -5,
        until_min: 120,
        host: Some(&site.person),
    };
    let path = invite(browser, &place, &vera).await;
    let visit = console.get(&path).await;
    assert_eq!(visit["status"], "invited", "{visit}");
    let browser = &mut console.browser;
    let screening = browser
        .text("section[aria-labelledby='visit-screening']")
        .await;
    assert!(screening.contains("clear"), "{screening}");

    // Checked in on the visit's page, screened again.
    browser.press("Check in").await;
    assert_eq!(browser.path().await, path);
    assert!(browser.page_text().await.contains("On site"));
    let documents = browser
        .text("section[aria-labelledby='visit-documents']")
        .await;
    assert!(documents.contains("1 document to sign"), "{documents}");

    // The NDA signed at the desk: typed name and consent.
    browser.follow("Documents and signed copies").await;
    assert!(
        browser
            .page_text()
            .await
            .contains("What you see here stays here.")
    );
    browser.fill(&format!("#name-{nda}"), "Vera Visitor").await;
    browser.click(&format!("#consent-{nda}")).await;
    browser.press("Sign Visitor NDA").await;
    let signed = browser.page_text().await;
    assert!(signed.contains("Nothing to sign"), "{signed}");
    assert!(signed.contains("Vera Visitor"), "{signed}");

    // The badge, from the visit page's link: a PDF whose QR code is the check-in code.
    browser.goto(&path).await;
    let documents = browser
        .text("section[aria-labelledby='visit-documents']")
        .await;
    assert!(documents.contains("Nothing to sign"), "{documents}");
    let links = browser
        .links("section[aria-labelledby='visit-badge']")
        .await;
    let badge = links
        .iter()
        .find(|l| l.ends_with("size=cr80"))
        .unwrap_or_else(|| panic!("a card-size badge link: {links:?}"));
    let pdf = browser.fetch(badge).await;
    assert_eq!(pdf.status, 200, "{badge}");
    assert_eq!(pdf.content_type, "application/pdf");
    assert!(pdf.body.starts_with(b"%PDF-"), "a PDF");
    if let Some(read) = gatehouse_e2e::pdf::read_back("the badge", &pdf.body) {
        assert_eq!(read.qr, visit["check_in_code"].as_str().unwrap());
        assert!(read.text.contains("Vera Visitor"), "{}", read.text);
    }

    // The pool card handed out on the same page.
    browser.press("Hand out card").await;
    assert_eq!(console.get(&pool).await["state"], "issued");

    // It opens the office door, and not the lab's: the lab is not part of the visit.
    console.wait_agent_current(&mut agent, "the card").await;
    agent.send_line(&format!("{READER} {POOL_CARD}"));
    console
        .wait_event("the visitor's entry", presentation(&site.door, "granted"))
        .await;
    agent.send_line(&format!("{LAB_READER} {POOL_CARD}"));
    let refused = console
        .wait_event("the lab's refusal", presentation(&lab.door, "denied"))
        .await;
    assert_eq!(refused["reason"], "zone_not_in_visit", "{refused}");

    // Checked out: refused at the office door too, and back in the pool.
    console.browser.goto(&path).await;
    console.browser.press("Check out").await;
    assert!(console.browser.page_text().await.contains("Left"));
    console
        .wait_agent_current(&mut agent, "the check-out")
        .await;
    agent.send_line(&format!("{READER} {POOL_CARD}"));
    let refused = console
        .wait_event("the refusal", presentation(&site.door, "denied"))
        .await;
    assert_eq!(refused["reason"], "credential_inactive", "{refused}");
    assert_eq!(console.get(&pool).await["state"], "available");
    console.finish().await;
}
