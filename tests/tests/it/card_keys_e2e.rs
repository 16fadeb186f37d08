//! Site card keys between the real server and the real door agent: `door-agent enroll`
//! makes the agent's key pair and sends its public key; the running agent fetches its
//! site's keys, sealed to it, keeps them in its state directory, follows a rotation and a
//! retirement announced on its policy long-poll, and opens the kept set again after a
//! restart. The keys are opened here with the agent's own code (`CardKeys`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use door_agent::agent::card_keys::{CardKeys, KEYS_FILE, SECRET_FILE, load_or_create_secret};
use gatehouse_e2e::{
    AgentProcess, OneDoorSite, ServerProcess, agent_config, enroll_agent, expect_json, free_port,
    wait_until,
};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;
use tempfile::TempDir;
use uuid::Uuid;

const ADMIN_PASSWORD: &str = "admin-password-for-card-keys-e2e";
const WAIT: Duration = Duration::from_secs(60);

/// The keys in `state`, opened as the agent opens them: (current version, accepted).
fn kept(state: &Path, agent: Uuid, site: Uuid) -> Option<(Option<u8>, Vec<u8>)> {
    if !state.join(KEYS_FILE).exists() {
        return None;
    }
    let keys = CardKeys::load(state, agent, load_or_create_secret(state).ok()?);
    Some((keys.current_version(site), keys.accepted_versions(site)))
}

#[tokio::test]
async fn the_agent_gets_its_site_keys_follows_a_rollover_and_keeps_them() {
    let dir = TempDir::new().unwrap();
    let bootstrap = ("GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD);
    let server = ServerProcess::start_ready(dir.path(), &[bootstrap]).await;
    let api = server.api();
    let admin = api.token("admin", ADMIN_PASSWORD).await;
    let one = OneDoorSite::create(&api, &admin, "04A1B2C3D4E5F6", json!({})).await;
    let site: Uuid = one.site.parse().unwrap();
    let keys_path = format!("/sites/{site}/card-keys");
    let made = api.post(&keys_path, &admin, &json!({})).await;
    expect_json(made, 201).await;
    // Made with the first keys: the server's KEK file beside its database, owner-only.
    use std::os::unix::fs::PermissionsExt;
    let kek = std::fs::metadata(dir.path().join("card-kek")).unwrap();
    assert_eq!(kek.permissions().mode() & 0o777, 0o600);

    let state = dir.path().join("agent-state");
    let config = dir.path().join("door-agent.toml");
    let status_port = free_port();
    let text = agent_config(
        &server.base_url,
        &state,
        status_port,
        86_400,
        "simulated",
        ("front", &one.door),
    );
    std::fs::write(&config, text).unwrap();
    let output = enroll_agent(&server.base_url, &one.enrollment_code, &config).await;
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let secret_mode = std::fs::metadata(state.join(SECRET_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(secret_mode & 0o777, 0o600);
    let credential: Value =
        serde_json::from_str(&std::fs::read_to_string(state.join("credential.json")).unwrap())
            .unwrap();
    let agent: Uuid = credential["agent_id"].as_str().unwrap().parse().unwrap();

    let status_url = format!("http://127.0.0.1:{status_port}");
    let mut running = AgentProcess::start(dir.path(), &config, &status_url);
    wait_until(WAIT, "version 1 at the agent", async || {
        (kept(&state, agent, site) == Some((Some(1), vec![1]))).then_some(())
    })
    .await;

    let rotated = api
        .post(&format!("{keys_path}/rotate"), &admin, &json!({}))
        .await;
    expect_json(rotated, 200).await;
    wait_until(WAIT, "versions 2 and 1 at the agent", async || {
        (kept(&state, agent, site) == Some((Some(2), vec![2, 1]))).then_some(())
    })
    .await;
    let retire = json!({"version": 1});
    let retired = api
        .post(&format!("{keys_path}/retire"), &admin, &retire)
        .await;
    expect_json(retired, 200).await;
    wait_until(WAIT, "version 1 retired at the agent", async || {
        (kept(&state, agent, site) == Some((Some(2), vec![2]))).then_some(())
    })
    .await;
    running.stop().await;
    assert!(!running.logs().contains("REFUSED"), "{}", running.logs());

    // Restarted with the server gone: the kept set opens again.
    drop(server);
    let keys = CardKeys::load(&state, agent, load_or_create_secret(&state).unwrap());
    assert_eq!(keys.accepted_versions(site), vec![2]);
    assert!(keys.read_key_for(site, 2, &[4, 1, 2, 3, 4, 5, 6]).is_some());
    assert!(keys.uid_key(site, 1).is_none());
}
