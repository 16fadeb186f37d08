//! What the display columns cost an export, on SQLite and (when
//! `GATEHOUSE_TEST_POSTGRES_URL` is set) PostgreSQL: the unfiltered export of
//! `GATEHOUSE_BENCH_EXPORT_EVENTS` chained events (default 1,000,000; presentations by
//! `GATEHOUSE_BENCH_PEOPLE` people, default 1,000, at 10 doors of a Europe/Berlin site,
//! built through `ingest_events` in batches of 1,000 with a checkpoint after each) in
//! CSV and NDJSON, **with** display columns and their signed name snapshot (the default)
//! and **without** (`Plan::without_display`), each written to a file, next to a raw
//! baseline measured in the same run: reading every chain entry and its event a page at
//! a time (the export's own queries) and recomputing each event's digest, writing
//! nothing. Each measurement runs in a child process (this binary again) that reports
//! its time and peak resident memory (`VmHWM`).
//!
//! `cargo bench -p gatehouse-server --bench export`
//!
//! The trail goes to `GATEHOUSE_BENCH_DIR` (default a temporary directory) as
//! `display_export_<n>.db` and is reused by a later run holding the same number of
//! events; the PostgreSQL database (`gatehouse_bench_display_export_<n>`) is dropped
//! unless `GATEHOUSE_BENCH_KEEP=1`.

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use gatehouse_core::decide::{Direction, Outcome, Reason};
use gatehouse_core::event::{DoorEvent, EventKind, GENESIS_HASH, PresentationRecord, chain_hash};
use gatehouse_core::model::PersonKind;
use gatehouse_server::audit::checkpoint::{AuditKey, CheckpointSettings, checkpoint_if_due};
use gatehouse_server::audit::export::{self, ExportFilter, ExportRequest, Format};
use gatehouse_server::store::{
    Actor, DatabaseSettings, NewAgent, NewPerson, Store, UploadRecord, now,
};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;
use uuid::Uuid;

mod support;
use support::site::site_with_doors;
use support::{Result, create_database, drop_database, env_number};

const BATCH: usize = 1_000;
const DOORS: usize = 10;
const PAGE: u32 = 2_000;

/// What is measured, each in a child.
const RUNS: [(&str, &str); 5] = [
    (
        "raw",
        "raw: read every entry and its event, recompute the digest",
    ),
    ("csv-plain", "export, CSV, without display columns"),
    ("csv-display", "export, CSV, with display columns"),
    ("ndjson-plain", "export, NDJSON, without display columns"),
    ("ndjson-display", "export, NDJSON, with display columns"),
];

#[tokio::main]
async fn main() -> Result<()> {
    if let Ok(role) = std::env::var("GATEHOUSE_BENCH_CHILD") {
        return child(&role).await;
    }
    let events = env_number("GATEHOUSE_BENCH_EXPORT_EVENTS", 1_000_000)?;
    let people = env_number("GATEHOUSE_BENCH_PEOPLE", 1_000)?.max(1);
    let keep = std::env::var("GATEHOUSE_BENCH_KEEP").is_ok_and(|v| v == "1");
    let temp = tempfile::tempdir()?;
    let dir = match std::env::var("GATEHOUSE_BENCH_DIR") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => temp.path().to_path_buf(),
    };
    let name = format!("display_export_{events}");
    let mut databases = vec![(
        "SQLite",
        format!("sqlite://{}", dir.join(format!("{name}.db")).display()),
        None,
    )];
    match std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
        Ok(admin) => {
            let db = format!("gatehouse_bench_{name}");
            let url = create_database(&admin, &db, None).await?;
            databases.push(("PostgreSQL", url, Some((admin, db))));
        }
        Err(_) => eprintln!("PostgreSQL skipped: set GATEHOUSE_TEST_POSTGRES_URL to measure it"),
    }
    let out = temp.path().join("export");
    for (backend, url, postgres) in databases {
        let built = build(&url, events, people).await?;
        let mut rows = Vec::new();
        for (role, label) in RUNS {
            rows.push((label, run_child(role, &url, &out)?));
        }
        println!();
        match built {
            Some(s) => println!("{backend}: {events} events by {people} people built in {s:.0} s"),
            None => println!("{backend}: {events} events (built by an earlier run)"),
        }
        println!();
        println!("| {backend}, {events} events | seconds | peak memory | output |");
        println!("|---|---:|---:|---:|");
        for (label, r) in rows {
            println!(
                "| {label} | {:.1} | {:.0} MiB | {:.0} MiB |",
                r.seconds,
                r.peak_kib as f64 / 1024.0,
                r.bytes as f64 / f64::from(1 << 20),
            );
        }
        if let Some((admin, db)) = postgres
            && !keep
        {
            drop_database(&admin, &db).await?;
        }
    }
    Ok(())
}

fn settings(url: &str) -> DatabaseSettings {
    DatabaseSettings {
        url: url.to_owned(),
        max_connections: 4,
    }
}

