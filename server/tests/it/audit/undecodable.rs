//! Rows altered behind the database's back so that a value no longer decodes: each is
//! named at its chain position (`record_altered` for a record), never an error, on both
//! databases, for every column type of every chained table; the same through the API
//! and for an export file with an unreadable line.

use super::trail::{Trail, drop_guards, postgres, trail};
use crate::common::{TestApp, TestDb, expect};
use futures_util::StreamExt;
use gatehouse_server::audit::export::offline::verify_export;
use gatehouse_server::audit::export::{self, ExportFilter, ExportRequest, Format};
use gatehouse_server::audit::records::Source;
use gatehouse_server::store::ChainEntry;
use reqwest::StatusCode;
use uuid::Uuid;

conformance!(
    every_undecodable_column_is_a_finding,
    an_undecodable_chain_entry_checkpoint_or_head_is_a_finding,
    an_export_shows_an_undecodable_record_by_its_digest,
);

/// An undecodable value for `column` of the chained record of `source`: SQLite stores
/// anything in any column; PostgreSQL only its type's values, so there it is a NULL once
/// the NOT NULL is dropped, or a value out of the Rust type's range (`None`: the
/// column's type holds nothing the decoder refuses).
struct Case {
    source: Source,
    column: &'static str,
    sqlite: &'static str,
    postgres: Option<&'static str>,
}

const fn case(
    source: Source,
    column: &'static str,
    sqlite: &'static str,
    postgres: Option<&'static str>,
) -> Case {
    Case {
        source,
        column,
        sqlite,
        postgres,
    }
}

const NULL: Option<&str> = Some("NULL");
/// Nesting deeper than the JSON decoder's recursion limit.
const DEEP_JSON: &str = "(repeat('[', 200) || repeat(']', 200))::jsonb";

const CASES: &[Case] = &[
    // access_events: UUID, integer, bytes, time, text and their nullable kinds.
    case(Source::Event, "agent_id", "X'00'", NULL),
    case(Source::Event, "door_id", "'front door'", None),
    case(Source::Event, "seq", "'three'", NULL),
    case(Source::Event, "policy_version", "'v1'", None),
    case(Source::Event, "payload", "5", NULL),
    case(
        Source::Event,
        "occurred_at",
        "replace(occurred_at, '+00:00', '+00:0X')",
        Some("'290000-06-01'"),
    ),
    case(
        Source::Event,
        "received_at",
        "'yesterday'",
        Some("'294000-01-01'"),
    ),
    case(Source::Event, "kind", "CAST(X'FF' AS TEXT)", NULL),
    case(Source::Event, "reader", "CAST(X'C3' AS TEXT)", None),
    case(Source::Event, "released_by", "'the escort'", None),
    case(Source::Event, "release_of", "X'0102'", None),
    // operator_log: the issue's own example first, then JSON and salt.
    case(
        Source::Operator,
        "at",
        "replace(at, '+00:00', '+00:0X')",
        Some("'-infinity'"),
    ),
    case(Source::Operator, "actor_id", "X'0102'", None),
    case(Source::Operator, "actor", "CAST(X'FF' AS TEXT)", NULL),
    case(Source::Operator, "after", "'{not json'", Some(DEEP_JSON)),
    case(Source::Operator, "detail_salt", "3.5", None),
    // agent_alarms
    case(Source::Alarm, "agent_id", "X'00'", NULL),
    case(Source::Alarm, "at", "'soon'", Some("'infinity'")),
    case(Source::Alarm, "detail", "CAST(X'FF' AS TEXT)", NULL),
];

fn table(source: Source) -> &'static str {
    match source {
        Source::Event => "access_events",
        Source::Operator => "operator_log",
        Source::Alarm => "agent_alarms",
    }
}

fn id_literal(db: &TestDb, id: Uuid) -> String {
    if postgres(db) {
        format!("'{id}'")
    } else {
        format!("X'{}'", id.simple())
    }
}

/// The chain entry of the record of `source` the cases alter: an event in the middle,
/// the first operator action, the alarm.
async fn target(trail: &Trail, source: Source) -> ChainEntry {
    match source {
        Source::Event => trail.entry_of(trail.events[2].id).await,
        _ => trail
            .chain()
            .await
            .into_iter()
            .find(|e| e.source == source.as_str())
            .unwrap(),
    }
}

