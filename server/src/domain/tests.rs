//! The constructors on their own: every problem reported at once under the client's
//! field names, values trimmed and kept at the store's precision. (The API tests check
//! the same rules through HTTP.)

use super::FieldErrors;
use super::credential::CredentialInput;
use super::grant::GrantInput;
use crate::store::{
    NewCredential, NewDoor, NewGrant, NewPerson, NewSite, NewVetting, NewZone, PersonChange,
    ZoneChange, ZoneRules,
};
use chrono::{DateTime, Duration};
use gatehouse_core::model::{DoorMode, Holder, PersonKind, VettingStatus};
use uuid::Uuid;

fn fields(problems: Option<FieldErrors>) -> Vec<String> {
    problems.unwrap_or_default().into_keys().collect()
}

fn person(name: &str, employer: Option<&str>) -> NewPerson {
    NewPerson {
        name: name.into(),
        kind: PersonKind::Staff,
        employer: employer.map(Into::into),
        clearance: 1,
    }
}

#[test]
fn a_person_is_trimmed_or_refused_naming_each_field() {
    let ok = person("  Ada Lovelace ", Some(" Analytical ")).checked();
    let ok = ok.ok().map(|p| (p.name, p.employer));
    assert_eq!(ok, Some(("Ada Lovelace".into(), Some("Analytical".into()))));
    let refused = person(" ", Some(&"x".repeat(129))).checked().err();
    assert_eq!(fields(refused), ["employer", "name"]);
    let change = PersonChange {
        external_id: Some(Some("\u{202e}1".into())),
        ..PersonChange::default()
    };
    assert_eq!(fields(change.checked().err()), ["external_id"]);
}

#[test]
fn a_clearance_end_goes_only_with_cleared_and_in_the_future() {
    let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
    let vetting = |status, until| NewVetting {
        status,
        cleared_until: Some(until),
        reference: None,
        note: None,
    };
    let later = now + Duration::nanoseconds(1_500);
    let kept = vetting(VettingStatus::Cleared, later).checked(now);
    let kept = kept.ok().and_then(|v| v.cleared_until);
    assert_eq!(
        kept,
        Some(now + Duration::microseconds(1)),
        "store precision"
    );
    let pending = vetting(VettingStatus::Pending, later).checked(now).err();
    let message = pending.and_then(|p| p.get("cleared_until").cloned());
    assert_eq!(message.as_deref(), Some("only with status cleared"));
    let past = vetting(VettingStatus::Cleared, now).checked(now).err();
    let message = past.and_then(|p| p.get("cleared_until").cloned());
    assert_eq!(message.as_deref(), Some("must be in the future"));
}

#[test]
fn a_credential_has_one_holder_a_card_and_an_ordered_window() {
    let person = Uuid::from_u128(1);
    let at = DateTime::from_timestamp(1_800_000_000, 0);
    let input = |person_id, visit_id, card: &str| CredentialInput {
        person_id,
        visit_id,
        card: card.into(),
        kind: None,
        valid_from: at,
        valid_until: at,
        pin: Some("12".to_owned().into()),
    };
    let refused = NewCredential::parse(input(Some(person), Some(person), "xyz")).err();
    let expected = ["card", "person_id", "pin", "valid_until", "visit_id"];
    assert_eq!(fields(refused), expected);
    let ok = NewCredential::parse(CredentialInput {
        valid_until: None,
        pin: None,
        ..input(Some(person), None, "04:a2:2b:9c")
    });
    let ok = ok.ok().map(|c| (c.card, c.holder));
    assert_eq!(ok, Some(("04A22B9C".into(), Holder::Person(person))));
}

#[test]
fn a_grant_names_exactly_one_subject() {
    let input = |person_id, group_id| GrantInput {
        person_id,
        group_id,
        zone_id: Uuid::from_u128(9),
        schedule_id: None,
        valid_from: None,
        valid_until: None,
    };
    let neither = NewGrant::parse(input(None, None)).err();
    assert_eq!(fields(neither), ["group_id", "person_id"]);
    let one = Some(Uuid::from_u128(1));
    assert!(NewGrant::parse(input(one, None)).is_ok());
}

#[test]
fn the_site_model_checks_names_ranges_and_time_zones() {
    let site = |timezone: &str| NewSite {
        name: " HQ ".into(),
        timezone: timezone.into(),
        secure_cards_from_threat_level: None,
    };
    let ok = site("Europe/Berlin")
        .checked()
        .ok()
        .map(|s| (s.name, s.timezone));
    assert_eq!(ok, Some(("HQ".into(), "Europe/Berlin".into())));
    assert_eq!(fields(site("Mars/Olympus").checked().err()), ["timezone"]);
    let zone = NewZone {
        site_id: Uuid::from_u128(1),
        parent_id: None,
        name: "Lab".into(),
        level: 1,
        rules: ZoneRules {
            anti_passback_timeout_s: Some(0),
            max_occupancy: Some(0),
            ..ZoneRules::default()
        },
    };
    let refused = fields(zone.checked().err());
    assert_eq!(refused, ["anti_passback_timeout_s", "max_occupancy"]);
    let cleared = ZoneChange {
        max_occupancy: Some(None),
        ..ZoneChange::default()
    };
    assert!(cleared.checked().is_ok(), "null clears the limit");
    let door = NewDoor {
        name: "Front".into(),
        from_zone_id: Uuid::from_u128(1),
        to_zone_id: Uuid::from_u128(2),
        mode: DoorMode::Normal,
        unlock_ms: 999,
        held_open_ms: 3_600_001,
    };
    assert_eq!(fields(door.checked().err()), ["held_open_ms", "unlock_ms"]);
}

#[test]
fn every_check_is_reported_with_the_message_clients_see() {
    let problems = NewDoor {
        name: "Front".into(),
        from_zone_id: Uuid::nil(),
        to_zone_id: Uuid::nil(),
        mode: DoorMode::Normal,
        unlock_ms: 0,
        held_open_ms: 30_000,
    }
    .checked()
    .err();
    let message = problems.and_then(|p| p.get("unlock_ms").cloned());
    assert_eq!(message.as_deref(), Some("must be between 1000 and 60000"));
}
