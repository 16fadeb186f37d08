//! The console's watchlist and screening pages: an officer adds an entry, a visitor who
//! matches shows as pending with both names and the reason, the officer allows with a
//! note, and the match moves to the decided list; an auditor sees both pages without a
//! form.

use crate::common::{PASSWORD, TestApp};
use crate::console::client::Console;
use crate::support::site_model::{site, zone};
use gatehouse_core::model::PersonKind;
use gatehouse_server::screening::{Candidate, screen_visit};
use gatehouse_server::store::watchlist::{ScreeningFilter, ScreeningStage};
use gatehouse_server::store::{Actor, NewPerson, NewVisit, now};
use reqwest::StatusCode;

#[tokio::test]
async fn an_officer_keeps_the_list_and_decides_a_match_in_the_console() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "sofia", "security").await;
    app.create_operator(&admin, "audrey", "auditor").await;
    let officer = Console::login(&app, "sofia", PASSWORD).await;
    let added = officer
        .submit(
            "/admin/watchlist",
            &[
                ("name", "Ioannis Papadopoulos"),
                ("aliases", "Giannis Papas\n"),
                ("date_of_birth", ""),
                ("organisation", ""),
                ("reason", "Court order 77/2025"),
                ("action", "block"),
            ],
        )
        .await;
    assert_eq!(added.status, StatusCode::SEE_OTHER, "{}", added.body);
    let bad = officer
        .submit(
            "/admin/watchlist",
            &[("name", "X"), ("reason", "r"), ("action", "ban")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    let list = officer.get("/admin/watchlist?search=papadopoulos").await;
    assert!(list.body.contains("Ioannis Papadopoulos"), "{}", list.body);
    assert!(list.body.contains("Giannis Papas"));

    let store = db.store().await;
    let site = site(&store, "HQ").await;
    let lobby = zone(&store, site.id, None, 0).await;
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
    let visit = store
        .create_visit(
            NewVisit {
                visitor_name: "Ιωάννης Παπαδόπουλος".into(),
                visitor_organisation: None,
                host_person_id: host.id,
                window_start: now(),
                window_end: now() + chrono::Duration::hours(2),
                allowed_zone_ids: [lobby.id].into(),
                escort_required: false,
                ..Default::default()
            },
            &Actor::cli(),
        )
        .await
        .unwrap();
    let candidate = Candidate {
        name: "Ιωάννης Παπαδόπουλος".into(),
        date_of_birth: None,
        organisation: None,
    };
    let screening = screen_visit(
        &store,
        visit.id,
        candidate,
        ScreeningStage::Invitation,
        &Actor::cli(),
    )
    .await
    .unwrap();
    assert!(!screening.matches.is_empty(), "{screening:?}");

    let desk = officer.get("/screenings").await;
    assert_eq!(desk.status, StatusCode::OK);
    assert!(desk.body.contains("Ιωάννης Παπαδόπουλος"), "{}", desk.body);
    assert!(desk.body.contains("Court order 77/2025"));
    assert!(desk.body.contains("check-in blocked"));
    let auditor = Console::login(&app, "audrey", PASSWORD).await;
    let read_only = auditor.get("/screenings").await;
    assert!(read_only.body.contains("Ιωάννης Παπαδόπουλος"));
    assert!(
        !read_only.body.contains("/decision\""),
        "no form for an auditor"
    );
    let path = format!("/screenings/{}/decision", screening.id);
    let no_note = officer.submit(&path, &[("decision", "allowed")]).await;
    assert_eq!(no_note.status, StatusCode::UNPROCESSABLE_ENTITY);
    let decided = officer
        .submit(
            &path,
            &[
                ("decision", "allowed"),
                ("note", "Other person: passport seen"),
            ],
        )
        .await;
    assert_eq!(decided.status, StatusCode::SEE_OTHER, "{}", decided.body);
    assert_eq!(store.check_in_blocked(visit.id).await.unwrap(), None);
    let pending = ScreeningFilter {
        pending: Some(true),
        visit_id: None,
    };
    assert!(
        store
            .list_screenings(pending, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let desk = officer.get("/screenings").await;
    assert!(desk.body.contains("No match awaits a decision"));
    assert!(desk.body.contains("Other person: passport seen"));
}
