//! The agent's side of policy deltas, against a stub server (axum, in the test) that
//! signs snapshots and deltas (`PolicyDelta::between` + `SignedDelta::sign`) for a
//! chain of versions, each revoking one more card: deltas are applied in place and kept
//! on disk (a restart reloads the same version), a delta for another base or a tampered
//! one is refused and a full snapshot fetched instead, and a real agent process killed
//! (SIGKILL) while it writes deltas restarts at a good version.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use door_agent::agent::credential::{Credential as AgentCredential, write_atomic};
use door_agent::agent::policy_sync::{PolicyState, sync_loop};
use ed25519_dalek::SigningKey;
use gatehouse_core::model::*;
use gatehouse_core::policy::{PolicyDelta, PolicySource, SignedDelta, sign_at};
use gatehouse_core::protocol::{FORMAT_DELTA, FORMAT_SNAPSHOT, POLICY_FORMAT_HEADER, PolicyQuery};
use gatehouse_e2e::free_port;
use secrecy::SecretString;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Enough cards that a chain of tens of deltas stays under a quarter of the snapshot.
const PEOPLE: u128 = 1000;

fn id(kind: u128, n: u128) -> Uuid {
    Uuid::from_u128(kind << 96 | n)
}

fn door() -> Uuid {
    id(3, 1)
}

/// Version 1: one site, zone and door, `PEOPLE` people with a card each.
fn base_source() -> PolicySource {
    let site = id(1, 0);
    let zone = |n: u128, parent: Option<Uuid>| Zone {
        id: id(2, n),
        site_id: site,
        parent_id: parent,
        level: 1,
        vetting_required: false,
        escort_required: false,
        two_person: false,
        pin_required: false,
        anti_passback: AntiPassback::Off,
        anti_passback_timeout_s: None,
        max_occupancy: None,
        min_assurance: Default::default(),
    };
    PolicySource {
        settings: Default::default(),
        sites: vec![Site {
            id: site,
            name: "Stub".into(),
            timezone: "Europe/Berlin".parse().unwrap(),
            threat: ThreatLevel::default(),
            secure_cards_from_threat_level: None,
        }],
        zones: vec![zone(0, None), zone(1, Some(id(2, 0)))],
        doors: vec![Door {
            id: door(),
            site_id: site,
            from_zone_id: id(2, 0),
            to_zone_id: id(2, 1),
            mode: DoorMode::Normal,
            unlock_ms: 3000,
            held_open_ms: 30000,
        }],
        people: (0..PEOPLE)
            .map(|p| Person {
                id: id(4, p),
                kind: PersonKind::Staff,
                status: PersonStatus::Active,
                clearance: 1,
                vetting: None,
                group_ids: Default::default(),
            })
            .collect(),
        visits: vec![],
        credentials: (0..PEOPLE)
            .map(|p| Credential {
                id: id(6, p),
                card: format!("{:08X}", 0x0400_0000 + p).parse().unwrap(),
                kind: CardKind::Uid,
                state: CredentialState::Active,
                valid_from: None,
                valid_until: None,
                holder: Holder::Person(id(4, p)),
                pin: None,
            })
            .collect(),
        grants: vec![],
        schedules: vec![],
    }
}

/// Versions 1 ..= `last`: version v + 1 revokes card v of version v.
fn versions(last: u64) -> BTreeMap<u64, PolicySource> {
    let mut all = BTreeMap::new();
    let mut source = base_source();
    all.insert(1, source.clone());
    for v in 2..=last {
        let i = usize::try_from(v - 2).unwrap() % PEOPLE as usize;
        source.credentials[i].state = CredentialState::Revoked;
        // Every fifth version also brings a new person with a card.
        if v % 5 == 0 {
            let n = 1_000 + u128::from(v);
            source.people.push(Person {
                id: id(4, n),
                ..source.people[0].clone()
            });
            source.credentials.push(Credential {
                id: id(6, n),
                card: format!("{:08X}", 0x0500_0000 + n).parse().unwrap(),
                holder: Holder::Person(id(4, n)),
                ..source.credentials[0].clone()
            });
        }
        all.insert(v, source.clone());
    }
    all
}

