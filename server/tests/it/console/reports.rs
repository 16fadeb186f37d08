//! The reports page over the hand-counted fixture of `crate::reports`: the figures in
//! words, names and local dates, a chart next to each table's numbers, every table as
//! CSV with a header row; for admins and auditors, not for receptionists; bad dates
//! refused naming the field.

use super::client::Console;
use crate::common::{ADMIN_PASSWORD, PASSWORD, TestApp, TestDb};
use reqwest::StatusCode;

conformance!(the_page_and_its_csv_show_the_fixture);

async fn the_page_and_its_csv_show_the_fixture(db: &TestDb) {
    // The server first: it creates its admin on an empty database only.
    let app = TestApp::start_on(db).await;
    let fixture = crate::reports::fixture(db).await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "audrey", "auditor").await;
    app.create_operator(&admin, "rita", "receptionist").await;
    let query = format!("site={}&from=2025-10-25&to=2025-10-27", fixture.site);

    let auditor = Console::login(&app, "audrey", PASSWORD).await;
    let page = auditor.get(&format!("/reports?{query}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let body = &page.body;
    for shown in [
        "2025-10-25 to 2025-10-27 (days in Europe/Berlin)",
        // The per-day chart and its numbers.
        "<svg class=\"chart\" role=\"img\" aria-label=\"Entries and denials per day\"",
        "<td>2025-10-26</td><td>2</td><td>2</td>",
        // Doors by name, reasons and alarms in words, durations readable.
        "<td>Front door</td><td>6</td><td>3</td><td>0</td><td>4</td>",
        "<td>No access grant for the zone</td><td>2</td>",
        "<td>Door held open</td><td>4</td><td>4</td><td>2 min 0 s</td><td>15 min 0 s</td>",
        "<td>Door forced open</td><td>1</td><td>0</td><td>—</td><td>—</td>",
        "<td>08:00–09:00</td><td>1.3</td><td>2</td>",
        "<td>Vetted 29</td>",
        "Within 30 days: 1; 31 to 60 days: 2; 61 to 90 days: 2.",
        "<td>Nora Novet</td><td>never vetted</td><td>Lab</td>",
        "<td>Pia Pending</td><td>0A0091</td>",
        "/reports/days.csv?",
        "print this page",
    ] {
        assert!(body.contains(shown), "{shown} missing from:\n{body}");
    }
    assert!(!body.contains("Vetted 91"));
    assert!(!body.contains("style="), "no inline style (CSP)");

    let csv = auditor.get(&format!("/reports/days.csv?{query}")).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    assert_eq!(
        csv.body,
        "Date,Entries,Denials\n2025-10-25,2,1\n2025-10-26,2,2\n2025-10-27,3,3\n"
    );
    let doors = auditor.get(&format!("/reports/doors.csv?{query}")).await;
    assert_eq!(
        doors.body,
        "Door,Entries,Denials,Forced open,Held open\nBack door,0,0,0,0\n\
         Front door,6,3,0,4\nLab door,1,3,1,0\n"
    );
    let reasons = auditor.get(&format!("/reports/reasons.csv?{query}")).await;
    assert_eq!(
        reasons.body,
        "Reason,Denials\nNo access grant for the zone,2\nVetting missing or expired,2\n\
         Outside the grant's schedule,1\nUnknown card,1\n"
    );
    let alarms = auditor.get(&format!("/reports/alarms.csv?{query}")).await;
    assert!(
        alarms
            .body
            .contains("Door held open,4,4,2 min 0 s,15 min 0 s\n"),
        "{}",
        alarms.body
    );
    for table in [
        "incidents",
        "occupancy",
        "vetting-expiring",
        "unvetted",
        "dormant-cards",
    ] {
        let answer = auditor.get(&format!("/reports/{table}.csv?{query}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{table}");
        assert!(answer.body.lines().count() >= 2, "{table}: {}", answer.body);
    }
    let unknown = auditor.get(&format!("/reports/nothing.csv?{query}")).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Defaults: the only site, the last 30 days.
    let admin = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let default = admin.get("/reports").await;
    assert_eq!(default.status, StatusCode::OK);
    assert!(
        default.body.contains("<strong>HQ</strong>"),
        "{}",
        default.body
    );

    // Bad input: 422 naming the field; the receptionist may not see reports.
    let bad = admin.get("/reports?from=2025-13-01").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("from"));
    let backwards = admin.get("/reports?from=2025-10-27&to=2025-10-25").await;
    assert_eq!(backwards.status, StatusCode::UNPROCESSABLE_ENTITY);
    let long = admin.get("/reports?from=2020-01-01&to=2025-10-25").await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    let receptionist = Console::login(&app, "rita", PASSWORD).await;
    let refused = receptionist.get(&format!("/reports?{query}")).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = receptionist
        .get(&format!("/reports/days.csv?{query}"))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}
