//! Visitor documents in the store, on both backends: which documents fall due (per
//! visitor, site, visit type, version and re-signing period), signing (refusals change
//! nothing; the operator log carries the signed copy's hash), and the retention purge
//! keeping the hash and the chain verifying.

use super::{facts, visit_at, visitor};
use crate::common::TestDb;
use crate::support::site_model::site;
use chrono::Duration;
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::verify::verify;
use gatehouse_server::documents::signed_copy::Strokes;
use gatehouse_server::store::documents::{
    DueReason, NewTemplate, SignMethod, Signature, TemplateChange, sha256_hex,
};
use gatehouse_server::store::{Actor, ModelError, Store, StoreError, now};
use uuid::Uuid;

conformance!(
    documents_fall_due_per_visitor_site_type_and_version,
    signing_refuses_bad_input_and_what_is_not_due,
    the_signed_copys_hash_is_chained_and_survives_the_purge,
);

fn template(site: Option<Uuid>, visit_type: Option<&str>, title: &str) -> NewTemplate {
    NewTemplate {
        site_id: site,
        visit_type: visit_type.map(str::to_owned),
        kind: "nda".into(),
        title: title.into(),
        resign_after_days: None,
        body: format!("{title}: the visitor keeps what they see here to themselves."),
    }
}

fn typed(name: &str) -> Signature {
    Signature {
        method: SignMethod::Typed,
        typed_name: Some(name.into()),
        consent: true,
        strokes: None,
        version: None,
    }
}

async fn due_titles(store: &Store, visit: Uuid, at: chrono::DateTime<chrono::Utc>) -> Vec<String> {
    let due = store.documents_due(visit, at).await.unwrap();
    due.into_iter().map(|d| d.title).collect()
}

async fn documents_fall_due_per_visitor_site_type_and_version(db: &TestDb) {
    let store = db.store().await;
    let cli = Actor::cli();
    let north = site(&store, "North").await;
    let south = site(&store, "South").await;
    let (vera, otto) = (visitor(db, "Vera").await, visitor(db, "Otto").await);
    let first = visit_at(db, &store, Some(north.id), "guest", vera, None).await;
    let again = visit_at(db, &store, Some(north.id), "guest", vera, None).await;
    let other = visit_at(db, &store, Some(south.id), "contractor", otto, None).await;
    let nda = store
        .create_document_template(template(Some(north.id), None, "North NDA"), &cli)
        .await
        .unwrap();
    let mut safety = template(None, Some("contractor"), "Safety briefing");
    safety.resign_after_days = Some(30);
    let safety = store.create_document_template(safety, &cli).await.unwrap();
    let south_only = store
        .create_document_template(template(Some(south.id), None, "South rules"), &cli)
        .await
        .unwrap();

    assert_eq!(due_titles(&store, first, now()).await, ["North NDA"]);
    assert_eq!(
        due_titles(&store, other, now()).await,
        ["Safety briefing", "South rules"],
        "another site's and another type's documents are not due"
    );

    store
        .sign_document(first, nda.id, typed("Vera Visitor"), &cli)
        .await
        .unwrap();
    assert!(due_titles(&store, first, now()).await.is_empty());
    assert!(
        due_titles(&store, again, now()).await.is_empty(),
        "the same visitor on another visit has signed it"
    );

    // A new text is a new version: due again, with its reason.
    let change = TemplateChange {
        body: Some("North NDA, second edition.".into()),
        ..TemplateChange::default()
    };
    let nda2 = store
        .update_document_template(nda.id, change, &cli)
        .await
        .unwrap();
    assert_eq!(nda2.current_version, 2);
    assert_ne!(nda2.body_sha256, nda.body_sha256);
    let due = store.documents_due(again, now()).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].reason, due[0].version), (DueReason::NewVersion, 2));
    // The same text again is no new version.
    let same = TemplateChange {
        body: Some("North NDA, second edition.".into()),
        ..TemplateChange::default()
    };
    let unchanged = store
        .update_document_template(nda.id, same, &cli)
        .await
        .unwrap();
    assert_eq!(unchanged.current_version, 2);

    // Re-signing after 30 days: not due at exactly 30 days, due just after.
    let signed = store
        .sign_document(other, safety.id, typed("Otto"), &cli)
        .await
        .unwrap();
    let boundary = signed.signed_at + Duration::days(30);
    assert_eq!(due_titles(&store, other, boundary).await, ["South rules"]);
    let due = store
        .documents_due(other, boundary + Duration::seconds(1))
        .await
        .unwrap();
    let expired = due.iter().find(|d| d.template_id == safety.id).unwrap();
    assert_eq!(expired.reason, DueReason::Expired);
    assert_eq!(expired.last_signed_at, Some(signed.signed_at));

    // A deactivated template is due for nobody.
    let off = TemplateChange {
        active: Some(false),
        ..TemplateChange::default()
    };
    store
        .update_document_template(south_only.id, off, &cli)
        .await
        .unwrap();
    assert!(due_titles(&store, other, now()).await.is_empty());
    assert!(matches!(
        store.documents_due(Uuid::now_v7(), now()).await,
        Err(StoreError::NotFound)
    ));
    let listed = store.visit_documents(first, now()).await.unwrap();
    assert_eq!(listed.signed.len(), 1);
    assert_eq!(listed.signed[0].typed_name.as_deref(), Some("Vera Visitor"));
    // Versions are append-only (TRUNCATE on PostgreSQL is refused by the foreign keys).
    for sql in [
        "UPDATE document_versions SET body = 'changed'",
        "DELETE FROM document_versions",
    ] {
        let error = db.raw_execute(sql).await.expect_err(sql);
        assert!(error.contains("append-only"), "{sql}: {error}");
    }
}

