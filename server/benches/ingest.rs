//! Event upload throughput: how many journal events per second the server ingests from
//! enrolled door agents, on SQLite and (when `GATEHOUSE_TEST_POSTGRES_URL` is set) on
//! PostgreSQL.
//!
//! `cargo bench -p gatehouse-server --bench ingest`
//!
//! Against the real server: the release `gatehouse` binary of this build, started as
//! `gatehouse serve` with its default settings on a fresh database (a SQLite file in a
//! temporary directory, or a new PostgreSQL database dropped afterwards), on the same
//! machine. The bench is the agent: it enrols through the API, then `POST`s
//! `/api/v1/agent/events` exactly as `door-agent`'s uploader does — batches of records
//! `{seq, payload: base64(postcard(DoorEvent)), hash: hex(chain_hash)}` numbered from 1
//! and chained from the genesis hash, the next batch sent when the previous one is
//! answered. The bodies are built before the clock starts (only `agent_time` is written
//! at send time), so the figures are the server's: HTTP, JSON, decoding, the chain check
//! and the database transaction of each batch. Each answer must acknowledge its whole
//! batch as newly stored, and the agent must have no ingest alarm at the end.
//!
//! With several agents (`GATEHOUSE_BENCH_AGENTS`, default `1,4`) each has a door of its
//! own and uploads its share of the events at the same time as the others.
//!
//! Sizes: `GATEHOUSE_BENCH_EVENTS` (default 100000), `GATEHOUSE_BENCH_BATCH` (default
//! 1000, the most the server accepts). Each configuration runs `GATEHOUSE_BENCH_RUNS`
//! times (default 3), each on a fresh database and server; the table gives the median
//! run's rate with the lowest and highest, and batch round-trip percentiles over all
//! runs.

use std::path::Path;
use std::time::{Duration, Instant};

mod support;
use support::agents::{Agent, Api, Batch, enrol, journal, upload};
use support::{Result, Server, env_list, env_number, fresh_postgres, percentile};

#[tokio::main]
async fn main() -> Result<()> {
    let events = env_number("GATEHOUSE_BENCH_EVENTS", 100_000)?;
    let batch = env_number("GATEHOUSE_BENCH_BATCH", 1_000)?;
    let agent_counts = env_list("GATEHOUSE_BENCH_AGENTS", &[1, 4])?;
    let runs = env_number("GATEHOUSE_BENCH_RUNS", 3)?;
    if !(1..=1000).contains(&batch) || events == 0 || agent_counts.contains(&0) || runs == 0 {
        return Err("batch must be 1 to 1000, events, agents and runs at least 1".into());
    }
    let postgres = std::env::var("GATEHOUSE_TEST_POSTGRES_URL").ok();
    if postgres.is_none() {
        eprintln!("PostgreSQL skipped: set GATEHOUSE_TEST_POSTGRES_URL to measure it too");
    }

    let mut rows = Vec::new();
    for &agents in &agent_counts {
        let mut backends = vec![Backend::Sqlite];
        backends.extend(postgres.clone().map(Backend::Postgres));
        for backend in backends {
            let mut row = Row::new(&backend, agents, events, batch);
            for _ in 0..runs {
                let (seconds, latencies) = run(&backend, agents, events, batch).await?;
                row.seconds.push(seconds);
                row.latencies_ms.extend(latencies);
            }
            rows.push(row);
        }
    }

    println!();
    println!(
        "| backend | agents | events | batch | runs | seconds (median) | events/s (median) | events/s (lowest–highest) | batch p50 | batch p99 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &mut rows {
        r.seconds.sort_by(f64::total_cmp);
        r.latencies_ms.sort_by(f64::total_cmp);
        let rate = |s: f64| r.events as f64 / s;
        let (fastest, slowest) = (r.seconds[0], r.seconds[r.seconds.len() - 1]);
        println!(
            "| {} | {} | {} | {} | {} | {:.2} | {:.0} | {:.0}–{:.0} | {:.0} ms | {:.0} ms |",
            r.backend,
            r.agents,
            r.events,
            r.batch,
            r.seconds.len(),
            percentile(&r.seconds, 0.5),
            rate(percentile(&r.seconds, 0.5)),
            rate(slowest),
            rate(fastest),
            percentile(&r.latencies_ms, 0.50),
            percentile(&r.latencies_ms, 0.99),
        );
    }
    Ok(())
}

