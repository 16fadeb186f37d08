//! The HTTP contract of groups, grants and visits.

use super::api::{expect, invalid, person, send, zone};
use crate::common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

#[tokio::test]
async fn groups_grants_and_visits_follow_the_contract() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let ada = person(&app, &admin, "Ada").await;
    let zone = zone(&app, &admin).await;
    let group = expect(
        app.post("/api/v1/groups", &admin, json!({"name": "Crew"}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let group_path = format!("/api/v1/groups/{}", group["id"].as_str().unwrap());
    let members = send(
        &app,
        Method::PUT,
        &format!("{group_path}/members"),
        &admin,
        Some(json!({"person_ids": [ada]})),
    )
    .await;
    assert_eq!(
        expect(members, StatusCode::OK).await["person_ids"],
        json!([ada])
    );
    let stranger = json!({"person_ids": [uuid::Uuid::new_v4()]});
    invalid(
        send(
            &app,
            Method::PUT,
            &format!("{group_path}/members"),
            &admin,
            Some(stranger),
        )
        .await,
        "person_ids",
    )
    .await;
    assert_eq!(
        app.post("/api/v1/groups", &admin, json!({"name": "Crew"}))
            .await
            .status(),
        StatusCode::CONFLICT
    );

    let grant =
        json!({"group_id": group["id"], "zone_id": zone, "valid_until": "2999-01-01T00:00:00Z"});
    let grant = expect(
        app.post("/api/v1/grants", &admin, grant).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        (grant["group_id"].clone(), grant["person_id"].clone()),
        (group["id"].clone(), Value::Null)
    );
    for (body, field) in [
        (
            json!({"person_id": ada, "group_id": group["id"], "zone_id": zone}),
            "group_id",
        ),
        (
            json!({"person_id": ada, "zone_id": uuid::Uuid::new_v4()}),
            "zone_id",
        ),
        (
            json!({"person_id": ada, "zone_id": zone, "schedule_id": uuid::Uuid::new_v4()}),
            "schedule_id",
        ),
        (
            json!({"person_id": ada, "zone_id": zone, "valid_from": "2030-01-01T00:00:00Z", "valid_until": "2029-01-01T00:00:00Z"}),
            "valid_until",
        ),
    ] {
        invalid(app.post("/api/v1/grants", &admin, body).await, field).await;
    }
    let in_use = send(&app, Method::DELETE, &group_path, &admin, None).await;
    assert_eq!(in_use.status(), StatusCode::CONFLICT);
    let zone_delete = send(
        &app,
        Method::DELETE,
        &format!("/api/v1/zones/{zone}"),
        &admin,
        None,
    )
    .await;
    assert_eq!(
        zone_delete.status(),
        StatusCode::CONFLICT,
        "a granted zone stays"
    );
    let by_zone = app
        .get_json(&format!("/api/v1/grants?zone_id={zone}"), &admin)
        .await;
    assert_eq!(by_zone["items"].as_array().unwrap().len(), 1);
    let grant_path = format!("/api/v1/grants/{}", grant["id"].as_str().unwrap());
    expect(
        send(&app, Method::DELETE, &grant_path, &admin, None).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(
        app.get(&grant_path, &admin).await.status(),
        StatusCode::NOT_FOUND
    );
    expect(
        send(&app, Method::DELETE, &group_path, &admin, None).await,
        StatusCode::NO_CONTENT,
    )
    .await;

    // The host may enter the zone, and security opened it to visitors for a working day.
    let own = json!({"person_id": ada, "zone_id": zone});
    expect(
        app.post("/api/v1/grants", &admin, own).await,
        StatusCode::CREATED,
    )
    .await;
    let rule = json!({"longest_visit_minutes": 720});
    let rule_path = format!("/api/v1/zones/{zone}/visitor-rule");
    expect(
        send(&app, Method::PUT, &rule_path, &admin, Some(rule)).await,
        StatusCode::OK,
    )
    .await;
    let now = chrono::Utc::now();
    let (start, end) = (
        now - chrono::Duration::hours(1),
        now + chrono::Duration::hours(8),
    );
    let visit = json!({"visitor_name": "Vera", "host_person_id": ada, "window_start": start,
        "window_end": end, "allowed_zone_ids": [zone], "escort_required": true});
    let visit = expect(
        app.post("/api/v1/visits", &admin, visit).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        (
            visit["checked_in"].clone(),
            visit["allowed_zone_ids"].clone()
        ),
        (json!(false), json!([zone]))
    );
    let visit_path = format!("/api/v1/visits/{}", visit["id"].as_str().unwrap());
    let badge = json!({"visit_id": visit["id"], "card": "BEEF"});
    let badge = expect(
        app.post("/api/v1/credentials", &admin, badge).await,
        StatusCode::CREATED,
    )
    .await;
    let inside = expect(
        app.post(&format!("{visit_path}/check-in"), &admin, json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(inside["checked_in"], true);
    assert_eq!(
        app.post(&format!("{visit_path}/check-in"), &admin, json!({}))
            .await
            .status(),
        StatusCode::CONFLICT
    );
    let out = expect(
        app.post(&format!("{visit_path}/check-out"), &admin, json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(out["checked_out"], true);
    let badge = app
        .get_json(
            &format!("/api/v1/credentials/{}", badge["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(
        badge["state"], "revoked",
        "check-out revokes the visitor card"
    );
    let bad_window = json!({"visitor_name": "V", "host_person_id": ada, "window_start": "2030-01-01T00:00:00Z",
        "window_end": "2029-01-01T00:00:00Z", "allowed_zone_ids": []});
    invalid(
        app.post("/api/v1/visits", &admin, bad_window).await,
        "window_end",
    )
    .await;
    let no_host = json!({"visitor_name": "V", "host_person_id": uuid::Uuid::new_v4(), "window_start": "2030-01-01T00:00:00Z",
        "window_end": "2030-01-01T08:00:00Z", "allowed_zone_ids": [zone]});
    invalid(
        app.post("/api/v1/visits", &admin, no_host).await,
        "host_person_id",
    )
    .await;
    let missing = format!("/api/v1/visits/{}/check-in", uuid::Uuid::new_v4());
    assert_eq!(
        app.post(&missing, &admin, json!({})).await.status(),
        StatusCode::NOT_FOUND
    );
    let log = app.get_json("/api/v1/operator-log?limit=500", &admin).await;
    let text = log.to_string();
    for action in [
        "person.create",
        "group.set_members",
        "grant.delete",
        "visit.check_out",
        "credential.update",
    ] {
        assert!(text.contains(action), "{action} logged");
    }
}
