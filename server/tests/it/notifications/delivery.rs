//! Delivery by the running server: an invitation through a real SMTP server (aiosmtpd),
//! read back with Python's email parser and the QR decoded by zbarimg; an arrival notice
//! to a real HTTP receiver that checks the signature with its own code, fails once and is
//! retried; an SMTP server that is down, retried and then failed, visible in the API.

use super::support::{
    CHECK_IN_CODE, SmtpSink, arrival, invitation, quick_settings, skip_unless_required, visit,
    wait_for_state,
};
use crate::common::{TestApp, TestDb, expect};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use gatehouse_e2e::free_port;
use gatehouse_server::notify::Notifier;
use gatehouse_server::notify::settings::{SmtpSettings, SmtpTls};
use hmac::{Hmac, Mac};
use secrecy::SecretString;
use serde_json::{Value, json};
use sha2::Sha256;
use std::sync::{Arc, Mutex};

conformance!(
    an_invitation_reaches_a_real_smtp_server,
    a_webhook_is_signed_and_retried_until_it_is_accepted,
    a_down_smtp_server_is_retried_then_the_failure_is_shown,
);

fn smtp(port: u16) -> SmtpSettings {
    SmtpSettings {
        host: "127.0.0.1".to_owned(),
        port: Some(port),
        tls: SmtpTls::None,
        username: None,
        password: None,
        from: "Gatehouse <gatehouse@gatehouse.example>".to_owned(),
        timeout_s: 5,
    }
}

async fn an_invitation_reaches_a_real_smtp_server(db: &TestDb) {
    let Some(sink) = SmtpSink::start("notification delivery").await else {
        return;
    };
    let mut settings = quick_settings(db);
    settings.notify.smtp = Some(smtp(sink.port));
    let app = TestApp::start_with(settings.clone()).await;
    let token = app.admin_token().await;
    let store = db.store().await;
    let visit = visit(&store, 4).await;
    let new = Notifier::new(settings.notify.clone()).invitation(&invitation(visit));
    store
        .enqueue_notifications(std::slice::from_ref(&new))
        .await
        .unwrap();

    let sent = wait_for_state(&app, &token, visit, new.id, "sent").await;
    assert_eq!(sent["attempts"], 1);
    assert!(sent["delivered_at"].is_string());
    let messages = sink.messages();
    assert_eq!(messages.len(), 1, "{messages:?}");
    let mail = &messages[0];
    assert_eq!(
        mail["subject"],
        "Your visit to HQ on Monday 7 December 2026"
    );
    assert_eq!(mail["rcpt_tos"], json!(["vera@visitor.example"]));
    assert_eq!(mail["mail_from"], "gatehouse@gatehouse.example");
    assert!(
        mail["to"]
            .as_str()
            .unwrap()
            .contains("vera@visitor.example")
    );
    let parts = mail["parts"].as_array().unwrap();
    let part = |kind: &str| {
        parts
            .iter()
            .find(|p| p["content_type"] == kind)
            .unwrap_or_else(|| panic!("no {kind} part in {parts:?}"))
    };
    let content = |p: &Value| {
        base64::engine::general_purpose::STANDARD
            .decode(p["content"].as_str().unwrap())
            .unwrap()
    };
    let text = String::from_utf8(content(part("text/plain"))).unwrap();
    assert!(text.contains("Monday 7 December 2026, 10:30 CET"), "{text}");
    assert!(text.contains(CHECK_IN_CODE));

    let ics_part = part("text/calendar");
    assert_eq!(ics_part["filename"], "invitation.ics");
    let ics = String::from_utf8(content(ics_part)).unwrap();
    let lines: Vec<&str> = ics.lines().collect();
    assert!(lines.contains(&"DTSTART:20261207T093000Z"), "{ics}");
    assert!(lines.contains(&"DTEND:20261207T110000Z"), "{ics}");
    assert!(lines.contains(&"SUMMARY:Visit to HQ (Hana Host)"), "{ics}");

    let png = part("image/png");
    assert_eq!(png["content_id"], "<checkin-qr>");
    let png = content(png);
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"));
    decode_qr(&png, CHECK_IN_CODE);
    app.stop().await;
}

/// zbarimg (Debian's zbar-tools), an independent decoder, reads `png` as `expected`.
fn decode_qr(png: &[u8], expected: &str) {
    let file = tempfile::Builder::new().suffix(".png").tempfile().unwrap();
    std::fs::write(file.path(), png).unwrap();
    let output = std::process::Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(file.path())
        .output();
    match output {
        Ok(out) => {
            assert!(out.status.success(), "zbarimg: {out:?}");
            assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), expected);
        }
        Err(_) => skip_unless_required("zbarimg (zbar-tools) is not installed"),
    }
}

/// What the receiver saw: each request's headers and body, and whether its signature held.
#[derive(Default)]
struct Receiver {
    seen: Mutex<Vec<(HeaderMap, Bytes, bool)>>,
}

const SECRET: &str = "webhook-secret-for-tests";

/// The receiver's own check (not the server's code): HMAC-SHA256 over
/// `timestamp + "." + body`, hex, behind `sha256=`, compared in constant time, and a
/// timestamp within five minutes.
fn signature_holds(headers: &HeaderMap, body: &[u8]) -> bool {
    let (Some(timestamp), Some(signature)) = (
        headers
            .get("x-gatehouse-timestamp")
            .and_then(|v| v.to_str().ok()),
        headers
            .get("x-gatehouse-signature")
            .and_then(|v| v.to_str().ok()),
    ) else {
        return false;
    };
    let fresh = timestamp
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    let Some(hex_mac) = signature.strip_prefix("sha256=") else {
        return false;
    };
    let Ok(mac_bytes) = hex::decode(hex_mac) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    fresh && mac.verify_slice(&mac_bytes).is_ok()
}

