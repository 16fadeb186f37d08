//! Exports verified offline, on both backends: whole-period exports in NDJSON and CSV
//! verify and equal the database; each way of editing an exported file is named; a
//! filtered or shorter export verifies too.

use super::trail::{Trail, trail};
use crate::common::TestDb;
use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use gatehouse_server::audit::export::offline::{ExportReport, verify_export};
use gatehouse_server::audit::export::{self, ExportFilter, ExportRequest, Format};
use gatehouse_server::store::EventFilter;
use serde_json::Value;

conformance!(
    whole_period_exports_verify_and_equal_the_database,
    each_edit_of_an_exported_file_is_named,
    filtered_and_shorter_exports_verify,
);

fn whole_period() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        Utc::now() - Duration::days(1),
        Utc::now() + Duration::days(1),
    )
}

async fn export(
    trail: &Trail,
    filter: ExportFilter,
    format: Format,
    from: DateTime<Utc>,
) -> String {
    let request = ExportRequest {
        from,
        to: whole_period().1,
        filter,
        format,
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

fn check(trail: &Trail, text: &str) -> ExportReport {
    verify_export(text.as_bytes(), &trail.key.public_key()).unwrap()
}

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

async fn whole_period_exports_verify_and_equal_the_database(db: &TestDb) {
    let trail = trail(db).await;
    let ndjson = export(
        &trail,
        ExportFilter::default(),
        Format::Ndjson,
        whole_period().0,
    )
    .await;
    let report = check(&trail, &ndjson);
    let chain = trail.chain().await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, chain.len() as u64);
    assert_eq!(report.redacted, 0);
    assert!(report.checkpoints >= 1);

    // Every chain entry once, in order, with the database's values.
    let records: Vec<Value> = lines(&ndjson)
        .into_iter()
        .filter(|l| l["type"] == "record")
        .collect();
    let ids: Vec<String> = records
        .iter()
        .map(|r| r["record_id"].as_str().unwrap().to_owned())
        .collect();
    let chained: Vec<String> = chain.iter().map(|e| e.record_id.to_string()).collect();
    assert_eq!(ids, chained);
    let events = trail
        .store
        .list_events(&EventFilter::default(), None, 100)
        .await
        .unwrap();
    for event in &events {
        let line = records
            .iter()
            .find(|r| r["record_id"] == event.id.to_string().as_str())
            .unwrap();
        assert_eq!(line["card"], event.card.as_deref().unwrap());
        assert_eq!(line["outcome"], event.outcome.as_deref().unwrap());
        assert_eq!(line["reason"], event.reason.as_deref().unwrap());
        assert_eq!(line["door_id"], event.door_id.unwrap().to_string().as_str());
        assert_eq!(line["agent_seq"], event.seq.to_string().as_str());
        assert_eq!(
            line["occurred_at"],
            export::line::time(event.occurred_at).as_str()
        );
    }

    let csv = export(
        &trail,
        ExportFilter::default(),
        Format::Csv,
        whole_period().0,
    )
    .await;
    let report = check(&trail, &csv);
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, chain.len() as u64);
    assert!(
        csv.contains(",'=1+2,"),
        "the formula card is defused:\n{csv}"
    );
    assert!(!csv.contains(",=1+2,"));

    // An export made before `released_by`/`release_of` existed (the same file without
    // those columns) still verifies: columns are read by name.
    let older = without_columns(&csv, &["released_by", "release_of"]);
    assert_ne!(older, csv);
    let report = check(&trail, &older);
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, chain.len() as u64);
}