enum Backend {
    Sqlite,
    /// The server's URL; a fresh database is made on it.
    Postgres(String),
}

struct Row {
    backend: &'static str,
    agents: usize,
    events: usize,
    batch: usize,
    /// Of each run.
    seconds: Vec<f64>,
    /// Of every batch of every run.
    latencies_ms: Vec<f64>,
}

impl Row {
    fn new(backend: &Backend, agents: usize, events: usize, batch: usize) -> Row {
        Row {
            backend: backend.name(),
            agents,
            events,
            batch,
            seconds: Vec::new(),
            latencies_ms: Vec::new(),
        }
    }
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }
}

/// One run on a fresh database and server: (seconds, each batch's round trip in ms).
async fn run(
    backend: &Backend,
    agents: usize,
    events: usize,
    batch: usize,
) -> Result<(f64, Vec<f64>)> {
    let dir = tempfile::tempdir()?;
    let (url, dropper) = match backend {
        Backend::Sqlite => (
            format!("sqlite://{}/gatehouse.db", dir.path().display()),
            None,
        ),
        Backend::Postgres(admin_url) => {
            let (url, dropper) = fresh_postgres(admin_url).await?;
            (url, Some(dropper))
        }
    };
    let result = measure(dir.path(), &url, agents, events, batch).await;
    if let Some(dropper) = dropper {
        dropper.drop_database().await?;
    }
    let (seconds, latencies) = result?;
    eprintln!(
        "{}, {agents} agent(s): {events} events in {seconds:.2} s = {:.0} events/s",
        backend.name(),
        events as f64 / seconds
    );
    Ok((seconds, latencies))
}

/// Starts the server on `url`, enrols `agents` agents and uploads `events` between them;
/// (seconds, each batch's round trip in ms).
async fn measure(
    dir: &Path,
    url: &str,
    agents: usize,
    events: usize,
    batch: usize,
) -> Result<(f64, Vec<f64>)> {
    let server = Server::start(dir, url)?;
    server.wait_ready().await?;
    let api = Api {
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .build()?,
        base: format!("{}/api/v1", server.base_url),
    };
    let admin = api.login().await?;
    let enrolled = enrol(&api, &admin, agents).await?;

    // Every body built in advance: the clock measures the server, not the bench.
    let per_agent = events.div_ceil(agents);
    let mut uploads = Vec::new();
    let mut left = events;
    for agent in &enrolled {
        let n = per_agent.min(left);
        left -= n;
        uploads.push((agent.clone(), journal(agent.door, n, batch)?));
    }
    let started = Instant::now();
    let tasks: Vec<_> = uploads
        .into_iter()
        .map(|(agent, batches)| {
            let api = api.clone();
            tokio::spawn(async move { upload_all(&api, &agent, &batches).await })
        })
        .collect();
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await??);
    }
    let seconds = started.elapsed().as_secs_f64();

    for agent in &enrolled {
        let alarms = api
            .get(&format!("/agents/{}/alarms", agent.id), &admin)
            .await?;
        let alarms = alarms["items"].as_array().ok_or("alarms: no items")?;
        if !alarms.is_empty() {
            return Err(format!("the server raised ingest alarms: {alarms:?}").into());
        }
    }
    server.stop()?;
    Ok((seconds, latencies))
}

/// Uploads the batches one after the other, as the agent's uploader does; each batch's
/// round trip in ms.
async fn upload_all(api: &Api, agent: &Agent, batches: &[Batch]) -> Result<Vec<f64>> {
    let mut latencies = Vec::with_capacity(batches.len());
    for b in batches {
        let (status, ms) = upload(api, agent, b).await?;
        if status != 200 {
            return Err(format!("upload of seq {}..={}: {status}", b.first, b.last).into());
        }
        latencies.push(ms);
    }
    Ok(latencies)
}
