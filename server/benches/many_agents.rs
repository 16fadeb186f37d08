//! Many agents on one server: whether a server with N connected door agents (default
//! 1,000) stays responsive at idle, how fast a revocation reaches all of them, and what
//! the idle agents cost the server in CPU and memory; on SQLite and (when
//! `GATEHOUSE_TEST_POSTGRES_URL` is set) on PostgreSQL.
//!
//! `nice -n 10 cargo bench -p gatehouse-server --bench many_agents`
//!
//! Against the real server: the release `gatehouse` binary of this build, `gatehouse
//! serve` with its default settings on a fresh database, on the same machine. The bench
//! enrols N agents through the API (one site, a door each), imports
//! `GATEHOUSE_BENCH_CREDENTIALS` people with a card each (default 1,000) through the HR
//! import, then runs the agents in this process, each doing what `door-agent` does
//! over HTTP/1.1 connections of its own: the policy long-poll (`after_version`,
//! `wait_s=25`, reading the whole answer when a new version comes), the presence
//! long-poll (`after`, `wait_s=25`), the door-command long-poll (`wait_s=25`), and every
//! 10 s one upload of three chained events as an idle door produces them (exit
//! request, door opened, door closed), the agents' uploads spread over the 10 s.
//!
//! Measured, first with the agents enrolled but not running (the baseline), then with
//! all N waiting:
//! - idle: the server's CPU (user + system time from `/proc/<pid>/stat` over
//!   `GATEHOUSE_BENCH_IDLE_S` seconds, default 60; the baseline over at most 15 s) as a
//!   share of one core, its RSS (and peak) from `/proc/<pid>/status`, the agents'
//!   requests per second, and on PostgreSQL the database's transactions per second
//!   (`pg_stat_database.xact_commit`);
//! - operator requests one after another for `GATEHOUSE_BENCH_SAMPLE_S` seconds (default
//!   20): `GET /people?limit=50`, `GET /doors?limit=50`, `GET /healthz`, p50/p99/max;
//! - revocations (`GATEHOUSE_BENCH_REVOCATIONS`, default 10; not in the baseline): with
//!   every agent at the same version for 5 s, a card is revoked (`PATCH
//!   /credentials/{id}`) and
//!   the time from sending the PATCH until each agent has read the new snapshot is taken:
//!   p50/p99/max over all agents and revocations, and how many arrived within 1 s.
//!
//! `GATEHOUSE_BENCH_DELTA=1`: once an agent holds a version it asks for signed deltas
//! (`delta=true`), as an agent that can apply them does; a server without deltas answers
//! whole snapshots all the same. The agents then start as restarted agents do, from the
//! policy they keep on disk: one agent reads the whole snapshot, and every agent starts
//! at its version (1,000 agents reading a 2,000,000-credential snapshot each would be
//! 190 GB through loopback before the measuring starts).
//!
//! Each agent holds up to four connections (three long-polls and its upload), the bench
//! as many again on its side: the open-file limit must allow about 4 × N + 200 for each
//! process (checked at start; `ulimit -n` raises it).

use chrono::Utc;
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, chain_hash};
use serde_json::{Value, json};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

mod support;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use gatehouse_e2e::memory_mib;
use support::agents::{Agent, Api, enrol};
use support::{Result, Server, env_number, fresh_postgres, percentile, text};

/// The long-polls' wait, as `door-agent` asks.
const WAIT_S: u64 = 25;
/// An idle door's upload interval.
const UPLOAD_EVERY: Duration = Duration::from_secs(10);
/// From every agent holding the last revocation's version to the next revocation.
const REVOCATION_GAP: Duration = Duration::from_secs(5);
/// Linux's clock ticks per second for `/proc/<pid>/stat` times (`getconf CLK_TCK`).
const TICKS_PER_S: f64 = 100.0;

