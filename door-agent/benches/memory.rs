//! The door agent's resident memory with a policy of N credentials.
//!
//! `cargo bench -p door-agent --bench memory` (sizes from `GATEHOUSE_BENCH_SIZES`,
//! default `1000,250000,2000000`; `GATEHOUSE_BENCH_AGENT` names another agent binary to
//! measure, e.g. an older build, which the stub serves full snapshots if it does not
//! ask for deltas).
//!
//! For each size the bench signs a synthetic policy (one site, 64 zones and doors, N
//! people with one card each, group and direct grants: the shape of core's `decide`
//! bench) with a key of its own, and lays out what `door-agent enroll` and a first sync
//! would leave in the state directory: the credential file pinning that key, and
//! `policy.snapshot`. Then it runs the real `door-agent run` of this build (simulated
//! reader and lock, its standard input an open pipe) with the server URL on a closed
//! port, so the agent decides from the snapshot on disk and keeps retrying the server,
//! as it would offline. Once `/status` shows the policy's version, and again a second
//! later, it reads `VmRSS` (resident now) and `VmHWM` (the peak) of the process from
//! `/proc/<pid>/status`.
//!
//! Then 100 updates: the server URL is a stub in this process (axum) that long-polls
//! like the server and answers an agent asking `delta=true` with a signed delta of one
//! card's revocation, one version at a time (a full snapshot, signed on demand, if the
//! agent asks for one instead; the table says how many it asked for). After each the
//! bench waits for `/status` to show the new version; after the hundredth it reads
//! `VmRSS` and `VmHWM` again.

use std::error::Error;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveTime, Utc, Weekday};
use door_agent::agent::credential::{Credential as AgentCredential, write_atomic};
use ed25519_dalek::SigningKey;
use gatehouse_core::model::*;
use gatehouse_core::policy::{Changes, PolicyDelta, PolicySource, SignedDelta, sign_at};
use gatehouse_core::protocol::{FORMAT_DELTA, FORMAT_SNAPSHOT, POLICY_FORMAT_HEADER, PolicyQuery};
use gatehouse_e2e::{free_port, memory_mib};
use secrecy::SecretString;
use tokio::sync::watch;
use uuid::Uuid;

type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

const ZONES: u128 = 64;
const GROUPS: u128 = 100;
const VERSION: u64 = 7;
/// How long the agent may take from start to the policy in use.
const LOAD_TIMEOUT: Duration = Duration::from_secs(300);
/// Policy updates after start.
const UPDATES: u64 = 100;

fn id(kind: u128, n: u128) -> Uuid {
    Uuid::from_u128(kind << 96 | n)
}

fn card(n: u128) -> String {
    format!("{:014X}", 0x04_0000_0000_0000u128 + n)
}

/// The door the agent's reader is at.
fn door() -> Uuid {
    id(3, 1)
}

