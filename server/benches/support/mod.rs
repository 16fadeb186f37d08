//! What the benches that run the real `gatehouse` binary share: starting it on a fresh
//! database (a SQLite file, or a new PostgreSQL database dropped afterwards), sizes
//! from the environment, and reading JSON answers.
#![allow(dead_code)]

use serde_json::Value;
use std::error::Error;
use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use uuid::Uuid;

pub type Result<T, E = Box<dyn Error + Send + Sync>> = std::result::Result<T, E>;

pub const ADMIN_PASSWORD: &str = "bench-admin-password-1";

/// The whole number in environment variable `name`, or `default` when it is not set.
pub fn env_number(name: &str, default: usize) -> Result<usize> {
    match std::env::var(name) {
        Ok(text) => Ok(text.trim().parse()?),
        Err(_) => Ok(default),
    }
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

pub fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl Server {
    pub fn start(dir: &Path, database_url: &str) -> Result<Server> {
        let (port, metrics_port) = (free_port()?, free_port()?);
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

/// Drops the bench's PostgreSQL database afterwards.
pub struct PostgresDropper {
    admin_url: String,
    name: String,
}

impl PostgresDropper {
    pub async fn drop_database(self) -> Result<()> {
        let pool = sqlx::PgPool::connect(&self.admin_url).await?;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
        pool.close().await;
        Ok(())
    }
}

/// A new database on the PostgreSQL server of `admin_url`: its URL and what drops it.
pub async fn fresh_postgres(admin_url: &str) -> Result<(String, PostgresDropper)> {
    let name = format!("gatehouse_bench_{}", Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(admin_url).await?;
    let sql = format!("CREATE DATABASE {name}");
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
    pool.close().await;
    let (base, query) = match admin_url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (admin_url, String::new()),
    };
    let scheme_end = base.find("://").map_or(0, |i| i + 3);
    let host = match base[scheme_end..].find('/') {
        Some(i) => &base[..scheme_end + i],
        None => base,
    };
    Ok((
        format!("{host}/{name}{query}"),
        PostgresDropper {
            admin_url: admin_url.to_owned(),
            name,
        },
    ))
}
