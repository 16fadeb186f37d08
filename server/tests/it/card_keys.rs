//! Site card keys (issue 15): the key-encryption key at start-up (file, environment,
//! made when first needed, a wrong one refused), keys at rest never in clear (both
//! backends), the rotate/retire state machine and who may drive it, and what agents get:
//! their own sites' read and UID keys, sealed to their own X25519 key, never the master.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::agents::support::{door, enroll, id, register};
use crate::common::{TestApp, TestDb, error_of, expect, invalid};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_core::protocol::card_keys::{AgentSecret, open};
use gatehouse_server::cards::CardKeyring;
use gatehouse_server::config::Settings;
use gatehouse_server::{Listeners, launch};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use tempfile::TempDir;
use tokio::net::TcpListener;
use uuid::Uuid;

/// Settings whose KEK file is in `dir` (made here), so no test writes one elsewhere.
pub(crate) fn with_kek(db: &TestDb, dir: &TempDir) -> Settings {
    let path = dir.path().join("kek");
    if !path.exists() {
        std::fs::write(&path, format!("{}\n", hex::encode(rand_bytes()))).unwrap();
    }
    let mut settings = db.settings();
    settings.cards.kek_file = Some(path);
    settings
}

fn rand_bytes() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    bytes
}

fn versions(answer: &Value) -> Vec<(u64, String)> {
    answer["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| {
            (
                v["version"].as_u64().unwrap(),
                v["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn states(list: &[(u64, &str)]) -> Vec<(u64, String)> {
    list.iter().map(|(v, s)| (*v, (*s).to_owned())).collect()
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value) -> reqwest::Response {
    app.post(path, token, body).await
}

/// An agent enrolled with a fresh X25519 key for `doors`: (id, token, secret).
async fn keyed_agent(app: &TestApp, admin: &str, doors: &[Uuid]) -> (Uuid, String, AgentSecret) {
    let created = register(app, admin, doors).await;
    let secret = AgentSecret::generate();
    let body = json!({
        "code": created["enrollment_code"],
        "card_public_key": STANDARD.encode(secret.public_key()),
    });
    let enrolled = app
        .request(Method::POST, "/api/v1/agent/enroll", None)
        .json(&body);
    let enrolled = expect(enrolled.send().await.unwrap(), StatusCode::OK).await;
    let token = enrolled["token"].as_str().unwrap().to_owned();
    (id(&enrolled["agent_id"]), token, secret)
}

/// One opened box: (site, version, current, read key, UID key).
type Opened = (Uuid, u8, bool, [u8; 16], [u8; 16]);

/// Opens every box of an agent's answer.
fn opened(answer: &Value, agent: Uuid, secret: &AgentSecret) -> Vec<Opened> {
    answer["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let site = id(&k["site_id"]);
            let version = u8::try_from(k["version"].as_u64().unwrap()).unwrap();
            let sealed = STANDARD.decode(k["sealed"].as_str().unwrap()).unwrap();
            let keys = open(secret, agent, site, version, &sealed).unwrap();
            (
                site,
                version,
                k["current"].as_bool().unwrap(),
                keys.read,
                keys.uid,
            )
        })
        .collect()
}

/// Every key column of every stored row, as the database holds them.
async fn stored_bytes(db: &TestDb) -> Vec<Vec<u8>> {
    const SQL: &str = "SELECT master_key, read_key, uid_key FROM card_keys";
    let rows: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = if db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        sqlx::query_as(SQL).fetch_all(&pool).await.unwrap()
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        sqlx::query_as(SQL).fetch_all(&pool).await.unwrap()
    };
    rows.into_iter().flat_map(|(m, r, u)| [m, r, u]).collect()
}

async fn keys_at_rest_are_never_in_clear(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let settings = with_kek(db, &dir);
    let app = TestApp::start_with(settings.clone()).await;
    let admin = app.admin_token().await;
    let (site, door_id) = door(&app, &admin, "HQ").await;
    let path = format!("/api/v1/sites/{site}/card-keys");
    expect(
        post(&app, &path, &admin, json!({})).await,
        StatusCode::CREATED,
    )
    .await;
    let (agent, token, secret) = keyed_agent(&app, &admin, &[door_id]).await;
    let answer = app.get_json("/api/v1/agent/card-keys", &token).await;
    let delivered = opened(&answer, agent, &secret);
    assert_eq!(delivered.len(), 1);
    let (_, version, current, read, uid) = delivered[0];
    assert_eq!((version, current), (1, true));

    // The server's own view, master key included, through the same KEK.
    let ring = CardKeyring::open(&settings.cards, &settings.database, db.store().await)
        .await
        .unwrap();
    let keys = ring.site_keys(site, 1).await.unwrap().unwrap();
    assert_eq!((*keys.read, *keys.uid), (read, uid));
    assert!(*keys.master != read && *keys.master != uid && read != uid);
    assert!(format!("{keys:?}{ring:?}").contains("redacted"));

    let stored = stored_bytes(db).await;
    assert_eq!(stored.len(), 3);
    for clear in [*keys.master, read, uid] {
        for column in &stored {
            assert!(
                !column.windows(16).any(|w| w == clear),
                "a key in clear in the DB"
            );
        }
    }
    // Nor in the answer: the agent's answer carries only sealed boxes.
    let text = answer.to_string();
    for clear in [*keys.master, read, uid] {
        assert!(!text.contains(&STANDARD.encode(clear)) && !text.contains(&hex::encode(clear)));
    }
    app.stop().await;
}

async fn rotation_keeps_previous_and_retire_ends_it(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(with_kek(db, &dir)).await;
    let admin = app.admin_token().await;
    let (site, door_id) = door(&app, &admin, "HQ").await;
    let base = format!("/api/v1/sites/{site}/card-keys");
    let rotate = format!("{base}/rotate");
    let retire = format!("{base}/retire");

    let none = post(&app, &rotate, &admin, json!({})).await;
    assert_eq!(none.status(), StatusCode::CONFLICT, "nothing to rotate yet");
    let first = expect(
        post(&app, &base, &admin, json!({})).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(versions(&first), states(&[(1, "current")]));
    let again = post(&app, &base, &admin, json!({})).await;
    assert_eq!(again.status(), StatusCode::CONFLICT, "first keys twice");

    let (agent, token, secret) = keyed_agent(&app, &admin, &[door_id]).await;
    let set_of = |r: &reqwest::Response| {
        r.headers()["x-card-key-set"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    let policy = app.get("/api/v1/agent/policy", &token).await;
    let set_before = set_of(&policy);

    let rotated = expect(post(&app, &rotate, &admin, json!({})).await, StatusCode::OK).await;
    assert_eq!(
        versions(&rotated),
        states(&[(1, "previous"), (2, "current")])
    );
    let both = app.get_json("/api/v1/agent/card-keys", &token).await;
    let got: Vec<_> = opened(&both, agent, &secret)
        .iter()
        .map(|k| (k.1, k.2))
        .collect();
    assert_eq!(
        got,
        vec![(1, false), (2, true)],
        "both accepted during the overlap"
    );
    let set_rotated = both["key_set"].as_u64().unwrap();
    assert!(set_rotated > set_before);
    // A rotation does not change the policy: the long-poll ends (204) carrying the new
    // number, which is how agents learn of it.
    let version = app.get("/api/v1/agent/policy", &token).await;
    let version = version.headers()["x-policy-version"]
        .to_str()
        .unwrap()
        .to_owned();
    let polled = app
        .get(
            &format!("/api/v1/agent/policy?after_version={version}&wait_s=0"),
            &token,
        )
        .await;
    assert_eq!(polled.status(), StatusCode::NO_CONTENT);
    assert_eq!(set_of(&polled), set_rotated);

    let busy = post(&app, &rotate, &admin, json!({})).await;
    let message = error_of(busy).await;
    assert!(message.to_string().contains("retire"), "{message}");
    // Bad input: 422 naming the field, nothing changed.
    invalid(
        post(&app, &retire, &admin, json!({"version": 0})).await,
        "version",
    )
    .await;
    invalid(
        post(&app, &retire, &admin, json!({"version": 256})).await,
        "version",
    )
    .await;
    let missing = post(&app, &retire, &admin, json!({})).await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let extra = post(&app, &retire, &admin, json!({"version": 1, "force": true})).await;
    assert_eq!(extra.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let current = post(&app, &retire, &admin, json!({"version": 2})).await;
    assert_eq!(
        current.status(),
        StatusCode::CONFLICT,
        "the current version stays"
    );
    let unchanged = app.get_json(&base, &admin).await;
    assert_eq!(
        versions(&unchanged),
        states(&[(1, "previous"), (2, "current")])
    );

    let retired = post(&app, &retire, &admin, json!({"version": 1})).await;
    let retired = expect(retired, StatusCode::OK).await;
    assert_eq!(
        versions(&retired),
        states(&[(1, "retired"), (2, "current")])
    );
    let only = app.get_json("/api/v1/agent/card-keys", &token).await;
    let got: Vec<_> = opened(&only, agent, &secret).iter().map(|k| k.1).collect();
    assert_eq!(got, vec![2], "a retired version is never sent again");
    assert!(only["key_set"].as_u64().unwrap() > set_rotated);
    let twice = post(&app, &retire, &admin, json!({"version": 1})).await;
    assert_eq!(twice.status(), StatusCode::CONFLICT);
    let third = expect(post(&app, &rotate, &admin, json!({})).await, StatusCode::OK).await;
    assert_eq!(
        versions(&third),
        states(&[(1, "retired"), (2, "previous"), (3, "current")])
    );

    let unknown = format!("/api/v1/sites/{}/card-keys", Uuid::new_v4());
    assert_eq!(
        app.get(&unknown, &admin).await.status(),
        StatusCode::NOT_FOUND
    );
    let unknown_rotate = post(&app, &format!("{unknown}/rotate"), &admin, json!({})).await;
    assert_eq!(unknown_rotate.status(), StatusCode::NOT_FOUND);

    // Only admins; every change is in the operator log, with versions, never keys.
    app.create_operator(&admin, "officer", "security").await;
    let officer = app.login("officer", crate::common::PASSWORD).await;
    assert_eq!(
        app.get(&base, &officer).await.status(),
        StatusCode::FORBIDDEN
    );
    let denied = post(&app, &rotate, &officer, json!({})).await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let log = app.get_json("/api/v1/operator-log?limit=500", &admin).await;
    let actions: Vec<_> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .filter(|a| a.starts_with("card_keys."))
        .collect();
    for action in ["card_keys.create", "card_keys.rotate", "card_keys.retire"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    assert!(!log.to_string().contains("master_key"));
    app.stop().await;
}

async fn an_agent_gets_only_its_own_sites_sealed_to_itself(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(with_kek(db, &dir)).await;
    let admin = app.admin_token().await;
    let (site_a, door_a) = door(&app, &admin, "A").await;
    let (site_b, door_b) = door(&app, &admin, "B").await;
    for site in [site_a, site_b] {
        let path = format!("/api/v1/sites/{site}/card-keys");
        expect(
            post(&app, &path, &admin, json!({})).await,
            StatusCode::CREATED,
        )
        .await;
    }
    let (agent_a, token_a, secret_a) = keyed_agent(&app, &admin, &[door_a]).await;
    let (agent_b, token_b, secret_b) = keyed_agent(&app, &admin, &[door_b]).await;
    let answer_a = app.get_json("/api/v1/agent/card-keys", &token_a).await;
    let answer_b = app.get_json("/api/v1/agent/card-keys", &token_b).await;
    let keys_a = opened(&answer_a, agent_a, &secret_a);
    let keys_b = opened(&answer_b, agent_b, &secret_b);
    assert_eq!(keys_a.iter().map(|k| k.0).collect::<Vec<_>>(), vec![site_a]);
    assert_eq!(keys_b.iter().map(|k| k.0).collect::<Vec<_>>(), vec![site_b]);
    assert_ne!(keys_a[0].3, keys_b[0].3, "each site its own keys");

    // A's box opens for A only: not with B's key, not as B, not for site B.
    let sealed = STANDARD
        .decode(answer_a["keys"][0]["sealed"].as_str().unwrap())
        .unwrap();
    assert!(open(&secret_b, agent_b, site_a, 1, &sealed).is_err());
    assert!(open(&secret_a, agent_b, site_a, 1, &sealed).is_err());
    assert!(open(&secret_a, agent_a, site_b, 1, &sealed).is_err());
    // The answer has exactly the documented fields: no master key anywhere.
    let fields: Vec<_> = answer_a["keys"][0]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(fields, ["current", "sealed", "site_id", "version"]);
    let top: Vec<_> = answer_a.as_object().unwrap().keys().cloned().collect();
    assert_eq!(top, ["key_set", "keys"]);
    app.stop().await;
}

async fn an_agent_enrolled_before_card_keys_registers_its_key_once(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(with_kek(db, &dir)).await;
    let admin = app.admin_token().await;
    let (site, door_id) = door(&app, &admin, "HQ").await;
    let path = format!("/api/v1/sites/{site}/card-keys");
    expect(
        post(&app, &path, &admin, json!({})).await,
        StatusCode::CREATED,
    )
    .await;
    // Enrolled the old way: no key in the request.
    let created = register(&app, &admin, &[door_id]).await;
    let code = created["enrollment_code"].as_str().unwrap();
    let enrolled = expect(enroll(&app, code).await, StatusCode::OK).await;
    let (agent, token) = (
        id(&enrolled["agent_id"]),
        enrolled["token"].as_str().unwrap(),
    );
    let early = app.get("/api/v1/agent/card-keys", token).await;
    assert_eq!(early.status(), StatusCode::CONFLICT);

    let put = |body: Value| {
        app.request(Method::PUT, "/api/v1/agent/card-public-key", Some(token))
            .json(&body)
            .send()
    };
    for bad in [
        "",
        "not base64!",
        &STANDARD.encode([7u8; 31]),
        &STANDARD.encode([0u8; 32]),
    ] {
        let refused = put(json!({"public_key": bad})).await.unwrap();
        invalid(refused, "public_key").await;
    }
    let secret = AgentSecret::generate();
    let key = STANDARD.encode(secret.public_key());
    let registered = put(json!({"public_key": key})).await.unwrap();
    assert_eq!(registered.status(), StatusCode::NO_CONTENT);
    let again = put(json!({"public_key": key})).await.unwrap();
    assert_eq!(
        again.status(),
        StatusCode::NO_CONTENT,
        "the same key again is fine"
    );
    let other = STANDARD.encode(AgentSecret::generate().public_key());
    let replaced = put(json!({"public_key": other})).await.unwrap();
    assert_eq!(
        replaced.status(),
        StatusCode::CONFLICT,
        "a token alone cannot redirect"
    );
    let answer = app.get_json("/api/v1/agent/card-keys", token).await;
    assert_eq!(opened(&answer, agent, &secret).len(), 1);
    // An operator token is not an agent's.
    let by_admin = app.get("/api/v1/agent/card-keys", &admin).await;
    assert_eq!(by_admin.status(), StatusCode::UNAUTHORIZED);
    // A bad key at enrolment is a 422 too, and spends no code.
    let (_, door_b) = door(&app, &admin, "B").await;
    let created = register(&app, &admin, &[door_b]).await;
    let body = json!({"code": created["enrollment_code"], "card_public_key": "short"});
    let refused = app
        .request(Method::POST, "/api/v1/agent/enroll", None)
        .json(&body);
    invalid(refused.send().await.unwrap(), "card_public_key").await;
    let code = created["enrollment_code"].as_str().unwrap();
    expect(enroll(&app, code).await, StatusCode::OK).await;
    app.stop().await;
}

conformance!(
    keys_at_rest_are_never_in_clear,
    rotation_keeps_previous_and_retire_ends_it,
    an_agent_gets_only_its_own_sites_sealed_to_itself,
    an_agent_enrolled_before_card_keys_registers_its_key_once,
);

/// The SQLite folder of a test database.
fn sqlite_dir(db: &TestDb) -> PathBuf {
    let file = db.url.strip_prefix("sqlite://").unwrap();
    Path::new(file).parent().unwrap().to_owned()
}

/// Runs `launch` and returns its start-up error (it must fail, not serve).
async fn start_error(settings: Settings) -> String {
    let listeners = Listeners {
        api: TcpListener::bind("127.0.0.1:0").await.unwrap(),
        metrics: None,
    };
    let run = launch(settings, listeners, std::future::pending());
    let result = tokio::time::timeout(std::time::Duration::from_secs(60), run).await;
    let error = result
        .expect("start-up should fail, not serve")
        .unwrap_err();
    format!("{error:#}")
}

#[tokio::test]
async fn the_kek_is_made_when_first_needed_and_a_wrong_one_stops_start_up() {
    use std::os::unix::fs::PermissionsExt;
    let db = TestDb::sqlite();
    let default_file = sqlite_dir(&db).join("card-kek");
    let app = TestApp::start_on(&db).await;
    assert!(!default_file.exists(), "no key file before any card key");
    let admin = app.admin_token().await;
    let (site, _) = door(&app, &admin, "HQ").await;
    let path = format!("/api/v1/sites/{site}/card-keys");
    expect(
        post(&app, &path, &admin, json!({})).await,
        StatusCode::CREATED,
    )
    .await;
    let mode = std::fs::metadata(&default_file)
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    app.stop().await;
    // The same file again: starts, and the keys still open.
    let app = TestApp::start_on(&db).await;
    let admin = app.admin_token().await;
    expect(
        post(&app, &format!("{path}/rotate"), &admin, json!({})).await,
        StatusCode::OK,
    )
    .await;
    app.stop().await;

    // Another KEK (file or environment): a clear start-up error, no new keys.
    let dir = tempfile::tempdir().unwrap();
    let error = start_error(with_kek(&db, &dir)).await;
    assert!(
        error.contains("does not decrypt the stored card keys"),
        "{error}"
    );
    let ring = CardKeyring::open_with(
        Some(&"11".repeat(32)),
        &db.settings().cards,
        &db.settings().database,
        db.store().await,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        ring.contains("GATEHOUSE_KEK") && ring.contains("does not decrypt"),
        "{ring}"
    );
    let bad_env = CardKeyring::open_with(
        Some("xyz"),
        &db.settings().cards,
        &db.settings().database,
        db.store().await,
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        bad_env.contains("GATEHOUSE_KEK") && bad_env.contains("64 hex"),
        "{bad_env}"
    );
    // The right key through the environment opens them.
    let right = std::fs::read_to_string(&default_file).unwrap();
    CardKeyring::open_with(
        Some(&right),
        &db.settings().cards,
        &db.settings().database,
        db.store().await,
    )
    .await
    .unwrap();

    // The key file gone: refused, never a new key over the stored ones.
    std::fs::remove_file(&default_file).unwrap();
    let error = start_error(db.settings()).await;
    assert!(error.contains("no key to decrypt them"), "{error}");
    assert!(!default_file.exists());
    // A named file that does not exist is an error naming the setting.
    let mut settings = db.settings();
    settings.cards.kek_file = Some(dir.path().join("absent"));
    let error = start_error(settings).await;
    assert!(error.contains("cards.kek_file"), "{error}");
}

#[tokio::test]
async fn the_site_page_shows_card_keys_to_admins_and_drives_the_rollover() {
    use crate::console::client::Console;
    let db = TestDb::sqlite();
    let app = TestApp::start_on(&db).await;
    let admin = app.admin_token().await;
    let (site, _) = door(&app, &admin, "HQ").await;
    let page = format!("/admin/sites/{site}");
    let console = Console::login(&app, "admin", crate::common::ADMIN_PASSWORD).await;
    let shown = console.get(&page).await;
    assert!(
        shown.body.contains("This site has no card keys yet"),
        "{}",
        shown.body
    );

    let base = format!("{page}/card-keys");
    // Unconfirmed: refused, nothing made.
    let answer = console.submit(&base, &[]).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let listed = app
        .get_json(&format!("/api/v1/sites/{site}/card-keys"), &admin)
        .await;
    assert!(versions(&listed).is_empty());
    let answer = console.submit(&base, &[("confirm", "yes")]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let rotate = format!("{base}/rotate");
    let answer = console.submit(&rotate, &[("confirm", "yes")]).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let shown = console.get(&page).await;
    assert!(
        shown.body.contains("previous (still accepted)") && shown.body.contains("Retire version 1")
    );
    let retire = format!("{base}/retire");
    let answer = console
        .submit(&retire, &[("confirm", "yes"), ("version", "2")])
        .await;
    assert_eq!(
        answer.status,
        StatusCode::CONFLICT,
        "the current version stays"
    );
    let answer = console
        .submit(&retire, &[("confirm", "yes"), ("version", "1")])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let listed = app
        .get_json(&format!("/api/v1/sites/{site}/card-keys"), &admin)
        .await;
    assert_eq!(versions(&listed), states(&[(1, "retired"), (2, "current")]));

    // A security officer reads the site page without the panel, and may not act.
    app.create_operator(&admin, "officer", "security").await;
    let officer = Console::login(&app, "officer", crate::common::PASSWORD).await;
    let shown = officer.get(&page).await;
    assert!(!shown.body.contains("Card keys"));
    let answer = officer.submit(&rotate, &[("confirm", "yes")]).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    app.stop().await;
}
