//! An administrator's whole journey in a real browser, without curl, ending at a real
//! door: a site with a zone inside another and a door between them made with the
//! console's forms, a door agent registered and the real `door-agent` enrolled with the
//! command the page shows (see `gatehouse_e2e::admin`); a group granted the inner zone;
//! a European HR export (`;`, byte-order mark, CRLF) with a mistake refused with the
//! line's error; the fixed file importing the person into the group; a card issued on
//! the person's page then opening the door, granted by the engine at the door; the
//! person page's "Issue a secure card on the desk reader" saying in words that this
//! server has no desk reader (no button), the site's card keys made on its page, and a
//! stale form's refusal shown in that section of the person page. With
//! `GATEHOUSE_SCREENSHOTS` set to a folder, the section and the refusal are saved there.

use fantoccini::Locator;
use gatehouse_e2e::Console;
use gatehouse_e2e::admin::{self, DOOR, INNER_ZONE, SITE};
use gatehouse_e2e::console::{ADMIN_PASSWORD, AGENT_WAIT, READER};
use gatehouse_e2e::visits::readme_picture;
use serde_json::Value;
use std::time::Duration;

/// The card the administrator issues to the imported person.
const CARD: &str = "0C0FFEE1";

/// Chooses `path` in the page's file field and presses "Import".
async fn upload(console: &mut Console, path: &std::path::Path) {
    let browser = &mut console.browser;
    browser
        .client()
        .find(Locator::Css("#file"))
        .await
        .expect("the file field")
        .send_keys(path.to_str().unwrap())
        .await
        .expect("choose the file");
    browser.press("Import").await;
}

