//! The agent's side of site card keys, against a stub server (axum, in the test) that
//! seals keys to whatever public key the agent registered and answers the policy
//! long-poll with the key-set number: an agent enrolled before card keys makes its key
//! pair and registers it once, fetches its keys, follows a rotation announced in the
//! policy answer's `x-card-key-set`, and after a restart without the server still holds
//! them (from the sealed set on disk).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use door_agent::agent::card_keys::{CardKeys, SECRET_FILE, card_key_loop, load_or_create_secret};
use door_agent::agent::policy_sync::{PolicyState, sync_loop};
use gatehouse_core::model::PinKey;
use gatehouse_core::protocol::card_keys::{ReaderKeys, seal};
use gatehouse_core::protocol::{CARD_KEY_SET_HEADER, CardKeySet, CardPublicKey, SealedCardKeys};
use secrecy::SecretString;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

const AGENT: Uuid = Uuid::from_u128(0xA);
const SITE: Uuid = Uuid::from_u128(0x5);

struct Stub {
    /// The public keys registered, in order.
    registered: Mutex<Vec<[u8; 32]>>,
    /// (version, current) of the site's accepted versions, and the key-set number.
    versions: watch::Sender<(Vec<(u8, bool)>, u64)>,
}

async fn register(State(stub): State<Arc<Stub>>, Json(body): Json<CardPublicKey>) -> StatusCode {
    let key: [u8; 32] = STANDARD
        .decode(body.public_key)
        .unwrap()
        .try_into()
        .unwrap();
    stub.registered.lock().unwrap().push(key);
    StatusCode::NO_CONTENT
}

async fn card_keys(State(stub): State<Arc<Stub>>) -> Response {
    let Some(public) = stub.registered.lock().unwrap().last().copied() else {
        return StatusCode::CONFLICT.into_response();
    };
    let (versions, key_set) = stub.versions.borrow().clone();
    let keys = versions
        .iter()
        .map(|(version, current)| {
            let reader = ReaderKeys {
                read: [*version; 16],
                uid: [0xF0 | version; 16],
            };
            let sealed = seal(
                &public,
                AGENT,
                SITE,
                *version,
                &reader,
                &mut rand::rngs::OsRng,
            );
            SealedCardKeys {
                site_id: SITE,
                version: *version,
                current: *current,
                sealed: STANDARD.encode(sealed.unwrap()),
            }
        })
        .collect();
    Json(CardKeySet { key_set, keys }).into_response()
}

/// A long-poll that ends (204) when the key set changes or after a second, carrying the
/// key-set number as the real server's does.
async fn policy(State(stub): State<Arc<Stub>>) -> Response {
    let mut changes = stub.versions.subscribe();
    let _ = tokio::time::timeout(Duration::from_secs(1), changes.changed()).await;
    let key_set = stub.versions.borrow().1;
    let mut headers = HeaderMap::new();
    headers.insert(CARD_KEY_SET_HEADER, HeaderValue::from(key_set));
    (StatusCode::NO_CONTENT, headers).into_response()
}

async fn serve() -> (Arc<Stub>, String) {
    let stub = Arc::new(Stub {
        registered: Mutex::new(Vec::new()),
        versions: watch::Sender::new((vec![(1, true)], 1)),
    });
    let app = axum::Router::new()
        .route(
            "/api/v1/agent/card-public-key",
            axum::routing::put(register),
        )
        .route("/api/v1/agent/card-keys", axum::routing::get(card_keys))
        .route("/api/v1/agent/policy", axum::routing::get(policy))
        .with_state(Arc::clone(&stub));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (stub, url)
}

/// Waits (30 s at most) until the agent accepts exactly `versions` at the site.
async fn until_accepted(keys: &CardKeys, versions: &[u8]) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while keys.accepted_versions(SITE) != versions {
        assert!(
            tokio::time::Instant::now() < deadline,
            "versions {versions:?} not reached: {:?}",
            keys.accepted_versions(SITE)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_old_agent_registers_fetches_follows_a_rotation_and_keeps_its_keys() {
    let (stub, url) = serve().await;
    let dir = tempfile::tempdir().unwrap();
    // Enrolled before card keys: no key pair in the state directory yet.
    assert!(!dir.path().join(SECRET_FILE).exists());
    let secret = load_or_create_secret(dir.path()).unwrap();
    let keys = Arc::new(CardKeys::load(dir.path(), AGENT, secret));
    let policy = Arc::new(PolicyState::load(
        dir.path(),
        gatehouse_core::policy::generate_key().verifying_key(),
    ));
    policy.set_pin_key(PinKey::from_bytes([1; 32])).await;
    let stop = CancellationToken::new();
    let token = SecretString::from("gha_token".to_owned());
    let client = reqwest::Client::new();
    let tasks = [
        tokio::spawn(sync_loop(
            Arc::clone(&policy),
            client.clone(),
            url.clone(),
            token.clone(),
            dir.path().join("pin-key"),
            stop.clone(),
        )),
        tokio::spawn(card_key_loop(
            Arc::clone(&keys),
            client,
            url,
            token,
            policy.card_key_set.subscribe(),
            stop.clone(),
        )),
    ];
    until_accepted(&keys, &[1]).await;
    assert_eq!(*stub.registered.lock().unwrap(), vec![keys.public_key()]);

    // A rotation: the policy long-poll carries the new number; the agent fetches.
    stub.versions.send_replace((vec![(1, false), (2, true)], 2));
    until_accepted(&keys, &[2, 1]).await;
    assert_eq!(keys.current_version(SITE), Some(2));
    // Retired: version 1 is refused from then on.
    stub.versions.send_replace((vec![(2, true)], 3));
    until_accepted(&keys, &[2]).await;
    assert!(keys.uid_key(SITE, 1).is_none() && keys.read_key_for(SITE, 1, &[1; 7]).is_none());
    assert!(keys.read_key_for(SITE, 2, &[1; 7]).is_some());
    stop.cancel();
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(10), task)
            .await
            .unwrap()
            .unwrap();
    }
    assert_eq!(stub.registered.lock().unwrap().len(), 1, "registered once");

    // Restart without the server: the same key pair and the kept set.
    let secret = load_or_create_secret(dir.path()).unwrap();
    let restarted = CardKeys::load(dir.path(), AGENT, secret);
    assert_eq!(restarted.public_key(), keys.public_key());
    assert_eq!(restarted.accepted_versions(SITE), vec![2]);
    assert_eq!(restarted.key_set(), Some(3));
    assert_eq!(restarted.uid_key(SITE, 2), keys.uid_key(SITE, 2));
    // Nothing of the keys in clear on disk.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(!bytes.windows(16).any(|w| w == [0xF2; 16] || w == [2; 16]));
    }
}
