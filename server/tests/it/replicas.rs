//! Several server processes on one PostgreSQL database behave as one server: a token
//! from one works on the other, and logout, disabling and throttling reach both at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{ADMIN_PASSWORD, PASSWORD, TestApp, TestDb};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn two_replicas_share_sessions_revocation_and_throttling() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    // Both start on an empty database at once: one bootstrap admin, one signing key.
    let (a, b) = tokio::join!(TestApp::start_on(&db), TestApp::start_on(&db));

    let admin = a.admin_token().await;
    assert_eq!(
        b.get("/api/v1/auth/me", &admin).await.status(),
        StatusCode::OK,
        "token from A works on B"
    );
    let id = b.create_operator(&admin, "guard", "security").await;
    let guard = a.login("guard", PASSWORD).await;
    assert_eq!(
        b.get("/api/v1/auth/me", &guard).await.status(),
        StatusCode::OK
    );

    // Logout on B ends the session on A.
    let out = b
        .request(Method::POST, "/api/v1/auth/logout", Some(&guard))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        a.get("/api/v1/auth/me", &guard).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Disabling on A ends sessions on B.
    let guard = b.login("guard", PASSWORD).await;
    let disabled = a
        .patch(
            &format!("/api/v1/operators/{id}"),
            &admin,
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(
        b.get("/api/v1/auth/me", &guard).await.status(),
        StatusCode::UNAUTHORIZED
    );

    // Failures on one replica count on the other.
    for app in [&a, &b, &a, &b, &a] {
        assert_eq!(
            app.try_login("admin", "wrong-password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        b.try_login("admin", ADMIN_PASSWORD).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    let log: serde_json::Value = b.get_json("/api/v1/operator-log", &admin).await;
    let creates = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "operator.create")
        .count();
    assert_eq!(creates, 2, "one bootstrap admin and one guard: {log}");
    a.stop().await;
    b.stop().await;
}