/// Waits until the import's page (which re-reads its progress while the job runs) shows one of
/// its ends; the page's text.
async fn import_ended(console: &Console) -> String {
    let browser = &console.browser;
    let deadline = std::time::Instant::now() + AGENT_WAIT;
    loop {
        let text = browser.text("main").await;
        if text.contains("Imported") || text.contains("Failed") {
            return text;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the import did not end: {text}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Whether `text` shows a UUID (a page should name things instead).
fn shows_an_id(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_hexdigit() && c != '-')
        .any(|word| word.len() == 36 && uuid::Uuid::parse_str(word).is_ok())
}

#[tokio::test]
async fn an_admin_imports_people_and_issues_a_card_that_opens_a_door() {
    let Some(mut console) = Console::start("admin_people", &[]).await else {
        return;
    };
    console.browser.login("admin", ADMIN_PASSWORD).await;
    let model = admin::create_site_with_door(&mut console.browser).await;
    let command = admin::register_agent(&mut console.browser).await;
    let mut enrolled = admin::enroll_as_shown(&console, &command, &model.door, "simulated").await;
    let zones = console
        .api
        .list_all(
            &format!("/zones?site_id={}", model.site),
            &console.admin,
            100,
        )
        .await;
    let lab = zones
        .iter()
        .find(|z| z["name"] == INNER_ZONE)
        .and_then(|z| z["id"].as_str())
        .unwrap()
        .to_owned();

    // A group, granted the door's zone (the inner one, level 2).
    let browser = &mut console.browser;
    browser.goto("/admin/groups").await;
    browser
        .submit_in(
            "form[action='/admin/groups']",
            &[("name", "Night shift")],
            "Make",
        )
        .await;
    assert!(browser.text("h1").await.contains("Night shift"));
    browser
        .submit_in("main", &[("zone", lab.as_str())], "Grant")
        .await;
    let granted = browser.text("main").await;
    assert!(
        granted.contains(&format!("{INNER_ZONE} · {SITE}")),
        "{granted}"
    );

    // The HR file, as a spreadsheet in Europe saves it; line 3's kind is wrong.
    let dir = tempfile::TempDir::new().unwrap();
    let file = dir.path().join("hr-export.csv");
    let header = "\u{feff}external_id;name;kind;employer;clearance;groups\r\n";
    let wrong = format!(
        "{header}E-100;Zoë Müller;staff;\"Acme; Köln\";2;Night shift\r\n\
         E-101;Jan de Vries;contracter;;1;\r\n"
    );
    std::fs::write(&file, &wrong).unwrap();
    console.browser.goto("/admin/import").await;
    upload(&mut console, &file).await;
    let failed = import_ended(&console).await;
    assert!(failed.contains("Failed: nothing imported"), "{failed}");
    let errors = console.browser.text("table.import-errors").await;
    assert!(
        errors
            .lines()
            .any(|l| l.starts_with('3') && l.contains("kind") && l.contains("one of staff")),
        "{errors}"
    );
    console.browser.assert_accessible().await;

    // Fixed and imported again: the person exists, in the group.
    std::fs::write(&file, wrong.replace("contracter", "contractor")).unwrap();
    console.browser.follow("Import another file").await;
    upload(&mut console, &file).await;
    let done = import_ended(&console).await;
    assert!(done.contains("2 people created"), "{done}");
    console.browser.assert_accessible().await;
    console.browser.goto("/admin/import").await;
    let history = console.browser.text("main").await;
    assert!(
        history.contains("Imported") && history.contains("Failed"),
        "{history}"
    );

    let browser = &mut console.browser;
    browser.goto("/admin/people").await;
    browser
        .submit_in("form[role='search']", &[("q", "acme")], "Find")
        .await;
    browser.follow("Zoë Müller").await;
    let groups = browser.text("section[aria-labelledby='groups']").await;
    assert!(groups.contains("Night shift"), "{groups}");

    // A card issued on the person's page; the door's engine lets it in.
    let agent = &mut enrolled.agent;
    let before = agent.status().await.unwrap()["policy_version"]
        .as_u64()
        .unwrap();
    browser
        .submit_in(
            "section[aria-labelledby='cards']",
            &[("card", CARD)],
            "Issue",
        )
        .await;
    let cards = browser.text("section[aria-labelledby='cards']").await;
    assert!(cards.contains(CARD), "{cards}");
    let opens = browser.text("section[aria-labelledby='opens']").await;
    assert!(
        opens.contains(&format!("{DOOR} · {SITE}")) && opens.contains("Opens"),
        "{opens}"
    );
    browser.assert_accessible().await;

    // A secure card on the desk reader: this server (built without PC/SC) has none, so
    // the person page's section says so and how one is added, offering no button.
    let person_page = browser.path().await;
    let desk = "section#desk-reader";
    let section = browser.text(desk).await;
    assert!(
        section.contains("Issue a secure card on the desk reader")
            && section.contains("This server has no desk reader")
            && section.contains("(README, “Secure cards”)"),
        "{section}"
    );
    assert!(!shows_an_id(&section), "{section}");
    let buttons = browser
        .execute(&format!(
            "return document.querySelectorAll({:?}).length;",
            format!("{desk} button, {desk} select")
        ))
        .await;
    assert_eq!(buttons, 0, "{section}");
    browser
        .execute(&format!(
            "document.querySelector({desk:?}).scrollIntoView({{block: 'center'}});"
        ))
        .await;
    readme_picture(browser, "admin-person-secure-card.png").await;
    // The site's card keys, made in its Card keys panel.
    browser.goto(&format!("/admin/sites/{}", model.site)).await;
    browser.click("#create-keys-confirm").await;
    browser
        .press_within("section[aria-labelledby='card-keys']", "Make card keys")
        .await;
    let keys = browser.text("section[aria-labelledby='card-keys']").await;
    assert!(
        keys.contains(&format!("Card key versions of {SITE}")) && !keys.contains("no card keys"),
        "{keys}"
    );
    // The form of a page opened while the server still had a desk reader, pressed now:
    // the person page again, refused in words in the section, scrolled to it.
    browser.goto(&person_page).await;
    browser
        .execute(&format!(
            "const form = document.createElement('form');
             form.method = 'post';
             form.action = location.pathname + '/secure-card#desk-reader';
             form.innerHTML = '<input type=hidden name=site_id value={}>'
               + '<button type=submit>Issue on the desk reader</button>';
             document.querySelector({desk:?}).append(form);",
            model.site
        ))
        .await;
    browser
        .submit_in(desk, &[], "Issue on the desk reader")
        .await;
    assert_eq!(browser.title().await, "Zoë Müller · Gatehouse");
    let refused = browser.text(&format!("{desk} [role='alert']")).await;
    assert!(
        refused.starts_with("This server has no desk reader"),
        "{refused}"
    );
    let page = browser.page_text().await;
    assert!(!page.contains("Conflict") && !shows_an_id(&page), "{page}");
    let shown = browser
        .execute(&format!(
            "const r = document.querySelector({desk:?}).getBoundingClientRect();
             return r.top >= 0 && r.top < window.innerHeight;"
        ))
        .await;
    assert_eq!(shown, true, "the refusal is not in the window");
    readme_picture(browser, "admin-desk-reader-refused.png").await;

    // Who can open the zone: the new card, through the group's grant.
    browser.goto(&format!("/admin/groups/who?zone={lab}")).await;
    let who = browser.text("section[aria-labelledby='allowed']").await;
    assert!(who.contains("Zoë Müller") && who.contains(CARD), "{who}");
    agent
        .wait_status(AGENT_WAIT, "the policy with the new card", |s| {
            s["policy_version"].as_u64() > Some(before)
        })
        .await;
    agent.send_line(&format!("{READER} {CARD}"));
    let event = console
        .wait_event("the new card at the door", |e: &Value| {
            e["kind"] == "presentation" && e["card"] == CARD
        })
        .await;
    assert_eq!(event["outcome"], "granted", "{event}");
    assert_eq!(event["door_id"], model.door.as_str(), "{event}");
    let people = console
        .api
        .list_all("/people?q=Zo", &console.admin, 10)
        .await;
    assert_eq!(event["person_id"], people[0]["id"], "{event}");
    enrolled.agent.stop().await;
    console.finish().await;
}
