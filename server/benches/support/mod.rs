//! What the server's benches share: sizes from the environment, a fresh database (a
//! SQLite file, or a new PostgreSQL database dropped afterwards), `gatehouse serve` of
//! this build, reading JSON answers, percentiles, `access_events` rows written in bulk
//! (`access_events`), and enrolled door agents uploading (`agents`). Each bench uses a part of it.
#![allow(dead_code)]

/// The allocator of the `gatehouse` binary (server/src/main.rs), so that what a bench
/// runs in its own process costs what it costs in the server.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod access_events;
pub mod agents;
pub mod event_search_data;
pub mod site;

use gatehouse_e2e::free_port;
use serde_json::Value;
use std::error::Error;
use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

pub const ADMIN_PASSWORD: &str = "bench-admin-password-1";

/// The whole number in environment variable `name` (`_` may separate digits, as in
/// `1_000_000`), or `default` when it is not set.
pub fn env_number(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(text) => Ok(text.trim().replace('_', "").parse()?),
        Err(_) => Ok(default),
    }
}

/// The comma-separated whole numbers in environment variable `name`, or `default` when
/// it is not set.
pub fn env_list(name: &str, default: &[usize]) -> Result<Vec<usize>> {
    match std::env::var(name) {
        Ok(text) => Ok(text
            .split(',')
            .map(|n| n.trim().parse())
            .collect::<Result<_, _>>()?),
        Err(_) => Ok(default.to_vec()),
    }
}

/// The value at `p` (0 to 1) of sorted `values`.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(i).copied().unwrap_or(0.0)
}

/// `value` as a string, or an error naming what it was.
pub fn text(value: &Value) -> Result<String> {
    Ok(value
        .as_str()
        .ok_or_else(|| format!("expected a string, got {value}"))?
        .to_owned())
}

/// `gatehouse serve` of this build, killed when dropped.
pub struct Server {
    pub child: Child,
    pub base_url: String,
    pub log: std::path::PathBuf,
}

impl Server {
    pub fn start(dir: &Path, database_url: &str) -> Result<Server> {
        let (port, metrics_port) = (free_port(), free_port());
        let log = dir.join("server.log");
        let file = File::create(&log)?;
        let mut command = Command::new(env!("CARGO_BIN_EXE_gatehouse"));
        for (name, _) in std::env::vars_os() {
            let name_text = name.to_string_lossy();
            if name_text.starts_with("GATEHOUSE__") || name_text == "RUST_LOG" {
                command.env_remove(&name);
            }
        }
        command
            .current_dir(dir)
            .arg("--database-url")
            .arg(database_url)
            .arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .arg("--metrics-listen")
            .arg(format!("127.0.0.1:{metrics_port}"))
            .env("GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD)
            .stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file);
        Ok(Server {
            child: command.spawn()?,
            base_url: format!("http://127.0.0.1:{port}"),
            log,
        })
    }

    pub async fn wait_ready(&self) -> Result<()> {
        let client = reqwest::Client::new();
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let ready = client.get(format!("{}/readyz", self.base_url)).send().await;
            if ready.is_ok_and(|r| r.status().is_success()) {
                return Ok(());
            }
            if Instant::now() > deadline {
                let log = std::fs::read_to_string(&self.log).unwrap_or_default();
                return Err(format!("the server was not ready in 60 s; its log:\n{log}").into());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGTERM, then waits for it to exit.
    pub fn stop(mut self) -> Result<()> {
        Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()?;
        self.child.wait()?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Replaces the database name in a PostgreSQL URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host_part = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    format!("{host_part}/{name}{query}")
}

/// Database `name` on the PostgreSQL server of `admin_url`, made (in `tablespace`, when
/// given) unless it exists: its URL.
pub async fn create_database(
    admin_url: &str,
    name: &str,
    tablespace: Option<&str>,
) -> Result<String> {
    let admin = sqlx::PgPool::connect(admin_url).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&admin)
            .await?;
    if !exists {
        let tablespace = tablespace.map_or_else(String::new, |t| format!(" TABLESPACE {t}"));
        let sql = format!("CREATE DATABASE {name}{tablespace}");
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&admin)
            .await?;
    }
    admin.close().await;
    Ok(with_database(admin_url, name))
}

/// Drops database `name` on the PostgreSQL server of `admin_url`, if it exists, ending
/// the connections still open to it.
pub async fn drop_database(admin_url: &str, name: &str) -> Result<()> {
    let admin = sqlx::PgPool::connect(admin_url).await?;
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .execute(&admin)
        .await?;
    admin.close().await;
    Ok(())
}

/// Drops the bench's PostgreSQL database afterwards.
pub struct PostgresDropper {
    admin_url: String,
    name: String,
}

impl PostgresDropper {
    pub async fn drop_database(self) -> Result<()> {
        drop_database(&self.admin_url, &self.name).await
    }
}

/// A new database on the PostgreSQL server of `admin_url`: its URL and what drops it.
pub async fn fresh_postgres(admin_url: &str) -> Result<(String, PostgresDropper)> {
    let name = format!("gatehouse_bench_{}", Uuid::new_v4().simple());
    let url = create_database(admin_url, &name, None).await?;
    Ok((
        url,
        PostgresDropper {
            admin_url: admin_url.to_owned(),
            name,
        },
    ))
}
