//! The visitor card pool and the automatic end of visits (issue 13), on both backends:
//! registering cards, handing one only to a checked-in visit, the card deciding through
//! the policy the server compiles, ending a visit's cards, overdue visits checked out
//! with their card unreturned and alarmed, no-shows, and musters listing visitors who
//! never badged. Then the API's permissions and answers.

use crate::common::{TestApp, TestDb, created, expect, invalid};
use crate::support::site_model::{new_door, site, zone};
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::decide::{Direction, Outcome, Presentation, decide};
use gatehouse_core::model::{CardKind, CredentialState, Holder, PersonKind};
use gatehouse_core::policy::Settings;
use gatehouse_server::policy::PolicyService;
use gatehouse_server::store::{
    Actor, AlarmFilter, AlarmKind, LogFilter, ModelError, NEVER_BADGED, NewAgent, NewCredential,
    NewPerson, NewVisit, NewVisitorCard, Store, StoreError, VisitorCardChange, VisitorCardState,
    now,
};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

conformance!(
    pool_cards_go_only_to_checked_in_visits_and_open_only_their_zones,
    overdue_visits_are_checked_out_and_unreturned_cards_alarm,
    no_shows_are_marked_and_their_cards_go_back,
    visits_nobody_approved_expire_and_stay_ended,
    musters_list_checked_in_visitors_who_never_badged,
);

fn desk() -> Actor {
    Actor {
        id: Some(Uuid::new_v4()),
        name: "reception".into(),
        request_id: None,
    }
}

/// A site with an outer zone, the visit's zone and another zone, a door into each of the
/// two (and a door agent serving them).
struct Place {
    site: Uuid,
    allowed: Uuid,
    other: Uuid,
    door_in: Uuid,
    door_other: Uuid,
}

async fn place(store: &Store, name: &str) -> Place {
    let site = site(store, name).await;
    let outer = zone(store, site.id, None, 0).await;
    let allowed = zone(store, site.id, Some(outer.id), 0).await;
    let other = zone(store, site.id, Some(outer.id), 0).await;
    let door_in = store
        .create_door(new_door(outer.id, allowed.id), &Actor::cli())
        .await
        .unwrap();
    let door_other = store
        .create_door(new_door(outer.id, other.id), &Actor::cli())
        .await
        .unwrap();
    let agent = NewAgent {
        name: format!("{name} agent"),
        door_ids: vec![door_in.id, door_other.id],
        code_hash: name.as_bytes().to_vec(),
        code_expires_at: now() + Duration::minutes(15),
    };
    store.create_agent(agent, &Actor::cli()).await.unwrap();
    Place {
        site: site.id,
        allowed: allowed.id,
        other: other.id,
        door_in: door_in.id,
        door_other: door_other.id,
    }
}

async fn host(store: &Store, name: &str) -> Uuid {
    let new = NewPerson {
        name: name.into(),
        kind: PersonKind::Staff,
        employer: None,
        clearance: 0,
    };
    store.create_person(new, &Actor::cli()).await.unwrap().id
}

async fn visit(store: &Store, visitor: &str, host: Uuid, zone: Uuid, end: DateTime<Utc>) -> Uuid {
    let new = NewVisit {
        visitor_name: visitor.into(),
        visitor_organisation: Some("Supplier".into()),
        host_person_id: host,
        window_start: now() - Duration::hours(1),
        window_end: end,
        allowed_zone_ids: [zone].into(),
        escort_required: false,
        ..Default::default()
    };
    store.create_visit(new, &Actor::cli()).await.unwrap().id
}

async fn check_in(_db: &TestDb, store: &Store, id: Uuid, _visitor: &str) {
    let visit = store.check_in_visit(id, &desk()).await.unwrap();
    assert_eq!(
        visit.status,
        gatehouse_server::store::VisitStatus::CheckedIn
    );
}

async fn pool_card(store: &Store, site: Uuid, card: &str, label: &str) -> Uuid {
    let new = NewVisitorCard {
        site_id: site,
        card: card.into(),
        label: label.into(),
    };
    store.create_visitor_card(new, &desk()).await.unwrap().id
}

