//! A small, fixed policy for the tests: one site in Europe/Berlin, a zone tree, three
//! doors, three people, a visit, their cards and grants. Tests change it and rebuild.

use crate::decide::{Decision, Direction, EngineState, Presentation, decide};
use crate::model::*;
use crate::policy::{Policy, PolicySource};
use chrono::{DateTime, NaiveTime, Utc};
use uuid::Uuid;

pub const SITE: Uuid = Uuid::from_u128(0x5);
/// Level 0, root.
pub const PUBLIC: Uuid = Uuid::from_u128(0x10);
/// Level 2, in PUBLIC.
pub const CTRL: Uuid = Uuid::from_u128(0x11);
/// Level 2, in CTRL: covered by a grant on CTRL.
pub const CTRL_CHILD: Uuid = Uuid::from_u128(0x12);
/// Level 3, in CTRL: needs its own grant.
pub const SECURE: Uuid = Uuid::from_u128(0x13);
/// PUBLIC → CTRL.
pub const DOOR: Uuid = Uuid::from_u128(0x20);
/// CTRL → CTRL_CHILD.
pub const DOOR_CHILD: Uuid = Uuid::from_u128(0x21);
/// CTRL → SECURE.
pub const DOOR_SECURE: Uuid = Uuid::from_u128(0x22);
/// Staff, clearance 3, vetted, direct grant on CTRL.
pub const ALICE: Uuid = Uuid::from_u128(0x30);
/// Staff, clearance 3, vetted, grant on CTRL through GROUP.
pub const BOB: Uuid = Uuid::from_u128(0x31);
/// Contractor, clearance 3, vetted, direct grant on CTRL.
pub const CAROL: Uuid = Uuid::from_u128(0x32);
pub const GROUP: Uuid = Uuid::from_u128(0x40);
/// Hosted by Alice, checked in, allowed CTRL, 09:00–17:00 UTC on the fixture day.
pub const VISIT: Uuid = Uuid::from_u128(0x50);
pub const ALICE_GRANT: Uuid = Uuid::from_u128(0x60);
pub const SCHEDULE: Uuid = Uuid::from_u128(0x70);

pub const ALICE_CARD: &str = "A1A1";
pub const BOB_CARD: &str = "B0B0";
pub const CAROL_CARD: &str = "C0C0";
pub const VISIT_CARD: &str = "D0D0";
/// Alice's PIN (duress: 1235).
pub const PIN: &str = "1234";

/// Wednesday 2024-06-05 10:00 UTC (12:00 in Berlin).
pub const NOON: &str = "2024-06-05T10:00:00Z";

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub fn zone(id: Uuid, parent: Option<Uuid>, level: u8) -> Zone {
    Zone {
        id,
        site_id: SITE,
        parent_id: parent,
        level,
        vetting_required: false,
        escort_required: false,
        two_person: false,
        pin_required: false,
        anti_passback: AntiPassback::Off,
        anti_passback_timeout_s: None,
        max_occupancy: None,
        min_assurance: Assurance::Uid,
    }
}

fn door(id: Uuid, from: Uuid, to: Uuid) -> Door {
    Door {
        id,
        site_id: SITE,
        from_zone_id: from,
        to_zone_id: to,
        mode: DoorMode::Normal,
        unlock_ms: 3000,
        held_open_ms: 30000,
    }
}

pub fn person(id: Uuid, kind: PersonKind, groups: Vec<Uuid>) -> Person {
    Person {
        id,
        kind,
        status: PersonStatus::Active,
        clearance: 3,
        vetting: Some(Vetting {
            status: VettingStatus::Cleared,
            cleared_until: None,
        }),
        group_ids: groups.into(),
    }
}

pub fn credential(n: u128, card: &str, holder: Holder) -> Credential {
    Credential {
        id: Uuid::from_u128(0x100 + n),
        card: card.parse().unwrap(),
        kind: CardKind::Uid,
        state: CredentialState::Active,
        valid_from: None,
        valid_until: None,
        holder,
        pin: None,
    }
}

pub fn grant(id: Uuid, subject: Subject, zone_id: Uuid) -> Grant {
    Grant {
        id,
        subject,
        zone_id,
        schedule_id: None,
        valid_from: None,
        valid_until: None,
    }
}

