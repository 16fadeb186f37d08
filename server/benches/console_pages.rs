//! What the security desk's pages cost to render at a large site: the door board with
//! 500 doors and the alarm list with 100,000 alarms, next to the API's JSON answers for
//! the same data measured in the same run (the baseline: the database read and
//! serialisation without HTML).
//!
//! `cargo bench -p gatehouse-server --bench console_pages` (doors from
//! `GATEHOUSE_BENCH_DOORS`, default 500; alarms from `GATEHOUSE_BENCH_ALARMS`, default
//! 100,000; requests per row from `GATEHOUSE_BENCH_REQUESTS`, default 50).
//!
//! The site model is made through the store; the alarms are written straight into
//! `agent_alarms` (an alarm list reads that table; the audit chain is not what is
//! measured). Then the release `gatehouse serve` runs on that SQLite file and one
//! console session and one API token ask each page in turn.

use gatehouse_server::store::DatabaseSettings;
use gatehouse_server::store::{Actor, NewAgent, Store};
use std::time::Instant;
use uuid::Uuid;

mod support;
use support::site::site_with_doors;
use support::{ADMIN_PASSWORD, Result, Server, env_number, percentile, text};

const ALARM_BATCH: usize = 500;

#[tokio::main]
async fn main() -> Result<()> {
    let doors = env_number("GATEHOUSE_BENCH_DOORS", 500)?;
    let alarms = env_number("GATEHOUSE_BENCH_ALARMS", 100_000)?;
    let requests = env_number("GATEHOUSE_BENCH_REQUESTS", 50)?;
    let dir = tempfile::tempdir()?;
    let url = format!("sqlite://{}/gatehouse.db", dir.path().display());
    seed(&url, doors, alarms).await?;

    let server = Server::start(dir.path(), &url)?;
    server.wait_ready().await?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let login = client
        .post(format!("{}/login", server.base_url))
        .header("sec-fetch-site", "same-origin")
        .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
        .send()
        .await?;
    let cookie = login
        .headers()
        .get("set-cookie")
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .ok_or("no console cookie")?
        .to_owned();
    let token = client
        .post(format!("{}/api/v1/auth/login", server.base_url))
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await?
        .json::<serde_json::Value>()
        .await?;
    let token = text(&token["access_token"])?;

    println!(
        "console pages: {doors} doors, {alarms} alarms, {requests} requests each (SQLite, release)"
    );
    println!();
    println!("| page | what | p50 ms | p99 ms | body KiB |");
    println!("| --- | --- | ---: | ---: | ---: |");
    let pages = [
        ("/desk", "door board (HTML)", false),
        (
            "/api/v1/doors?limit=500",
            "baseline: the doors as JSON",
            true,
        ),
        ("/alarms", "open alarms (HTML, first 200)", false),
        ("/alarms?state=all", "all alarms (HTML, first 200)", false),
        (
            "/api/v1/alarms?limit=200",
            "baseline: 200 alarms as JSON",
            true,
        ),
    ];
    for (path, what, api) in pages {
        let mut times = Vec::with_capacity(requests);
        let mut bytes = 0;
        for _ in 0..requests {
            let request = client.get(format!("{}{path}", server.base_url));
            let request = if api {
                request.bearer_auth(&token)
            } else {
                request.header("cookie", &cookie)
            };
            let started = Instant::now();
            let response = request.send().await?;
            let status = response.status();
            let body = response.bytes().await?;
            times.push(started.elapsed().as_secs_f64() * 1000.0);
            if !status.is_success() {
                return Err(format!("{path} answered {status}").into());
            }
            bytes = body.len();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| `{path}` | {what} | {:.1} | {:.1} | {:.0} |",
            percentile(&times, 0.50),
            percentile(&times, 0.99),
            bytes as f64 / 1024.0
        );
    }
    server.stop()?;
    Ok(())
}

/// One site, two zones, `doors` doors between them, one agent, `alarms` open alarms.
async fn seed(url: &str, doors: usize, alarms: usize) -> Result<()> {
    let store = Store::open(&DatabaseSettings {
        url: url.to_owned(),
        max_connections: 5,
    })
    .await?;
    let actor = Actor::cli();
    let (_, door_ids) = site_with_doors(&store, doors).await?;
    let agent = store
        .create_agent(
            NewAgent {
                name: "bench agent".into(),
                door_ids: door_ids.iter().take(1).copied().collect(),
                code_hash: vec![0; 32],
                code_expires_at: chrono::Utc::now(),
            },
            &actor,
        )
        .await?;
    store.close().await;

    let pool = sqlx::SqlitePool::connect(url).await?;
    let at = chrono::Utc::now();
    for first in (0..alarms).step_by(ALARM_BATCH) {
        let count = ALARM_BATCH.min(alarms - first);
        let mut sql =
            String::from("INSERT INTO agent_alarms (id, agent_id, at, kind, detail) VALUES ");
        for n in 0..count {
            if n > 0 {
                sql.push_str(", ");
            }
            sql.push_str("(?, ?, ?, 'agent_offline', 'not heard from')");
        }
        // Only placeholders are spliced in; every value is bound.
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for _ in 0..count {
            query = query.bind(Uuid::now_v7()).bind(agent.id).bind(at);
        }
        query.execute(&pool).await?;
    }
    pool.close().await;
    Ok(())
}
