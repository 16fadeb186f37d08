//! The import through the API, as a job: `202` with the job, followed to its end on any
//! replica; a busy database answers 503 with `Retry-After`, never 500; and a large
//! import runs while logins and agent uploads go on.

use super::support::{Journal, agent, door, presentation, upload_at};
use super::{HEADER, csv, first_file};
use crate::common::{TestApp, TestDb, error_of, expect};
use gatehouse_core::decide::Outcome;
use reqwest::{Method, Response, StatusCode, header};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

async fn post_csv(app: &TestApp, token: &str, content_type: &str, body: String) -> Response {
    app.request(Method::POST, "/api/v1/import/people", Some(token))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Starts a job: the `202` answer, whose `Location` is the job's own link.
pub(crate) async fn start(app: &TestApp, token: &str, body: String) -> Value {
    let response = post_csv(app, token, "text/csv; charset=utf-8", body).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    let location = response.headers()[header::LOCATION]
        .to_str()
        .unwrap()
        .to_owned();
    let job: Value = response.json().await.unwrap();
    assert_eq!(job["links"]["self"], location.as_str());
    assert!(
        ["queued", "checking", "applying", "succeeded", "failed"]
            .contains(&job["state"].as_str().unwrap()),
        "{job}"
    );
    job
}

/// Follows a job on `app` until it has ended.
pub(crate) async fn follow(app: &TestApp, token: &str, job: &Value) -> Value {
    let path = job["links"]["self"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let job = app.get_json(&path, token).await;
        if matches!(job["state"].as_str(), Some("succeeded" | "failed")) {
            return job;
        }
        assert!(Instant::now() < deadline, "the job did not end: {job}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn job_lifecycle_and_line_errors(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;

    let bad = csv(&[
        "E1,Ada,staff,,3,,,,,,,,",
        "E2,Bob,staff,,x,,,,,0g,,,",
        "E3,,staff,,1,,,,,,,,",
    ]);
    let failed = follow(&app, &admin, &start(&app, &admin, bad).await).await;
    assert_eq!(failed["state"], "failed", "{failed}");
    assert_eq!(failed["error_count"], 3);
    let lines: Vec<_> = failed["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(lines, [(3, "card"), (3, "clearance"), (4, "name")]);
    assert_eq!(failed["summary"], Value::Null);
    assert_eq!(failed["rows_checked"], 3);
    assert!(failed["finished_at"].is_string());
    assert_eq!(
        app.get_json("/api/v1/people", &admin).await["items"],
        json!([]),
        "nothing imported"
    );

    let file = first_file();
    let started = start(&app, &admin, file.clone()).await;
    assert_eq!(started["bytes"], file.len());
    let done = follow(&app, &admin, &started).await;
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(
        (done["bytes_checked"].clone(), done["rows_checked"].clone()),
        (json!(file.len()), json!(3))
    );
    assert_eq!(
        (done["people"].clone(), done["people_applied"].clone()),
        (json!(2), json!(2))
    );
    assert_eq!(done["summary"]["people_created"], 2);
    assert_eq!(done["summary"]["credentials_created"], 3);
    assert_eq!(
        (done["error_count"].clone(), done["errors"].clone()),
        (json!(0), json!([]))
    );
    let people = app.get_json("/api/v1/people", &admin).await;
    assert_eq!(people["items"].as_array().unwrap().len(), 2);

    // Another replica on the same database answers for the job.
    let replica = TestApp::start_on(db).await;
    let path = done["links"]["self"].as_str().unwrap();
    let there = replica.get_json(path, &admin).await;
    assert_eq!(
        (there["state"].clone(), there["summary"].clone()),
        (done["state"].clone(), done["summary"].clone())
    );
    let unknown = format!("/api/v1/import/jobs/{}", uuid::Uuid::now_v7());
    assert_eq!(
        replica.get(&unknown, &admin).await.status(),
        StatusCode::NOT_FOUND
    );
}

/// A write while another connection holds the write lock (SQLite) or the policy row
/// (PostgreSQL) longer than the store waits: 503 with `Retry-After`, then it succeeds.
async fn a_busy_database_answers_503_with_retry_after(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let person = json!({"name": "Ada", "kind": "staff", "clearance": 1});
    let sql = sqlx::AssertSqlSafe("UPDATE policy_state SET version = version WHERE id = 1");
    let busy = if db.url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(&db.url).await.unwrap();
        let mut tx = pool.begin().await.unwrap();
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
        let busy = app.post("/api/v1/people", &admin, person.clone()).await;
        tx.rollback().await.unwrap();
        busy
    } else {
        let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
        let mut tx = pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        sqlx::query(sql).execute(&mut *tx).await.unwrap();
        let busy = app.post("/api/v1/people", &admin, person.clone()).await;
        tx.rollback().await.unwrap();
        busy
    };
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers()[header::RETRY_AFTER], "1");
    assert_eq!(error_of(busy).await["code"], "busy");
    let created = app.post("/api/v1/people", &admin, person).await;
    assert_eq!(created.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn the_api_refuses_a_body_that_is_not_csv() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let json_body = app.post("/api/v1/import/people", &admin, json!({})).await;
    assert_eq!(json_body.status(), StatusCode::BAD_REQUEST);

    // What is plainly not an HR file is refused at once, before any job: no header, a
    // header of other columns (JSON sent as text/csv), a file that is not UTF-8.
    let latin1 = b"external_id,name,kind,clearance\nE1,Zo\xEB,staff,1\n".to_vec();
    let cases: [(&str, Vec<u8>, &str, &str); 3] = [
        (
            "empty",
            Vec::new(),
            "line 1: row",
            "the header row is missing",
        ),
        (
            "JSON",
            b"{}".to_vec(),
            "line 1: external_id",
            "a required column is missing",
        ),
        ("Latin-1", latin1, "line 2: file", "not UTF-8"),
    ];
    for (name, body, field, says) in cases {
        let response = app
            .request(Method::POST, "/api/v1/import/people", Some(&admin))
            .header("content-type", "text/csv")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{name}"
        );
        let body: Value = response.json().await.unwrap();
        let message = body["error"]["fields"][field].as_str().unwrap_or_default();
        assert!(message.contains(says), "{name}: {body}");
    }
}

/// Latencies in milliseconds: (p50, p99, max).
fn percentiles(mut ms: Vec<f64>) -> (f64, f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99), at(1.0))
}

