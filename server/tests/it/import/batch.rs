//! An import writes its rows in short transactions that stay invisible until it is
//! published: an import interrupted half-way leaves nothing visible and is swept, and a
//! writer taking one of its cards meanwhile makes it plan again (and report the card)
//! or is refused, never mixes with it.

use super::{import, marks};
use crate::common::TestDb;
use gatehouse_core::model::{CardKind, Holder, PersonKind};
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::verify::verify;
use gatehouse_server::import::{ImportError, import_people};
use gatehouse_server::store::{Actor, ModelError, NewCredential, NewPerson, Store, StoreError};
use std::sync::Arc;
use std::time::{Duration, Instant};

conformance!(
    an_interrupted_import_leaves_nothing_visible_and_is_swept,
    a_card_taken_during_the_import_is_reported_or_refused,
);

fn card(i: usize) -> String {
    format!("C0{i:06X}")
}

/// `rows` new people with a card each.
fn many(rows: usize) -> String {
    let mut text = String::from("external_id,name,kind,clearance,card\n");
    for i in 0..rows {
        text.push_str(&format!("E{i},Person {i},staff,1,{}\n", card(i)));
    }
    text
}

/// One number from `sql`, read as someone with database access would (past the views).
async fn raw_count(db: &TestDb, sql: &str) -> i64 {
    let sql = sqlx::AssertSqlSafe(sql.to_owned());
    if db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query_scalar(sql).fetch_one(&pool).await.unwrap()
    }
}

/// Waits until the import has committed some of its (invisible) people and cards.
async fn until_rows_are_written(db: &TestDb) {
    let started = Instant::now();
    while raw_count(db, "SELECT COUNT(*) FROM credentials").await == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no rows written"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn start(store: &Store, text: String) -> tokio::task::JoinHandle<Result<(), ImportError>> {
    let store = store.clone();
    tokio::spawn(async move {
        import_people(&store, text.into_bytes(), &Actor::cli(), Arc::new(()))
            .await
            .map(drop)
    })
}

async fn assert_trail_verifies(store: &Store) {
    let key = AuditKey::load(store).await.unwrap();
    let report = verify(store, &key.public_key()).await.unwrap();
    assert!(report.ok, "{report:?}");
}

async fn an_interrupted_import_leaves_nothing_visible_and_is_swept(db: &TestDb) {
    let store = db.store().await;
    let before = marks(&store).await;
    let task = start(&store, many(20_000));
    until_rows_are_written(db).await;
    // The server dies half-way: its task ends where it is.
    task.abort();
    let _ = task.await;
    let written = raw_count(db, "SELECT COUNT(*) FROM people").await;
    assert!(written > 0 && written < 20_000, "{written}");
    assert!(store.list_people(None, None, 10).await.unwrap().is_empty());
    assert_eq!(
        marks(&store).await,
        before,
        "no log entry, no policy version"
    );
    // Its rows are not part of the trail yet, and are not reported as unchained.
    assert_trail_verifies(&store).await;

    assert_eq!(store.sweep_abandoned_imports(None).await.unwrap(), 1);
    for table in [
        "people",
        "credentials",
        "audit_import_members",
        "import_pending",
    ] {
        let rows = raw_count(db, &format!("SELECT COUNT(*) FROM {table}")).await;
        assert_eq!(rows, 0, "{table}");
    }
    let left = "SELECT COUNT(*) FROM operator_log WHERE import_batch IS NOT NULL";
    assert_eq!(raw_count(db, left).await, 0);
    assert_trail_verifies(&store).await;

    // Imported again, whole.
    let summary = import(&store, &many(20_000)).await.unwrap();
    assert_eq!(
        (summary.people_created, summary.credentials_created),
        (20_000, 20_000)
    );
    assert_eq!(
        store.list_people(None, None, 30_000).await.unwrap().len(),
        20_000
    );
    assert_trail_verifies(&store).await;
}

async fn a_card_taken_during_the_import_is_reported_or_refused(db: &TestDb) {
    let store = db.store().await;
    let new = NewPerson {
        name: "Holder".into(),
        kind: PersonKind::Staff,
        employer: None,
        clearance: 1,
    };
    let holder = store.create_person(new, &Actor::cli()).await.unwrap();
    let credential = |card: String| NewCredential {
        card,
        kind: CardKind::Uid,
        holder: Holder::Person(holder.id),
        valid_from: None,
        valid_until: None,
        pin: None,
    };
    let task = start(&store, many(20_000));
    until_rows_are_written(db).await;
    // A card the import has written (invisibly) is held: issuing it is a conflict.
    let first = store
        .create_credential(credential(card(0)), &Actor::cli())
        .await;
    assert!(
        matches!(first, Err(ModelError::Store(StoreError::Conflict { .. }))),
        "{first:?}"
    );
    // One it has not written yet goes to the holder, and the import, planning again,
    // reports that line and imports nothing.
    let last = store
        .create_credential(credential(card(19_999)), &Actor::cli())
        .await;
    let outcome = task.await.unwrap();
    match last {
        Ok(_) => {
            let Err(ImportError::Invalid(errors)) = outcome else {
                panic!("the import must report the card: {outcome:?}")
            };
            assert_eq!(errors.len(), 1, "{errors:?}");
            assert_eq!((errors[0].line, errors[0].field.as_str()), (20_001, "card"));
            let people = store.list_people(None, None, 10).await.unwrap();
            assert_eq!(people.len(), 1, "only the holder");
            let rows = raw_count(db, "SELECT COUNT(*) FROM people").await;
            assert_eq!(rows, 1, "the import's rows were swept");
        }
        // The import had written that card too (a loaded machine): it goes through.
        Err(ModelError::Store(StoreError::Conflict { .. })) => {
            assert!(outcome.is_ok(), "{outcome:?}")
        }
        Err(other) => panic!("{other:?}"),
    }
    assert_eq!(
        raw_count(db, "SELECT COUNT(*) FROM import_pending").await,
        0
    );
    assert_trail_verifies(&store).await;
}