/// `csv` with the named columns taken out of every row.
fn without_columns(csv: &str, drop: &[&str]) -> String {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(csv.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let keep: Vec<usize> = (0..rows[0].len())
        .filter(|&i| !drop.contains(&&rows[0][i]))
        .collect();
    let mut writer = csv::Writer::from_writer(Vec::new());
    for row in &rows {
        writer.write_record(keep.iter().map(|&i| &row[i])).unwrap();
    }
    String::from_utf8(writer.into_inner().unwrap()).unwrap()
}

/// Verifies `text` and returns the problem and line number.
fn problem(trail: &Trail, text: &str) -> (String, u64) {
    let report = check(trail, text);
    assert!(!report.ok, "the edited export verified: {report:?}");
    let bad = report.first_bad.unwrap();
    (bad.problem, bad.line)
}

async fn each_edit_of_an_exported_file_is_named(db: &TestDb) {
    let trail = trail(db).await;
    let text = export(
        &trail,
        ExportFilter::default(),
        Format::Ndjson,
        whole_period().0,
    )
    .await;
    let original: Vec<&str> = text.lines().collect();
    let join = |lines: Vec<&str>| lines.join("\n") + "\n";
    let denied = original
        .iter()
        .position(|l| l.contains("\"outcome\":\"denied\""))
        .unwrap();

    let mut edited = original.clone();
    let granted = edited[denied].replace("\"outcome\":\"denied\"", "\"outcome\":\"granted\"");
    edited[denied] = &granted;
    assert_eq!(
        problem(&trail, &join(edited)),
        ("record_altered".into(), denied as u64 + 1)
    );

    let mut dropped = original.clone();
    dropped.remove(denied);
    assert_eq!(
        problem(&trail, &join(dropped)),
        ("removed_added_or_reordered".into(), denied as u64 + 1)
    );

    let mut swapped = original.clone();
    swapped.swap(denied, denied + 1);
    assert_eq!(
        problem(&trail, &join(swapped)),
        ("removed_added_or_reordered".into(), denied as u64 + 1)
    );

    let mut doubled = original.clone();
    doubled.insert(denied, original[denied]);
    assert_eq!(
        problem(&trail, &join(doubled)),
        ("removed_added_or_reordered".into(), denied as u64 + 2)
    );

    // A header naming an impossible start (the verifier's arithmetic must not overflow).
    for start in [i64::MIN, 0, i64::MAX] {
        let mut header: Value = serde_json::from_str(original[0]).unwrap();
        let data = header["data"].as_str().map(str::to_owned);
        let mut fields: Value = match &data {
            Some(text) => serde_json::from_str(text).unwrap(),
            None => header["data"].clone(),
        };
        fields["first_seq"] = start.into();
        header["data"] = match data {
            Some(_) => fields.to_string().into(),
            None => fields,
        };
        let header = header.to_string();
        let mut bad_start = original.clone();
        bad_start[0] = &header;
        assert_eq!(
            problem(&trail, &join(bad_start)),
            ("bad_header".into(), 1),
            "first_seq {start}"
        );
    }

    let mut unsigned = original.clone();
    assert!(unsigned.pop().unwrap().contains("checkpoint"));
    assert_eq!(problem(&trail, &join(unsigned)).0, "unsigned");

    // A record of the period turned into a digest-only line: withheld.
    let record: Value = serde_json::from_str(original[denied]).unwrap();
    let redacted = serde_json::json!({
        "type": "redacted", "seq": record["seq"], "source": record["source"],
        "record_id": record["record_id"], "recorded_at": record["recorded_at"],
        "digest": record["digest"], "hash": record["hash"],
    })
    .to_string();
    let mut withheld = original.clone();
    withheld[denied] = &redacted;
    assert_eq!(
        problem(&trail, &join(withheld)),
        ("record_withheld".into(), denied as u64 + 1)
    );

    // The same in CSV: one cell edited.
    let csv = export(
        &trail,
        ExportFilter::default(),
        Format::Csv,
        whole_period().0,
    )
    .await;
    let edited_csv = csv.replacen(",denied,", ",granted,", 1);
    assert_eq!(problem(&trail, &edited_csv).0, "record_altered");
}

async fn filtered_and_shorter_exports_verify(db: &TestDb) {
    let trail = trail(db).await;
    let presentations = ExportFilter {
        kind: Some("presentation".into()),
        ..ExportFilter::default()
    };
    let text = export(&trail, presentations, Format::Ndjson, whole_period().0).await;
    let report = check(&trail, &text);
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, 8, "the eight presentations in full");
    assert_eq!(report.redacted, trail.chain().await.len() as u64 - 8);
    for line in lines(&text).iter().filter(|l| l["type"] == "record") {
        assert_eq!(line["kind"], "presentation");
    }
    // A redacted entry's digest edited: the chain breaks there.
    let original: Vec<&str> = text.lines().collect();
    let at = original
        .iter()
        .position(|l| l.contains("\"type\":\"redacted\""))
        .unwrap();
    let mut entry: Value = serde_json::from_str(original[at]).unwrap();
    entry["digest"] = Value::String("00".repeat(32));
    let entry = entry.to_string();
    let mut edited = original.clone();
    edited[at] = &entry;
    assert_eq!(
        problem(&trail, &(edited.join("\n") + "\n")),
        ("chain_broken".into(), at as u64 + 1)
    );

    // From the last upload on (its events share one recorded_at): the stretch starts there.
    let later = trail.entry_of(trail.events[6].id).await;
    let text = export(
        &trail,
        ExportFilter::default(),
        Format::Csv,
        later.recorded_at,
    )
    .await;
    let report = check(&trail, &text);
    assert!(report.ok, "{report:?}");
    let header = text.lines().nth(1).unwrap();
    assert!(
        header.contains(&format!("\"\"first_seq\"\":{}", later.seq)),
        "{header}"
    );
}