/// Sets `column` of `table`'s row `filter` to `value` behind the server's back.
async fn alter(db: &TestDb, table: &str, column: &str, value: &str, filter: &str) {
    if postgres(db) && value == "NULL" {
        db.raw_execute(&format!(
            "ALTER TABLE {table} ALTER COLUMN {column} DROP NOT NULL"
        ))
        .await
        .unwrap();
    }
    let mut sql = format!("UPDATE {table} SET {column} = {value} WHERE {filter}");
    if !postgres(db) {
        // An agent id that is no agent: what the foreign key would refuse.
        sql = format!("PRAGMA foreign_keys = OFF; {sql}");
    }
    db.raw_execute(&sql).await.unwrap();
}

/// A new database of `db`'s kind: each trail needs a database of its own.
async fn fresh(db: &TestDb) -> TestDb {
    if postgres(db) {
        TestDb::postgres().await.unwrap()
    } else {
        TestDb::sqlite()
    }
}

async fn every_undecodable_column_is_a_finding(kind: &TestDb) {
    for case in CASES {
        let value = if postgres(kind) {
            let Some(value) = case.postgres else { continue };
            value
        } else {
            case.sqlite
        };
        let db = &fresh(kind).await;
        let trail = trail(db).await;
        let entry = target(&trail, case.source).await;
        let table = table(case.source);
        drop_guards(db, table).await;
        let filter = format!("id = {}", id_literal(db, entry.record_id));
        alter(db, table, case.column, value, &filter).await;
        let label = format!("{table}.{} = {value}", case.column);
        let report = trail.verify().await;
        let bad = report.first_bad.clone().expect(&label);
        assert_eq!(bad.problem, "record_altered", "{label}: {report:?}");
        assert_eq!(bad.seq, Some(entry.seq), "{label}: {report:?}");
        assert_eq!(bad.record_id, Some(entry.record_id), "{label}");
        assert!(bad.detail.contains(case.column), "{label}: {}", bad.detail);
        assert_eq!(report.records, entry.seq - 1, "{label}");
        trail.store.close().await;
    }
}

async fn an_undecodable_chain_entry_checkpoint_or_head_is_a_finding(db: &TestDb) {
    let never = if postgres(db) {
        "'infinity'"
    } else {
        "'never'"
    };

    let trail = trail(db).await;
    let entry = target(&trail, Source::Event).await;
    drop_guards(db, "audit_chain").await;
    let filter = format!("seq = {}", entry.seq);
    alter(db, "audit_chain", "recorded_at", never, &filter).await;
    let report = trail.verify().await;
    let bad = report.first_bad.clone().unwrap();
    assert_eq!(
        (bad.problem.as_str(), bad.seq),
        ("chain_altered", Some(entry.seq))
    );
    assert_eq!(report.records, entry.seq - 1);

    trail.store.close().await;
    let db = &fresh(db).await;
    let trail = super::trail::trail(db).await;
    let checkpoint = trail.store.last_checkpoint().await.unwrap().unwrap();
    drop_guards(db, "audit_checkpoints").await;
    let filter = format!("seq = {}", checkpoint.seq);
    alter(db, "audit_checkpoints", "signed_at", never, &filter).await;
    let report = trail.verify().await;
    let bad = report.first_bad.clone().unwrap();
    assert_eq!(
        (bad.problem.as_str(), bad.seq),
        ("checkpoint_mismatch", Some(checkpoint.seq))
    );

    trail.store.close().await;
    let db = &fresh(db).await;
    let trail = super::trail::trail(db).await;
    let seq = if postgres(db) { "NULL" } else { "'last'" };
    alter(db, "audit_head", "seq", seq, "id = 1").await;
    let report = trail.verify().await;
    let bad = report.first_bad.clone().unwrap();
    assert_eq!((bad.problem.as_str(), bad.seq), ("chain_altered", None));
    assert!(bad.detail.contains("head"), "{}", bad.detail);
}

async fn export_text(trail: &Trail) -> String {
    let request = ExportRequest {
        from: chrono::Utc::now() - chrono::Duration::days(1),
        to: chrono::Utc::now() + chrono::Duration::days(1),
        filter: ExportFilter::default(),
        format: Format::Ndjson,
    };
    let plan = export::plan(&trail.store, &trail.key, request)
        .await
        .unwrap();
    let mut chunks = std::pin::pin!(export::stream(trail.store.clone(), plan));
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        out.extend(chunk.unwrap().0);
    }
    String::from_utf8(out).unwrap()
}

