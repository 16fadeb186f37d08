//! The console's events search at 10 million events: `Store::list_events` (what
//! `GET /api/v1/events` and the `/events` page run) for each kind of filter, a page of
//! 50 (51 rows), p50 and p99, on SQLite and (with `GATEHOUSE_TEST_POSTGRES_URL`)
//! PostgreSQL, next to two raw baselines from the same run and connection pool kind:
//! `SELECT 1` and one event read by primary key.
//!
//! `GATEHOUSE_BENCH_EVENTS=100000 cargo bench -p gatehouse-server --bench event_search`
//!
//! The data (`support::event_search_data`): 3 sites, 500 doors, 50,000 people, three
//! years. `GATEHOUSE_BENCH_EVENTS` (default 10,000,000), `GATEHOUSE_BENCH_RUNS`
//! (default 50, fewer when a query is slow), `GATEHOUSE_BENCH_BACKENDS` (default
//! `sqlite,postgres`), `GATEHOUSE_BENCH_DIR` (the SQLite file; default a temporary
//! directory), `GATEHOUSE_BENCH_KEEP=1` keeps the PostgreSQL database
//! `gatehouse_bench_search_<n>` (and reuses it, as the SQLite file is reused when
//! `GATEHOUSE_BENCH_DIR` holds one). `GATEHOUSE_BENCH_EXPLAIN=1` prints each query's
//! plans (`EXPLAIN (ANALYZE, BUFFERS)` on PostgreSQL, `EXPLAIN QUERY PLAN` on SQLite).

use chrono::{DateTime, Duration, Utc};
use gatehouse_server::store::{DatabaseSettings, EventFilter, Store};
use std::path::PathBuf;
use std::time::Instant;
use uuid::Uuid;

mod support;
use support::event_search_data::{self as data, World};
use support::{Result, create_database, drop_database, env_number, percentile};

const PAGE: u32 = 50;

#[tokio::main]
async fn main() -> Result<()> {
    let events = env_number("GATEHOUSE_BENCH_EVENTS", 10_000_000)?;
    let runs = env_number("GATEHOUSE_BENCH_RUNS", 50)?.max(1);
    let keep = std::env::var("GATEHOUSE_BENCH_KEEP").is_ok_and(|v| v == "1");
    let explain = std::env::var("GATEHOUSE_BENCH_EXPLAIN").is_ok_and(|v| v == "1");
    let backends =
        std::env::var("GATEHOUSE_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let temp;
    let dir = match std::env::var("GATEHOUSE_BENCH_DIR") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    let mut tables = Vec::new();
    if backends.contains("sqlite") {
        let file = dir.join(format!("search-{events}.db"));
        let url = format!("sqlite://{}", file.display());
        let (store, world, load) = prepare(&url, events).await?;
        let lines = measure(&store, &url, &world, runs, explain).await?;
        store.close().await;
        tables.push(("SQLite", load, lines));
    }
    match std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
        _ if !backends.contains("postgres") => {}
        Err(_) => eprintln!("PostgreSQL skipped: set GATEHOUSE_TEST_POSTGRES_URL"),
        Ok(admin_url) => {
            let name = format!("gatehouse_bench_search_{events}");
            let url = create_database(&admin_url, &name, None).await?;
            let (store, world, load) = prepare(&url, events).await?;
            let lines = measure(&store, &url, &world, runs, explain).await?;
            store.close().await;
            tables.push(("PostgreSQL", load, lines));
            if !keep {
                drop_database(&admin_url, &name).await?;
            }
        }
    }
    for (backend, load, lines) in &tables {
        println!();
        match load {
            Some(s) => println!("{backend}, {events} events, loaded in {s:.0} s"),
            None => println!("{backend}, {events} events (reused)"),
        }
        println!();
        println!("| query | rows | runs | p50 | p99 |");
        println!("|---|---:|---:|---:|---:|");
        for line in lines {
            println!(
                "| {} | {} | {} | {} | {} |",
                line.name,
                line.rows,
                line.runs,
                ms(line.p50),
                ms(line.p99)
            );
        }
    }
    Ok(())
}

