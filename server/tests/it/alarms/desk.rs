//! What the security desk is told of each alarm: the names of its agent, door, site and
//! person (store, both backends, in the list and the live feed), and its kind's priority
//! and instructions, configured or by default (API).

use super::agent_support::{Journal, agent, door, upload};
use super::support::{Fixture, incident, presented};
use crate::common::{TestApp, TestDb, expect};
use chrono::Utc;
use gatehouse_core::decide::{Alarm, Outcome};
use gatehouse_core::event::{EventKind, PresentationRecord};
use gatehouse_core::model::PersonKind;
use gatehouse_server::store::{Actor, AlarmFilter, AlarmKind, FeedItem, NewPerson, StoreError};
use reqwest::StatusCode;
use serde_json::{Value, json};

conformance!(door_alarms_name_their_door_site_agent_and_person,);

async fn door_alarms_name_their_door_site_agent_and_person(db: &TestDb) {
    let mut f = Fixture::new(db).await;
    let [front, _] = f.doors;
    let ada = NewPerson {
        name: "Ada".into(),
        kind: PersonKind::Staff,
        employer: None,
        clearance: 1,
    };
    let ada = f.store.create_person(ada, &Actor::cli()).await.unwrap().id;
    // The feed's position before the alarms (a position beyond the head reads nothing).
    let (_, head) = f.store.alarm_feed(i64::MAX).await.unwrap();
    let mut duress = presented(
        front,
        "0A",
        Outcome::Granted,
        vec![Alarm::Duress],
        Utc::now(),
    );
    if let EventKind::Presentation(PresentationRecord { person_id, .. }) = &mut duress.kind {
        *person_id = Some(ada);
    }
    f.upload(0, vec![incident(front, EventKind::ForcedOpen), duress])
        .await;
    // A server alarm: a gap in the second agent's numbers.
    f.journals[1].skip(2);
    f.upload(1, vec![incident(f.doors[1], EventKind::DoorOpened)])
        .await;

    let alarms = f.alarms(AlarmFilter::default()).await;
    let named: Vec<_> = alarms
        .iter()
        .map(|a| {
            (
                a.kind,
                a.agent_name.as_str(),
                a.door_name.as_deref(),
                a.site_id,
                a.site_name.as_deref(),
                a.person_name.as_deref(),
            )
        })
        .collect();
    let site = Some(f.site);
    assert_eq!(
        named,
        [
            (
                AlarmKind::ForcedOpen,
                "agent 0",
                Some("door"),
                site,
                Some("HQ"),
                None
            ),
            (
                AlarmKind::Duress,
                "agent 0",
                Some("door"),
                site,
                Some("HQ"),
                Some("Ada")
            ),
            // A server alarm concerns an agent, so all its doors: none named.
            (AlarmKind::JournalGap, "agent 1", None, None, None, None),
        ]
    );
    // The store alone gives each kind's built-in priority and instructions.
    let priorities: Vec<u8> = alarms.iter().map(|a| a.priority).collect();
    assert_eq!(priorities, [1, 1, 3]);
    assert!(alarms.iter().all(|a| !a.instructions.is_empty()));

    // One alarm, and the live feed, name them the same way.
    assert_eq!(f.store.alarm(alarms[1].id).await.unwrap(), alarms[1]);
    let (items, _) = f.store.alarm_feed(head).await.unwrap();
    let fed: Vec<_> = items
        .iter()
        .filter_map(|item| match item {
            FeedItem::Alarm { alarm, .. } => Some((**alarm).clone()),
            FeedItem::Ack { .. } => None,
        })
        .collect();
    assert_eq!(fed, alarms);
    assert!(matches!(
        f.store.alarm(uuid::Uuid::now_v7()).await,
        Err(StoreError::NotFound)
    ));
}

/// Priority and instructions as configured for one kind, the built-in ones for the
/// others, on the list, an acknowledgement and filtered by kind.
#[tokio::test]
async fn alarms_carry_their_kinds_priority_and_instructions() {
    let db = TestDb::sqlite();
    let mut settings = db.settings();
    let held = "Ring the door's intercom first.".to_owned();
    (settings.alarms.priority.0).insert(AlarmKind::HeldOpen, 1);
    (settings.alarms.instructions.0).insert(AlarmKind::HeldOpen, held.clone());
    let app = TestApp::start_with(settings).await;
    let admin = app.admin_token().await;
    let (site, front) = door(&app, &admin, "HQ").await;
    let (_, token) = agent(&app, &admin, &[front]).await;
    let mut journal = Journal::new();
    let events = [
        incident(front, EventKind::HeldOpen),
        incident(front, EventKind::ForcedOpen),
        incident(front, EventKind::Tamper),
    ];
    let records: Vec<Value> = events.iter().map(|e| journal.append(e)).collect();
    upload(&app, &token, &records).await;

    let page = app.get_json("/api/v1/alarms", &admin).await;
    let alarms = page["items"].as_array().unwrap();
    let shown: Vec<(&str, u64, &str, &str)> = alarms
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap(),
                a["priority"].as_u64().unwrap(),
                a["door_name"].as_str().unwrap(),
                a["site_name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        shown,
        [
            ("held_open", 1, "door", "HQ"),
            ("forced_open", 1, "door", "HQ"),
            ("tamper", 2, "door", "HQ"),
        ]
    );
    assert_eq!(alarms[0]["instructions"], held.as_str());
    let forced = alarms[1]["instructions"].as_str().unwrap();
    assert!(forced.contains("patrol"), "the built-in text: {forced}");
    assert_eq!(alarms[0]["site_id"], site.to_string().as_str());
    assert_eq!(alarms[0]["agent_name"], "front desk agent");

    let filtered = app
        .get_json(
            &format!("/api/v1/alarms?kind=held_open&site_id={site}&door_id={front}"),
            &admin,
        )
        .await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1, "{filtered}");
    let id = alarms[0]["id"].as_str().unwrap();
    let acked = expect(
        app.post(
            &format!("/api/v1/alarms/{id}/ack"),
            &admin,
            json!({"note": "closed it"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (&acked["priority"], &acked["instructions"]),
        (&json!(1), &json!(held))
    );
    let open = app
        .get_json("/api/v1/alarms?acknowledged=false", &admin)
        .await;
    assert_eq!(open["items"].as_array().unwrap().len(), 2, "{open}");
}
