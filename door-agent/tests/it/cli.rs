//! The `door-agent` binary's command line: help with examples, and exit code 2 on a bad
//! configuration that names the key.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

fn door_agent() -> Command {
    Command::new(env!("CARGO_BIN_EXE_door-agent"))
}

#[test]
fn help_lists_commands_and_examples() {
    let out = door_agent().arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for word in ["enroll", "run", "Examples", "--config"] {
        assert!(text.contains(word), "--help lacks {word}: {text}");
    }
    let out = door_agent().args(["enroll", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("--code"));
}

#[test]
fn bad_config_exits_2_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("agent.toml");
    for (text, key) in [
        ("[agent]\nmax_policy_agee_s = 5\n", "max_policy_agee_s"),
        (
            "[server]\nurl = \"http://10.1.2.3:8080\"\nallow_plain_http = true\n",
            "server.url",
        ),
        ("[status]\nlisten = \"0.0.0.0:9100\"\n", "status.listen"),
        ("[server]\nurl = \"http://127.0.0.1:8080\"\n", "server.url"),
    ] {
        std::fs::write(&path, text).unwrap();
        let out = door_agent()
            .arg("run")
            .arg("--config")
            .arg(&path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {stderr}");
        assert!(stderr.contains(key), "{text}: {stderr}");
    }
}

#[test]
fn shipped_config_is_valid() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../config/door-agent.toml");
    door_agent::config::AgentConfig::load(std::path::Path::new(path)).unwrap();
}
