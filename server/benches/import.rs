//! A large HR import through the API, and logins during it: how many rows per second
//! `POST /api/v1/import/people` imports (from the POST until its job has succeeded),
//! and the login latency while it runs next to the same server's login latency idle,
//! measured in the same run. On SQLite and (when `GATEHOUSE_TEST_POSTGRES_URL` is set)
//! on PostgreSQL.
//!
//! `cargo bench -p gatehouse-server --bench import`
//!
//! Against the real server: the `gatehouse` binary of this build, started as
//! `gatehouse serve` with its default settings on a fresh database, on the same machine.
//! The file has `GATEHOUSE_BENCH_IMPORT_ROWS` rows (default 1,000,000): one new person
//! with one card each (`external_id,name,kind,clearance,card`, about 40 bytes a row),
//! built before the clock starts. The baseline is `GATEHOUSE_BENCH_LOGINS` (default 40)
//! logins one after the other on the idle server; during the import an operator logs in
//! four times a second until the job has ended, and an enrolled door agent uploads a
//! batch of 10 presentation events four times a second (as `door-agent` does; a batch
//! answered 503 is sent again). Every login and upload must be answered 200 or 503
//! (busy, with `Retry-After`); the table counts the 503s, and the run fails on any other
//! answer or if the job does not succeed.

use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

mod support;
use support::agents::{Api, enrol, journal, upload};
use support::{ADMIN_PASSWORD, Result, Server, env_number, fresh_postgres, percentile, text};

/// Events in each upload during the import, and uploads built in advance (more than an
/// import of the default size takes at four a second).
const UPLOAD_EVENTS: usize = 10;
const UPLOADS: usize = 4_000;

const HEADER: &str = "external_id,name,kind,clearance,card";

#[tokio::main]
async fn main() -> Result<()> {
    let rows = env_number("GATEHOUSE_BENCH_IMPORT_ROWS", 1_000_000)?;
    let idle_logins = env_number("GATEHOUSE_BENCH_LOGINS", 40)?;
    if rows == 0 || idle_logins == 0 {
        return Err("rows and logins must be at least 1".into());
    }
    let mut backends = vec![("SQLite", None)];
    match std::env::var("GATEHOUSE_TEST_POSTGRES_URL") {
        Ok(url) => backends.push(("PostgreSQL", Some(url))),
        Err(_) => {
            eprintln!("PostgreSQL skipped: set GATEHOUSE_TEST_POSTGRES_URL to measure it too")
        }
    }
    let file = hr_file(rows);
    eprintln!("file: {rows} rows, {} bytes", file.len());
    let mut table = Vec::new();
    for (name, postgres) in backends {
        let dir = tempfile::tempdir()?;
        let (url, dropper) = match &postgres {
            None => (
                format!("sqlite://{}/gatehouse.db", dir.path().display()),
                None,
            ),
            Some(admin_url) => {
                let (url, dropper) = fresh_postgres(admin_url).await?;
                (url, Some(dropper))
            }
        };
        let result = measure(dir.path(), &url, &file, rows, idle_logins).await;
        if let Some(dropper) = dropper {
            dropper.drop_database().await?;
        }
        let row = result?;
        eprintln!("{name}: {row:?}");
        let (login, upload) = row.slowest_at;
        eprintln!(
            "{name}: the slowest login was sent {login:.1} s after the POST, the slowest \
             upload {upload:.1} s (checked at {:.1} s, done at {:.1} s)",
            row.checked_after, row.seconds
        );
        table.push((name, row));
    }
    println!(
        "| backend | rows | import (s) | rows/s | checked (s) | login idle p50 / p99 (ms) \
         | login during import p50 / p99 / max (ms) | logins during | of them 503 \
         | upload during import p50 / p99 / max (ms) | uploads during | of them 503 |"
    );
    println!(
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
    );
    for (name, r) in table {
        println!(
            "| {name} | {rows} | {:.1} | {:.0} | {:.1} | {:.0} / {:.0} | {:.0} / {:.0} / {:.0} | {} | {} \
             | {:.0} / {:.0} / {:.0} | {} | {} |",
            r.seconds,
            rows as f64 / r.seconds,
            r.checked_after,
            r.idle.0,
            r.idle.1,
            r.during.0,
            r.during.1,
            r.during.2,
            r.logins_during,
            r.busy,
            r.uploads.0,
            r.uploads.1,
            r.uploads.2,
            r.uploads_during,
            r.uploads_busy,
        );
    }
    Ok(())
}

/// `rows` new people with a card each.
fn hr_file(rows: usize) -> String {
    let mut file = String::with_capacity(rows * 42 + HEADER.len());
    file.push_str(HEADER);
    for i in 0..rows {
        file.push_str(&format!(
            "\nE{i:08},Person {i},staff,1,{:014X}",
            0x0004_0000_0000_0000_u64 + i as u64
        ));
    }
    file.push('\n');
    file
}

#[derive(Debug)]
struct Measured {
    /// From the POST until the job has succeeded.
    seconds: f64,
    /// When the job was first seen applying (checking done), from the POST.
    checked_after: f64,
    /// Login (p50, p99) on the idle server, ms.
    idle: (f64, f64),
    /// Login (p50, p99, max) during the import, ms.
    during: (f64, f64, f64),
    logins_during: usize,
    busy: usize,
    /// Upload round trip (p50, p99, max) during the import, ms.
    uploads: (f64, f64, f64),
    uploads_during: usize,
    uploads_busy: usize,
    /// When the slowest login and upload were sent, in seconds from the POST (printed
    /// with the row, to tell a stall's cause: checking, writing or the publish).
    slowest_at: (f64, f64),
}

fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

async fn measure(
    dir: &Path,
    url: &str,
    file: &str,
    rows: usize,
    idle_logins: usize,
) -> Result<Measured> {
    let server = Server::start(dir, url)?;
    server.wait_ready().await?;
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()?;
    let base = format!("{}/api/v1", server.base_url);
    let admin = text(&login(&client, &base).await?.1["access_token"])?;
    let api = Api {
        client: client.clone(),
        base: base.clone(),
    };
    let agent = enrol(&api, &admin, 1)
        .await?
        .pop()
        .ok_or("no agent enrolled")?;
    let batches = journal(agent.door, UPLOAD_EVENTS * UPLOADS, UPLOAD_EVENTS)?;

    let mut idle = Vec::new();
    for _ in 0..idle_logins {
        let started = Instant::now();
        let (status, _) = login(&client, &base).await?;
        if status != 200 {
            return Err(format!("idle login answered {status}").into());
        }
        idle.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    let idle = sorted(idle);

    let stop = Arc::new(AtomicBool::new(false));
    let logins = tokio::spawn({
        let (client, base, stop) = (client.clone(), base.clone(), Arc::clone(&stop));
        async move {
            let mut answers: Vec<(u16, f64, Instant)> = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let (status, _) = login(&client, &base).await?;
                answers.push((status, started.elapsed().as_secs_f64() * 1000.0, started));
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Result::<_>::Ok(answers)
        }
    });

    let uploads = tokio::spawn({
        let stop = Arc::clone(&stop);
        async move {
            let mut answers: Vec<(u16, f64, Instant)> = Vec::new();
            let mut next = batches.iter();
            let mut batch = next.next();
            while let Some(b) = batch
                && !stop.load(Ordering::Relaxed)
            {
                let sent = Instant::now();
                let (status, ms) = upload(&api, &agent, b).await?;
                answers.push((status, ms, sent));
                if status == 200 {
                    batch = next.next();
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Result::<_>::Ok(answers)
        }
    });

    let started = Instant::now();
    let response = client
        .post(format!("{base}/import/people"))
        .bearer_auth(&admin)
        .header("content-type", "text/csv")
        .body(file.to_owned())
        .send()
        .await?;
    if response.status() != 202 {
        return Err(format!(
            "POST answered {}: {}",
            response.status(),
            response.text().await?
        )
        .into());
    }
    let job: Value = response.json().await?;
    let path = format!("{}{}", server.base_url, text(&job["links"]["self"])?);
    let mut checked_after = None;
    let job = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let job: Value = client
            .get(&path)
            .bearer_auth(&admin)
            .send()
            .await?
            .json()
            .await?;
        match job["state"].as_str() {
            Some("applying") if checked_after.is_none() => {
                checked_after = Some(started.elapsed().as_secs_f64());
            }
            Some("succeeded" | "failed") => break job,
            _ => {}
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let answers = logins.await??;
    let uploaded = uploads.await??;
    if let Some((status, _, _)) = uploaded.iter().find(|(s, _, _)| *s != 200 && *s != 503) {
        return Err(format!("an upload during the import answered {status}").into());
    }
    let upload_ms = sorted(uploaded.iter().map(|(_, ms, _)| *ms).collect());
    let slowest = |answers: &[(u16, f64, Instant)]| {
        answers
            .iter()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map_or(0.0, |(_, _, sent)| {
                sent.saturating_duration_since(started).as_secs_f64()
            })
    };
    if job["state"] != "succeeded" || job["summary"]["people_created"] != json!(rows) {
        return Err(format!("the import did not succeed: {job}").into());
    }
    if let Some((status, _, _)) = answers.iter().find(|(s, _, _)| *s != 200 && *s != 503) {
        return Err(format!("a login during the import answered {status}").into());
    }
    let during = sorted(answers.iter().map(|(_, ms, _)| *ms).collect());
    server.stop()?;
    Ok(Measured {
        seconds,
        checked_after: checked_after.unwrap_or(seconds),
        idle: (percentile(&idle, 0.5), percentile(&idle, 0.99)),
        during: (
            percentile(&during, 0.5),
            percentile(&during, 0.99),
            percentile(&during, 1.0),
        ),
        logins_during: answers.len(),
        busy: answers.iter().filter(|(s, _, _)| *s == 503).count(),
        uploads: (
            percentile(&upload_ms, 0.5),
            percentile(&upload_ms, 0.99),
            percentile(&upload_ms, 1.0),
        ),
        uploads_during: uploaded.len(),
        uploads_busy: uploaded.iter().filter(|(s, _, _)| *s == 503).count(),
        slowest_at: (slowest(&answers), slowest(&uploaded)),
    })
}

/// One login as `admin`: the status and the answer.
async fn login(client: &reqwest::Client, base: &str) -> Result<(u16, Value)> {
    let body = json!({"username": "admin", "password": ADMIN_PASSWORD});
    let response = client
        .post(format!("{base}/auth/login"))
        .json(&body)
        .send()
        .await?;
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(Value::Null)))
}