/// Chains the trail unless an earlier run did; the seconds it took.
async fn build(url: &str, events: usize, people: usize) -> Result<Option<f64>> {
    let store = Store::open(&settings(url)).await?;
    let key = AuditKey::load(&store).await?;
    let (head, _) = store.audit_head().await?;
    if head > 0 {
        store.close().await;
        let stored = usize::try_from(head)?;
        if stored >= events && stored <= events + people + 100 {
            return Ok(None);
        }
        return Err(format!("{url} holds another trail: remove it").into());
    }
    let started = Instant::now();
    let (_, doors) = site_with_doors(&store, DOORS).await?;
    let agent = NewAgent {
        name: "bench".into(),
        door_ids: doors.clone(),
        code_hash: b"code".to_vec(),
        code_expires_at: now() + Duration::minutes(15),
    };
    let agent = store.create_agent(agent, &Actor::cli()).await?.id;
    let mut ids = Vec::with_capacity(people);
    for n in 0..people {
        let person = NewPerson {
            name: format!("Person {n:05}"),
            kind: PersonKind::Staff,
            employer: Some(format!("Employer {}", n % 20)),
            clearance: 1,
        };
        ids.push(store.create_person(person, &Actor::cli()).await?.id);
    }
    let start: DateTime<Utc> = "2026-11-02T07:00:00Z".parse()?;
    let mut previous = GENESIS_HASH;
    let mut shown = Instant::now();
    let mut done = 0;
    while done < events {
        let mut batch = Vec::with_capacity(BATCH);
        for i in done..(done + BATCH).min(events) {
            let at = start + Duration::milliseconds(i64::try_from(i)? * 50);
            let event = presentation(doors[i % DOORS], ids[i % people], i, at);
            let payload = event.encode()?;
            let seq = u64::try_from(i)? + 1;
            let hash = chain_hash(&previous, seq, &payload);
            previous = hash;
            batch.push(UploadRecord {
                seq,
                payload,
                hash,
                event,
            });
        }
        store.ingest_events(agent, &batch, 0).await?;
        checkpoint_if_due(&store, &key, CheckpointSettings::default()).await?;
        done += batch.len();
        if shown.elapsed().as_secs() >= 30 {
            eprintln!("chained {done} of {events} events");
            shown = Instant::now();
        }
    }
    store.close().await;
    Ok(Some(started.elapsed().as_secs_f64()))
}

/// A presentation by `person` at `door`: nine in ten granted.
fn presentation(door: Uuid, person: Uuid, i: usize, at: DateTime<Utc>) -> DoorEvent {
    let granted = !i.is_multiple_of(10);
    DoorEvent {
        occurred_at: at,
        door_id: Some(door),
        kind: EventKind::Presentation(PresentationRecord {
            reader: "in".into(),
            card: format!("{:014X}", person.as_u128() & 0xFFFF_FFFF),
            direction: Direction::Entry,
            outcome: if granted {
                Outcome::Granted
            } else {
                Outcome::Denied
            },
            reason: if granted {
                Reason::Granted
            } else {
                Reason::NoGrant
            },
            person_id: Some(person),
            visit_id: None,
            credential_id: None,
            zone_id: None,
            alarms: vec![],
            policy_version: 1,
            trace: None,
        }),
    }
}

struct Report {
    seconds: f64,
    peak_kib: u64,
    bytes: u64,
}

fn run_child(role: &str, url: &str, out: &Path) -> Result<Report> {
    let output = Command::new(std::env::current_exe()?)
        .env("GATEHOUSE_BENCH_CHILD", role)
        .env("GATEHOUSE_BENCH_URL", url)
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
    let [seconds, peak_kib, bytes] = numbers[..] else {
        return Err(format!("the {role} child said {text:?}").into());
    };
    Ok(Report {
        seconds,
        peak_kib: peak_kib as u64,
        bytes: bytes as u64,
    })
}

/// The child: one measurement, then prints seconds, peak KiB and bytes written.
async fn child(role: &str) -> Result<()> {
    let url = std::env::var("GATEHOUSE_BENCH_URL")?;
    let out = PathBuf::from(std::env::var("GATEHOUSE_BENCH_OUT")?);
    let store = Store::connect(&settings(&url)).await?;
    let key = AuditKey::load(&store).await?;
    let started = Instant::now();
    let bytes = match role {
        "raw" => raw(&store).await?,
        _ => {
            let format = if role.starts_with("csv") {
                Format::Csv
            } else {
                Format::Ndjson
            };
            let request = ExportRequest {
                from: DateTime::UNIX_EPOCH,
                to: now() + Duration::days(1),
                filter: ExportFilter::default(),
                format,
            };
            let mut plan = export::plan(&store, &key, request).await?;
            if role.ends_with("plain") {
                plan = plan.without_display();
            }
            let mut file = std::io::BufWriter::new(std::fs::File::create(&out)?);
            let mut chunks = std::pin::pin!(export::stream(store.clone(), plan));
            let mut bytes = 0;
            while let Some(chunk) = chunks.next().await {
                let (chunk, _) = chunk?;
                bytes += chunk.len() as u64;
                file.write_all(&chunk)?;
            }
            file.flush()?;
            bytes
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    let status = std::fs::read_to_string("/proc/self/status")?;
    let peak_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or("no VmHWM in /proc/self/status")?;
    println!("{seconds} {peak_kib} {bytes}");
    Ok(())
}

/// Every chain entry and its event, a page at a time, each event's digest recomputed.
async fn raw(store: &Store) -> Result<u64> {
    let mut after = 0;
    let mut digests = 0u64;
    loop {
        let page = store.chain_page(after, PAGE).await?;
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            break;
        };
        for event in store.chained_events(first.seq, last.seq).await? {
            if let Ok(row) = &event.row {
                // Keep the digest from being optimised away.
                digests = digests.wrapping_add(u64::from(row.digest()[0]));
            }
        }
        after = last.seq;
    }
    // Not bytes: nothing is written. The sum is printed as 0 bytes' stand-in.
    std::hint::black_box(digests);
    Ok(0)
}