/// What the policy the server compiles now decides for `card` at `door`, at `at`.
async fn door_decides(store: &Store, card: &str, door: Uuid, at: DateTime<Utc>) -> Outcome {
    let service = PolicyService::load(store.clone(), Settings::default())
        .await
        .unwrap();
    let compiled = service.current().await.unwrap();
    let presentation = Presentation {
        card: card.into(),
        pin: None,
        door_id: door,
        direction: Direction::Entry,
        at,
        authentication: Default::default(),
    };
    decide(&compiled.policy, &presentation, &mut Default::default()).outcome
}

fn assert_invalid<T: std::fmt::Debug>(result: Result<T, ModelError>, field: &str) {
    assert!(
        matches!(&result, Err(ModelError::Invalid { field: f, .. }) if *f == field),
        "expected a 422 on {field}: {result:?}"
    );
}

fn assert_conflict<T: std::fmt::Debug>(result: Result<T, ModelError>) {
    assert!(
        matches!(&result, Err(ModelError::Store(StoreError::Rejected(_)))),
        "expected a 409: {result:?}"
    );
}

async fn pool_cards_go_only_to_checked_in_visits_and_open_only_their_zones(db: &TestDb) {
    let store = db.store().await;
    let hq = place(&store, "HQ").await;
    let plant = place(&store, "Plant").await;
    let ada = host(&store, "Ada").await;
    let end = now() + Duration::hours(4);
    let vera = visit(&store, "Vera", ada, hq.allowed, end).await;

    // Registering: a card live as a person's credential, twice the same card or label.
    let staff = NewCredential {
        card: "0A0B".into(),
        kind: CardKind::Uid,
        holder: Holder::Person(ada),
        valid_from: None,
        valid_until: None,
        pin: None,
    };
    store.create_credential(staff, &Actor::cli()).await.unwrap();
    let live = NewVisitorCard {
        site_id: hq.site,
        card: "0A0B".into(),
        label: "V-99".into(),
    };
    assert_invalid(store.create_visitor_card(live, &desk()).await, "card");
    let v01 = pool_card(&store, hq.site, "04A1B2", "V-01").await;
    let same_card = NewVisitorCard {
        site_id: hq.site,
        card: "04A1B2".into(),
        label: "V-02".into(),
    };
    assert_invalid(store.create_visitor_card(same_card, &desk()).await, "card");
    let same_label = NewVisitorCard {
        site_id: hq.site,
        card: "04A1B3".into(),
        label: "V-01".into(),
    };
    assert_invalid(
        store.create_visitor_card(same_label, &desk()).await,
        "label",
    );
    let elsewhere = pool_card(&store, plant.site, "04C1", "V-01").await;
    let listed = store
        .list_visitor_cards(Some(hq.site), Some(VisitorCardState::Available))
        .await
        .unwrap();
    assert_eq!(listed.iter().map(|c| c.id).collect::<Vec<_>>(), [v01]);

    // Only to a checked-in visit, only a card of its site, only an available one.
    assert_conflict(store.issue_pool_card(vera, v01, &desk()).await);
    check_in(db, &store, vera, "Vera").await;
    assert_invalid(
        store.issue_pool_card(vera, elsewhere, &desk()).await,
        "visitor_card_id",
    );
    assert_invalid(
        store.issue_pool_card(vera, Uuid::new_v4(), &desk()).await,
        "visitor_card_id",
    );
    assert!(matches!(
        store.issue_pool_card(Uuid::new_v4(), v01, &desk()).await,
        Err(ModelError::Store(StoreError::NotFound))
    ));
    let version = store.policy_version().await.unwrap();
    let (card, credential) = store.issue_pool_card(vera, v01, &desk()).await.unwrap();
    assert!(
        store.policy_version().await.unwrap() > version,
        "doors learn it"
    );
    assert_eq!(
        (card.state, card.visit_id, card.credential_id),
        (VisitorCardState::Issued, Some(vera), Some(credential.id))
    );
    assert_eq!(
        (
            credential.visit_id,
            credential.person_id,
            credential.valid_until
        ),
        (Some(vera), None, Some(end))
    );
    assert_eq!(credential.card, "04A1B2");
    assert_conflict(store.issue_pool_card(vera, v01, &desk()).await);
    for action in ["credential.create", "visitor_card.issue"] {
        let filter = LogFilter {
            action: Some(action.into()),
            actor: Some("reception".into()),
            ..Default::default()
        };
        let log = store.search_operator_log(&filter, None, 10).await.unwrap();
        assert_eq!(log.len(), 1, "{action}");
    }

    // The card opens the visit's zone, not another, and not after its window.
    let at = now();
    assert_eq!(
        door_decides(&store, "04A1B2", hq.door_in, at).await,
        Outcome::Granted
    );
    assert_eq!(
        door_decides(&store, "04A1B2", hq.door_other, at).await,
        Outcome::Denied
    );
    assert_eq!(
        door_decides(&store, "04A1B2", hq.door_in, end + Duration::minutes(1)).await,
        Outcome::Denied
    );

    // The desk takes it back: the credential revoked, the card in the drawer.
    let ended = store.end_visit_cards(vera, true, &desk()).await.unwrap();
    assert_eq!(ended.len(), 1);
    assert_eq!(ended[0].state, VisitorCardState::Available);
    assert_eq!(
        store.credential(credential.id).await.unwrap().state,
        CredentialState::Revoked
    );
    assert_eq!(
        door_decides(&store, "04A1B2", hq.door_in, now()).await,
        Outcome::Denied
    );
    // The same card goes to the next visitor.
    let (again, _) = store.issue_pool_card(vera, v01, &desk()).await.unwrap();
    assert_eq!(again.state, VisitorCardState::Issued);
    // Reported lost while out: it stops working at once.
    let lost = VisitorCardChange {
        state: Some(VisitorCardState::Lost),
        label: None,
    };
    let lost = store.update_visitor_card(v01, lost, &desk()).await.unwrap();
    assert_eq!(lost.state, VisitorCardState::Lost);
    assert_eq!(
        door_decides(&store, "04A1B2", hq.door_in, now()).await,
        Outcome::Denied
    );
    let issued_by_hand = VisitorCardChange {
        state: Some(VisitorCardState::Issued),
        label: None,
    };
    assert_invalid(
        store
            .update_visitor_card(v01, issued_by_hand, &desk())
            .await,
        "state",
    );
    let _ = plant.allowed;
    let _ = hq.other;
}

