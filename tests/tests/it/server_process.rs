//! The real `gatehouse` binary as an operator runs it: configuration errors, first start,
//! crash safety, what reaches the logs, graceful shutdown and the operator commands.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gatehouse_e2e::{ServerProcess, expect_json, gatehouse, gatehouse_command, run_to_exit};
use serde_json::json;
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Output;
use tempfile::TempDir;

const ADMIN_PASSWORD: &str = "admin-password-for-e2e";
const BOOTSTRAP: (&str, &str) = ("GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD);

fn temp_dir() -> TempDir {
    TempDir::new().expect("create a temporary directory")
}

/// The names in `dir`, sorted.
fn dir_entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("list the directory")
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// Stdout of a command that must have succeeded.
fn succeeded(output: &Output) -> String {
    assert!(
        output.status.success(),
        "gatehouse failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The password in the first-start message, `... password '<pw>' ...`.
fn generated_password(logs: &str) -> Option<&str> {
    let start = logs.find("password '")? + "password '".len();
    let length = logs[start..].find('\'')?;
    Some(&logs[start..start + length])
}

/// Runs `gatehouse serve` in a fresh folder holding only `config` (as `custom.toml`,
/// passed with `--config`) and checks it stops with exit code 2, names `key`, and
/// leaves nothing behind.
async fn assert_config_rejected(env: &[(&str, &str)], config: Option<&str>, key: &str) {
    let dir = temp_dir();
    let mut command = gatehouse_command(dir.path());
    if let Some(text) = config {
        let path = dir.path().join("custom.toml");
        std::fs::write(&path, text).expect("write the config file");
        command.arg("--config").arg(path);
    }
    command.arg("serve").envs(env.iter().copied());
    let before = dir_entries(dir.path());

    let output = run_to_exit(command, None).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(2),
        "{key}: {}; stderr: {stderr}",
        output.status
    );
    assert!(stderr.contains(key), "stderr does not name {key}: {stderr}");
    assert_eq!(dir_entries(dir.path()), before, "{key}: files were created");
}

#[tokio::test]
async fn invalid_config_exits_2_naming_the_key() {
    assert_config_rejected(
        &[("GATEHOUSE__SERVER__LISTEN", "not-an-address")],
        None,
        "server.listen",
    )
    .await;
    assert_config_rejected(
        &[("GATEHOUSE__AUTH__TOKEN_TTL_S", "3600")],
        None,
        "auth.token_ttl_s",
    )
    .await;
    assert_config_rejected(
        &[],
        Some("[database]\nurl = \"mysql://x\"\n"),
        "database.url",
    )
    .await;
}

#[tokio::test]
async fn generated_admin_password_is_printed_once_and_works() {
    let dir = temp_dir();
    let mut server = ServerProcess::start_ready(dir.path(), &[]).await;
    let logs = server.logs();
    let password = generated_password(&logs)
        .unwrap_or_else(|| panic!("no generated password on first start:\n{logs}"))
        .to_owned();
    assert!(
        password.len() >= 12,
        "generated password too short: {password:?}"
    );
    assert_eq!(
        logs.matches(&password).count(),
        1,
        "the password is shown more than once:\n{logs}"
    );
    server.api().token("admin", &password).await;
    assert!(server.stop().await.success());

    let restarted = ServerProcess::start_ready(dir.path(), &[]).await;
    let logs = restarted.logs();
    assert!(
        generated_password(&logs).is_none(),
        "a password was printed again:\n{logs}"
    );
    assert!(
        !logs.contains(&password),
        "the first password reappears:\n{logs}"
    );
    restarted.api().token("admin", &password).await;
}

#[tokio::test]
async fn committed_changes_survive_sigkill() {
    let dir = temp_dir();
    let mut server = ServerProcess::start_ready(dir.path(), &[BOOTSTRAP]).await;
    let api = server.api();
    let token = api.token("admin", ADMIN_PASSWORD).await;
    let usernames: Vec<String> = (1..=20).map(|n| format!("operator-{n:02}")).collect();
    for username in &usernames {
        let body = json!({ "username": username, "password": "operator-password-1", "role": "receptionist" });
        expect_json(api.post("/operators", &token, &body).await, 201).await;
    }
    server.kill9();

    let server = ServerProcess::start_ready(dir.path(), &[BOOTSTRAP]).await;
    let api = server.api();
    let token = api.token("admin", ADMIN_PASSWORD).await;

    let operators = api.list_all("/operators", &token, 5).await;
    let listed: BTreeSet<&str> = operators
        .iter()
        .filter_map(|o| o["username"].as_str())
        .collect();
    assert_eq!(
        operators.len(),
        usernames.len() + 1,
        "admin and 20 operators: {listed:?}"
    );
    for username in &usernames {
        assert!(
            listed.contains(username.as_str()),
            "{username} lost after SIGKILL: {listed:?}"
        );
    }

    let log = api.list_all("/operator-log", &token, 5).await;
    let seqs: Vec<i64> = log
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect();
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "log seqs not consecutive: {seqs:?}"
    );
    let created_by_admin: BTreeSet<&str> = log
        .iter()
        .filter(|e| e["action"] == "operator.create" && e["actor"] == "admin")
        .filter_map(|e| e["after"]["username"].as_str())
        .collect();
    for username in &usernames {
        assert!(
            created_by_admin.contains(username.as_str()),
            "no operator.create by admin for {username}: {log:#?}"
        );
    }
}

/// `token` with the first character of its signature changed.
fn tampered(token: &str) -> String {
    let (unsigned, signature) = token.rsplit_once('.').expect("a JWT");
    let mut chars = signature.chars();
    let replacement = if chars.next() == Some('A') { 'B' } else { 'A' };
    format!("{unsigned}.{replacement}{}", chars.as_str())
}

#[tokio::test]
async fn logs_never_contain_tokens_or_passwords() {
    const WRONG_PASSWORD: &str = "WrongPassword-xyz-123";
    const OPERATOR_PASSWORD: &str = "NewOperator-pw-456";
    let dir = temp_dir();
    let mut server =
        ServerProcess::start_ready(dir.path(), &[BOOTSTRAP, ("RUST_LOG", "debug")]).await;
    let api = server.api();

    let token = api.token("admin", ADMIN_PASSWORD).await;
    expect_json(api.login("admin", WRONG_PASSWORD).await, 401).await;
    expect_json(api.get("/auth/me", &token).await, 200).await;
    let body = json!({ "username": "newcomer", "password": OPERATOR_PASSWORD, "role": "auditor" });
    expect_json(api.post("/operators", &token, &body).await, 201).await;
    let forged = tampered(&token);
    expect_json(api.get("/auth/me", &forged).await, 401).await;
    assert!(server.stop().await.success());

    let logs = server.logs();
    assert!(logs.contains("answered"), "no request log lines:\n{logs}");
    let signature = token.rsplit('.').next().expect("a JWT");
    let secrets = [
        ("the admin password", ADMIN_PASSWORD),
        ("the wrong password", WRONG_PASSWORD),
        ("the new operator's password", OPERATOR_PASSWORD),
        ("the access token", token.as_str()),
        ("the token's signature", signature),
        ("the tampered token", forged.as_str()),
    ];
    for (what, secret) in secrets {
        let leaks: Vec<&str> = logs.lines().filter(|line| line.contains(secret)).collect();
        assert!(
            leaks.is_empty(),
            "the log contains {what}:\n{}",
            leaks.join("\n")
        );
    }
}

#[tokio::test]
async fn sigterm_shuts_down_gracefully() {
    let dir = temp_dir();
    let mut server = ServerProcess::start_ready(dir.path(), &[BOOTSTRAP]).await;
    let status = server.stop().await;
    let logs = server.logs();
    assert_eq!(
        status.code(),
        Some(0),
        "exit after SIGTERM: {status}; log:\n{logs}"
    );
    assert!(
        logs.contains("gatehouse stopped"),
        "no 'gatehouse stopped' in the log:\n{logs}"
    );
}

/// The line of `operator list` output about `username`.
fn listed_line<'a>(list: &'a str, username: &str) -> Option<&'a str> {
    list.lines()
        .find(|line| line.split_whitespace().nth(1) == Some(username))
}

