//! Times PostgreSQL holds and chrono cannot (`infinity`, `-infinity`): a row altered
//! behind the server's back to hold one, in any table the API reads, makes the request
//! reading it answer with an error, never a dropped connection (sqlx's own decoder
//! panics on the overflow), and the server goes on answering; the background alarm
//! raiser's scan returns an error. SQLite stores times as text its decoder parses, so
//! this is PostgreSQL's alone.

use crate::common::{TestApp, TestDb, created};
use crate::import::api::{follow, start};
use crate::occupancy::support::Site;
use gatehouse_core::decide::{Direction, Outcome};
use gatehouse_core::event::{DoorEvent, EventKind};
use gatehouse_server::store::now;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

/// Corrupts `table.column` in every row, reads each of `paths`, then puts a valid time
/// back (`now()`) so later cases read their own corruption only.
async fn case(app: &TestApp, db: &TestDb, token: &str, table: &str, column: &str, paths: &[&str]) {
    corrupt(app, db, token, (table, column), paths, ALL, "now()").await;
}

/// Values chrono cannot hold: the infinities and a year past its range (PostgreSQL's
/// limit is 294276).
const ALL: &[&str] = &["infinity", "-infinity", "290000-06-01"];

async fn corrupt(
    app: &TestApp,
    db: &TestDb,
    token: &str,
    (table, column): (&str, &str),
    paths: &[&str],
    values: &[&str],
    restore: &str,
) {
    // The append-only tables refuse the update until their trigger is gone.
    db.raw_execute(&format!(
        "DROP TRIGGER IF EXISTS {table}_append_only ON {table}"
    ))
    .await
    .unwrap();
    for bad in values {
        db.raw_execute(&format!("UPDATE {table} SET {column} = '{bad}'"))
            .await
            .unwrap_or_else(|e| panic!("{table}.{column}: {e}"));
        for path in paths {
            let answer = app.request(Method::GET, path, Some(token)).send().await;
            let status = answer
                .unwrap_or_else(|e| panic!("{table}.{column} = {bad}: GET {path}: {e}"))
                .status();
            assert!(
                status == StatusCode::OK || status == StatusCode::INTERNAL_SERVER_ERROR,
                "{table}.{column} = {bad}: GET {path}: {status}"
            );
        }
        still_answers(app, token).await;
    }
    db.raw_execute(&format!("UPDATE {table} SET {column} = {restore}"))
        .await
        .unwrap();
}

/// The server answers requests that read none of the corrupted rows.
async fn still_answers(app: &TestApp, token: &str) {
    let health = app
        .request(Method::GET, "/healthz", None)
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    let me = app.get("/api/v1/auth/me", token).await;
    assert!(
        me.status() == StatusCode::OK || me.status() == StatusCode::INTERNAL_SERVER_ERROR,
        "{}",
        me.status()
    );
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) {
    let response = app
        .request(Method::PUT, path, Some(token))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "PUT {path}");
}