async fn overdue_visits_are_checked_out_and_unreturned_cards_alarm(db: &TestDb) {
    let store = db.store().await;
    let hq = place(&store, "HQ").await;
    let ada = host(&store, "Ada").await;
    let end = now() + Duration::hours(1);
    let vera = visit(&store, "Vera", ada, hq.allowed, end).await;
    check_in(db, &store, vera, "Vera").await;
    let v07 = pool_card(&store, hq.site, "07", "V-07").await;
    let (_, credential) = store.issue_pool_card(vera, v07, &desk()).await.unwrap();

    // Within the default grace (60 minutes, no site settings): nothing happens.
    let within = store
        .end_overdue_visits(end + Duration::minutes(59), &Actor::system())
        .await
        .unwrap();
    assert!(within.checked_out.is_empty() && within.alarms.is_empty());
    assert!(!store.visit(vera).await.unwrap().checked_out);

    let late = end + Duration::minutes(61);
    let ended = store
        .end_overdue_visits(late, &Actor::system())
        .await
        .unwrap();
    assert_eq!(ended.checked_out, [vera]);
    assert_eq!(ended.alarms, [v07]);
    let out = store.visit(vera).await.unwrap();
    assert_eq!(out.checked_out_at, Some(late));
    assert_eq!(
        store.visitor_card(v07).await.unwrap().state,
        VisitorCardState::Unreturned
    );
    assert_eq!(
        store.credential(credential.id).await.unwrap().state,
        CredentialState::Revoked
    );
    let filter = LogFilter {
        actor: Some("system".into()),
        action: Some("visit.check_out".into()),
        ..Default::default()
    };
    assert_eq!(
        store
            .search_operator_log(&filter, None, 10)
            .await
            .unwrap()
            .len(),
        1
    );
    let alarms = AlarmFilter {
        kind: Some(AlarmKind::VisitorCardUnreturned),
        site_id: Some(hq.site),
        ..Default::default()
    };
    let raised = store.list_alarms(&alarms, None, 10).await.unwrap();
    assert_eq!(raised.len(), 1);
    let detail = raised[0].detail.clone().unwrap_or_default();
    // The card and the visit, not the visitor: alarms are kept whole, names are purged.
    assert!(
        detail.contains("V-07") && detail.contains(&vera.to_string()) && !detail.contains("Vera"),
        "{detail}"
    );

    // Once per issue: the next pass raises nothing.
    let again = store
        .end_overdue_visits(late + Duration::minutes(5), &Actor::system())
        .await
        .unwrap();
    assert_eq!(again, Default::default());
    // The card comes back: available again.
    let back = VisitorCardChange {
        state: Some(VisitorCardState::Available),
        label: None,
    };
    let back = store.update_visitor_card(v07, back, &desk()).await.unwrap();
    assert_eq!(
        (back.state, back.visit_id, back.credential_id),
        (VisitorCardState::Available, None, None)
    );
}

