//! An auditor's journey in a real browser: the events page filtered to the office zone
//! and this month hands its filters to the Audit trail page ("Export these records…"),
//! which downloads the export (as the page's form asks for it, with the browser's
//! session) and the public key; the `gatehouse audit verify-export` command
//! the page shows accepts the file on a machine with no database, and the file holds
//! the forced door at the zone's door and Alice's entry, by name. A name search narrows
//! the person choice, and the form takes its values from the address. The whole-trail
//! verification runs from the page and shows its result; the auditor's POST to an
//! admin form is refused.

use chrono::{Datelike, Months, NaiveDate, Utc};
use gatehouse_e2e::console::{AGENT_WAIT, READER};
use gatehouse_e2e::{Console, gatehouse_command, run_to_exit};
use serde_json::Value;
use tempfile::TempDir;

const CARD: &str = "04A1B2C3D4E5F6";

/// Fills the export form with `fields` (by name; a select by its option's text), then
/// fetches what its button would download, with the page's session.
const DOWNLOAD: &str = "
    const [fields] = arguments;
    const form = document.querySelector('form[action=\"/audit/export\"]');
    for (const [name, value] of Object.entries(fields)) {
      const field = form.elements[name];
      if (field.tagName === 'SELECT') {
        const option = Array.from(field.options).find(o => o.text.startsWith(value));
        if (!option) { return 'no option ' + value; }
        field.value = option.value;
      } else if (field.length && !field.tagName) {
        for (const radio of field) { radio.checked = radio.value === value; }
      } else {
        field.value = value;
      }
    }
    const url = '/audit/export?' + new URLSearchParams(new FormData(form));
    return fetch(url, {credentials: 'same-origin'}).then(r => r.text());";