/// What the stub does with a delta request after a version.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Bad {
    /// A correctly signed delta made from another version.
    WrongBase,
    /// A delta with a payload byte changed after signing.
    Tampered,
}

struct Stub {
    key: SigningKey,
    versions: BTreeMap<u64, PolicySource>,
    latest: watch::Sender<u64>,
    bad: BTreeMap<u64, Bad>,
    /// Every query, in order.
    log: Mutex<Vec<Asked>>,
}

/// What a policy request asked.
#[derive(Clone, Copy, Debug)]
struct Asked {
    after_version: Option<u64>,
    delta: Option<bool>,
}

impl Stub {
    fn site_ids(&self) -> Vec<Uuid> {
        self.versions[&1].sites.iter().map(|s| s.id).collect()
    }

    fn snapshot(&self, version: u64) -> Vec<u8> {
        sign_at(&self.versions[&version], version, Utc::now(), &self.key)
            .unwrap()
            .to_bytes()
            .unwrap()
    }

    fn delta(&self, from: u64) -> Vec<u8> {
        let to = from + 1;
        let changes = PolicyDelta::between(&self.versions[&from], &self.versions[&to]);
        let signed_from = if self.bad.get(&from) == Some(&Bad::WrongBase) {
            from + 7
        } else {
            from
        };
        let signed = SignedDelta::sign(
            &changes,
            signed_from,
            to,
            self.site_ids(),
            Utc::now(),
            &self.key,
        )
        .unwrap();
        let mut signed = signed;
        if self.bad.get(&from) == Some(&Bad::Tampered) {
            signed.payload[0] ^= 1;
        }
        signed.to_bytes().unwrap()
    }
}

async fn policy(State(stub): State<Arc<Stub>>, Query(q): Query<PolicyQuery>) -> Response {
    stub.log.lock().unwrap().push(Asked {
        after_version: q.after_version,
        delta: q.delta,
    });
    let mut latest = stub.latest.subscribe();
    if let Some(have) = q.after_version {
        // A long poll: wait for something newer (25 s at most, as the server does).
        let newer = latest.wait_for(|&l| l > have);
        if tokio::time::timeout(Duration::from_secs(25), newer)
            .await
            .is_err()
        {
            return StatusCode::NO_CONTENT.into_response();
        }
    }
    let last = *latest.borrow();
    let (format, body) = match q.after_version {
        Some(have) if q.delta == Some(true) && have < last => (FORMAT_DELTA, stub.delta(have)),
        _ => (FORMAT_SNAPSHOT, stub.snapshot(last)),
    };
    let mut headers = HeaderMap::new();
    headers.insert(POLICY_FORMAT_HEADER, HeaderValue::from_static(format));
    (headers, body).into_response()
}

/// The stub serving versions up to `latest` of `last`; its base URL.
async fn serve(last: u64, latest: u64, bad: BTreeMap<u64, Bad>) -> (Arc<Stub>, String) {
    let stub = Arc::new(Stub {
        key: SigningKey::from_bytes(&[3; 32]),
        versions: versions(last),
        latest: watch::Sender::new(latest),
        bad,
        log: Mutex::new(Vec::new()),
    });
    let app = axum::Router::new()
        .route("/api/v1/agent/policy", axum::routing::get(policy))
        .with_state(Arc::clone(&stub));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (stub, url)
}

