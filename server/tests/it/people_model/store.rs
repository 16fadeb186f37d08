//! Storage conformance of the people model, on both backends: people, vetting, groups
//! and the policy version (credentials, grants and visits are in `store_holders`).

use crate::common::TestDb;
use chrono::Duration;
use gatehouse_core::model::{CardKind, Holder, PersonKind, PersonStatus, Subject, VettingStatus};
use gatehouse_server::store::{
    Actor, CredentialChange, ModelError, NewCredential, NewGrant, NewPerson, NewSite, NewVetting,
    NewVisit, NewZone, PersonChange, PersonRecord, Store, StoreError, ZoneRules, now,
};
use uuid::Uuid;

conformance!(
    people_are_created_listed_searched_and_changed,
    vetting_history_is_newest_first_and_current_on_the_person,
    groups_replace_members_and_refuse_delete_while_granted,
    reads_and_refused_writes_leave_the_policy_version,
);

pub(crate) fn actor() -> Actor {
    Actor {
        id: Some(Uuid::new_v4()),
        name: "chief".into(),
        request_id: None,
    }
}

pub(crate) async fn person(store: &Store, name: &str) -> PersonRecord {
    let new = NewPerson {
        name: name.into(),
        kind: PersonKind::Contractor,
        employer: Some("Acme".into()),
        clearance: 2,
    };
    store.create_person(new, &actor()).await.unwrap()
}

pub(crate) async fn zone(store: &Store) -> Uuid {
    let site = NewSite {
        name: "Plant".into(),
        timezone: "Europe/Berlin".into(),
        secure_cards_from_threat_level: None,
    };
    let site = store.create_site(site, &actor()).await.unwrap();
    let zone = NewZone {
        site_id: site.id,
        parent_id: None,
        name: "Yard".into(),
        level: 1,
        rules: ZoneRules::default(),
    };
    store.create_zone(zone, &actor()).await.unwrap().id
}

pub(crate) fn card(card: &str, holder: Holder) -> NewCredential {
    NewCredential {
        card: card.into(),
        kind: CardKind::Uid,
        holder,
        valid_from: None,
        valid_until: None,
        pin: None,
    }
}

async fn people_are_created_listed_searched_and_changed(db: &TestDb) {
    let store = db.store().await;
    let ada = person(&store, "Ada Lovelace").await;
    assert_eq!(ada.status, PersonStatus::Active);
    assert_eq!((ada.vetting.clone(), ada.group_ids.clone()), (None, vec![]));
    assert_eq!(
        store.person(ada.id).await.unwrap(),
        ada,
        "round-trips exactly"
    );
    let bob = person(&store, "Bob 100%").await;
    let all = store.list_people(None, None, 10).await.unwrap();
    assert_eq!(
        all.iter().map(|p| p.id).collect::<Vec<_>>(),
        [ada.id, bob.id]
    );
    let page = store.list_people(Some(ada.id), None, 10).await.unwrap();
    assert_eq!(page, std::slice::from_ref(&bob));
    let found = store.list_people(None, Some("LOVE"), 10).await.unwrap();
    assert_eq!(
        found,
        std::slice::from_ref(&ada),
        "case-insensitive name search"
    );
    let literal = store.list_people(None, Some("0%"), 10).await.unwrap();
    assert_eq!(literal, [bob], "% is matched literally");

    let change = PersonChange {
        status: Some(PersonStatus::Left),
        clearance: Some(4),
        employer: Some(None),
        ..Default::default()
    };
    let left = store.update_person(ada.id, change, &actor()).await.unwrap();
    assert_eq!(
        (left.status, left.clearance, left.employer.clone()),
        (PersonStatus::Left, 4, None)
    );
    assert_eq!(left.name, "Ada Lovelace");
    assert_eq!(store.person(ada.id).await.unwrap(), left);
    let missing = store
        .update_person(Uuid::new_v4(), PersonChange::default(), &actor())
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound)));

    let log = store.list_operator_log(None, 100).await.unwrap();
    let update = log.iter().find(|e| e.action == "person.update").unwrap();
    assert_eq!(update.before.as_ref().unwrap().0["status"], "active");
    assert_eq!(update.after.as_ref().unwrap().0["status"], "left");
    assert_eq!(update.actor, "chief");
}

