//! `PUT /auth/me/password`: every role changes its own password with the current one;
//! the session making the change stays, the others end; a wrong current password is a
//! 422 that counts toward the login throttle; the change is in the operator log, the
//! hash never.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{ADMIN_PASSWORD, PASSWORD, TestApp, TestDb, invalid};
use gatehouse_core::role::Role;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

conformance!(
    every_role_changes_its_own_password_and_keeps_only_this_session,
    a_wrong_current_password_changes_nothing_and_is_throttled,
    an_unusable_new_password_changes_nothing,
);

const NEW_PASSWORD: &str = "a-brand-new-password";

async fn change(app: &TestApp, token: &str, current: &str, new: &str) -> Response {
    app.request(Method::PUT, "/api/v1/auth/me/password", Some(token))
        .json(&json!({"current_password": current, "new_password": new}))
        .send()
        .await
        .unwrap()
}

async fn every_role_changes_its_own_password_and_keeps_only_this_session(db: &TestDb) {
    // Each role tries its old password once: from one address, more than the default
    // back-off allows.
    let mut settings = db.settings();
    settings.auth.login_backoff_after = 50;
    let app = TestApp::start_with(settings).await;
    let admin = app.admin_token().await;
    // The admin last: changing its password ends the `admin` session used above.
    let mut roles: Vec<Role> = Role::ALL
        .into_iter()
        .filter(|r| *r != Role::Admin)
        .collect();
    roles.push(Role::Admin);
    for role in roles {
        let (name, password) = if role == Role::Admin {
            ("admin", ADMIN_PASSWORD)
        } else {
            app.create_operator(&admin, role.as_str(), role.as_str())
                .await;
            (role.as_str(), PASSWORD)
        };
        let this = app.login(name, password).await;
        let other = app.login(name, password).await;
        let me: Value = app.get_json("/api/v1/auth/me", &this).await;

        let answer = change(&app, &this, password, NEW_PASSWORD).await;
        assert_eq!(answer.status(), StatusCode::NO_CONTENT, "{role}");

        assert_eq!(
            app.get("/api/v1/auth/me", &this).await.status(),
            StatusCode::OK,
            "{role}: the session that changed it stays"
        );
        assert_eq!(
            app.get("/api/v1/auth/me", &other).await.status(),
            StatusCode::UNAUTHORIZED,
            "{role}: other sessions end"
        );
        assert_eq!(
            app.try_login(name, password).await.status(),
            StatusCode::UNAUTHORIZED,
            "{role}: the old password is gone"
        );
        app.login(name, NEW_PASSWORD).await;

        let reader = if role == Role::Admin { &this } else { &admin };
        let log: Value = app.get_json("/api/v1/operator-log?limit=500", reader).await;
        let entry = log["items"].as_array().unwrap().last().unwrap().clone();
        assert_eq!(entry["action"], "operator.set_password", "{role}: {entry}");
        assert_eq!(entry["actor"], name);
        assert_eq!(entry["target_id"], me["id"]);
        assert!(!log.to_string().contains("$argon2"), "a hash in the log");
    }
    app.stop().await;
}

async fn a_wrong_current_password_changes_nothing_and_is_throttled(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "hank", "host").await;
    let hank = app.login("hank", PASSWORD).await;
    let other = app.login("hank", PASSWORD).await;
    for _ in 0..5 {
        invalid(
            change(&app, &hank, "not-my-password", NEW_PASSWORD).await,
            "current_password",
        )
        .await;
    }
    // Five failures: the account waits now, even with the right current password.
    let throttled = change(&app, &hank, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(throttled.headers().contains_key("retry-after"));
    // And so does logging in.
    assert_eq!(
        app.try_login("hank", PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        app.get("/api/v1/auth/me", &other).await.status(),
        StatusCode::OK,
        "no session ended"
    );
    let log: Value = app.get_json("/api/v1/operator-log?limit=500", &admin).await;
    let changes = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "operator.set_password")
        .count();
    assert_eq!(changes, 0, "nothing was changed: {log}");
    app.stop().await;
}

async fn an_unusable_new_password_changes_nothing(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "rita", "receptionist").await;
    let rita = app.login("rita", PASSWORD).await;
    invalid(change(&app, &rita, PASSWORD, "short").await, "new_password").await;
    invalid(
        change(&app, &rita, PASSWORD, PASSWORD).await,
        "new_password",
    )
    .await;
    let missing = app
        .request(Method::PUT, "/api/v1/auth/me/password", Some(&rita))
        .json(&json!({"new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let anonymous = app
        .request(Method::PUT, "/api/v1/auth/me/password", None)
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    app.login("rita", PASSWORD).await;
    app.stop().await;
}
