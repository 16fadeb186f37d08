//! The audit API: verification, the public key and exports, for admins and auditors.

use crate::common::{self, TestApp, expect};
use base64::Engine;
use gatehouse_server::audit::export::offline::verify_export;
use reqwest::StatusCode;

#[tokio::test]
async fn the_api_verifies_for_auditors() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "auditor", "auditor").await;
    let auditor = app.login("auditor", common::PASSWORD).await;
    let report = expect(
        app.get("/api/v1/audit/verify", &auditor).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["ok"], true, "{report}");
    assert!(report["records"].as_i64().unwrap() >= 2, "{report}");
    assert!(report.get("first_bad").is_none(), "{report}");
    let key = expect(
        app.get("/api/v1/audit/public-key", &auditor).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(key["algorithm"], "Ed25519");
    assert_eq!(key["public_key"].as_str().unwrap().len(), 44);
}

#[tokio::test]
async fn an_auditor_exports_a_file_that_verifies_offline_and_the_export_is_logged() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "auditor", "auditor").await;
    let auditor = app.login("auditor", common::PASSWORD).await;
    let (from, to) = (
        (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339(),
        (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339(),
    );
    let query = |format: &str| {
        format!(
            "/api/v1/audit/export?format={format}&from={}&to={}",
            urlencode(&from),
            urlencode(&to)
        )
    };
    let response = app.get(&query("ndjson"), &auditor).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let body = response.text().await.unwrap();
    let key = expect(
        app.get("/api/v1/audit/public-key", &auditor).await,
        StatusCode::OK,
    )
    .await;
    let key = base64::engine::general_purpose::STANDARD
        .decode(key["public_key"].as_str().unwrap())
        .unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key.try_into().unwrap()).unwrap();
    let report = verify_export(body.as_bytes(), &key).unwrap();
    assert!(report.ok, "{report:?}\n{body}");
    assert!(report.records >= 2, "{report:?}");
    assert!(body.contains("\"kind\":\"operator.create\""), "{body}");

    let csv = app.get(&query("csv"), &auditor).await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(verify_export(csv.as_bytes(), &key).unwrap().ok, "{csv}");
    // Display columns by default (the operator's name snapshot), none with display=false.
    assert!(body.contains("\"type\":\"names\""), "{body}");
    let plain = app
        .get(&format!("{}&display=false", query("ndjson")), &auditor)
        .await;
    let plain = plain.text().await.unwrap();
    assert!(verify_export(plain.as_bytes(), &key).unwrap().ok, "{plain}");
    assert!(!plain.contains("\"type\":\"names\""), "{plain}");
    assert!(!plain.contains("\"local_time\""), "{plain}");

    let log = expect(
        app.get("/api/v1/operator-log?limit=500", &auditor).await,
        StatusCode::OK,
    )
    .await;
    let exports = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "audit.export" && e["actor"] == "auditor")
        .count();
    assert_eq!(exports, 3, "{log}");

    // Bad requests change nothing and say why.
    let backwards = format!(
        "/api/v1/audit/export?format=ndjson&from={}&to={}",
        urlencode(&to),
        urlencode(&from)
    );
    let error = common::error_of(app.get(&backwards, &auditor).await).await;
    assert_eq!(error["code"], "validation_failed", "{error}");
    let error = common::error_of(app.get(&query("xml"), &auditor).await).await;
    assert_eq!(error["code"], "validation_failed", "{error}");
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}
