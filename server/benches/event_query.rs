//! Event query latency at 10 million events: `Store::list_events` (what
//! `GET /api/v1/events` runs) for each kind of filter, first pages and deep pages, on
//! SQLite and (when `GATEHOUSE_TEST_POSTGRES_URL` is set) PostgreSQL.
//!
//! `cargo bench -p gatehouse-server --bench event_query`
//!
//! The events are generated here and written with a bulk path: multi-row `INSERT`s
//! through sqlx (20 rows each on SQLite, where sqlx binds larger statements slowly; 500
//! on PostgreSQL; `GATEHOUSE_BENCH_INSERT_ROWS` sets both), 100,000 rows per
//! transaction, into the server's own schema (all migrations, all indexes). These rows bypass `ingest_events` and so the
//! audit chain, which the query never reads. A year of traffic at one site: 200 doors
//! (one agent each) into 20 zones, 20,000 people with a card each; 97.7% presentations
//! (92% granted, 5% `no_grant`, 1% `outside_schedule`, 1% unknown card, 0.5%
//! `anti_passback`, 0.5% pending `escort_required`), exit requests, 0.1% forced and
//! 0.2% held-open doors. Ids are UUIDv7 of the arrival time, rows inserted in arrival
//! order; 0.5% of events arrive late (1 hour to 3 days after they occurred: an agent
//! that was offline) and 0.01% early (an agent clock 5–60 s ahead); payloads are 64
//! bytes (a real presentation's postcard bytes are about that size).
//!
//! Every query asks for a page of 50 (51 rows: the extra one says there is more), as
//! the API does. Each is run `GATEHOUSE_BENCH_RUNS` times (default 20, fewer when a
//! query takes seconds) after one warm-up run; the table gives the median and the
//! slowest run. The database is warm (the machine's page cache holds it).
//!
//! Sizes: `GATEHOUSE_BENCH_EVENTS` (SQLite, default 10,000,000) and
//! `GATEHOUSE_BENCH_PG_EVENTS` (PostgreSQL, default the same). The SQLite file goes to
//! `GATEHOUSE_BENCH_DIR` (default: a temporary directory, removed afterwards); a file
//! there from an earlier run with the same number of events is reused. A PostgreSQL
//! database `gatehouse_bench_events_<n>` is made and dropped, or kept and reused with
//! `GATEHOUSE_BENCH_KEEP=1`, in the tablespace `GATEHOUSE_BENCH_PG_TABLESPACE` when set.
//! After loading PostgreSQL, `VACUUM ANALYZE` (what autovacuum would do); SQLite gets
//! no `ANALYZE`, as in production. `GATEHOUSE_BENCH_BACKENDS` (default
//! `sqlite,postgres`) picks the backends.

use chrono::{DateTime, Duration, Utc};
use gatehouse_core::model::DoorMode;
use gatehouse_server::store::DatabaseSettings;
use gatehouse_server::store::{
    Actor, EventFilter, NewAgent, NewDoor, NewSite, NewZone, Store, ZoneRules, now,
};
use sqlx::{AssertSqlSafe, PgPool, SqlitePool};
use std::borrow::Cow;
use std::path::PathBuf;
use std::time::Instant;
use uuid::Uuid;

mod support;
use support::access_events::{Row, bind_rows, insert_sql};
use support::{Result, create_database, drop_database, env_number};

const DOORS: usize = 200;
const ZONES: usize = 20;
const PEOPLE: u64 = 20_000;
const ROWS_PER_TRANSACTION: usize = 100_000;
const PAGE: u32 = 50;