fn field(result: Result<impl std::fmt::Debug, ModelError>) -> &'static str {
    match result {
        Err(ModelError::Invalid { field, .. }) => field,
        other => panic!("expected a 422, got {other:?}"),
    }
}

async fn signing_refuses_bad_input_and_what_is_not_due(db: &TestDb) {
    let store = db.store().await;
    let cli = Actor::cli();
    let north = site(&store, "North").await;
    let vera = visitor(db, "Vera").await;
    let visit = visit_at(db, &store, Some(north.id), "guest", vera, None).await;
    let nda = store
        .create_document_template(template(None, None, "NDA"), &cli)
        .await
        .unwrap();
    let sign = |signature: Signature| store.sign_document(visit, nda.id, signature, &cli);
    let no_consent = Signature {
        consent: false,
        ..typed("Vera")
    };
    assert_eq!(field(sign(no_consent).await), "consent");
    assert_eq!(field(sign(typed("   ")).await), "typed_name");
    let drawn = |strokes| Signature {
        method: SignMethod::Drawn,
        typed_name: None,
        consent: true,
        strokes,
        version: None,
    };
    assert_eq!(field(sign(drawn(None)).await), "strokes");
    let outside = Strokes(vec![vec![[10.0, 10.0], [1200.0, 10.0]]]);
    assert_eq!(field(sign(drawn(Some(outside))).await), "strokes");
    let many = Strokes(vec![vec![[1.0, 1.0]; 60]; 100]);
    assert_eq!(field(sign(drawn(Some(many))).await), "strokes");
    let stale = Signature {
        version: Some(7),
        ..typed("Vera")
    };
    assert!(matches!(
        sign(stale).await,
        Err(ModelError::Store(StoreError::Rejected(_)))
    ));
    assert_eq!(
        store
            .visit_documents(visit, now())
            .await
            .unwrap()
            .signed
            .len(),
        0,
        "refusals change nothing"
    );
    let strokes = Strokes(vec![vec![[10.0, 10.0], [200.0, 300.0], [400.0, 50.0]]]);
    let record = sign(drawn(Some(strokes))).await.unwrap();
    assert_eq!(record.version, 1);
    assert!(matches!(
        sign(typed("Vera")).await,
        Err(ModelError::Store(StoreError::Rejected(_)))
    ));
    let bad = NewTemplate {
        kind: "N D A".into(),
        ..template(None, None, "x")
    };
    assert_eq!(
        field(store.create_document_template(bad, &cli).await),
        "kind"
    );
    let far = NewTemplate {
        resign_after_days: Some(0),
        ..template(None, None, "x")
    };
    assert_eq!(
        field(store.create_document_template(far, &cli).await),
        "resign_after_days"
    );
    let nul = NewTemplate {
        body: "a\0b".into(),
        ..template(None, None, "x")
    };
    assert_eq!(
        field(store.create_document_template(nul, &cli).await),
        "body"
    );
    let nowhere = template(Some(Uuid::now_v7()), None, "x");
    assert_eq!(
        field(store.create_document_template(nowhere, &cli).await),
        "site_id"
    );
    assert_eq!(store.document_templates().await.unwrap().len(), 1);
}

async fn the_signed_copys_hash_is_chained_and_survives_the_purge(db: &TestDb) {
    let store = db.store().await;
    let key = AuditKey::load(&store).await.unwrap();
    let cli = Actor::cli();
    let north = site(&store, "North").await;
    let vera = visitor(db, "Vera").await;
    let ended = now() - Duration::hours(1);
    let visit = visit_at(db, &store, Some(north.id), "guest", vera, Some(ended)).await;
    let nda = store
        .create_document_template(template(None, None, "NDA"), &cli)
        .await
        .unwrap();
    let record = store
        .sign_document(visit, nda.id, typed("Vera Visitor"), &cli)
        .await
        .unwrap();
    let (_, pdf) = store.document_signature(record.id).await.unwrap();
    let pdf = pdf.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    assert_eq!(sha256_hex(&pdf), record.pdf_sha256);
    let log = store.list_operator_log(None, 500).await.unwrap();
    let entry = log
        .iter()
        .find(|e| e.action == "visit.document_signed")
        .unwrap();
    let after = &entry.after.as_ref().unwrap().0;
    assert_eq!(after["pdf_sha256"], record.pdf_sha256.as_str());
    assert_eq!(after["version"], 1);
    assert_eq!(after["template_id"], nda.id.to_string());
    assert_eq!(entry.target_id.as_deref(), Some(visit.to_string().as_str()));
    assert!(
        !after.to_string().contains("Vera"),
        "no personal data in the entry"
    );
    let sheet = facts(&store, visit).await;
    assert_eq!(sheet.visitor_name, "Vera Visitor");

    let summary = store
        .purge_visitor_data(now(), &Actor::system())
        .await
        .unwrap();
    assert_eq!(summary.visits, 1);
    let (purged, pdf) = store.document_signature(record.id).await.unwrap();
    assert_eq!(pdf, None);
    assert_eq!(purged.typed_name, None);
    assert!(purged.purged_at.is_some());
    assert_eq!(purged.pdf_sha256, record.pdf_sha256, "the hash is kept");
    let report = verify(&store, &key.public_key()).await.unwrap();
    assert!(report.ok, "the chain verifies after the purge: {report:?}");
}
