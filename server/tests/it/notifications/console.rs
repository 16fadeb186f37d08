//! The console's notifications page: a failed invitation with its error and local time,
//! "Send again" for the front desk only, and the retry it posts (the API's store call).

use super::support::{invitation, quick_settings, visit, wait_for_state};
use crate::common::{PASSWORD, TestApp, TestDb};
use crate::console::client::Console;
use gatehouse_server::notify::Notifier;
use reqwest::StatusCode;

conformance!(the_page_shows_a_failure_and_the_desk_sends_it_again);

async fn the_page_shows_a_failure_and_the_desk_sends_it_again(db: &TestDb) {
    // No SMTP server configured: the invitation fails at once, visibly.
    let settings = quick_settings(db);
    let app = TestApp::start_with(settings.clone()).await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "desk", "receptionist").await;
    app.create_operator(&admin, "auditor", "auditor").await;
    let store = db.store().await;
    let visit = visit(&store, 4).await;
    let new = Notifier::new(settings.notify.clone()).invitation(&invitation(visit));
    store
        .enqueue_notifications(std::slice::from_ref(&new))
        .await
        .unwrap();
    wait_for_state(&app, &admin, visit, new.id, "failed").await;

    let desk = Console::login(&app, "desk", PASSWORD).await;
    let page = desk.get("/notifications?state=failed").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    for shown in [
        "Invitation (email)",
        "vera@visitor.example",
        "Vera Visitor",
        "Failed",
        "SMTP not configured",
        " CET",
        "Send again",
    ] {
        assert!(page.body.contains(shown), "{shown} missing: {}", page.body);
    }
    let form = format!("action=\"/notifications/{}/retry\"", new.id);
    assert!(page.body.contains(&form));
    let sent_only = desk.get("/notifications?state=sent").await;
    assert!(sent_only.body.contains("No notifications match."));

    let auditor = Console::login(&app, "auditor", PASSWORD).await;
    let read_only = auditor.get("/notifications").await;
    assert_eq!(read_only.status, StatusCode::OK);
    assert!(read_only.body.contains("SMTP not configured"));
    assert!(
        !read_only.body.contains(&form),
        "no retry form for an auditor"
    );
    let path = format!("/notifications/{}/retry", new.id);
    let refused = auditor.submit(&path, &[]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);

    let retried = desk.submit(&path, &[]).await;
    assert_eq!(retried.status, StatusCode::SEE_OTHER, "{}", retried.body);
    assert_eq!(retried.location(), "/notifications");
    let log = store.list_operator_log(None, 500).await.unwrap();
    let entry = log
        .iter()
        .find(|e| e.action == "notification.retry")
        .expect("the retry is in the operator log");
    assert_eq!(entry.actor, "desk");
    // Sent again, and failed again for the same reason: one attempt this time.
    let again = wait_for_state(&app, &admin, visit, new.id, "failed").await;
    assert_eq!(again["attempts"], 1);
    app.stop().await;
}
