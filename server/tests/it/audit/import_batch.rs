//! An import's operator-log entries, chained as one batch: the trail and its exports
//! verify, and altering, deleting or adding one member of the batch is named at the
//! batch's chain position (the member's record when there is one), in the database and
//! in an export verified offline.

use super::trail::{Trail, drop_guards, postgres, trail};
use crate::common::TestDb;
use chrono::{Duration, Utc};
use futures_util::StreamExt;
use gatehouse_server::audit::export::offline::verify_export;
use gatehouse_server::audit::export::{self, ExportFilter, ExportRequest, Format};
use gatehouse_server::import::import_people;
use gatehouse_server::store::{Actor, ChainEntry};
use std::sync::Arc;
use uuid::Uuid;

conformance!(
    an_imported_batch_verifies_in_the_database_and_exported,
    an_altered_member_is_named,
    a_deleted_member_is_named,
    a_member_removed_from_the_list_is_named,
    a_member_added_to_the_list_is_named,
    an_edited_member_of_an_export_is_named,
);

/// The trail with an import of three people (six operator-log entries) on it; the
/// batch's chain entry and its members' ids in order.
async fn imported(db: &TestDb) -> (Trail, ChainEntry, Vec<Uuid>) {
    let trail = trail(db).await;
    let before: Vec<Uuid> = trail
        .store
        .list_operator_log(None, 1000)
        .await
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    let csv = "external_id,name,kind,clearance,card\n\
               E1,Ada,staff,1,0A01\nE2,Bob,staff,1,0A02\nE3,Cy,contractor,2,0A03";
    import_people(
        &trail.store,
        csv.as_bytes().to_vec(),
        &Actor::cli(),
        Arc::new(()),
    )
    .await
    .unwrap();
    let log = trail.store.list_operator_log(None, 1000).await.unwrap();
    let summary = log.iter().find(|e| e.action == "person.import").unwrap();
    let members: Vec<Uuid> = log
        .iter()
        .filter(|e| !before.contains(&e.id) && e.id != summary.id)
        .map(|e| e.id)
        .collect();
    let head = trail.entry_of(summary.id).await;
    // One chain entry for the whole import: none of its members has one.
    let chain = trail.chain().await;
    assert!(
        members
            .iter()
            .all(|id| chain.iter().all(|e| e.record_id != *id))
    );
    (trail, head, members)
}

fn whole_period() -> ExportRequest {
    ExportRequest {
        from: Utc::now() - Duration::days(1),
        to: Utc::now() + Duration::days(1),
        filter: ExportFilter::default(),
        format: Format::Ndjson,
    }
}

