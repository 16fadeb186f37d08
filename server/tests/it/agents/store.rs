//! Agent storage on SQLite and PostgreSQL: registration and its refusals, single-use
//! codes, tokens and revocation, ingest of chained records, the append-only event table,
//! and the per-site policy snapshot built from the store.

use super::site_support::{new_door, site, zone};
use super::support::presentation;
use crate::common::TestDb;
use chrono::Duration;
use gatehouse_core::decide::Outcome;
use gatehouse_core::event::{GENESIS_HASH, chain_hash};
use gatehouse_core::policy::Settings;
use gatehouse_server::policy::PolicyService;
use gatehouse_server::store::{
    Actor, AgentStatus, EventFilter, ModelError, NewAgent, Store, StoreError, UploadRecord, now,
};
use std::collections::BTreeSet;
use uuid::Uuid;

conformance!(
    agents_are_registered_enrolled_and_revoked,
    uploads_are_stored_once_and_chained,
    events_are_append_only,
    snapshots_cover_only_the_given_sites,
    every_stamp_is_stored_when_its_call_returns_even_many_at_once,
);

/// A site with one door: (site id, door id).
async fn door(store: &Store, name: &str) -> (Uuid, Uuid) {
    let site = site(store, name).await;
    let outer = zone(store, site.id, None, 0).await;
    let inner = zone(store, site.id, Some(outer.id), 1).await;
    let door = store
        .create_door(new_door(outer.id, inner.id), &Actor::cli())
        .await
        .unwrap();
    (site.id, door.id)
}

fn new_agent(door_ids: Vec<Uuid>, code: &[u8]) -> NewAgent {
    NewAgent {
        name: "agent".into(),
        door_ids,
        code_hash: code.to_vec(),
        code_expires_at: now() + Duration::minutes(15),
    }
}

/// On SQLite the stamps of concurrent calls are written in batches (a group commit):
/// still, each is stored by the time its call goes on, and a later stamp wins.
async fn every_stamp_is_stored_when_its_call_returns_even_many_at_once(db: &TestDb) {
    const AGENTS: usize = 40;
    let store = db.store().await;
    let mut agents = Vec::new();
    for n in 0..AGENTS {
        let (_, door) = door(&store, &format!("Site {n}")).await;
        let code = format!("code-{n}");
        let created = (store.create_agent(new_agent(vec![door], code.as_bytes()), &Actor::cli()))
            .await
            .unwrap();
        let token = format!("token-{n}");
        store
            .enroll_agent(code.as_bytes(), token.as_bytes(), now())
            .await
            .unwrap()
            .unwrap();
        agents.push((created.id, token));
    }
    let at = now();
    let calls = agents.iter().map(|(id, token)| {
        let (store, token, id) = (store.clone(), token.clone(), *id);
        tokio::spawn(async move {
            assert_eq!(
                store.touch_agent(token.as_bytes(), at).await.unwrap(),
                Some(id)
            );
            // Stored now, whoever wrote the batch.
            let seen = store.agent(id).await.unwrap().last_seen_at;
            assert!(
                seen.is_some_and(|s| (s - at).num_milliseconds().abs() < 1),
                "{seen:?}"
            );
        })
    });
    for call in calls.collect::<Vec<_>>() {
        call.await.unwrap();
    }
    let (first, token) = &agents[0];
    let later = at + Duration::seconds(5);
    store.touch_agent(token.as_bytes(), later).await.unwrap();
    store.touch_agent(token.as_bytes(), at).await.unwrap();
    let seen = store.agent(*first).await.unwrap().last_seen_at.unwrap();
    assert!(
        (seen - later).num_milliseconds().abs() < 1,
        "the later stamp stays"
    );
    assert_eq!(store.touch_agent(b"no such token", at).await.unwrap(), None);
}

async fn agents_are_registered_enrolled_and_revoked(db: &TestDb) {
    let store = db.store().await;
    let (_, front) = door(&store, "HQ").await;
    let created = store
        .create_agent(new_agent(vec![front], b"code-1"), &Actor::cli())
        .await
        .unwrap();
    assert_eq!(
        (created.status, created.door_ids.clone()),
        (AgentStatus::Pending, vec![front])
    );
    assert_eq!(store.agent(created.id).await.unwrap(), created);
    match store
        .create_agent(new_agent(vec![front], b"code-2"), &Actor::cli())
        .await
    {
        Err(ModelError::Store(StoreError::Rejected(_))) => {}
        other => panic!("a served door must be refused: {other:?}"),
    }
    match store
        .create_agent(new_agent(vec![Uuid::now_v7()], b"code-3"), &Actor::cli())
        .await
    {
        Err(ModelError::Invalid {
            field: "door_ids", ..
        }) => {}
        other => panic!("an unknown door must be refused: {other:?}"),
    }
    assert_eq!(
        store.list_agents(None, 10).await.unwrap(),
        vec![created.clone()]
    );

    assert!(
        store
            .enroll_agent(b"wrong", b"token-1", now())
            .await
            .unwrap()
            .is_none()
    );
    let enrolled = store
        .enroll_agent(b"code-1", b"token-1", now())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (enrolled.id, enrolled.status),
        (created.id, AgentStatus::Active)
    );
    assert!(
        store
            .enroll_agent(b"code-1", b"token-2", now())
            .await
            .unwrap()
            .is_none(),
        "single-use"
    );
    assert_eq!(
        store.touch_agent(b"token-1", now()).await.unwrap(),
        Some(created.id)
    );
    assert!(
        store
            .agent(created.id)
            .await
            .unwrap()
            .last_seen_at
            .is_some()
    );

    let expired = now() - Duration::seconds(1);
    store
        .issue_enrollment_code(created.id, b"code-4", expired, &Actor::cli())
        .await
        .unwrap();
    assert!(
        store
            .enroll_agent(b"code-4", b"token-3", now())
            .await
            .unwrap()
            .is_none(),
        "expired"
    );

    let revoked = store.revoke_agent(created.id, &Actor::cli()).await.unwrap();
    assert_eq!(revoked.status, AgentStatus::Revoked);
    assert_eq!(store.touch_agent(b"token-1", now()).await.unwrap(), None);
    assert!(matches!(
        store.revoke_agent(created.id, &Actor::cli()).await,
        Err(StoreError::Rejected(_))
    ));
    assert!(matches!(
        store.revoke_agent(Uuid::now_v7(), &Actor::cli()).await,
        Err(StoreError::NotFound)
    ));
    let log = store.list_operator_log(None, 100).await.unwrap();
    let actions: Vec<_> = log
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("agent."))
        .collect();
    assert_eq!(
        actions,
        vec![
            "agent.create",
            "agent.enroll",
            "agent.enrollment_code",
            "agent.revoke"
        ]
    );
}

