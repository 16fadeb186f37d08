//! Alarms through the store, on both backends: door alarms found at ingest (each once,
//! pointing at its event), ingest problems as alarms of their agent, acknowledging once,
//! the stream's feed, and the audit chain verifying throughout. (The alarms the server
//! raises on its own are in `raised`.)

use super::support::{Fixture, incident, presented};
use crate::common::TestDb;
use chrono::{Duration, Utc};
use gatehouse_core::decide::{Alarm, Outcome};
use gatehouse_core::event::EventKind;
use gatehouse_server::store::{
    AlarmFilter, AlarmKind, AlarmOrigin, EventFilter, FeedItem, StoreError,
};
use std::time::Duration as StdDuration;
use uuid::Uuid;

conformance!(
    door_alarms_are_found_once_and_point_at_their_events,
    ingest_problems_are_alarms_of_their_agent,
    an_alarm_is_acknowledged_once_with_its_note_in_the_log,
    the_feed_follows_the_chain_from_a_position,
);

async fn door_alarms_are_found_once_and_point_at_their_events(db: &TestDb) {
    let mut f = Fixture::new(db).await;
    let [front, back] = f.doors;
    let t = Utc::now();
    let events = vec![
        incident(front, EventKind::ForcedOpen),
        incident(front, EventKind::DoorOpened),
        incident(front, EventKind::HeldOpen),
        incident(front, EventKind::HeldOpenCleared),
        incident(
            front,
            EventKind::LockFault {
                detail: "relay stuck".into(),
            },
        ),
        incident(front, EventKind::PolicyStale),
        incident(front, EventKind::Tamper),
        incident(front, EventKind::TamperCleared),
        incident(front, EventKind::JournalFull),
        incident(front, EventKind::ClockOffset { offset_ms: 12_000 }),
        incident(
            front,
            EventKind::ReaderError {
                reader: "r".into(),
                detail: "too slow".into(),
            },
        ),
        presented(front, "04AA", Outcome::Granted, vec![], t),
        presented(front, "04D0", Outcome::Granted, vec![Alarm::Duress], t),
        presented(front, "04P1", Outcome::Denied, vec![Alarm::PinLockout], t),
    ];
    let records = f.upload(0, events).await;
    // Two alarms of one presentation, at the other door.
    let both = vec![Alarm::Duress, Alarm::AntiPassbackViolation];
    f.upload(1, vec![presented(back, "04D1", Outcome::Granted, both, t)])
        .await;
    // Uploaded again: duplicates raise nothing new.
    f.store
        .ingest_events(f.agents[0], &records, 0)
        .await
        .unwrap();

    let all = f.alarms(AlarmFilter::default()).await;
    let mut kinds: Vec<_> = all.iter().map(|a| a.kind.as_str()).collect();
    kinds.sort_unstable();
    assert_eq!(
        kinds,
        vec![
            "anti_passback_violation",
            "clock_offset",
            "duress",
            "duress",
            "forced_open",
            "held_open",
            "journal_full",
            "lock_fault",
            "pin_lockout",
            "policy_stale",
            "tamper",
        ]
    );
    let events = f
        .store
        .list_events(&EventFilter::default(), None, 500)
        .await
        .unwrap();
    for alarm in &all {
        assert_eq!(alarm.origin, AlarmOrigin::Door);
        assert!(alarm.acknowledgement.is_none());
        let event = events
            .iter()
            .find(|e| Some(e.id) == alarm.event_id)
            .unwrap_or_else(|| panic!("{alarm:?} points at no event"));
        assert_eq!(
            (
                alarm.agent_id,
                alarm.door_id,
                alarm.occurred_at,
                &alarm.card
            ),
            (
                event.agent_id,
                event.door_id,
                event.occurred_at,
                &event.card
            )
        );
        match alarm.kind {
            AlarmKind::Duress | AlarmKind::PinLockout | AlarmKind::AntiPassbackViolation => {
                assert_eq!(event.kind, "presentation")
            }
            kind => assert_eq!(event.kind, kind.as_str()),
        }
    }
    let cards: Vec<_> = f
        .alarms(AlarmFilter {
            kind: Some(AlarmKind::Duress),
            ..AlarmFilter::default()
        })
        .await
        .into_iter()
        .map(|a| a.card.unwrap_or_default())
        .collect();
    assert_eq!(cards, vec!["04D0", "04D1"]);
    let at_back = f
        .kinds(AlarmFilter {
            door_id: Some(back),
            ..AlarmFilter::default()
        })
        .await;
    assert_eq!(at_back, vec!["anti_passback_violation", "duress"]);
    let of_agent = f
        .kinds(AlarmFilter {
            agent_id: Some(f.agents[1]),
            ..AlarmFilter::default()
        })
        .await;
    assert_eq!(of_agent, at_back);
    let at_site = f
        .alarms(AlarmFilter {
            site_id: Some(f.site),
            ..AlarmFilter::default()
        })
        .await;
    assert_eq!(at_site.len(), all.len());
    let elsewhere = AlarmFilter {
        site_id: Some(Uuid::now_v7()),
        ..AlarmFilter::default()
    };
    assert!(f.alarms(elsewhere).await.is_empty());
    let later = AlarmFilter {
        from: Some(Utc::now() + Duration::hours(1)),
        ..AlarmFilter::default()
    };
    assert!(f.alarms(later).await.is_empty());
    let page = f
        .store
        .list_alarms(&AlarmFilter::default(), Some(all[4].id), 500)
        .await
        .unwrap();
    assert_eq!(page, all[5..].to_vec(), "pages continue after the cursor");
    db.assert_append_only("event_alarms").await;
    f.assert_chain_verifies().await;
}

