//! The API over HTTPS: the server started in-process with a certificate made by
//! `tls::self_signed::generate`; a client trusting only that certificate gets answers
//! (and the login throttle still sees the client address); plain HTTP to the same port
//! gets nothing; every answer over TLS carries `Strict-Transport-Security` (and none
//! over plain HTTP); bad `tls.*` settings are refused naming the key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use gatehouse_server::config::Settings;
use gatehouse_server::tls::self_signed::{SelfSigned, generate};
use gatehouse_server::{Listeners, launch};
use secrecy::SecretString;
use serde_json::json;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tempfile::TempDir;
use tokio::net::TcpListener;

const ADMIN_PASSWORD: &str = "admin-password-for-tls";

fn new_pair() -> SelfSigned {
    generate(
        &["localhost".to_owned()],
        &[IpAddr::V4(Ipv4Addr::LOCALHOST)],
    )
    .unwrap()
}

/// Writes `pair` into `dir` as server.pem and server-key.pem.
fn write(dir: &Path, pair: &SelfSigned) -> (PathBuf, PathBuf) {
    let cert = dir.join("server.pem");
    let key = dir.join("server-key.pem");
    std::fs::write(&cert, &pair.cert_pem).unwrap();
    std::fs::write(&key, &pair.key_pem).unwrap();
    (cert, key)
}

fn settings(dir: &Path, cert: PathBuf, key: PathBuf) -> Settings {
    let mut settings = Settings::default();
    settings.database.url = format!("sqlite://{}/gatehouse.db", dir.display());
    settings.bootstrap.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
    settings.tls.cert = Some(cert);
    settings.tls.key = Some(key);
    settings
}

fn client_trusting(cert_pem: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(cert_pem.as_bytes()).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test]
async fn serves_https_with_the_configured_certificate_and_refuses_plain_http() {
    let dir = TempDir::new().unwrap();
    let pair = new_pair();
    let (cert, key) = write(dir.path(), &pair);
    let settings = settings(dir.path(), cert, key);
    settings.validate().unwrap();
    let api = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = api.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(launch(
        settings,
        Listeners { api, metrics: None },
        async move {
            let _ = stopped.await;
        },
    ));

    let client = client_trusting(&pair.cert_pem);
    let ready = format!("https://127.0.0.1:{}/readyz", addr.port());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match client.get(&ready).send().await {
            Ok(response) if response.status() == 200 => break,
            other => {
                assert!(!server.is_finished(), "the server stopped: {other:?}");
                assert!(Instant::now() < deadline, "never ready: {other:?}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
    // By host name too (the certificate names localhost).
    let by_name = format!("https://localhost:{}/readyz", addr.port());
    assert_eq!(client.get(&by_name).send().await.unwrap().status(), 200);

    // Every answer over TLS, errors too, tells browsers to keep to HTTPS.
    for path in ["/readyz", "/api/v1/auth/me", "/no-such-endpoint"] {
        let url = format!("https://127.0.0.1:{}{path}", addr.port());
        let response = client.get(&url).send().await.unwrap();
        assert_eq!(
            response.headers()["strict-transport-security"],
            "max-age=31536000",
            "{path} ({})",
            response.status()
        );
    }

    // The login route needs the client address (ConnectInfo) for its throttle.
    let login = client
        .post(format!(
            "https://127.0.0.1:{}/api/v1/auth/login",
            addr.port()
        ))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200, "{:?}", login.text().await);

    let plain = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let answer = plain
        .get(format!("http://127.0.0.1:{}/readyz", addr.port()))
        .send()
        .await;
    assert!(answer.is_err(), "plain HTTP was answered: {answer:?}");

    // A client that trusts another certificate refuses the server.
    let stranger = client_trusting(&new_pair().cert_pem);
    let refused = stranger.get(&ready).send().await;
    assert!(refused.is_err(), "an unpinned certificate was accepted");

    stop.send(()).unwrap();
    tokio::time::timeout(Duration::from_secs(20), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
}

/// Over plain HTTP (no `tls.*` set) the header is not sent: browsers ignore it there, and
/// it would wrongly promise HTTPS.
#[tokio::test]
async fn plain_http_sends_no_strict_transport_security() {
    let (app, _db) = common::TestApp::start().await;
    let response = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("strict-transport-security")
            .is_none()
    );
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    app.stop().await;
}

fn error_of(settings: &Settings) -> String {
    settings
        .validate()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn bad_tls_settings_name_the_key() {
    let dir = TempDir::new().unwrap();
    let (cert, key) = write(dir.path(), &new_pair());
    let other_dir = TempDir::new().unwrap();
    let (_, other_key) = write(other_dir.path(), &new_pair());

    let mut s = settings(dir.path(), cert.clone(), key.clone());
    s.tls.key = None;
    assert!(error_of(&s).contains("tls.key"), "{}", error_of(&s));

    let mut s = settings(dir.path(), cert.clone(), key.clone());
    s.tls.cert = None;
    assert!(error_of(&s).contains("tls.cert"), "{}", error_of(&s));

    let s = settings(dir.path(), dir.path().join("missing.pem"), key.clone());
    assert!(
        error_of(&s).contains("tls.cert: cannot read"),
        "{}",
        error_of(&s)
    );

    let s = settings(dir.path(), key.clone(), key.clone());
    assert!(error_of(&s).contains("tls.cert"), "{}", error_of(&s));

    let s = settings(dir.path(), cert.clone(), cert.clone());
    assert!(error_of(&s).contains("tls.key"), "{}", error_of(&s));

    let s = settings(dir.path(), cert, other_key);
    let error = error_of(&s);
    assert!(
        error.contains("tls.key") && error.contains("does not belong"),
        "{error}"
    );
}