#[tokio::main]
async fn main() -> Result<()> {
    let events = env_number("GATEHOUSE_BENCH_EVENTS", 10_000_000)?;
    let pg_events = env_number("GATEHOUSE_BENCH_PG_EVENTS", events)?;
    let runs = env_number("GATEHOUSE_BENCH_RUNS", 20)?.max(1);
    let keep = std::env::var("GATEHOUSE_BENCH_KEEP").is_ok_and(|v| v == "1");

    let backends =
        std::env::var("GATEHOUSE_BENCH_BACKENDS").unwrap_or_else(|_| "sqlite,postgres".into());
    let mut tables = Vec::new();
    let temp;
    let dir = match std::env::var("GATEHOUSE_BENCH_DIR") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => {
            temp = tempfile::tempdir()?;
            temp.path().to_path_buf()
        }
    };
    if backends.contains("sqlite") {
        let file = dir.join(format!("events-{events}.db"));
        let url = format!("sqlite://{}", file.display());
        let (store, load) = prepare(Target::Sqlite(url), events).await?;
        let size = std::fs::metadata(&file).map(|m| m.len()).unwrap_or(0);
        tables.push(("SQLite", events, load, size, measure(&store, runs).await?));
        store.close().await;
    }

    match std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
        _ if !backends.contains("postgres") => {}
        Err(_) => {
            eprintln!("PostgreSQL skipped: set GATEHOUSE_TEST_POSTGRES_URL to measure it too")
        }
        Ok(admin_url) => {
            let name = format!("gatehouse_bench_events_{pg_events}");
            let tablespace = std::env::var("GATEHOUSE_BENCH_PG_TABLESPACE").ok();
            let url = create_database(&admin_url, &name, tablespace.as_deref()).await?;
            let admin = PgPool::connect(&admin_url).await?;
            let (store, load) = prepare(Target::Postgres(url.clone()), pg_events).await?;
            let size: i64 = sqlx::query_scalar("SELECT pg_database_size($1)")
                .bind(&name)
                .fetch_one(&admin)
                .await?;
            let table = measure(&store, runs).await?;
            store.close().await;
            tables.push(("PostgreSQL", pg_events, load, u64::try_from(size)?, table));
            admin.close().await;
            if !keep {
                drop_database(&admin_url, &name).await?;
            }
        }
    }

    for (backend, events, load, size, table) in &tables {
        println!();
        match load {
            Some(s) => println!(
                "{backend}, {events} events: loaded in {s:.0} s ({:.0} events/s), {:.2} GiB",
                *events as f64 / s,
                *size as f64 / f64::from(1 << 30)
            ),
            None => println!(
                "{backend}, {events} events (reused from an earlier run), {:.2} GiB",
                *size as f64 / f64::from(1 << 30)
            ),
        }
        println!();
        println!("| query | rows | runs | median | slowest |");
        println!("|---|---:|---:|---:|---:|");
        for line in table {
            println!(
                "| {} | {} | {} | {} | {} |",
                line.name,
                line.rows,
                line.runs,
                ms(line.median),
                ms(line.slowest)
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

enum Target {
    Sqlite(String),
    Postgres(String),
}

impl Target {
    fn url(&self) -> &str {
        match self {
            Target::Sqlite(url) | Target::Postgres(url) => url,
        }
    }
}

/// The start of the generated year.
fn year_start() -> Result<DateTime<Utc>> {
    Ok("2025-11-01T00:00:00Z".parse()?)
}

/// A store holding `events` generated events, loading them unless an earlier run did;
/// with the load's duration when loaded now.
async fn prepare(target: Target, events: usize) -> Result<(Store, Option<f64>)> {
    let settings = DatabaseSettings {
        url: target.url().to_owned(),
        max_connections: 4,
    };
    // Migrates; the site and agents are made through the store (so the audit chain is
    // not empty and opening the store later chains nothing).
    let store = Store::open(&settings).await?;
    let count = store
        .list_events(&EventFilter::default(), None, 1)
        .await?
        .len();
    if count > 0 {
        let site_events = stored_count(&target).await?;
        if site_events == events as i64 {
            return Ok((store, None));
        }
        return Err(format!(
            "{} holds {site_events} events, not {events}: remove it first",
            target.url()
        )
        .into());
    }
    let site = store
        .create_site(
            NewSite {
                name: "Bench".into(),
                timezone: "Europe/Berlin".into(),
            },
            &Actor::cli(),
        )
        .await?;
    let zone = |parent_id, level: u8, name: String| NewZone {
        site_id: site.id,
        parent_id,
        name,
        level,
        rules: ZoneRules::default(),
    };
    let outside = store
        .create_zone(zone(None, 0, "outside".into()), &Actor::cli())
        .await?;
    let mut zones = Vec::new();
    for z in 0..ZONES {
        let new = zone(Some(outside.id), 1, format!("zone {z}"));
        zones.push(store.create_zone(new, &Actor::cli()).await?.id);
    }
    let mut doors = Vec::new();
    for d in 0..DOORS {
        let door = store
            .create_door(
                NewDoor {
                    name: format!("door {d}"),
                    from_zone_id: outside.id,
                    to_zone_id: zones[d % ZONES],
                    mode: DoorMode::Normal,
                    unlock_ms: 5000,
                    held_open_ms: 30000,
                },
                &Actor::cli(),
            )
            .await?;
        let agent = store
            .create_agent(
                NewAgent {
                    name: format!("agent {d}"),
                    door_ids: vec![door.id],
                    code_hash: format!("bench-code-{d}").into_bytes(),
                    code_expires_at: now() + Duration::minutes(15),
                },
                &Actor::cli(),
            )
            .await?;
        doors.push(BenchDoor {
            id: door.id,
            zone: zones[d % ZONES],
            agent: agent.id,
        });
    }
    let started = Instant::now();
    let mut generator = Generator::new(events, doors)?;
    match &target {
        Target::Sqlite(url) => {
            let options: sqlx::sqlite::SqliteConnectOptions = url.parse()?;
            // A bulk load: no fsync, a large page cache.
            let options = options
                .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                .synchronous(sqlx::sqlite::SqliteSynchronous::Off)
                .pragma("cache_size", "-1000000");
            let pool = sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(1)
                .connect_with(options)
                .await?;
            load_sqlite(&pool, &mut generator).await?;
            pool.close().await;
        }
        Target::Postgres(url) => {
            let pool = PgPool::connect(url).await?;
            load_postgres(&pool, &mut generator).await?;
            sqlx::query("VACUUM ANALYZE access_events")
                .execute(&pool)
                .await?;
            pool.close().await;
        }
    }
    Ok((store, Some(started.elapsed().as_secs_f64())))
}

async fn stored_count(target: &Target) -> Result<i64> {
    let sql = "SELECT COUNT(*) FROM access_events";
    Ok(match target {
        Target::Sqlite(url) => {
            let pool = SqlitePool::connect(url).await?;
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await?;
            pool.close().await;
            n
        }
        Target::Postgres(url) => {
            let pool = PgPool::connect(url).await?;
            let n = sqlx::query_scalar(sql).fetch_one(&pool).await?;
            pool.close().await;
            n
        }
    })
}

async fn load_sqlite(pool: &SqlitePool, generator: &mut Generator) -> Result<()> {
    let rows_per_insert = env_number("GATEHOUSE_BENCH_INSERT_ROWS", 20)?;
    let full = insert_sql(rows_per_insert);
    let mut shown = Instant::now();
    while generator.remaining() > 0 {
        let mut tx = pool.begin().await?;
        let mut in_tx = 0;
        while in_tx < ROWS_PER_TRANSACTION && generator.remaining() > 0 {
            let rows = generator.next_rows(rows_per_insert);
            let sql = if rows.len() == rows_per_insert {
                full.clone()
            } else {
                insert_sql(rows.len())
            };
            in_tx += rows.len();
            bind_rows(sqlx::query(AssertSqlSafe(sql)), rows)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        progress(generator, &mut shown);
    }
    Ok(())
}

async fn load_postgres(pool: &PgPool, generator: &mut Generator) -> Result<()> {
    let rows_per_insert = env_number("GATEHOUSE_BENCH_INSERT_ROWS", 500)?;
    let full = insert_sql(rows_per_insert);
    let mut shown = Instant::now();
    while generator.remaining() > 0 {
        let mut tx = pool.begin().await?;
        let mut in_tx = 0;
        while in_tx < ROWS_PER_TRANSACTION && generator.remaining() > 0 {
            let rows = generator.next_rows(rows_per_insert);
            let sql = if rows.len() == rows_per_insert {
                full.clone()
            } else {
                insert_sql(rows.len())
            };
            in_tx += rows.len();
            bind_rows(sqlx::query(AssertSqlSafe(sql)), rows)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        progress(generator, &mut shown);
    }
    Ok(())
}

fn progress(generator: &Generator, shown: &mut Instant) {
    if shown.elapsed().as_secs() >= 30 || generator.remaining() == 0 {
        eprintln!(
            "loaded {} of {} events",
            generator.total - generator.remaining(),
            generator.total
        );
        *shown = Instant::now();
    }
}

#[derive(Clone, Copy)]
struct BenchDoor {
    id: Uuid,
    zone: Uuid,
    agent: Uuid,
}

/// SplitMix64: deterministic and fast.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The id of person `p` and of their card.
fn person(p: u64) -> Uuid {
    Uuid::from_u64_pair(mix(p) | 1, mix(p + 1_000_000))
}

fn credential(p: u64) -> Uuid {
    Uuid::from_u64_pair(mix(p + 2_000_000) | 1, mix(p + 3_000_000))
}

/// A UUIDv7 of `at` with random bits from `r`.
fn v7(at: DateTime<Utc>, r: u64) -> Uuid {
    let millis = u128::from(u64::try_from(at.timestamp_millis()).unwrap_or(0));
    let random = (u128::from(r) << 64 | u128::from(mix(r))) & ((1 << 74) - 1);
    let rand_a = random >> 62;
    let rand_b = random & ((1 << 62) - 1);
    Uuid::from_u128(millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b)
}

struct Generator {
    total: usize,
    next: usize,
    doors: Vec<BenchDoor>,
    seqs: Vec<i64>,
    start: DateTime<Utc>,
    step_us: i64,
}

impl Generator {
    fn new(total: usize, doors: Vec<BenchDoor>) -> Result<Generator> {
        let year_us = Duration::days(365)
            .num_microseconds()
            .ok_or("a year in microseconds")?;
        Ok(Generator {
            total,
            next: 0,
            seqs: vec![0; doors.len()],
            doors,
            start: year_start()?,
            step_us: year_us / i64::try_from(total.max(1))?,
        })
    }

    fn remaining(&self) -> usize {
        self.total - self.next
    }

    fn next_rows(&mut self, n: usize) -> Vec<Row> {
        let n = n.min(self.remaining());
        (0..n).map(|_| self.row()).collect()
    }

    fn row(&mut self) -> Row {
        let i = self.next as u64;
        self.next += 1;
        let r = |k: u64| mix(i.wrapping_mul(16).wrapping_add(k));
        let received_at =
            self.start + Duration::microseconds(self.step_us * i64::try_from(i).unwrap_or(0));
        let delay_ms = match r(0) % 10_000 {
            0..50 => 3_600_000 + (r(1) % (3 * 86_400_000 - 3_600_000)),
            50 => 0,
            _ => 200 + r(1) % 2_800,
        };
        let mut occurred_at = received_at - Duration::milliseconds(delay_ms as i64);
        if r(0) % 10_000 == 50 {
            occurred_at = received_at + Duration::milliseconds(5_000 + (r(1) % 55_000) as i64);
        }
        let d = (r(2) % DOORS as u64) as usize;
        let door = self.doors[d];
        self.seqs[d] += 1;
        let p = r(3) % PEOPLE;
        let mut row = Row {
            id: v7(received_at, r(4)),
            agent_id: door.agent,
            seq: self.seqs[d],
            hash: r(5).to_be_bytes().repeat(4),
            payload: r(6).to_be_bytes().repeat(8),
            occurred_at,
            received_at,
            door_id: Some(door.id),
            kind: "presentation",
            reader: None,
            direction: None,
            card: None,
            outcome: None,
            reason: None,
            person_id: None,
            visit_id: None,
            credential_id: None,
            zone_id: None,
            policy_version: None,
        };
        match r(7) % 1000 {
            0 => row.kind = "forced_open",
            1 | 2 => row.kind = "held_open",
            3..=22 => row.kind = "exit_requested",
            _ => {
                let (outcome, reason) = match r(8) % 1000 {
                    0..920 => ("granted", "granted"),
                    920..970 => ("denied", "no_grant"),
                    970..980 => ("denied", "outside_schedule"),
                    980..990 => ("denied", "unknown_credential"),
                    990..995 => ("denied", "anti_passback"),
                    _ => ("pending", "escort_required"),
                };
                let known = reason != "unknown_credential";
                row.reader = Some(Cow::Borrowed(if i.is_multiple_of(2) {
                    "in"
                } else {
                    "out"
                }));
                row.direction = Some(if i.is_multiple_of(2) { "entry" } else { "exit" });
                row.card = Some(format!("04{:012X}", mix(p) & 0xFFFF_FFFF_FFFF));
                row.outcome = Some(outcome);
                row.reason = Some(reason);
                row.person_id = known.then(|| person(p));
                row.credential_id = known.then(|| credential(p));
                row.zone_id = Some(door.zone);
                row.policy_version = Some(1 + (i / 100_000) as i64);
            }
        }
        row
    }
}

struct Line {
    name: String,
    rows: usize,
    runs: usize,
    median: f64,
    slowest: f64,
}

/// The first event of `filter` (its id, to use as a cursor).
async fn first_id(store: &Store, filter: &EventFilter) -> Result<Uuid> {
    let page = store.list_events(filter, None, 1).await?;
    Ok(page.first().ok_or("no event for a cursor")?.id)
}

async fn measure(store: &Store, runs: usize) -> Result<Vec<Line>> {
    let start = year_start()?;
    let mid = start + Duration::days(182) + Duration::hours(9);
    let end = start + Duration::days(365);
    let doors: Vec<Uuid> = store
        .list_events(&EventFilter::default(), None, 2_000)
        .await?
        .iter()
        .filter_map(|e| e.door_id)
        .collect();
    let door = *doors.first().ok_or("no door")?;
    let zone = store
        .list_events(
            &EventFilter {
                door_id: Some(door),
                kind: Some("presentation".into()),
                ..EventFilter::default()
            },
            None,
            1,
        )
        .await?
        .first()
        .and_then(|e| e.zone_id)
        .ok_or("no zone")?;
    let (who, card) = (person(1234), credential(1234));
    let period = |from: DateTime<Utc>, length: Duration| EventFilter {
        from: Some(from),
        to: Some(from + length),
        ..EventFilter::default()
    };
    let f = EventFilter::default;
    let hour = Duration::hours(1);
    let day = Duration::days(1);
    let week = Duration::days(7);
    let month = Duration::days(30);
    // Cursors half way: the first event at or after mid-year (or mid-month).
    let since = |at: DateTime<Utc>, base: EventFilter| EventFilter {
        from: Some(at),
        ..base
    };
    let all_mid = first_id(store, &since(mid, f())).await?;
    let door_mid = first_id(
        store,
        &since(
            mid,
            EventFilter {
                door_id: Some(door),
                ..f()
            },
        ),
    )
    .await?;
    let person_mid = first_id(
        store,
        &since(
            mid,
            EventFilter {
                person_id: Some(who),
                ..f()
            },
        ),
    )
    .await?;
    let month_mid = first_id(store, &period(mid + Duration::days(15), month)).await?;

    // The last pages of the month: after its last event received in time, only late
    // arrivals remain.
    let month_end = first_id(store, &since(mid + month + Duration::hours(2), f())).await?;
    // And of the whole year: its last minute.
    let year_end = first_id(store, &since(end - Duration::minutes(1), f())).await?;
    let text = |s: &str| Some(s.to_owned());
    let cases: Vec<(&str, EventFilter, Option<Uuid>)> = vec![
        ("no filter, first page", f(), None),
        (
            "no filter, deep page (cursor at mid-year)",
            f(),
            Some(all_mid),
        ),
        (
            "door, first page",
            EventFilter {
                door_id: Some(door),
                ..f()
            },
            None,
        ),
        (
            "door, deep page (mid-year)",
            EventFilter {
                door_id: Some(door),
                ..f()
            },
            Some(door_mid),
        ),
        (
            "person, first page",
            EventFilter {
                person_id: Some(who),
                ..f()
            },
            None,
        ),
        (
            "person, deep page (mid-year)",
            EventFilter {
                person_id: Some(who),
                ..f()
            },
            Some(person_mid),
        ),
        (
            "credential",
            EventFilter {
                credential_id: Some(card),
                ..f()
            },
            None,
        ),
        (
            "zone",
            EventFilter {
                zone_id: Some(zone),
                ..f()
            },
            None,
        ),
        (
            "outcome = denied",
            EventFilter {
                outcome: text("denied"),
                ..f()
            },
            None,
        ),
        (
            "outcome = pending",
            EventFilter {
                outcome: text("pending"),
                ..f()
            },
            None,
        ),
        (
            "reason = anti_passback",
            EventFilter {
                reason: text("anti_passback"),
                ..f()
            },
            None,
        ),
        (
            "kind = forced_open",
            EventFilter {
                kind: text("forced_open"),
                ..f()
            },
            None,
        ),
        ("one hour", period(mid, hour), None),
        ("one day", period(mid, day), None),
        ("one month, first page", period(mid, month), None),
        (
            "one month, deep page (mid-month)",
            period(mid, month),
            Some(month_mid),
        ),
        (
            "one month, last page (after the month's end)",
            period(mid, month),
            Some(month_end),
        ),
        (
            "the whole year, last page (its last minute)",
            period(start, Duration::days(365)),
            Some(year_end),
        ),
        (
            "since the last day (from only)",
            EventFilter {
                from: Some(end - day),
                ..f()
            },
            None,
        ),
        (
            "before the first day (to only)",
            EventFilter {
                to: Some(start + day),
                ..f()
            },
            None,
        ),
        (
            "door + one hour",
            EventFilter {
                door_id: Some(door),
                ..period(mid, hour)
            },
            None,
        ),
        (
            "door + one day",
            EventFilter {
                door_id: Some(door),
                ..period(mid, day)
            },
            None,
        ),
        (
            "door + one month",
            EventFilter {
                door_id: Some(door),
                ..period(mid, month)
            },
            None,
        ),
        (
            "door + the whole year",
            EventFilter {
                door_id: Some(door),
                ..period(start, Duration::days(365))
            },
            None,
        ),
        (
            "person + one month",
            EventFilter {
                person_id: Some(who),
                ..period(mid, month)
            },
            None,
        ),
        (
            "door + person",
            EventFilter {
                door_id: Some(door),
                person_id: Some(who),
                ..f()
            },
            None,
        ),
        (
            "zone + no_grant + one week",
            EventFilter {
                zone_id: Some(zone),
                reason: text("no_grant"),
                ..period(mid, week)
            },
            None,
        ),
        (
            "forced_open + one month",
            EventFilter {
                kind: text("forced_open"),
                ..period(mid, month)
            },
            None,
        ),
        (
            "denied + one day",
            EventFilter {
                outcome: text("denied"),
                ..period(mid, day)
            },
            None,
        ),
    ];
    let mut lines = Vec::new();
    for (name, filter, after) in cases {
        let rows = store.list_events(&filter, after, PAGE + 1).await?.len();
        let mut times = Vec::new();
        let budget = Instant::now();
        while times.len() < runs && (times.len() < 3 || budget.elapsed().as_secs() < 20) {
            let started = Instant::now();
            let page = store.list_events(&filter, after, PAGE + 1).await?;
            times.push(started.elapsed().as_secs_f64());
            if page.len() != rows {
                return Err(format!("{name}: {} rows, then {rows}", page.len()).into());
            }
        }
        times.sort_by(f64::total_cmp);
        lines.push(Line {
            name: name.to_owned(),
            rows,
            runs: times.len(),
            median: times[times.len() / 2],
            slowest: times[times.len() - 1],
        });
    }
    Ok(lines)
}
