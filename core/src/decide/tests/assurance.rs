//! Rules 1b (`credential_not_authentic`) and 5b (`assurance_insufficient`): every
//! combination of credential kind, what the reader proved, the zone's minimum, the site's
//! threat level against its secure-cards threshold, and the reader's direction; then the
//! two rules against their neighbours in the order.

use super::check_shape;
use crate::decide::{Alarm, Authentication, Check, Direction, EngineState, Presentation, Reason};
use crate::fixture::*;
use crate::model::*;
use crate::policy::{Policy, PolicySource};
use strum::IntoEnumIterator;
use uuid::Uuid;

/// The site's threshold in the table: threat levels 1, 2 and 3 are below, at and above.
const THRESHOLD: u8 = 2;

fn decide_with(
    source: PolicySource,
    card: &str,
    door: Uuid,
    read: Authentication,
    direction: Direction,
) -> crate::decide::Decision {
    let policy = Policy::build(source).unwrap().with_pin_key(pin_key());
    let p = Presentation {
        direction,
        authentication: read,
        ..presentation(card, door, NOON, None)
    };
    crate::decide::decide(&policy, &p, &mut EngineState::default())
}

/// What the rules say for an entry, written out independently of the engine.
fn expected(
    kind: CardKind,
    read: Authentication,
    zone: Assurance,
    threat_level: Option<u8>,
) -> Reason {
    let raised = threat_level.is_some_and(|l| l >= THRESHOLD);
    match (read, kind) {
        (Authentication::Failed, _) => Reason::CredentialNotAuthentic,
        (Authentication::NotAttempted, CardKind::Secure) => Reason::CredentialNotAuthentic,
        (_, CardKind::Uid) if zone == Assurance::Secure || raised => Reason::AssuranceInsufficient,
        _ => Reason::Granted,
    }
}