async fn no_shows_are_marked_and_their_cards_go_back(db: &TestDb) {
    let store = db.store().await;
    let hq = place(&store, "HQ").await;
    let ada = host(&store, "Ada").await;
    let end = now() + Duration::hours(1);
    let nemo = visit(&store, "Nemo", ada, hq.allowed, end).await;
    let v03 = pool_card(&store, hq.site, "03", "V-03").await;
    // A card issued ahead (the visit is then set back to expected, as a pre-issue would
    // leave it).
    db.raw_execute("UPDATE visits SET status = 'checked_in' WHERE visitor_name = 'Nemo'")
        .await
        .unwrap();
    let (_, credential) = store.issue_pool_card(nemo, v03, &desk()).await.unwrap();
    db.raw_execute("UPDATE visits SET status = 'invited' WHERE visitor_name = 'Nemo'")
        .await
        .unwrap();

    let before = store
        .end_overdue_visits(end - Duration::minutes(1), &Actor::system())
        .await
        .unwrap();
    assert!(before.no_shows.is_empty());
    let ended = store
        .end_overdue_visits(end, &Actor::system())
        .await
        .unwrap();
    assert_eq!(ended.no_shows, [nemo]);
    assert!(ended.alarms.is_empty());
    let card = store.visitor_card(v03).await.unwrap();
    assert_eq!(card.state, VisitorCardState::Available);
    assert_eq!(
        store.credential(credential.id).await.unwrap().state,
        CredentialState::Revoked
    );
    let filter = LogFilter {
        actor: Some("system".into()),
        action: Some("visit.no_show".into()),
        ..Default::default()
    };
    let log = store.search_operator_log(&filter, None, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].after.as_ref().unwrap().0["status"], "no_show");
    let twice = store
        .end_overdue_visits(end + Duration::hours(3), &Actor::system())
        .await
        .unwrap();
    assert!(twice.no_shows.is_empty(), "a no-show ends once");
}

