//! Retention: visitors' personal data purged after their visit, the audit chain and
//! exports still verifying, and the operator log still refusing every other change.

use super::site_support::{site, zone};
use crate::common::TestDb;
use futures_util::StreamExt;
use gatehouse_core::model::PersonKind;
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::export::offline::verify_export;
use gatehouse_server::audit::export::{self, ExportFilter, ExportRequest, Format};
use gatehouse_server::audit::verify::verify;
use gatehouse_server::store::{Actor, NewPerson, NewVisit, NewVisitor, PURGED_NAME, Store, now};
use serde_json::Value;
use uuid::Uuid;

conformance!(
    ended_visits_lose_personal_data_and_the_trail_still_verifies,
    only_the_purge_shaped_change_of_a_visits_log_entry_gets_through,
);

/// A host and two visits: one ending in an hour, one in ten days (both checked in).
async fn two_visits(store: &Store) -> (Uuid, Uuid) {
    let site = site(store, "HQ").await;
    let lobby = zone(store, site.id, None, 0).await;
    let host = store
        .create_person(
            NewPerson {
                name: "Hana".into(),
                kind: PersonKind::Staff,
                employer: None,
                clearance: 1,
            },
            &Actor::cli(),
        )
        .await
        .unwrap();
    let mut ids = Vec::new();
    for (name, hours) in [("Vera Visitor", 1), ("Otto Other", 240)] {
        let visit = store
            .create_visit(
                NewVisit {
                    visitor_name: name.into(),
                    visitor_organisation: Some("Supplier Ltd".into()),
                    host_person_id: host.id,
                    window_start: now() - chrono::Duration::hours(1),
                    window_end: now() + chrono::Duration::hours(hours),
                    allowed_zone_ids: [lobby.id].into(),
                    escort_required: false,
                    visitor: NewVisitor {
                        email: Some("visitor@example.org".into()),
                        phone: Some("+49 30 123456".into()),
                        id_document_last_digits: Some("4711".into()),
                        ..Default::default()
                    },
                    ..Default::default()
                },
                &Actor::cli(),
            )
            .await
            .unwrap();
        store.check_in_visit(visit.id, &Actor::cli()).await.unwrap();
        ids.push(visit.id);
    }
    (ids[0], ids[1])
}

/// The before/after of every operator log entry about `visit`.
async fn logged_details(store: &Store, visit: Uuid) -> Vec<(Value, Value)> {
    let log = store.list_operator_log(None, 500).await.unwrap();
    log.into_iter()
        .filter(|e| e.target_type == "visit" && e.target_id.as_deref() == Some(&visit.to_string()))
        .map(|e| {
            let json = |v: Option<sqlx::types::Json<Value>>| v.map_or(Value::Null, |j| j.0);
            (json(e.before), json(e.after))
        })
        .collect()
}

async fn ended_visits_lose_personal_data_and_the_trail_still_verifies(db: &TestDb) {
    let store = db.store().await;
    let key = AuditKey::load(&store).await.unwrap();
    let (ended, current) = two_visits(&store).await;
    let cutoff = now() + chrono::Duration::days(2);

    let summary = store
        .purge_visitor_data(cutoff, &Actor::system())
        .await
        .unwrap();
    assert_eq!(
        (summary.visits, summary.log_entries),
        (1, 2),
        "create and check-in"
    );
    let purged = store.visit(ended).await.unwrap();
    assert_eq!(purged.visitor_name, PURGED_NAME);
    assert_eq!(purged.visitor_organisation, None);
    let visitor = store.visitor(purged.visitor_id.unwrap()).await.unwrap();
    assert_eq!(
        (visitor.name.as_str(), &visitor.email, &visitor.phone),
        (PURGED_NAME, &None, &None)
    );
    assert_eq!(visitor.id_document_last_digits, None);
    assert!(visitor.purged_at.is_some());
    let kept = store
        .visitor(store.visit(current).await.unwrap().visitor_id.unwrap())
        .await
        .unwrap();
    assert_eq!(kept.email.as_deref(), Some("visitor@example.org"));
    let details = logged_details(&store, ended).await;
    assert_eq!(details.len(), 2);
    assert!(
        details.iter().all(|(b, a)| b.is_null() && a.is_null()),
        "{details:?}"
    );
    let kept = store.visit(current).await.unwrap();
    assert_eq!(kept.visitor_name, "Otto Other");
    assert!(
        logged_details(&store, current)
            .await
            .iter()
            .all(|(_, a)| a["visitor_name"] == "Otto Other")
    );

    let report = verify(&store, &key.public_key()).await.unwrap();
    assert!(report.ok, "the chain verifies after the purge: {report:?}");
    let request = ExportRequest {
        from: now() - chrono::Duration::days(1),
        to: now() + chrono::Duration::days(1),
        filter: ExportFilter::default(),
        format: Format::Ndjson,
    };
    let plan = export::plan(&store, &key, request).await.unwrap();
    let mut chunks = std::pin::pin!(export::stream(store.clone(), plan));
    let mut file = Vec::new();
    while let Some(chunk) = chunks.next().await {
        file.extend(chunk.unwrap().0);
    }
    let text = String::from_utf8(file).unwrap();
    assert!(!text.contains("Vera"), "the export holds no purged name");
    let exported = verify_export(text.as_bytes(), &key.public_key()).unwrap();
    assert!(exported.ok, "{exported:?}");
    let log = store.list_operator_log(None, 500).await.unwrap();
    assert_eq!(log.last().unwrap().action, "retention.purge");

    let again = store
        .purge_visitor_data(cutoff, &Actor::system())
        .await
        .unwrap();
    assert_eq!((again.visits, again.log_entries), (0, 0));
    assert_eq!(
        store.list_operator_log(None, 500).await.unwrap().len(),
        log.len(),
        "nothing logged"
    );
}

async fn only_the_purge_shaped_change_of_a_visits_log_entry_gets_through(db: &TestDb) {
    let store = db.store().await;
    let key = AuditKey::load(&store).await.unwrap();
    let (_, current) = two_visits(&store).await;
    // Anything else than the purge is refused, on a visit's entry or another's.
    for sql in [
        "UPDATE operator_log SET before = NULL, after = NULL, detail_salt = NULL, \
         detail_hash = detail_salt WHERE target_type = 'site'",
        "UPDATE operator_log SET actor = 'mallory' WHERE target_type = 'visit'",
        "UPDATE operator_log SET after = NULL WHERE target_type = 'visit'",
        "DELETE FROM operator_log WHERE target_type = 'visit'",
    ] {
        let error = db.raw_execute(sql).await.expect_err(sql);
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
    // The purge shape with a made-up hash gets past the trigger, not past verification.
    let visit = current.to_string();
    let sql = format!(
        "UPDATE operator_log SET before = NULL, after = NULL, detail_salt = NULL, \
         detail_hash = detail_salt WHERE target_type = 'visit' AND target_id = '{visit}'"
    );
    db.raw_execute(&sql).await.unwrap();
    let report = verify(&store, &key.public_key()).await.unwrap();
    assert_eq!(
        report.first_bad.map(|b| b.problem),
        Some("record_altered".to_owned())
    );
}