async fn receive(
    State(receiver): State<Arc<Receiver>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let valid = signature_holds(&headers, &body);
    let mut seen = receiver.seen.lock().unwrap();
    seen.push((headers, body, valid));
    match (valid, seen.len()) {
        (false, _) => StatusCode::UNAUTHORIZED,
        (true, 1) => StatusCode::INTERNAL_SERVER_ERROR,
        (true, _) => StatusCode::OK,
    }
}

async fn a_webhook_is_signed_and_retried_until_it_is_accepted(db: &TestDb) {
    let receiver = Arc::new(Receiver::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hooks/gatehouse?token=in-the-url",
        listener.local_addr().unwrap()
    );
    let router = axum::Router::new()
        .route("/hooks/gatehouse", axum::routing::post(receive))
        .with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, router).await });

    let mut settings = quick_settings(db);
    settings.notify.webhook.urls = vec![url];
    settings.notify.webhook.secret = Some(SecretString::from(SECRET));
    let app = TestApp::start_with(settings.clone()).await;
    let token = app.admin_token().await;
    let store = db.store().await;
    let visit = visit(&store, 4).await;
    let notices = Notifier::new(settings.notify.clone()).arrival(&arrival(visit));
    assert_eq!(notices.len(), 2, "an email and one webhook");
    store.enqueue_notifications(&notices).await.unwrap();

    // No SMTP server configured: the email is recorded as failed, not dropped.
    let email = wait_for_state(&app, &token, visit, notices[0].id, "failed").await;
    assert_eq!(email["channel"], "email");
    assert_eq!(email["recipient"], "hana@gatehouse.example");
    assert_eq!(email["last_error"], "SMTP not configured");
    assert_eq!(email["attempts"], 1);

    let hook = wait_for_state(&app, &token, visit, notices[1].id, "sent").await;
    assert_eq!(hook["channel"], "webhook");
    assert_eq!(hook["kind"], "arrival");
    assert_eq!(hook["attempts"], 2);
    assert_eq!(hook["recipient"], "127.0.0.1", "the URL's host only");
    assert_eq!(hook["subject"], "Vera Visitor has arrived at HQ");
    assert_eq!(hook["visitor_name"], "Vera Visitor");
    assert!(hook.get("endpoint").is_none() && hook.get("message").is_none());
    let listed = app
        .get(&format!("/api/v1/notifications?visit_id={visit}"), &token)
        .await;
    let listed = listed.text().await.unwrap();
    assert!(
        !listed.contains("in-the-url"),
        "the webhook URL's token is never served"
    );

    let seen = std::mem::take(&mut *receiver.seen.lock().unwrap());
    assert_eq!(seen.len(), 2);
    assert!(
        seen.iter().all(|(_, _, valid)| *valid),
        "every request signed"
    );
    assert_eq!(seen[0].1, seen[1].1, "a retry sends the same body");
    let body: Value = serde_json::from_slice(&seen[1].1).unwrap();
    assert_eq!(body["event"], "visitor.arrived");
    assert_eq!(body["id"], notices[1].id.to_string());
    assert_eq!(body["visit_id"], visit.to_string());
    assert_eq!(body["visitor"]["name"], "Vera Visitor");
    assert_eq!(body["host"]["name"], "Hana Host");
    assert_eq!(body["site"]["timezone"], "Europe/Berlin");
    assert!(chrono::DateTime::parse_from_rfc3339(body["arrived_at"].as_str().unwrap()).is_ok());
    assert_eq!(
        seen[1].0.get("content-type").map(|v| v.as_bytes()),
        Some(&b"application/json"[..])
    );
    app.stop().await;
}

async fn a_down_smtp_server_is_retried_then_the_failure_is_shown(db: &TestDb) {
    let mut settings = quick_settings(db);
    settings.notify.smtp = Some(smtp(free_port()));
    settings.notify.max_attempts = 3;
    let app = TestApp::start_with(settings.clone()).await;
    let admin = app.admin_token().await;
    let store = db.store().await;
    let visit = visit(&store, 4).await;
    let new = Notifier::new(settings.notify.clone()).invitation(&invitation(visit));
    store
        .enqueue_notifications(std::slice::from_ref(&new))
        .await
        .unwrap();

    let failed = wait_for_state(&app, &admin, visit, new.id, "failed").await;
    assert_eq!(failed["attempts"], 3);
    let error = failed["last_error"].as_str().unwrap();
    assert!(error.starts_with("SMTP: "), "{error}");
    assert!(error.ends_with("(gave up after 3 attempts)"), "{error}");
    let listed = app
        .get_json("/api/v1/notifications?state=failed", &admin)
        .await;
    assert_eq!(listed["items"][0]["id"], new.id.to_string());

    // Reception may send it again; an auditor may look but not retry.
    app.create_operator(&admin, "auditor", "auditor").await;
    let auditor = app.login("auditor", crate::common::PASSWORD).await;
    let refused = app
        .post(
            &format!("/api/v1/notifications/{}/retry", new.id),
            &auditor,
            json!({}),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let retried = app
        .post(
            &format!("/api/v1/notifications/{}/retry", new.id),
            &admin,
            json!({}),
        )
        .await;
    let retried = expect(retried, StatusCode::OK).await;
    assert_eq!(retried["id"], new.id.to_string());
    let again = wait_for_state(&app, &admin, visit, new.id, "failed").await;
    assert_eq!(again["attempts"], 3);
    let not_failed = app
        .post(
            &format!("/api/v1/notifications/{}/retry", uuid::Uuid::now_v7()),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(not_failed.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}