/// A visit still awaiting approval when its window ends is `expired` (not a no-show:
/// the visitor could not have been let in), its card back in the pool, and nothing moves
/// it again.
async fn visits_nobody_approved_expire_and_stay_ended(db: &TestDb) {
    use gatehouse_server::store::VisitStatus;
    let store = db.store().await;
    let hq = place(&store, "HQ").await;
    let ada = host(&store, "Ada").await;
    let end = now() + Duration::hours(1);
    let new = NewVisit {
        visitor_name: "Pending".into(),
        host_person_id: ada,
        window_start: now() - Duration::hours(1),
        window_end: end,
        allowed_zone_ids: [hq.allowed].into(),
        approval_reason: Some("zone outside the visit rules".into()),
        ..Default::default()
    };
    let pending = store.create_visit(new, &Actor::cli()).await.unwrap();
    assert_eq!(pending.status, VisitStatus::AwaitingApproval);
    let invited = visit(&store, "Nemo", ada, hq.allowed, end).await;
    let v04 = pool_card(&store, hq.site, "04", "V-04").await;
    // A card issued ahead (as in the no-show case).
    db.raw_execute("UPDATE visits SET status = 'checked_in' WHERE visitor_name = 'Pending'")
        .await
        .unwrap();
    let (_, credential) = store
        .issue_pool_card(pending.id, v04, &desk())
        .await
        .unwrap();
    db.raw_execute("UPDATE visits SET status = 'awaiting_approval' WHERE visitor_name = 'Pending'")
        .await
        .unwrap();

    let ended = store
        .end_overdue_visits(end, &Actor::system())
        .await
        .unwrap();
    assert_eq!(ended.expired, [pending.id]);
    assert_eq!(
        ended.no_shows,
        [invited],
        "an invited visit is still a no-show"
    );
    let after = store.visit(pending.id).await.unwrap();
    assert_eq!(after.status, VisitStatus::Expired);
    assert!(after.ended_at.is_some());
    assert_eq!(
        store.visitor_card(v04).await.unwrap().state,
        VisitorCardState::Available
    );
    assert_eq!(
        store.credential(credential.id).await.unwrap().state,
        CredentialState::Revoked
    );
    let filter = LogFilter {
        actor: Some("system".into()),
        action: Some("visit.expire".into()),
        ..Default::default()
    };
    let log = store.search_operator_log(&filter, None, 10).await.unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].after.as_ref().unwrap().0["status"], "expired");
    assert_eq!(
        log[0].before.as_ref().unwrap().0["status"],
        "awaiting_approval"
    );

    // Terminal: no approval, check-in, cancel or change; a later pass leaves it.
    for refused in [
        store.approve_visit(pending.id, &desk()).await,
        store.check_in_visit(pending.id, &desk()).await,
        store.cancel_visit(pending.id, &desk()).await,
    ] {
        assert!(
            matches!(refused, Err(StoreError::Rejected(why)) if why.contains("expired")),
            "{refused:?}"
        );
    }
    let change = NewVisit {
        visitor_name: "Pending".into(),
        host_person_id: ada,
        window_start: now(),
        window_end: now() + Duration::hours(2),
        allowed_zone_ids: [hq.allowed].into(),
        ..Default::default()
    };
    assert!(matches!(
        store.update_visit(pending.id, change, &desk()).await,
        Err(ModelError::Store(StoreError::Rejected(why))) if why.contains("expired")
    ));
    let again = store
        .end_overdue_visits(end + Duration::hours(3), &Actor::system())
        .await
        .unwrap();
    assert!(again.expired.is_empty(), "an expired visit ends once");
    assert_eq!(
        store.visit(pending.id).await.unwrap().status,
        VisitStatus::Expired
    );
}

async fn musters_list_checked_in_visitors_who_never_badged(db: &TestDb) {
    let store = db.store().await;
    let hq = place(&store, "HQ").await;
    let ada = host(&store, "Ada").await;
    let vera = visit(&store, "Vera", ada, hq.allowed, now() + Duration::hours(4)).await;
    let _expected = visit(&store, "Otto", ada, hq.allowed, now() + Duration::hours(4)).await;
    // The visitor's phone, as the desk registered it.
    db.raw_execute("UPDATE visitors SET phone = '+44 20 7946 0000' WHERE name = 'Vera'")
        .await
        .unwrap();
    check_in(db, &store, vera, "Vera").await;

    let muster = store.start_muster(hq.site, &desk()).await.unwrap();
    assert_eq!(muster.people.len(), 1, "Otto is not checked in");
    let listed = &muster.people[0];
    assert_eq!(
        (listed.holder_id, listed.kind.as_str(), listed.name.as_str()),
        (vera, "visitor", "Vera")
    );
    assert_eq!((listed.zone_id, listed.door_id), (None, None));
    assert_eq!(listed.zone_name, NEVER_BADGED);
    assert_eq!(listed.host_name.as_deref(), Some("Ada"));
    assert_eq!(listed.phone.as_deref(), Some("+44 20 7946 0000"));
    let marked = store
        .account_for(muster.id, vera, None, &desk())
        .await
        .unwrap();
    assert_eq!(marked.unaccounted, 0);
}