struct Sizes {
    agents: usize,
    credentials: usize,
    revocations: usize,
    idle_s: u64,
    sample_s: u64,
    /// The agents ask for signed deltas.
    delta: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    let sizes = Sizes {
        agents: env_number("GATEHOUSE_BENCH_AGENTS", 1_000)?,
        credentials: env_number("GATEHOUSE_BENCH_CREDENTIALS", 1_000)?,
        revocations: env_number("GATEHOUSE_BENCH_REVOCATIONS", 10)?,
        idle_s: u64::try_from(env_number("GATEHOUSE_BENCH_IDLE_S", 60)?)?,
        sample_s: u64::try_from(env_number("GATEHOUSE_BENCH_SAMPLE_S", 20)?)?,
        delta: env_number("GATEHOUSE_BENCH_DELTA", 0)? == 1,
    };
    if sizes.agents == 0 || sizes.credentials < sizes.revocations {
        return Err("at least one agent, and a credential for each revocation".into());
    }
    let open_files = open_file_limit()?;
    let needed = 4 * sizes.agents as u64 + 200;
    eprintln!("open-file limit {open_files} (about {needed} needed per process)");
    if open_files < needed {
        return Err(format!("raise the open-file limit: ulimit -n {needed}").into());
    }
    let postgres = std::env::var("GATEHOUSE_TEST_POSTGRES_URL").ok();
    if postgres.is_none() {
        eprintln!("PostgreSQL skipped: set GATEHOUSE_TEST_POSTGRES_URL to measure it too");
    }
    let mut results = Vec::new();
    results.push(("SQLite", run(None, &sizes).await?));
    if let Some(admin_url) = postgres {
        results.push(("PostgreSQL", run(Some(&admin_url), &sizes).await?));
    }
    print(&sizes, &results);
    Ok(())
}

/// What one backend measured: without the agents running, then with them.
struct Measured {
    baseline: Phase,
    loaded: Phase,
    /// Every agent's delay of every revocation, ms (an agent that did not get it within
    /// 30 s counts as 30 s).
    revocation_ms: Vec<f64>,
    /// The PATCH's own round trip, ms.
    patch_ms: Vec<f64>,
}