/// Starts an import of one person and waits for it to end; its job's path.
async fn import_job(app: &TestApp, token: &str) -> String {
    let body = "external_id,name,kind,clearance\nE1,Zoe,staff,1\n".to_owned();
    let job = start(app, token, body).await;
    follow(app, token, &job).await;
    job["links"]["self"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn an_infinite_time_in_any_table_is_an_error_not_a_dropped_connection() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let app = TestApp::start_on(&db).await;
    let admin = app.admin_token().await;
    let store = db.store().await;
    let mut s = Site::create(store.clone()).await;
    s.badge(s.ada, s.front, Direction::Entry, Outcome::Granted, 1)
        .await;
    s.upload(DoorEvent {
        occurred_at: chrono::Utc::now(),
        door_id: Some(s.front),
        kind: EventKind::ForcedOpen,
    })
    .await;
    let (site, lobby, ada, visit) = (s.site, s.lobby, s.ada, s.visit);
    let schedule = json!({
        "site_id": site, "name": "office", "holidays": [],
        "windows": [{"days": ["mon"], "start": "08:00", "end": "18:00"}],
    });
    created(app.post("/api/v1/schedules", &admin, schedule).await).await;
    created(
        app.post("/api/v1/groups", &admin, json!({"name": "crew"}))
            .await,
    )
    .await;
    let until = chrono::Utc::now() + chrono::Duration::days(10);
    let vetting = json!({"status": "cleared", "cleared_until": until});
    put(
        &app,
        &format!("/api/v1/people/{ada}/vetting"),
        &admin,
        vetting,
    )
    .await;
    let card = json!({"person_id": ada, "card": "04A1B2C3D4E5F6"});
    created(app.post("/api/v1/credentials", &admin, card).await).await;
    let grant = json!({"person_id": ada, "zone_id": lobby});
    created(app.post("/api/v1/grants", &admin, grant).await).await;
    let muster = created(
        app.post(&format!("/api/v1/sites/{site}/musters"), &admin, json!({}))
            .await,
    )
    .await;
    let job = import_job(&app, &admin).await;
    let agent: Uuid = db_agent(&app, &admin).await;

    // The alarm raiser's scan: an error for an agent enrolled at -infinity, then an
    // alarm once the time is valid again.
    db.raw_execute(&format!(
        "UPDATE agents SET status = 'active', enrolled_at = '-infinity', last_seen_at = NULL \
         WHERE id = '{agent}'"
    ))
    .await
    .unwrap();
    let scan = store.raise_agent_offline(Duration::from_secs(1)).await;
    assert!(scan.is_err(), "{scan:?}");
    db.raw_execute("UPDATE agents SET enrolled_at = now() - interval '1 hour'")
        .await
        .unwrap();
    let raised = store.raise_agent_offline(Duration::from_secs(1)).await;
    assert_eq!(raised.unwrap(), vec![agent]);

    let site_paths = [&format!("/api/v1/sites/{site}") as &str, "/api/v1/sites"];
    case(&app, &db, &admin, "sites", "created_at", &site_paths).await;
    let zone = format!("/api/v1/zones/{lobby}");
    case(
        &app,
        &db,
        &admin,
        "zones",
        "updated_at",
        &[&zone, "/api/v1/zones"],
    )
    .await;
    case(&app, &db, &admin, "doors", "created_at", &["/api/v1/doors"]).await;
    case(
        &app,
        &db,
        &admin,
        "schedules",
        "updated_at",
        &["/api/v1/schedules"],
    )
    .await;
    let person = format!("/api/v1/people/{ada}");
    case(
        &app,
        &db,
        &admin,
        "people",
        "created_at",
        &[&person, "/api/v1/people"],
    )
    .await;
    let vetting = format!("/api/v1/people/{ada}/vetting");
    let paths = [&vetting as &str, &person, "/api/v1/vetting/expiring"];
    case(
        &app,
        &db,
        &admin,
        "vetting_records",
        "cleared_until",
        &paths,
    )
    .await;
    case(
        &app,
        &db,
        &admin,
        "person_groups",
        "created_at",
        &["/api/v1/groups"],
    )
    .await;
    case(
        &app,
        &db,
        &admin,
        "credentials",
        "valid_until",
        &["/api/v1/credentials"],
    )
    .await;
    case(
        &app,
        &db,
        &admin,
        "grants",
        "valid_from",
        &["/api/v1/grants"],
    )
    .await;
    let visit = format!("/api/v1/visits/{visit}");
    case(
        &app,
        &db,
        &admin,
        "visits",
        "checked_in_at",
        &[&visit, "/api/v1/visits"],
    )
    .await;
    case(
        &app,
        &db,
        &admin,
        "operators",
        "updated_at",
        &["/api/v1/operators"],
    )
    .await;
    let agent_paths = [
        &format!("/api/v1/agents/{agent}") as &str,
        "/api/v1/agents",
        &format!("/api/v1/agents/{agent}/alarms"),
    ];
    case(&app, &db, &admin, "agents", "last_seen_at", &agent_paths).await;
    case(&app, &db, &admin, "agent_alarms", "at", &agent_paths[2..]).await;
    case(&app, &db, &admin, "agent_alarms", "at", &["/api/v1/alarms"]).await;
    let events = ["/api/v1/events", "/api/v1/alarms"];
    // Event indexes subtract occurred_at, which PostgreSQL refuses for the infinities.
    for column in ["occurred_at", "received_at"] {
        let far = &["290000-06-01"];
        corrupt(
            &app,
            &db,
            &admin,
            ("access_events", column),
            &events,
            far,
            "now()",
        )
        .await;
    }
    let occupancy = format!("/api/v1/zones/{lobby}/occupancy");
    let present = [&occupancy as &str, &format!("/api/v1/sites/{site}/muster")];
    case(&app, &db, &admin, "presence", "since", &present).await;
    let muster = format!("/api/v1/musters/{muster}");
    case(&app, &db, &admin, "musters", "started_at", &[&muster]).await;
    case(&app, &db, &admin, "muster_people", "since", &[&muster]).await;
    case(&app, &db, &admin, "import_jobs", "created_at", &[&job]).await;
    case(&app, &db, &admin, "import_jobs", "finished_at", &[&job]).await;
    // The sweep of interrupted jobs compares times in SQL and reads none back.
    db.raw_execute("UPDATE import_jobs SET updated_at = '-infinity', finished_at = NULL")
        .await
        .unwrap();
    let swept = store.fail_interrupted_import_jobs(Some(now())).await;
    assert_eq!(swept.unwrap(), 1);
    case(&app, &db, &admin, "import_jobs", "updated_at", &[&job]).await;
    // The session checked on every request: its end far off (a past one logs out).
    let (sessions, later) = (("sessions", "expires_at"), &["infinity", "290000-06-01"]);
    let restore = "now() + interval '1 hour'";
    corrupt(
        &app,
        &db,
        &admin,
        sessions,
        &["/api/v1/people"],
        later,
        restore,
    )
    .await;
    app.stop().await;
}

/// The one agent of the site, as the API lists it.
async fn db_agent(app: &TestApp, token: &str) -> Uuid {
    let agents = app.get_json("/api/v1/agents", token).await;
    let list = agents.as_array().or(agents["items"].as_array()).unwrap();
    list[0]["id"].as_str().unwrap().parse().unwrap()
}