fn ms(seconds: f64) -> String {
    if seconds < 0.01 {
        format!("{:.2} ms", seconds * 1e3)
    } else {
        format!("{:.1} ms", seconds * 1e3)
    }
}

/// The store with its events, loaded now unless an earlier run did (the world is read
/// back from the store then).
async fn prepare(url: &str, events: usize) -> Result<(Store, World, Option<f64>)> {
    let settings = DatabaseSettings {
        url: url.to_owned(),
        max_connections: 4,
    };
    let store = Store::open(&settings).await?;
    let sites = store.list_sites(None, 10).await?;
    if !sites.is_empty() {
        let world = read_world(&store).await?;
        return Ok((store, world, None));
    }
    let world = data::world(&store).await?;
    let started = Instant::now();
    if url.starts_with("sqlite") {
        data::load_sqlite(url, events, world.doors.clone()).await?;
    } else {
        data::load_postgres(url, events, world.doors.clone()).await?;
    }
    Ok((store, world, Some(started.elapsed().as_secs_f64())))
}

async fn read_world(store: &Store) -> Result<World> {
    let mut sites: Vec<_> = store.list_sites(None, 10).await?;
    sites.sort_by(|a, b| a.name.cmp(&b.name));
    let mut zones = Vec::new();
    for zone in store.list_zones(None, None, 1000).await? {
        if zone.level == 1 {
            zones.push(zone.id);
        }
    }
    let mut doors: Vec<_> = store.list_doors(None, None, None, 1000).await?;
    doors.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(World {
        sites: sites.iter().map(|s| s.id).collect(),
        zones,
        doors: doors
            .iter()
            .map(|d| data::Door {
                id: d.id,
                zone: d.to_zone_id,
                site: d.site_id,
                agent: Uuid::nil(),
            })
            .collect(),
    })
}

struct Line {
    name: String,
    rows: usize,
    runs: usize,
    p50: f64,
    p99: f64,
}

fn summary(name: &str, rows: usize, mut times: Vec<f64>) -> Line {
    times.sort_by(f64::total_cmp);
    Line {
        name: name.to_owned(),
        rows,
        runs: times.len(),
        p50: percentile(&times, 0.5),
        p99: percentile(&times, 0.99),
    }
}

/// Runs `runs` times at most, at least 3, and no more once 20 s are spent.
fn enough(times: &[f64], runs: usize, budget: Instant) -> bool {
    times.len() >= runs || (times.len() >= 3 && budget.elapsed().as_secs() >= 20)
}

async fn baselines(url: &str, id: Uuid, runs: usize) -> Result<Vec<Line>> {
    let select_one = "SELECT 1";
    let by_key = "SELECT id, seq, occurred_at FROM access_events WHERE id = $1";
    let mut lines = Vec::new();
    if url.starts_with("sqlite") {
        let pool = sqlx::SqlitePool::connect(url).await?;
        for (name, sql) in [
            ("raw: SELECT 1", select_one),
            ("raw: one event by id", by_key),
        ] {
            let mut times = Vec::new();
            let budget = Instant::now();
            while !enough(&times, runs, budget) {
                let started = Instant::now();
                sqlx::query(sql).bind(id).fetch_all(&pool).await?;
                times.push(started.elapsed().as_secs_f64());
            }
            lines.push(summary(name, 1, times));
        }
        pool.close().await;
    } else {
        let pool = sqlx::PgPool::connect(url).await?;
        for (name, sql) in [
            ("raw: SELECT 1", select_one),
            ("raw: one event by id", by_key),
        ] {
            let mut times = Vec::new();
            let budget = Instant::now();
            while !enough(&times, runs, budget) {
                let started = Instant::now();
                if sql == select_one {
                    sqlx::query(sql).fetch_all(&pool).await?;
                } else {
                    sqlx::query(sql).bind(id).fetch_all(&pool).await?;
                }
                times.push(started.elapsed().as_secs_f64());
            }
            lines.push(summary(name, 1, times));
        }
        pool.close().await;
    }
    Ok(lines)
}