struct Phase {
    /// Share of one core, percent.
    cpu_percent: f64,
    rss_mib: f64,
    peak_mib: f64,
    agent_requests_per_s: f64,
    /// PostgreSQL only.
    transactions_per_s: Option<f64>,
    /// Per operator request kind, sorted ms.
    latencies: Vec<(&'static str, Vec<f64>)>,
    agent_errors: u64,
}

async fn run(postgres: Option<&str>, sizes: &Sizes) -> Result<Measured> {
    let dir = tempfile::tempdir()?;
    let (url, dropper) = match postgres {
        None => (
            format!("sqlite://{}/gatehouse.db", dir.path().display()),
            None,
        ),
        Some(admin_url) => {
            let (url, dropper) = fresh_postgres(admin_url).await?;
            (url, Some(dropper))
        }
    };
    let result = measure(dir.path(), &url, postgres.is_some(), sizes).await;
    if let Some(dropper) = dropper {
        dropper.drop_database().await?;
    }
    result
}

async fn measure(dir: &Path, url: &str, postgres: bool, sizes: &Sizes) -> Result<Measured> {
    let server = Server::start(dir, url)?;
    server.wait_ready().await?;
    let pid = server.child.id();
    let operator = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let api = Api {
        client: operator.clone(),
        base: format!("{}/api/v1", server.base_url),
    };
    let admin = api.login().await?;
    let started = Instant::now();
    let agents = enrol(&api, &admin, sizes.agents).await?;
    import(&api, &admin, sizes.credentials).await?;
    eprintln!(
        "{} agents enrolled, {} people imported in {:.0} s",
        sizes.agents,
        sizes.credentials,
        started.elapsed().as_secs_f64()
    );
    let xacts = if postgres {
        Some(sqlx::PgPool::connect(url).await?)
    } else {
        None
    };
    let counters = Arc::new(Counters::default());
    let baseline_idle = Duration::from_secs(sizes.idle_s.min(15));
    let baseline = phase(
        &api,
        &admin,
        pid,
        xacts.as_ref(),
        &counters,
        baseline_idle,
        sizes,
    )
    .await?;

    let start_at = match sizes.delta {
        true => first_version(&api, &agents[0]).await?,
        false => 0,
    };
    let fleet = Fleet::start(&server.base_url, &agents, &counters, sizes.delta, start_at)?;
    fleet.all_hold_a_version(Duration::from_secs(300)).await?;
    tokio::time::sleep(UPLOAD_EVERY).await;
    let idle = Duration::from_secs(sizes.idle_s);
    let loaded = phase(&api, &admin, pid, xacts.as_ref(), &counters, idle, sizes).await?;

    let page = api
        .get(&format!("/credentials?limit={}", sizes.revocations), &admin)
        .await?;
    let ids: Vec<String> = page["items"]
        .as_array()
        .ok_or("no credentials listed")?
        .iter()
        .map(|c| text(&c["id"]))
        .collect::<Result<_>>()?;
    let (mut revocation_ms, mut patch_ms) = (Vec::new(), Vec::new());
    for id in ids.iter().take(sizes.revocations) {
        let before = fleet.all_hold_a_version(Duration::from_secs(60)).await?;
        // The agents' next long-polls are in (on SQLite each one's last-seen stamp is a
        // write through the write gate, which a revocation's PATCH would queue behind).
        tokio::time::sleep(REVOCATION_GAP).await;
        let sent = Instant::now();
        let answer = operator
            .patch(format!("{}/credentials/{id}", api.base))
            .bearer_auth(&admin)
            .json(&json!({"state": "revoked"}))
            .send()
            .await?;
        if !answer.status().is_success() {
            return Err(format!("the revocation answered {}", answer.status()).into());
        }
        patch_ms.push(sent.elapsed().as_secs_f64() * 1e3);
        let delays = fleet
            .delays_past(before, sent, Duration::from_secs(30))
            .await;
        let last = delays.iter().copied().fold(0.0, f64::max);
        eprintln!(
            "revocation: PATCH {:.0} ms, last agent {last:.0} ms",
            patch_ms.last().copied().unwrap_or_default()
        );
        revocation_ms.extend(delays);
    }
    fleet.stop().await;
    server.stop()?;
    revocation_ms.sort_by(f64::total_cmp);
    patch_ms.sort_by(f64::total_cmp);
    Ok(Measured {
        baseline,
        loaded,
        revocation_ms,
        patch_ms,
    })
}

/// The version of the whole snapshot `agent` reads (asking again while the server's
/// first compile of a large site outlasts a request: 408 or 503).
async fn first_version(api: &Api, agent: &Agent) -> Result<u64> {
    let answer = api.first_snapshot(&agent.token).await?;
    let version = answer
        .headers()
        .get("x-policy-version")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or("a snapshot without its version")?;
    answer.bytes().await?;
    Ok(version)
}

/// `rows` people with a card each, through the HR import (waits for its job).
async fn import(api: &Api, admin: &str, rows: usize) -> Result<()> {
    let mut file = String::from("external_id,name,kind,clearance,card");
    for i in 0..rows {
        let card = 0x0004_0000_0000_0000_u64 + i as u64;
        file.push_str(&format!("\nE{i:08},Person {i},staff,1,{card:014X}"));
    }
    file.push('\n');
    let response = api
        .client
        .post(format!("{}/import/people", api.base))
        .bearer_auth(admin)
        .header("content-type", "text/csv")
        .body(file)
        .send()
        .await?;
    if response.status() != 202 {
        return Err(format!("the import answered {}", response.status()).into());
    }
    let job: Value = response.json().await?;
    let path = text(&job["links"]["self"])?;
    let path = path.strip_prefix("/api/v1").unwrap_or(&path).to_owned();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let job = api.get(&path, admin).await?;
        match job["state"].as_str() {
            Some("succeeded") => return Ok(()),
            Some("failed") => return Err(format!("the import failed: {job}").into()),
            _ => {}
        }
    }
}

