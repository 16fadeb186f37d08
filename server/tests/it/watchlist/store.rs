//! The watchlist and screenings on SQLite and PostgreSQL: every change bumps the list's
//! version with its log entry; a screening is recorded with `visit.screening`; a block
//! blocks check-in until allowed; refused stays blocked; bad input changes nothing; the
//! retention purge empties screenings and the audit chain still verifies.

use crate::common::TestDb;
use crate::support::site_model::{site, zone};
use gatehouse_core::model::PersonKind;
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::verify::verify;
use gatehouse_server::screening::{Candidate, screen_visit};
use gatehouse_server::store::watchlist::{
    ScreeningDecision, ScreeningFilter, ScreeningOutcome, ScreeningStage, WatchAction,
    WatchlistInput,
};
use gatehouse_server::store::{
    Actor, ModelError, NewPerson, NewVisit, PURGED_NAME, Store, StoreError, now,
};
use uuid::Uuid;

conformance!(
    every_change_bumps_the_version_and_is_logged,
    a_screening_is_recorded_with_its_log_entry,
    a_block_blocks_until_allowed_and_refused_stays_blocked,
    a_flag_warns_but_does_not_block,
    bad_input_is_refused_and_changes_nothing,
    the_purge_empties_screenings_and_the_chain_verifies,
);

fn entry(name: &str, action: WatchAction) -> WatchlistInput {
    WatchlistInput {
        name: name.to_owned(),
        aliases: vec![],
        date_of_birth: None,
        organisation: None,
        reason: "Trespass order".to_owned(),
        action,
    }
}

fn who(name: &str) -> Candidate {
    Candidate {
        name: name.to_owned(),
        date_of_birth: None,
        organisation: None,
    }
}

/// A visit ending `hours` from now.
async fn visit(store: &Store, name: &str, hours: i64) -> Uuid {
    let site = site(store, &format!("Site {}", Uuid::new_v4())).await;
    let lobby = zone(store, site.id, None, 0).await;
    let host = store
        .create_person(
            NewPerson {
                name: "Hana".into(),
                kind: PersonKind::Staff,
                employer: None,
                clearance: 1,
            },
            &Actor::cli(),
        )
        .await
        .unwrap();
    let new = NewVisit {
        visitor_name: name.into(),
        visitor_organisation: None,
        host_person_id: host.id,
        window_start: now() - chrono::Duration::hours(1),
        window_end: now() + chrono::Duration::hours(hours),
        allowed_zone_ids: [lobby.id].into(),
        escort_required: false,
        ..Default::default()
    };
    store.create_visit(new, &Actor::cli()).await.unwrap().id
}

async fn actions(store: &Store) -> Vec<String> {
    let log = store.list_operator_log(None, 500).await.unwrap();
    log.into_iter().map(|e| e.action).collect()
}