/// Raises one `visitor_card_unreturned` alarm at the site of `door` (whose agent carries
/// it): a visit into the door's zone keeps its pool card past the window and grace.
pub(crate) async fn unreturned_card_alarm(db: &TestDb, site: Uuid, door: Uuid) {
    let store = db.store().await;
    let zone = store.door(door).await.unwrap().to_zone_id;
    let ada = host(&store, "Ada").await;
    let end = now() + Duration::hours(1);
    let vera = visit(&store, "Vera", ada, zone, end).await;
    check_in(db, &store, vera, "Vera").await;
    let card = pool_card(&store, site, "0707", "V-07").await;
    store.issue_pool_card(vera, card, &desk()).await.unwrap();
    let ended = store
        .end_overdue_visits(end + Duration::hours(2), &Actor::system())
        .await
        .unwrap();
    assert_eq!(ended.alarms, [card]);
}

/// The API: a receptionist registers and hands out pool cards, only to a checked-in
/// visit, and cannot issue any other card; a host cannot change the pool.
#[tokio::test]
async fn a_receptionist_hands_out_pool_cards_and_nothing_else() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "rita", "receptionist").await;
    app.create_operator(&admin, "hank", "host").await;
    let rita = app.login("rita", crate::common::PASSWORD).await;
    let hank = app.login("hank", crate::common::PASSWORD).await;
    let store = db.store().await;
    let hq = place(&store, "HQ").await;
    let ada = host(&store, "Ada").await;
    let vera = visit(&store, "Vera", ada, hq.allowed, now() + Duration::hours(4)).await;

    let card = json!({"site_id": hq.site, "card": "04:a1:b2", "label": "V-01"});
    let response = app.post("/api/v1/visitor-cards", &hank, card.clone()).await;
    expect(response, StatusCode::FORBIDDEN).await;
    let v01 = created(app.post("/api/v1/visitor-cards", &rita, card).await).await;
    let bad = json!({"site_id": hq.site, "card": "zz", "label": " "});
    let response = app.post("/api/v1/visitor-cards", &rita, bad).await;
    invalid(response, "card").await;
    let listed = app
        .get_json(
            &format!("/api/v1/visitor-cards?site_id={}&state=available", hq.site),
            &rita,
        )
        .await;
    assert_eq!(listed["items"][0]["card"], "04A1B2");
    let listed = app.get_json("/api/v1/visitor-cards", &hank).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);

    // No card but a pool card, and only through the visit: the credentials API is closed.
    for holder in [json!({"visit_id": vera}), json!({"person_id": ada})] {
        let mut body = json!({"card": "0F0F"});
        body.as_object_mut()
            .unwrap()
            .extend(holder.as_object().unwrap().clone());
        let response = app.post("/api/v1/credentials", &rita, body).await;
        expect(response, StatusCode::FORBIDDEN).await;
    }
    let path = format!("/api/v1/visits/{vera}/card");
    let response = app
        .post(&path, &rita, json!({"visitor_card_id": v01}))
        .await;
    expect(response, StatusCode::CONFLICT).await;
    let response = app
        .post(&path, &rita, json!({"visitor_card_id": Uuid::new_v4()}))
        .await;
    invalid(response, "visitor_card_id").await;
    let response = app
        .post(
            &format!("/api/v1/visits/{}/card", Uuid::new_v4()),
            &rita,
            json!({"visitor_card_id": v01}),
        )
        .await;
    expect(response, StatusCode::NOT_FOUND).await;
    let response = app
        .post(&path, &hank, json!({"visitor_card_id": v01}))
        .await;
    expect(response, StatusCode::FORBIDDEN).await;

    check_in(&db, &store, vera, "Vera").await;
    let response = app
        .post(&path, &rita, json!({"visitor_card_id": v01}))
        .await;
    let issued = expect(response, StatusCode::CREATED).await;
    assert_eq!(issued["visitor_card"]["state"], "issued");
    assert_eq!(issued["credential"]["visit_id"], vera.to_string());

    let response = app
        .patch(
            &format!("/api/v1/visitor-cards/{v01}"),
            &rita,
            json!({"state": "available"}),
        )
        .await;
    let back = expect(response, StatusCode::OK).await;
    assert_eq!(back["state"], "available");
    let response = app
        .patch(
            &format!("/api/v1/visitor-cards/{v01}"),
            &hank,
            json!({"state": "lost"}),
        )
        .await;
    expect(response, StatusCode::FORBIDDEN).await;
    app.stop().await;
}