/// Runs the sync loop on `dir` until the policy in use is `version`; returns the state.
async fn sync_until(dir: &Path, stub: &Stub, url: &str, version: u64) -> Arc<PolicyState> {
    let state = Arc::new(PolicyState::load(dir, stub.key.verifying_key()));
    // The PIN key is in hand, so the loop asks for nothing but policy.
    state.set_pin_key(PinKey::from_bytes([1; 32])).await;
    let stop = CancellationToken::new();
    let task = tokio::spawn(sync_loop(
        Arc::clone(&state),
        reqwest::Client::new(),
        url.to_owned(),
        SecretString::from("token".to_owned()),
        dir.join("pin-key"),
        stop.clone(),
    ));
    let mut current = state.current.subscribe();
    let reached = current.wait_for(|p| p.as_ref().is_some_and(|p| p.version == version));
    let reached = tokio::time::timeout(Duration::from_secs(30), reached).await;
    stop.cancel();
    task.await.unwrap();
    assert!(
        reached.is_ok(),
        "version {version} not reached: {:?}",
        state.version()
    );
    state
}

/// The policy in use has exactly the records of `source`.
fn holds(state: &PolicyState, source: &PolicySource) {
    let current = state.current.borrow();
    let policy = &current.as_ref().unwrap().policy;
    assert_eq!(policy.source().clone().sorted(), source.clone().sorted());
    for c in &source.credentials {
        assert_eq!(policy.credential_of(c.card), Some(c));
    }
}

fn delta_files(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .filter(|e| {
            let name = e.as_ref().unwrap().file_name();
            name.to_string_lossy().starts_with("policy.delta.")
        })
        .count()
}

#[tokio::test]
async fn deltas_are_applied_in_place_and_a_restart_reloads_the_chain() {
    let (stub, url) = serve(6, 1, BTreeMap::new()).await;
    let dir = tempfile::tempdir().unwrap();
    // The first sync has no policy: a full snapshot.
    sync_until(dir.path(), &stub, &url, 1).await;
    let first = stub.log.lock().unwrap().drain(..).next().unwrap();
    assert_eq!(first.delta, None, "nothing to apply a delta to at first");
    stub.latest.send_replace(6);
    let state = sync_until(dir.path(), &stub, &url, 6).await;
    holds(&state, &stub.versions[&6]);
    let log = stub.log.lock().unwrap().clone();
    let deltas: Vec<_> = log.iter().filter(|q| q.delta == Some(true)).collect();
    assert!(deltas.len() >= 5, "one delta request per version: {log:?}");
    assert_eq!(delta_files(dir.path()), 5);
    // A verified delta confirms the policy like a snapshot.
    assert!(state.age_s().unwrap() < 5);
    drop(state);

    // A restart loads the snapshot and re-applies the chain: the same version and records.
    let restarted = PolicyState::load(dir.path(), stub.key.verifying_key());
    assert_eq!(restarted.version(), Some(6));
    holds(&restarted, &stub.versions[&6]);
}

#[tokio::test]
async fn a_delta_for_another_base_is_refused_and_a_snapshot_fetched() {
    let (stub, url) = serve(4, 1, BTreeMap::from([(2, Bad::WrongBase)])).await;
    let dir = tempfile::tempdir().unwrap();
    sync_until(dir.path(), &stub, &url, 1).await;
    stub.log.lock().unwrap().clear();
    stub.latest.send_replace(4);
    // 1 → 2 by delta; 2 → 3 refused (made from 9); then the snapshot of 4.
    let state = sync_until(dir.path(), &stub, &url, 4).await;
    holds(&state, &stub.versions[&4]);
    let log = stub.log.lock().unwrap().clone();
    let after_refusal = log
        .iter()
        .skip_while(|q| !(q.after_version == Some(2) && q.delta == Some(true)))
        .nth(1)
        .unwrap();
    assert_eq!(
        (after_refusal.after_version, after_refusal.delta),
        (Some(2), None),
        "a full snapshot is asked for: {log:?}"
    );
    assert_eq!(
        delta_files(dir.path()),
        0,
        "the snapshot replaced the chain"
    );
    drop(state);
    let restarted = PolicyState::load(dir.path(), stub.key.verifying_key());
    assert_eq!(restarted.version(), Some(4));
}

