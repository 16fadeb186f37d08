//! What the security desk reads of who is inside: each person's organisation and, for a
//! visitor, the host (occupants and muster lists, both backends), and every zone of a
//! site counted against its `max_occupancy` (API).

use super::support::Site;
use crate::common::{TestApp, TestDb, expect};
use crate::support::openapi::assert_declared;
use gatehouse_core::decide::{Direction, Outcome};
use gatehouse_core::model::PersonKind;
use gatehouse_server::store::{Actor, NewPerson};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

conformance!(occupants_and_musters_name_organisation_and_host,);

/// Ada and Vera (her visitor, of Acme Ltd) in the lobby, Cy (of Acme) in the lab.
async fn inside(store: gatehouse_server::store::Store) -> (Site, Uuid) {
    let mut s = Site::create(store).await;
    let cy = NewPerson {
        name: "Cy".into(),
        kind: PersonKind::Contractor,
        employer: Some("Acme".into()),
        clearance: 1,
    };
    let cy = s.store.create_person(cy, &Actor::cli()).await.unwrap().id;
    s.badge(s.ada, s.front, Direction::Entry, Outcome::Granted, 1)
        .await;
    s.badge(s.visit, s.front, Direction::Entry, Outcome::Granted, 2)
        .await;
    s.badge(cy, s.front, Direction::Entry, Outcome::Granted, 3)
        .await;
    s.badge(cy, s.lab_door, Direction::Entry, Outcome::Granted, 4)
        .await;
    (s, cy)
}

async fn occupants_and_musters_name_organisation_and_host(db: &TestDb) {
    let (s, cy) = inside(db.store().await).await;
    type Named<'a> = (Uuid, Option<&'a str>, Option<Uuid>, Option<&'a str>);
    let expected: Vec<Named> = vec![
        (cy, Some("Acme"), None, None),
        (s.ada, None, None, None),
        (s.visit, Some("Acme Ltd"), Some(s.ada), Some("Ada")),
    ];
    let occupants = s.store.site_occupants(s.site).await.unwrap();
    let named: Vec<Named> = occupants
        .iter()
        .map(|o| {
            let host = (o.host_person_id, o.host_name.as_deref());
            (o.holder_id, o.organisation.as_deref(), host.0, host.1)
        })
        .collect();
    assert_eq!(named, expected, "ordered by zone name, then name");

    let muster = s.store.start_muster(s.site, &Actor::cli()).await.unwrap();
    let listed: Vec<Named> = muster
        .people
        .iter()
        .map(|p| {
            let host = (p.host_person_id, p.host_name.as_deref());
            (p.holder_id, p.organisation.as_deref(), host.0, host.1)
        })
        .collect();
    assert_eq!(listed, expected);
    let lab = s.store.zone_occupants(s.lab).await.unwrap();
    assert_eq!(lab.len(), 1);
    assert_eq!(lab[0].organisation.as_deref(), Some("Acme"));
}

#[tokio::test]
async fn every_zone_is_counted_against_its_limit() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (s, _) = inside(db.store().await).await;
    for (zone, limit) in [(s.lobby, 10), (s.lab, 1)] {
        let body = json!({ "max_occupancy": limit });
        let response = app
            .patch(&format!("/api/v1/zones/{zone}"), &admin, body)
            .await;
        expect(response, StatusCode::OK).await;
    }
    let doc = app.public_json("/api/v1/openapi.json").await;

    let site = expect(
        app.get(&format!("/api/v1/sites/{}/occupancy", s.site), &admin)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_declared(&doc, "/api/v1/sites/{id}/occupancy", "get", "200", &site);
    assert_eq!(
        (&site["site_name"], &site["count"]),
        (&json!("HQ"), &json!(3))
    );
    let zones: Vec<(&str, u64, u64, &Value)> = site["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| {
            (
                z["zone_name"].as_str().unwrap(),
                z["count"].as_u64().unwrap(),
                z["inside"].as_u64().unwrap(),
                &z["max_occupancy"],
            )
        })
        .collect();
    let (none, ten, one) = (json!(null), json!(10), json!(1));
    assert_eq!(
        zones,
        [
            ("Street", 0, 0, &none),
            ("Lobby", 2, 3, &ten),
            ("Lab", 1, 1, &one)
        ],
        "every zone, empty ones too"
    );

    let lobby = expect(
        app.get(&format!("/api/v1/zones/{}/occupancy", s.lobby), &admin)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_declared(&doc, "/api/v1/zones/{id}/occupancy", "get", "200", &lobby);
    assert_eq!(
        (
            &lobby["zone_name"],
            &lobby["count"],
            &lobby["max_occupancy"]
        ),
        (&json!("Lobby"), &json!(3), &ten)
    );
    let vera = lobby["occupants"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["holder_id"] == json!(s.visit))
        .unwrap();
    assert_eq!(
        (&vera["host_name"], &vera["organisation"]),
        (&json!("Ada"), &json!("Acme Ltd"))
    );

    let list = format!("/api/v1/sites/{}/muster?format=csv", s.site);
    let csv = app.get(&list, &admin).await.text().await.unwrap();
    assert!(
        csv.contains("Vera,visitor,Acme Ltd,Ada,Lobby,Front,"),
        "{csv}"
    );
    let started = app
        .post(
            &format!("/api/v1/sites/{}/musters", s.site),
            &admin,
            json!({}),
        )
        .await;
    let muster = expect(started, StatusCode::CREATED).await;
    assert_declared(&doc, "/api/v1/sites/{id}/musters", "post", "201", &muster);
    let id = muster["id"].as_str().unwrap();
    let html = app
        .get(&format!("/api/v1/musters/{id}?format=html"), &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("<th>host</th>") && html.contains("<td>Acme Ltd</td>"),
        "{html}"
    );
}
