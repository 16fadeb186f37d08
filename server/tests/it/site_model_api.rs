//! The site model through the API: the contract's shapes, a 422 naming each bad field,
//! 404 for unknown ids and 409 for deletes others depend on.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{TestApp, error_of, invalid};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

/// Posts and expects 201; returns the body.
async fn created(app: &TestApp, token: &str, path: &str, body: Value) -> Value {
    let response = app.post(path, token, body.clone()).await;
    assert_eq!(response.status(), StatusCode::CREATED, "{path} {body}");
    response.json().await.unwrap()
}

async fn delete(app: &TestApp, token: &str, path: &str) -> StatusCode {
    let response = app
        .request(Method::DELETE, path, Some(token))
        .send()
        .await
        .unwrap();
    response.status()
}

async fn put(app: &TestApp, token: &str, path: &str, body: Value) -> Response {
    app.request(Method::PUT, path, Some(token))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn sites_follow_the_contract() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let site = created(
        &app,
        &admin,
        "/api/v1/sites",
        json!({"name": " HQ ", "timezone": "Europe/Berlin"}),
    )
    .await;
    assert_eq!(site["name"], "HQ");
    assert_eq!(site["timezone"], "Europe/Berlin");
    assert_eq!(
        site["threat"],
        json!({"level": 0, "clearance_raise": 0, "lockdown": false, "exempt_person_ids": []})
    );
    assert!(site["id"].is_string() && site["created_at"].is_string());
    let path = format!("/api/v1/sites/{}", site["id"].as_str().unwrap());
    assert_eq!(app.get_json(&path, &admin).await, site);

    let responder = uuid::Uuid::now_v7().to_string();
    let threat = json!({"level": 4, "clearance_raise": 2, "lockdown": true, "exempt_person_ids": [responder]});
    let raised = put(
        &app,
        &admin,
        &format!("{path}/threat-level"),
        threat.clone(),
    )
    .await;
    assert_eq!(raised.status(), StatusCode::OK);
    let raised: Value = raised.json().await.unwrap();
    assert_eq!(raised["threat"], threat);
    assert_eq!(app.get_json(&path, &admin).await["threat"], threat);

    let bad_level =
        json!({"level": 256, "clearance_raise": 0, "lockdown": false, "exempt_person_ids": []});
    invalid(
        put(&app, &admin, &format!("{path}/threat-level"), bad_level).await,
        "level",
    )
    .await;
    let bad_raise = json!({"level": 1, "clearance_raise": -1, "lockdown": false});
    invalid(
        put(&app, &admin, &format!("{path}/threat-level"), bad_raise).await,
        "clearance_raise",
    )
    .await;
    assert_eq!(
        app.get_json(&path, &admin).await["threat"],
        threat,
        "refusals change nothing"
    );

    let bad_tz = json!({"name": "X", "timezone": "Mars/Olympus"});
    invalid(app.post("/api/v1/sites", &admin, bad_tz).await, "timezone").await;
    let unknown = json!({"name": "X", "timezone": "UTC", "threat": {}});
    invalid(app.post("/api/v1/sites", &admin, unknown).await, "threat").await;
    invalid(
        app.patch(&path, &admin, json!({"name": "  "})).await,
        "name",
    )
    .await;

    let patched = app
        .patch(&path, &admin, json!({"timezone": "Asia/Tokyo"}))
        .await;
    assert_eq!(patched.status(), StatusCode::OK);
    let listed = app.get_json("/api/v1/sites?limit=1", &admin).await;
    assert_eq!(listed["items"][0]["timezone"], "Asia/Tokyo");

    let nowhere = format!("/api/v1/sites/{}", uuid::Uuid::now_v7());
    assert_eq!(
        app.get(&nowhere, &admin).await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(delete(&app, &admin, &nowhere).await, StatusCode::NOT_FOUND);
    assert_eq!(delete(&app, &admin, &path).await, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&path, &admin).await.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn zones_doors_and_schedules_follow_the_contract() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let hq = created(
        &app,
        &admin,
        "/api/v1/sites",
        json!({"name": "HQ", "timezone": "UTC"}),
    )
    .await["id"]
        .clone();
    let plant = created(
        &app,
        &admin,
        "/api/v1/sites",
        json!({"name": "Plant", "timezone": "UTC"}),
    )
    .await["id"]
        .clone();

    let lobby = created(
        &app,
        &admin,
        "/api/v1/zones",
        json!({"site_id": hq, "name": "Lobby", "level": 0}),
    )
    .await;
    assert_eq!(lobby["parent_id"], Value::Null);
    assert_eq!(
        (
            lobby["anti_passback"].as_str(),
            lobby["vetting_required"].as_bool()
        ),
        (Some("off"), Some(false))
    );
    let full = json!({
        "site_id": hq, "parent_id": lobby["id"], "name": "Vault", "level": 7,
        "vetting_required": true, "escort_required": true, "two_person": true, "pin_required": true,
        "anti_passback": "hard", "anti_passback_timeout_s": 900, "max_occupancy": 3,
    });
    let vault = created(&app, &admin, "/api/v1/zones", full.clone()).await;
    for (key, value) in full.as_object().unwrap() {
        assert_eq!(&vault[key], value, "{key}");
    }
    let yard = created(
        &app,
        &admin,
        "/api/v1/zones",
        json!({"site_id": plant, "name": "Yard", "level": 0}),
    )
    .await;

    let other_site_parent =
        json!({"site_id": hq, "parent_id": yard["id"], "name": "X", "level": 1});
    invalid(
        app.post("/api/v1/zones", &admin, other_site_parent).await,
        "parent_id",
    )
    .await;
    invalid(
        app.post(
            "/api/v1/zones",
            &admin,
            json!({"site_id": hq, "name": "X", "level": 300}),
        )
        .await,
        "level",
    )
    .await;
    let bad_mode = json!({"site_id": hq, "name": "X", "level": 1, "anti_passback": "strict"});
    invalid(
        app.post("/api/v1/zones", &admin, bad_mode).await,
        "anti_passback",
    )
    .await;
    assert_eq!(lobby["max_occupancy"], Value::Null, "no limit by default");
    for bad in [
        json!(0),
        json!(1_000_001),
        json!(-1),
        json!(2.5),
        json!("3"),
    ] {
        let body = json!({"site_id": hq, "name": "X", "level": 1, "max_occupancy": bad});
        invalid(
            app.post("/api/v1/zones", &admin, body).await,
            "max_occupancy",
        )
        .await;
    }
    for fine in [json!(1), json!(1_000_000), Value::Null] {
        let body = json!({"site_id": plant, "name": "Room", "level": 1, "max_occupancy": fine});
        let room = created(&app, &admin, "/api/v1/zones", body).await;
        assert_eq!(room["max_occupancy"], fine);
        let path = format!("/api/v1/zones/{}", room["id"].as_str().unwrap());
        assert_eq!(app.get_json(&path, &admin).await["max_occupancy"], fine);
    }
    let lobby_path = format!("/api/v1/zones/{}", lobby["id"].as_str().unwrap());
    for bad in [json!(0), json!(1_000_001)] {
        invalid(
            app.patch(&lobby_path, &admin, json!({"max_occupancy": bad}))
                .await,
            "max_occupancy",
        )
        .await;
    }
    let limited = app
        .patch(&lobby_path, &admin, json!({"max_occupancy": 40}))
        .await;
    assert_eq!(limited.status(), StatusCode::OK);
    let limited: Value = limited.json().await.unwrap();
    assert_eq!(limited["max_occupancy"], 40);
    let vault_path = format!("/api/v1/zones/{}", vault["id"].as_str().unwrap());
    invalid(
        app.patch(&lobby_path, &admin, json!({"parent_id": vault["id"]}))
            .await,
        "parent_id",
    )
    .await;
    let cleared = app
        .patch(
            &vault_path,
            &admin,
            json!({"max_occupancy": null, "level": 8}),
        )
        .await;
    assert_eq!(cleared.status(), StatusCode::OK);
    let cleared: Value = cleared.json().await.unwrap();
    assert_eq!(
        (cleared["max_occupancy"].clone(), cleared["level"].clone()),
        (Value::Null, json!(8))
    );
    assert_eq!(
        cleared["anti_passback_timeout_s"], 900,
        "absent fields stay"
    );
    let listed = app
        .get_json(
            &format!("/api/v1/zones?site_id={}", hq.as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2);

    // Doors: defaults, and both zones on one site.
    let door = created(
        &app,
        &admin,
        "/api/v1/doors",
        json!({"name": "Vault door", "from_zone_id": lobby["id"], "to_zone_id": vault["id"]}),
    )
    .await;
    assert_eq!(
        (
            door["unlock_ms"].clone(),
            door["held_open_ms"].clone(),
            door["mode"].clone()
        ),
        (json!(5000), json!(30000), json!("normal"))
    );
    assert_eq!(door["site_id"], hq);
    let across = json!({"name": "X", "from_zone_id": lobby["id"], "to_zone_id": yard["id"]});
    invalid(
        app.post("/api/v1/doors", &admin, across).await,
        "to_zone_id",
    )
    .await;
    let too_quick = json!({"name": "X", "from_zone_id": lobby["id"], "to_zone_id": vault["id"], "unlock_ms": 500});
    invalid(
        app.post("/api/v1/doors", &admin, too_quick).await,
        "unlock_ms",
    )
    .await;
    let by_zone = app
        .get_json(
            &format!("/api/v1/doors?zone_id={}", vault["id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert_eq!(by_zone["items"][0]["id"], door["id"]);
    let door_path = format!("/api/v1/doors/{}", door["id"].as_str().unwrap());
    let locked: Value = app
        .patch(&door_path, &admin, json!({"mode": "locked"}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(locked["mode"], "locked");

    // Schedules: HH:MM times, lower-case days, holidays.
    let nights = json!({"site_id": hq, "name": "Nights", "windows": [{"days": ["fri", "sat"], "start": "22:00", "end": "06:00"}], "holidays": ["2025-12-25"]});
    let schedule = created(&app, &admin, "/api/v1/schedules", nights.clone()).await;
    assert_eq!(schedule["windows"], nights["windows"]);
    assert_eq!(schedule["holidays"], nights["holidays"]);
    let late = json!({"site_id": hq, "name": "X", "windows": [{"days": ["mon"], "start": "25:00", "end": "06:00"}]});
    invalid(
        app.post("/api/v1/schedules", &admin, late).await,
        "windows[0].start",
    )
    .await;
    let capital = json!({"site_id": hq, "name": "X", "windows": [{"days": ["Mon"], "start": "08:00", "end": "09:00"}]});
    invalid(
        app.post("/api/v1/schedules", &admin, capital).await,
        "windows[0].days[0]",
    )
    .await;
    let no_day = json!({"site_id": hq, "name": "X", "windows": [{"days": [], "start": "08:00", "end": "09:00"}]});
    invalid(
        app.post("/api/v1/schedules", &admin, no_day).await,
        "windows[0].days",
    )
    .await;
    let bad_date = json!({"site_id": hq, "name": "X", "windows": nights["windows"], "holidays": ["2025-02-30"]});
    invalid(
        app.post("/api/v1/schedules", &admin, bad_date).await,
        "holidays[0]",
    )
    .await;
    let schedule_path = format!("/api/v1/schedules/{}", schedule["id"].as_str().unwrap());
    let renamed: Value = app
        .patch(&schedule_path, &admin, json!({"holidays": []}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        (renamed["holidays"].clone(), renamed["name"].clone()),
        (json!([]), json!("Nights"))
    );

    // Deletes refused while others depend on a record.
    let hq_path = format!("/api/v1/sites/{}", hq.as_str().unwrap());
    for path in [&hq_path, &lobby_path, &vault_path] {
        let response = app
            .request(Method::DELETE, path, Some(&admin))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CONFLICT, "{path}");
        assert_eq!(error_of(response).await["code"], "conflict");
    }
    assert_eq!(app.get(&vault_path, &admin).await.status(), StatusCode::OK);
    for path in [
        &door_path,
        &vault_path,
        &lobby_path,
        &schedule_path,
        &hq_path,
    ] {
        assert_eq!(
            delete(&app, &admin, path).await,
            StatusCode::NO_CONTENT,
            "{path}"
        );
        assert_eq!(
            app.get(path, &admin).await.status(),
            StatusCode::NOT_FOUND,
            "{path}"
        );
    }
}
