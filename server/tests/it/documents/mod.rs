//! Visitor documents and badges: the store on both backends (`store`), and the API with
//! badge PDFs read back by independent tools (`api`: poppler's `pdftoppm`/`pdftotext`,
//! zbar's `zbarimg`).

mod api;
mod console;
mod store;

use crate::common::TestDb;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::model::PersonKind;
use gatehouse_server::store::documents::VisitSheet;
use gatehouse_server::store::{Actor, NewPerson, NewVisit, Store, now};
use uuid::Uuid;

/// An id as a literal of the backend (SQLite stores UUIDs as blobs).
pub fn id_sql(db: &TestDb, id: Uuid) -> String {
    if db.url.starts_with("postgres") {
        format!("'{id}'")
    } else {
        format!("X'{}'", id.simple())
    }
}

/// A visitor record (the lead's visitor store may not have landed: plain SQL).
pub async fn visitor(db: &TestDb, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    let at = if db.url.starts_with("postgres") {
        "now()".to_owned()
    } else {
        format!("'{}'", now().to_rfc3339())
    };
    let sql = format!(
        "INSERT INTO visitors (id, name, created_at, updated_at) VALUES ({}, '{name}', {at}, {at})",
        id_sql(db, id)
    );
    db.raw_execute(&sql).await.unwrap();
    id
}

/// A visit by `visitor` at `site` of `visit_type`, ending at `end` (default: in 8 hours),
/// through the store, with the visit-management columns set by SQL.
pub async fn visit_at(
    db: &TestDb,
    store: &Store,
    site: Option<Uuid>,
    visit_type: &str,
    visitor: Uuid,
    end: Option<DateTime<Utc>>,
) -> Uuid {
    let host = store
        .create_person(
            NewPerson {
                name: "Hannah Host".into(),
                kind: PersonKind::Staff,
                employer: None,
                clearance: 1,
            },
            &Actor::cli(),
        )
        .await
        .unwrap();
    let end = end.unwrap_or_else(|| now() + Duration::hours(8));
    let visit = store
        .create_visit(
            NewVisit {
                visitor_name: "Vera Visitor".into(),
                visitor_organisation: Some("Supplier Ltd".into()),
                host_person_id: host.id,
                window_start: end - Duration::hours(9),
                window_end: end,
                allowed_zone_ids: Default::default(),
                escort_required: true,
                ..Default::default()
            },
            &Actor::cli(),
        )
        .await
        .unwrap();
    let site = site.map_or("NULL".to_owned(), |s| id_sql(db, s));
    let sql = format!(
        "UPDATE visits SET site_id = {site}, visit_type = '{visit_type}', visitor_id = {}, \
         check_in_code = 'GH-{}' WHERE id = {}",
        id_sql(db, visitor),
        &visit.id.simple().to_string()[20..],
        id_sql(db, visit.id)
    );
    db.raw_execute(&sql).await.unwrap();
    visit.id
}

pub async fn facts(store: &Store, visit: Uuid) -> VisitSheet {
    store.visit_sheet(visit).await.unwrap()
}
