//! The visit flow tells people: an invitation email when a visitor with an address is
//! invited, an arrival notice to the host's address at check-in (recorded whatever the
//! delivery: here no SMTP server is configured, so each ends `failed`, visibly).

use super::support::{put, site, visit};
use crate::common::{ADMIN_PASSWORD, TestApp, TestDb, expect};
use crate::console::client::Console;
use reqwest::StatusCode;
use serde_json::{Value, json};

conformance!(invitations_and_arrivals_are_notified);

async fn notices(app: &TestApp, token: &str, visit: &str) -> Vec<Value> {
    let path = format!("/api/v1/notifications?visit_id={visit}");
    let page = app.get_json(&path, token).await;
    page["items"].as_array().unwrap().clone()
}

async fn invitations_and_arrivals_are_notified(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let email = json!({"email": "hana.host@example.org"});
    let set = put(
        &app,
        &s.admin,
        &format!("/api/v1/people/{}/email", s.host),
        email,
    )
    .await;
    assert_eq!(set.status(), StatusCode::NO_CONTENT);
    let bad = put(
        &app,
        &s.admin,
        &format!("/api/v1/people/{}/email", s.host),
        json!({"email": "nope"}),
    )
    .await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    // The same from the person's page in the console.
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let form = format!("/admin/people/{}/email", s.host);
    let refused = console.submit(&form, &[("email", "not an address")]).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    let saved = console
        .submit(&form, &[("email", " hana.host@example.org ")])
        .await;
    assert_eq!(saved.status, StatusCode::SEE_OTHER);
    let page = console.get(&format!("/admin/people/{}", s.host)).await;
    assert!(page.body.contains("hana.host@example.org"));
    let mut body = visit(&s.host, &[&s.lobby], 60);
    body["visitor_email"] = json!("vera@example.org");
    let v = expect(
        app.post("/api/v1/visits", &s.admin, body).await,
        StatusCode::CREATED,
    )
    .await;
    let id = v["id"].as_str().unwrap();
    let invited = notices(&app, &s.admin, id).await;
    assert_eq!(invited.len(), 1, "{invited:?}");
    assert_eq!(
        (
            invited[0]["kind"].as_str(),
            invited[0]["recipient"].as_str()
        ),
        (Some("invitation"), Some("vera@example.org"))
    );
    // No address, no invitation.
    let silent = expect(
        app.post("/api/v1/visits", &s.admin, visit(&s.host, &[&s.lobby], 60))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert!(
        notices(&app, &s.admin, silent["id"].as_str().unwrap())
            .await
            .is_empty()
    );

    expect(
        app.post(
            &format!("/api/v1/visits/{id}/check-in"),
            &s.admin,
            json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let all = notices(&app, &s.admin, id).await;
    let arrival: Vec<&Value> = all.iter().filter(|n| n["kind"] == "arrival").collect();
    assert_eq!(arrival.len(), 1, "{all:?}");
    assert_eq!(arrival[0]["recipient"], "hana.host@example.org");
    assert!(
        arrival[0]["subject"]
            .as_str()
            .unwrap()
            .contains("Vera Visitor")
    );
}
