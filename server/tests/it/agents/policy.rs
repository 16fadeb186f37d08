//! Policy delivery to agents: the snapshot of their own sites only, verified with the
//! public key; long-poll answers at once when behind, 204 when nothing changes, and the
//! new version as soon as a credential is revoked during the wait, on both databases;
//! the version watch the long-polls wait on is woken by a change another server made
//! (PostgreSQL's notification, not its fallback read).

use super::support::{agent, door, id};
use crate::common::{TestApp, TestDb, expect};
use crate::support::site_model::site;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{Duration, Utc};
use ed25519_dalek::VerifyingKey;
use gatehouse_core::model::CredentialState;
use gatehouse_core::policy::{Policy, SignedSnapshot};
use gatehouse_server::policy::versions::PolicyVersions;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

fn version_of(response: &reqwest::Response) -> u64 {
    let header = response.headers()["x-policy-version"].to_str().unwrap();
    header.parse().unwrap()
}

/// The snapshot, verified with the server's public key.
async fn verified(app: &TestApp, bytes: &[u8]) -> Policy {
    let key = app.public_json("/api/v1/policy/public-key").await;
    let key = STANDARD
        .decode(key["public_key"].as_str().unwrap())
        .unwrap();
    let key = VerifyingKey::from_bytes(&key.try_into().unwrap()).unwrap();
    SignedSnapshot::from_bytes(bytes)
        .unwrap()
        .verify(&key, 0)
        .unwrap()
}

async fn zone_of(app: &TestApp, admin: &str, site: Uuid) -> Value {
    let zones = app
        .get_json(&format!("/api/v1/zones?site_id={site}"), admin)
        .await;
    zones["items"][0]["id"].clone()
}

async fn post_created(app: &TestApp, admin: &str, path: &str, body: Value) -> Value {
    expect(app.post(path, admin, body).await, StatusCode::CREATED).await
}

/// A person with one card: (person, credential).
async fn person_with_card(app: &TestApp, admin: &str) -> (Value, Value) {
    let person = json!({"name": "Ada", "kind": "staff", "clearance": 1});
    let person = post_created(app, admin, "/api/v1/people", person).await;
    let card = json!({"person_id": person["id"], "card": "04A1B2C3"});
    let credential = post_created(app, admin, "/api/v1/credentials", card).await;
    (person, credential)
}

#[tokio::test]
async fn the_snapshot_verifies_and_holds_only_the_agents_sites() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let (mine, my_door) = door(&app, &admin, "HQ").await;
    let (other, _) = door(&app, &admin, "Plant").await;
    let (my_zone, other_zone) = (
        zone_of(&app, &admin, mine).await,
        zone_of(&app, &admin, other).await,
    );
    let (person, _) = person_with_card(&app, &admin).await;
    for zone in [&my_zone, &other_zone] {
        post_created(
            &app,
            &admin,
            "/api/v1/grants",
            json!({"person_id": person["id"], "zone_id": zone}),
        )
        .await;
    }
    // A visit over two sites, as one registered before the visit rules could be (the
    // API now refuses it): each agent still gets only its own site's zones of it.
    let visit = gatehouse_server::store::NewVisit {
        visitor_name: "Bo".into(),
        host_person_id: id(&person["id"]),
        window_start: Utc::now(),
        window_end: Utc::now() + Duration::hours(2),
        allowed_zone_ids: [id(&my_zone), id(&other_zone)].into(),
        ..Default::default()
    };
    let actor = gatehouse_server::store::Actor::cli();
    db.store().await.create_visit(visit, &actor).await.unwrap();
    let (_, token) = agent(&app, &admin, &[my_door]).await;

    let response = app.get("/api/v1/agent/policy", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "application/octet-stream"
    );
    let version = version_of(&response);
    let bytes = response.bytes().await.unwrap();
    assert_eq!(
        SignedSnapshot::from_bytes(&bytes).unwrap().site_ids,
        vec![mine]
    );
    let policy = verified(&app, &bytes).await;
    assert_eq!(policy.version(), version);
    let source = policy.source();
    assert_eq!(
        source.doors.iter().map(|d| d.id).collect::<Vec<_>>(),
        vec![my_door]
    );
    assert!(source.zones.iter().all(|z| z.site_id == mine) && source.zones.len() == 2);
    assert_eq!(
        source.grants.iter().map(|g| g.zone_id).collect::<Vec<_>>(),
        vec![id(&my_zone)]
    );
    assert_eq!(source.visits[0].allowed_zone_ids, vec![id(&my_zone)]);
    assert_eq!(
        (source.people.len(), source.credentials.len()),
        (1, 1),
        "every card is decided"
    );
}

conformance!(
    long_poll_answers_when_behind_waits_when_current_and_wakes_on_a_revocation,
    the_version_watch_wakes_on_another_servers_change,
);

async fn long_poll_answers_when_behind_waits_when_current_and_wakes_on_a_revocation(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let (_, front) = door(&app, &admin, "HQ").await;
    let (_, credential) = person_with_card(&app, &admin).await;
    let (_, token) = agent(&app, &admin, &[front]).await;

    let first = app.get("/api/v1/agent/policy?wait_s=0", &token).await;
    assert_eq!(first.status(), StatusCode::OK);
    let current = version_of(&first);
    let behind = app
        .get(
            &format!(
                "/api/v1/agent/policy?after_version={}&wait_s=25",
                current - 1
            ),
            &token,
        )
        .await;
    assert_eq!(
        (behind.status(), version_of(&behind)),
        (StatusCode::OK, current)
    );
    let up_to_date = app
        .get(
            &format!("/api/v1/agent/policy?after_version={current}&wait_s=1"),
            &token,
        )
        .await;
    assert_eq!(up_to_date.status(), StatusCode::NO_CONTENT);
    let too_long = app.get("/api/v1/agent/policy?wait_s=61", &token).await;
    assert_eq!(too_long.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let waiting = {
        let (client, url, token) = (
            app.client.clone(),
            app.url(&format!(
                "/api/v1/agent/policy?after_version={current}&wait_s=25"
            )),
            token.clone(),
        );
        tokio::spawn(async move { client.get(url).bearer_auth(token).send().await.unwrap() })
    };
    let path = format!("/api/v1/credentials/{}", credential["id"].as_str().unwrap());
    expect(
        app.patch(&path, &admin, json!({"state": "revoked"})).await,
        StatusCode::OK,
    )
    .await;
    let woken = waiting.await.unwrap();
    assert_eq!(woken.status(), StatusCode::OK);
    assert!(version_of(&woken) > current);
    let policy = verified(&app, &woken.bytes().await.unwrap()).await;
    assert_eq!(
        policy.source().credentials[0].state,
        CredentialState::Revoked
    );
}

async fn the_version_watch_wakes_on_another_servers_change(db: &TestDb) {
    let (this_server, other_server) = (db.store().await, db.store().await);
    // No fallback read within the test: on PostgreSQL only the notification can wake it.
    let hour = std::time::Duration::from_secs(3600);
    let versions = PolicyVersions::start_with(this_server.clone(), hour)
        .await
        .unwrap();
    let before = this_server.policy_version().await.unwrap();
    let soon = tokio::time::Instant::now() + std::time::Duration::from_millis(300);
    assert!(
        !versions.wait_above(before, soon).await,
        "nothing changed yet"
    );

    site(&other_server, "Annex").await;
    let after = other_server.policy_version().await.unwrap();
    assert!(after > before, "a new site changes the policy");
    let within = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    assert!(versions.wait_above(before, within).await);
    assert!(
        !versions.wait_above(after, soon).await,
        "and waits again at the new version"
    );
}
