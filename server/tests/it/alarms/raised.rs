//! The alarms the server raises on its own, through the store on both backends:
//! `agent_offline` once per outage (and once when two replicas look at the same time),
//! `repeated_denials` at the threshold's boundaries (N - 1 denials, N, the window's two
//! ends, a late upload filling a window, two agents uploading at once), and the audit
//! chain verifying after each.

use super::support::{Fixture, denied, presented};
use crate::common::TestDb;
use chrono::{Duration, Utc};
use gatehouse_core::decide::Outcome;
use gatehouse_server::store::{Actor, AlarmFilter, AlarmKind, AlarmOrigin, DenialRule, now};
use std::time::Duration as StdDuration;

conformance!(
    agent_offline_is_raised_once_per_outage,
    agent_offline_is_raised_once_by_two_replicas,
    repeated_denials_raise_at_the_threshold_and_not_before,
    repeated_denials_from_two_agents_at_once_raise_one_alarm,
);

fn offline() -> AlarmFilter {
    AlarmFilter {
        kind: Some(AlarmKind::AgentOffline),
        ..AlarmFilter::default()
    }
}

async fn agent_offline_is_raised_once_per_outage(db: &TestDb) {
    let f = Fixture::new(db).await;
    let [a, b] = f.agents;
    f.store.touch_agent(b"token-0", now()).await.unwrap();
    // Heard from just now: not quiet for an hour.
    assert!(
        f.store
            .raise_agent_offline(StdDuration::from_secs(3600))
            .await
            .unwrap()
            .is_empty()
    );
    // Quiet for "no time at all": both active agents (one never seen since enrolling).
    let mut raised = f
        .store
        .raise_agent_offline(StdDuration::ZERO)
        .await
        .unwrap();
    raised.sort();
    let mut both = vec![a, b];
    both.sort();
    assert_eq!(raised, both);
    assert!(
        f.store
            .raise_agent_offline(StdDuration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "once per outage"
    );
    // `a` comes back, then goes quiet again: a new outage.
    f.store.touch_agent(b"token-0", now()).await.unwrap();
    assert_eq!(
        f.store
            .raise_agent_offline(StdDuration::ZERO)
            .await
            .unwrap(),
        vec![a]
    );
    assert!(
        f.store
            .raise_agent_offline(StdDuration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    // A revoked agent is not watched.
    f.store.revoke_agent(b, &Actor::cli()).await.unwrap();
    f.store.touch_agent(b"token-0", now()).await.unwrap();
    assert_eq!(
        f.store
            .raise_agent_offline(StdDuration::ZERO)
            .await
            .unwrap(),
        vec![a]
    );
    let alarms = f.alarms(offline()).await;
    let agents: Vec<_> = alarms.iter().map(|a| a.agent_id).collect();
    assert_eq!(agents.iter().filter(|id| **id == a).count(), 3);
    assert_eq!(agents.iter().filter(|id| **id == b).count(), 1);
    assert!(alarms.iter().all(|a| {
        a.origin == AlarmOrigin::Server
            && a.detail
                .as_deref()
                .is_some_and(|d| d.contains("not heard from"))
    }));
    f.assert_chain_verifies().await;
}

async fn agent_offline_is_raised_once_by_two_replicas(db: &TestDb) {
    let f = Fixture::new(db).await;
    let other = db.store().await;
    for round in 1..=3 {
        let (mine, theirs) = tokio::join!(
            f.store.raise_agent_offline(StdDuration::ZERO),
            other.raise_agent_offline(StdDuration::ZERO),
        );
        let (mine, theirs) = (mine.unwrap(), theirs.unwrap());
        assert_eq!(
            mine.len() + theirs.len(),
            2,
            "round {round}: {mine:?} {theirs:?}"
        );
        for token in [b"token-0", b"token-1"] {
            f.store.touch_agent(token, now()).await.unwrap();
        }
    }
    assert_eq!(f.alarms(offline()).await.len(), 6);
    f.assert_chain_verifies().await;
}

fn denials() -> AlarmFilter {
    AlarmFilter {
        kind: Some(AlarmKind::RepeatedDenials),
        ..AlarmFilter::default()
    }
}

async fn repeated_denials_raise_at_the_threshold_and_not_before(db: &TestDb) {
    let mut f = Fixture::new(db).await;
    let [front, back] = f.doors;
    let rule = DenialRule {
        count: 3,
        window_s: 60,
    };
    f.store.set_denial_rule(rule).await.unwrap();
    assert_eq!(f.store.denial_rule().await.unwrap(), rule);
    let t0 = Utc::now() - Duration::minutes(10);
    let s = Duration::seconds;

    // N - 1 denials, granted presentations in between: nothing.
    f.upload(
        0,
        vec![
            denied(front, "04AB", t0),
            presented(front, "04AB", Outcome::Granted, vec![], t0 + s(1)),
            denied(front, "04AB", t0 + s(10)),
        ],
    )
    .await;
    assert!(f.alarms(denials()).await.is_empty());
    // The Nth, exactly 60 s after the first (the window includes both ends), at the
    // other door: an alarm, named for the card and raised by the agent that saw it.
    f.upload(1, vec![denied(back, "04AB", t0 + s(60))]).await;
    let raised = f.alarms(denials()).await;
    assert_eq!(raised.len(), 1);
    let alarm = &raised[0];
    assert_eq!(
        (alarm.agent_id, alarm.origin),
        (f.agents[1], AlarmOrigin::Server)
    );
    let detail = alarm.detail.clone().unwrap_or_default();
    assert!(
        detail.starts_with("card 04AB was denied 3 times within 60 s")
            && detail.contains(&back.to_string()),
        "{detail}"
    );
    // More denials within the window: the same alarm stands.
    f.upload(0, vec![denied(front, "04AB", t0 + s(61))]).await;
    assert_eq!(f.alarms(denials()).await.len(), 1);

    // Three denials, the first 61 s before the last: at most two in any 60 s.
    f.upload(
        0,
        vec![
            denied(front, "04CD", t0),
            denied(front, "04CD", t0 + s(30)),
            denied(front, "04CD", t0 + s(61)),
        ],
    )
    .await;
    assert_eq!(f.alarms(denials()).await.len(), 1);
    // A late upload fills the window (its denial occurred between them): an alarm.
    f.upload(1, vec![denied(back, "04CD", t0 + s(45))]).await;
    let raised = f.alarms(denials()).await;
    assert_eq!(raised.len(), 2);
    assert!(
        raised[1]
            .detail
            .as_deref()
            .is_some_and(|d| d.starts_with("card 04CD was denied 3 times")),
        "{raised:?}"
    );

    // N denials in one upload.
    let burst = (0..3).map(|n| denied(front, "04EF", t0 + s(n))).collect();
    f.upload(0, burst).await;
    assert_eq!(f.alarms(denials()).await.len(), 3);

    let cards: Vec<_> = f
        .alarms(denials())
        .await
        .into_iter()
        .map(|a| a.detail.unwrap_or_default()[..9].to_owned())
        .collect();
    assert_eq!(cards, vec!["card 04AB", "card 04CD", "card 04EF"]);
    f.assert_chain_verifies().await;
}

async fn repeated_denials_from_two_agents_at_once_raise_one_alarm(db: &TestDb) {
    let mut f = Fixture::new(db).await;
    let [front, back] = f.doors;
    f.store
        .set_denial_rule(DenialRule {
            count: 4,
            window_s: 60,
        })
        .await
        .unwrap();
    let t0 = Utc::now();
    let s = Duration::seconds;
    for round in 0..3 {
        let card = format!("04F{round}");
        let first: Vec<_> = (0..2)
            .map(|n| f.journals[0].append(denied(front, &card, t0 + s(n))))
            .collect();
        let second: Vec<_> = (2..4)
            .map(|n| f.journals[1].append(denied(back, &card, t0 + s(n))))
            .collect();
        let other = db.store().await;
        let (a, b) = tokio::join!(
            f.store.ingest_events(f.agents[0], &first, 0),
            other.ingest_events(f.agents[1], &second, 0),
        );
        a.unwrap();
        b.unwrap();
        assert_eq!(f.alarms(denials()).await.len(), round + 1, "round {round}");
    }
    f.assert_chain_verifies().await;
}
