//! An administrator's journey in a real browser, without curl: a site with a zone inside
//! another and a door between them, created through the console's forms; a door agent
//! registered, its `door-agent enroll` command read from the page and run word for word
//! with the real `door-agent` (only the configuration file's path is the test's); the
//! agent started, shown online on the agents page and its door online on the door
//! board; the site's first card keys made in its Card keys panel. Every page passed on
//! the way is checked with axe (and, with `GATEHOUSE_SCREENSHOTS` set to a folder, the
//! Card keys panel is saved there as `admin-card-keys.png`).

use gatehouse_e2e::Console;
use gatehouse_e2e::admin::{self, AGENT, DOOR, SHOWN_CONFIG};
use gatehouse_e2e::console::AGENT_WAIT;
use gatehouse_e2e::visits::readme_picture;

#[tokio::test]
async fn an_admin_builds_a_site_and_enrols_a_door_agent() {
    let Some(mut console) = Console::start("admin_model", &[]).await else {
        return;
    };
    console
        .browser
        .login("admin", gatehouse_e2e::console::ADMIN_PASSWORD)
        .await;
    let model = admin::create_site_with_door(&mut console.browser).await;

    let command = admin::register_agent(&mut console.browser).await;
    let expected = format!(
        "door-agent enroll --server {} --code ",
        console.server.base_url
    );
    assert!(command.starts_with(&expected), "{command}");
    assert!(
        command.ends_with(&format!(" --config {SHOWN_CONFIG}")),
        "{command}"
    );
    let page = console.browser.page_text().await;
    assert!(page.contains("shown only now"), "{page}");

    let mut enrolled = admin::enroll_as_shown(&console, &command, &model.door, "simulated").await;

    // The agents page shows it enrolled and online; the door board shows the door online.
    let browser = &mut console.browser;
    browser.goto("/admin/agents").await;
    let row = browser.text("tr[data-agent]").await;
    assert!(row.contains(AGENT) && row.contains("online"), "{row}");
    assert!(row.contains(DOOR), "{row}");
    browser.goto("/desk").await;
    let tile = format!("article[data-door='{}']", model.door);
    browser.wait_for_text(&tile, "online", AGENT_WAIT).await;
    assert!(browser.text(&tile).await.contains(DOOR));
    // The site's page names the agent serving the door.
    browser.goto(&format!("/admin/sites/{}", model.site)).await;
    let doors = browser.text("section[aria-labelledby='doors'] table").await;
    assert!(doors.contains(AGENT), "{doors}");

    // The site's first card keys, made in its Card keys panel (the box ticked first):
    // version 1 is current, and a rotation is offered in place of the first keys.
    let keys = "section[aria-labelledby='card-keys']";
    let none = browser.text(keys).await;
    assert!(none.contains("This site has no card keys yet."), "{none}");
    browser.click("#create-keys-confirm").await;
    browser.press_within(keys, "Make card keys").await;
    let version = browser.text(&format!("{keys} tbody tr")).await;
    assert!(version.starts_with("1 current"), "{version}");
    let panel = browser.text(keys).await;
    assert!(
        panel.contains("Rotate card keys") && !panel.contains("Make card keys"),
        "{panel}"
    );
    readme_picture(browser, "admin-card-keys.png").await;

    // The zone's and the door's own pages, a schedule, the accounts and the health page
    // (each checked with axe as it loads).
    browser.follow(admin::INNER_ZONE).await;
    assert!(browser.page_text().await.contains("Building › Lab"));
    browser
        .goto(&format!("/admin/sites/{}/doors/{}", model.site, model.door))
        .await;
    assert!(
        browser
            .page_text()
            .await
            .contains(&format!("Door agent: {AGENT} (online)"))
    );
    browser.goto("/admin/schedules").await;
    browser
        .submit_in(
            "form[action='/admin/schedules']",
            &[
                ("name", "Office hours"),
                ("windows", "mon-fri 08:00-18:00\nsat 22:00-02:00"),
                ("holidays", "2026-12-25"),
            ],
            "Create schedule",
        )
        .await;
    let schedule = browser.page_text().await;
    assert!(schedule.contains("Mon–Fri 08:00–18:00"), "{schedule}");
    assert!(
        schedule.contains("Sat 22:00–02:00 (into the next day)"),
        "{schedule}"
    );
    browser.goto("/admin/operators").await;
    browser.goto("/admin/health").await;
    assert!(
        browser
            .page_text()
            .await
            .contains("1 of 1 enrolled door agents online")
    );

    enrolled.agent.stop().await;
    console.finish().await;
}