async fn every_change_bumps_the_version_and_is_logged(db: &TestDb) {
    let store = db.store().await;
    assert_eq!(store.watchlist_version().await.unwrap().version, 0);
    let created = store
        .create_watchlist_entry(entry("Iván Petróv", WatchAction::Block), &Actor::cli())
        .await
        .unwrap();
    assert_eq!(store.watchlist_version().await.unwrap().version, 1);
    let mut changed = entry("Ivan Petrov", WatchAction::Flag);
    changed.aliases = vec!["Vanya".into()];
    let updated = store
        .update_watchlist_entry(created.id, changed, &Actor::cli())
        .await
        .unwrap();
    assert_eq!(updated.action, WatchAction::Flag);
    assert_eq!(store.watchlist_version().await.unwrap().version, 2);
    let found = store
        .list_watchlist(Some("PETROV ivan"), None, 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 1, "search ignores case and order");
    assert_eq!(found[0].aliases, vec!["Vanya".to_owned()]);
    let found = store.list_watchlist(Some("vanya"), None, 10).await.unwrap();
    assert_eq!(found.len(), 1, "search looks in aliases");
    assert!(
        store
            .list_watchlist(Some("smith"), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .delete_watchlist_entry(created.id, &Actor::cli())
        .await
        .unwrap();
    assert_eq!(store.watchlist_version().await.unwrap().version, 3);
    assert!(matches!(
        store.watchlist_entry(created.id).await,
        Err(StoreError::NotFound)
    ));
    let log = store.list_operator_log(None, 500).await.unwrap();
    let changes: Vec<_> = log
        .iter()
        .filter(|e| e.target_type == "watchlist_entry")
        .map(|e| {
            let after = e.after.as_ref().map(|j| j.0["list_version"].clone());
            (e.action.as_str(), after)
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            ("watchlist.create", Some(1.into())),
            ("watchlist.update", Some(2.into())),
            ("watchlist.delete", None),
        ]
    );
}

async fn a_screening_is_recorded_with_its_log_entry(db: &TestDb) {
    let store = db.store().await;
    let listed = store
        .create_watchlist_entry(entry("José García", WatchAction::Block), &Actor::cli())
        .await
        .unwrap();
    let visit = visit(&store, "Jose Garcia", 4).await;
    let screening = screen_visit(
        &store,
        visit,
        who("GARCIA, Jose"),
        ScreeningStage::Invitation,
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert_eq!(screening.outcome, ScreeningOutcome::Block);
    assert_eq!(screening.list_version, 1);
    assert_eq!(screening.algorithm, "nfkd-translit-dm1-jw/1");
    assert_eq!(screening.best_score, 1.0);
    assert_eq!(screening.matches[0].entry_id, listed.id);
    assert_eq!(screening.matches[0].listed_name, "José García");
    assert_eq!(screening.matches[0].candidate_name, "GARCIA, Jose");
    assert_eq!(store.screening(screening.id).await.unwrap(), screening);
    let log = store.list_operator_log(None, 500).await.unwrap();
    let last = log.last().unwrap();
    assert_eq!(last.action, "visit.screening");
    assert_eq!(last.target_id.as_deref(), Some(visit.to_string().as_str()));
    let after = &last.after.as_ref().unwrap().0;
    assert_eq!(after["list_version"], 1);
    assert_eq!(after["algorithm"], "nfkd-translit-dm1-jw/1");
    assert_eq!(after["best_score"], 1.0);
    assert_eq!(after["outcome"], "block");

    // A clear screening is recorded too, and the cached index follows the list.
    let clear = screen_visit(
        &store,
        visit,
        who("Otto Other"),
        ScreeningStage::CheckIn,
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert_eq!(
        (clear.outcome, clear.best_score),
        (ScreeningOutcome::Clear, 0.0)
    );
    store
        .create_watchlist_entry(entry("Otto Other", WatchAction::Flag), &Actor::cli())
        .await
        .unwrap();
    let again = screen_visit(
        &store,
        visit,
        who("Otto Other"),
        ScreeningStage::CheckIn,
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert_eq!(
        (again.outcome, again.list_version),
        (ScreeningOutcome::Flag, 2)
    );
    let of_visit = ScreeningFilter {
        pending: Some(true),
        visit_id: Some(visit),
    };
    let pending = store.list_screenings(of_visit, None, 10).await.unwrap();
    assert_eq!(
        pending.iter().map(|s| s.id).collect::<Vec<_>>(),
        vec![again.id, screening.id],
        "newest first, the clear one not pending"
    );
}

async fn a_block_blocks_until_allowed_and_refused_stays_blocked(db: &TestDb) {
    let store = db.store().await;
    store
        .create_watchlist_entry(entry("Catherine Smith", WatchAction::Block), &Actor::cli())
        .await
        .unwrap();
    let allowed_visit = visit(&store, "Katherine Smyth", 4).await;
    let refused_visit = visit(&store, "Catherine Smith", 4).await;
    let stage = ScreeningStage::Invitation;
    let first = screen_visit(
        &store,
        allowed_visit,
        who("Katherine Smyth"),
        stage,
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert_eq!(first.outcome, ScreeningOutcome::Block, "{first:?}");
    let second = screen_visit(
        &store,
        refused_visit,
        who("Catherine Smith"),
        stage,
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert!(
        store
            .check_in_blocked(allowed_visit)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .check_in_blocked(refused_visit)
            .await
            .unwrap()
            .is_some()
    );

    let officer = Actor {
        id: None,
        name: "sofia".into(),
        request_id: None,
    };
    let allowed = store
        .decide_screening(
            first.id,
            ScreeningDecision::Allowed,
            "Different person: ID checked",
            &officer,
        )
        .await
        .unwrap();
    assert_eq!(allowed.decided_by.as_deref(), Some("sofia"));
    assert_eq!(store.check_in_blocked(allowed_visit).await.unwrap(), None);
    store
        .decide_screening(
            second.id,
            ScreeningDecision::Refused,
            "Same person",
            &officer,
        )
        .await
        .unwrap();
    let why = store.check_in_blocked(refused_visit).await.unwrap();
    assert!(why.unwrap().contains("refused"));
    // Decided once only.
    let twice = store
        .decide_screening(
            first.id,
            ScreeningDecision::Refused,
            "changed my mind",
            &officer,
        )
        .await;
    assert!(matches!(
        twice,
        Err(ModelError::Store(StoreError::Rejected(_)))
    ));
    let log = actions(&store).await;
    assert_eq!(
        log.iter()
            .filter(|a| *a == "visit.screening_decision")
            .count(),
        2
    );
}

async fn a_flag_warns_but_does_not_block(db: &TestDb) {
    let store = db.store().await;
    store
        .create_watchlist_entry(entry("Ivan Petrov", WatchAction::Flag), &Actor::cli())
        .await
        .unwrap();
    let visit = visit(&store, "Иван Петров", 4).await;
    let screening = screen_visit(
        &store,
        visit,
        who("Иван Петров"),
        ScreeningStage::CheckIn,
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert_eq!(screening.outcome, ScreeningOutcome::Flag);
    assert_eq!(store.check_in_blocked(visit).await.unwrap(), None);
}

/// The field a 422 names.
fn field<T: std::fmt::Debug>(result: Result<T, ModelError>) -> &'static str {
    match result {
        Err(ModelError::Invalid { field, .. }) => field,
        other => panic!("expected a 422, got {other:?}"),
    }
}

async fn bad_input_is_refused_and_changes_nothing(db: &TestDb) {
    let store = db.store().await;
    let good = store
        .create_watchlist_entry(entry("Ivan Petrov", WatchAction::Flag), &Actor::cli())
        .await
        .unwrap();
    let mut bad = entry(" ", WatchAction::Block);
    assert_eq!(
        field(
            store
                .create_watchlist_entry(bad.clone(), &Actor::cli())
                .await
        ),
        "name"
    );
    bad.name = "-- . --".into();
    assert_eq!(
        field(
            store
                .create_watchlist_entry(bad.clone(), &Actor::cli())
                .await
        ),
        "name"
    );
    bad.name = "Real Name".into();
    bad.reason = "\n".into();
    assert_eq!(
        field(
            store
                .update_watchlist_entry(good.id, bad.clone(), &Actor::cli())
                .await
        ),
        "reason"
    );
    bad.reason = "ok".into();
    bad.aliases = vec!["".into()];
    assert_eq!(
        field(
            store
                .create_watchlist_entry(bad.clone(), &Actor::cli())
                .await
        ),
        "aliases"
    );
    bad.aliases = vec![];
    bad.date_of_birth = Some(now().naive_utc().date() + chrono::Duration::days(2));
    assert_eq!(
        field(store.create_watchlist_entry(bad, &Actor::cli()).await),
        "date_of_birth"
    );
    assert_eq!(actions(&store).await.len(), 1, "only the entry");
    let unknown = screen_visit(
        &store,
        Uuid::new_v4(),
        who("Ivan Petrov"),
        ScreeningStage::Invitation,
        &Actor::cli(),
    )
    .await;
    assert_eq!(field(unknown), "visit_id");
    let visit = visit(&store, "Vera", 4).await;
    // Everything logged so far: the entry, and the site, zone, host and visit.
    let log = actions(&store).await.len();
    let blank = screen_visit(
        &store,
        visit,
        who("  "),
        ScreeningStage::Invitation,
        &Actor::cli(),
    )
    .await;
    assert_eq!(field(blank), "name");
    let flagged = screen_visit(
        &store,
        visit,
        who("Ivan Petrov"),
        ScreeningStage::Invitation,
        &Actor::cli(),
    )
    .await
    .unwrap();
    let no_note = store
        .decide_screening(flagged.id, ScreeningDecision::Allowed, " ", &Actor::cli())
        .await;
    assert_eq!(field(no_note), "note");
    assert_eq!(store.screening(flagged.id).await.unwrap().decision, None);
    assert_eq!(store.watchlist_version().await.unwrap().version, 1);
    assert_eq!(store.watchlist_entry(good.id).await.unwrap(), good);
    assert_eq!(actions(&store).await.len(), log + 1, "only the screening");
}

async fn the_purge_empties_screenings_and_the_chain_verifies(db: &TestDb) {
    let store = db.store().await;
    let key = AuditKey::load(&store).await.unwrap();
    store
        .create_watchlist_entry(entry("Vera Visitor", WatchAction::Block), &Actor::cli())
        .await
        .unwrap();
    let ended = visit(&store, "Vera Visitor", 1).await;
    let current = visit(&store, "Vera Visitor", 240).await;
    for v in [ended, current] {
        let s = screen_visit(
            &store,
            v,
            who("Vera Visitor"),
            ScreeningStage::Invitation,
            &Actor::cli(),
        )
        .await
        .unwrap();
        store
            .decide_screening(s.id, ScreeningDecision::Allowed, "known", &Actor::cli())
            .await
            .unwrap();
    }
    let summary = store
        .purge_visitor_data(now() + chrono::Duration::days(2), &Actor::system())
        .await
        .unwrap();
    assert_eq!(summary.visits, 1);
    let of = |visit| ScreeningFilter {
        pending: None,
        visit_id: Some(visit),
    };
    let purged = store.list_screenings(of(ended), None, 10).await.unwrap();
    assert_eq!(purged[0].candidate_name, PURGED_NAME);
    assert_eq!(purged[0].matches[0].candidate_name, PURGED_NAME);
    assert_eq!(purged[0].decision, Some(ScreeningDecision::Allowed));
    let kept = store.list_screenings(of(current), None, 10).await.unwrap();
    assert_eq!(kept[0].candidate_name, "Vera Visitor");
    let log = store.list_operator_log(None, 500).await.unwrap();
    let ended_id = ended.to_string();
    for e in log
        .iter()
        .filter(|e| e.target_id.as_deref() == Some(ended_id.as_str()))
    {
        assert!(e.before.is_none() && e.after.is_none(), "{}", e.action);
    }
    let report = verify(&store, &key.public_key()).await.unwrap();
    assert!(report.ok, "the chain verifies after the purge: {report:?}");
}
