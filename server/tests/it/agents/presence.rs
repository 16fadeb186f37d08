//! The presence feed: who is where, from every agent's events, to each agent: changes in
//! order after a revision, a zone of another site given as `null`, a long-poll woken by
//! another agent's upload, and its parameters and identity checked.

use super::support::{Journal, agent, door, id, presentation, upload};
use crate::common::{TestApp, expect, invalid};
use gatehouse_core::decide::Outcome;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

async fn feed(app: &TestApp, token: &str, query: &str) -> Value {
    let path = format!("/api/v1/agent/presence?{query}");
    expect(app.get(&path, token).await, StatusCode::OK).await
}

async fn to_zone(app: &TestApp, admin: &str, door: Uuid) -> Value {
    app.get_json(&format!("/api/v1/doors/{door}"), admin).await["to_zone_id"].clone()
}

#[tokio::test]
async fn agents_learn_where_holders_passed_at_any_door() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, hq_door) = door(&app, &admin, "HQ").await;
    let (_, plant_door) = door(&app, &admin, "Plant").await;
    let (hq_zone, plant_zone) = (
        to_zone(&app, &admin, hq_door).await,
        to_zone(&app, &admin, plant_door).await,
    );
    let (_, hq) = agent(&app, &admin, &[hq_door]).await;
    let (_, plant) = agent(&app, &admin, &[plant_door]).await;
    let (ada, bo) = (Uuid::now_v7(), Uuid::now_v7());

    let empty = feed(&app, &hq, "wait_s=0").await;
    assert_eq!(
        empty,
        json!({"revision": 0, "more": false, "presences": []})
    );

    // Ada and Bo enter at HQ (Bo's second badge is denied: no passage).
    let mut hq_journal = Journal::new();
    let records = [
        hq_journal.append(&presentation(hq_door, "0A", Outcome::Granted, Some(ada))),
        hq_journal.append(&presentation(hq_door, "0B", Outcome::Denied, Some(bo))),
        hq_journal.append(&presentation(hq_door, "0B", Outcome::Granted, Some(bo))),
    ];
    upload(&app, &hq, &records).await;
    let first = feed(&app, &hq, "wait_s=0").await;
    let holders: Vec<(Uuid, Value)> = first["presences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (id(&p["holder_id"]), p["zone_id"].clone()))
        .collect();
    assert_eq!(holders, [(ada, hq_zone.clone()), (bo, hq_zone.clone())]);
    assert_eq!(first["more"], false);
    let revision = first["revision"].as_i64().unwrap();
    assert!(revision > 0);
    let caught_up = feed(&app, &hq, &format!("after={revision}&wait_s=0")).await;
    assert_eq!(caught_up["presences"], json!([]));
    assert_eq!(caught_up["revision"], revision);

    // HQ's agent waits; Ada turns up at the plant: the wait ends with her gone elsewhere.
    let waiting = {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!(
                "/api/v1/agent/presence?after={revision}&wait_s=25"
            )),
            hq.clone(),
        );
        tokio::spawn(async move {
            let answer = client.get(url).bearer_auth(token).send().await.unwrap();
            answer.json::<Value>().await.unwrap()
        })
    };
    let mut plant_journal = Journal::new();
    let at_plant =
        plant_journal.append(&presentation(plant_door, "0A", Outcome::Granted, Some(ada)));
    upload(&app, &plant, &[at_plant]).await;
    let woken = waiting.await.unwrap();
    assert_eq!(woken["presences"].as_array().unwrap().len(), 1);
    assert_eq!(id(&woken["presences"][0]["holder_id"]), ada);
    assert_eq!(woken["presences"][0]["zone_id"], Value::Null);
    assert!(woken["revision"].as_i64().unwrap() > revision);

    // The plant's agent, from the start: Ada in its zone, Bo elsewhere.
    let plant_view = feed(&app, &plant, "wait_s=0").await;
    let zones: Vec<(Uuid, Value)> = plant_view["presences"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (id(&p["holder_id"]), p["zone_id"].clone()))
        .collect();
    assert_eq!(zones, [(bo, Value::Null), (ada, plant_zone)]);
}

#[tokio::test]
async fn the_feed_checks_its_parameters_and_caller() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (_, token) = agent(&app, &admin, &[front]).await;
    for (query, field) in [("after=-1", "after"), ("wait_s=26", "wait_s")] {
        let path = format!("/api/v1/agent/presence?{query}");
        invalid(app.get(&path, &token).await, field).await;
    }
    let path = "/api/v1/agent/presence?wait_s=0";
    for caller in [Some(admin.as_str()), None] {
        let answer = app
            .request(reqwest::Method::GET, path, caller)
            .send()
            .await
            .unwrap();
        assert_eq!(
            answer.status(),
            StatusCode::UNAUTHORIZED,
            "operator tokens are refused"
        );
    }
}