/// A site with a zone tree, one door per zone, `n` people each with one card, group
/// grants (some scheduled) and a direct grant for every tenth person.
fn source(n: u128) -> Result<PolicySource> {
    let site = id(1, 0);
    let zones = (0..ZONES).map(|z| Zone {
        id: id(2, z),
        site_id: site,
        parent_id: (z > 0).then(|| id(2, (z - 1) / 4)),
        level: u8::try_from(z.min(4)).unwrap_or(4),
        vetting_required: z % 3 == 0,
        escort_required: false,
        two_person: false,
        pin_required: false,
        anti_passback: if z % 5 == 0 {
            AntiPassback::Hard
        } else {
            AntiPassback::Off
        },
        anti_passback_timeout_s: Some(600),
        max_occupancy: None,
        min_assurance: Default::default(),
    });
    let doors = (1..ZONES).map(|z| Door {
        id: id(3, z),
        site_id: site,
        from_zone_id: id(2, (z - 1) / 4),
        to_zone_id: id(2, z),
        mode: DoorMode::Normal,
        unlock_ms: 3000,
        held_open_ms: 30000,
    });
    let office = Schedule {
        id: id(7, 0),
        site_id: site,
        windows: vec![Window {
            days: [
                Weekday::Mon,
                Weekday::Tue,
                Weekday::Wed,
                Weekday::Thu,
                Weekday::Fri,
            ]
            .into_iter()
            .collect(),
            start: NaiveTime::from_hms_opt(7, 0, 0).ok_or("time")?,
            end: NaiveTime::from_hms_opt(19, 0, 0).ok_or("time")?,
        }],
        holidays: vec!["2026-12-25".parse()?],
    };
    let people = (0..n).map(|p| Person {
        id: id(4, p),
        kind: PersonKind::Staff,
        status: PersonStatus::Active,
        clearance: 4,
        vetting: Some(Vetting {
            status: VettingStatus::Cleared,
            cleared_until: None,
        }),
        group_ids: vec![id(5, p % GROUPS)].into(),
    });
    let credentials = (0..n).map(|p| -> Result<Credential> {
        Ok(Credential {
            id: id(6, p),
            card: card(p).parse()?,
            kind: CardKind::Uid,
            state: CredentialState::Active,
            valid_from: None,
            valid_until: None,
            holder: Holder::Person(id(4, p)),
            pin: None,
        })
    });
    let group_grants = (0..GROUPS).map(|g| Grant {
        id: id(8, g),
        subject: Subject::Group(id(5, g)),
        zone_id: id(2, 1 + g % 4),
        schedule_id: g.is_multiple_of(2).then(|| id(7, 0)),
        valid_from: None,
        valid_until: None,
    });
    let direct = (0..n).step_by(10).map(|p| Grant {
        id: id(9, p),
        subject: Subject::Person(id(4, p)),
        zone_id: id(2, 5 + p % (ZONES - 5)),
        schedule_id: None,
        valid_from: None,
        valid_until: None,
    });
    Ok(PolicySource {
        settings: Default::default(),
        sites: vec![Site {
            id: site,
            name: "Bench".into(),
            timezone: "Europe/Berlin".parse().map_err(|e| format!("{e}"))?,
            threat: ThreatLevel::default(),
            secure_cards_from_threat_level: None,
        }],
        zones: zones.collect(),
        doors: doors.collect(),
        people: people.collect(),
        visits: vec![],
        credentials: credentials.collect::<Result<_>>()?,
        grants: group_grants.chain(direct).collect(),
        schedules: vec![office],
    })
}

/// The agent's state directory and configuration as enrolment and a first sync leave
/// them; the configuration file's path.
fn lay_out(
    dir: &Path,
    snapshot: &[u8],
    key: &SigningKey,
    status_port: u16,
    server_url: &str,
) -> Result<()> {
    let state = dir.join("state");
    write_atomic(&state.join("policy.snapshot"), snapshot, 0o600).map_err(|e| format!("{e:#}"))?;
    let server_url = server_url.to_owned();
    AgentCredential {
        agent_id: Uuid::new_v4(),
        token: SecretString::from("gha_bench".to_owned()),
        door_ids: vec![door()],
        policy_key: key.verifying_key(),
        server_url: server_url.clone(),
    }
    .save(&state.join("credential.json"))
    .map_err(|e| format!("{e:#}"))?;
    let config = format!(
        "[server]\nurl = \"{server_url}\"\nallow_plain_http = true\n\n\
         [agent]\ncredential_file = \"{state}/credential.json\"\nstate_dir = \"{state}\"\n\n\
         [status]\nlisten = \"127.0.0.1:{status_port}\"\n\n\
         [reader]\nkind = \"simulated\"\n\n\
         [[readers]]\nname = \"front\"\ndoor_id = \"{door}\"\ndirection = \"entry\"\n",
        state = state.display(),
        door = door(),
    );
    std::fs::write(dir.join("door-agent.toml"), config)?;
    Ok(())
}

/// `door-agent run`, killed when dropped.
struct Agent {
    child: Child,
    log: std::path::PathBuf,
}

impl Agent {
    fn start(dir: &Path) -> Result<Agent> {
        let log = dir.join("agent.log");
        let file = File::create(&log)?;
        // Another build of the agent (an older one, for a before/after run) if named.
        let binary = std::env::var("GATEHOUSE_BENCH_AGENT")
            .unwrap_or_else(|_| env!("CARGO_BIN_EXE_door-agent").to_owned());
        let child = Command::new(binary)
            .arg("run")
            .arg("--config")
            .arg(dir.join("door-agent.toml"))
            .current_dir(dir)
            .env("RUST_LOG", "info")
            // An open pipe: the simulated reader waits for lines on it.
            .stdin(Stdio::piped())
            .stdout(file.try_clone()?)
            .stderr(file)
            .spawn()?;
        Ok(Agent { child, log })
    }

