//! What an agent's policy fetch costs the server, with the per-site snapshot cache: the
//! first fetch of a (version, sites) builds, signs and encodes the snapshot; the next
//! ones are served from the cache; after a version bump, many agents of one site asking
//! at once wait on a single build.
//!
//! `cargo bench -p gatehouse-server --bench site_snapshot` (sizes from
//! `GATEHOUSE_BENCH_SIZES`, default `250000`; agents from `GATEHOUSE_BENCH_AGENTS`,
//! default 50).
//!
//! In-process, on the server's own `PolicyService` and store (SQLite in a temporary
//! directory): what is measured is the policy service, not HTTP. The people and their
//! cards come in through the HR import (chunks of 500,000 rows, the import's own
//! transaction each), into one site with a door.

use gatehouse_core::policy::Settings;
use gatehouse_server::policy::PolicyService;
use gatehouse_server::store::DatabaseSettings;
use gatehouse_server::store::{Actor, SiteChange, Store};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

mod support;
use support::site::{people_with_cards, site_with_doors};
use support::{Result, env_list, env_number};

/// Cached fetches timed.
const CACHED: u32 = 1000;

struct Row {
    credentials: usize,
    snapshot_mib: f64,
    compile_s: f64,
    first_s: f64,
    cached_ms: f64,
    agents: usize,
    herd_s: f64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let sizes = env_list("GATEHOUSE_BENCH_SIZES", &[250_000])?;
    let agents = env_number("GATEHOUSE_BENCH_AGENTS", 50)?;
    let mut rows = Vec::new();
    for n in sizes {
        rows.push(run(n, agents).await?);
    }
    println!();
    println!(
        "| credentials | snapshot size | compile | first fetch (build, sign, encode) | cached fetch | agents at once after a version bump |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {:.1} MiB | {:.2} s | {:.2} s | {:.3} ms | {} in {:.2} s |",
            r.credentials, r.snapshot_mib, r.compile_s, r.first_s, r.cached_ms, r.agents, r.herd_s
        );
    }
    Ok(())
}

async fn run(n: usize, agents: usize) -> Result<Row> {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&DatabaseSettings {
        url: format!("sqlite://{}/gatehouse.db", dir.path().display()),
        max_connections: 5,
    })
    .await?;
    let actor = Actor::cli();
    let (site_id, _) = site_with_doors(&store, 1).await?;

    people_with_cards(&store, n).await?;

    let service = Arc::new(PolicyService::load(store.clone(), Settings::default()).await?);
    let sites = BTreeSet::from([site_id]);
    let t = Instant::now();
    service.current().await?;
    let compile_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let first = service.snapshot_for_sites(&sites).await?;
    let first_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..CACHED {
        let again = service.snapshot_for_sites(&sites).await?;
        if again.bytes().as_ptr() != first.bytes().as_ptr() {
            return Err("a fetch at the same version was built again".into());
        }
    }
    let cached_ms = t.elapsed().as_secs_f64() * 1e3 / f64::from(CACHED);

    // A change bumps the version; the server compiles it (as the long-poll does when it
    // sees the new version), then every agent of the site asks at once.
    let change = SiteChange {
        name: Some("Headquarters".into()),
        ..SiteChange::default()
    };
    store.update_site(site_id, change, &actor).await?;
    service.current().await?;
    let t = Instant::now();
    let tasks: Vec<_> = (0..agents)
        .map(|_| {
            let (service, sites) = (service.clone(), sites.clone());
            tokio::spawn(async move { service.snapshot_for_sites(&sites).await })
        })
        .collect();
    let mut builds = BTreeSet::new();
    for task in tasks {
        let snapshot = task.await??;
        if snapshot.version <= first.version {
            return Err("the bump did not give a new snapshot".into());
        }
        builds.insert(snapshot.bytes().as_ptr() as usize);
    }
    let herd_s = t.elapsed().as_secs_f64();
    if builds.len() != 1 {
        return Err(format!("{} builds for one (version, sites)", builds.len()).into());
    }
    let row = Row {
        credentials: n,
        snapshot_mib: first.len() as f64 / 1048576.0,
        compile_s,
        first_s,
        cached_ms,
        agents,
        herd_s,
    };
    eprintln!(
        "{n}: compile {compile_s:.2} s, first fetch {first_s:.2} s, cached {cached_ms:.3} ms, \
         {agents} agents after a bump {herd_s:.2} s"
    );
    Ok(row)
}
