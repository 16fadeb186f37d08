//! Presence, occupancy and musters through the store, on both backends.

use super::support::{Site, sorted};
use crate::common::TestDb;
use Direction::{Entry, Exit};
use Outcome::{Denied, Granted, Pending};
use futures_util::StreamExt;
use gatehouse_core::decide::{Direction, Outcome};
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::export::offline::verify_export;
use gatehouse_server::audit::export::{self, ExportFilter, ExportRequest, Format};
use gatehouse_server::audit::verify::verify;
use gatehouse_server::store::{Actor, EventFilter, StoreError};
use std::collections::BTreeSet;
use uuid::Uuid;

conformance!(
    entries_and_exits_across_two_doors_move_people_between_zones,
    a_late_upload_does_not_undo_a_newer_passage,
    a_muster_lists_exactly_who_is_inside_and_records_every_mark,
    the_presence_feed_pages_through_changes_in_commit_order,
    a_released_entry_is_the_waiting_holders_passage_and_names_who_released_it,
);

async fn entries_and_exits_across_two_doors_move_people_between_zones(db: &TestDb) {
    let mut s = Site::create(db.store().await).await;
    let (ada, bo, vera) = (s.ada, s.bo, s.visit);
    let (front, lab_door) = (s.front, s.lab_door);
    // (who, door, direction, outcome) → who is in the lobby (with the lab below it), the
    // lab, and the site, after it.
    let steps = [
        (ada, front, Entry, Granted, vec![ada], vec![], vec![ada]),
        (bo, front, Entry, Denied, vec![ada], vec![], vec![ada]),
        (
            bo,
            front,
            Entry,
            Granted,
            vec![ada, bo],
            vec![],
            vec![ada, bo],
        ),
        (
            bo,
            lab_door,
            Entry,
            Granted,
            vec![ada, bo],
            vec![bo],
            vec![ada, bo],
        ),
        (
            vera,
            front,
            Entry,
            Granted,
            vec![ada, bo, vera],
            vec![bo],
            vec![ada, bo, vera],
        ),
        (
            ada,
            front,
            Exit,
            Granted,
            vec![bo, vera],
            vec![bo],
            vec![bo, vera],
        ),
        (
            bo,
            lab_door,
            Exit,
            Granted,
            vec![bo, vera],
            vec![],
            vec![bo, vera],
        ),
        (
            ada,
            lab_door,
            Entry,
            Granted,
            vec![ada, bo, vera],
            vec![ada],
            vec![ada, bo, vera],
        ),
    ];
    for (minute, (who, door, direction, outcome, lobby, lab, site)) in steps.into_iter().enumerate()
    {
        s.badge(who, door, direction, outcome, minute as i64).await;
        assert_eq!(
            s.in_zone(s.lobby).await,
            sorted(lobby),
            "lobby after step {minute}"
        );
        assert_eq!(
            s.in_zone(s.lab).await,
            sorted(lab),
            "lab after step {minute}"
        );
        assert_eq!(s.in_site().await, sorted(site), "site after step {minute}");
    }
    // The street is outside: the exit put nobody there now, but Ada was there between.
    assert!(s.in_zone(s.street).await.is_empty());
    // Checked out at reception after her last passage: Vera is no longer inside.
    s.store.check_out_visit(vera, &Actor::cli()).await.unwrap();
    assert_eq!(s.in_site().await, sorted(vec![ada, bo]));
}

async fn a_late_upload_does_not_undo_a_newer_passage(db: &TestDb) {
    let mut s = Site::create(db.store().await).await;
    s.badge(s.ada, s.front, Entry, Granted, 10).await;
    s.badge(s.ada, s.front, Exit, Granted, 20).await;
    // An event from minute 15 arrives last (an agent that was offline).
    s.badge(s.ada, s.lab_door, Entry, Granted, 15).await;
    assert!(s.in_site().await.is_empty(), "the exit at minute 20 stands");
    s.badge(s.ada, s.front, Entry, Granted, 25).await;
    assert_eq!(s.in_site().await, vec![s.ada]);
}

