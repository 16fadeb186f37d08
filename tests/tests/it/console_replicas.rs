//! The console on two replicas of one PostgreSQL database, in a real browser: an alarm
//! a real door agent uploads to replica B shows live on the alarm page open on replica
//! A; the session works on both (the cookie names the host, not the port), an alarm
//! acknowledged on B shows acknowledged on A, and logging out on B ends the session on
//! A. Skipped without `GATEHOUSE_TEST_POSTGRES_URL` (failed if
//! `GATEHOUSE_TEST_REQUIRE_POSTGRES=1`).

use gatehouse_e2e::Console;
use gatehouse_e2e::console::CSP_VIOLATION;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const CARD: &str = "04A1B2C3D4E5F6";
const LIVE: Duration = Duration::from_secs(5);

/// A new database on the PostgreSQL server of `GATEHOUSE_TEST_POSTGRES_URL`: (the
/// server's URL, the database's name, the database's URL).
async fn postgres_database() -> Option<(String, String, String)> {
    let Ok(server) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
        assert!(
            std::env::var("GATEHOUSE_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
            "GATEHOUSE_TEST_REQUIRE_POSTGRES=1 but GATEHOUSE_TEST_POSTGRES_URL is not set"
        );
        eprintln!("skipped: set GATEHOUSE_TEST_POSTGRES_URL to run the replica browser test");
        return None;
    };
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let name = format!("gatehouse_browser_{}_{nanos}", std::process::id());
    let pool = sqlx::PgPool::connect(&server).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let base = server
        .rsplit_once('/')
        .map_or(server.as_str(), |(base, _)| base);
    let url = format!("{base}/{name}");
    Some((server, name, url))
}

#[tokio::test]
async fn the_console_on_two_replicas_is_one_console() {
    let Some((pg_server, name, url)) = postgres_database().await else {
        return;
    };
    let Some(mut console) = Console::start_on_database("replicas", Some(&url), &[]).await else {
        return;
    };
    let b = console.replica(&url, &[]).await;
    let (site, mut agent) = console.door_agent_of(&b, CARD).await;
    console.login_as("officer", "security").await;
    let browser = &mut console.browser;
    browser.goto("/alarms").await;
    assert!(
        browser
            .text("#alarm-list")
            .await
            .contains("No alarms match")
    );
    browser.wait_stream_open("/alarms/stream").await;

    agent.send_line(&format!("contact {} open", site.door));
    console
        .wait_event("the forced door, uploaded to B", |e| {
            e["kind"] == "forced_open"
        })
        .await;
    agent.send_line(&format!("contact {} closed", site.door));
    let browser = &mut console.browser;
    browser
        .wait_for_text("#alarm-list", "Door forced open", LIVE)
        .await;

    browser.goto(&format!("{}/alarms", b.base_url)).await;
    assert_eq!(
        browser.path().await,
        "/alarms",
        "the session does not work on B"
    );
    browser
        .fill_in("Door forced open", "input[name=note]", "Seen from B")
        .await;
    browser.press_in("Door forced open", "Acknowledge").await;
    browser.goto("/alarms?state=acknowledged").await;
    let done = browser.text("#alarm-list").await;
    assert!(done.contains("by officer: Seen from B"), "{done}");

    browser.goto(&format!("{}/account", b.base_url)).await;
    browser.press("Log out").await;
    browser.goto("/alarms").await;
    assert!(
        browser.path().await.starts_with("/login"),
        "{}",
        browser.path().await
    );

    let b_reports: Vec<String> = b
        .logs()
        .lines()
        .filter(|l| l.contains(CSP_VIOLATION))
        .map(str::to_owned)
        .collect();
    assert!(b_reports.is_empty(), "{b_reports:?}");
    drop(agent);
    drop(b);
    console.finish().await;
    let pool = sqlx::PgPool::connect(&pg_server).await.unwrap();
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {name} WITH (FORCE)"
    )))
    .execute(&pool)
    .await
    .unwrap();
}
