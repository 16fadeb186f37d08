//! What the audit trail costs, on SQLite and (when `GATEHOUSE_TEST_POSTGRES_URL` is set)
//! PostgreSQL:
//!
//! 1. **Ingest**: events through `Store::ingest_events` in batches of 1,000 (each batch
//!    one transaction: the events stored, their agent chain checked, and each appended
//!    to the audit chain), next to a raw bulk insert of identical rows into the same
//!    table in the same run: plain single-row `INSERT`s in one transaction, and
//!    multi-row `INSERT`s (500 rows each) in one transaction. Each measurement starts on
//!    a fresh database, `GATEHOUSE_BENCH_INGEST_EVENTS` events (default 100,000), repeated
//!    `GATEHOUSE_BENCH_RUNS` times (default 3): the median run and the range.
//! 2. **Export** of `GATEHOUSE_BENCH_EXPORT_EVENTS` chained events (default 1,000,000,
//!    built through `ingest_events` in batches of 1,000 with a checkpoint signed after
//!    each batch, as the server's checkpoint task would): `audit::export::plan` and
//!    `stream`, unfiltered, CSV and NDJSON, written to a file, each in a child process
//!    (this bench binary run again) that reports its time and peak resident memory
//!    (`VmHWM`); next to `sqlite3 -csv` (`/usr/bin/sqlite3`) or `psql \copy` of the
//!    same rows (every chain entry joined to its event), timed with `/usr/bin/time` for
//!    their peak memory (the client's: the PostgreSQL server's own memory is in neither
//!    figure).
//!    Each export file is then verified as an auditor does, offline with the public key
//!    (`audit::export::offline::verify_export`, a child), next to SHA-256 of the same
//!    file in one pass (a child reading it through `std::io::copy`).
//! 3. **Verification** of the same trail: `audit::verify::verify`, in a child process,
//!    next to its baseline: SHA-256 over the same canonical bytes the verifier hashes
//!    (each event's payload, the event's canonical encoding, each chain entry's), in one
//!    pass with one hasher. The child reads the trail and builds those bytes a page at a
//!    time untimed, and times only the hashing of each page's bytes.
//!    And next to reading the rows it reads: through sqlx (the verifier's statement,
//!    every row decoded, nothing hashed, in a child) and by `sqlite3` / `psql \copy`
//!    (the same join and columns, written to `/dev/null`).
//!
//! `cargo bench -p gatehouse-server --bench audit_trail`
//!
//! Ingest databases are SQLite files in a temporary directory (on the machine's disk,
//! with the server's settings: WAL, `synchronous = FULL`) or new PostgreSQL databases,
//! dropped afterwards. The export database goes to `GATEHOUSE_BENCH_DIR` (default a
//! temporary directory) and is reused by a later run when it holds the same number of
//! events; the PostgreSQL one (`gatehouse_bench_export_<n>`) is dropped unless
//! `GATEHOUSE_BENCH_KEEP=1`. `GATEHOUSE_BENCH_BUILD_ONLY=1` builds (or finds) the export
//! trails, keeps them and measures nothing else.

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use gatehouse_core::decide::{Direction, Outcome, Reason};
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, PresentationRecord, chain_hash};
use gatehouse_core::model::DoorMode;
use gatehouse_server::audit::canon::sha256;
use gatehouse_server::audit::checkpoint::{AuditKey, CheckpointSettings, checkpoint_if_due};
use gatehouse_server::audit::export::offline::verify_export;
use gatehouse_server::audit::export::{self, ExportFilter, ExportRequest, Format};
use gatehouse_server::audit::records::{EventRow, Source};
use gatehouse_server::audit::verify::verify;
use gatehouse_server::audit::{GENESIS, chain_bytes, hash32};
use gatehouse_server::store::DatabaseSettings;
use gatehouse_server::store::{
    Actor, NewAgent, NewDoor, NewSite, NewZone, Store, UploadRecord, ZoneRules, now,
};
use sha2::{Digest as _, Sha256};
use sqlx::{AssertSqlSafe, PgPool};
use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use uuid::Uuid;

mod support;
use support::access_events::{Row, bind_rows, insert_sql};
use support::{Result, create_database, drop_database, env_number};

const BATCH: usize = 1_000;
const ROWS_PER_INSERT: usize = 500;