#[test]
fn every_combination_at_the_boundaries() {
    let mut failures = Vec::new();
    let mut rows = 0;
    // `None`: the site sets no threshold (its threat level, 3, then changes nothing).
    let thresholds = [None, Some(1), Some(2), Some(3)];
    for kind in CardKind::iter() {
        for read in Authentication::iter() {
            for zone_min in Assurance::iter() {
                for level in thresholds {
                    for direction in [Direction::Entry, Direction::Exit] {
                        rows += 1;
                        let mut s = source();
                        card_mut(&mut s, ALICE_CARD).kind = kind;
                        zone_mut(&mut s, CTRL).min_assurance = zone_min;
                        s.sites[0].secure_cards_from_threat_level = level.map(|_| THRESHOLD);
                        s.sites[0].threat.level = level.unwrap_or(3);
                        let d = decide_with(s, ALICE_CARD, DOOR, read, direction);
                        let (want, alarms): (Reason, &[Alarm]) = match direction {
                            // Egress is never blocked, and a card leaving raises nothing.
                            Direction::Exit => (Reason::Granted, &[]),
                            Direction::Entry => {
                                let want = expected(kind, read, zone_min, level);
                                let alarmed = want == Reason::CredentialNotAuthentic;
                                (
                                    want,
                                    if alarmed {
                                        &[Alarm::CredentialNotAuthentic]
                                    } else {
                                        &[]
                                    },
                                )
                            }
                        };
                        let name = format!(
                            "{kind} card, read {read}, zone {zone_min}, threat {level:?} vs \
                             {THRESHOLD}, {direction}"
                        );
                        if d.reason != want || d.alarms != alarms {
                            failures.push(format!(
                                "{name}: expected {want:?} {alarms:?}, got {:?} {:?}\n  {:?}",
                                d.reason, d.alarms, d.trace
                            ));
                            continue;
                        }
                        check_shape(&name, &d);
                    }
                }
            }
        }
    }
    assert_eq!(rows, 2 * 3 * 2 * 4 * 2);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// A card whose identifier is unknown: a failed authentication is still not authentic
/// (the card claimed to be one of ours), anything else is an unknown card; exits pass.
#[test]
fn an_unknown_card_that_fails_authentication_is_not_authentic() {
    for read in Authentication::iter() {
        for direction in [Direction::Entry, Direction::Exit] {
            let d = decide_with(source(), "FFFF", DOOR, read, direction);
            let (want, alarms): (Reason, &[Alarm]) = match (direction, read) {
                (Direction::Exit, _) => (Reason::Granted, &[]),
                (_, Authentication::Failed) => (
                    Reason::CredentialNotAuthentic,
                    &[Alarm::CredentialNotAuthentic],
                ),
                _ => (Reason::UnknownCredential, &[]),
            };
            assert_eq!(
                (d.reason, d.alarms.as_slice()),
                (want, alarms),
                "{read} {direction}"
            );
            check_shape(&format!("unknown card, {read}, {direction}"), &d);
        }
    }
}

fn secure_zone(s: &mut PolicySource) {
    zone_mut(s, CTRL).min_assurance = Assurance::Secure;
}

fn secure_card(s: &mut PolicySource) {
    card_mut(s, ALICE_CARD).kind = CardKind::Secure;
}

type Row = (
    &'static str,
    fn(&mut PolicySource),
    &'static str,
    Uuid,
    Authentication,
    Reason,
);

/// The new rules against their neighbours: the first that fails decides.
#[rustfmt::skip]
const ORDER: &[Row] = &[
    ("unknown door beats a failed authentication", |_| {}, ALICE_CARD, Uuid::from_u128(0x99), Authentication::Failed, Reason::UnknownDoor),
    ("failed authentication beats a revoked credential", |s| card_mut(s, ALICE_CARD).state = CredentialState::Revoked, ALICE_CARD, DOOR, Authentication::Failed, Reason::CredentialNotAuthentic),
    ("a clone of a secure card beats its suspension", |s| { secure_card(s); card_mut(s, ALICE_CARD).state = CredentialState::Suspended; }, ALICE_CARD, DOOR, Authentication::NotAttempted, Reason::CredentialNotAuthentic),
    ("an authenticated but revoked secure card is inactive", |s| { secure_card(s); card_mut(s, ALICE_CARD).state = CredentialState::Revoked; }, ALICE_CARD, DOOR, Authentication::Authenticated, Reason::CredentialInactive),
    ("inactive credential beats assurance", |s| { secure_zone(s); card_mut(s, ALICE_CARD).state = CredentialState::Lost; }, ALICE_CARD, DOOR, Authentication::NotAttempted, Reason::CredentialInactive),
    ("inactive holder beats assurance", |s| { secure_zone(s); person_mut(s, ALICE).status = PersonStatus::Left; }, ALICE_CARD, DOOR, Authentication::NotAttempted, Reason::HolderInactive),
    ("vetting beats assurance", |s| { secure_zone(s); zone_mut(s, CTRL).vetting_required = true; person_mut(s, ALICE).vetting = None; }, ALICE_CARD, DOOR, Authentication::NotAttempted, Reason::VettingInvalid),
    ("clearance beats assurance", |s| { secure_zone(s); person_mut(s, ALICE).clearance = 1; }, ALICE_CARD, DOOR, Authentication::NotAttempted, Reason::InsufficientClearance),
    ("assurance beats no grant", |s| { secure_zone(s); find(&mut s.grants, ALICE_GRANT, |g| g.id).zone_id = SECURE; }, ALICE_CARD, DOOR, Authentication::NotAttempted, Reason::AssuranceInsufficient),
    ("assurance beats lockdown", |s| { secure_zone(s); s.sites[0].threat.lockdown = true; }, ALICE_CARD, DOOR, Authentication::NotAttempted, Reason::AssuranceInsufficient),
    ("assurance beats a missing PIN", |s| { secure_zone(s); zone_mut(s, CTRL).pin_required = true; }, ALICE_CARD, DOOR, Authentication::NotAttempted, Reason::AssuranceInsufficient),
    ("a secure zone admits a secure card", |s| { secure_zone(s); secure_card(s); }, ALICE_CARD, DOOR, Authentication::Authenticated, Reason::Granted),
    ("a UID card authenticated is still a UID credential", secure_zone, ALICE_CARD, DOOR, Authentication::Authenticated, Reason::AssuranceInsufficient),
    ("the zone's minimum applies to its zone only", secure_zone, ALICE_CARD, DOOR_CHILD, Authentication::NotAttempted, Reason::Granted),
    ("a visitor's UID card in a secure zone", secure_zone, VISIT_CARD, DOOR, Authentication::NotAttempted, Reason::AssuranceInsufficient),
    ("a visitor outside the visit is told so first", |s| zone_mut(s, SECURE).min_assurance = Assurance::Secure, VISIT_CARD, DOOR_SECURE, Authentication::NotAttempted, Reason::ZoneNotInVisit),
    ("the threat level raises every zone of the site", |s| { s.sites[0].secure_cards_from_threat_level = Some(0); }, ALICE_CARD, DOOR_CHILD, Authentication::NotAttempted, Reason::AssuranceInsufficient),
];

#[test]
fn the_new_rules_take_their_place_in_the_order() {
    let mut failures = Vec::new();
    for (name, setup, card, door, read, want) in ORDER {
        let mut s = source();
        setup(&mut s);
        let d = decide_with(s, card, *door, *read, Direction::Entry);
        if d.reason != *want {
            failures.push(format!(
                "{name}: expected {want:?}, got {:?}\n  {:?}",
                d.reason, d.trace
            ));
            continue;
        }
        let alarmed = d.alarms.contains(&Alarm::CredentialNotAuthentic);
        assert_eq!(alarmed, *want == Reason::CredentialNotAuthentic, "{name}");
        check_shape(name, &d);
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The trace says why in words the desk can repeat.
#[test]
fn the_trace_explains_the_refusal() {
    let mut s = source();
    secure_zone(&mut s);
    let d = decide_with(
        s,
        ALICE_CARD,
        DOOR,
        Authentication::NotAttempted,
        Direction::Entry,
    );
    let last = d.trace.last().unwrap();
    assert_eq!(last.check, Check::Assurance);
    assert_eq!(
        last.detail,
        "this zone requires a secure card; the card is UID-only"
    );

    let mut s = source();
    s.sites[0].secure_cards_from_threat_level = Some(1);
    s.sites[0].threat.level = 1;
    let d = decide_with(
        s,
        ALICE_CARD,
        DOOR,
        Authentication::NotAttempted,
        Direction::Entry,
    );
    let last = d.trace.last().unwrap();
    assert!(
        last.detail.contains("threat level requires secure cards"),
        "{last:?}"
    );

    let mut s = source();
    secure_card(&mut s);
    let d = decide_with(
        s,
        ALICE_CARD,
        DOOR,
        Authentication::NotAttempted,
        Direction::Entry,
    );
    let last = d.trace.last().unwrap();
    assert_eq!(last.check, Check::Authenticity);
    assert!(last.detail.contains("UID alone"), "{last:?}");
}

/// A presentation of an older agent or server (no `authentication`) is a UID read; the
/// alarms keep their positions (journals encode them) and names.
#[test]
fn older_presentations_read_as_uid_reads_and_alarms_keep_their_positions() {
    let json = serde_json::json!({
        "card": "A1A1", "pin": null, "door_id": DOOR, "direction": "entry", "at": NOON,
    });
    let p: Presentation = serde_json::from_value(json).unwrap();
    assert_eq!(p.authentication, Authentication::NotAttempted);
    let names: Vec<String> = (0u8..=u8::MAX)
        .map_while(|i| postcard::from_bytes::<Alarm>(&[i]).ok())
        .map(|a| a.to_string())
        .collect();
    let want = [
        "duress",
        "pin_lockout",
        "anti_passback_violation",
        "credential_not_authentic",
    ];
    assert_eq!(names, want);
    let wire: Vec<String> = Authentication::iter()
        .map(|a| a.as_str().to_owned())
        .collect();
    assert_eq!(wire, ["not_attempted", "authenticated", "failed"]);
    assert!(Assurance::Uid < Assurance::Secure);
    assert_eq!(serde_json::to_value(Assurance::Secure).unwrap(), "secure");
}

/// A zone or a site written before assurance existed (JSON without the new fields, as
/// in the operator log's records) reads as UID cards everywhere, never raised.
#[test]
fn older_zones_and_sites_read_as_uid_zones() {
    let mut zone = serde_json::to_value(crate::fixture::zone(CTRL, Some(PUBLIC), 2)).unwrap();
    zone.as_object_mut().unwrap().remove("min_assurance");
    let zone: Zone = serde_json::from_value(zone).unwrap();
    assert_eq!(zone.min_assurance, Assurance::Uid);
    let mut site = serde_json::to_value(&source().sites[0]).unwrap();
    site.as_object_mut()
        .unwrap()
        .remove("secure_cards_from_threat_level");
    let site: Site = serde_json::from_value(site).unwrap();
    assert_eq!(site.secure_cards_from_threat_level, None);
    assert!(!site.secure_cards_required());
    assert_eq!(site.required_assurance(&zone), Assurance::Uid);
}
