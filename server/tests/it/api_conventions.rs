//! The API's shared behaviour: error shape, request ids, security headers, pagination,
//! throttling, operator administration and its log, OpenAPI and metrics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{ADMIN_PASSWORD, PASSWORD, TestApp, error_of};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

#[tokio::test]
async fn bad_requests_get_the_error_shape_and_change_nothing() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let post_raw = |body: &'static str, content_type: &'static str| {
        app.request(Method::POST, "/api/v1/operators", Some(&admin))
            .header("content-type", content_type)
            .body(body)
            .send()
    };

    let malformed = post_raw("{\"username\": \"x\",", "application/json")
        .await
        .unwrap();
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(error_of(malformed).await["code"], "bad_request");

    let not_json = post_raw("username=x", "application/x-www-form-urlencoded")
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);

    let cases = [
        (
            json!({"username": "ok", "password": 5, "role": "host"}),
            "password",
        ),
        (
            json!({"username": "ok", "password": PASSWORD, "role": "root"}),
            "role",
        ),
        (json!({"username": "ok", "password": PASSWORD}), "body"),
        // Mass assignment: fields a client may not set are refused, not ignored.
        (
            json!({"username": "ok", "password": PASSWORD, "role": "host", "status": "disabled"}),
            "status",
        ),
        (
            json!({"username": "Not Valid!", "password": PASSWORD, "role": "host"}),
            "username",
        ),
        (
            json!({"username": "ok", "password": "short", "role": "host"}),
            "password",
        ),
        (
            json!({"username": "ok", "password": PASSWORD, "role": "host", "display_name": ""}),
            "display_name",
        ),
    ];
    for (body, field) in cases {
        let response = app.post("/api/v1/operators", &admin, body.clone()).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}"
        );
        let error = error_of(response).await;
        assert_eq!(error["code"], "validation_failed", "{body}");
        assert!(
            error["fields"][field].is_string(),
            "{body} should name {field}: {error}"
        );
    }

    let admin_id = me_id(&app, &admin).await;
    let patch = app
        .patch(
            &format!("/api/v1/operators/{admin_id}"),
            &admin,
            json!({"password_hash": "x"}),
        )
        .await;
    assert_eq!(patch.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let bad_id = app.get("/api/v1/operators/not-a-uuid", &admin).await;
    assert_eq!(bad_id.status(), StatusCode::BAD_REQUEST);
    error_of(bad_id).await;

    let huge = "x".repeat(2 * 1024 * 1024);
    let too_large = app
        .post(
            "/api/v1/operators",
            &admin,
            json!({"username": huge, "password": PASSWORD, "role": "host"}),
        )
        .await;
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(error_of(too_large).await["code"], "payload_too_large");

    let unknown = app.get("/api/v1/nothing-here", &admin).await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    assert_eq!(error_of(unknown).await["code"], "not_found");

    let wrong_method = app
        .request(Method::DELETE, "/api/v1/operators", Some(&admin))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    error_of(wrong_method).await;

    let list: Value = app.get_json("/api/v1/operators", &admin).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "nothing was created: {list}"
    );
}

async fn me_id(app: &TestApp, token: &str) -> String {
    let me: Value = app
        .get("/api/v1/auth/me", token)
        .await
        .json()
        .await
        .unwrap();
    me["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn request_ids_and_security_headers() {
    let (app, _db) = TestApp::start().await;
    let mine = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(mine.headers()["x-request-id"], "trace-abc-123");
    for header in [
        "x-content-type-options",
        "x-frame-options",
        "content-security-policy",
        "referrer-policy",
        "cache-control",
    ] {
        assert!(mine.headers().get(header).is_some(), "missing {header}");
    }

    // An id that could forge log lines is replaced by a fresh one.
    let hostile = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "a b\tc")
        .send()
        .await
        .unwrap();
    let id = hostile.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_ne!(id, "a b\tc");
    assert!(uuid::Uuid::parse_str(&id).is_ok());

    let error = app
        .client
        .get(app.url("/api/v1/auth/me"))
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(error_of(error).await["request_id"], "req-42");
}

