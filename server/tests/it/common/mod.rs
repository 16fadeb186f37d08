//! Test support: the real server on port 0 over a fresh SQLite file, or a fresh
//! PostgreSQL database when `GATEHOUSE_TEST_POSTGRES_URL` is set.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use gatehouse_server::config::Settings;
use gatehouse_server::store::Store;
use gatehouse_server::{Listeners, launch};
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// Runs each behaviour as a test on both backends.
#[allow(unused_macros)]
macro_rules! conformance {
    ($($behaviour:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $behaviour() {
                let db = crate::common::TestDb::sqlite();
                super::$behaviour(&db).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $behaviour() {
                let Some(db) = crate::common::TestDb::postgres().await else { return };
                super::$behaviour(&db).await;
            })*
        }
    };
}

pub const ADMIN_PASSWORD: &str = "admin-password-1";
pub const PASSWORD: &str = "operator-password-1";

/// A database for one test: a SQLite file in a temp dir, or a new PostgreSQL database
/// (dropped with the `TestDb`, unless its test failed).
pub struct TestDb {
    pub url: String,
    _dir: Option<TempDir>,
    /// For PostgreSQL: the server's URL and the database's name, to drop it.
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/gatehouse.db", dir.path().display());
        TestDb {
            url,
            _dir: Some(dir),
            postgres: None,
        }
    }

    /// A fresh database on the server named by `GATEHOUSE_TEST_POSTGRES_URL`, or `None`
    /// (with a message) when it is not set. `GATEHOUSE_TEST_REQUIRE_POSTGRES=1` turns a
    /// missing URL into a failure, so CI cannot skip these silently.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var("GATEHOUSE_TEST_POSTGRES_URL") else {
            assert!(
                std::env::var("GATEHOUSE_TEST_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "GATEHOUSE_TEST_REQUIRE_POSTGRES=1 but GATEHOUSE_TEST_POSTGRES_URL is not set"
            );
            eprintln!("skipped: set GATEHOUSE_TEST_POSTGRES_URL to run the PostgreSQL tests");
            return None;
        };
        let name = format!("gatehouse_test_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::PgPool::connect(&admin_url).await.unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        Some(TestDb {
            url: with_database(&admin_url, &name),
            _dir: None,
            postgres: Some((admin_url, name)),
        })
    }

    pub fn settings(&self) -> Settings {
        let mut settings = Settings::default();
        settings.database.url.clone_from(&self.url);
        settings.database.max_connections = 5;
        settings.server.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        settings.metrics.listen = SocketAddr::from(([127, 0, 0, 1], 0));
        settings.bootstrap.admin_password = Some(SecretString::from(ADMIN_PASSWORD));
        settings
    }

    /// Runs SQL on a separate connection, as someone with database access would.
    pub async fn raw_execute(&self, sql: &str) -> Result<(), String> {
        let sql = sqlx::AssertSqlSafe(sql.to_owned());
        let result = if self.url.starts_with("postgres") {
            let pool = sqlx::PgPool::connect(&self.url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.map(drop)
        } else {
            let pool = sqlx::SqlitePool::connect(&self.url).await.unwrap();
            sqlx::query(sql).execute(&pool).await.map(drop)
        };
        result.map_err(|e| e.to_string())
    }

    /// Asserts that the database itself refuses to change or delete rows of `table`
    /// (which must have at least one row: row triggers fire only on rows)
    /// and, on PostgreSQL, to truncate it.
    pub async fn assert_append_only(&self, table: &str) {
        self.assert_append_only_column(table, "id").await;
    }

    /// [`TestDb::assert_append_only`] for a table whose rows are changed through `column`.
    pub async fn assert_append_only_column(&self, table: &str, column: &str) {
        let mut statements = vec![
            format!("UPDATE {table} SET {column} = {column}"),
            format!("DELETE FROM {table}"),
        ];
        if self.url.starts_with("postgres") {
            statements.push(format!("TRUNCATE {table}"));
        }
        for sql in statements {
            let error = self.raw_execute(&sql).await.expect_err(&sql);
            assert!(error.contains("append-only"), "{sql}: {error}");
        }
    }

    pub async fn store(&self) -> Store {
        Store::open(&self.settings().database).await.unwrap()
    }
}

