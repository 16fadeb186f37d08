//! The HTTP contract of the people model: shapes, 422 naming the field, 404 and 409.

use crate::common::{TestApp, error_of};
pub(crate) use crate::common::{expect, invalid};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

pub(crate) async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> Response {
    let mut request = app.request(method, path, Some(token));
    if let Some(body) = body {
        request = request.json(&body);
    }
    request.send().await.unwrap()
}

pub(crate) async fn zone(app: &TestApp, token: &str) -> String {
    let site = json!({"name": "Plant", "timezone": "Europe/Berlin"});
    let site = expect(
        app.post("/api/v1/sites", token, site).await,
        StatusCode::CREATED,
    )
    .await;
    let zone = json!({"site_id": site["id"], "name": "Yard", "level": 1});
    let zone = expect(
        app.post("/api/v1/zones", token, zone).await,
        StatusCode::CREATED,
    )
    .await;
    zone["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn person(app: &TestApp, token: &str, name: &str) -> String {
    let body = json!({"name": name, "kind": "staff", "clearance": 1});
    let person = expect(
        app.post("/api/v1/people", token, body).await,
        StatusCode::CREATED,
    )
    .await;
    person["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn people_and_vetting_follow_the_contract() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let body = json!({"name": " Ada ", "kind": "contractor", "employer": "Acme", "clearance": 3});
    let ada = expect(
        app.post("/api/v1/people", &admin, body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(ada["name"], "Ada");
    assert_eq!(
        (ada["kind"].clone(), ada["status"].clone()),
        (json!("contractor"), json!("active"))
    );
    assert_eq!(
        (ada["employer"].clone(), ada["clearance"].clone()),
        (json!("Acme"), json!(3))
    );
    assert!(
        ada["vetting"].is_null() && ada["group_ids"] == json!([]),
        "{ada}"
    );
    let path = format!("/api/v1/people/{}", ada["id"].as_str().unwrap());

    let patched = app
        .patch(
            &path,
            &admin,
            json!({"status": "suspended", "employer": null}),
        )
        .await;
    let patched = expect(patched, StatusCode::OK).await;
    assert_eq!(
        (patched["status"].clone(), patched["employer"].clone()),
        (json!("suspended"), Value::Null)
    );
    assert_eq!(app.get_json(&path, &admin).await, patched);

    let vetting =
        json!({"status": "cleared", "cleared_until": "2999-01-01T09:00:00Z", "reference": "V-1"});
    let put = send(
        &app,
        Method::PUT,
        &format!("{path}/vetting"),
        &admin,
        Some(vetting),
    )
    .await;
    let vetted = expect(put, StatusCode::OK).await;
    assert_eq!(vetted["vetting"]["status"], "cleared");
    assert_eq!(vetted["vetting"]["checked_by"], "admin");
    assert_eq!(vetted["vetting"]["cleared_until"], "2999-01-01T09:00:00Z");
    let revoke = json!({"status": "revoked", "note": "left the agency"});
    expect(
        send(
            &app,
            Method::PUT,
            &format!("{path}/vetting"),
            &admin,
            Some(revoke),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let history = app.get_json(&format!("{path}/vetting"), &admin).await;
    let statuses: Vec<_> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].clone())
        .collect();
    assert_eq!(
        statuses,
        [json!("revoked"), json!("cleared")],
        "newest first"
    );

    for (body, field) in [
        (
            json!({"status": "pending", "cleared_until": "2999-01-01T00:00:00Z"}),
            "cleared_until",
        ),
        (
            json!({"status": "cleared", "cleared_until": "2000-01-01T00:00:00Z"}),
            "cleared_until",
        ),
        (json!({"status": "bogus"}), "status"),
    ] {
        invalid(
            send(
                &app,
                Method::PUT,
                &format!("{path}/vetting"),
                &admin,
                Some(body),
            )
            .await,
            field,
        )
        .await;
    }
    for (body, field) in [
        (json!({"name": "", "kind": "staff", "clearance": 1}), "name"),
        (
            json!({"name": "X", "kind": "staff", "clearance": 256}),
            "clearance",
        ),
        (
            json!({"name": "X", "kind": "staff", "clearance": 1, "status": "left"}),
            "status",
        ),
    ] {
        invalid(app.post("/api/v1/people", &admin, body).await, field).await;
    }
    let unknown = format!("/api/v1/people/{}", uuid::Uuid::new_v4());
    assert_eq!(
        app.get(&unknown, &admin).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("{unknown}/vetting"), &admin)
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
    let searched = app.get_json("/api/v1/people?q=ad", &admin).await;
    assert_eq!(searched["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn credentials_normalise_cards_hide_pins_and_refuse_bad_input() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let ada = person(&app, &admin, "Ada").await;
    let body = json!({"person_id": ada, "card": "04:a2-2b 9c", "pin": "1234"});
    let created = expect(
        app.post("/api/v1/credentials", &admin, body).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["card"], "04A22B9C");
    assert_eq!(
        (created["kind"].clone(), created["state"].clone()),
        (json!("uid"), json!("active"))
    );
    assert_eq!(created["has_pin"], true);
    assert!(
        created.get("pin").is_none() && !created.to_string().contains("1234"),
        "{created}"
    );

    let duplicate = app
        .post(
            "/api/v1/credentials",
            &admin,
            json!({"person_id": ada, "card": "04A22B9C"}),
        )
        .await;
    assert_eq!(duplicate.status(), StatusCode::CONFLICT);
    assert!(
        error_of(duplicate).await["message"]
            .as_str()
            .unwrap()
            .contains("card")
    );

    let visit = uuid::Uuid::new_v4();
    for (body, field) in [
        (json!({"person_id": ada, "card": "0g"}), "card"),
        (json!({"person_id": ada, "card": "abc"}), "card"),
        (
            json!({"person_id": ada, "visit_id": visit, "card": "AB"}),
            "visit_id",
        ),
        (json!({"card": "AB"}), "person_id"),
        (json!({"person_id": ada, "card": "AB", "pin": "12"}), "pin"),
        (
            json!({"person_id": ada, "card": "AB", "pin": "123456789"}),
            "pin",
        ),
        (
            json!({"person_id": ada, "card": "AB", "valid_from": "2030-01-01T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"}),
            "valid_until",
        ),
        (
            json!({"person_id": ada, "card": "AB", "holder": "x"}),
            "holder",
        ),
        (
            json!({"person_id": uuid::Uuid::new_v4(), "card": "AB"}),
            "person_id",
        ),
    ] {
        invalid(app.post("/api/v1/credentials", &admin, body).await, field).await;
    }
    let path = format!("/api/v1/credentials/{}", created["id"].as_str().unwrap());
    let lost = expect(
        app.patch(&path, &admin, json!({"state": "lost", "pin": null}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (lost["state"].clone(), lost["has_pin"].clone()),
        (json!("lost"), json!(false))
    );
    let window =
        json!({"valid_from": "2030-01-02T00:00:00Z", "valid_until": "2030-01-01T00:00:00Z"});
    invalid(app.patch(&path, &admin, window).await, "valid_until").await;
    expect(
        app.patch(&path, &admin, json!({"state": "revoked"})).await,
        StatusCode::OK,
    )
    .await;
    let back = app.patch(&path, &admin, json!({"state": "active"})).await;
    assert_eq!(back.status(), StatusCode::CONFLICT);
    let listed = app
        .get_json(&format!("/api/v1/credentials?person_id={ada}"), &admin)
        .await;
    assert_eq!(listed["items"][0]["state"], "revoked");
    let unknown = format!("/api/v1/credentials/{}", uuid::Uuid::new_v4());
    assert_eq!(
        app.get(&unknown, &admin).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.patch(&unknown, &admin, json!({})).await.status(),
        StatusCode::NOT_FOUND
    );
}