    fn logs(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Polls `/status` until the policy in use is `version`.
    async fn wait_policy(&mut self, status_port: u16, version: u64) -> Result<()> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .build()?;
        let url = format!("http://127.0.0.1:{status_port}/status");
        let deadline = Instant::now() + LOAD_TIMEOUT;
        loop {
            if let Some(exit) = self.child.try_wait()? {
                return Err(
                    format!("door-agent exited ({exit}); its log:\n{}", self.logs()).into(),
                );
            }
            if let Ok(response) = client.get(&url).send().await
                && let Ok(status) = response.json::<serde_json::Value>().await
                && status["policy_version"] == serde_json::json!(version)
            {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "no policy in use after {LOAD_TIMEOUT:?}; agent log:\n{}",
                    self.logs()
                )
                .into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGTERM, then waits for it to exit.
    fn stop(mut self) -> Result<()> {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

struct Row {
    credentials: u128,
    snapshot_mib: f64,
    load_s: f64,
    rss_mib: f64,
    peak_mib: f64,
    delta_bytes: usize,
    update_ms: f64,
    snapshots_asked: u64,
    rss_updated_mib: f64,
    peak_updated_mib: f64,
}

/// The stub server: the source at `VERSION`, the revocations after it (one signed delta
/// per version), and the version it announces.
struct Stub {
    key: SigningKey,
    source: PolicySource,
    /// Version `VERSION + i + 1` revokes credential `revoked[i]`.
    revoked: Vec<usize>,
    deltas: Vec<Vec<u8>>,
    latest: watch::Sender<u64>,
    snapshots_asked: AtomicU64,
}

impl Stub {
    fn new(key: SigningKey, source: PolicySource) -> Result<Stub> {
        let n = source.credentials.len();
        let revoked: Vec<usize> = (0..UPDATES as usize)
            .map(|i| (i * n / UPDATES as usize + i) % n)
            .collect();
        let site_ids: Vec<Uuid> = source.sites.iter().map(|s| s.id).collect();
        let deltas = (revoked.iter().zip(VERSION..))
            .map(|(&i, from)| {
                let mut card = source.credentials.get(i).ok_or("no credential")?.clone();
                card.state = CredentialState::Revoked;
                let delta = PolicyDelta {
                    settings: source.settings.clone(),
                    credentials: Changes {
                        upserted: vec![card],
                        removed: vec![],
                    },
                    ..PolicyDelta::default()
                };
                let signed =
                    SignedDelta::sign(&delta, from, from + 1, site_ids.clone(), Utc::now(), &key)?;
                Ok(signed.to_bytes()?)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Stub {
            key,
            source,
            revoked,
            deltas,
            latest: watch::Sender::new(VERSION),
            snapshots_asked: AtomicU64::new(0),
        })
    }

    /// The snapshot of `version`, signed now (only if the agent asks for one).
    fn snapshot(&self, version: u64) -> Result<Vec<u8>> {
        let mut source = self.source.clone();
        let applied = usize::try_from(version - VERSION)?;
        for &i in self.revoked.iter().take(applied) {
            if let Some(c) = source.credentials.get_mut(i) {
                c.state = CredentialState::Revoked;
            }
        }
        Ok(sign_at(&source, version, Utc::now(), &self.key)?.to_bytes()?)
    }
}

async fn policy(State(stub): State<Arc<Stub>>, Query(q): Query<PolicyQuery>) -> Response {
    let mut latest = stub.latest.subscribe();
    if let Some(have) = q.after_version {
        let newer = latest.wait_for(|&l| l > have);
        if tokio::time::timeout(Duration::from_secs(25), newer)
            .await
            .is_err()
        {
            return StatusCode::NO_CONTENT.into_response();
        }
    }
    let last = *latest.borrow();
    let delta = q
        .after_version
        .filter(|_| q.delta == Some(true))
        .and_then(|have| {
            let i = usize::try_from(have.checked_sub(VERSION)?).ok()?;
            stub.deltas.get(i).cloned()
        });
    let (format, body) = match delta {
        Some(body) => (FORMAT_DELTA, body),
        None => {
            stub.snapshots_asked.fetch_add(1, Ordering::SeqCst);
            match stub.snapshot(last) {
                Ok(body) => (FORMAT_SNAPSHOT, body),
                Err(e) => {
                    return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response();
                }
            }
        }
    };
    let mut headers = HeaderMap::new();
    headers.insert(POLICY_FORMAT_HEADER, HeaderValue::from_static(format));
    (headers, body).into_response()
}

/// Serves `stub` on a free port; its base URL.
async fn serve(stub: Arc<Stub>) -> Result<String> {
    let app = axum::Router::new()
        .route("/api/v1/agent/policy", axum::routing::get(policy))
        .with_state(stub);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(url)
}

async fn run(n: u128) -> Result<Row> {
    let dir = tempfile::tempdir()?;
    let key = SigningKey::from_bytes(&[7; 32]);
    let source = source(n)?;
    let snapshot = sign_at(&source, VERSION, Utc::now(), &key)?.to_bytes()?;
    let stub = Arc::new(Stub::new(key.clone(), source)?);
    let url = serve(Arc::clone(&stub)).await?;
    let status_port = free_port();
    lay_out(dir.path(), &snapshot, &key, status_port, &url)?;
    let snapshot_mib = snapshot.len() as f64 / 1048576.0;
    drop(snapshot);

    let started = Instant::now();
    let mut agent = Agent::start(dir.path())?;
    agent.wait_policy(status_port, VERSION).await?;
    let load_s = started.elapsed().as_secs_f64();
    let pid = agent.child.id();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_mib, peak_mib) = memory_mib(pid)?;

    let mut update_ms = Vec::new();
    for version in VERSION + 1..=VERSION + UPDATES {
        let t = Instant::now();
        stub.latest.send_replace(version);
        agent.wait_policy(status_port, version).await?;
        update_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    update_ms.sort_by(f64::total_cmp);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (rss_updated_mib, peak_updated_mib) = memory_mib(pid)?;
    agent.stop()?;
    let row = Row {
        credentials: n,
        snapshot_mib,
        load_s,
        rss_mib,
        peak_mib,
        delta_bytes: stub.deltas.first().map_or(0, Vec::len),
        update_ms: update_ms.get(update_ms.len() / 2).copied().unwrap_or(0.0),
        snapshots_asked: stub.snapshots_asked.load(Ordering::SeqCst),
        rss_updated_mib,
        peak_updated_mib,
    };
    eprintln!(
        "{n} credentials: snapshot {snapshot_mib:.1} MiB, policy in use {load_s:.2} s after \
         start, RSS {rss_mib:.0} MiB (peak {peak_mib:.0}); after {UPDATES} updates RSS \
         {rss_updated_mib:.0} MiB (peak {peak_updated_mib:.0})"
    );
    Ok(row)
}

#[tokio::main]
async fn main() -> Result<()> {
    let sizes: Vec<u128> = std::env::var("GATEHOUSE_BENCH_SIZES")
        .unwrap_or_else(|_| "1000,250000,2000000".into())
        .split(',')
        .map(|s| s.trim().parse())
        .collect::<Result<_, _>>()?;
    let mut rows = Vec::new();
    for n in sizes {
        rows.push(run(n).await?);
    }
    println!();
    println!(
        "| credentials | snapshot size | start → policy in use | RSS after start | peak after \
         start | delta (one revocation) | update → in use (median) | RSS after {UPDATES} \
         updates | peak after {UPDATES} updates | snapshots asked |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.1} MiB | {:.2} s | {:.0} MiB | {:.0} MiB | {} bytes | {:.1} ms | {:.0} MiB \
             | {:.0} MiB | {} |",
            r.credentials,
            r.snapshot_mib,
            r.load_s,
            r.rss_mib,
            r.peak_mib,
            r.delta_bytes,
            r.update_ms,
            r.rss_updated_mib,
            r.peak_updated_mib,
            r.snapshots_asked
        );
    }
    Ok(())
}