async fn an_export_shows_an_undecodable_record_by_its_digest(db: &TestDb) {
    let trail = trail(db).await;
    let entry = target(&trail, Source::Alarm).await;
    drop_guards(db, "agent_alarms").await;
    let at = if postgres(db) { "'infinity'" } else { "'soon'" };
    let filter = format!("id = {}", id_literal(db, entry.record_id));
    alter(db, "agent_alarms", "at", at, &filter).await;
    let text = export_text(&trail).await;
    let line = text
        .lines()
        .position(|l| l.contains(&entry.record_id.to_string()))
        .unwrap();
    assert!(text.lines().nth(line).unwrap().contains("\"redacted\""));
    let report = verify_export(text.as_bytes(), &trail.key.public_key()).unwrap();
    let bad = report.first_bad.unwrap();
    assert_eq!(
        (bad.problem.as_str(), bad.seq, bad.line),
        ("record_withheld", Some(entry.seq), line as u64 + 1)
    );
}

/// A record line of an export whose field does not read: `record_altered` at its line
/// and position; a chain field that does not read: `chain_broken` there; a line that is
/// not a line at all: `malformed`.
#[tokio::test]
async fn an_export_line_that_does_not_read_is_named() {
    let db = TestDb::sqlite();
    let trail = trail(&db).await;
    let text = export_text(&trail).await;
    let original: Vec<&str> = text.lines().collect();
    let event = original
        .iter()
        .position(|l| l.contains("\"agent_seq\":\"3\""))
        .unwrap();
    let operator = original
        .iter()
        .position(|l| l.contains("\"source\":\"operator\"") && l.contains("\"after\""))
        .unwrap();
    let seq_of = |i: usize| {
        let line: serde_json::Value = serde_json::from_str(original[i]).unwrap();
        line["seq"].as_str().unwrap().parse::<i64>().unwrap()
    };
    let edit = |at: usize, field: &str, value: &str| {
        let mut line: serde_json::Value = serde_json::from_str(original[at]).unwrap();
        line[field] = serde_json::Value::String(value.to_owned());
        let mut lines: Vec<String> = original.iter().map(|l| (*l).to_owned()).collect();
        lines[at] = line.to_string();
        lines.join("\n") + "\n"
    };
    let cases = [
        (
            event,
            "occurred_at",
            "2026-12-06T05:00:00+00:0X",
            "record_altered",
        ),
        (event, "agent_id", "not-a-uuid", "record_altered"),
        (event, "agent_seq", "three", "record_altered"),
        (event, "agent_hash", "zz", "record_altered"),
        (event, "policy_version", "v1", "record_altered"),
        (operator, "after", "{not json", "record_altered"),
        (operator, "detail_salt", "xyz", "record_altered"),
        (event, "recorded_at", "yesterday", "chain_broken"),
        (event, "record_id", "not-a-uuid", "chain_broken"),
        (event, "digest", "00", "chain_broken"),
        (event, "source", "someone", "chain_broken"),
    ];
    for (at, field, value, problem) in cases {
        let report =
            verify_export(edit(at, field, value).as_bytes(), &trail.key.public_key()).unwrap();
        let bad = report.first_bad.unwrap();
        assert_eq!(
            (bad.problem.as_str(), bad.line, bad.seq),
            (problem, at as u64 + 1, Some(seq_of(at))),
            "{field} = {value}: {}",
            bad.detail
        );
        assert!(bad.detail.contains(field), "{field}: {}", bad.detail);
    }
    // Not a line at all: no position to name.
    let mut cut: Vec<&str> = original.clone();
    cut[event] = &original[event][..20];
    let report =
        verify_export((cut.join("\n") + "\n").as_bytes(), &trail.key.public_key()).unwrap();
    let bad = report.first_bad.unwrap();
    assert_eq!(
        (bad.problem.as_str(), bad.line),
        ("malformed", event as u64 + 1)
    );
    let mut bytes = text.clone().into_bytes();
    let offset = text.find("\"agent_seq\":\"3\"").unwrap();
    bytes[offset + 1] = 0xFF;
    let report = verify_export(&bytes[..], &trail.key.public_key()).unwrap();
    assert_eq!(report.first_bad.unwrap().problem, "malformed");
}

/// The issue's own example through the API: an operator-log time edited to
/// `+00:0X` is reported, not a 500.
#[tokio::test]
async fn the_api_names_an_undecodable_record() {
    let db = TestDb::sqlite();
    let app = TestApp::start_on(&db).await;
    let admin = app.admin_token().await;
    drop_guards(&db, "operator_log").await;
    db.raw_execute(
        "UPDATE operator_log SET at = replace(at, '+00:00', '+00:0X') \
         WHERE seq = (SELECT MIN(seq) FROM operator_log)",
    )
    .await
    .unwrap();
    let report = expect(
        app.get("/api/v1/audit/verify", &admin).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["first_bad"]["problem"], "record_altered", "{report}");
    assert_eq!(report["first_bad"]["source"], "operator", "{report}");
    assert!(report["first_bad"]["seq"].as_i64().is_some(), "{report}");
    app.stop().await;
}