async fn measure(
    store: &Store,
    url: &str,
    world: &World,
    runs: usize,
    explain: bool,
) -> Result<Vec<Line>> {
    let start = data::start()?;
    let mid = start + Duration::days(data::DAYS / 2) + Duration::hours(9);
    let f = EventFilter::default;
    let period = |from: DateTime<Utc>, days: i64| EventFilter {
        from: Some(from),
        to: Some(from + Duration::days(days)),
        ..f()
    };
    let month = || period(mid, 30);
    let year = || period(start + Duration::days(365), 365);
    let text = |s: &str| Some(s.to_owned());
    let door = world.doors.first().ok_or("no door")?;
    let p = 1234;
    let cases: Vec<(&str, EventFilter)> = vec![
        ("no filter, first page", f()),
        ("a month, first page", month()),
        (
            "door + a year",
            EventFilter {
                door_id: Some(door.id),
                ..year()
            },
        ),
        (
            "person name (one person) + a year",
            EventFilter {
                person_name: Some(data::name(p)),
                ..year()
            },
        ),
        (
            "person name (a surname: 1/40 of people) + a month",
            EventFilter {
                person_name: text(&data::SURNAMES[3].to_lowercase()),
                ..month()
            },
        ),
        (
            "card + a year",
            EventFilter {
                card: Some(data::card(p)),
                ..year()
            },
        ),
        (
            "zone + a month",
            EventFilter {
                zone_id: Some(door.zone),
                ..month()
            },
        ),
        (
            "zone + forced open + a year",
            EventFilter {
                zone_id: Some(door.zone),
                kind: text("forced_open"),
                ..year()
            },
        ),
        (
            "site + a month",
            EventFilter {
                site_id: Some(door.site),
                ..month()
            },
        ),
        (
            "outcome denied + a month",
            EventFilter {
                outcome: text("denied"),
                ..month()
            },
        ),
        (
            "reason anti_passback + a year",
            EventFilter {
                reason: text("anti_passback"),
                ..year()
            },
        ),
        (
            "kind forced open + a year",
            EventFilter {
                kind: text("forced_open"),
                ..year()
            },
        ),
        (
            "site + denied + no_grant + a month",
            EventFilter {
                site_id: Some(door.site),
                outcome: text("denied"),
                reason: text("no_grant"),
                ..month()
            },
        ),
        (
            "zone + person name + a year",
            EventFilter {
                zone_id: Some(door.zone),
                person_name: text(&data::SURNAMES[3].to_lowercase()),
                ..year()
            },
        ),
    ];
    let first = store.list_events(&month(), None, 1).await?;
    let id = first.first().ok_or("no event")?.id;
    let mut lines = baselines(url, id, runs).await?;
    for (name, filter) in cases {
        let rows = store.list_events(&filter, None, PAGE + 1).await?.len();
        if explain {
            let mut plans = Vec::new();
            store
                .list_events_explained(&filter, None, PAGE + 1, Some(&mut plans))
                .await?;
            eprintln!("== {name}");
            for line in plans {
                eprintln!("{line}");
            }
        }
        let mut times = Vec::new();
        let budget = Instant::now();
        while !enough(&times, runs, budget) {
            let started = Instant::now();
            let page = store.list_events(&filter, None, PAGE + 1).await?;
            times.push(started.elapsed().as_secs_f64());
            if page.len() != rows {
                return Err(format!("{name}: {} rows, then {rows}", page.len()).into());
            }
        }
        lines.push(summary(name, rows, times));
    }
    Ok(lines)
}