/// Records `1..=n` of a journal at `door`.
fn chain(door: Uuid, n: u64) -> Vec<UploadRecord> {
    let mut previous = GENESIS_HASH;
    (1..=n)
        .map(|seq| {
            let event = presentation(door, "0A", Outcome::Granted, None);
            let payload = event.encode().unwrap();
            let hash = chain_hash(&previous, seq, &payload);
            previous = hash;
            UploadRecord {
                seq,
                payload,
                hash,
                event,
            }
        })
        .collect()
}

async fn enrolled(store: &Store, door: Uuid) -> Uuid {
    store
        .create_agent(new_agent(vec![door], b"code"), &Actor::cli())
        .await
        .unwrap()
        .id
}

async fn uploads_are_stored_once_and_chained(db: &TestDb) {
    let store = db.store().await;
    let (_, front) = door(&store, "HQ").await;
    let agent = enrolled(&store, front).await;
    let records = chain(front, 6);
    let first = store.ingest_events(agent, &records[..2], 0).await.unwrap();
    assert_eq!(
        (first.acked_through, first.stored, first.duplicates),
        (Some(2), 2, 0)
    );
    let again = store.ingest_events(agent, &records[..3], 0).await.unwrap();
    assert_eq!(
        (again.acked_through, again.stored, again.duplicates),
        (Some(3), 1, 2)
    );
    let gap = store.ingest_events(agent, &records[5..], 0).await.unwrap();
    assert_eq!((gap.acked_through, gap.stored), (Some(6), 1));
    let mut broken = chain(front, 5).split_off(3);
    broken[0].payload.push(0);
    let refused = store.ingest_events(agent, &broken, 20_000).await.unwrap();
    assert_eq!((refused.acked_through, refused.stored), (None, 0));

    let alarms = store.list_agent_alarms(agent, None, 10).await.unwrap();
    let kinds: Vec<_> = alarms.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(kinds, vec!["journal_gap", "clock_offset", "chain_broken"]);
    let events = store
        .list_events(&EventFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(
        events.iter().map(|e| e.seq).collect::<Vec<_>>(),
        vec![1, 2, 3, 6]
    );
    let page = store
        .list_events(&EventFilter::default(), Some(events[1].id), 1)
        .await
        .unwrap();
    assert_eq!(page[0].seq, 3);
    assert_eq!(
        store.agent(agent).await.unwrap().clock_offset_ms,
        Some(20_000)
    );
}

async fn events_are_append_only(db: &TestDb) {
    let store = db.store().await;
    let (_, front) = door(&store, "HQ").await;
    let agent = enrolled(&store, front).await;
    store
        .ingest_events(agent, &chain(front, 1), 0)
        .await
        .unwrap();
    db.assert_append_only("access_events").await;
    assert_eq!(
        store
            .list_events(&EventFilter::default(), None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
}

async fn snapshots_cover_only_the_given_sites(db: &TestDb) {
    let store = db.store().await;
    let (mine, my_door) = door(&store, "HQ").await;
    let (_, other_door) = door(&store, "Plant").await;
    let agent = enrolled(&store, my_door).await;
    let sites = store.agent_site_ids(agent).await.unwrap();
    assert_eq!(sites, BTreeSet::from([mine]));
    let service = PolicyService::load(store.clone(), Settings::default())
        .await
        .unwrap();
    let snapshot = service.snapshot_for_sites(&sites).await.unwrap();
    let policy = snapshot.verify(&service.public_key(), 0).unwrap();
    assert!(policy.door(my_door).is_some() && policy.door(other_door).is_none());
    assert_eq!(
        snapshot.version,
        u64::try_from(store.policy_version().await.unwrap()).unwrap()
    );
    let empty = service.snapshot_for_sites(&BTreeSet::new()).await.unwrap();
    assert!(
        empty
            .verify(&service.public_key(), 0)
            .unwrap()
            .source()
            .doors
            .is_empty()
    );
}