async fn vetting_history_is_newest_first_and_current_on_the_person(db: &TestDb) {
    let store = db.store().await;
    let ada = person(&store, "Ada").await;
    let until = now() + Duration::days(365);
    let statuses = [
        VettingStatus::Pending,
        VettingStatus::Cleared,
        VettingStatus::Revoked,
    ];
    for status in statuses {
        let new = NewVetting {
            status,
            cleared_until: (status == VettingStatus::Cleared).then_some(until),
            reference: Some(format!("ref-{status:?}")),
            note: None,
        };
        let after = store.record_vetting(ada.id, new, &actor()).await.unwrap();
        assert_eq!(after.vetting.as_ref().unwrap().status, status);
    }
    let history = store.vetting_history(ada.id).await.unwrap();
    let order: Vec<_> = history.iter().map(|v| v.status).collect();
    assert_eq!(
        order,
        [
            VettingStatus::Revoked,
            VettingStatus::Cleared,
            VettingStatus::Pending
        ]
    );
    assert_eq!(history[1].cleared_until, Some(until));
    assert_eq!(history[0].checked_by, "chief");
    let current = store.person(ada.id).await.unwrap().vetting.unwrap();
    assert_eq!(current, history[0], "the person shows the newest record");
    assert!(matches!(
        store.vetting_history(Uuid::new_v4()).await,
        Err(StoreError::NotFound)
    ));
}

async fn groups_replace_members_and_refuse_delete_while_granted(db: &TestDb) {
    let store = db.store().await;
    let (ada, bob) = (person(&store, "Ada").await, person(&store, "Bob").await);
    let group = store
        .create_group("Night shift".into(), &actor())
        .await
        .unwrap();
    let dup = store.create_group("Night shift".into(), &actor()).await;
    assert!(matches!(dup, Err(StoreError::Conflict { .. })), "{dup:?}");
    let chief = actor();
    let set = |ids: Vec<Uuid>| store.set_group_members(group.id, ids.into_iter().collect(), &chief);
    assert_eq!(set(vec![ada.id, bob.id]).await.unwrap().person_ids.len(), 2);
    let after = set(vec![bob.id]).await.unwrap();
    assert_eq!(after.person_ids, [bob.id], "replaced, not added");
    assert_eq!(store.group(group.id).await.unwrap(), after);
    assert_eq!(store.person(bob.id).await.unwrap().group_ids, [group.id]);
    assert!(store.person(ada.id).await.unwrap().group_ids.is_empty());
    let listed = store.list_people(None, None, 10).await.unwrap();
    assert_eq!(
        listed[1].group_ids,
        [group.id],
        "lists carry memberships too"
    );
    let unknown = set(vec![ada.id, Uuid::new_v4()]).await;
    assert!(matches!(
        unknown,
        Err(ModelError::Invalid {
            field: "person_ids",
            ..
        })
    ));
    assert_eq!(
        store.group(group.id).await.unwrap().person_ids,
        [bob.id],
        "unchanged"
    );

    let zone_id = zone(&store).await;
    let grant = NewGrant {
        subject: Subject::Group(group.id),
        zone_id,
        schedule_id: None,
        valid_from: None,
        valid_until: None,
    };
    let grant = store.create_grant(grant, &actor()).await.unwrap();
    let refused = store.delete_group(group.id, &actor()).await;
    assert!(
        matches!(refused, Err(StoreError::Rejected(_))),
        "{refused:?}"
    );
    let zone_delete = store.delete_zone(zone_id, &actor()).await;
    assert!(zone_delete.is_err(), "a granted zone stays");
    store.delete_grant(grant.id, &actor()).await.unwrap();
    store.delete_group(group.id, &actor()).await.unwrap();
    assert!(matches!(
        store.group(group.id).await,
        Err(StoreError::NotFound)
    ));
    assert!(store.person(bob.id).await.unwrap().group_ids.is_empty());
}

