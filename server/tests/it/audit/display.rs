//! Display columns of exports, on both backends: each full record names its person,
//! organisation, door, zone and site and gives its site-local time, from the signed name
//! snapshot; editing a display column or the snapshot is named by the verifier; an
//! export without display columns verifies as before; a zone's export holds the forced
//! door at the zone's door, a site's everything at its doors.

use crate::common::TestDb;
use crate::occupancy::support::Site;
use chrono::Duration;
use futures_util::StreamExt;
use gatehouse_core::decide::{Direction, Outcome};
use gatehouse_core::event::{DoorEvent, EventKind};
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::export::offline::{ExportReport, verify_export};
use gatehouse_server::audit::export::{self, ExportFilter, ExportRequest, Format};
use gatehouse_server::store::now;
use serde_json::Value;

conformance!(
    display_columns_name_each_record_and_edits_are_named,
    the_name_snapshot_is_signed_for_its_export,
    exports_without_display_columns_verify,
    zone_and_site_exports_hold_the_incidents_at_their_doors,
);

/// Ada at the lab door, Bo at the front door, then the lab door forced.
async fn site(db: &TestDb) -> (Site, AuditKey) {
    let mut s = Site::create(db.store().await).await;
    let key = AuditKey::load(&s.store).await.unwrap();
    s.badge(s.ada, s.lab_door, Direction::Entry, Outcome::Granted, 1)
        .await;
    s.badge(s.bo, s.front, Direction::Entry, Outcome::Denied, 2)
        .await;
    let forced = DoorEvent {
        occurred_at: s.t0 + Duration::minutes(3),
        door_id: Some(s.lab_door),
        kind: EventKind::ForcedOpen,
    };
    s.upload(forced).await;
    (s, key)
}

async fn export_with(
    s: &Site,
    key: &AuditKey,
    filter: ExportFilter,
    format: Format,
    display: bool,
) -> String {
    let request = ExportRequest {
        from: now() - Duration::days(1),
        to: now() + Duration::days(1),
        filter,
        format,
    };
    let mut plan = export::plan(&s.store, key, request).await.unwrap();
    if !display {
        plan = plan.without_display();
    }
    let mut chunks = std::pin::pin!(export::stream(s.store.clone(), plan));
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        out.extend(chunk.unwrap().0);
    }
    String::from_utf8(out).unwrap()
}

async fn ndjson(s: &Site, key: &AuditKey, filter: ExportFilter) -> String {
    export_with(s, key, filter, Format::Ndjson, true).await
}

fn check(key: &AuditKey, text: &str) -> ExportReport {
    verify_export(text.as_bytes(), &key.public_key()).unwrap()
}

/// The problem, line and detail of a file that must not verify.
fn refused(key: &AuditKey, text: &str) -> (String, u64, String) {
    let report = check(key, text);
    assert!(!report.ok, "the edited export verified: {report:?}");
    let bad = report.first_bad.unwrap();
    (bad.problem, bad.line, bad.detail)
}

