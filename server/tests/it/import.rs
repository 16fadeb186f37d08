//! Bulk onboarding from HR: the import on both backends (creates, is idempotent, updates
//! exactly what changed, refuses a bad file whole), and through the API as a job
//! (`import/api.rs`), next to logins and uploads, on a busy database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::agents::support;
use crate::common;

pub(crate) mod api;
mod batch;
mod groups;

use common::TestDb;
use gatehouse_core::model::{CardKind, Holder, PersonKind};
use gatehouse_server::import::{ImportError, ImportSummary, import_people};
use gatehouse_server::store::{Actor, CredentialFilter, NewCredential, NewPerson, Store};
use serde_json::json;
use std::sync::Arc;

pub const HEADER: &str = "external_id,name,kind,employer,clearance,status,vetting_status,\
    vetting_cleared_until,vetting_reference,card,card_kind,card_valid_from,card_valid_until";

pub fn csv(rows: &[&str]) -> String {
    std::iter::once(HEADER)
        .chain(rows.iter().copied())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Two people, three cards, one vetting.
pub fn first_file() -> String {
    csv(&[
        "E1,Ada Lovelace,staff,,3,,cleared,2099-01-01,V-1,0A0B,,,",
        "E1,Ada Lovelace,staff,,3,,cleared,2099-01-01,V-1,0C0D,secure,2026-01-01,2099-01-01",
        "E2,Bob Builder,contractor,Acme,1,,,,,0E0F,,,",
    ])
}

async fn import(store: &Store, text: &str) -> Result<ImportSummary, ImportError> {
    import_people(store, text.as_bytes().to_vec(), &Actor::cli(), Arc::new(())).await
}

/// What a no-op must leave as it was: policy version and operator-log length.
async fn marks(store: &Store) -> (i64, usize) {
    let log = store.list_operator_log(None, 100_000).await.unwrap();
    (store.policy_version().await.unwrap(), log.len())
}

async fn person_by_external_id(store: &Store, id: &str) -> gatehouse_server::store::PersonRecord {
    let people = store.list_people(None, None, 1000).await.unwrap();
    people
        .into_iter()
        .find(|p| p.external_id.as_deref() == Some(id))
        .unwrap()
}

async fn cards_of(
    store: &Store,
    person: uuid::Uuid,
) -> Vec<gatehouse_server::store::CredentialRecord> {
    let filter = CredentialFilter {
        person_id: Some(person),
        visit_id: None,
    };
    store.list_credentials(filter, None, 100).await.unwrap()
}

async fn import_creates_people_vetting_and_credentials(db: &TestDb) {
    let store = db.store().await;
    let (version, _) = marks(&store).await;
    let summary = import(&store, &first_file()).await.unwrap();
    assert_eq!(
        (
            summary.people_created,
            summary.people_updated,
            summary.vetting_recorded
        ),
        (2, 0, 1)
    );
    assert_eq!(
        (summary.credentials_created, summary.credentials_updated),
        (3, 0)
    );
    assert_eq!(summary.unchanged_rows, 0);
    assert_eq!(
        summary.policy_version,
        version + 1,
        "one bump for the whole import"
    );
    assert_eq!(store.policy_version().await.unwrap(), version + 1);

    let ada = person_by_external_id(&store, "E1").await;
    assert_eq!(
        (ada.name.as_str(), ada.kind, ada.clearance),
        ("Ada Lovelace", PersonKind::Staff, 3)
    );
    let vetting = ada.vetting.clone().unwrap();
    assert_eq!(vetting.reference.as_deref(), Some("V-1"));
    assert_eq!(vetting.checked_by, "cli");
    let cards = cards_of(&store, ada.id).await;
    let cards: Vec<_> = cards
        .iter()
        .map(|c| (c.card.as_str(), c.kind, c.valid_from.is_some()))
        .collect();
    assert_eq!(
        cards,
        [
            ("0A0B", CardKind::Uid, false),
            ("0C0D", CardKind::Secure, true)
        ]
    );
    let bob = person_by_external_id(&store, "E2").await;
    assert_eq!(
        (bob.employer.as_deref(), bob.vetting.is_none()),
        (Some("Acme"), true)
    );
}

async fn re_import_changes_nothing(db: &TestDb) {
    let store = db.store().await;
    import(&store, &first_file()).await.unwrap();
    let before = marks(&store).await;
    let ada = person_by_external_id(&store, "E1").await;
    let summary = import(&store, &first_file()).await.unwrap();
    assert_eq!(
        summary,
        ImportSummary {
            unchanged_rows: 3,
            policy_version: before.0,
            ..ImportSummary::default()
        }
    );
    assert_eq!(marks(&store).await, before, "no policy bump, no log entry");
    assert_eq!(store.vetting_history(ada.id).await.unwrap().len(), 1);
    assert_eq!(cards_of(&store, ada.id).await.len(), 2);
    assert_eq!(store.list_people(None, None, 100).await.unwrap().len(), 2);
}

async fn a_modified_file_updates_exactly_what_changed(db: &TestDb) {
    let store = db.store().await;
    import(&store, &first_file()).await.unwrap();
    let (version, log) = marks(&store).await;
    let changed = csv(&[
        // Same person, same vetting; first card now with a validity window.
        "E1,Ada Lovelace,staff,,3,,cleared,2099-01-01,V-1,0A0B,,2026-01-01,2098-01-01",
        // Unchanged row.
        "E1,Ada Lovelace,staff,,3,,cleared,2099-01-01,V-1,0C0D,secure,2026-01-01,2099-01-01",
        // New clearance and status; a new vetting; a new card.
        "E2,Bob Builder,contractor,Acme,2,suspended,pending,,V-2,1A1B,,,",
        "E2,Bob Builder,contractor,Acme,2,suspended,pending,,V-2,0E0F,,,",
        // A new person without a card.
        "E3,Cy,staff,,0,,,,,,,,",
    ]);
    let summary = import(&store, &changed).await.unwrap();
    let expected = ImportSummary {
        people_created: 1,
        people_updated: 1,
        vetting_recorded: 1,
        credentials_created: 1,
        credentials_updated: 1,
        unchanged_rows: 2,
        policy_version: version + 1,
    };
    assert_eq!(summary, expected);
    let bob = person_by_external_id(&store, "E2").await;
    assert_eq!((bob.clearance, json!(bob.status)), (2, json!("suspended")));
    assert_eq!(store.vetting_history(bob.id).await.unwrap().len(), 1);
    assert_eq!(cards_of(&store, bob.id).await.len(), 2);
    let ada = person_by_external_id(&store, "E1").await;
    assert_eq!(
        store.vetting_history(ada.id).await.unwrap().len(),
        1,
        "vetting unchanged"
    );
    let first = &cards_of(&store, ada.id).await[0];
    assert_eq!(
        first.valid_until.map(|t| t.to_rfc3339()).as_deref(),
        Some("2098-01-01T00:00:00+00:00")
    );
    let entries = store.list_operator_log(None, 100_000).await.unwrap();
    let actions: Vec<_> = entries[log..].iter().map(|e| e.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "credential.update",
            "person.update",
            "person.vetting",
            "credential.create",
            "person.create",
            "person.import"
        ]
    );
    let update = entries
        .iter()
        .find(|e| e.action == "person.update")
        .unwrap();
    assert_eq!(update.before.as_ref().unwrap().0["clearance"], 1);
    assert_eq!(update.after.as_ref().unwrap().0["clearance"], 2);
}