#[tokio::test]
async fn an_auditor_exports_a_zones_month_and_verifies_it_offline() {
    let Some(mut console) = Console::start("auditor_export", &[]).await else {
        return;
    };
    let (site, mut agent) = console.door_agent(CARD).await;
    agent.send_line(&format!("{READER} {CARD}"));
    console
        .wait_event("Alice's entry", |e| e["kind"] == "presentation")
        .await;
    // Once the lock has closed again (the grant's unlock ended unused), an opening is
    // forced.
    console
        .wait_event("the unlock's end", |e| {
            e["kind"] == "not_opened_after_grant"
        })
        .await;
    agent.send_line(&format!("contact {} open", site.door));
    console
        .wait_event("the forced door", |e| e["kind"] == "forced_open")
        .await;
    agent.send_line(&format!("contact {} closed", site.door));

    console.login_as("auditor", "auditor").await;
    let browser = &mut console.browser;
    browser.goto("/audit").await;
    let page = browser.text("main").await;
    assert!(page.contains("Verify the whole trail"), "{page}");
    let command = browser.text("pre.command").await;
    assert!(
        command.starts_with("gatehouse audit verify-export --public-key gatehouse-audit.pub"),
        "{command}"
    );

    // A name search narrows the person choice; the events page's filters prefill the form.
    browser.fill("#x-person-name", "Ali").await;
    browser.press("Find").await;
    let people = browser.text("#x-person").await;
    assert!(people.contains("Alice"), "{people}");
    browser.goto("/audit?kind=forced_open&outcome=denied").await;
    let prefilled = browser
        .execute(
            "const value = id => document.getElementById(id).value;
             return [value('x-kind'), value('x-outcome')];",
        )
        .await;
    assert_eq!(prefilled, serde_json::json!(["forced_open", "denied"]));

    // The journey proper starts on the events page: the Office zone's month (site-local
    // fields) shows Alice's entry and the forced door at the zone's door, and "Export
    // these records…" hands the filters to the Audit trail page.
    let today = Utc::now().naive_utc().date();
    let first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap();
    let next = first.checked_add_months(Months::new(1)).unwrap();
    let month = |d: NaiveDate| format!("{d}T00:00");
    browser.goto("/events").await;
    let chosen = browser
        .execute(
            "const zone = document.getElementById('f-zone');
             const office = Array.from(zone.options).find(o => o.text.includes('Office'));
             if (!office) { return false; }
             zone.value = office.value;
             return true;",
        )
        .await;
    assert_eq!(chosen, Value::Bool(true), "no Office in the zone filter");
    let (from, to) = (month(first), month(next));
    browser
        .submit_in("form.filters", &[("from", &from), ("to", &to)], "Search")
        .await;
    let listed = browser.text("main").await;
    assert!(listed.contains("Alice"), "{listed}");
    assert!(listed.contains("Door forced open"), "{listed}");
    browser.follow("Export these records…").await;
    let prefilled = browser
        .execute(
            "const field = id => document.getElementById(id);
             const zone = field('x-zone');
             return [zone.options[zone.selectedIndex].text, field('x-from').value,
                     field('x-to').value];",
        )
        .await;
    assert!(
        prefilled[0].as_str().unwrap().contains("Office"),
        "{prefilled}"
    );
    assert_eq!(prefilled[1], from.as_str(), "{prefilled}");
    assert_eq!(prefilled[2], to.as_str(), "{prefilled}");
    let fields = serde_json::json!({
        "site": "HQ", "zone": "Office", "from": month(first), "to": month(next),
        "format": "csv",
    });
    let export = browser
        .client()
        .execute(DOWNLOAD, vec![fields])
        .await
        .unwrap();
    let export = export.as_str().unwrap().to_owned();
    assert!(
        export.starts_with("local_time,kind,person_name"),
        "{export}"
    );
    let key = browser
        .execute(
            "return fetch('/audit/public-key', {credentials: 'same-origin'}).then(r => r.text());",
        )
        .await;

    // The auditor's machine: the two files and the command the page shows.
    let elsewhere = TempDir::new().unwrap();
    std::fs::write(elsewhere.path().join("gatehouse-audit.csv"), &export).unwrap();
    std::fs::write(
        elsewhere.path().join("gatehouse-audit.pub"),
        key.as_str().unwrap(),
    )
    .unwrap();
    let mut verify = gatehouse_command(elsewhere.path());
    let words: Vec<&str> = command.split_whitespace().skip(1).collect();
    verify.args(&words);
    let verified = run_to_exit(verify, None).await;
    assert_eq!(verified.status.code(), Some(0), "{verified:?}\n{export}");
    let report: Value = serde_json::from_slice(&verified.stdout).unwrap();
    assert!(report["names_as_of"].is_string(), "{report}");

    // The readable columns come first and hold no comma here: local_time, kind,
    // person_name, organisation, door_name, zone_name, site_name, outcome, reason, type.
    let shown: Vec<(&str, &str, &str, &str)> = export
        .lines()
        .map(|line| line.split(',').collect::<Vec<_>>())
        .filter(|cells| cells.len() > 9 && cells[9] == "record")
        .map(|cells| (cells[1], cells[2], cells[4], cells[5]))
        .collect();
    assert!(
        shown.contains(&("forced_open", "", "Front", "Office")),
        "the forced door at the zone's door: {shown:?}"
    );
    assert!(
        shown.contains(&("presentation", "Alice", "Front", "Office")),
        "{shown:?}"
    );

    // The whole trail, verified from the page.
    let browser = &mut console.browser;
    browser.press("Verify the trail now").await;
    let result = browser
        .wait_for_text("#verify-result", "Every record verifies", AGENT_WAIT)
        .await;
    assert!(result.contains("nothing was altered"), "{result}");
    let page = browser.text("main").await;
    assert!(page.contains("entries and"), "{page}");
    browser.assert_accessible().await;

    // An auditor changes nothing: an admin form's POST is refused.
    let status = browser
        .post_form(
            &format!("/threat/{}", site.site),
            &[("level", "3"), ("clearance_raise", "0")],
        )
        .await;
    assert_eq!(status, 403);
    console.finish().await;
}