#[tokio::test]
async fn cli_operator_commands() {
    const ALICE_PASSWORD: &str = "alice-password-123";
    let dir = temp_dir();
    let dir = dir.path();
    let add_alice = [
        "operator",
        "add",
        "--username",
        "alice",
        "--role",
        "security",
        "--password-stdin",
    ];
    succeeded(&gatehouse(dir, &add_alice, Some(&format!("{ALICE_PASSWORD}\n"))).await);

    let list = succeeded(&gatehouse(dir, &["operator", "list"], None).await);
    let alice = listed_line(&list, "alice").unwrap_or_else(|| panic!("alice not listed:\n{list}"));
    assert!(
        alice.contains("security") && alice.contains("active"),
        "{alice}"
    );

    let add_root = ["operator", "add", "--username", "mallory", "--role", "root"];
    let rejected = gatehouse(dir, &add_root, None).await;
    assert!(!rejected.status.success(), "role root was accepted");
    let list = succeeded(&gatehouse(dir, &["operator", "list"], None).await);
    assert!(
        listed_line(&list, "mallory").is_none(),
        "mallory was created:\n{list}"
    );

    let server = ServerProcess::start_ready(dir, &[]).await;
    let api = server.api();
    let token = api.token("alice", ALICE_PASSWORD).await;
    expect_json(api.get("/auth/me", &token).await, 200).await;

    succeeded(&gatehouse(dir, &["operator", "disable", "alice"], None).await);
    expect_json(api.login("alice", ALICE_PASSWORD).await, 401).await;
    expect_json(api.get("/auth/me", &token).await, 401).await;
    let list = succeeded(&gatehouse(dir, &["operator", "list"], None).await);
    let alice = listed_line(&list, "alice").unwrap_or_else(|| panic!("alice not listed:\n{list}"));
    assert!(alice.contains("disabled"), "{alice}");
}
