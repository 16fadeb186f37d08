//! Forged, altered, expired and revoked tokens all get 401. Tests that need the real
//! signing key read it from the database, as an attacker who stole it would: even then
//! the algorithm, audience, issuer, time claims and session must all hold.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{PASSWORD, TestApp, TestDb};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn me_status(app: &TestApp, token: &str) -> StatusCode {
    app.get("/api/v1/auth/me", token).await.status()
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn signing_key(db: &TestDb) -> Vec<u8> {
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let key: Vec<u8> =
        sqlx::query_scalar("SELECT secret FROM server_keys WHERE name = 'jwt-hs256'")
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    key
}

fn sign(alg: Algorithm, claims: &Value, key: &[u8]) -> String {
    jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(key)).unwrap()
}

#[tokio::test]
async fn forged_and_altered_tokens_are_rejected() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "desk", "receptionist").await;
    let token = app.login("desk", PASSWORD).await;
    assert_eq!(
        me_status(&app, &token).await,
        StatusCode::OK,
        "the genuine token works"
    );

    let lower_case_scheme = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("authorization", format!("bearer {token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        lower_case_scheme.status(),
        StatusCode::OK,
        "the scheme is case-insensitive"
    );

    let claims = claims_of(&token);
    let key = signing_key(&db).await;
    let now = chrono::Utc::now().timestamp();
    let with = |patch: Value| {
        let mut c = claims.clone();
        for (k, v) in patch.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };

    // Re-signing the genuine claims with the stolen key and the right algorithm works:
    // this proves the cases below fail for the reason they name, not for the key.
    assert_eq!(
        me_status(&app, &sign(Algorithm::HS256, &claims, &key)).await,
        StatusCode::OK
    );

    let attacks: Vec<(&str, String)> = vec![
        (
            "alg none, no signature",
            format!(
                "{}.{}.",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&claims)
            ),
        ),
        (
            "alg none with the original signature",
            format!(
                "{}.{}.{}",
                b64(&json!({"alg": "none", "typ": "JWT"})),
                b64(&claims),
                token.rsplit('.').next().unwrap()
            ),
        ),
        (
            "HS512 with the right key",
            sign(Algorithm::HS512, &claims, &key),
        ),
        (
            "HS384 with the right key",
            sign(Algorithm::HS384, &claims, &key),
        ),
        ("RS256 header over an HMAC signature", {
            let mut parts: Vec<String> = sign(Algorithm::HS256, &claims, &key)
                .split('.')
                .map(str::to_owned)
                .collect();
            parts[0] = b64(&json!({"alg": "RS256", "typ": "JWT"}));
            parts.join(".")
        }),
        (
            "wrong key",
            sign(
                Algorithm::HS256,
                &claims,
                b"another key of thirty-two bytes!",
            ),
        ),
        ("altered payload (role raised to admin)", {
            let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
            parts[1] = b64(&with(json!({"role": "admin"})));
            parts.join(".")
        }),
        (
            "expired",
            sign(
                Algorithm::HS256,
                &with(json!({"exp": now - 60, "iat": now - 960, "nbf": now - 960})),
                &key,
            ),
        ),
        (
            "not yet valid",
            sign(Algorithm::HS256, &with(json!({"nbf": now + 600})), &key),
        ),
        (
            "wrong audience",
            sign(Algorithm::HS256, &with(json!({"aud": "another-api"})), &key),
        ),
        (
            "wrong issuer",
            sign(
                Algorithm::HS256,
                &with(json!({"iss": "someone-else"})),
                &key,
            ),
        ),
        (
            "no such session",
            sign(
                Algorithm::HS256,
                &with(json!({"sid": uuid::Uuid::new_v4()})),
                &key,
            ),
        ),
        (
            "session of another operator",
            sign(
                Algorithm::HS256,
                &with(json!({"sub": uuid::Uuid::new_v4()})),
                &key,
            ),
        ),
        ("garbage", "not.a.jwt".to_owned()),
        ("empty", String::new()),
    ];
    for (name, forged) in attacks {
        let response = app.get("/api/v1/auth/me", &forged).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert!(
            response.headers().get("www-authenticate").is_some(),
            "{name}"
        );
        let error = common::error_of(response).await;
        assert_eq!(error["code"], "invalid_token", "{name}");
    }

    let no_token = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .send()
        .await
        .unwrap();
    assert_eq!(no_token.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(no_token.headers()["www-authenticate"], "Bearer");
    let basic = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .basic_auth("admin", Some(common::ADMIN_PASSWORD))
        .send()
        .await
        .unwrap();
    assert_eq!(
        basic.status(),
        StatusCode::UNAUTHORIZED,
        "only bearer tokens are accepted"
    );
}

#[tokio::test]
async fn logout_disable_role_change_and_password_change_end_sessions() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let id = app.create_operator(&admin, "guard", "security").await;

    // Logout revokes that session only.
    let first = app.login("guard", PASSWORD).await;
    let second = app.login("guard", PASSWORD).await;
    let out = app
        .request(reqwest::Method::POST, "/api/v1/auth/logout", Some(&first))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &first).await, StatusCode::UNAUTHORIZED);
    assert_eq!(me_status(&app, &second).await, StatusCode::OK);

    // A role change ends every session at once.
    let changed = app
        .patch(
            &format!("/api/v1/operators/{id}"),
            &admin,
            json!({"role": "host"}),
        )
        .await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(me_status(&app, &second).await, StatusCode::UNAUTHORIZED);
    let fresh = app.login("guard", PASSWORD).await;
    let me: Value = app.get_json("/api/v1/auth/me", &fresh).await;
    assert_eq!(me["role"], "host");

    // A password change ends sessions; the new password works, the old does not.
    let reset = app
        .request(
            reqwest::Method::PUT,
            &format!("/api/v1/operators/{id}/password"),
            Some(&admin),
        )
        .json(&json!({"password": "a-brand-new-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::NO_CONTENT);
    assert_eq!(me_status(&app, &fresh).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.try_login("guard", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let fresh = app.login("guard", "a-brand-new-password").await;

    // Disabling ends sessions and stops logins; enabling lets them log in again.
    let disabled = app
        .patch(
            &format!("/api/v1/operators/{id}"),
            &admin,
            json!({"status": "disabled"}),
        )
        .await;
    assert_eq!(disabled.status(), StatusCode::OK);
    assert_eq!(me_status(&app, &fresh).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.try_login("guard", "a-brand-new-password")
            .await
            .status(),
        StatusCode::UNAUTHORIZED
    );
    let enabled = app
        .patch(
            &format!("/api/v1/operators/{id}"),
            &admin,
            json!({"status": "active"}),
        )
        .await;
    assert_eq!(enabled.status(), StatusCode::OK);
    app.login("guard", "a-brand-new-password").await;
}

#[tokio::test]
async fn tokens_are_short_lived_and_say_who() {
    let (app, _db) = TestApp::start().await;
    let response = app.try_login("admin", common::ADMIN_PASSWORD).await;
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    let claims = claims_of(body["access_token"].as_str().unwrap());
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert!(
        lifetime <= 900,
        "exp at most 15 minutes after iat, got {lifetime}"
    );
    assert_eq!(claims["aud"], "gatehouse-api");
    assert_eq!(claims["iss"], "gatehouse");
    assert_eq!(claims["role"], "admin");
}
