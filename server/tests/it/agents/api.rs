//! Enrolment and identity through the API: codes are single-use and short-lived, tokens
//! work only on the agent API and stop at revocation, doors are served by one agent.

use super::support::{agent, door, enroll, id, register};
use crate::common::{TestApp, error_of, expect, invalid};
use chrono::Duration;
use gatehouse_server::auth::agent::hash_secret;
use gatehouse_server::store::{Actor, now};
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn enrolment_gives_a_token_once_and_the_agent_shows_no_secret() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let created = register(&app, &admin, &[front]).await;
    assert_eq!(created["status"], "pending");
    assert_eq!(created["door_ids"], json!([front]));
    let code = created["enrollment_code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 16);
    assert!(created["enrollment_expires_at"].is_string());

    // Case and dashes do not matter.
    let typed = format!("{}-{}", &code[..8], code[8..].to_lowercase());
    let enrolled = expect(enroll(&app, &typed).await, StatusCode::OK).await;
    let token = enrolled["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("gha_"), "{enrolled}");
    assert_eq!(enrolled["agent_id"], created["id"]);
    assert_eq!(enrolled["door_ids"], json!([front]));

    let path = format!("/api/v1/agents/{}", created["id"].as_str().unwrap());
    let shown = app.get_json(&path, &admin).await;
    assert_eq!(shown["status"], "active");
    assert!(shown["enrolled_at"].is_string() && shown["enrollment_expires_at"].is_null());
    let list = app.get_json("/api/v1/agents", &admin).await;
    assert_eq!(list["items"][0], shown);
    let log = app
        .get_json("/api/v1/operator-log?limit=500", &admin)
        .await
        .to_string();
    for text in [shown.to_string(), log] {
        assert!(
            !text.contains("hash") && !text.contains(&code) && !text.contains(&token),
            "{text}"
        );
    }
    assert!(
        app.get_json("/api/v1/operator-log?limit=500", &admin).await["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "agent.enroll")
    );

    // Used: the same answer as an unknown code.
    let used = error_of(enroll(&app, &code).await).await;
    let unknown = error_of(enroll(&app, "ABCDEFGHJKMNPQRS").await).await;
    assert_eq!(
        (used["code"].clone(), used["message"].clone()),
        (unknown["code"].clone(), unknown["message"].clone())
    );
    assert_eq!(enroll(&app, "").await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn an_expired_code_is_refused_and_a_new_one_replaces_the_token() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (agent_id, old_token) = agent(&app, &admin, &[front]).await;

    let store = db.store().await;
    let expired = "EXPIRED2CODE3456";
    store
        .issue_enrollment_code(
            agent_id,
            &hash_secret(expired),
            now() - Duration::seconds(1),
            &Actor::cli(),
        )
        .await
        .unwrap();
    assert_eq!(
        enroll(&app, expired).await.status(),
        StatusCode::UNAUTHORIZED
    );

    let path = format!("/api/v1/agents/{agent_id}/enrollment-code");
    let fresh = expect(app.post(&path, &admin, json!({})).await, StatusCode::OK).await;
    assert_eq!(
        fresh["status"], "active",
        "the old token works until re-enrolment"
    );
    let code = fresh["enrollment_code"].as_str().unwrap();
    assert_ne!(code, expired);
    let enrolled = expect(enroll(&app, code).await, StatusCode::OK).await;
    let new_token = enrolled["token"].as_str().unwrap();
    let policy = "/api/v1/agent/policy?wait_s=0";
    assert_eq!(
        app.get(policy, &old_token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.get(policy, new_token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn one_code_enrols_one_agent_even_when_raced() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let created = register(&app, &admin, &[front]).await;
    let code = created["enrollment_code"].as_str().unwrap();
    let (a, b) = tokio::join!(enroll(&app, code), enroll(&app, code));
    let mut statuses = [a.status(), b.status()];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::OK, StatusCode::UNAUTHORIZED]);
}

#[tokio::test]
async fn revoked_agents_and_crossed_tokens_get_401() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (agent_id, token) = agent(&app, &admin, &[front]).await;
    let policy = "/api/v1/agent/policy?wait_s=0";
    assert_eq!(app.get(policy, &token).await.status(), StatusCode::OK);

    // An operator token on the agent API, an agent token on the operator API.
    assert_eq!(
        app.get(policy, &admin).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let events = json!({"agent_time": now().to_rfc3339(), "records": []});
    let upload = app
        .post("/api/v1/agent/events", &admin, events.clone())
        .await;
    assert_eq!(upload.status(), StatusCode::UNAUTHORIZED);
    for path in [
        "/api/v1/agents",
        "/api/v1/events",
        "/api/v1/auth/me",
        "/api/v1/policy/snapshot",
    ] {
        assert_eq!(
            app.get(path, &token).await.status(),
            StatusCode::UNAUTHORIZED,
            "{path}"
        );
    }

    let revoke = format!("/api/v1/agents/{agent_id}/revoke");
    let revoked = expect(app.post(&revoke, &admin, json!({})).await, StatusCode::OK).await;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(
        app.get(policy, &token).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let upload = app.post("/api/v1/agent/events", &token, events).await;
    assert_eq!(upload.status(), StatusCode::UNAUTHORIZED);
    // Revoked for good: no new code.
    let code = format!("/api/v1/agents/{agent_id}/enrollment-code");
    assert_eq!(
        app.post(&code, &admin, json!({})).await.status(),
        StatusCode::CONFLICT
    );
    let missing = format!("/api/v1/agents/{}/revoke", uuid::Uuid::now_v7());
    assert_eq!(
        app.post(&missing, &admin, json!({})).await.status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn doors_must_exist_and_are_served_by_one_agent() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let refused = [
        (
            json!({"name": "a", "door_ids": [front, uuid::Uuid::now_v7()]}),
            "door_ids",
        ),
        (json!({"name": "a", "door_ids": []}), "door_ids"),
        (json!({"name": " ", "door_ids": [front]}), "name"),
    ];
    for (body, field) in refused {
        invalid(app.post("/api/v1/agents", &admin, body).await, field).await;
    }
    register(&app, &admin, &[front]).await;
    let taken = app
        .post(
            "/api/v1/agents",
            &admin,
            json!({"name": "b", "door_ids": [front]}),
        )
        .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let list = app.get_json("/api/v1/agents", &admin).await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "the refused agent was not stored"
    );
    // A door an agent serves cannot be deleted.
    let delete = app.request(
        Method::DELETE,
        &format!("/api/v1/doors/{front}"),
        Some(&admin),
    );
    assert_eq!(delete.send().await.unwrap().status(), StatusCode::CONFLICT);
    let _ = id(&list["items"][0]["id"]);
}