/// A large import (`GATEHOUSE_TEST_IMPORT_ROWS`, default 20,000 people with a card each)
/// while an operator logs in and a door agent uploads, one request after another, until
/// the job has ended: every request is answered, none with a 500 (a busy database is a
/// 503 with `Retry-After`), and the import is whole. Latencies are printed, not
/// asserted.
async fn a_large_import_runs_while_logins_and_uploads_are_answered(db: &TestDb) {
    let rows: usize =
        std::env::var("GATEHOUSE_TEST_IMPORT_ROWS").map_or(20_000, |n| n.parse().unwrap());
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let (_, door_id) = door(&app, &admin, "HQ").await;
    let (_, agent_token) = agent(&app, &admin, &[door_id]).await;
    let mut file = String::with_capacity(rows * 48);
    file.push_str(HEADER);
    for i in 0..rows {
        file.push_str(&format!(
            "\nE{i:07},Person {i},staff,,1,,,,,{:014X},,,",
            0x0004_0000_0000_0000_u64 + i as u64
        ));
    }

    let started = Instant::now();
    let job = start(&app, &admin, file).await;
    let path = job["links"]["self"].as_str().unwrap().to_owned();
    let (mut logins, mut uploads, mut journal) = (Vec::new(), Vec::new(), Journal::new());
    let mut pending = None;
    let mut statuses = std::collections::BTreeMap::<(&str, u16), usize>::new();
    let done = loop {
        let at = Instant::now();
        let login = app.try_login("admin", crate::common::ADMIN_PASSWORD).await;
        logins.push(at.elapsed().as_secs_f64() * 1000.0);
        let status = login.status();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(login.headers().contains_key(header::RETRY_AFTER));
        } else {
            assert_eq!(status, StatusCode::OK, "{}", login.text().await.unwrap());
        }
        *statuses.entry(("login", status.as_u16())).or_default() += 1;

        // A record refused as busy is sent again: the journal has moved on past it.
        let record = pending.take().unwrap_or_else(|| {
            journal.append(&presentation(door_id, "0A0B", Outcome::Denied, None))
        });
        let at = Instant::now();
        let upload = upload_at(
            &app,
            &agent_token,
            std::slice::from_ref(&record),
            chrono::Utc::now(),
        )
        .await;
        uploads.push(at.elapsed().as_secs_f64() * 1000.0);
        let status = upload.status();
        *statuses.entry(("upload", status.as_u16())).or_default() += 1;
        if status == StatusCode::SERVICE_UNAVAILABLE {
            assert!(upload.headers().contains_key(header::RETRY_AFTER));
            pending = Some(record);
        } else {
            let answer = expect(upload, StatusCode::OK).await;
            assert_eq!(answer["stored"], 1, "{answer}");
        }

        let job = app.get_json(&path, &admin).await;
        if matches!(job["state"].as_str(), Some("succeeded" | "failed")) {
            break job;
        }
    };
    let done = follow(&app, &admin, &done).await;
    let took = started.elapsed().as_secs_f64();
    assert_eq!(done["state"], "succeeded", "{done}");
    assert_eq!(done["summary"]["people_created"], rows);
    assert_eq!(done["summary"]["credentials_created"], rows);
    let (p50, p99, max) = percentiles(logins.clone());
    let (u50, u99, umax) = percentiles(uploads.clone());
    eprintln!(
        "{}: import of {rows} rows: {took:.1} s ({:.0} rows/s); during it {} logins \
         p50 {p50:.0} ms p99 {p99:.0} ms max {max:.0} ms, {} uploads p50 {u50:.0} ms \
         p99 {u99:.0} ms max {umax:.0} ms; answers {statuses:?}",
        if db.url.starts_with("postgres") {
            "PostgreSQL"
        } else {
            "SQLite"
        },
        rows as f64 / took,
        logins.len(),
        uploads.len()
    );
}