/// A schedule of one window, in the fixture site.
pub fn schedule(days: &[chrono::Weekday], start: (u32, u32), end: (u32, u32)) -> Schedule {
    let t = |(h, m)| NaiveTime::from_hms_opt(h, m, 0).unwrap();
    Schedule {
        id: SCHEDULE,
        site_id: SITE,
        windows: vec![Window {
            days: days.iter().copied().collect(),
            start: t(start),
            end: t(end),
        }],
        holidays: vec![],
    }
}

/// The key the fixture's PIN verifiers are made with (the server's, the door's).
pub fn pin_key() -> PinKey {
    PinKey::from_bytes([0x5a; 32])
}

pub fn source() -> PolicySource {
    let mut alice_card = credential(1, ALICE_CARD, Holder::Person(ALICE));
    let hash = PinHash::with_salt(PIN, [9; 16]).unwrap();
    alice_card.pin = Some(Box::new(PinVerifier::keyed(&hash, &pin_key())));
    PolicySource {
        settings: Default::default(),
        sites: vec![Site {
            id: SITE,
            name: "Harbour".into(),
            timezone: chrono_tz::Europe::Berlin,
            threat: ThreatLevel::default(),
            secure_cards_from_threat_level: None,
        }],
        zones: vec![
            zone(PUBLIC, None, 0),
            zone(CTRL, Some(PUBLIC), 2),
            zone(CTRL_CHILD, Some(CTRL), 2),
            zone(SECURE, Some(CTRL), 3),
        ],
        doors: vec![
            door(DOOR, PUBLIC, CTRL),
            door(DOOR_CHILD, CTRL, CTRL_CHILD),
            door(DOOR_SECURE, CTRL, SECURE),
        ],
        people: vec![
            person(ALICE, PersonKind::Staff, vec![]),
            person(BOB, PersonKind::Staff, vec![GROUP]),
            person(CAROL, PersonKind::Contractor, vec![]),
        ],
        visits: vec![Visit {
            id: VISIT,
            host_person_id: ALICE,
            window_start: at("2024-06-05T09:00:00Z"),
            window_end: at("2024-06-05T17:00:00Z"),
            checked_in: true,
            checked_out: false,
            allowed_zone_ids: vec![CTRL],
            escort_required: false,
        }],
        credentials: vec![
            alice_card,
            credential(2, BOB_CARD, Holder::Person(BOB)),
            credential(3, CAROL_CARD, Holder::Person(CAROL)),
            credential(4, VISIT_CARD, Holder::Visit(VISIT)),
        ],
        grants: vec![
            grant(ALICE_GRANT, Subject::Person(ALICE), CTRL),
            grant(Uuid::from_u128(0x61), Subject::Group(GROUP), CTRL),
            grant(Uuid::from_u128(0x62), Subject::Person(CAROL), CTRL),
        ],
        schedules: vec![],
    }
}

/// Mutable access to a record by id, for tests that tweak the fixture.
pub fn find<T>(items: &mut [T], id: Uuid, key: impl Fn(&T) -> Uuid) -> &mut T {
    items.iter_mut().find(|x| key(x) == id).unwrap()
}

pub fn zone_mut(s: &mut PolicySource, id: Uuid) -> &mut Zone {
    find(&mut s.zones, id, |z| z.id)
}

pub fn person_mut(s: &mut PolicySource, id: Uuid) -> &mut Person {
    find(&mut s.people, id, |p| p.id)
}

pub fn card_mut<'a>(s: &'a mut PolicySource, card: &str) -> &'a mut Credential {
    s.credentials.iter_mut().find(|c| c.card == card).unwrap()
}

pub fn presentation(card: &str, door: Uuid, when: &str, pin: Option<&str>) -> Presentation {
    Presentation {
        card: card.parse().unwrap(),
        pin: pin.map(Into::into),
        door_id: door,
        direction: Direction::Entry,
        at: at(when),
        authentication: Default::default(),
    }
}

/// Decides one entry presentation with the given state.
pub fn run(
    policy: &Policy,
    state: &mut EngineState,
    card: &str,
    door: Uuid,
    when: &str,
    pin: Option<&str>,
) -> Decision {
    decide(policy, &presentation(card, door, when, pin), state)
}
