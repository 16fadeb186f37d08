//! The notifications page in a real browser: a failed invitation and a delivered arrival
//! webhook (written to the database as the visit flow writes them), read by the front
//! desk in site-local words, accessible (axe) and fitting a tablet; "Send again" puts the
//! failed one back in the queue and the server's own worker records the new attempt; an
//! auditor sees the same list without the button.

use gatehouse_e2e::{Console, database_url, wait_until};
use serde_json::Value;
use std::time::Duration;

const LONG_ERROR: &str = "SMTP: Connection error: Connection refused (os error 111) \
    (gave up after 6 attempts)";

#[tokio::test]
async fn the_desk_sees_a_failed_notification_and_sends_it_again() {
    let Some(mut console) =
        Console::start("notifications", &[("GATEHOUSE__NOTIFY__POLL_MS", "50")]).await
    else {
        return;
    };
    let failed = sqlx::types::Uuid::now_v7();
    let sent = sqlx::types::Uuid::now_v7();
    let pool = sqlx::SqlitePool::connect(&database_url(console.dir.path()))
        .await
        .unwrap();
    let at = chrono::Utc::now();
    for (id, kind, channel, recipient, state, attempts, error, delivered) in [
        (
            failed,
            "invitation",
            "email",
            "a.very.long.visitor.address@subsidiary.example.org",
            "failed",
            6,
            Some(LONG_ERROR),
            None,
        ),
        (
            sent,
            "arrival",
            "webhook",
            "hooks.example.org",
            "sent",
            2,
            None,
            Some(at),
        ),
    ] {
        sqlx::query(
            "INSERT INTO notifications (id, kind, channel, recipient, subject, message, \
             state, attempts, next_attempt_at, last_error, delivered_at, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, 'Your visit to HQ', X'', $5, $6, $7, $8, \
             $9, $7, $7)",
        )
        .bind(id)
        .bind(kind)
        .bind(channel)
        .bind(recipient)
        .bind(state)
        .bind(attempts)
        .bind(at)
        .bind(error)
        .bind(delivered)
        .execute(&pool)
        .await
        .unwrap();
    }
    pool.close().await;

    console.login_as("desk-1", "receptionist").await;
    let browser = &mut console.browser;
    browser.goto("/notifications").await;
    let text = browser.text("main").await;
    for shown in [
        "Invitation (email)",
        "Arrival notice (webhook)",
        "hooks.example.org",
        "Failed",
        "Sent",
        LONG_ERROR,
    ] {
        assert!(text.contains(shown), "{shown}: {text}");
    }
    assert_eq!(browser.overflow_x().await, 0, "at 1366x768");
    browser.resize(768, 1024).await;
    assert_eq!(browser.overflow_x().await, 0, "at 768x1024");
    browser.resize(1366, 768).await;

    browser
        .press_in("a.very.long.visitor.address", "Send again")
        .await;
    assert_eq!(browser.path().await, "/notifications");
    // No SMTP server is configured: the worker tries once more and records why it failed.
    let api = &console.api;
    let admin = &console.admin;
    let again = wait_until(Duration::from_secs(30), "the new attempt", async || {
        let page: Value =
            gatehouse_e2e::expect_json(api.get("/notifications?state=failed", admin).await, 200)
                .await;
        page["items"]
            .as_array()?
            .iter()
            .find(|n| n["id"] == failed.to_string() && n["last_error"] == "SMTP not configured")
            .cloned()
    })
    .await;
    assert_eq!(again["attempts"], 1, "{again}");
    let browser = &mut console.browser;
    browser.goto("/notifications?state=failed").await;
    let text = browser.text("main").await;
    assert!(text.contains("SMTP not configured"), "{text}");
    assert!(
        !text.contains("hooks.example.org"),
        "filtered to failed: {text}"
    );
    browser.press("Log out").await;

    console.login_as("auditor-1", "auditor").await;
    let browser = &mut console.browser;
    browser.goto("/notifications").await;
    let html = browser.html("main").await;
    assert!(html.contains("SMTP not configured"));
    assert!(!html.contains("Send again"), "an auditor cannot retry");
    console.finish().await;
}