/// A job left running by a server that stopped is marked failed: all running jobs at
/// the next start (SQLite, one server), or those whose row fell silent (PostgreSQL,
/// where the replica running a job writes its row every few seconds).
async fn an_interrupted_job_is_marked_failed(db: &TestDb) {
    use gatehouse_server::store::JobState;
    let store = db.store().await;
    let actor = gatehouse_server::store::Actor::cli();
    let running = store.create_import_job(10, &actor).await.unwrap();
    let written = store.import_job(running.id).await.unwrap().updated_at;

    // Written since: still running.
    let before = written - chrono::Duration::seconds(1);
    assert_eq!(
        store
            .fail_interrupted_import_jobs(Some(before))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        store.import_job(running.id).await.unwrap().state,
        JobState::Queued
    );
    // Silent since: failed.
    let after = written + chrono::Duration::seconds(1);
    assert_eq!(
        store
            .fail_interrupted_import_jobs(Some(after))
            .await
            .unwrap(),
        1
    );
    let job = store.import_job(running.id).await.unwrap();
    assert_eq!(job.state, JobState::Failed);
    assert!(job.failure.unwrap().contains("nothing was imported"));
    assert!(job.finished_at.is_some());

    let other = store.create_import_job(10, &actor).await.unwrap();
    assert_eq!(store.fail_interrupted_import_jobs(None).await.unwrap(), 1);
    assert_eq!(
        store.import_job(other.id).await.unwrap().state,
        JobState::Failed
    );
    assert_eq!(store.fail_interrupted_import_jobs(None).await.unwrap(), 0);
}

conformance!(
    job_lifecycle_and_line_errors,
    an_interrupted_job_is_marked_failed,
    a_busy_database_answers_503_with_retry_after,
    a_large_import_runs_while_logins_and_uploads_are_answered,
);