async fn ingest_problems_are_alarms_of_their_agent(db: &TestDb) {
    let mut f = Fixture::new(db).await;
    let [front, back] = f.doors;
    f.upload(0, vec![incident(front, EventKind::DoorOpened)])
        .await;
    f.journals[0].skip(2);
    f.upload(0, vec![incident(front, EventKind::DoorClosed)])
        .await;
    // A clock 20 s behind, measured by the server at an upload.
    let record = f.journals[1].append(incident(back, EventKind::DoorOpened));
    f.store
        .ingest_events(f.agents[1], &[record], 20_000)
        .await
        .unwrap();

    let alarms = f.alarms(AlarmFilter::default()).await;
    let summary: Vec<_> = alarms
        .iter()
        .map(|a| (a.kind, a.origin, a.agent_id, a.door_id))
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                AlarmKind::JournalGap,
                AlarmOrigin::Server,
                f.agents[0],
                None
            ),
            (
                AlarmKind::ClockOffset,
                AlarmOrigin::Server,
                f.agents[1],
                None
            ),
        ]
    );
    assert_eq!(alarms[0].detail.as_deref(), Some("seq 2 to 3 are missing"));
    // A server alarm concerns its agent's doors.
    let at_front = f
        .kinds(AlarmFilter {
            door_id: Some(front),
            ..AlarmFilter::default()
        })
        .await;
    assert_eq!(at_front, vec!["journal_gap"]);
    let at_site = f
        .kinds(AlarmFilter {
            site_id: Some(f.site),
            ..AlarmFilter::default()
        })
        .await;
    assert_eq!(at_site, vec!["clock_offset", "journal_gap"]);
    db.assert_append_only("agent_alarms").await;
    f.assert_chain_verifies().await;
}

