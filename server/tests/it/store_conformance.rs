//! Every storage behaviour, run on SQLite always and on PostgreSQL when
//! `GATEHOUSE_TEST_POSTGRES_URL` is set (CI sets it and `GATEHOUSE_TEST_REQUIRE_POSTGRES=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use chrono::Duration;
use common::TestDb;
use gatehouse_core::role::Role;
use gatehouse_server::store::{
    Actor, NewOperator, Operator, OperatorChange, OperatorStatus, Session, Store, StoreError, now,
};
use uuid::Uuid;

conformance!(
    operators_are_created_found_and_unique,
    operators_list_in_pages,
    operator_changes_are_logged_and_end_sessions,
    last_active_admin_stays,
    password_change_ends_sessions_and_is_logged_without_hash,
    sessions_expire_and_revoke,
    login_failures_count_per_key_and_are_forgotten,
    secrets_are_created_once,
    operator_log_is_append_only,
    migrations_are_idempotent_and_data_survives_reopen,
);

async fn create(store: &Store, username: &str, role: Role) -> Operator {
    store
        .create_operator(new_operator(username, role), &Actor::cli())
        .await
        .unwrap()
}

fn new_operator(username: &str, role: Role) -> NewOperator {
    NewOperator {
        username: username.to_owned(),
        display_name: format!("{username} display"),
        role,
        password_hash: "$argon2id$test".to_owned(),
    }
}

async fn operators_are_created_found_and_unique(db: &TestDb) {
    let store = db.store().await;
    let created = create(&store, "ada", Role::Security).await;
    assert_eq!(created.status, OperatorStatus::Active);
    assert_eq!(
        store.operator(created.id).await.unwrap(),
        created,
        "timestamps round-trip exactly"
    );
    assert_eq!(store.operator_by_username("ada").await.unwrap(), created);
    let (found, hash) = store.operator_with_hash("ada").await.unwrap().unwrap();
    assert_eq!((found, hash.as_str()), (created.clone(), "$argon2id$test"));
    assert!(store.operator_with_hash("nobody").await.unwrap().is_none());
    assert!(matches!(
        store.operator(Uuid::new_v4()).await,
        Err(StoreError::NotFound)
    ));

    let duplicate = store
        .create_operator(new_operator("ada", Role::Host), &Actor::cli())
        .await;
    match duplicate {
        Err(StoreError::Conflict { constraint }) => {
            assert!(constraint.contains("username"), "{constraint}")
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(store.count_operators().await.unwrap(), 1);
    let log = store.list_operator_log(None, 10).await.unwrap();
    assert_eq!(log.len(), 1, "the failed insert left no log entry");
}

async fn operators_list_in_pages(db: &TestDb) {
    let store = db.store().await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(
            store
                .create_operator(new_operator(&format!("u{n}"), Role::Host), &Actor::cli())
                .await
                .unwrap()
                .id,
        );
    }
    let first = store.list_operators(None, 2).await.unwrap();
    let second = store.list_operators(Some(first[1].id), 2).await.unwrap();
    let third = store.list_operators(Some(second[1].id), 2).await.unwrap();
    let listed: Vec<_> = first
        .iter()
        .chain(&second)
        .chain(&third)
        .map(|o| o.id)
        .collect();
    assert_eq!(listed, ids, "creation order, each once");
}

async fn operator_changes_are_logged_and_end_sessions(db: &TestDb) {
    let store = db.store().await;
    let op = create(&store, "bo", Role::Host).await;
    let session = open_session(&store, op.id).await;

    let actor = Actor {
        id: Some(Uuid::new_v4()),
        name: "chief".into(),
        request_id: Some("r1".into()),
    };
    let renamed = store
        .update_operator(
            op.id,
            OperatorChange {
                display_name: Some("Bo".into()),
                ..Default::default()
            },
            &actor,
        )
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "Bo");
    assert!(
        store
            .session_principal(session, now())
            .await
            .unwrap()
            .is_some(),
        "a rename keeps sessions"
    );

    let promoted = store
        .update_operator(
            op.id,
            OperatorChange {
                role: Some(Role::Security),
                ..Default::default()
            },
            &actor,
        )
        .await
        .unwrap();
    assert_eq!(promoted.role, Role::Security);
    assert!(
        store
            .session_principal(session, now())
            .await
            .unwrap()
            .is_none(),
        "a role change ends sessions"
    );

    let log = store.list_operator_log(None, 10).await.unwrap();
    assert_eq!(log.len(), 3);
    let last = &log[2];
    assert_eq!(
        (last.action.as_str(), last.actor.as_str(), last.actor_id),
        ("operator.update", "chief", actor.id)
    );
    assert_eq!(last.request_id.as_deref(), Some("r1"));
    assert_eq!(last.before.as_ref().unwrap().0["role"], "host");
    assert_eq!(last.after.as_ref().unwrap().0["role"], "security");
    assert!(log.windows(2).all(|w| w[0].seq < w[1].seq));
    let after_first = store.list_operator_log(Some(log[0].seq), 10).await.unwrap();
    assert_eq!(after_first.len(), 2);

    let missing = store
        .update_operator(Uuid::new_v4(), OperatorChange::default(), &actor)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));
}

