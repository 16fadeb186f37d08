//! Console sessions: cookie attributes, the shared throttle, logout, idle and absolute
//! ends, revocation with the API's sessions, on both databases and across replicas.

use super::client::Console;
use crate::common::{ADMIN_PASSWORD, PASSWORD, TestApp, TestDb};
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::json;
use std::time::Duration;

async fn login_cookie_and_homes(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    for (name, role) in [
        ("guard", "security"),
        ("desk", "receptionist"),
        ("reviewer", "auditor"),
        ("hostess", "host"),
    ] {
        app.create_operator(&admin, name, role).await;
    }
    let mut console = Console::new(&app);
    let answer = console
        .submit(
            "/login",
            &[("username", "admin"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(answer.location(), "/desk");
    let cookie = answer.headers[SET_COOKIE].to_str().unwrap().to_owned();
    let attributes: Vec<&str> = cookie.split("; ").skip(1).collect();
    assert_eq!(
        attributes,
        ["Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=43200"],
        "no Secure over plain HTTP"
    );
    console.cookie = Some(cookie.split(';').next().unwrap().to_owned());
    let desk = console.get("/desk").await;
    assert_eq!(desk.status, StatusCode::OK);
    assert!(desk.body.contains("Door board"));
    assert_eq!(console.get("/").await.location(), "/desk");
    // Already logged in: the login page sends the operator home.
    assert_eq!(console.get("/login").await.location(), "/desk");

    for (name, home) in [
        ("guard", "/desk"),
        ("desk", "/visits"),
        ("reviewer", "/events"),
        ("hostess", "/visits"),
    ] {
        let answer = Console::new(&app)
            .submit("/login", &[("username", name), ("password", PASSWORD)])
            .await;
        assert_eq!(answer.location(), home, "home of {name}");
    }
    // Back to where the login was asked for; never to another site.
    let answer = Console::new(&app)
        .submit(
            "/login",
            &[
                ("username", "guard"),
                ("password", PASSWORD),
                ("next", "/alarms?state=all"),
            ],
        )
        .await;
    assert_eq!(answer.location(), "/alarms?state=all");
    let answer = Console::new(&app)
        .submit(
            "/login",
            &[
                ("username", "guard"),
                ("password", PASSWORD),
                ("next", "//evil.example/"),
            ],
        )
        .await;
    assert_eq!(answer.location(), "/desk");
    app.stop().await;
}

async fn wrong_password_and_shared_throttle(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let console = Console::new(&app);
    let wrong = console
        .submit(
            "/login",
            &[("username", "admin"), ("password", "not-the-password")],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("Wrong username or password."));
    assert!(wrong.headers.get(SET_COOKIE).is_none());
    assert!(
        wrong.body.contains("value=\"admin\""),
        "the username is kept"
    );
    // Failures through the API and the console fill one budget (5 before backing off).
    for _ in 0..4 {
        app.try_login("admin", "not-the-password").await;
    }
    let throttled = console
        .submit(
            "/login",
            &[("username", "admin"), ("password", ADMIN_PASSWORD)],
        )
        .await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.body.contains("Too many failed attempts"));
    app.stop().await;
}

async fn logout_ends_the_session(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let out = console.submit("/logout", &[]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    assert_eq!(out.location(), "/login");
    assert!(
        out.headers[SET_COOKIE]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    // The old cookie no longer works, even if the browser kept it.
    let again = console.get("/alarms").await;
    assert_eq!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(again.location(), "/login?next=%2Falarms");
    app.stop().await;
}

async fn idle_and_absolute_ends(db: &TestDb) {
    let mut settings = db.settings();
    settings.console.idle_timeout_s = 1;
    settings.console.session_lifetime_s = 3;
    let app = TestApp::start_with(settings).await;
    // Idle: one second without a request ends it.
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    assert_eq!(console.get("/alarms").await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(console.get("/alarms").await.status, StatusCode::SEE_OTHER);

    // Absolute: requests every 400 ms keep it from going idle, but not past 3 s.
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let started = std::time::Instant::now();
    let mut ended_after = None;
    while started.elapsed() < Duration::from_secs(6) {
        if console.get("/alarms").await.status == StatusCode::SEE_OTHER {
            ended_after = Some(started.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let ended_after = ended_after.expect("the session outlived its lifetime");
    assert!(
        ended_after >= Duration::from_millis(2500),
        "kept alive by use until the lifetime: ended after {ended_after:?}"
    );
    app.stop().await;
}

async fn revoked_with_api_sessions(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let id = app.create_operator(&admin, "guard", "security").await;
    let path = format!("/api/v1/operators/{id}");

    let console = Console::login(&app, "guard", PASSWORD).await;
    let changed = app.patch(&path, &admin, json!({"role": "auditor"})).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(
        console.get("/alarms").await.status,
        StatusCode::SEE_OTHER,
        "role change"
    );

    let console = Console::login(&app, "guard", PASSWORD).await;
    let disabled = app
        .patch(&path, &admin, json!({"status": "disabled"}))
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(
        console.get("/alarms").await.status,
        StatusCode::SEE_OTHER,
        "disabled"
    );
    app.stop().await;
}

async fn own_password_change_keeps_this_session_only(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "guard", "security").await;
    let here = Console::login(&app, "guard", PASSWORD).await;
    let elsewhere = Console::login(&app, "guard", PASSWORD).await;
    let wrong = here
        .submit(
            "/account/password",
            &[
                ("current_password", "wrong-password-1"),
                ("new_password", "a-new-password-1"),
            ],
        )
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.body.contains("is not your current password"));
    let done = here
        .submit(
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "a-new-password-1"),
            ],
        )
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(done.body.contains("Your password was changed"));
    assert_eq!(here.get("/account").await.status, StatusCode::OK);
    assert_eq!(
        elsewhere.get("/account").await.status,
        StatusCode::SEE_OTHER
    );
    app.try_login("guard", "a-new-password-1")
        .await
        .error_for_status()
        .unwrap();
    app.stop().await;
}

conformance!(
    login_cookie_and_homes,
    wrong_password_and_shared_throttle,
    logout_ends_the_session,
    idle_and_absolute_ends,
    revoked_with_api_sessions,
    own_password_change_keeps_this_session_only,
);

/// Two replicas on one PostgreSQL database: a console session opened on one works on
/// the other, and logging out on either ends it on both.
#[tokio::test]
async fn replicas_share_console_sessions() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let (a, b) = tokio::join!(TestApp::start_on(&db), TestApp::start_on(&db));
    let on_a = Console::login(&a, "admin", ADMIN_PASSWORD).await;
    let cookie = on_a.cookie.clone().unwrap();
    let on_b = Console::with_cookie(&b, &cookie);
    assert_eq!(on_b.get("/alarms").await.status, StatusCode::OK);
    on_b.submit("/logout", &[]).await;
    assert_eq!(on_a.get("/alarms").await.status, StatusCode::SEE_OTHER);
    a.stop().await;
    b.stop().await;
}