async fn export_of(trail: &Trail, request: ExportRequest) -> String {
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

/// Asserts the database's verification names `problem` at the batch's entry, naming
/// `record` (a member) when given.
async fn assert_member_bad(trail: &Trail, head: &ChainEntry, problem: &str, record: Option<Uuid>) {
    let report = trail.verify().await;
    assert!(!report.ok, "{report:?}");
    let bad = report.first_bad.clone().unwrap();
    assert_eq!(bad.problem, problem, "{report:?}");
    assert_eq!(bad.seq, Some(head.seq), "{report:?}");
    assert_eq!(bad.source.as_deref(), Some("operator"), "{report:?}");
    if let Some(record) = record {
        assert_eq!(bad.record_id, Some(record), "{report:?}");
    }
    assert_eq!(report.records, head.seq - 1, "checked up to the batch");
}

/// Asserts an export of the tampered database fails offline at the batch's entry or
/// one of its members.
async fn assert_export_fails(trail: &Trail, head: &ChainEntry) {
    let text = export_of(trail, whole_period()).await;
    let report = verify_export(text.as_bytes(), &trail.key.public_key()).unwrap();
    assert!(!report.ok, "{report:?}");
    let bad = report.first_bad.unwrap();
    assert_eq!(bad.seq, Some(head.seq), "{bad:?}");
}

async fn an_imported_batch_verifies_in_the_database_and_exported(db: &TestDb) {
    let (trail, head, members) = imported(db).await;
    assert_eq!(members.len(), 6);
    let report = trail.verify().await;
    assert!(report.ok, "{report:?}");
    for format in [Format::Ndjson, Format::Csv] {
        let text = export_of(
            &trail,
            ExportRequest {
                format,
                ..whole_period()
            },
        )
        .await;
        let report = verify_export(text.as_bytes(), &trail.key.public_key()).unwrap();
        assert!(report.ok, "{format:?}: {report:?}\n{text}");
        if format == Format::Ndjson {
            assert_eq!(text.matches(r#""type":"member""#).count(), 6);
            assert!(text.contains(&head.record_id.to_string()));
        }
    }
    // Filtered to one kind: the members are redacted, and it still verifies.
    let filter = ExportFilter {
        kind: Some("credential.create".into()),
        ..ExportFilter::default()
    };
    let text = export_of(
        &trail,
        ExportRequest {
            filter,
            ..whole_period()
        },
    )
    .await;
    let report = verify_export(text.as_bytes(), &trail.key.public_key()).unwrap();
    assert!(report.ok, "{report:?}");
    assert_eq!(text.matches(r#""type":"member""#).count(), 3);
    assert_eq!(text.matches(r#""type":"member_redacted""#).count(), 3);
    // The list is append-only.
    db.assert_append_only_column("audit_import_members", "pos")
        .await;
}

async fn an_altered_member_is_named(db: &TestDb) {
    let (trail, head, members) = imported(db).await;
    drop_guards(db, "operator_log").await;
    db.raw_execute(&format!(
        "UPDATE operator_log SET actor = 'mallory' WHERE id = {}",
        literal(db, members[2])
    ))
    .await
    .unwrap();
    assert_member_bad(&trail, &head, "record_altered", Some(members[2])).await;
    assert_export_fails(&trail, &head).await;
}

async fn a_deleted_member_is_named(db: &TestDb) {
    let (trail, head, members) = imported(db).await;
    drop_guards(db, "operator_log").await;
    db.raw_execute(&format!(
        "DELETE FROM operator_log WHERE id = {}",
        literal(db, members[4])
    ))
    .await
    .unwrap();
    assert_member_bad(&trail, &head, "record_missing", Some(members[4])).await;
    assert_export_fails(&trail, &head).await;
}

async fn a_member_removed_from_the_list_is_named(db: &TestDb) {
    let (trail, head, members) = imported(db).await;
    drop_guards(db, "audit_import_members").await;
    // Its record and its place in the list, so the rest still reads in order.
    drop_guards(db, "operator_log").await;
    let member = literal(db, members[1]);
    db.raw_execute(&format!("DELETE FROM operator_log WHERE id = {member}"))
        .await
        .unwrap();
    db.raw_execute(&format!(
        "DELETE FROM audit_import_members WHERE record_id = {member}"
    ))
    .await
    .unwrap();
    assert_member_bad(&trail, &head, "record_missing", None).await;
    assert_export_fails(&trail, &head).await;
}

async fn a_member_added_to_the_list_is_named(db: &TestDb) {
    let (trail, head, _) = imported(db).await;
    // Another operator-log entry, listed as a seventh member of the batch.
    let log = trail.store.list_operator_log(None, 1).await.unwrap();
    db.raw_execute(&format!(
        "INSERT INTO audit_import_members (batch, pos, record_id, digest) \
         SELECT batch, 7, {}, digest FROM audit_import_members WHERE pos = 6 AND batch = {}",
        literal(db, log[0].id),
        literal(db, head.record_id)
    ))
    .await
    .unwrap();
    let report = trail.verify().await;
    assert!(!report.ok, "{report:?}");
    let bad = report.first_bad.unwrap();
    assert_eq!(
        (bad.seq, bad.problem.as_str()),
        (Some(head.seq), "record_altered")
    );
    assert_export_fails(&trail, &head).await;
}

async fn an_edited_member_of_an_export_is_named(db: &TestDb) {
    let (trail, head, _) = imported(db).await;
    let text = export_of(&trail, whole_period()).await;
    let check = |text: &str| verify_export(text.as_bytes(), &trail.key.public_key()).unwrap();
    // A member's field changed: that member's line.
    let edited = text.replacen("Bob", "Rob", 1);
    assert!(edited != text, "Bob is in the export");
    let report = check(&edited);
    let bad = report.first_bad.unwrap();
    assert_eq!(
        (bad.seq, bad.problem.as_str()),
        (Some(head.seq), "record_altered")
    );
    // A member's line removed: the batch's entry no longer matches its members.
    let lines: Vec<&str> = text.lines().collect();
    let member = lines
        .iter()
        .position(|l| l.contains(r#""type":"member""#))
        .unwrap();
    let mut removed = lines.clone();
    removed.remove(member + 1);
    let report = check(&(removed.join("\n") + "\n"));
    let bad = report.first_bad.unwrap();
    assert_eq!(
        (bad.seq, bad.problem.as_str()),
        (Some(head.seq), "record_altered")
    );
    // Two members swapped.
    let mut swapped = lines.clone();
    swapped.swap(member, member + 1);
    let report = check(&(swapped.join("\n") + "\n"));
    assert!(!report.ok, "{report:?}");
}

/// `id` as a literal of the database's UUID column.
fn literal(db: &TestDb, id: Uuid) -> String {
    if postgres(db) {
        format!("'{id}'")
    } else {
        format!("X'{}'", id.simple())
    }
}
