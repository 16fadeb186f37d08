//! Reports (`gatehouse_server::reports`): every figure of a hand-counted fixture, on
//! SQLite and PostgreSQL. The site is in Berlin and the period is 25 to 27 October 2025,
//! across the autumn clock change (26 October has 25 hours), with denials one second
//! before and right at local midnight on both sides of it; door incidents, alarms
//! acknowledged after known delays, vetting ending in 29 to 91 days, cards last used 89
//! and 91 days ago, and people in a vetting zone's group without vetting. The console's
//! page and CSV over the same fixture are in `console::reports`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::TestDb;
use crate::support::site_model::{new_door, new_zone, site};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use gatehouse_core::decide::{Direction, Outcome, Reason};
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, PresentationRecord, chain_hash};
use gatehouse_core::model::{CardKind, Holder, PersonKind, Subject, VettingStatus};
use gatehouse_core::role::Role;
use gatehouse_server::reports::{
    self, AlarmLine, DayCount, DoorCount, HourLoad, Period, ReasonCount,
};
use gatehouse_server::store::{
    Actor, AlarmFilter, NewAgent, NewCredential, NewGrant, NewOperator, NewPerson, NewVetting,
    NewZone, Store, UploadRecord, now,
};
use uuid::Uuid;

conformance!(every_figure_equals_the_hand_count);

/// The fixture's site and what the checks need of it.
pub struct Fixture {
    pub store: Store,
    pub site: Uuid,
    pub now: DateTime<Utc>,
}

pub fn period(site: Uuid) -> Period {
    Period {
        site_id: site,
        zone: chrono_tz::Europe::Berlin,
        from: date("2025-10-25"),
        to: date("2025-10-27"),
    }
}

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

/// A presentation at `door`.
fn presentation(
    door: Uuid,
    occurred_at: DateTime<Utc>,
    card: &str,
    direction: Direction,
    (outcome, reason): (Outcome, Reason),
    credential_id: Option<Uuid>,
) -> DoorEvent {
    DoorEvent {
        occurred_at,
        door_id: Some(door),
        kind: EventKind::Presentation(PresentationRecord {
            reader: "reader-1".into(),
            card: card.into(),
            direction,
            outcome,
            reason,
            person_id: None,
            visit_id: None,
            credential_id,
            zone_id: None,
            alarms: vec![],
            policy_version: 1,
            trace: None,
        }),
    }
}

fn incident(door: Uuid, occurred_at: DateTime<Utc>, kind: EventKind) -> DoorEvent {
    DoorEvent {
        occurred_at,
        door_id: Some(door),
        kind,
    }
}