impl Drop for TestDb {
    /// Drops the PostgreSQL database: a run of the suite makes about 150 of them, a
    /// gigabyte of disk that would otherwise stay. A failed test's database stays, to
    /// be looked into. Best effort: an error here fails no test.
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        if std::thread::panicking() {
            eprintln!("kept PostgreSQL database {name} of the failed test");
            return;
        }
        // Drop runs inside the test's runtime, which cannot wait on a future here: a
        // thread of its own with a runtime of its own does.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(async {
                let pool = sqlx::PgPool::connect(&admin_url).await?;
                let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&pool).await?;
                pool.close().await;
                Ok::<_, sqlx::Error>(())
            })?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
        })
        .join();
        if let Ok(Err(error)) = dropped {
            eprintln!("could not drop test database: {error}");
        }
    }
}

/// Replaces the database name in a PostgreSQL URL.
fn with_database(url: &str, name: &str) -> String {
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

/// A running server.
pub struct TestApp {
    pub base: String,
    pub metrics_base: String,
    pub client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<anyhow::Result<()>>>,
}

impl TestApp {
    /// A server on a fresh SQLite database.
    pub async fn start() -> (TestApp, TestDb) {
        let db = TestDb::sqlite();
        let app = TestApp::start_on(&db).await;
        (app, db)
    }

    pub async fn start_on(db: &TestDb) -> TestApp {
        TestApp::start_with(db.settings()).await
    }

    pub async fn start_with(settings: Settings) -> TestApp {
        let api = TcpListener::bind(settings.server.listen).await.unwrap();
        let metrics = TcpListener::bind(settings.metrics.listen).await.unwrap();
        let base = format!("http://{}", api.local_addr().unwrap());
        let metrics_base = format!("http://{}", metrics.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let listeners = Listeners {
            api,
            metrics: Some(metrics),
        };
        let task = tokio::spawn(launch(settings, listeners, async {
            let _ = stopped.await;
        }));
        let app = TestApp {
            base,
            metrics_base,
            client: reqwest::Client::new(),
            stop: Some(stop),
            task: Some(task),
        };
        app.wait_ready().await;
        app
    }

    async fn wait_ready(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        loop {
            // The listener is bound already: this waits until the server serves.
            let ready = self.client.get(self.url("/readyz")).send().await;
            if ready.is_ok_and(|r| r.status() == StatusCode::OK) {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "server not ready in 30 s"
            );
            tokio::task::yield_now().await;
        }
    }

    /// Stops the server and waits for it to finish.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.unwrap().unwrap();
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn request(&self, method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
        let request = self.client.request(method, self.url(path));
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// GET a public endpoint's JSON.
    pub async fn public_json(&self, path: &str) -> Value {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        response.json().await.unwrap()
    }

    /// GET with a token, as JSON.
    pub async fn get_json(&self, path: &str, token: &str) -> Value {
        self.get(path, token).await.json().await.unwrap()
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::POST, path, Some(token))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(token))
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    pub async fn try_login(&self, username: &str, password: &str) -> Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({"username": username, "password": password}))
            .send()
            .await
            .unwrap()
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let response = self.try_login(username, password).await;
        assert_eq!(response.status(), StatusCode::OK, "login of {username}");
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    pub async fn admin_token(&self) -> String {
        self.login("admin", ADMIN_PASSWORD).await
    }

    /// Creates an operator (password [`PASSWORD`]) and returns its id.
    pub async fn create_operator(&self, admin: &str, username: &str, role: &str) -> String {
        let response = self
            .post(
                "/api/v1/operators",
                admin,
                json!({"username": username, "password": PASSWORD, "role": role}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::CREATED, "create {username}");
        let body: Value = response.json().await.unwrap();
        body["id"].as_str().unwrap().to_owned()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The error body of a response, checked to have the API's shape.
pub async fn error_of(response: Response) -> Value {
    let body: Value = response.json().await.unwrap();
    let error = &body["error"];
    assert!(error["code"].is_string(), "error shape: {body}");
    assert!(error["message"].is_string(), "error shape: {body}");
    assert!(
        error["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "error shape: {body}"
    );
    error.clone()
}

/// Expects `status` and returns the body as JSON (`null` when empty).
pub async fn expect(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(actual, status, "{text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// Expects 201 Created and returns the new record's id.
pub async fn created(response: Response) -> String {
    let body = expect(response, StatusCode::CREATED).await;
    body["id"].as_str().unwrap().to_owned()
}

/// Expects a 422 in the API's shape naming `field`.
pub async fn invalid(response: Response, field: &str) {
    assert_eq!(
        response.status(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "{field}"
    );
    let error = error_of(response).await;
    assert!(
        error["fields"][field].is_string(),
        "should name {field}: {error}"
    );
}
