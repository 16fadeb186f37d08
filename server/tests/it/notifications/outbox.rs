//! The outbox's storage behaviour, on SQLite and PostgreSQL: enqueue, list and filter,
//! claims as leases (one winner among workers), each attempt's result, retry, retention.

use super::support::{invitation, visit};
use crate::common::TestDb;
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::verify::verify;
use gatehouse_server::notify::{Notifier, NotifySettings};
use gatehouse_server::store::notifications::{Delivery, NotificationFilter, NotificationState};
use gatehouse_server::store::{Actor, PURGED_NAME, StoreError, now};
use std::collections::BTreeSet;

conformance!(
    each_attempt_is_recorded_and_a_failed_one_can_be_retried,
    notifications_list_newest_first_by_page_and_filter,
    two_workers_never_claim_the_same_attempt,
    retention_purges_recipient_subject_and_message,
);

fn notifier() -> Notifier {
    Notifier::new(NotifySettings::default())
}

async fn each_attempt_is_recorded_and_a_failed_one_can_be_retried(db: &TestDb) {
    let store = db.store().await;
    let visit = visit(&store, 4).await;
    let new = notifier().invitation(&invitation(visit));
    store
        .enqueue_notifications(std::slice::from_ref(&new))
        .await
        .unwrap();

    let listed = store.notifications_for_visit(visit).await.unwrap();
    assert_eq!(listed.len(), 1);
    let n = &listed[0];
    assert_eq!(
        (n.id, n.state, n.attempts),
        (new.id, NotificationState::Pending, 0)
    );
    assert_eq!(n.recipient, "vera@visitor.example");
    assert_eq!(n.subject, "Your visit to HQ on Monday 7 December 2026");
    assert_eq!(n.visitor_name.as_deref(), Some("Vera Visitor"));
    assert_eq!(
        store.next_notification_due().await.unwrap(),
        Some(n.next_attempt_at)
    );

    let at = now();
    let lease = at + chrono::Duration::seconds(60);
    let claimed = store.claim_due_notifications(at, lease, 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].attempts, 1);
    assert_eq!(claimed[0].message, new.message, "the stored bytes are sent");
    assert!(
        store
            .claim_due_notifications(at, lease, 10)
            .await
            .unwrap()
            .is_empty(),
        "a claimed notification is leased"
    );

    let retry_at = at + chrono::Duration::seconds(5);
    let down = Delivery::Retry {
        error: "SMTP: connection refused".to_owned(),
        at: retry_at,
    };
    assert!(store.record_delivery(new.id, 1, &down).await.unwrap());
    let n = store.notification(new.id).await.unwrap();
    assert_eq!((n.state, n.attempts), (NotificationState::Pending, 1));
    assert_eq!(n.last_error.as_deref(), Some("SMTP: connection refused"));
    assert_eq!(n.next_attempt_at, retry_at);
    assert!(
        store
            .claim_due_notifications(at, lease, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let later = retry_at + chrono::Duration::seconds(1);
    let second = store
        .claim_due_notifications(later, later + chrono::Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(second[0].attempts, 2);
    assert!(
        !store
            .record_delivery(new.id, 1, &Delivery::Sent)
            .await
            .unwrap(),
        "a stale attempt's result is ignored"
    );
    let failed = Delivery::Failed {
        error: "x".repeat(2000),
    };
    assert!(store.record_delivery(new.id, 2, &failed).await.unwrap());
    let n = store.notification(new.id).await.unwrap();
    assert_eq!((n.state, n.attempts), (NotificationState::Failed, 2));
    assert_eq!(
        n.last_error.map(|e| e.len()),
        Some(500),
        "long errors are clipped"
    );
    assert_eq!(store.next_notification_due().await.unwrap(), None);

    let retried = store
        .retry_notification(new.id, &Actor::cli())
        .await
        .unwrap();
    assert_eq!(
        (retried.state, retried.attempts),
        (NotificationState::Pending, 0)
    );
    assert!(matches!(
        store.retry_notification(new.id, &Actor::cli()).await,
        Err(StoreError::Rejected(_))
    ));
    assert!(matches!(
        store
            .retry_notification(uuid::Uuid::now_v7(), &Actor::cli())
            .await,
        Err(StoreError::NotFound)
    ));
    let log = store.list_operator_log(None, 500).await.unwrap();
    assert!(
        log.iter().any(|e| e.action == "notification.retry"
            && e.target_id.as_deref() == Some(&new.id.to_string()))
    );

    let third = store
        .claim_due_notifications(now(), lease, 10)
        .await
        .unwrap();
    assert!(
        store
            .record_delivery(new.id, third[0].attempts, &Delivery::Sent)
            .await
            .unwrap()
    );
    let n = store.notification(new.id).await.unwrap();
    assert_eq!(n.state, NotificationState::Sent);
    assert_eq!(n.last_error, None);
    assert!(n.delivered_at.is_some());
}

async fn notifications_list_newest_first_by_page_and_filter(db: &TestDb) {
    let store = db.store().await;
    let visit = visit(&store, 4).await;
    let notifier = notifier();
    let mut ids = Vec::new();
    for _ in 0..3 {
        let new = notifier.invitation(&invitation(visit));
        ids.push(new.id);
        store.enqueue_notifications(&[new]).await.unwrap();
    }
    let mut other = notifier.invitation(&invitation(visit));
    other.visit_id = None;
    store.enqueue_notifications(&[other.clone()]).await.unwrap();

    let all = NotificationFilter::default();
    let first = store.notifications(all, None, 2).await.unwrap();
    assert_eq!(
        first.iter().map(|n| n.id).collect::<Vec<_>>(),
        [other.id, ids[2]]
    );
    let rest = store
        .notifications(all, Some(first[1].id), 10)
        .await
        .unwrap();
    assert_eq!(
        rest.iter().map(|n| n.id).collect::<Vec<_>>(),
        [ids[1], ids[0]]
    );

    let of_visit = NotificationFilter {
        visit_id: Some(visit),
        state: None,
    };
    assert_eq!(
        store.notifications(of_visit, None, 10).await.unwrap().len(),
        3
    );
    let failed = NotificationFilter {
        visit_id: None,
        state: Some(NotificationState::Failed),
    };
    assert!(
        store
            .notifications(failed, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let at = now();
    let claimed = store
        .claim_due_notifications(at, at + chrono::Duration::seconds(60), 1)
        .await
        .unwrap();
    let gone = Delivery::Failed {
        error: "SMTP not configured".to_owned(),
    };
    store
        .record_delivery(claimed[0].id, 1, &gone)
        .await
        .unwrap();
    let listed = store.notifications(failed, None, 10).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].last_error.as_deref(), Some("SMTP not configured"));
}

async fn two_workers_never_claim_the_same_attempt(db: &TestDb) {
    let one = db.store().await;
    let two = db.store().await;
    let visit = visit(&one, 4).await;
    let notifier = notifier();
    let all: Vec<_> = (0..30)
        .map(|_| notifier.invitation(&invitation(visit)))
        .collect();
    one.enqueue_notifications(&all).await.unwrap();
    let at = now();
    let lease = at + chrono::Duration::seconds(60);
    let mut claimed = Vec::new();
    loop {
        let (a, b) = tokio::join!(
            one.claim_due_notifications(at, lease, 7),
            two.claim_due_notifications(at, lease, 7)
        );
        let (a, b) = (a.unwrap(), b.unwrap());
        if a.is_empty() && b.is_empty() {
            break;
        }
        claimed.extend(a.into_iter().chain(b).map(|o| o.id));
    }
    let distinct: BTreeSet<_> = claimed.iter().collect();
    assert_eq!(claimed.len(), 30, "each claimed once");
    assert_eq!(distinct.len(), 30);
}

async fn retention_purges_recipient_subject_and_message(db: &TestDb) {
    let store = db.store().await;
    let key = AuditKey::load(&store).await.unwrap();
    let ended = visit(&store, 1).await;
    let current = visit(&store, 240).await;
    let notifier = notifier();
    let purged = notifier.invitation(&invitation(ended));
    let kept = notifier.invitation(&invitation(current));
    store
        .enqueue_notifications(&[purged.clone(), kept.clone()])
        .await
        .unwrap();
    let cutoff = now() + chrono::Duration::days(2);
    store
        .purge_visitor_data(cutoff, &Actor::system())
        .await
        .unwrap();

    let n = store.notification(purged.id).await.unwrap();
    assert_eq!(
        (n.recipient.as_str(), n.subject.as_str()),
        (PURGED_NAME, PURGED_NAME)
    );
    assert_eq!(n.state, NotificationState::Failed);
    assert_eq!(n.last_error.as_deref(), Some("purged before delivery"));
    assert_eq!(n.visitor_name.as_deref(), Some(PURGED_NAME));
    let at = now();
    let claimed = store
        .claim_due_notifications(at, at + chrono::Duration::seconds(60), 10)
        .await
        .unwrap();
    assert_eq!(claimed.iter().map(|c| c.id).collect::<Vec<_>>(), [kept.id]);
    assert!(matches!(
        store.retry_notification(purged.id, &Actor::cli()).await,
        Err(StoreError::Rejected(_))
    ));
    let still = store.notification(kept.id).await.unwrap();
    assert_eq!(still.recipient, "vera@visitor.example");

    let report = verify(&store, &key.public_key()).await.unwrap();
    assert!(report.ok, "the chain verifies after the purge: {report:?}");
}
