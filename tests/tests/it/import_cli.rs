//! `gatehouse import people FILE` as an operator runs it: a bad file (or one not in
//! UTF-8) is refused whole with every line error on stderr and exit 1; a good one is
//! imported (the server then serves what it created), and importing it again changes
//! nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gatehouse_e2e::{ServerProcess, expect_json, gatehouse};
use serde_json::Value;
use tempfile::TempDir;

const ADMIN_PASSWORD: &str = "admin-password-for-e2e";
const HEADER: &str = "external_id,name,kind,employer,clearance,status,vetting_status,\
    vetting_cleared_until,vetting_reference,card,card_kind,card_valid_from,card_valid_until";

fn summary(stdout: &[u8]) -> Value {
    serde_json::from_slice(stdout).expect("the summary is JSON")
}

#[tokio::test]
async fn the_cli_imports_a_file_all_or_nothing() {
    let dir = TempDir::new().unwrap();
    let file = dir.path().join("staff.csv");
    let file_arg = file.to_str().unwrap();

    // Latin-1: one error saying the file is not UTF-8, not one per cell.
    let latin1: Vec<u8> = format!("{HEADER}\nE1,Zoë,staff,,3,,,,,,,,\n")
        .chars()
        .map(|c| c as u8)
        .collect();
    std::fs::write(&file, latin1).unwrap();
    let refused = gatehouse(dir.path(), &["import", "people", file_arg], None).await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        stderr.contains("line 2: file: the file is not UTF-8"),
        "{stderr}"
    );

    let bad = format!("{HEADER}\nE1,Ada,staff,,3,,,,,0A0B,,,\nE2,Bob,staff,,x,,,,,zz,,,\n");
    std::fs::write(&file, bad).unwrap();
    let refused = gatehouse(dir.path(), &["import", "people", file_arg], None).await;
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("line 3: card:"), "{stderr}");
    assert!(stderr.contains("line 3: clearance:"), "{stderr}");
    assert!(stderr.contains("nothing was imported"), "{stderr}");

    let good = format!(
        "{HEADER}\r\nE1,\"Lovelace, Ada\",staff,,3,,cleared,2099-01-01,V-1,0A0B,,,\r\n\
         E2,Bob,contractor,Acme,1,,,,,0C0D,secure,,\r\n"
    );
    std::fs::write(&file, good).unwrap();
    let imported = gatehouse(dir.path(), &["import", "people", file_arg], None).await;
    assert!(
        imported.status.success(),
        "{}",
        String::from_utf8_lossy(&imported.stderr)
    );
    let first = summary(&imported.stdout);
    assert_eq!(first["people_created"], 2);
    assert_eq!(first["credentials_created"], 2);
    assert_eq!(first["vetting_recorded"], 1);

    let again = gatehouse(dir.path(), &["import", "people", file_arg], None).await;
    let again = summary(&again.stdout);
    assert_eq!(again["unchanged_rows"], 2);
    assert_eq!(again["policy_version"], first["policy_version"]);

    let server = ServerProcess::start_ready(
        dir.path(),
        &[("GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD)],
    )
    .await;
    let api = server.api();
    let token = api.token("admin", ADMIN_PASSWORD).await;
    let people = expect_json(api.get("/people", &token).await, 200).await;
    let people = people["items"].as_array().unwrap();
    let names: Vec<_> = people.iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["Lovelace, Ada", "Bob"]);
    assert_eq!(people[0]["external_id"], "E1");
    assert_eq!(people[0]["vetting"]["checked_by"], "cli");
    let cards = expect_json(api.get("/credentials", &token).await, 200).await;
    let cards: Vec<_> = cards["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["card"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(cards, ["0A0B", "0C0D"]);
}