async fn an_invalid_file_changes_nothing_and_names_every_line(db: &TestDb) {
    let store = db.store().await;
    let before = marks(&store).await;
    let bad = csv(&[
        "E1,Ada,staff,,3,,,,,0A0B,,,",
        "E2,Bob,staff,,999,,,,,,,,",
        "E3,Cy,robot,,1,,,,,zz,,,",
        "E4,Di,staff,,1,,cleared,2001-01-01,,,,,",
        "E5,Ed,staff,,1,,,,,0a0b,,,",
    ]);
    let Err(ImportError::Invalid(errors)) = import(&store, &bad).await else {
        panic!("the file is refused")
    };
    let got: Vec<_> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(
        got,
        [
            (3, "clearance"),
            (4, "card"),
            (4, "kind"),
            (5, "vetting_cleared_until"),
            (6, "card")
        ]
    );
    assert_eq!(marks(&store).await, before);
    assert!(
        store.list_people(None, None, 10).await.unwrap().is_empty(),
        "not even line 2"
    );
}

async fn a_card_held_by_another_person_is_an_error(db: &TestDb) {
    let store = db.store().await;
    let new = NewPerson {
        name: "Holder".into(),
        kind: PersonKind::Staff,
        employer: None,
        clearance: 1,
    };
    let holder = store.create_person(new, &Actor::cli()).await.unwrap();
    let credential = NewCredential {
        card: "0A0B".into(),
        kind: CardKind::Uid,
        holder: Holder::Person(holder.id),
        valid_from: None,
        valid_until: None,
        pin: None,
    };
    store
        .create_credential(credential, &Actor::cli())
        .await
        .unwrap();
    let before = marks(&store).await;
    let text = csv(&[
        "E1,Ada,staff,,3,,,,,0C0D,,,",
        "E2,Bob,staff,,1,,,,,0a:0b,,,",
    ]);
    let Err(ImportError::Invalid(errors)) = import(&store, &text).await else {
        panic!("the file is refused")
    };
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!((errors[0].line, errors[0].field.as_str()), (3, "card"));
    assert!(errors[0].message.contains("another person"), "{errors:?}");
    assert_eq!(marks(&store).await, before, "rolled back");
    assert_eq!(store.list_people(None, None, 10).await.unwrap().len(), 1);
}

/// A person with thousands of cards: each multi-row statement stays under the bind
/// limits (SQLite 32,766, PostgreSQL 65,535); 3,500 cards took 35,000 in one before.
async fn a_person_with_thousands_of_cards_is_imported(db: &TestDb) {
    let store = db.store().await;
    let rows: Vec<String> = (0..3_500)
        .map(|i| format!("E1,Ada Lovelace,staff,,3,,,,,{i:08X},,,"))
        .collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let summary = import(&store, &csv(&rows)).await.unwrap();
    assert_eq!(
        (summary.people_created, summary.credentials_created),
        (1, 3_500)
    );
}

conformance!(
    a_person_with_thousands_of_cards_is_imported,
    import_creates_people_vetting_and_credentials,
    re_import_changes_nothing,
    a_modified_file_updates_exactly_what_changed,
    an_invalid_file_changes_nothing_and_names_every_line,
    a_card_held_by_another_person_is_an_error,
);
