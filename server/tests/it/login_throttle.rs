//! The login throttle holds under parallel attempts: the failure budget is taken before
//! the password is checked, in one transaction, so a burst of simultaneous guesses for
//! one account from one address gets no more password checks than the budget allows —
//! on SQLite, on PostgreSQL, and across two replicas on one PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{ADMIN_PASSWORD, TestApp, TestDb};
use futures_util::future::join_all;
use reqwest::StatusCode;

conformance!(
    parallel_guesses_get_at_most_the_backoff_budget,
    parallel_guesses_get_at_most_the_hourly_cap,
    a_successful_login_gives_its_attempt_back,
);

/// Sends `n` wrong passwords for `admin` at once, spread over `apps`; returns how many
/// got 401 (their password was checked) and how many 429.
async fn burst(apps: &[&TestApp], n: usize) -> (usize, usize) {
    let attempts = (0..n).map(|i| apps[i % apps.len()].try_login("admin", "wrong-password"));
    let statuses: Vec<StatusCode> = join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    let checked = statuses
        .iter()
        .filter(|s| **s == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(checked + throttled, n, "only 401 and 429: {statuses:?}");
    (checked, throttled)
}

/// Failures recorded for the account in the last hour: every attempt whose password was
/// checked left one.
async fn recorded_failures(db: &TestDb) -> i64 {
    let store = db.store().await;
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    store
        .login_failures("user:admin", since)
        .await
        .unwrap()
        .count
}

/// Starts a server on `db` with the given throttle settings, sends `n` parallel wrong
/// passwords and checks that at most `budget` reached the password check and the rest
/// were refused.
async fn burst_is_bounded(db: &TestDb, backoff_after: u32, cap: u32, n: usize) {
    let mut settings = db.settings();
    settings.auth.login_backoff_after = backoff_after;
    settings.auth.login_max_failures_per_hour = cap;
    let app = TestApp::start_with(settings).await;
    let budget = usize::try_from(backoff_after.min(cap)).unwrap();
    let (checked, throttled) = burst(&[&app], n).await;
    assert!(
        checked <= budget,
        "{checked} of {n} attempts reached the password check (budget {budget})"
    );
    assert!(checked >= 1, "the first attempt is checked");
    assert_eq!(throttled, n - checked);
    assert_eq!(recorded_failures(db).await, i64::try_from(checked).unwrap());
    app.stop().await;
}

/// The back-off (after 5 failures) bounds a burst of 50.
async fn parallel_guesses_get_at_most_the_backoff_budget(db: &TestDb) {
    burst_is_bounded(db, 5, 100, 50).await;
}

/// The hourly cap bounds a burst when it is lower than the back-off threshold.
async fn parallel_guesses_get_at_most_the_hourly_cap(db: &TestDb) {
    burst_is_bounded(db, 1000, 3, 20).await;
}

async fn a_successful_login_gives_its_attempt_back(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    for _ in 0..4 {
        assert_eq!(
            app.try_login("admin", "wrong-password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // A success while four failures stand: allowed, and it is not counted.
    app.login("admin", ADMIN_PASSWORD).await;
    let store = db.store().await;
    let since = chrono::Utc::now() - chrono::Duration::hours(1);
    let address = store.login_failures("ip:127.0.0.1", since).await.unwrap();
    assert_eq!(
        address.count, 4,
        "the address keeps its failures, not the success"
    );
    assert_eq!(
        recorded_failures(db).await,
        0,
        "the account's are forgotten"
    );
    app.stop().await;
}

#[tokio::test]
async fn parallel_guesses_across_two_replicas_get_at_most_the_budget() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, b) = tokio::join!(TestApp::start_on(&db), TestApp::start_on(&db));
    let (checked, _) = burst(&[&a, &b], 50).await;
    assert!(
        checked <= 5,
        "{checked} of 50 attempts reached the password check"
    );
    assert_eq!(
        recorded_failures(&db).await,
        i64::try_from(checked).unwrap()
    );
    a.stop().await;
    b.stop().await;
}