async fn last_active_admin_stays(db: &TestDb) {
    let store = db.store().await;
    let first = create(&store, "root1", Role::Admin).await;
    let disable = OperatorChange {
        status: Some(OperatorStatus::Disabled),
        ..Default::default()
    };
    let refused = store
        .update_operator(first.id, disable.clone(), &Actor::cli())
        .await;
    assert!(matches!(refused, Err(StoreError::Rejected(_))));
    assert_eq!(
        store.operator(first.id).await.unwrap().status,
        OperatorStatus::Active
    );
    assert_eq!(
        store.list_operator_log(None, 10).await.unwrap().len(),
        1,
        "refusal is not logged as a change"
    );

    let second = create(&store, "root2", Role::Admin).await;
    store
        .update_operator(first.id, disable, &Actor::cli())
        .await
        .unwrap();
    let demote = OperatorChange {
        role: Some(Role::Auditor),
        ..Default::default()
    };
    assert!(matches!(
        store
            .update_operator(second.id, demote, &Actor::cli())
            .await,
        Err(StoreError::Rejected(_))
    ));
}

async fn password_change_ends_sessions_and_is_logged_without_hash(db: &TestDb) {
    let store = db.store().await;
    let op = create(&store, "cy", Role::Host).await;
    let session = open_session(&store, op.id).await;
    store
        .set_operator_password(op.id, "$argon2id$new", &Actor::cli())
        .await
        .unwrap();
    assert!(
        store
            .session_principal(session, now())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store.operator_with_hash("cy").await.unwrap().unwrap().1,
        "$argon2id$new"
    );
    let log = store.list_operator_log(None, 10).await.unwrap();
    let entry = log.last().unwrap();
    assert_eq!(entry.action, "operator.set_password");
    assert!(entry.before.is_none() && entry.after.is_none());
    assert!(matches!(
        store
            .set_operator_password(Uuid::new_v4(), "$x", &Actor::cli())
            .await,
        Err(StoreError::NotFound)
    ));
}

async fn open_session(store: &Store, operator_id: Uuid) -> Uuid {
    let at = now();
    let session = Session {
        id: Uuid::new_v4(),
        operator_id,
        created_at: at,
        expires_at: at + Duration::minutes(15),
    };
    store.create_session(&session).await.unwrap();
    session.id
}

async fn sessions_expire_and_revoke(db: &TestDb) {
    let store = db.store().await;
    let op = create(&store, "di", Role::Auditor).await;
    let session = open_session(&store, op.id).await;
    let principal = store
        .session_principal(session, now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (
            principal.operator_id,
            principal.role,
            principal.username.as_str()
        ),
        (op.id, Role::Auditor, "di")
    );
    let later = now() + Duration::minutes(16);
    assert!(
        store
            .session_principal(session, later)
            .await
            .unwrap()
            .is_none(),
        "expired"
    );
    store.revoke_session(session).await.unwrap();
    assert!(
        store
            .session_principal(session, now())
            .await
            .unwrap()
            .is_none(),
        "revoked"
    );
    assert!(
        store
            .session_principal(Uuid::new_v4(), now())
            .await
            .unwrap()
            .is_none()
    );
}

async fn login_failures_count_per_key_and_are_forgotten(db: &TestDb) {
    let store = db.store().await;
    let t0 = now();
    let keys = ["user:a".to_owned(), "ip:127.0.0.1".to_owned()];
    store
        .record_login_failure(&keys, t0 - Duration::minutes(90), t0 - Duration::hours(3))
        .await
        .unwrap();
    store
        .record_login_failure(&keys, t0 - Duration::seconds(10), t0 - Duration::hours(3))
        .await
        .unwrap();
    store
        .record_login_failure(&keys[..1], t0, t0 - Duration::hours(1))
        .await
        .unwrap();

    let a = store
        .login_failures("user:a", t0 - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!((a.count, a.last), (2, Some(t0)));
    let ip = store
        .login_failures("ip:127.0.0.1", t0 - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!((ip.count, ip.last), (1, Some(t0 - Duration::seconds(10))));
    let all = store
        .login_failures("user:a", t0 - Duration::hours(5))
        .await
        .unwrap();
    assert_eq!(all.count, 2, "the 90-minute-old failure was forgotten");

    store.clear_login_failures("user:a").await.unwrap();
    let cleared = store
        .login_failures("user:a", t0 - Duration::hours(1))
        .await
        .unwrap();
    assert_eq!((cleared.count, cleared.last), (0, None));
    assert_eq!(
        store
            .login_failures("ip:127.0.0.1", t0 - Duration::hours(1))
            .await
            .unwrap()
            .count,
        1
    );
}

async fn secrets_are_created_once(db: &TestDb) {
    let store = db.store().await;
    let first = store.secret_or_insert("k", &[1; 32]).await.unwrap();
    let second = store.secret_or_insert("k", &[2; 32]).await.unwrap();
    assert_eq!(first, vec![1; 32]);
    assert_eq!(second, vec![1; 32], "the first secret stays");
    assert_eq!(
        store.secret_or_insert("other", &[3; 32]).await.unwrap(),
        vec![3; 32]
    );
}

async fn operator_log_is_append_only(db: &TestDb) {
    let store = db.store().await;
    create(&store, "ed", Role::Host).await;
    db.assert_append_only("operator_log").await;
    let log = store.list_operator_log(None, 10).await.unwrap();
    assert_eq!((log.len(), log[0].actor.as_str()), (1, "cli"));
}

async fn migrations_are_idempotent_and_data_survives_reopen(db: &TestDb) {
    let store = db.store().await;
    let op = create(&store, "fay", Role::Receptionist).await;
    store.migrate().await.unwrap();
    store.close().await;
    let reopened = db.store().await;
    assert_eq!(reopened.operator(op.id).await.unwrap(), op);
    reopened.ping().await.unwrap();
}
