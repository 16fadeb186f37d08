//! The HR file's `groups` column and its other field separators, on both backends: a
//! `;`-separated European export (byte-order mark, CRLF) gives people their groups in
//! the same all-or-nothing import; an unknown group is that line's error; a changed
//! column moves the person (logged as the person's update); a second run changes nothing.

use super::{import, marks, person_by_external_id};
use crate::common::TestDb;
use gatehouse_server::import::ImportError;
use gatehouse_server::store::{Actor, Store};
use uuid::Uuid;

async fn group(store: &Store, name: &str) -> Uuid {
    store
        .create_group(name.to_owned(), &Actor::cli())
        .await
        .unwrap()
        .id
}

fn european(rows: &[&str]) -> String {
    let mut text = "\u{feff}external_id;name;kind;employer;clearance;groups".to_owned();
    for row in rows {
        text.push_str("\r\n");
        text.push_str(row);
    }
    text.push_str("\r\n");
    text
}

async fn the_groups_column_sets_memberships(db: &TestDb) {
    let store = db.store().await;
    let lab = group(&store, "Lab").await;
    let night = group(&store, "Night shift").await;
    let file = european(&[
        "E1;Zoë Müller;staff;\"Acme; Köln\";2;Lab|Night shift",
        "E2;Jan de Vries;contractor;;1;Lab",
        "E3;Kim;staff;;1;",
    ]);
    let summary = import(&store, &file).await.unwrap();
    assert_eq!(summary.people_created, 3);
    let zoe = person_by_external_id(&store, "E1").await;
    assert_eq!(zoe.employer.as_deref(), Some("Acme; Köln"));
    let mut both = vec![lab, night];
    both.sort();
    assert_eq!(zoe.group_ids, both);
    let jan = person_by_external_id(&store, "E2").await;
    assert_eq!(jan.group_ids, [lab]);
    assert!(
        person_by_external_id(&store, "E3")
            .await
            .group_ids
            .is_empty()
    );
    let mut members = vec![zoe.id, jan.id];
    members.sort();
    assert_eq!(store.group(lab).await.unwrap().person_ids, members);

    let before = marks(&store).await;
    let again = import(&store, &file).await.unwrap();
    assert!(!again.changed(), "{again:?}");
    assert_eq!(marks(&store).await, before, "no bump, no log entry");

    // Jan moves to the night shift; Kim's empty cell leaves Kim as is.
    let moved = european(&[
        "E1;Zoë Müller;staff;\"Acme; Köln\";2;Lab|Night shift",
        "E2;Jan de Vries;contractor;;1;Night shift",
        "E3;Kim;staff;;1;",
    ]);
    let summary = import(&store, &moved).await.unwrap();
    assert_eq!((summary.people_updated, summary.unchanged_rows), (1, 2));
    assert_eq!(person_by_external_id(&store, "E2").await.group_ids, [night]);
    assert_eq!(store.group(lab).await.unwrap().person_ids, [zoe.id]);
    let log = store.list_operator_log(None, 1000).await.unwrap();
    assert!(
        log.iter()
            .any(|e| e.action == "person.update" && e.target_id == Some(jan.id.to_string())),
        "the move is the person's logged update"
    );
}

async fn an_unknown_group_is_the_line_s_error(db: &TestDb) {
    let store = db.store().await;
    group(&store, "Lab").await;
    let before = marks(&store).await;
    let file = european(&["E1;Ada;staff;;1;Lab", "E2;Bob;staff;;1;Lab|Labs|Roof"]);
    let Err(ImportError::Invalid(errors)) = import(&store, &file).await else {
        panic!("the file is refused")
    };
    let [error] = errors.as_slice() else {
        panic!("one error: {errors:?}")
    };
    assert_eq!((error.line, error.field.as_str()), (3, "groups"));
    assert!(
        error.message.contains("\"Labs\", \"Roof\""),
        "names the unknown groups: {}",
        error.message
    );
    assert_eq!(marks(&store).await, before, "nothing imported");
    assert!(store.list_people(None, None, 10).await.unwrap().is_empty());
}

async fn a_tab_separated_file_is_imported(db: &TestDb) {
    let store = db.store().await;
    let lab = group(&store, "Lab").await;
    let file = "external_id\tname\tkind\tclearance\tgroups\nE1\tAda, Countess\tstaff\t3\tLab\n";
    import(&store, file).await.unwrap();
    let ada = person_by_external_id(&store, "E1").await;
    assert_eq!(
        (ada.name.as_str(), ada.group_ids.as_slice()),
        ("Ada, Countess", &[lab][..])
    );
}

conformance!(
    the_groups_column_sets_memberships,
    an_unknown_group_is_the_line_s_error,
    a_tab_separated_file_is_imported,
);
