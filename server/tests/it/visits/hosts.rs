//! Hosts: an operator account linked to a person invites that person's visitors only,
//! and sees only them.

use super::support::{operator, put, site, visit};
use crate::common::{TestApp, TestDb, expect};
use reqwest::StatusCode;
use serde_json::json;

conformance!(a_host_invites_and_sees_only_its_own_visitors);

async fn a_host_invites_and_sees_only_its_own_visitors(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let (hana_account, hana) = operator(&app, &s.admin, "hana", "host").await;
    let (_, desk) = operator(&app, &s.admin, "rita", "receptionist").await;
    // Not linked yet: a host can invite no one.
    let unlinked = app
        .post("/api/v1/visits", &hana, visit(&s.host, &[&s.lobby], 60))
        .await;
    assert_eq!(unlinked.status(), StatusCode::FORBIDDEN);
    let link = format!("/api/v1/operators/{hana_account}/person");
    let linked = put(&app, &s.admin, &link, json!({"person_id": s.host})).await;
    assert_eq!(
        expect(linked, StatusCode::OK).await["person_id"],
        s.host.as_str()
    );
    // A person has one account at most; an unknown person is a 422.
    let (rita_account, _) = (app.create_operator(&s.admin, "hugo", "host").await, ());
    let twice = put(
        &app,
        &s.admin,
        &format!("/api/v1/operators/{rita_account}/person"),
        json!({"person_id": s.host}),
    )
    .await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    let stranger = json!({"person_id": uuid::Uuid::new_v4()});
    let stranger = put(
        &app,
        &s.admin,
        &format!("/api/v1/operators/{rita_account}/person"),
        stranger,
    )
    .await;
    assert_eq!(stranger.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let own = app
        .post("/api/v1/visits", &hana, visit(&s.host, &[&s.lobby], 60))
        .await;
    let own = expect(own, StatusCode::CREATED).await;
    let for_other = app
        .post(
            "/api/v1/visits",
            &hana,
            visit(&s.other_host, &[&s.lobby], 60),
        )
        .await;
    assert_eq!(for_other.status(), StatusCode::FORBIDDEN);
    let others = app
        .post(
            "/api/v1/visits",
            &desk,
            visit(&s.other_host, &[&s.lobby], 60),
        )
        .await;
    let others = expect(others, StatusCode::CREATED).await;

    let mine = app.get_json("/api/v1/visits?host_person_id=", &hana).await;
    assert!(
        mine.get("items").is_none(),
        "a bad filter is a 422, not a list"
    );
    let mine = app.get_json("/api/v1/visits", &hana).await;
    let ids: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [own["id"].as_str().unwrap()]);
    let asked_for_other = format!("/api/v1/visits?host_person_id={}", s.other_host);
    let still_mine = app.get_json(&asked_for_other, &hana).await;
    assert_eq!(
        still_mine["items"].as_array().unwrap().len(),
        1,
        "filters cannot widen a host's view"
    );
    let other_path = format!("/api/v1/visits/{}", others["id"].as_str().unwrap());
    assert_eq!(
        app.get(&other_path, &hana).await.status(),
        StatusCode::NOT_FOUND
    );
    let cancel_other = app
        .post(&format!("{other_path}/cancel"), &hana, json!({}))
        .await;
    assert_eq!(cancel_other.status(), StatusCode::NOT_FOUND);
    // The host cancels its own, but checking in is the desk's.
    let own_path = format!("/api/v1/visits/{}", own["id"].as_str().unwrap());
    let check_in = app
        .post(&format!("{own_path}/check-in"), &hana, json!({}))
        .await;
    assert_eq!(check_in.status(), StatusCode::FORBIDDEN);
    let cancelled = app
        .post(&format!("{own_path}/cancel"), &hana, json!({}))
        .await;
    assert_eq!(
        expect(cancelled, StatusCode::OK).await["status"],
        "cancelled"
    );
    let late = app
        .post(&format!("{own_path}/check-in"), &desk, json!({}))
        .await;
    assert_eq!(
        late.status(),
        StatusCode::CONFLICT,
        "a cancelled visit cannot check in"
    );
}