#[tokio::main]
async fn main() -> Result<()> {
    // This binary run again as the export or verify child.
    if let Ok(role) = std::env::var("GATEHOUSE_BENCH_CHILD") {
        return child(&role).await;
    }
    let ingest_events = env_number("GATEHOUSE_BENCH_INGEST_EVENTS", 100_000)?;
    let export_events = env_number("GATEHOUSE_BENCH_EXPORT_EVENTS", 1_000_000)?;
    let runs = env_number("GATEHOUSE_BENCH_RUNS", 3)?.max(1);
    let keep = std::env::var("GATEHOUSE_BENCH_KEEP").is_ok_and(|v| v == "1");
    // Only build (or find) the export trails, for a later run to measure.
    let build_only = std::env::var("GATEHOUSE_BENCH_BUILD_ONLY").is_ok_and(|v| v == "1");
    let postgres = std::env::var("GATEHOUSE_TEST_POSTGRES_URL").ok();
    if postgres.is_none() {
        eprintln!("PostgreSQL skipped: set GATEHOUSE_TEST_POSTGRES_URL to measure it too");
    }
    let temp = tempfile::tempdir()?;
    let export_dir = match std::env::var("GATEHOUSE_BENCH_DIR") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => temp.path().to_path_buf(),
    };

    let mut ingest_rows = Vec::new();
    let mut export_rows = Vec::new();
    let mut backends = vec![Backend::Sqlite];
    backends.extend(postgres.clone().map(Backend::Postgres));
    for backend in &backends {
        // 1. Ingest next to raw inserts, interleaved, each on a fresh database.
        let mut seconds: [Vec<f64>; 3] = Default::default();
        for run in 0..runs {
            for (m, method) in Method::ALL.iter().enumerate() {
                let db = backend
                    .fresh(temp.path(), &format!("ingest_{run}_{m}"))
                    .await?;
                let s = ingest_run(&db, *method, ingest_events).await;
                db.drop_database(false).await?;
                seconds[m].push(s?);
            }
        }
        for (m, method) in Method::ALL.iter().enumerate() {
            ingest_rows.push((backend.name(), *method, seconds[m].clone()));
        }

        // 2 and 3. Export and verification of a chained trail.
        let name = format!("export_{export_events}");
        let db = backend.named(&export_dir, &name).await?;
        let built = build_trail(&db, export_events).await?;
        if build_only {
            eprintln!("{}: trail of {export_events} events ready", backend.name());
            continue;
        }
        let out = temp.path().join("export");
        let mut results = Vec::new();
        for format in ["csv", "ndjson"] {
            let report = run_child("export", &db.url, format, &out)?;
            results.push((format!("Gatehouse export, {format}"), report));
            let report = run_child("verify-export", &db.url, format, &out)?;
            let what = format!("the {format} export verified offline (`verify_export`)");
            results.push((what, report));
            let report = run_child("sha256-file", &db.url, format, &out)?;
            results.push((format!("SHA-256 of the {format} file, one pass"), report));
        }
        results.push(("raw rows, CSV".to_owned(), raw_copy(&db, &out)?));
        let report = run_child("verify", &db.url, "", &out)?;
        results.push(("Gatehouse verify".to_owned(), report));
        let report = run_child("read", &db.url, "", &out)?;
        let what = "the verifier's rows read through sqlx, decoded, nothing hashed";
        results.push((what.to_owned(), report));
        let what = "the verifier's rows read by `sqlite3` / `psql \\copy` into /dev/null";
        results.push((what.to_owned(), raw_read(&db)?));
        let report = run_child("sha256", &db.url, "", &out)?;
        let what = "SHA-256 of the bytes the verifier hashes, one pass (output: bytes hashed)";
        results.push((what.to_owned(), report));
        export_rows.push((backend.name(), export_events, built, results));
        let keep = match backend {
            Backend::Sqlite => std::env::var("GATEHOUSE_BENCH_DIR").is_ok(),
            Backend::Postgres(_) => keep,
        };
        db.drop_database(keep).await?;
    }

    println!();
    println!(
        "Ingest of {ingest_events} events, {runs} runs each on a fresh database (median, lowest–highest):"
    );
    println!();
    println!("| backend | how | seconds (median) | events/s (median) | events/s (range) |");
    println!("|---|---|---:|---:|---:|");
    for (backend, method, mut s) in ingest_rows {
        s.sort_by(f64::total_cmp);
        let rate = |x: f64| ingest_events as f64 / x;
        println!(
            "| {backend} | {} | {:.2} | {:.0} | {:.0}–{:.0} |",
            method.label(),
            s[s.len() / 2],
            rate(s[s.len() / 2]),
            rate(s[s.len() - 1]),
            rate(s[0]),
        );
    }
    for (backend, events, built, results) in export_rows {
        println!();
        match built {
            Some(s) => println!(
                "{backend}: {events} events chained through ingest_events in {s:.0} s ({:.0} events/s, checkpoint after each batch)",
                events as f64 / s
            ),
            None => println!("{backend}: {events} chained events (built by an earlier run)"),
        }
        println!();
        println!("| what | seconds | peak memory | output | records |");
        println!("|---|---:|---:|---:|---:|");
        for (what, r) in results {
            println!(
                "| {what} | {:.1} | {:.0} MiB | {:.0} MiB | {} |",
                r.seconds,
                r.peak_kib as f64 / 1024.0,
                r.bytes as f64 / f64::from(1 << 20),
                r.records
            );
        }
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Method {
    Ingest,
    SingleRowInserts,
    MultiRowInserts,
}

impl Method {
    const ALL: [Method; 3] = [
        Method::Ingest,
        Method::SingleRowInserts,
        Method::MultiRowInserts,
    ];

    fn label(self) -> &'static str {
        match self {
            Method::Ingest => "`Store::ingest_events`, batches of 1,000 (events + audit chain)",
            Method::SingleRowInserts => "raw: single-row INSERTs, one transaction",
            Method::MultiRowInserts => "raw: 500-row INSERTs, one transaction",
        }
    }
}

