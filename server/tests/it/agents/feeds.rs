//! The feeds the agents' long-polls wait on (`gatehouse_server::feeds`): a passage
//! recorded and a door command given by another server wake a request waiting here, on
//! PostgreSQL by the notification alone (the fallback read is an hour away); an upload
//! without a passage wakes no presence waiter, and a command no presence waiter.

use super::site_support::{new_door, site, zone};
use super::support::presentation;
use crate::common::TestDb;
use chrono::Duration as Span;
use gatehouse_core::decide::Outcome;
use gatehouse_core::event::{DoorEvent, GENESIS_HASH, chain_hash};
use gatehouse_core::protocol::CommandAction;
use gatehouse_server::feeds::Feeds;
use gatehouse_server::store::{Actor, NewAgent, NewCommand, Store, UploadRecord, now};
use std::time::Duration;
use tokio::time::Instant;
use uuid::Uuid;

conformance!(another_servers_passage_or_command_wakes_the_waiters_here);

/// An active agent serving a new door, heard from now: (agent id, door id).
async fn online_agent(store: &Store) -> (Uuid, Uuid) {
    let site = site(store, "HQ").await;
    let outer = zone(store, site.id, None, 0).await;
    let inner = zone(store, site.id, Some(outer.id), 1).await;
    let door = store
        .create_door(new_door(outer.id, inner.id), &Actor::cli())
        .await
        .unwrap();
    let new = NewAgent {
        name: "agent".into(),
        door_ids: vec![door.id],
        code_hash: b"code".to_vec(),
        code_expires_at: now() + Span::minutes(15),
    };
    let agent = store.create_agent(new, &Actor::cli()).await.unwrap();
    store.enroll_agent(b"code", b"token", now()).await.unwrap();
    store.touch_agent(b"token", now()).await.unwrap();
    (agent.id, door.id)
}

/// `events` as the agent's journal records `1..`.
fn records(events: &[DoorEvent]) -> Vec<UploadRecord> {
    let mut previous = GENESIS_HASH;
    (1..)
        .zip(events)
        .map(|(seq, event)| {
            let payload = event.encode().unwrap();
            let hash = chain_hash(&previous, seq, &payload);
            previous = hash;
            UploadRecord {
                seq,
                payload,
                hash,
                event: event.clone(),
            }
        })
        .collect()
}

async fn another_servers_passage_or_command_wakes_the_waiters_here(db: &TestDb) {
    let (this_server, other_server) = (db.store().await, db.store().await);
    // No fallback read within the test: on PostgreSQL only the notifications can wake.
    let hour = Duration::from_secs(3600);
    let feeds = Feeds::start_with(this_server, hour).await.unwrap();
    let (agent, door) = online_agent(&other_server).await;
    let soon = || Instant::now() + Duration::from_millis(300);
    let within = || Instant::now() + Duration::from_secs(20);

    let journal = records(&[
        presentation(door, "0A", Outcome::Denied, Some(Uuid::now_v7())),
        presentation(door, "0B", Outcome::Granted, Some(Uuid::now_v7())),
    ]);
    let mut presence = feeds.presence();
    other_server
        .ingest_events(agent, &journal[..1], 0)
        .await
        .unwrap();
    assert!(
        !presence.changed_by(soon()).await,
        "a denial is no passage: nobody moved"
    );
    other_server
        .ingest_events(agent, &journal[1..], 0)
        .await
        .unwrap();
    assert!(presence.changed_by(within()).await, "a passage wakes");
    assert!(
        !presence.changed_by(soon()).await,
        "and waits again for the next"
    );

    let mut commands = feeds.commands();
    let release = NewCommand {
        door_id: door,
        action: CommandAction::Release { seconds: 5 },
        ttl: Duration::from_secs(30),
    };
    let offline_after = Duration::from_secs(120);
    other_server
        .create_door_command(release, offline_after, &Actor::cli())
        .await
        .unwrap();
    assert!(commands.changed_by(within()).await, "a command wakes");
    assert!(
        !presence.changed_by(soon()).await,
        "a command is no presence change"
    );
}
