//! Policy building: references are validated with clear errors, never a panic.

use super::*;
use crate::fixture::*;
use crate::model::{CredentialState, Holder, Subject};

fn build(setup: impl FnOnce(&mut PolicySource)) -> Result<Policy, PolicyError> {
    let mut s = source();
    setup(&mut s);
    Policy::build(s)
}

#[test]
fn the_fixture_builds_and_indexes() {
    let p = build(|_| {}).unwrap();
    assert_eq!(p.grant(ALICE_GRANT).map(|g| g.zone_id), Some(CTRL));
    assert!(p.grant(ALICE).is_none());
    assert_eq!(
        p.credential_by_card(ALICE_CARD).map(|c| c.holder),
        Some(Holder::Person(ALICE))
    );
    assert!(
        p.credential_by_card("a1a1").is_none(),
        "lookups take normalised cards"
    );
    assert!(p.covers(CTRL, CTRL_CHILD) && p.covers(CTRL, CTRL));
    assert!(!p.covers(CTRL, SECURE) && !p.covers(CTRL_CHILD, CTRL) && !p.covers(PUBLIC, CTRL));
    assert!(p.within(SECURE, PUBLIC) && !p.within(PUBLIC, SECURE));
    let path: Vec<Uuid> = p.enclosing(SECURE).map(|z| z.id).collect();
    assert_eq!(
        path,
        [SECURE, CTRL, PUBLIC],
        "nearest first, itself included"
    );
    assert_eq!(p.enclosing(Uuid::from_u128(0x99)).count(), 0);
    let bob = p.person(BOB).unwrap();
    assert_eq!(
        p.grants_of(bob).count(),
        1,
        "Bob's grant comes through his group"
    );
}

#[test]
fn duplicate_card_is_refused() {
    let err = build(|s| {
        s.credentials
            .push(credential(9, ALICE_CARD, Holder::Person(BOB)))
    })
    .unwrap_err();
    assert!(
        matches!(err, PolicyError::DuplicateCard { ref card, .. } if card == ALICE_CARD),
        "{err}"
    );
}

#[test]
fn unnormalised_or_bad_cards_are_refused() {
    // A card is normal by its type: a policy naming another form does not parse.
    let source = serde_json::to_value(source()).unwrap();
    for bad in ["a1a1", "A1A", ""] {
        let text = source.to_string().replace(ALICE_CARD, bad);
        let err = serde_json::from_str::<PolicySource>(&text).unwrap_err();
        assert!(err.to_string().contains("card"), "{bad}: {err}");
    }
}

#[test]
fn zone_cycles_are_refused() {
    let err = build(|s| zone_mut(s, PUBLIC).parent_id = Some(SECURE)).unwrap_err();
    assert!(matches!(err, PolicyError::ZoneCycle(_)), "{err}");
    let err = build(|s| zone_mut(s, PUBLIC).parent_id = Some(PUBLIC)).unwrap_err();
    assert_eq!(err, PolicyError::ZoneCycle(PUBLIC));
}

#[test]
fn dangling_references_are_refused() {
    let missing = Uuid::from_u128(0xdead);
    type Setup = Box<dyn FnOnce(&mut PolicySource)>;
    let cases: Vec<(&str, Setup)> = vec![
        (
            "door zone",
            Box::new(move |s| s.doors[0].to_zone_id = missing),
        ),
        (
            "zone parent",
            Box::new(move |s| zone_mut(s, CTRL).parent_id = Some(missing)),
        ),
        (
            "zone site",
            Box::new(move |s| zone_mut(s, CTRL).site_id = missing),
        ),
        (
            "credential holder",
            Box::new(move |s| card_mut(s, ALICE_CARD).holder = Holder::Visit(missing)),
        ),
        (
            "grant person",
            Box::new(move |s| s.grants[0].subject = Subject::Person(missing)),
        ),
        (
            "grant zone",
            Box::new(move |s| s.grants[0].zone_id = missing),
        ),
        (
            "grant schedule",
            Box::new(move |s| s.grants[0].schedule_id = Some(missing)),
        ),
        (
            "visit host",
            Box::new(move |s| s.visits[0].host_person_id = missing),
        ),
        (
            "visit zone",
            Box::new(move |s| s.visits[0].allowed_zone_ids.push(missing)),
        ),
    ];
    for (name, setup) in cases {
        let err = build(setup).unwrap_err();
        assert!(
            matches!(err, PolicyError::Dangling { target, .. } if target == missing),
            "{name}: {err}"
        );
    }
}

#[test]
fn cross_site_references_and_duplicate_ids_are_refused() {
    let other = Uuid::from_u128(0x6);
    let err = build(|s| {
        let mut site = s.sites[0].clone();
        site.id = other;
        s.sites.push(site);
        s.zones.push(zone(Uuid::from_u128(0x19), None, 0));
        s.zones.last_mut().unwrap().site_id = other;
        s.doors[0].from_zone_id = Uuid::from_u128(0x19);
    })
    .unwrap_err();
    assert!(
        matches!(
            err,
            PolicyError::CrossSite {
                field: "from_zone_id",
                ..
            }
        ),
        "{err}"
    );
    let err = build(|s| s.people.push(s.people[0].clone())).unwrap_err();
    assert_eq!(
        err,
        PolicyError::DuplicateId {
            kind: "person",
            id: ALICE
        }
    );
}

#[test]
fn groups_need_no_declaration_and_states_do_not_matter_to_building() {
    build(|s| {
        s.grants.push(grant(
            Uuid::from_u128(0x6f),
            Subject::Group(Uuid::from_u128(0x4f)),
            CTRL,
        ));
        card_mut(s, ALICE_CARD).state = CredentialState::Revoked;
    })
    .unwrap();
}
