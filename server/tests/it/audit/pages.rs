//! Exports and verification of a trail longer than their pages (exports read 2,000
//! entries a page and the verifier 5,000, each reading the next page while it works on
//! the current one), on both backends: the export's bytes are those of the reference
//! encoding, every entry comes once and in order, and tampering on a page read ahead is
//! still found at its record.

use super::trail::{Trail, drop_guards, long_trail};
use crate::common::TestDb;
use chrono::{Duration, Utc};
use futures_util::StreamExt;
use gatehouse_server::audit::export::line::{CsvLayout, Line};
use gatehouse_server::audit::export::offline::verify_export;
use gatehouse_server::audit::export::{self, ExportFilter, ExportRequest, Format};

conformance!(
    long_exports_are_the_reference_bytes_and_verify,
    tampering_on_a_later_page_is_named,
);

/// Events in the trail: more than two export pages and one verifier page.
const EVENTS: u64 = 5_500;

async fn export(trail: &Trail, format: Format) -> Vec<u8> {
    let request = ExportRequest {
        from: Utc::now() - Duration::days(1),
        to: Utc::now() + Duration::days(1),
        filter: ExportFilter::default(),
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
    out
}

/// The lines of an export file, read back.
fn lines(format: Format, bytes: &[u8]) -> Vec<Line> {
    match format {
        Format::Ndjson => std::str::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| Line::from_ndjson(l).unwrap())
            .collect(),
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
            let layout = CsvLayout::of(reader.headers().unwrap()).unwrap();
            reader
                .records()
                .map(|r| Line::from_csv(&r.unwrap(), &layout).unwrap())
                .collect()
        }
    }
}

async fn long_exports_are_the_reference_bytes_and_verify(db: &TestDb) {
    let trail = long_trail(db, EVENTS).await;
    let chain = trail.chain().await;
    assert!(chain.len() as u64 > EVENTS);
    for format in [Format::Ndjson, Format::Csv] {
        let bytes = export(&trail, format).await;
        let report = verify_export(&bytes[..], &trail.key.public_key()).unwrap();
        assert!(report.ok, "{format:?}: {report:?}");
        assert_eq!(report.records, chain.len() as u64);
        assert_eq!(report.redacted, 0);
        let lines = lines(format, &bytes);
        // The same bytes as the lines encoded the way exports were first written.
        let reference = export::encode_reference(format, &lines, true);
        assert!(
            reference == bytes,
            "{format:?}: differs from the reference encoding"
        );
        // Every entry once, in order.
        let seqs: Vec<i64> = lines
            .iter()
            .filter(|l| l.kind() == "record")
            .filter_map(Line::seq)
            .collect();
        let want: Vec<i64> = chain.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, want, "{format:?}");
    }
    let report = trail.verify().await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.records, chain.len() as i64);
    assert_eq!(report.checkpoints, EVENTS.div_ceil(500) as i64);
}

async fn tampering_on_a_later_page_is_named(db: &TestDb) {
    let trail = long_trail(db, EVENTS).await;
    drop_guards(db, "access_events").await;
    // On the verifier's second page, which it reads while checking the first.
    db.raw_execute("UPDATE access_events SET card = 'FF' WHERE seq = 5400")
        .await
        .unwrap();
    let chain = trail.chain().await;
    let events = trail
        .store
        .chained_events(1, chain.len() as i64)
        .await
        .unwrap();
    let altered = events
        .iter()
        .find(|e| e.row.as_ref().is_ok_and(|r| r.seq == 5400))
        .unwrap();
    let entry = chain.iter().find(|e| e.seq == altered.chain_seq).unwrap();
    assert!(entry.seq > 5_000);
    trail.assert_bad_at("record_altered", entry).await;
    // The export shows the altered record, and verifying it offline names it.
    let bytes = export(&trail, Format::Ndjson).await;
    let report = verify_export(&bytes[..], &trail.key.public_key()).unwrap();
    assert!(!report.ok);
    let bad = report.first_bad.unwrap();
    assert_eq!(bad.seq, Some(entry.seq), "{bad:?}");
}