/// Idle for `idle` (CPU, memory, requests), then operator requests for the sample time.
async fn phase(
    api: &Api,
    admin: &str,
    pid: u32,
    xacts: Option<&sqlx::PgPool>,
    counters: &Counters,
    idle: Duration,
    sizes: &Sizes,
) -> Result<Phase> {
    let (ticks, requests, transactions) = (
        cpu_ticks(pid)?,
        counters.requests.load(Ordering::Relaxed),
        committed(xacts).await?,
    );
    let errors = counters.errors.load(Ordering::Relaxed);
    let started = Instant::now();
    tokio::time::sleep(idle).await;
    let seconds = started.elapsed().as_secs_f64();
    let cpu_percent = (cpu_ticks(pid)? - ticks) / TICKS_PER_S / seconds * 100.0;
    let agent_requests_per_s =
        (counters.requests.load(Ordering::Relaxed) - requests) as f64 / seconds;
    let transactions_per_s = match (transactions, committed(xacts).await?) {
        (Some(before), Some(after)) => Some((after - before) as f64 / seconds),
        _ => None,
    };
    let (rss_mib, peak_mib) = memory_mib(pid)?;

    let kinds = [
        "GET /people?limit=50",
        "GET /doors?limit=50",
        "GET /healthz",
    ];
    let mut latencies: Vec<(&'static str, Vec<f64>)> =
        kinds.iter().map(|k| (*k, Vec::new())).collect();
    let sampling = Instant::now();
    while sampling.elapsed() < Duration::from_secs(sizes.sample_s) {
        for (kind, samples) in &mut latencies {
            let path = kind.trim_start_matches("GET ");
            let url = match path {
                "/healthz" => format!("{}/healthz", api.base.trim_end_matches("/api/v1")),
                _ => format!("{}{path}", api.base),
            };
            let sent = Instant::now();
            let answer = api.client.get(url).bearer_auth(admin).send().await?;
            let status = answer.status();
            answer.bytes().await?;
            if !status.is_success() {
                return Err(format!("{kind} answered {status}").into());
            }
            samples.push(sent.elapsed().as_secs_f64() * 1e3);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    for (_, samples) in &mut latencies {
        samples.sort_by(f64::total_cmp);
    }
    Ok(Phase {
        cpu_percent,
        rss_mib,
        peak_mib,
        agent_requests_per_s,
        transactions_per_s,
        latencies,
        agent_errors: counters.errors.load(Ordering::Relaxed) - errors,
    })
}

/// The server's user + system time so far, in clock ticks.
fn cpu_ticks(pid: u32) -> Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // After the command name in parentheses: state is field 3, utime 14, stime 15.
    let rest = stat.rsplit_once(')').ok_or("unreadable stat")?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime) = (fields.get(11), fields.get(12));
    let (Some(utime), Some(stime)) = (utime, stime) else {
        return Err("unreadable stat".into());
    };
    Ok(utime.parse::<f64>()? + stime.parse::<f64>()?)
}

/// Transactions committed in the current PostgreSQL database so far.
async fn committed(pool: Option<&sqlx::PgPool>) -> Result<Option<i64>> {
    let Some(pool) = pool else { return Ok(None) };
    let sql = "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()";
    // The statistics of this backend's own transaction are not flushed at once.
    sqlx::query("SELECT pg_stat_clear_snapshot()")
        .execute(pool)
        .await?;
    Ok(Some(
        sqlx::query_scalar::<_, i64>(sql).fetch_one(pool).await?,
    ))
}

/// The soft limit of open files of this process (the server inherits it).
fn open_file_limit() -> Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or("no open-file limit in /proc/self/limits")?;
    let soft = line
        .split_whitespace()
        .nth(3)
        .ok_or("unreadable open-file limit")?;
    Ok(soft.parse().unwrap_or(u64::MAX))
}

#[derive(Default)]
struct Counters {
    requests: AtomicU64,
    errors: AtomicU64,
}

/// The running agents and the policy version each has read, with when.
struct Fleet {
    tasks: JoinSet<()>,
    held: Vec<Arc<Mutex<(u64, Instant)>>>,
    stop: Arc<AtomicBool>,
}