async fn a_muster_lists_exactly_who_is_inside_and_records_every_mark(db: &TestDb) {
    let mut s = Site::create(db.store().await).await;
    let key = AuditKey::load(&s.store).await.unwrap();
    s.badge(s.ada, s.front, Entry, Granted, 1).await;
    s.badge(s.bo, s.front, Entry, Granted, 2).await;
    s.badge(s.bo, s.lab_door, Entry, Granted, 3).await;
    s.badge(s.visit, s.front, Entry, Granted, 4).await;
    s.badge(s.ada, s.front, Exit, Granted, 5).await;
    let officer = Actor::cli();

    let muster = s.store.start_muster(s.site, &officer).await.unwrap();
    let listed = sorted(muster.people.iter().map(|p| p.holder_id).collect());
    assert_eq!(listed, sorted(vec![s.bo, s.visit]), "exactly who is inside");
    assert_eq!(muster.unaccounted, 2);
    let bo = muster.people.iter().find(|p| p.holder_id == s.bo).unwrap();
    assert_eq!(
        (bo.zone_name.as_str(), bo.door_name.as_deref()),
        ("Lab", Some("Lab door"))
    );
    let vera = muster
        .people
        .iter()
        .find(|p| p.holder_id == s.visit)
        .unwrap();
    assert_eq!(
        (vera.kind.as_str(), vera.name.as_str()),
        ("visitor", "Vera")
    );

    // Someone entering after the start is not on this muster's list.
    s.badge(s.ada, s.front, Entry, Granted, 6).await;
    let marked = s
        .store
        .account_for(muster.id, s.bo, Some("assembly point B".into()), &officer)
        .await
        .unwrap();
    assert_eq!((marked.people.len(), marked.unaccounted), (2, 1));
    assert!(matches!(
        s.store.account_for(muster.id, s.bo, None, &officer).await,
        Err(StoreError::Rejected(_))
    ));
    assert!(matches!(
        s.store.account_for(muster.id, s.ada, None, &officer).await,
        Err(StoreError::NotFound)
    ));
    let closed = s.store.close_muster(muster.id, &officer).await.unwrap();
    assert!(closed.closed_at.is_some());
    assert!(matches!(
        s.store
            .account_for(muster.id, s.visit, None, &officer)
            .await,
        Err(StoreError::Rejected(_))
    ));
    assert!(matches!(
        s.store.close_muster(muster.id, &officer).await,
        Err(StoreError::Rejected(_))
    ));

    let log = s.store.list_operator_log(None, 500).await.unwrap();
    let actions: Vec<&str> = log
        .iter()
        .map(|e| e.action.as_str())
        .filter(|a| a.starts_with("muster."))
        .collect();
    assert_eq!(actions, ["muster.start", "muster.account", "muster.close"]);
    let report = verify(&s.store, &key.public_key()).await.unwrap();
    assert!(report.ok, "{report:?}");
}

/// (holder, zone) of each change after `after`, and the last revision.
async fn changes(
    s: &Site,
    sites: &BTreeSet<Uuid>,
    after: Option<i64>,
    limit: u32,
) -> (Vec<(Uuid, Option<Uuid>)>, Option<i64>) {
    let page = s.store.presence_changes(sites, after, limit).await.unwrap();
    let revisions: Vec<i64> = page.iter().map(|c| c.revision).collect();
    assert!(revisions.windows(2).all(|w| w[0] < w[1]), "{revisions:?}");
    assert!(revisions.iter().all(|r| after.is_none_or(|a| *r > a)));
    let last = revisions.last().copied();
    (
        page.iter().map(|c| (c.holder_id, c.zone_id)).collect(),
        last,
    )
}

async fn the_presence_feed_pages_through_changes_in_commit_order(db: &TestDb) {
    let mut s = Site::create(db.store().await).await;
    let sites = BTreeSet::from([s.site]);
    s.badge(s.ada, s.front, Entry, Granted, 1).await;
    s.badge(s.bo, s.front, Entry, Denied, 2).await;
    s.badge(s.bo, s.front, Entry, Granted, 3).await;
    s.badge(s.ada, s.lab_door, Entry, Granted, 4).await;
    // Each holder once, at their latest passage, in the order those were stored.
    let (all, last) = changes(&s, &sites, None, 100).await;
    assert_eq!(all, [(s.bo, Some(s.lobby)), (s.ada, Some(s.lab))]);
    // Page by page: the same, one at a time.
    let (one, r1) = changes(&s, &sites, None, 1).await;
    let (two, r2) = changes(&s, &sites, r1, 1).await;
    assert_eq!([one, two].concat(), all);
    assert_eq!(r2, last);
    assert_eq!(changes(&s, &sites, last, 100).await, (vec![], None));
    // A late upload older than Ada's lab entry changes nothing; her exit does.
    s.badge(s.ada, s.front, Exit, Granted, 0).await;
    assert_eq!(changes(&s, &sites, last, 100).await, (vec![], None));
    s.badge(s.ada, s.front, Exit, Granted, 5).await;
    let (exit, _) = changes(&s, &sites, last, 100).await;
    assert_eq!(exit, [(s.ada, Some(s.street))]);
    // An agent of another site learns only that they are somewhere else.
    let elsewhere = BTreeSet::from([Uuid::now_v7()]);
    let (foreign, _) = changes(&s, &elsewhere, None, 100).await;
    assert_eq!(foreign, [(s.bo, None), (s.ada, None)]);
}

