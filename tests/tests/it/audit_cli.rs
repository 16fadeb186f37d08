//! `gatehouse audit ...` as an auditor runs it: `verify` exits 0 on an untouched trail
//! and 1 once a row was changed behind the server's back; `export` writes a file that
//! `verify-export` accepts with the public key alone (on a machine with no database),
//! and rejects once a line of it is edited.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gatehouse_e2e::{database_url, gatehouse, gatehouse_command, run_to_exit};
use serde_json::Value;
use tempfile::TempDir;

fn stdout_json(output: &std::process::Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    })
}

#[tokio::test]
async fn an_auditor_verifies_exports_and_verifies_offline() {
    let dir = TempDir::new().unwrap();
    for name in ["ada", "bo"] {
        let added = gatehouse(
            dir.path(),
            &[
                "operator",
                "add",
                "--username",
                name,
                "--role",
                "auditor",
                "--password-stdin",
            ],
            Some("a long enough password\n"),
        )
        .await;
        assert!(added.status.success(), "{added:?}");
    }
    let verified = gatehouse(dir.path(), &["audit", "verify"], None).await;
    assert_eq!(verified.status.code(), Some(0), "{verified:?}");
    assert_eq!(stdout_json(&verified)["ok"], true);

    let file = dir.path().join("export.csv");
    let exported = gatehouse(
        dir.path(),
        &[
            "audit",
            "export",
            "--format",
            "csv",
            "--from",
            "2000-01-01T00:00:00Z",
            "--to",
            "2100-01-01T00:00:00Z",
            "--out",
            file.to_str().unwrap(),
        ],
        None,
    )
    .await;
    assert!(exported.status.success(), "{exported:?}");
    let key = gatehouse(dir.path(), &["audit", "public-key"], None).await;
    let key = String::from_utf8(key.stdout).unwrap().trim().to_owned();
    assert_eq!(key.len(), 44, "{key}");

    // The auditor's machine: an empty folder, no database, only the file and the key.
    let elsewhere = TempDir::new().unwrap();
    let verify_export = async |path: &std::path::Path| {
        let mut command = gatehouse_command(elsewhere.path());
        command.args([
            "audit",
            "verify-export",
            path.to_str().unwrap(),
            "--public-key",
            &key,
        ]);
        run_to_exit(command, None).await
    };
    let offline = verify_export(&file).await;
    assert_eq!(offline.status.code(), Some(0), "{offline:?}");
    let report = stdout_json(&offline);
    assert!(report["records"].as_u64().unwrap() >= 2, "{report}");
    assert!(
        !elsewhere.path().join("data").exists(),
        "verify-export made a database"
    );

    let text = std::fs::read_to_string(&file).unwrap();
    let edited = dir.path().join("edited.csv");
    std::fs::write(
        &edited,
        text.replacen(",operator.create,", ",operator.disable,", 1),
    )
    .unwrap();
    assert_ne!(
        std::fs::read_to_string(&edited).unwrap(),
        text,
        "the edit applies"
    );
    let refused = verify_export(&edited).await;
    assert_eq!(refused.status.code(), Some(1), "{refused:?}");
    assert_eq!(
        stdout_json(&refused)["first_bad"]["problem"],
        "record_altered"
    );

    // Someone with database access rewrites a log entry around the trigger.
    let pool = sqlx::SqlitePool::connect(&database_url(dir.path()))
        .await
        .unwrap();
    for sql in [
        "DROP TRIGGER operator_log_no_update",
        "UPDATE operator_log SET actor = 'mallory' WHERE actor = 'cli' AND target_id IS NOT NULL",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    let tampered = gatehouse(dir.path(), &["audit", "verify"], None).await;
    assert_eq!(tampered.status.code(), Some(1), "{tampered:?}");
    assert_eq!(
        stdout_json(&tampered)["first_bad"]["problem"],
        "record_altered"
    );
}
