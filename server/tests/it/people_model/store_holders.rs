//! Storage conformance of credentials, grants, visits and the policy compiler's load,
//! on both backends.

use super::store::{actor, card, person, visit, zone};
use crate::common::TestDb;
use chrono::Duration;
use gatehouse_core::model::{
    CredentialState, Holder, PersonKind, PersonStatus, PinCheck, PinHash, PinKey, PinVerifier,
    Subject, VettingStatus,
};
use gatehouse_server::store::{
    CredentialChange, CredentialFilter, GrantFilter, ModelError, NewGrant, NewVetting, StoreError,
    now,
};
use uuid::Uuid;

conformance!(
    credentials_are_unique_per_live_card_and_keep_pins_secret,
    revoked_credentials_are_final,
    grants_name_a_person_or_a_group_and_existing_things,
    visits_check_in_and_out_and_revoke_their_cards,
    load_people_model_returns_what_was_stored,
);

async fn credentials_are_unique_per_live_card_and_keep_pins_secret(db: &TestDb) {
    let store = db.store().await;
    let ada = person(&store, "Ada").await;
    let mut new = card("04A22B9C", Holder::Person(ada.id));
    let stored = PinHash::generate("1234").unwrap();
    new.pin = Some(stored.clone());
    let issued = store.create_credential(new, &actor()).await.unwrap();
    assert!(issued.has_pin);
    assert_eq!(
        (issued.state, issued.person_id),
        (CredentialState::Active, Some(ada.id))
    );
    assert_eq!(store.credential(issued.id).await.unwrap(), issued);
    let again = store
        .create_credential(card("04A22B9C", Holder::Person(ada.id)), &actor())
        .await;
    assert!(
        matches!(again, Err(ModelError::Store(StoreError::Conflict { .. }))),
        "{again:?}"
    );
    let nobody = store
        .create_credential(card("AA", Holder::Person(Uuid::new_v4())), &actor())
        .await;
    assert!(matches!(
        nobody,
        Err(ModelError::Invalid {
            field: "person_id",
            ..
        })
    ));

    let filter = CredentialFilter {
        person_id: Some(ada.id),
        visit_id: None,
    };
    assert_eq!(
        store.list_credentials(filter, None, 10).await.unwrap(),
        std::slice::from_ref(&issued)
    );
    let key = PinKey::from_bytes([7; 32]);
    let (_, _, credentials, _) = store.load_people_model(&key).await.unwrap();
    let pin = credentials[0].pin.as_ref().unwrap();
    assert_eq!(
        pin.check(Some(&key), "1234"),
        Ok(PinCheck::Correct),
        "the stored hash, keyed, checks the PIN"
    );
    assert_eq!(**pin, PinVerifier::keyed(&stored, &key));

    let change = CredentialChange {
        pin: Some(None),
        ..Default::default()
    };
    let cleared = store
        .update_credential(issued.id, change, &actor())
        .await
        .unwrap();
    assert!(!cleared.has_pin);
    let log = store.list_operator_log(None, 100).await.unwrap();
    assert!(log.iter().any(|e| e.action == "credential.set_pin"));
    let text = serde_json::to_string(
        &log.iter()
            .map(|e| (&e.before, &e.after))
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let hash = serde_json::to_string(&stored.hash).unwrap();
    assert!(
        !text.contains("pin_hash") && !text.contains("salt"),
        "{text}"
    );
    assert!(
        !text.contains(&hash[1..hash.len() - 1]),
        "no hash bytes in the log"
    );
}

async fn revoked_credentials_are_final(db: &TestDb) {
    let store = db.store().await;
    let ada = person(&store, "Ada").await;
    let first = store
        .create_credential(card("0A0B", Holder::Person(ada.id)), &actor())
        .await
        .unwrap();
    let chief = actor();
    let update = |id, state| {
        let change = CredentialChange {
            state: Some(state),
            ..Default::default()
        };
        store.update_credential(id, change, &chief)
    };
    assert_eq!(
        update(first.id, CredentialState::Lost).await.unwrap().state,
        CredentialState::Lost
    );
    assert_eq!(
        update(first.id, CredentialState::Active)
            .await
            .unwrap()
            .state,
        CredentialState::Active
    );
    update(first.id, CredentialState::Revoked).await.unwrap();
    let back = update(first.id, CredentialState::Active).await;
    assert!(
        matches!(back, Err(ModelError::Store(StoreError::Rejected(_)))),
        "{back:?}"
    );
    let window = CredentialChange {
        valid_from: Some(Some(now())),
        valid_until: Some(Some(now() - Duration::hours(1))),
        ..Default::default()
    };
    let second = store
        .create_credential(card("0A0B", Holder::Person(ada.id)), &actor())
        .await;
    let second = second.expect("a revoked card may be issued again");
    let bad = store.update_credential(second.id, window, &actor()).await;
    assert!(matches!(
        bad,
        Err(ModelError::Invalid {
            field: "valid_until",
            ..
        })
    ));
    let (_, _, credentials, _) = store
        .load_people_model(&PinKey::from_bytes([7; 32]))
        .await
        .unwrap();
    assert_eq!(credentials.len(), 1, "one credential per card");
    assert_eq!(credentials[0].id, second.id, "the live one");
}

async fn grants_name_a_person_or_a_group_and_existing_things(db: &TestDb) {
    let store = db.store().await;
    let ada = person(&store, "Ada").await;
    let zone_id = zone(&store).await;
    let grant = |subject, zone_id, schedule_id| NewGrant {
        subject,
        zone_id,
        schedule_id,
        valid_from: Some(now()),
        valid_until: Some(now() + Duration::days(1)),
    };
    let created = store
        .create_grant(grant(Subject::Person(ada.id), zone_id, None), &actor())
        .await
        .unwrap();
    assert_eq!((created.person_id, created.group_id), (Some(ada.id), None));
    assert_eq!(store.grant(created.id).await.unwrap(), created);
    for (new, field) in [
        (
            grant(Subject::Person(Uuid::new_v4()), zone_id, None),
            "person_id",
        ),
        (
            grant(Subject::Group(Uuid::new_v4()), zone_id, None),
            "group_id",
        ),
        (
            grant(Subject::Person(ada.id), Uuid::new_v4(), None),
            "zone_id",
        ),
        (
            grant(Subject::Person(ada.id), zone_id, Some(Uuid::new_v4())),
            "schedule_id",
        ),
    ] {
        let refused = store.create_grant(new, &actor()).await;
        assert!(
            matches!(refused, Err(ModelError::Invalid { field: f, .. }) if f == field),
            "{field}"
        );
    }
    let by_zone = GrantFilter {
        zone_id: Some(zone_id),
        ..Default::default()
    };
    assert_eq!(
        store.list_grants(by_zone, None, 10).await.unwrap(),
        std::slice::from_ref(&created)
    );
    let other = GrantFilter {
        person_id: Some(Uuid::new_v4()),
        ..Default::default()
    };
    assert!(store.list_grants(other, None, 10).await.unwrap().is_empty());
    store.delete_grant(created.id, &actor()).await.unwrap();
    assert!(matches!(
        store.delete_grant(created.id, &actor()).await,
        Err(StoreError::NotFound)
    ));
    let log = store.list_operator_log(None, 100).await.unwrap();
    let deleted = log.iter().find(|e| e.action == "grant.delete").unwrap();
    assert_eq!(
        deleted.before.as_ref().unwrap().0["zone_id"],
        zone_id.to_string()
    );
}

async fn visits_check_in_and_out_and_revoke_their_cards(db: &TestDb) {
    let store = db.store().await;
    let host = person(&store, "Host").await;
    let zone_id = zone(&store).await;
    let created = store
        .create_visit(visit(host.id, zone_id), &actor())
        .await
        .unwrap();
    assert_eq!(created.allowed_zone_ids, [zone_id]);
    assert_eq!(store.visit(created.id).await.unwrap(), created);
    let mut past = visit(host.id, zone_id);
    past.window_end = past.window_start;
    assert!(matches!(
        store.create_visit(past, &actor()).await,
        Err(ModelError::Invalid {
            field: "window_end",
            ..
        })
    ));
    let badge = store
        .create_credential(card("BEEF", Holder::Visit(created.id)), &actor())
        .await
        .unwrap();

    let out_first = store.check_out_visit(created.id, &actor()).await;
    assert!(
        matches!(out_first, Err(StoreError::Rejected(_))),
        "not checked in yet"
    );
    let inside = store.check_in_visit(created.id, &actor()).await.unwrap();
    assert!(inside.checked_in && !inside.checked_out && inside.checked_in_at.is_some());
    assert!(matches!(
        store.check_in_visit(created.id, &actor()).await,
        Err(StoreError::Rejected(_))
    ));
    let (_, visits, _, _) = store
        .load_people_model(&PinKey::from_bytes([7; 32]))
        .await
        .unwrap();
    assert!(visits[0].active_at(now()));
    let out = store.check_out_visit(created.id, &actor()).await.unwrap();
    assert!(out.checked_out);
    assert_eq!(
        store.credential(badge.id).await.unwrap().state,
        CredentialState::Revoked
    );
    let late = store
        .create_credential(card("CAFE", Holder::Visit(created.id)), &actor())
        .await;
    assert!(matches!(
        late,
        Err(ModelError::Store(StoreError::Rejected(_)))
    ));
    let reissued = store
        .create_credential(card("BEEF", Holder::Person(host.id)), &actor())
        .await;
    assert!(
        reissued.is_ok(),
        "the returned visitor card can be issued again"
    );
    let listed = store.list_visits(None, 10).await.unwrap();
    assert_eq!(listed, [out]);
}

async fn load_people_model_returns_what_was_stored(db: &TestDb) {
    let store = db.store().await;
    let ada = person(&store, "Ada").await;
    let zone_id = zone(&store).await;
    let until = now() + Duration::days(30);
    let vetting = NewVetting {
        status: VettingStatus::Cleared,
        cleared_until: Some(until),
        reference: None,
        note: None,
    };
    store
        .record_vetting(ada.id, vetting, &actor())
        .await
        .unwrap();
    let group = store.create_group("G".into(), &actor()).await.unwrap();
    store
        .set_group_members(group.id, [ada.id].into(), &actor())
        .await
        .unwrap();
    let visit = store
        .create_visit(visit(ada.id, zone_id), &actor())
        .await
        .unwrap();
    let badge = store
        .create_credential(card("AB", Holder::Visit(visit.id)), &actor())
        .await
        .unwrap();
    let grant = NewGrant {
        subject: Subject::Group(group.id),
        zone_id,
        schedule_id: None,
        valid_from: None,
        valid_until: Some(until),
    };
    let grant = store.create_grant(grant, &actor()).await.unwrap();

    let (people, visits, credentials, grants) = store
        .load_people_model(&PinKey::from_bytes([7; 32]))
        .await
        .unwrap();
    assert_eq!(people.len(), 1);
    let p = &people[0];
    assert_eq!(
        (p.id, p.kind, p.status, p.clearance),
        (ada.id, PersonKind::Contractor, PersonStatus::Active, 2)
    );
    let v = p.vetting.as_ref().unwrap();
    assert_eq!(
        (v.status, v.cleared_until),
        (VettingStatus::Cleared, Some(until))
    );
    assert_eq!(p.group_ids.as_slice(), [group.id]);
    assert_eq!(visits, [visit.engine()]);
    assert!(visits[0].escort_required && !visits[0].checked_in);
    assert_eq!(credentials.len(), 1);
    assert_eq!(
        (
            credentials[0].id,
            credentials[0].holder,
            credentials[0].pin.clone()
        ),
        (badge.id, Holder::Visit(visit.id), None)
    );
    assert_eq!(grants.len(), 1);
    assert_eq!(
        (
            grants[0].id,
            grants[0].subject,
            grants[0].zone_id,
            grants[0].valid_until
        ),
        (grant.id, Subject::Group(group.id), zone_id, Some(until))
    );
}