async fn an_alarm_is_acknowledged_once_with_its_note_in_the_log(db: &TestDb) {
    let mut f = Fixture::new(db).await;
    let [front, _] = f.doors;
    f.upload(0, vec![incident(front, EventKind::ForcedOpen)])
        .await;
    f.store
        .raise_agent_offline(StdDuration::ZERO)
        .await
        .unwrap();
    let alarms = f.alarms(AlarmFilter::default()).await;
    assert_eq!(alarms.len(), 3);
    // Pages of one, across both sources, in id order.
    let (mut paged, mut cursor) = (Vec::new(), None);
    loop {
        let page = f
            .store
            .list_alarms(&AlarmFilter::default(), cursor, 1)
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        cursor = Some(last.id);
        paged.extend(page);
    }
    assert_eq!(paged, alarms);
    assert!(alarms.windows(2).all(|w| w[0].id < w[1].id));
    let forced = alarms
        .iter()
        .find(|a| a.kind == AlarmKind::ForcedOpen)
        .unwrap();
    let offline = alarms
        .iter()
        .find(|a| a.kind == AlarmKind::AgentOffline)
        .unwrap();

    let acked = f
        .store
        .acknowledge_alarm(forced.id, "door checked, wind", &f.officer)
        .await
        .unwrap();
    let ack = acked.acknowledgement.clone().unwrap();
    assert_eq!(
        (ack.operator_id, ack.operator.as_str(), ack.note.as_str()),
        (f.officer.id.unwrap(), "grace", "door checked, wind")
    );
    assert_eq!(f.store.alarm(forced.id).await.unwrap(), acked);
    match f
        .store
        .acknowledge_alarm(forced.id, "again", &f.officer)
        .await
    {
        Err(StoreError::Rejected(why)) => assert!(why.contains("already"), "{why}"),
        other => panic!("a second acknowledgement must be refused: {other:?}"),
    }
    assert!(matches!(
        f.store
            .acknowledge_alarm(Uuid::now_v7(), "?", &f.officer)
            .await,
        Err(StoreError::NotFound)
    ));
    f.store
        .acknowledge_alarm(offline.id, "agent rebooted", &f.officer)
        .await
        .unwrap();

    let log = f.store.list_operator_log(None, 500).await.unwrap();
    let acks: Vec<_> = log
        .iter()
        .filter(|e| e.action == "alarm.acknowledge")
        .collect();
    assert_eq!(acks.len(), 2, "the refused one left no entry");
    assert_eq!(
        (
            acks[0].target_id.clone(),
            acks[0].actor.as_str(),
            acks[0].request_id.as_deref()
        ),
        (Some(forced.id.to_string()), "grace", Some("req-ack"))
    );
    let after = acks[0]
        .after
        .as_ref()
        .map(|j| j.0.clone())
        .unwrap_or_default();
    assert_eq!(after["note"], "door checked, wind");
    assert_eq!(after["kind"], "forced_open");

    let open = f
        .kinds(AlarmFilter {
            acknowledged: Some(false),
            ..AlarmFilter::default()
        })
        .await;
    assert_eq!(open, vec!["agent_offline"]);
    let done = f
        .kinds(AlarmFilter {
            acknowledged: Some(true),
            ..AlarmFilter::default()
        })
        .await;
    assert_eq!(done, vec!["agent_offline", "forced_open"]);
    db.assert_append_only("alarm_acks").await;
    f.assert_chain_verifies().await;
}

async fn the_feed_follows_the_chain_from_a_position(db: &TestDb) {
    let mut f = Fixture::new(db).await;
    let [front, _] = f.doors;
    let (start, _) = f.store.audit_head().await.unwrap();
    let (items, next) = f.store.alarm_feed(start).await.unwrap();
    assert!(items.is_empty());
    assert_eq!(next, start);
    let t = Utc::now();
    f.upload(
        0,
        vec![
            incident(front, EventKind::DoorOpened),
            incident(front, EventKind::HeldOpen),
            presented(
                front,
                "04D0",
                Outcome::Granted,
                vec![Alarm::Duress, Alarm::AntiPassbackViolation],
                t,
            ),
        ],
    )
    .await;
    f.store
        .raise_agent_offline(StdDuration::ZERO)
        .await
        .unwrap();
    let (items, next) = f.store.alarm_feed(start).await.unwrap();
    let summary: Vec<_> = items
        .iter()
        .map(|item| match item {
            FeedItem::Alarm { alarm, .. } => alarm.kind.as_str(),
            FeedItem::Ack { .. } => "ack",
        })
        .collect();
    assert_eq!(
        &summary[..3],
        &["held_open", "duress", "anti_passback_violation"][..]
    );
    assert_eq!(
        summary[3..].to_vec(),
        vec!["agent_offline", "agent_offline"]
    );
    let seqs: Vec<i64> = items.iter().map(FeedItem::seq).collect();
    assert!(seqs.windows(2).all(|w| w[0] <= w[1]), "{seqs:?}");
    assert_eq!(
        seqs[1], seqs[2],
        "two alarms of one event share its position"
    );
    assert_eq!(next, f.store.audit_head().await.unwrap().0);

    let held = match &items[0] {
        FeedItem::Alarm { alarm, .. } => alarm.id,
        FeedItem::Ack { .. } => panic!("an alarm first"),
    };
    f.store
        .acknowledge_alarm(held, "closed it", &f.officer)
        .await
        .unwrap();
    let (items, _) = f.store.alarm_feed(next).await.unwrap();
    match items.as_slice() {
        [FeedItem::Ack { ack, .. }] => {
            assert_eq!((ack.alarm_id, ack.note.as_str()), (held, "closed it"))
        }
        other => panic!("one acknowledgement: {other:?}"),
    }
    // A position beyond the chain (another database's) goes on from the head.
    let (items, next) = f.store.alarm_feed(i64::MAX).await.unwrap();
    assert!(items.is_empty());
    assert_eq!(next, f.store.audit_head().await.unwrap().0);
}