enum Backend {
    Sqlite,
    /// The server's URL; databases are made on it.
    Postgres(String),
}

/// A benchmark database and how to get rid of it.
struct Db {
    url: String,
    /// For PostgreSQL: the server's URL and the database's name.
    postgres: Option<(String, String)>,
}

impl Backend {
    fn name(&self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres(_) => "PostgreSQL",
        }
    }

    /// A new, empty database.
    async fn fresh(&self, dir: &Path, name: &str) -> Result<Db> {
        let db = self.named(dir, name).await?;
        db.drop_database(false).await?;
        self.named(dir, name).await
    }

    /// The database `name`, made when missing.
    async fn named(&self, dir: &Path, name: &str) -> Result<Db> {
        match self {
            Backend::Sqlite => Ok(Db {
                url: format!("sqlite://{}", dir.join(format!("{name}.db")).display()),
                postgres: None,
            }),
            Backend::Postgres(admin_url) => {
                let name = format!("gatehouse_bench_{name}");
                Ok(Db {
                    url: create_database(admin_url, &name, None).await?,
                    postgres: Some((admin_url.clone(), name)),
                })
            }
        }
    }
}

impl Db {
    /// Removes the database (unless `keep`).
    async fn drop_database(&self, keep: bool) -> Result<()> {
        if keep {
            return Ok(());
        }
        match &self.postgres {
            Some((admin_url, name)) => drop_database(admin_url, name).await?,
            None => {
                let path = self.url.trim_start_matches("sqlite://");
                for suffix in ["", "-wal", "-shm"] {
                    let _ = std::fs::remove_file(format!("{path}{suffix}"));
                }
            }
        }
        Ok(())
    }

    fn settings(&self) -> DatabaseSettings {
        DatabaseSettings {
            url: self.url.clone(),
            max_connections: 4,
        }
    }
}

/// A site with `n` doors and an agent for each: (door, agent) pairs.
async fn agents(store: &Store, n: usize) -> Result<Vec<(Uuid, Uuid)>> {
    let site = store
        .create_site(
            NewSite {
                name: "Bench".into(),
                timezone: "Europe/Berlin".into(),
                secure_cards_from_threat_level: None,
            },
            &Actor::cli(),
        )
        .await?;
    let zone = |parent_id, level: u8| NewZone {
        site_id: site.id,
        parent_id,
        name: format!("level {level}"),
        level,
        rules: ZoneRules::default(),
    };
    let outside = store.create_zone(zone(None, 0), &Actor::cli()).await?;
    let inside = store
        .create_zone(zone(Some(outside.id), 1), &Actor::cli())
        .await?;
    let mut pairs = Vec::new();
    for d in 0..n {
        let door = store
            .create_door(
                NewDoor {
                    name: format!("door {d}"),
                    from_zone_id: outside.id,
                    to_zone_id: inside.id,
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
                    code_hash: format!("bench-{d}").into_bytes(),
                    code_expires_at: now() + Duration::minutes(15),
                },
                &Actor::cli(),
            )
            .await?;
        pairs.push((door.id, agent.id));
    }
    Ok(pairs)
}