impl Fleet {
    fn start(
        base_url: &str,
        agents: &[Agent],
        counters: &Arc<Counters>,
        delta: bool,
        start_at: u64,
    ) -> Result<Fleet> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(usize::MAX)
            .build()?;
        let base = format!("{base_url}/api/v1");
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = JoinSet::new();
        let mut held = Vec::new();
        for (i, agent) in agents.iter().enumerate() {
            let me = Arc::new(AgentLoop {
                client: client.clone(),
                base: base.clone(),
                agent: agent.clone(),
                counters: counters.clone(),
                stop: stop.clone(),
                held: Arc::new(Mutex::new((start_at, Instant::now()))),
                delta,
            });
            held.push(me.held.clone());
            tasks.spawn(me.clone().policy());
            tasks.spawn(me.clone().presence());
            tasks.spawn(me.clone().commands());
            let phase = UPLOAD_EVERY.mul_f64(i as f64 / agents.len() as f64);
            tasks.spawn(me.uploads(phase));
        }
        Ok(Fleet { tasks, held, stop })
    }

    /// Waits until every agent holds the same version: that version.
    async fn all_hold_a_version(&self, within: Duration) -> Result<u64> {
        let deadline = Instant::now() + within;
        loop {
            let versions: Vec<u64> = self.held.iter().map(|h| version(h)).collect();
            let (low, high) = (versions.iter().min(), versions.iter().max());
            if let (Some(&low), Some(&high)) = (low, high)
                && low == high
                && low > 0
            {
                return Ok(low);
            }
            if Instant::now() > deadline {
                let behind = versions.iter().filter(|v| Some(*v) != high).count();
                return Err(format!("{behind} agents behind after {within:?}").into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Each agent's delay from `sent` until it read a version above `before`, ms; waits
    /// at most `within` (an agent still behind then counts as `within`).
    async fn delays_past(&self, before: u64, sent: Instant, within: Duration) -> Vec<f64> {
        let deadline = sent + within;
        while Instant::now() < deadline && self.held.iter().any(|h| version(h) <= before) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self.held
            .iter()
            .map(|h| match h.lock() {
                Ok(held) if held.0 > before => held.1.saturating_duration_since(sent),
                _ => within,
            })
            .map(|d| d.as_secs_f64() * 1e3)
            .collect()
    }

    async fn stop(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
    }
}

fn version(held: &Mutex<(u64, Instant)>) -> u64 {
    held.lock().map_or(0, |h| h.0)
}

/// One simulated agent's four loops.
struct AgentLoop {
    client: reqwest::Client,
    base: String,
    agent: Agent,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    held: Arc<Mutex<(u64, Instant)>>,
    /// Asks for signed deltas (`delta=true`) once it holds a version.
    delta: bool,
}

impl AgentLoop {
    /// Counts the answer; `None` (and a pause) for an error.
    async fn answer(&self, sent: reqwest::RequestBuilder, ok: &[u16]) -> Option<reqwest::Response> {
        let answer = sent.bearer_auth(&self.agent.token).send().await;
        self.counters.requests.fetch_add(1, Ordering::Relaxed);
        match answer {
            Ok(answer) if ok.contains(&answer.status().as_u16()) => Some(answer),
            _ => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_secs(1)).await;
                None
            }
        }
    }

    async fn policy(self: Arc<Self>) {
        while !self.stop.load(Ordering::Relaxed) {
            let have = version(&self.held);
            let url = match have {
                0 => format!("{}/agent/policy?wait_s={WAIT_S}", self.base),
                v => format!(
                    "{}/agent/policy?after_version={v}&wait_s={WAIT_S}{}",
                    self.base,
                    if self.delta { "&delta=true" } else { "" }
                ),
            };
            let Some(answer) = self.answer(self.client.get(url), &[200, 204]).await else {
                continue;
            };
            if answer.status() == 200 {
                let version = answer
                    .headers()
                    .get("x-policy-version")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse::<u64>().ok());
                // The agent reads the whole snapshot before it can use it.
                let read = answer.bytes().await.is_ok();
                match (version, read, self.held.lock()) {
                    (Some(v), true, Ok(mut held)) => *held = (v, Instant::now()),
                    _ => {
                        self.counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }

    async fn presence(self: Arc<Self>) {
        let mut after = 0;
        while !self.stop.load(Ordering::Relaxed) {
            let url = format!("{}/agent/presence?after={after}&wait_s={WAIT_S}", self.base);
            let Some(answer) = self.answer(self.client.get(url), &[200]).await else {
                continue;
            };
            if let Ok(page) = answer.json::<Value>().await {
                after = page["revision"].as_i64().unwrap_or(after);
            }
        }
    }

    async fn commands(self: Arc<Self>) {
        let mut done = Vec::new();
        while !self.stop.load(Ordering::Relaxed) {
            let url = format!("{}/agent/commands", self.base);
            let body = json!({"done": done, "wait_s": WAIT_S});
            let Some(answer) = self.answer(self.client.post(url).json(&body), &[200]).await else {
                continue;
            };
            done = match answer.json::<Value>().await {
                Ok(page) => page["commands"]
                    .as_array()
                    .map(|c| c.iter().map(|c| c["id"].clone()).collect())
                    .unwrap_or_default(),
                Err(_) => Vec::new(),
            };
        }
    }

    async fn uploads(self: Arc<Self>, phase: Duration) {
        tokio::time::sleep(phase).await;
        let (mut seq, mut previous) = (0u64, GENESIS_HASH);
        let mut every = tokio::time::interval(UPLOAD_EVERY);
        while !self.stop.load(Ordering::Relaxed) {
            every.tick().await;
            let mut records = Vec::new();
            for kind in [
                EventKind::ExitRequested,
                EventKind::DoorOpened,
                EventKind::DoorClosed,
            ] {
                let event = DoorEvent {
                    occurred_at: Utc::now(),
                    door_id: Some(self.agent.door),
                    kind,
                };
                let Ok(payload) = event.encode() else { return };
                seq += 1;
                previous = chain_hash(&previous, seq, &payload);
                records.push(json!({
                    "seq": seq,
                    "payload": STANDARD.encode(&payload),
                    "hash": hex::encode(previous),
                }));
            }
            let body = json!({"agent_time": Utc::now().to_rfc3339(), "records": records});
            let url = format!("{}/agent/events", self.base);
            if let Some(answer) = self.answer(self.client.post(url).json(&body), &[200]).await {
                let _ = answer.bytes().await;
            }
        }
    }
}

fn print(sizes: &Sizes, results: &[(&str, Measured)]) {
    println!();
    println!(
        "{} agents, {} credentials; idle {} s (baseline at most 15 s), operator requests \
         for {} s, {} revocations; {}",
        sizes.agents,
        sizes.credentials,
        sizes.idle_s,
        sizes.sample_s,
        sizes.revocations,
        if sizes.delta {
            "agents ask for deltas"
        } else {
            "agents read whole snapshots"
        }
    );
    println!();
    println!(
        "| backend | agents running | server CPU (% of a core) | RSS (peak) MiB \
         | agent requests/s | DB transactions/s | agent errors |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (backend, m) in results {
        for (running, p) in [(0, &m.baseline), (sizes.agents, &m.loaded)] {
            let xacts = p
                .transactions_per_s
                .map_or_else(|| "–".to_owned(), |t| format!("{t:.0}"));
            println!(
                "| {backend} | {running} | {:.1} | {:.0} ({:.0}) | {:.0} | {xacts} | {} |",
                p.cpu_percent, p.rss_mib, p.peak_mib, p.agent_requests_per_s, p.agent_errors
            );
        }
    }
    println!();
    println!(
        "| backend | request | 0 agents p50 / p99 / max (ms) | {} agents p50 / p99 / max (ms) |",
        sizes.agents
    );
    println!("|---|---|---:|---:|");
    let triple = |s: &[f64]| {
        format!(
            "{:.1} / {:.1} / {:.1}",
            percentile(s, 0.5),
            percentile(s, 0.99),
            percentile(s, 1.0)
        )
    };
    for (backend, m) in results {
        for ((kind, idle), (_, loaded)) in m.baseline.latencies.iter().zip(&m.loaded.latencies) {
            println!(
                "| {backend} | {kind} | {} | {} |",
                triple(idle),
                triple(loaded)
            );
        }
    }
    println!();
    println!(
        "| backend | revocation → agent p50 / p99 / max (ms) | agents × revocations within 1 s \
         | PATCH p50 / max (ms) |"
    );
    println!("|---|---:|---:|---:|");
    for (backend, m) in results {
        let within = m.revocation_ms.iter().filter(|ms| **ms <= 1000.0).count();
        println!(
            "| {backend} | {} | {within} of {} | {:.0} / {:.0} |",
            triple(&m.revocation_ms),
            m.revocation_ms.len(),
            percentile(&m.patch_ms, 0.5),
            percentile(&m.patch_ms, 1.0),
        );
    }
}
