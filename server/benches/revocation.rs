//! Revocation → door: the time from a credential revoked through the API to an agent
//! holding a policy in which it is revoked, with signed deltas and, in the same run, with
//! whole snapshots (the agent before deltas) as the baseline.
//!
//! `cargo bench -p gatehouse-server --bench revocation` (sizes from
//! `GATEHOUSE_BENCH_SIZES`, default `1000,250000`; revocations per mode from
//! `GATEHOUSE_BENCH_RUNS`, default 10; `GATEHOUSE_BENCH_SNAPSHOTS=0` leaves out the
//! snapshot baseline), on SQLite and, when `GATEHOUSE_TEST_POSTGRES_URL` is set, on
//! PostgreSQL (a fresh database each run, dropped after).
//!
//! The real `gatehouse serve` of this build on a fresh database; N people with a card each
//! come in through the HR import before it starts (one site, one door). The agent is
//! simulated in the bench by what the door agent does with an answer: it long-polls
//! `GET /agent/policy` (`after_version`, `wait_s=25`, and `delta=true` in delta mode),
//! verifies the signed delta against the policy in hand and applies it in place, or
//! verifies and loads a whole snapshot. Each revocation is timed from just before the
//! `PATCH` to the moment the agent's policy shows the credential revoked. The server's
//! resident memory (`/proc`) is read once the agent holds its first snapshot and after the
//! last revocation, with its peak.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::VerifyingKey;
use gatehouse_core::model::CredentialState;
use gatehouse_core::policy::{DeltaBase, Policy, SignedDelta, SignedSnapshot};
use gatehouse_core::protocol::{FORMAT_DELTA, POLICY_FORMAT_HEADER};
use gatehouse_server::store::{DatabaseSettings, Store};
use serde_json::{Value, json};
use std::fmt::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, Notify};
use uuid::Uuid;

mod support;
use gatehouse_e2e::memory_mib;
use support::agents::Api;
use support::site::{people_with_cards, site_with_doors};
use support::{Result, Server, env_list, env_number, fresh_postgres, percentile, text};

/// What the simulated agent holds.
struct Held {
    policy: Policy,
    version: u64,
    sites: Vec<Uuid>,
}

/// The agent's last answer: its size and how long verifying and applying it took.
#[derive(Default, Clone, Copy)]
struct Applied {
    bytes: usize,
    apply_ms: f64,
}

struct Agent {
    held: Mutex<Held>,
    last: Mutex<Applied>,
    changed: Notify,
}

#[tokio::main]
async fn main() -> Result<()> {
    let sizes = env_list("GATEHOUSE_BENCH_SIZES", &[1_000, 250_000])?;
    let runs = env_number("GATEHOUSE_BENCH_RUNS", 10)?;
    let modes: &[bool] = match std::env::var("GATEHOUSE_BENCH_SNAPSHOTS").as_deref() {
        Ok("0") => &[true],
        _ => &[true, false],
    };
    let postgres = std::env::var("GATEHOUSE_TEST_POSTGRES_URL").ok();
    if postgres.is_none() {
        eprintln!("PostgreSQL skipped: set GATEHOUSE_TEST_POSTGRES_URL to measure it too");
    }
    let backends = std::iter::once(None).chain(postgres.as_deref().map(Some));
    let mut table = String::new();
    for backend in backends {
        for &n in &sizes {
            for &delta in modes {
                table.push_str(&run_on(backend, n, runs, delta).await?);
            }
        }
    }
    println!();
    println!(
        "| backend | credentials | agent takes | revocation → agent p50 | p99 | max | answer size | agent verify + apply | server RSS served / after (peak) |"
    );
    println!("|---|---:|---|---:|---:|---:|---:|---:|---:|");
    print!("{table}");
    Ok(())
}

/// One row on SQLite (`postgres` none) or on a fresh PostgreSQL database.
async fn run_on(postgres: Option<&str>, n: usize, runs: usize, delta: bool) -> Result<String> {
    let dir = tempfile::tempdir()?;
    let Some(admin_url) = postgres else {
        let url = format!("sqlite://{}/gatehouse.db", dir.path().display());
        return run("SQLite", dir.path(), &url, n, runs, delta).await;
    };
    let (url, dropper) = fresh_postgres(admin_url).await?;
    let row = run("PostgreSQL", dir.path(), &url, n, runs, delta).await;
    dropper.drop_database().await?;
    row
}

