//! A real SMTP server for the end-to-end tests: aiosmtpd running the server tests' sink
//! (`server/tests/it/notifications/smtp_sink.py`), which parses each message with
//! Python's own `email` package and writes it as JSON. Python comes from
//! `GATEHOUSE_TEST_PYTHON` (`.ci/run` sets it to a venv with aiosmtpd), else
//! `target/pyvenv`; without aiosmtpd the test is skipped with a message, unless
//! `GATEHOUSE_TEST_REQUIRE_SMTP=1` (as `.ci/run` sets it, and as the server's tests read
//! it).

use crate::{free_port, wait_until};
use serde_json::Value;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// The Python that has aiosmtpd.
pub const PYTHON_VAR: &str = "GATEHOUSE_TEST_PYTHON";
/// `1`: fail instead of skipping when aiosmtpd cannot be started.
pub const REQUIRE_VAR: &str = "GATEHOUSE_TEST_REQUIRE_SMTP";
/// How long aiosmtpd may take to listen, and a message to arrive.
const SMTP_WAIT: Duration = Duration::from_secs(30);

/// aiosmtpd on a loopback port; stopped when dropped.
pub struct SmtpSink {
    pub port: u16,
    dir: tempfile::TempDir,
    _child: tokio::process::Child,
}

impl SmtpSink {
    /// Starts it, or `None` (with a printed line naming `test`) when Python with
    /// aiosmtpd is not there and [`REQUIRE_VAR`] is not `1`.
    pub async fn start(test: &str) -> Option<SmtpSink> {
        let python = std::env::var_os(PYTHON_VAR).map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyvenv/bin/python"),
            PathBuf::from,
        );
        let has_aiosmtpd = std::process::Command::new(&python)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_aiosmtpd {
            let what = format!("{} cannot import aiosmtpd", python.display());
            let required = std::env::var(REQUIRE_VAR).as_deref() == Ok("1");
            assert!(!required, "{test}: {REQUIRE_VAR}=1 but {what}");
            eprintln!("skipped {test}: {what} (run .ci/run, or set {PYTHON_VAR})");
            return None;
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../server/tests/it/notifications/smtp_sink.py");
        let dir = tempfile::tempdir().expect("a folder for the messages");
        let port = free_port();
        let mut child = tokio::process::Command::new(&python)
            .arg(&script)
            .arg(port.to_string())
            .arg(dir.path())
            // The sink stops when its standard input closes (when this is dropped).
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start the SMTP sink");
        let stdout = child.stdout.take().expect("the sink's stdout");
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(SMTP_WAIT, lines.next_line()).await;
        assert!(
            matches!(ready, Ok(Ok(Some(ref line))) if line == "ready"),
            "aiosmtpd did not start: {ready:?}"
        );
        Some(SmtpSink {
            port,
            dir,
            _child: child,
        })
    }

    /// The server's settings for sending through this sink (plain SMTP on loopback).
    pub fn server_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("GATEHOUSE__NOTIFY__SMTP__HOST", "127.0.0.1".to_owned()),
            ("GATEHOUSE__NOTIFY__SMTP__PORT", self.port.to_string()),
            ("GATEHOUSE__NOTIFY__SMTP__TLS", "none".to_owned()),
            (
                "GATEHOUSE__NOTIFY__SMTP__FROM",
                "Gatehouse <gatehouse@example.org>".to_owned(),
            ),
        ]
    }

    /// The messages received so far, in order: each with `mail_from`, `rcpt_tos`,
    /// `subject`, `to`, `from` and its `parts` (see the sink's script).
    pub fn messages(&self) -> Vec<Value> {
        let mut found: Vec<(u32, Value)> = std::fs::read_dir(self.dir.path())
            .expect("read the sink's folder")
            .flatten()
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                let n = name.strip_suffix(".json")?.parse().ok()?;
                let text = std::fs::read_to_string(e.path()).ok()?;
                Some((n, serde_json::from_str(&text).expect("a message as JSON")))
            })
            .collect();
        found.sort_by_key(|(n, _)| *n);
        found.into_iter().map(|(_, v)| v).collect()
    }

    /// Waits until a message for `recipient` (an envelope recipient) arrived; returns it.
    pub async fn wait_message_to(&self, recipient: &str) -> Value {
        let what = format!("an email to {recipient}");
        wait_until(SMTP_WAIT, &what, async || {
            self.messages().into_iter().find(|m| {
                m["rcpt_tos"]
                    .as_array()
                    .is_some_and(|r| r.contains(&recipient.into()))
            })
        })
        .await
    }
}