fn chained(events: &[DoorEvent]) -> Vec<UploadRecord> {
    let mut previous = GENESIS_HASH;
    events
        .iter()
        .zip(1u64..)
        .map(|(event, seq)| {
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

async fn person(store: &Store, name: &str) -> Uuid {
    let new = NewPerson {
        name: name.into(),
        kind: PersonKind::Staff,
        employer: None,
        clearance: 5,
    };
    store.create_person(new, &Actor::cli()).await.unwrap().id
}

async fn grant(store: &Store, subject: Subject, zone_id: Uuid) {
    let new = NewGrant {
        subject,
        zone_id,
        schedule_id: None,
        valid_from: None,
        valid_until: None,
    };
    store.create_grant(new, &Actor::cli()).await.unwrap();
}

async fn vetting(store: &Store, person: Uuid, status: VettingStatus, until: Option<DateTime<Utc>>) {
    let new = NewVetting {
        status,
        cleared_until: until,
        reference: None,
        note: None,
    };
    store
        .record_vetting(person, new, &Actor::cli())
        .await
        .unwrap();
}

async fn card(store: &Store, person: Uuid, card: &str) -> Uuid {
    let new = NewCredential {
        card: card.into(),
        kind: CardKind::Uid,
        holder: Holder::Person(person),
        valid_from: None,
        valid_until: None,
        pin: None,
    };
    store
        .create_credential(new, &Actor::cli())
        .await
        .unwrap()
        .id
}

/// Writes an acknowledgement `delay` after the alarm reached the server, as an officer's
/// would be (the store acknowledges at the time it is asked, which a test cannot wait).
async fn acknowledge_after(db: &TestDb, alarm: Uuid, at: DateTime<Utc>, operator: Uuid) {
    macro_rules! insert {
        ($pool:expr) => {{
            let pool = $pool;
            sqlx::query(
                "INSERT INTO alarm_acks (id, alarm_id, at, operator_id, operator, note, \
                 log_id) VALUES ($1, $2, $3, $4, 'grace', 'checked', $5)",
            )
            .bind(Uuid::now_v7())
            .bind(alarm)
            .bind(at)
            .bind(operator)
            .bind(Uuid::now_v7())
            .execute(&pool)
            .await
            .unwrap();
            pool.close().await;
        }};
    }
    if db.url.starts_with("postgres") {
        insert!(sqlx::PgPool::connect(&db.url).await.unwrap());
    } else {
        insert!(sqlx::SqlitePool::connect(&db.url).await.unwrap());
    }
}

/// The hand-counted fixture (the expected figures are in
/// [`every_figure_equals_the_hand_count`]).
pub async fn fixture(db: &TestDb) -> Fixture {
    use Direction::{Entry, Exit};
    let store = db.store().await;
    let cli = Actor::cli();
    let site = site(&store, "HQ").await.id;
    let zone = |name: &str, parent, level, vetting_required| {
        let mut new: NewZone = new_zone(site, parent, level);
        new.name = name.into();
        new.rules.vetting_required = vetting_required;
        new
    };
    let lobby = store
        .create_zone(zone("Lobby", None, 0, false), &cli)
        .await
        .unwrap()
        .id;
    let office = store
        .create_zone(zone("Office", Some(lobby), 0, false), &cli)
        .await
        .unwrap()
        .id;
    let lab = store
        .create_zone(zone("Lab", Some(lobby), 1, true), &cli)
        .await
        .unwrap()
        .id;
    let mut doors = Vec::new();
    for (name, from, to) in [
        ("Front door", office, lobby),
        ("Lab door", lobby, lab),
        ("Back door", lobby, office),
    ] {
        let mut new = new_door(from, to);
        new.name = name.into();
        doors.push(store.create_door(new, &cli).await.unwrap().id);
    }
    let (front, lab_door) = (doors[0], doors[1]);

    // People: five with vetting ending in 29 to 91 days and a grant on the lab; Vera
    // (cleared, no end) and Nora (never vetted) in the lab's group; Pia with a grant on
    // the lobby only, which does not cover the lab (a higher level).
    let t0 = now();
    for days in [29, 31, 59, 61, 89, 91] {
        let id = person(&store, &format!("Vetted {days}")).await;
        grant(&store, Subject::Person(id), lab).await;
        vetting(
            &store,
            id,
            VettingStatus::Cleared,
            Some(t0 + Duration::days(days)),
        )
        .await;
    }
    let vera = person(&store, "Vera Valid").await;
    vetting(&store, vera, VettingStatus::Cleared, None).await;
    let nora = person(&store, "Nora Novet").await;
    let pia = person(&store, "Pia Pending").await;
    vetting(&store, pia, VettingStatus::Pending, None).await;
    grant(&store, Subject::Person(pia), lobby).await;
    let group = store
        .create_group("Lab staff".into(), &cli)
        .await
        .unwrap()
        .id;
    store
        .set_group_members(group, [vera, nora].into_iter().collect(), &cli)
        .await
        .unwrap();
    grant(&store, Subject::Group(group), lab).await;
    let vera_card = card(&store, vera, "0A0089").await;
    let pia_card = card(&store, pia, "0A0091").await;

    let granted = (Outcome::Granted, Reason::Granted);
    let denied = |reason| (Outcome::Denied, reason);
    let p = presentation;
    let events = vec![
        // Granted: 2 on the 25th, 2 on the 26th, 3 on the 27th (one of them an exit).
        p(
            front,
            at("2025-10-25T06:30:00Z"),
            "0B01",
            Entry,
            granted,
            None,
        ),
        p(
            front,
            at("2025-10-25T07:10:00Z"),
            "0B02",
            Entry,
            granted,
            None,
        ),
        p(
            front,
            at("2025-10-26T07:30:00Z"),
            "0B03",
            Entry,
            granted,
            None,
        ),
        p(
            front,
            at("2025-10-27T07:45:00Z"),
            "0B04",
            Entry,
            granted,
            None,
        ),
        p(
            front,
            at("2025-10-27T07:50:00Z"),
            "0B05",
            Entry,
            granted,
            None,
        ),
        p(
            front,
            at("2025-10-27T16:00:00Z"),
            "0B06",
            Exit,
            granted,
            None,
        ),
        // 23:59:59 CET on the 26th (in UTC+2 it would be the 27th).
        p(
            lab_door,
            at("2025-10-26T22:59:59Z"),
            "0B07",
            Entry,
            granted,
            None,
        ),
        // Denied: 23:59:59 CEST on the 25th, then right at midnight (the 26th).
        p(
            front,
            at("2025-10-25T21:59:59Z"),
            "0C01",
            Entry,
            denied(Reason::NoGrant),
            None,
        ),
        p(
            front,
            at("2025-10-25T22:00:00Z"),
            "0C02",
            Entry,
            denied(Reason::NoGrant),
            None,
        ),
        // Midnight CET after the 25-hour day: the 27th.
        p(
            lab_door,
            at("2025-10-26T23:00:00Z"),
            "0C03",
            Entry,
            denied(Reason::VettingInvalid),
            None,
        ),
        p(
            lab_door,
            at("2025-10-27T10:00:00Z"),
            "0C04",
            Entry,
            denied(Reason::VettingInvalid),
            None,
        ),
        p(
            lab_door,
            at("2025-10-26T12:00:00Z"),
            "0C05",
            Entry,
            denied(Reason::OutsideSchedule),
            None,
        ),
        p(
            front,
            at("2025-10-27T12:00:00Z"),
            "0C06",
            Entry,
            denied(Reason::UnknownCredential),
            None,
        ),
        // Outside the period: 23:59 on the 24th and midnight starting the 28th.
        p(
            front,
            at("2025-10-24T21:59:00Z"),
            "0C07",
            Entry,
            denied(Reason::NoGrant),
            None,
        ),
        p(
            front,
            at("2025-10-27T23:00:00Z"),
            "0C08",
            Entry,
            denied(Reason::NoGrant),
            None,
        ),
        // Waiting for an escort: neither granted nor denied.
        p(
            front,
            at("2025-10-26T10:00:00Z"),
            "0C09",
            Entry,
            (Outcome::Pending, Reason::EscortRequired),
            None,
        ),
        // Incidents: the lab door forced in the repeated hour; the front door held
        // open four times.
        incident(lab_door, at("2025-10-26T01:30:00Z"), EventKind::ForcedOpen),
        incident(front, at("2025-10-25T15:00:00Z"), EventKind::HeldOpen),
        incident(front, at("2025-10-26T15:00:00Z"), EventKind::HeldOpen),
        incident(front, at("2025-10-27T09:00:00Z"), EventKind::HeldOpen),
        incident(front, at("2025-10-27T15:00:00Z"), EventKind::HeldOpen),
        // The cards' last uses, long after the period.
        p(
            front,
            t0 - Duration::days(89),
            "0A0089",
            Entry,
            granted,
            Some(vera_card),
        ),
        p(
            front,
            t0 - Duration::days(91),
            "0A0091",
            Entry,
            granted,
            Some(pia_card),
        ),
    ];
    let agent = store
        .create_agent(
            NewAgent {
                name: "agent".into(),
                door_ids: doors.clone(),
                code_hash: b"code".to_vec(),
                code_expires_at: now() + Duration::minutes(15),
            },
            &cli,
        )
        .await
        .unwrap()
        .id;
    let outcome = store
        .ingest_events(agent, &chained(&events), 0)
        .await
        .unwrap();
    assert_eq!(outcome.stored as usize, events.len());

    // The held-open alarms acknowledged 60, 120, 300 and 900 s after they arrived; the
    // forced door not acknowledged.
    let officer = store
        .create_operator(
            NewOperator {
                username: "grace".into(),
                display_name: "Grace".into(),
                role: Role::Security,
                password_hash: "not a hash".into(),
            },
            &cli,
        )
        .await
        .unwrap()
        .id;
    let filter = AlarmFilter {
        site_id: Some(site),
        ..AlarmFilter::default()
    };
    let mut held: Vec<_> = store
        .list_alarms(&filter, None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|a| a.kind.as_str() == "held_open")
        .collect();
    held.sort_by_key(|a| a.occurred_at);
    assert_eq!(held.len(), 4);
    for (alarm, delay) in held.iter().zip([900, 60, 300, 120]) {
        let acked = alarm.raised_at + Duration::seconds(delay);
        acknowledge_after(db, alarm.id, acked, officer).await;
    }
    Fixture {
        store,
        site,
        now: now(),
    }
}

async fn every_figure_equals_the_hand_count(db: &TestDb) {
    let fixture = fixture(db).await;
    let period = period(fixture.site);
    let report = reports::compute(&fixture.store, &period, fixture.now)
        .await
        .unwrap();

    let day = |d: &str, granted, denied| DayCount {
        date: date(d),
        granted,
        denied,
    };
    assert_eq!(
        report.days,
        [
            day("2025-10-25", 2, 1),
            day("2025-10-26", 2, 2),
            day("2025-10-27", 3, 3)
        ]
    );

    let doors: Vec<_> = report
        .doors
        .iter()
        .map(|d: &DoorCount| {
            let counts = (d.granted, d.denied, d.forced_open, d.held_open);
            (d.door.as_str(), counts)
        })
        .collect();
    assert_eq!(
        doors,
        [
            ("Back door", (0, 0, 0, 0)),
            ("Front door", (6, 3, 0, 4)),
            ("Lab door", (1, 3, 1, 0)),
        ]
    );

    let reason = |reason: &str, denials| ReasonCount {
        reason: reason.into(),
        denials,
    };
    assert_eq!(
        report.reasons,
        [
            reason("no_grant", 2),
            reason("vetting_invalid", 2),
            reason("outside_schedule", 1),
            reason("unknown_credential", 1),
        ]
    );

    // Entries (granted, coming in) per local hour over 3 days: 08h 1 + 1 + 2, 09h 1
    // (the 25th), 23h 1 (the 26th, CET); the exit is not an entry.
    let busy: Vec<&HourLoad> = report.hours.iter().filter(|h| h.peak > 0).collect();
    let hours: Vec<_> = busy
        .iter()
        .map(|h| (h.hour, (h.average * 3.0).round() as u64, h.peak))
        .collect();
    assert_eq!(hours, [(8, 4, 2), (9, 1, 1), (23, 1, 1)]);
    assert_eq!(report.hours.len(), 24);

    assert_eq!(
        report.alarms,
        [
            AlarmLine {
                kind: "forced_open".into(),
                count: 1,
                acknowledged: 0,
                median_s: None,
                p90_s: None,
            },
            // 60, 120, 300, 900 s: the 2nd is the median, the 4th the 90th percentile.
            AlarmLine {
                kind: "held_open".into(),
                count: 4,
                acknowledged: 4,
                median_s: Some(120),
                p90_s: Some(900),
            },
        ]
    );

    let expiring: Vec<_> = report
        .expiring
        .iter()
        .map(|e| (e.name.as_str(), e.days_left))
        .collect();
    assert_eq!(
        expiring,
        [
            ("Vetted 29", 29),
            ("Vetted 31", 31),
            ("Vetted 59", 59),
            ("Vetted 61", 61),
            ("Vetted 89", 89),
        ]
    );

    let unvetted: Vec<_> = report
        .unvetted
        .iter()
        .map(|u| (u.name.as_str(), u.vetting.as_str(), u.zones.clone()))
        .collect();
    assert_eq!(unvetted, [("Nora Novet", "none", vec!["Lab".to_owned()])]);

    let dormant: Vec<_> = report
        .dormant
        .iter()
        .map(|d| (d.name.as_str(), d.card.as_str()))
        .collect();
    assert_eq!(dormant, [("Pia Pending", "0A0091")]);
}