async fn run(
    backend: &str,
    dir: &std::path::Path,
    url: &str,
    n: usize,
    runs: usize,
    delta: bool,
) -> Result<String> {
    let door = populate(url, n).await?;
    let server = Server::start(dir, url)?;
    server.wait_ready().await?;
    let api = Api {
        client: reqwest::Client::new(),
        base: format!("{}/api/v1", server.base_url),
    };
    let admin = api.login().await?;
    let token = enrol(&api, &admin, door).await?;
    let key = policy_key(&api).await?;
    let credentials = api
        .get(&format!("/credentials?limit={runs}"), &admin)
        .await?;
    let ids: Vec<String> = (credentials["items"].as_array().into_iter().flatten())
        .map(|c| text(&c["id"]))
        .collect::<Result<_>>()?;

    let agent = Arc::new(Agent {
        held: Mutex::new(first_snapshot(&api, &token, &key).await?),
        last: Mutex::default(),
        changed: Notify::new(),
    });
    // The server once it has compiled and served the whole policy.
    let (served_mib, _) = memory_mib(server.child.id())?;
    let polling = tokio::spawn(poll(api.clone(), token, key, agent.clone(), delta));

    let mut times = Vec::new();
    let mut sizes = Vec::new();
    let mut applies = Vec::new();
    for id in ids.iter().take(runs) {
        let credential: Uuid = id.parse()?;
        let started = Instant::now();
        let path = format!("{}/credentials/{id}", api.base);
        (api.client.patch(path).bearer_auth(&admin))
            .json(&json!({"state": "revoked"}))
            .send()
            .await?
            .error_for_status()?;
        loop {
            let notified = agent.changed.notified();
            let held = agent.held.lock().await;
            let revoked = held
                .policy
                .credential(credential)
                .is_some_and(|c| c.state == CredentialState::Revoked);
            drop(held);
            if revoked {
                break;
            }
            tokio::time::timeout(Duration::from_secs(120), notified)
                .await
                .map_err(|_| "the agent did not see the revocation within 120 s")?;
        }
        times.push(started.elapsed().as_secs_f64() * 1e3);
        let last = *agent.last.lock().await;
        sizes.push(last.bytes as f64);
        applies.push(last.apply_ms);
    }
    polling.abort();
    let (after_mib, peak_mib) = memory_mib(server.child.id())?;
    server.stop()?;
    for list in [&mut times, &mut sizes, &mut applies] {
        list.sort_by(f64::total_cmp);
    }
    let mut row = String::new();
    writeln!(
        row,
        "| {backend} | {n} | {} | {:.0} ms | {:.0} ms | {:.0} ms | {} | {:.1} ms | {served_mib:.0} / {after_mib:.0} MiB ({peak_mib:.0}) |",
        if delta { "deltas" } else { "snapshots" },
        percentile(&times, 0.5),
        percentile(&times, 0.99),
        times.last().copied().unwrap_or(0.0),
        size(percentile(&sizes, 0.5)),
        percentile(&applies, 0.5),
    )?;
    eprint!("{row}");
    Ok(row)
}

fn size(bytes: f64) -> String {
    if bytes >= 1048576.0 {
        format!("{:.1} MiB", bytes / 1048576.0)
    } else {
        format!("{:.1} KiB", bytes / 1024.0)
    }
}

/// A site with one door and `n` people with a card each; the door's id.
async fn populate(url: &str, n: usize) -> Result<Uuid> {
    let store = Store::open(&DatabaseSettings {
        url: url.to_owned(),
        max_connections: 5,
    })
    .await?;
    let (_, doors) = site_with_doors(&store, 1).await?;
    people_with_cards(&store, n).await?;
    store.close().await;
    doors.first().copied().ok_or_else(|| "no door".into())
}

async fn enrol(api: &Api, admin: &str, door: Uuid) -> Result<String> {
    let body = json!({"name": "bench agent", "door_ids": [door]});
    let agent = api.post("/agents", admin, body).await?;
    let answer: Value = (api.client.post(format!("{}/agent/enroll", api.base)))
        .json(&json!({"code": agent["enrollment_code"]}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    text(&answer["token"])
}

async fn policy_key(api: &Api) -> Result<VerifyingKey> {
    let answer: Value = (api.client.get(format!("{}/policy/public-key", api.base)))
        .send()
        .await?
        .json()
        .await?;
    let bytes: [u8; 32] = STANDARD
        .decode(text(&answer["public_key"])?)?
        .try_into()
        .map_err(|_| "a public key of the wrong length")?;
    Ok(VerifyingKey::from_bytes(&bytes)?)
}

/// The first whole snapshot, verified and loaded.
async fn first_snapshot(api: &Api, token: &str, key: &VerifyingKey) -> Result<Held> {
    let answer = api.first_snapshot(token).await?;
    let envelope = SignedSnapshot::from_bytes(&answer.bytes().await?)?;
    Ok(Held {
        policy: envelope.verify(key, 0)?,
        version: envelope.version,
        sites: envelope.site_ids,
    })
}

/// The agent's long-poll: each answer verified and applied (a delta) or loaded (a
/// snapshot), then the bench is told.
async fn poll(
    api: Api,
    token: String,
    key: VerifyingKey,
    agent: Arc<Agent>,
    delta: bool,
) -> Result<()> {
    loop {
        let version = agent.held.lock().await.version;
        let query = format!("after_version={version}&wait_s=25&delta={delta}");
        let answer = (api.client.get(format!("{}/agent/policy?{query}", api.base)))
            .bearer_auth(&token)
            .timeout(Duration::from_secs(40))
            .send()
            .await?;
        // 204: nothing newer; 408/503: the server is still building it, ask again.
        if answer.status() != reqwest::StatusCode::OK {
            continue;
        }
        let is_delta = answer
            .headers()
            .get(POLICY_FORMAT_HEADER)
            .is_some_and(|f| f.as_bytes() == FORMAT_DELTA.as_bytes());
        let bytes = answer.bytes().await?;
        let started = Instant::now();
        let mut held = agent.held.lock().await;
        if is_delta {
            let signed = SignedDelta::from_bytes(&bytes)?;
            let base = DeltaBase {
                version: held.version,
                site_ids: &held.sites,
            };
            let changes = signed.verify(&key, base)?;
            held.policy.apply(&changes)?;
            held.version = signed.version;
        } else {
            let envelope = SignedSnapshot::from_bytes(&bytes)?;
            *held = Held {
                policy: envelope.verify(&key, held.version)?,
                version: envelope.version,
                sites: envelope.site_ids,
            };
        }
        let apply_ms = started.elapsed().as_secs_f64() * 1e3;
        drop(held);
        *agent.last.lock().await = Applied {
            bytes: bytes.len(),
            apply_ms,
        };
        agent.changed.notify_waiters();
    }
}