#[tokio::test]
async fn a_tampered_delta_is_refused_and_never_kept() {
    let (stub, url) = serve(3, 1, BTreeMap::from([(1, Bad::Tampered)])).await;
    let dir = tempfile::tempdir().unwrap();
    sync_until(dir.path(), &stub, &url, 1).await;
    stub.log.lock().unwrap().clear();
    stub.latest.send_replace(3);
    let state = sync_until(dir.path(), &stub, &url, 3).await;
    holds(&state, &stub.versions[&3]);
    let log = stub.log.lock().unwrap().clone();
    let tampered = log
        .iter()
        .position(|q| q.after_version == Some(1) && q.delta == Some(true))
        .unwrap();
    assert_eq!(log[tampered + 1].delta, None, "{log:?}");
    // Version 2 was never in use: from 1 straight to the snapshot of 3.
    assert!(log.iter().all(|q| q.after_version != Some(2)), "{log:?}");
    assert_eq!(delta_files(dir.path()), 0);
}

/// A state directory as enrolment and a first sync of version 1 leave it, and a
/// configuration pointing the agent at `url`.
fn lay_out(dir: &Path, stub: &Stub, url: &str) {
    let state = dir.join("state");
    write_atomic(&state.join("policy.snapshot"), &stub.snapshot(1), 0o600).unwrap();
    AgentCredential {
        agent_id: Uuid::new_v4(),
        token: SecretString::from("gha_test".to_owned()),
        door_ids: vec![door()],
        policy_key: stub.key.verifying_key(),
        server_url: url.to_owned(),
    }
    .save(&state.join("credential.json"))
    .unwrap();
    let config = format!(
        "[server]\nurl = \"{url}\"\nallow_plain_http = true\n\n\
         [agent]\ncredential_file = \"{state}/credential.json\"\nstate_dir = \"{state}\"\n\n\
         [status]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [reader]\nkind = \"simulated\"\n\n\
         [[readers]]\nname = \"front\"\ndoor_id = \"{door}\"\ndirection = \"entry\"\n",
        state = state.display(),
        port = free_port(),
        door = door(),
    );
    std::fs::write(dir.join("door-agent.toml"), config).unwrap();
}

fn start_agent(dir: &Path) -> Child {
    let log = File::create(dir.join("agent.log")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_door-agent"))
        .arg("run")
        .arg("--config")
        .arg(dir.join("door-agent.toml"))
        .current_dir(dir)
        .env("RUST_LOG", "info")
        .stdin(Stdio::piped())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_killed_while_it_writes_deltas_restarts_at_a_good_version() {
    const LAST: u64 = 100;
    let (stub, url) = serve(LAST, LAST, BTreeMap::new()).await;
    let dir = tempfile::tempdir().unwrap();
    lay_out(dir.path(), &stub, &url);
    let state_dir = dir.path().join("state");
    let mut reached = 1;
    for round in 1..=4 {
        let mut agent = start_agent(dir.path());
        // Killed once it has written a few more deltas (or has them all).
        let target = (delta_files(&state_dir) + 5 * round).min(LAST as usize - 1);
        let deadline = Instant::now() + Duration::from_secs(60);
        while delta_files(&state_dir) < target && Instant::now() < deadline {
            assert!(agent.try_wait().unwrap().is_none(), "the agent exited");
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        agent.kill().unwrap(); // SIGKILL
        agent.wait().unwrap();
        let state = PolicyState::load(&state_dir, stub.key.verifying_key());
        let version = state.version().expect("a usable policy after SIGKILL");
        assert!(version >= reached, "round {round}: {version} < {reached}");
        holds(&state, &stub.versions[&version]);
        eprintln!("round {round}: killed, restarts at version {version}");
        reached = version;
    }
    assert!(reached > 1, "no delta was applied before the kills");
}