fn parsed(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn joined(lines: &[Value]) -> String {
    lines.iter().map(|l| l.to_string() + "\n").collect()
}

fn position(lines: &[Value], field: &str, value: &str) -> usize {
    lines
        .iter()
        .position(|l| l["type"] == "record" && l[field] == value)
        .unwrap()
}

async fn display_columns_name_each_record_and_edits_are_named(db: &TestDb) {
    let (s, key) = site(db).await;
    let text = ndjson(&s, &key, ExportFilter::default()).await;
    let report = check(&key, &text);
    assert!(report.ok, "{report:?}");
    assert!(report.names_as_of.is_some());
    let lines = parsed(&text);
    assert_eq!(
        lines[0]["data"]["display"]["note"],
        "not in the chain digest; checked against the signed name snapshot"
    );
    let ada = position(&lines, "person_name", "Ada");
    let line = &lines[ada];
    assert_eq!(line["door_name"], "Lab door");
    assert_eq!(line["zone_name"], "Lab");
    assert_eq!(line["site_name"], "HQ");
    assert!(
        line["local_time"].as_str().unwrap().ends_with(" UTC"),
        "{line}"
    );
    let forced = position(&lines, "kind", "forced_open");
    assert_eq!(lines[forced]["door_name"], "Lab door");
    assert_eq!(
        lines[forced]["zone_name"], "Lab",
        "the zone the door leads into"
    );
    let bo = position(&lines, "person_name", "=Bo<script>");

    // Each display column edited is named, with its line.
    let edits = [
        (ada, "person_name", "=Bo<script>"),
        (ada, "door_name", "Front"),
        (ada, "zone_name", "Lobby"),
        (ada, "local_time", "2020-01-01 00:00:00 UTC"),
        (forced, "door_name", "Front"),
        (bo, "organisation", "Acme"),
    ];
    for (at, column, value) in edits {
        let mut edited = lines.clone();
        edited[at][column] = value.into();
        let (found, line, detail) = refused(&key, &joined(&edited));
        assert_eq!((found.as_str(), line), ("display_altered", at as u64 + 1));
        assert!(detail.contains(column), "{detail}");
    }
    // A display column removed is named too.
    let mut edited = lines.clone();
    edited[ada].as_object_mut().unwrap().remove("person_name");
    assert_eq!(refused(&key, &joined(&edited)).0, "display_altered");
    // Pointing the record at another person breaks its digest.
    let mut edited = lines.clone();
    edited[ada]["person_id"] = s.bo.to_string().into();
    assert_eq!(refused(&key, &joined(&edited)).0, "record_altered");

    // The same in CSV: readable columns first, a name cell edited is named.
    let csv = export_with(&s, &key, ExportFilter::default(), Format::Csv, true).await;
    assert!(
        csv.starts_with(
            "local_time,kind,person_name,organisation,door_name,zone_name,site_name,outcome,\
             reason,type,seq,"
        ),
        "{csv}"
    );
    let report = check(&key, &csv);
    assert!(report.ok, "{report:?}");
    let edited = csv.replacen(",Ada,", ",Eve,", 1);
    assert_ne!(edited, csv);
    let (found, _, detail) = refused(&key, &edited);
    assert_eq!(found, "display_altered");
    assert!(detail.contains("person_name"), "{detail}");
}

async fn the_name_snapshot_is_signed_for_its_export(db: &TestDb) {
    let (s, key) = site(db).await;
    let text = ndjson(&s, &key, ExportFilter::default()).await;
    let lines = parsed(&text);
    let names_at = lines.iter().position(|l| l["type"] == "names").unwrap();
    let people = &lines[names_at]["data"]["names"]["people"];
    let ada = s.ada.to_string();
    let bo = s.bo.to_string();
    assert_eq!(people[&ada]["name"], "Ada");

    // A name in the snapshot edited (and the record to match): the signature breaks.
    let mut edited = lines.clone();
    edited[names_at]["data"]["names"]["people"][&ada]["name"] = "Eve".into();
    let at = position(&edited, "person_name", "Ada");
    edited[at]["person_name"] = "Eve".into();
    let (found, line, _) = refused(&key, &joined(&edited));
    assert_eq!(
        (found.as_str(), line),
        ("names_signature", names_at as u64 + 1)
    );

    // Two people's entries swapped: the signature breaks.
    let mut swapped = lines.clone();
    let entries = &mut swapped[names_at]["data"]["names"]["people"];
    let (a, b) = (entries[&ada].clone(), entries[&bo].clone());
    entries[&ada] = b;
    entries[&bo] = a;
    assert_eq!(refused(&key, &joined(&swapped)).0, "names_signature");

    // The snapshot of another export (signed, but for that one): refused.
    let other = parsed(&ndjson(&s, &key, ExportFilter::default()).await);
    let other_names = other.iter().find(|l| l["type"] == "names").unwrap();
    let mut moved = lines.clone();
    moved[names_at] = other_names.clone();
    let (found, _, detail) = refused(&key, &joined(&moved));
    assert_eq!(found, "names_signature");
    assert!(detail.contains("another export"), "{detail}");

    // No snapshot at all: the records' names are unchecked, so refused.
    let mut dropped = lines.clone();
    dropped.remove(names_at);
    assert_eq!(refused(&key, &joined(&dropped)).0, "names_missing");
}

async fn exports_without_display_columns_verify(db: &TestDb) {
    let (s, key) = site(db).await;
    for format in [Format::Ndjson, Format::Csv] {
        let text = export_with(&s, &key, ExportFilter::default(), format, false).await;
        let report = check(&key, &text);
        assert!(report.ok, "{format:?}: {report:?}");
        assert_eq!(report.names_as_of, None);
        // (The operator log's own door.create entry names the door in its `after`.)
        assert!(!text.contains(",Lab door,"), "{text}");
        if format == Format::Ndjson {
            for line in parsed(&text) {
                assert!(line.get("door_name").is_none(), "{line}");
                assert_ne!(line["type"], "names");
            }
        }
    }
    // A display column added to such an export is refused.
    let text = export_with(&s, &key, ExportFilter::default(), Format::Ndjson, false).await;
    let mut lines = parsed(&text);
    let at = lines
        .iter()
        .position(|l| l["type"] == "record" && l["kind"] == "presentation")
        .unwrap();
    lines[at]["person_name"] = "Ada".into();
    let (found, line, _) = refused(&key, &joined(&lines));
    assert_eq!((found.as_str(), line), ("display_altered", at as u64 + 1));
}

async fn zone_and_site_exports_hold_the_incidents_at_their_doors(db: &TestDb) {
    let (s, key) = site(db).await;
    let lab = ExportFilter {
        zone_id: Some(s.lab),
        ..ExportFilter::default()
    };
    let text = ndjson(&s, &key, lab).await;
    let report = check(&key, &text);
    assert!(report.ok, "{report:?}");
    let lines = parsed(&text);
    let shown: Vec<(&str, &str)> = lines
        .iter()
        .filter(|l| l["type"] == "record")
        .map(|l| {
            (
                l["kind"].as_str().unwrap(),
                l["door_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [("presentation", "Lab door"), ("forced_open", "Lab door")],
        "Ada's entry and the forced lab door, not Bo at the front"
    );
    assert_eq!(
        lines[position(&lines, "kind", "presentation")]["person_name"],
        "Ada"
    );
    // Bo's name is not in the snapshot of an export that does not show him.
    assert!(!text.contains("=Bo"), "{text}");

    let hq = ExportFilter {
        site_id: Some(s.site),
        ..ExportFilter::default()
    };
    let text = ndjson(&s, &key, hq).await;
    let report = check(&key, &text);
    assert!(report.ok, "{report:?}");
    let kinds = parsed(&text)
        .iter()
        .filter(|l| l["type"] == "record" && l["source"] == "event")
        .count();
    assert_eq!(kinds, 3, "every event at the site's doors");

    // The lobby's export: Bo at the front door (into the lobby), not the lab's records.
    let lobby = ExportFilter {
        zone_id: Some(s.lobby),
        ..ExportFilter::default()
    };
    let text = ndjson(&s, &key, lobby).await;
    assert!(check(&key, &text).ok);
    let people: Vec<Value> = parsed(&text)
        .into_iter()
        .filter(|l| l["type"] == "record" && l["source"] == "event")
        .map(|l| l["person_name"].clone())
        .collect();
    assert_eq!(people, [Value::from("=Bo<script>")]);
}