/// The agent's journal: records numbered from 1, chained, one presentation each (a
/// granted entry of one of 1,000 people most of the time, sometimes a refusal).
struct Journal {
    door: Uuid,
    seq: u64,
    previous: [u8; 32],
    start: DateTime<Utc>,
}

impl Journal {
    fn new(door: Uuid) -> Journal {
        Journal {
            door,
            seq: 0,
            previous: GENESIS_HASH,
            start: now() - Duration::days(1),
        }
    }

    fn batch(&mut self, n: usize) -> Result<Vec<UploadRecord>> {
        (0..n).map(|_| self.next()).collect()
    }

    fn next(&mut self) -> Result<UploadRecord> {
        self.seq += 1;
        let seq = self.seq;
        let (outcome, reason) = match seq % 20 {
            0 => (Outcome::Denied, Reason::NoGrant),
            _ => (Outcome::Granted, Reason::Granted),
        };
        let person = Uuid::from_u64_pair(0x0190_0000_0000_7000, seq % 1000);
        let event = DoorEvent {
            occurred_at: self.start + Duration::milliseconds(i64::try_from(seq)? * 50),
            door_id: Some(self.door),
            kind: EventKind::Presentation(PresentationRecord {
                reader: "in".into(),
                card: format!("04A1B2C3{:06X}", seq % 1000),
                direction: Direction::Entry,
                outcome,
                reason,
                person_id: Some(person),
                visit_id: None,
                credential_id: Some(Uuid::from_u64_pair(0x0190_0000_0000_7001, seq % 1000)),
                zone_id: Some(self.door),
                alarms: vec![],
                policy_version: 3,
                trace: None,
            }),
        };
        let payload = event.encode()?;
        let hash = chain_hash(&self.previous, seq, &payload);
        self.previous = hash;
        Ok(UploadRecord {
            seq,
            payload,
            hash,
            event,
        })
    }
}

