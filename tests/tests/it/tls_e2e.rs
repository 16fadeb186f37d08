//! The real server serving HTTPS with a pair made by `gatehouse tls self-signed`, and
//! the real door agent pinning that certificate with `server.ca_cert`: enrolment, a
//! decision, and the event at the server. An agent pinning a different self-signed
//! certificate is refused before it sends anything.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gatehouse_e2e::{
    AgentProcess, Api, OneDoorSite, ServerProcess, enroll_agent, free_port, gatehouse_command,
    run_to_exit, wait_until,
};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

const ADMIN_PASSWORD: &str = "admin-password-for-tls-e2e";
const CARD: &str = "04A1B2C3D4E5F6";
const READER: &str = "front";
const WAIT: Duration = Duration::from_secs(30);

/// Runs `gatehouse tls self-signed --ip 127.0.0.1 --hostname localhost` into `out`
/// and returns the certificate's path.
async fn self_signed(dir: &Path, out: &Path) -> PathBuf {
    let mut command = gatehouse_command(dir);
    command
        .args([
            "tls",
            "self-signed",
            "--ip",
            "127.0.0.1",
            "--hostname",
            "localhost",
        ])
        .arg("--out-dir")
        .arg(out);
    let output = run_to_exit(command, None).await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "tls self-signed failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("SHA-256 fingerprint: "), "{stdout}");
    assert!(stdout.contains("ca_cert = "), "{stdout}");
    use std::os::unix::fs::PermissionsExt;
    let key = out.join("server-key.pem");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the key must be owner-only");
    out.join("server.pem")
}

fn pinned_client(cert: &Path) -> reqwest::Client {
    let pem = std::fs::read(cert).unwrap();
    reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn write_agent_config(config: &Path, url: &str, ca_cert: &Path, state: &Path, door: &str) -> u16 {
    let status_port = free_port();
    std::fs::write(
        config,
        format!(
            "[server]\nurl = \"{url}\"\nca_cert = \"{ca}\"\n\n[agent]\ncredential_file = \"{state}/credential.json\"\n\
             state_dir = \"{state}\"\n\n[status]\nlisten = \"127.0.0.1:{status_port}\"\n\n\
             [[readers]]\nname = \"{READER}\"\ndoor_id = \"{door}\"\ndirection = \"entry\"\n",
            ca = ca_cert.display(),
            state = state.display(),
        ),
    )
    .unwrap();
    status_port
}

#[tokio::test]
async fn agent_pins_the_self_signed_certificate_and_a_stranger_is_refused() {
    let dir = TempDir::new().unwrap();
    let cert = self_signed(dir.path(), &dir.path().join("tls")).await;
    let other_cert = self_signed(dir.path(), &dir.path().join("other")).await;
    let key = dir.path().join("tls/server-key.pem");
    let cert_env = cert.display().to_string();
    let key_env = key.display().to_string();
    let server = ServerProcess::start(
        dir.path(),
        &[
            ("GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("GATEHOUSE__TLS__CERT", &cert_env),
            ("GATEHOUSE__TLS__KEY", &key_env),
        ],
    );
    let url = server.base_url.replace("http://", "https://");
    let client = pinned_client(&cert);
    let ready = format!("{url}/readyz");
    wait_until(WAIT, "the HTTPS /readyz", async || {
        let response = client.get(&ready).send().await.ok()?;
        (response.status() == 200).then_some(())
    })
    .await;
    let plain = reqwest::get(format!("{}/readyz", server.base_url)).await;
    assert!(plain.is_err(), "plain HTTP was answered: {plain:?}");

    let api = Api::with_client(&url, client);
    let admin = api.token("admin", ADMIN_PASSWORD).await;
    let one = OneDoorSite::create(&api, &admin, CARD, json!({})).await;
    let code = one.enrollment_code.as_str();
    let door = one.door.as_str();
    let state = dir.path().join("agent-state");
    let config = dir.path().join("door-agent.toml");

    // Pinning another self-signed certificate: refused at the handshake.
    write_agent_config(&config, &url, &other_cert, &state, door);
    let output = enroll_agent(&url, code, &config).await;
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "enrolled with a stranger's certificate"
    );
    eprintln!("the refusal: {stderr}");
    assert!(
        stderr.contains("certificate") || stderr.contains("UnknownIssuer"),
        "the refusal does not say why: {stderr}"
    );
    assert!(!state.join("credential.json").exists());

    // Pinning the server's own certificate: enrols (the code was never used).
    let status_port = write_agent_config(&config, &url, &cert, &state, door);
    let output = enroll_agent(&url, code, &config).await;
    assert!(
        output.status.success(),
        "enroll failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );

    let mut agent = AgentProcess::start(
        dir.path(),
        &config,
        &format!("http://127.0.0.1:{status_port}"),
    );
    agent
        .wait_status(WAIT, "a policy version", |s| s["policy_version"].is_u64())
        .await;
    agent.send_line(&format!("{READER} {CARD}"));
    let event = wait_until(WAIT, "the presentation at the server", async || {
        api.list_all("/events", &admin, 500)
            .await
            .into_iter()
            .find(|e| e["kind"] == "presentation" && e["card"] == CARD)
    })
    .await;
    assert_eq!(event["outcome"], "granted", "{event}");
    assert_eq!(event["door_id"], door);
    assert_eq!(agent.stop().await.code(), Some(0));
}