pub(crate) fn visit(host: Uuid, zone_id: Uuid) -> NewVisit {
    NewVisit {
        visitor_name: "Vera".into(),
        visitor_organisation: Some("Supplier".into()),
        host_person_id: host,
        window_start: now() - Duration::hours(1),
        window_end: now() + Duration::hours(8),
        allowed_zone_ids: [zone_id].into(),
        escort_required: true,
        ..Default::default()
    }
}

async fn reads_and_refused_writes_leave_the_policy_version(db: &TestDb) {
    let store = db.store().await;
    let mut version = store.policy_version().await.unwrap();
    let mut bumped = async |store: &Store| {
        let now = store.policy_version().await.unwrap();
        let moved = now == version + 1;
        version = now;
        moved
    };
    let ada = person(&store, "Ada").await;
    assert!(bumped(&store).await, "create person");
    let zone_id = zone(&store).await;
    bumped(&store).await;
    store
        .update_person(ada.id, PersonChange::default(), &actor())
        .await
        .unwrap();
    assert!(bumped(&store).await, "update person");
    let vetting = NewVetting {
        status: VettingStatus::Pending,
        cleared_until: None,
        reference: None,
        note: None,
    };
    store
        .record_vetting(ada.id, vetting, &actor())
        .await
        .unwrap();
    assert!(bumped(&store).await, "vetting");
    let group = store.create_group("G".into(), &actor()).await.unwrap();
    assert!(bumped(&store).await, "group");
    store
        .set_group_members(group.id, [ada.id].into(), &actor())
        .await
        .unwrap();
    assert!(bumped(&store).await, "members");
    let c = store
        .create_credential(card("01", Holder::Person(ada.id)), &actor())
        .await
        .unwrap();
    assert!(bumped(&store).await, "credential");
    store
        .update_credential(c.id, CredentialChange::default(), &actor())
        .await
        .unwrap();
    assert!(bumped(&store).await, "credential update");
    let g = NewGrant {
        subject: Subject::Person(ada.id),
        zone_id,
        schedule_id: None,
        valid_from: None,
        valid_until: None,
    };
    let g = store.create_grant(g, &actor()).await.unwrap();
    assert!(bumped(&store).await, "grant");
    store.delete_grant(g.id, &actor()).await.unwrap();
    assert!(bumped(&store).await, "grant delete");
    let v = store
        .create_visit(visit(ada.id, zone_id), &actor())
        .await
        .unwrap();
    assert!(bumped(&store).await, "visit");
    store.check_in_visit(v.id, &actor()).await.unwrap();
    assert!(bumped(&store).await, "check-in");
    store.check_out_visit(v.id, &actor()).await.unwrap();
    assert!(bumped(&store).await, "check-out");
    store.delete_group(group.id, &actor()).await.unwrap();
    assert!(bumped(&store).await, "group delete");

    let before = store.policy_version().await.unwrap();
    store.person(ada.id).await.unwrap();
    store.list_people(None, None, 10).await.unwrap();
    store.vetting_history(ada.id).await.unwrap();
    store
        .load_people_model(&gatehouse_core::model::PinKey::from_bytes([7; 32]))
        .await
        .unwrap();
    store
        .create_credential(card("01", Holder::Person(ada.id)), &actor())
        .await
        .unwrap_err();
    store.check_in_visit(v.id, &actor()).await.unwrap_err();
    store
        .set_group_members(Uuid::new_v4(), [].into(), &actor())
        .await
        .unwrap_err();
    assert_eq!(
        store.policy_version().await.unwrap(),
        before,
        "reads and refusals"
    );
}