/// Writes `rows` in one transaction, `per_insert` rows per statement.
macro_rules! insert_rows {
    ($pool:expr, $rows:expr, $per_insert:expr) => {{
        let mut tx = $pool.begin().await?;
        let mut rows = $rows.into_iter().peekable();
        while rows.peek().is_some() {
            let chunk: Vec<Row> = rows.by_ref().take($per_insert).collect();
            let sql = insert_sql(chunk.len());
            bind_rows(sqlx::query(AssertSqlSafe(sql)), chunk)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
    }};
}

/// Stores `events` events in a fresh database one way; returns the seconds it took
/// (generating the records not included).
async fn ingest_run(db: &Db, method: Method, events: usize) -> Result<f64> {
    let store = Store::open(&db.settings()).await?;
    let [(door, agent)] = agents(&store, 1).await?[..] else {
        return Err("one agent".into());
    };
    let mut journal = Journal::new(door);
    let batches: Vec<Vec<UploadRecord>> = (0..events.div_ceil(BATCH))
        .map(|b| journal.batch(BATCH.min(events - b * BATCH)))
        .collect::<Result<_>>()?;
    let started;
    match method {
        Method::Ingest => {
            started = Instant::now();
            for batch in &batches {
                let outcome = store.ingest_events(agent, batch, 0).await?;
                if outcome.stored as usize != batch.len() {
                    return Err(format!("stored {} of {}", outcome.stored, batch.len()).into());
                }
            }
        }
        Method::SingleRowInserts | Method::MultiRowInserts => {
            let per_insert = if method == Method::SingleRowInserts {
                1
            } else {
                ROWS_PER_INSERT
            };
            // The rows ingest would write, made as it makes them: the arrival time of
            // each batch, ids when stored.
            store.close().await;
            let received_at = now();
            let rows: Vec<Row> = batches
                .into_iter()
                .flatten()
                .map(|r| Row::of(agent, r, received_at))
                .collect::<Result<_>>()?;
            started = Instant::now();
            if db.postgres.is_some() {
                let pool = PgPool::connect(&db.url).await?;
                insert_rows!(pool, rows, per_insert);
                pool.close().await;
            } else {
                // The server's own connection settings.
                let options: sqlx::sqlite::SqliteConnectOptions = db.url.parse()?;
                let options = options
                    .journal_mode(sqlx::sqlite::SqliteJournalMode::Wal)
                    .synchronous(sqlx::sqlite::SqliteSynchronous::Full)
                    .foreign_keys(true);
                let pool = sqlx::SqlitePool::connect_with(options).await?;
                insert_rows!(pool, rows, per_insert);
                pool.close().await;
            }
            return Ok(started.elapsed().as_secs_f64());
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    store.close().await;
    Ok(seconds)
}

/// Chains `events` events into `db` through `ingest_events` (1,000 per batch, a
/// checkpoint signed after each), unless an earlier run did; the seconds it took.
async fn build_trail(db: &Db, events: usize) -> Result<Option<f64>> {
    let store = Store::open(&db.settings()).await?;
    let key = AuditKey::load(&store).await?;
    let (head, _) = store.audit_head().await?;
    if head > 0 {
        let stored = usize::try_from(head)?;
        store.close().await;
        // The trail holds the site's operator entries too: a few more than the events.
        if stored >= events && stored < events + 100 {
            return Ok(None);
        }
        return Err(format!("{} holds another trail: remove it", db.url).into());
    }
    let [(door, agent)] = agents(&store, 1).await?[..] else {
        return Err("one agent".into());
    };
    let mut journal = Journal::new(door);
    let started = Instant::now();
    let mut shown = Instant::now();
    let mut done = 0;
    while done < events {
        let batch = journal.batch(BATCH.min(events - done))?;
        store.ingest_events(agent, &batch, 0).await?;
        checkpoint_if_due(&store, &key, CheckpointSettings::default()).await?;
        done += batch.len();
        if shown.elapsed().as_secs() >= 30 {
            eprintln!("chained {done} of {events} events");
            shown = Instant::now();
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    store.close().await;
    Ok(Some(seconds))
}

/// What a child (or a command) reported.
struct Report {
    seconds: f64,
    peak_kib: u64,
    bytes: u64,
    records: u64,
}

/// Runs this binary as the `role` child on `url`, writing to `out`.
fn run_child(role: &str, url: &str, format: &str, out: &Path) -> Result<Report> {
    let output = Command::new(std::env::current_exe()?)
        .env("GATEHOUSE_BENCH_CHILD", role)
        .env("GATEHOUSE_BENCH_URL", url)
        .env("GATEHOUSE_BENCH_FORMAT", format)
        .env("GATEHOUSE_BENCH_OUT", out)
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("the {role} child failed: {}", output.status).into());
    }
    let text = String::from_utf8(output.stdout)?;
    let numbers: Vec<f64> = text
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()?;
    let [seconds, peak_kib, bytes, records] = numbers[..] else {
        return Err(format!("the {role} child said {text:?}").into());
    };
    Ok(Report {
        seconds,
        peak_kib: peak_kib as u64,
        bytes: bytes as u64,
        records: records as u64,
    })
}

/// The child: exports or verifies, then prints seconds, peak KiB, bytes and records.
async fn child(role: &str) -> Result<()> {
    let url = std::env::var("GATEHOUSE_BENCH_URL")?;
    let out = PathBuf::from(std::env::var("GATEHOUSE_BENCH_OUT")?);
    let store = Store::connect(&DatabaseSettings {
        url,
        max_connections: 4,
    })
    .await?;
    let key = AuditKey::load(&store).await?;
    let mut started = Instant::now();
    let mut seconds = None;
    let (bytes, records) = match role {
        "export" => {
            let format = match std::env::var("GATEHOUSE_BENCH_FORMAT")?.as_str() {
                "csv" => Format::Csv,
                _ => Format::Ndjson,
            };
            let request = ExportRequest {
                from: DateTime::UNIX_EPOCH,
                to: now() + Duration::days(1),
                filter: ExportFilter::default(),
                format,
            };
            let plan = export::plan(&store, &key, request).await?;
            let records = plan.entries();
            let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
            let mut chunks = std::pin::pin!(export::stream(store.clone(), plan));
            let mut bytes = 0;
            while let Some(chunk) = chunks.next().await {
                let (chunk, _) = chunk?;
                bytes += chunk.len() as u64;
                file.write_all(&chunk)?;
            }
            file.flush()?;
            (bytes, records)
        }
        "verify-export" => {
            let file = std::io::BufReader::new(std::fs::File::open(&out)?);
            let report = verify_export(file, &key.public_key())?;
            if !report.ok {
                return Err(format!("the export does not verify: {:?}", report.first_bad).into());
            }
            (std::fs::metadata(&out)?.len(), report.records)
        }
        "sha256-file" => {
            let mut file = std::fs::File::open(&out)?;
            let mut hasher = Sha256::new();
            let bytes = std::io::copy(&mut file, &mut hasher)?;
            std::hint::black_box(hasher.finalize());
            (bytes, 0)
        }
        "read" => {
            let (mut after, mut entries) = (0, 0u64);
            loop {
                let page = store
                    .chain_page_with_events(after, 5_000, |e| e.seq)
                    .await?;
                let Some(Ok(last)) = page.last().map(|r| &r.entry) else {
                    break;
                };
                after = last.seq;
                entries += page.len() as u64;
                std::hint::black_box(&page);
            }
            (0, entries)
        }
        "sha256" => {
            let (hashing, bytes, records) = hash_canonical(&store).await?;
            seconds = Some(hashing);
            // The peak memory below is the reading's as much as the hashing's.
            started = Instant::now();
            (bytes, records)
        }
        _ => {
            let report = verify(&store, &key.public_key()).await?;
            if !report.ok {
                return Err(format!("the trail does not verify: {:?}", report.first_bad).into());
            }
            (0, u64::try_from(report.records)?)
        }
    };
    let seconds = seconds.unwrap_or_else(|| started.elapsed().as_secs_f64());
    let status = std::fs::read_to_string("/proc/self/status")?;
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmHWM in /proc/self/status")?;
    println!("{seconds} {peak_kib} {bytes} {records}");
    Ok(())
}

/// The verifier's hashing baseline: the bytes it hashes for every event and chain entry
/// (the payload, the event's canonical encoding given the payload's SHA-256, the entry's
/// canonical encoding), built a page at a time untimed and fed to one SHA-256; the
/// seconds spent hashing, the bytes hashed and the entries covered. (The few operator
/// entries' own records and the checkpoints' signatures are left out.)
async fn hash_canonical(store: &Store) -> Result<(f64, u64, u64)> {
    let mut hasher = Sha256::new();
    let mut hashing = std::time::Duration::ZERO;
    let (mut bytes, mut entries, mut after) = (0u64, 0u64, 0);
    let mut previous = GENESIS;
    let mut buffer = Vec::new();
    loop {
        let page = store.chain_page(after, 5_000).await?;
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            break;
        };
        let events: HashMap<i64, EventRow> = store
            .chained_events(first.seq, last.seq)
            .await?
            .into_iter()
            .filter_map(|e| Some((e.chain_seq, e.row.ok()?)))
            .collect();
        after = last.seq;
        buffer.clear();
        for entry in &page {
            if let Some(row) = events.get(&entry.seq) {
                buffer.extend_from_slice(&row.payload);
                row.canonical_bytes(&sha256(&row.payload), &mut buffer);
            }
            let source = Source::parse(&entry.source).ok_or("unknown source")?;
            let digest = hash32(&entry.digest);
            let (seq, id, at) = (entry.seq, entry.record_id, entry.recorded_at);
            chain_bytes(&mut buffer, &previous, seq, source, id, &digest, at);
            previous = hash32(&entry.hash);
            entries += 1;
        }
        let started = Instant::now();
        hasher.update(&buffer);
        hashing += started.elapsed();
        bytes += buffer.len() as u64;
    }
    std::hint::black_box(hasher.finalize());
    Ok((hashing.as_secs_f64(), bytes, entries))
}

/// The rows the verifier reads (every chain entry joined to its event, in chain order,
/// the columns it digests) read by the database's own client into `/dev/null`:
/// `sqlite3` in its plain list mode, `psql \copy` as text.
fn raw_read(db: &Db) -> Result<Report> {
    let sql = "SELECT c.seq, c.source, c.record_id, c.digest, c.hash, c.recorded_at, e.id, \
               e.agent_id, e.seq, e.hash, e.payload, e.occurred_at, e.received_at, e.door_id, \
               e.kind, e.reader, e.direction, e.card, e.outcome, e.reason, e.person_id, \
               e.visit_id, e.credential_id, e.zone_id, e.policy_version, e.released_by, \
               e.release_of, e.trace FROM audit_chain c LEFT JOIN access_events e \
               ON c.source = 'event' AND e.id = c.record_id ORDER BY c.seq";
    let timing = std::env::temp_dir().join(format!("raw_read_{}.time", std::process::id()));
    let mut command = Command::new("/usr/bin/time");
    command.arg("-f").arg("%e %M").arg("-o").arg(&timing);
    match &db.postgres {
        Some(_) => {
            let copy = format!("\\copy ({sql}) TO '/dev/null'");
            command.args(["psql", "-q", &db.url, "-c", &copy]);
        }
        None => {
            let path = db.url.trim_start_matches("sqlite://");
            command
                .args(["/usr/bin/sqlite3", path, sql])
                .stdout(std::fs::File::create("/dev/null")?);
        }
    }
    let status = command.status()?;
    if !status.success() {
        return Err(format!("{command:?} failed: {status}").into());
    }
    let text = std::fs::read_to_string(&timing)?;
    std::fs::remove_file(&timing)?;
    let mut fields = text.split_whitespace();
    Ok(Report {
        seconds: fields.next().ok_or("no time")?.parse()?,
        peak_kib: fields.next().ok_or("no memory")?.parse()?,
        bytes: 0,
        records: 0,
    })
}

/// The same rows as the export (every chain entry, joined to its event, in chain
/// order) written as CSV by the database's own client: `sqlite3 -csv` or `psql \copy`.
fn raw_copy(db: &Db, out: &Path) -> Result<Report> {
    let columns = "c.seq, c.source, c.record_id, c.digest, c.hash, c.recorded_at, e.agent_id, \
                   e.seq, e.hash, e.payload, e.occurred_at, e.received_at, e.door_id, e.kind, \
                   e.reader, e.direction, e.card, e.outcome, e.reason, e.person_id, e.visit_id, \
                   e.credential_id, e.zone_id, e.policy_version";
    let from = "FROM audit_chain c LEFT JOIN access_events e ON c.source = 'event' \
                AND e.id = c.record_id ORDER BY c.seq";
    let timing = out.with_extension("time");
    let mut command = Command::new("/usr/bin/time");
    command.arg("-f").arg("%e %M").arg("-o").arg(&timing);
    match &db.postgres {
        Some(_) => {
            let sql = format!(
                "\\copy (SELECT {columns} {from}) TO '{}' WITH (FORMAT csv, HEADER)",
                out.display()
            );
            command.args(["psql", "-q", &db.url, "-c", &sql]);
        }
        None => {
            // Blobs as hex, as the export writes them.
            let hexed = columns
                .split(", ")
                .map(|c| match c {
                    "c.record_id" | "c.digest" | "c.hash" | "e.agent_id" | "e.hash"
                    | "e.payload" | "e.door_id" | "e.person_id" | "e.visit_id"
                    | "e.credential_id" | "e.zone_id" => format!("hex({c})"),
                    other => other.to_owned(),
                })
                .collect::<Vec<_>>()
                .join(", ");
            let path = db.url.trim_start_matches("sqlite://");
            command
                .args(["/usr/bin/sqlite3", "-csv", "-header", path])
                .arg(format!("SELECT {hexed} {from}"))
                .stdout(std::fs::File::create(out)?);
        }
    }
    let status = command.status()?;
    if !status.success() {
        return Err(format!("{command:?} failed: {status}").into());
    }
    let timing = std::fs::read_to_string(&timing)?;
    let mut fields = timing.split_whitespace();
    let seconds: f64 = fields.next().ok_or("no time")?.parse()?;
    let peak_kib: u64 = fields.next().ok_or("no memory")?.parse()?;
    let bytes = std::fs::metadata(out)?.len();
    let lines = std::fs::read(out)?.iter().filter(|b| **b == b'\n').count() as u64;
    // Less the column row.
    let records = lines.saturating_sub(1);
    Ok(Report {
        seconds,
        peak_kib,
        bytes,
        records,
    })
}