#[tokio::test]
async fn unknown_user_and_wrong_password_look_the_same() {
    let (app, _db) = TestApp::start().await;
    let unknown = app.try_login("nobody", "whatever-password").await;
    let wrong = app.try_login("admin", "whatever-password").await;
    assert_eq!(unknown.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let mut a = error_of(unknown).await;
    let mut b = error_of(wrong).await;
    a["request_id"] = Value::Null;
    b["request_id"] = Value::Null;
    assert_eq!(a, b);
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_account_then_released() {
    let (app, _db) = TestApp::start().await;
    for attempt in 1..=5 {
        let response = app.try_login("admin", "not-the-password").await;
        assert_eq!(
            response.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    // Even the right password waits now.
    let throttled = app.try_login("admin", ADMIN_PASSWORD).await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry_after));
    assert_eq!(error_of(throttled).await["code"], "too_many_requests");

    // After the back-off (1 s after the fifth failure) the right password works.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = app.try_login("admin", ADMIN_PASSWORD).await;
        if response.status() == StatusCode::OK {
            break;
        }
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(Instant::now() < deadline, "still throttled after 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn one_client_guessing_many_accounts_is_throttled() {
    let (app, _db) = TestApp::start().await;
    for n in 0..5 {
        let response = app.try_login(&format!("user{n}"), "guess-password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    let next = app.try_login("someone-else", "guess-password").await;
    assert_eq!(
        next.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the client address is throttled"
    );
}

#[tokio::test]
async fn at_most_the_configured_failures_per_hour() {
    let db = common::TestDb::sqlite();
    let mut settings = db.settings();
    settings.auth.login_backoff_after = 1000;
    settings.auth.login_max_failures_per_hour = 3;
    let app = TestApp::start_with(settings).await;
    for _ in 0..3 {
        assert_eq!(
            app.try_login("admin", "wrong-password").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let capped = app.try_login("admin", ADMIN_PASSWORD).await;
    assert_eq!(capped.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = capped.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        retry_after > 3000,
        "waits for the hour to pass, got {retry_after}"
    );
}

#[tokio::test]
async fn operator_administration_and_its_log() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let admin_id = me_id(&app, &admin).await;
    let id = app.create_operator(&admin, "grace", "security").await;

    let duplicate = app
        .post(
            "/api/v1/operators",
            &admin,
            json!({"username": "grace", "password": PASSWORD, "role": "host"}),
        )
        .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    assert!(
        error_of(duplicate).await["message"]
            .as_str()
            .unwrap()
            .contains("username")
    );

    let renamed = app
        .patch(
            &format!("/api/v1/operators/{id}"),
            &admin,
            json!({"display_name": "Grace H."}),
        )
        .await;
    assert_eq!(renamed.status(), StatusCode::OK);
    let renamed: Value = renamed.json().await.unwrap();
    assert_eq!(renamed["display_name"], "Grace H.");
    assert_eq!(renamed["role"], "security");

    let missing = app
        .patch(
            &format!("/api/v1/operators/{}", uuid::Uuid::new_v4()),
            &admin,
            json!({"role": "host"}),
        )
        .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // The last active admin can be neither disabled nor demoted.
    for change in [json!({"status": "disabled"}), json!({"role": "auditor"})] {
        let refused = app
            .patch(&format!("/api/v1/operators/{admin_id}"), &admin, change)
            .await;
        assert_eq!(refused.status(), StatusCode::CONFLICT);
    }
    assert_eq!(
        app.get("/api/v1/auth/me", &admin).await.status(),
        StatusCode::OK
    );

    let log: Value = app.get_json("/api/v1/operator-log", &admin).await;
    let entries = log["items"].as_array().unwrap();
    let actions: Vec<_> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["operator.create", "operator.create", "operator.update"]
    );
    assert_eq!(entries[0]["actor"], "system");
    let update = &entries[2];
    assert_eq!(update["actor"], "admin");
    assert_eq!(update["actor_id"], admin_id.as_str());
    assert_eq!(update["target_id"], id.as_str());
    assert_eq!(update["before"]["display_name"], "grace");
    assert_eq!(update["after"]["display_name"], "Grace H.");
    assert!(update["request_id"].is_string());
    let text = log.to_string();
    assert!(!text.contains("argon2"), "no password hash in the log");

    let auditor_id = app.create_operator(&admin, "audit", "auditor").await;
    let auditor = app.login("audit", PASSWORD).await;
    assert_eq!(
        app.get("/api/v1/operator-log", &auditor).await.status(),
        StatusCode::OK
    );
    let _ = auditor_id;
}

#[tokio::test]
async fn cursor_pagination_walks_every_item_once() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    for n in 0..7 {
        app.create_operator(&admin, &format!("op{n}"), "host").await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/operators?limit=3&cursor={c}"),
            None => "/api/v1/operators?limit=3".to_owned(),
        };
        let page: Value = app.get_json(&path, &admin).await;
        pages += 1;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["username"].as_str().unwrap().to_owned()),
        );
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    let mut expected: Vec<String> = (0..7).map(|n| format!("op{n}")).collect();
    expected.insert(0, "admin".to_owned());
    assert_eq!(seen, expected);

    for bad in [
        "limit=0",
        "limit=501",
        "cursor=%%%",
        "limit=abc",
        "unknown=1",
    ] {
        let response = app.get(&format!("/api/v1/operators?{bad}"), &admin).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        error_of(response).await;
    }
}

/// Every `$ref` in `node` that names nothing in `doc` (a client generator or a
/// schema-driven fuzzer cannot resolve it).
fn dangling_refs(doc: &Value, node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                let found = target
                    .strip_prefix('#')
                    .and_then(|pointer| doc.pointer(pointer));
                if found.is_none() {
                    out.push(target.clone());
                }
            }
            map.values().for_each(|v| dangling_refs(doc, v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| dangling_refs(doc, v, out)),
        _ => {}
    }
}

#[tokio::test]
async fn openapi_health_and_metrics() {
    let (app, _db) = TestApp::start().await;
    let doc: Value = app.public_json("/api/v1/openapi.json").await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let login = &doc["paths"]["/api/v1/auth/login"]["post"];
    assert!(login["requestBody"].is_object());
    assert!(login["responses"]["200"].is_object());
    assert!(doc["components"]["schemas"]["ErrorResponse"].is_object());
    let mut dangling = Vec::new();
    dangling_refs(&doc, &doc, &mut dangling);
    assert!(dangling.is_empty(), "references to no schema: {dangling:?}");

    let health: Value = app.public_json("/healthz").await;
    assert_eq!(health["status"], "ok");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);

    let metrics = app
        .client
        .get(format!("{}/metrics", app.metrics_base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(
            "gatehouse_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"}"
        ),
        "{metrics}"
    );
    let on_api_port = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(
        on_api_port.status(),
        StatusCode::NOT_FOUND,
        "metrics are not on the API port"
    );
}