/// The escorted visitor, and the first of a two-person pair: each waits at the lab door
/// (`pending`, no passage), and Ada's granted entry releases them. The released entry is
/// their passage: presence, occupancy, the feed and the muster put them in the lab, and
/// the event names Ada and her event; the audit chain verifies.
async fn a_released_entry_is_the_waiting_holders_passage_and_names_who_released_it(db: &TestDb) {
    let mut s = Site::create(db.store().await).await;
    let key = AuditKey::load(&s.store).await.unwrap();
    let sites = BTreeSet::from([s.site]);
    for (case, waiting, minute) in [("escort", s.visit, 10), ("two-person", s.bo, 20)] {
        s.badge(waiting, s.front, Entry, Granted, minute).await;
        s.badge(s.ada, s.front, Entry, Granted, minute + 1).await;
        s.badge(waiting, s.lab_door, Entry, Pending, minute + 2)
            .await;
        let lab = s.in_zone(s.lab).await;
        assert!(!lab.contains(&waiting), "{case}: waiting is not inside");
        let (_, before) = changes(&s, &sites, None, 100).await;
        let by_seq = s.badge(s.ada, s.lab_door, Entry, Granted, minute + 3).await;
        s.released(waiting, s.ada, by_seq, s.lab_door, minute + 3)
            .await;
        let lab = s.in_zone(s.lab).await;
        assert!(
            lab.contains(&s.ada) && lab.contains(&waiting),
            "{case}: both inside the lab: {lab:?}"
        );
        let (fed, _) = changes(&s, &sites, before, 100).await;
        assert_eq!(
            fed,
            [(s.ada, Some(s.lab)), (waiting, Some(s.lab))],
            "{case}: the feed (anti-passback at other doors) has them in the lab"
        );
        let muster = s.store.start_muster(s.site, &Actor::cli()).await.unwrap();
        let listed = muster.people.iter().find(|p| p.holder_id == waiting);
        assert_eq!(
            listed.map(|p| p.zone_name.as_str()),
            Some("Lab"),
            "{case}: mustered where they are, not where they came from"
        );
        s.store
            .close_muster(muster.id, &Actor::cli())
            .await
            .unwrap();

        let filter = EventFilter {
            door_id: Some(s.lab_door),
            ..EventFilter::default()
        };
        let events = s.store.list_events(&filter, None, 100).await.unwrap();
        let by = events
            .iter()
            .find(|e| e.seq == i64::try_from(by_seq).unwrap());
        let by = by.expect("the releasing presentation is listed");
        let released: Vec<_> = events
            .iter()
            .filter(|e| e.kind == "released_entry")
            .collect();
        let entry = released.last().expect("the released entry is listed");
        assert_eq!(
            (
                entry.outcome.as_deref(),
                entry.reason.as_deref(),
                entry.direction.as_deref()
            ),
            (Some("granted"), Some("granted"), Some("entry")),
            "{case}"
        );
        assert_eq!(entry.person_id.or(entry.visit_id), Some(waiting), "{case}");
        assert_eq!(
            (entry.released_by, entry.release_of),
            (Some(s.ada), Some(by.id)),
            "{case}: names the releasing holder and event"
        );
        assert_eq!(
            (by.released_by, by.release_of),
            (None, None),
            "{case}: other events name no one"
        );
        // Exactly one passage each: the pending presentation stays pending.
        let waiting_granted = events
            .iter()
            .filter(|e| e.person_id.or(e.visit_id) == Some(waiting))
            .map(|e| (e.kind.as_str(), e.outcome.as_deref()))
            .collect::<Vec<_>>();
        assert_eq!(
            waiting_granted,
            [
                ("presentation", Some("pending")),
                ("released_entry", Some("granted"))
            ],
            "{case}"
        );
    }
    let report = verify(&s.store, &key.public_key()).await.unwrap();
    assert!(
        report.ok,
        "the released entries' new fields chain: {report:?}"
    );

    // An export shows who released whom, and its digests commit to it.
    let request = ExportRequest {
        from: s.t0 - chrono::Duration::days(1),
        to: s.t0 + chrono::Duration::days(1),
        filter: ExportFilter::default(),
        format: Format::Ndjson,
    };
    let plan = export::plan(&s.store, &key, request).await.unwrap();
    let mut chunks = std::pin::pin!(export::stream(s.store.clone(), plan));
    let mut out = Vec::new();
    while let Some(chunk) = chunks.next().await {
        out.extend(chunk.unwrap().0);
    }
    let text = String::from_utf8(out).unwrap();
    let report = verify_export(text.as_bytes(), &key.public_key()).unwrap();
    assert!(report.ok, "{report:?}");
    let ada = s.ada.to_string();
    let line = text
        .lines()
        .find(|l| l.contains("\"released_entry\""))
        .unwrap();
    let line: serde_json::Value = serde_json::from_str(line).unwrap();
    assert_eq!(line["released_by"], ada.as_str(), "{line}");
    assert!(line["release_of"].is_string(), "{line}");
    let edited = text.replacen(
        &format!("\"released_by\":\"{ada}\""),
        &format!("\"released_by\":\"{}\"", s.bo),
        1,
    );
    assert_ne!(edited, text);
    let report = verify_export(edited.as_bytes(), &key.public_key()).unwrap();
    assert!(!report.ok, "an edited released_by is found");
}
