//! Times near chrono's calendar ends (years ±262,143), where a site's clock reading of
//! them falls off the calendar and chrono's `naive_local` panics. Every door that takes
//! a time refuses one outside 1970 to 9999 naming the field (the API's JSON, the
//! console's forms and searches, the CSV import); one in the database anyway (an old
//! row, another tool's, an agent's clock) is shown in UTC, never a dropped connection.

use crate::common::{ADMIN_PASSWORD, TestApp, TestDb, created, invalid};
use crate::console::client::Console;
use crate::import::api::{follow, start};
use crate::occupancy::support::Site;
use chrono::{DateTime, Duration, Utc};
use gatehouse_core::event::{DoorEvent, EventKind};
use gatehouse_server::store::{Actor, NewVisit};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

conformance!(
    times_outside_1970_to_9999_are_refused_at_every_door,
    a_stored_time_past_the_sites_calendar_is_shown_in_utc,
);

/// What every refusal says.
const RANGE: &str = "must be from 1970-01-01 to 9999-12-31";

/// A site at UTC-11, a lobby open to visitors for 8 hours, a host with a grant to it.
async fn pago_pago(app: &TestApp, admin: &str) -> (String, String) {
    let site = json!({"name": "Pago Pago", "timezone": "Pacific/Pago_Pago"});
    let site = created(app.post("/api/v1/sites", admin, site).await).await;
    let lobby = json!({"site_id": site, "name": "Lobby", "level": 0});
    let lobby = created(app.post("/api/v1/zones", admin, lobby).await).await;
    let rule = app
        .request(
            Method::PUT,
            &format!("/api/v1/zones/{lobby}/visitor-rule"),
            Some(admin),
        )
        .json(&json!({"longest_visit_minutes": 480}))
        .send()
        .await
        .unwrap();
    assert_eq!(rule.status(), StatusCode::OK);
    let host = json!({"name": "Hana Host", "kind": "staff", "clearance": 1});
    let host = created(app.post("/api/v1/people", admin, host).await).await;
    let grant = json!({"person_id": host, "zone_id": lobby});
    created(app.post("/api/v1/grants", admin, grant).await).await;
    (lobby, host)
}

async fn times_outside_1970_to_9999_are_refused_at_every_door(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let (lobby, host) = pago_pago(&app, &admin).await;

    // The API's JSON: a time past 9999 (`json!` sorts the keys: the end is read first),
    // and a weekly series whose second visit would be in 10000.
    let far = json!({"visitor_name": "Far", "host_person_id": host, "allowed_zone_ids": [lobby],
        "window_start": "+262142-12-31T10:00:00Z", "window_end": "+262142-12-31T12:00:00Z"});
    invalid(app.post("/api/v1/visits", &admin, far).await, "window_end").await;
    let series = json!({"visitors": [{"name": "Weekly"}], "host_person_id": host,
        "allowed_zone_ids": [lobby], "window_start": "9999-12-25T10:00:00Z",
        "window_end": "9999-12-25T12:00:00Z", "weekly_until": "+10000-01-01"});
    let answer = app.post("/api/v1/invitations", &admin, series).await;
    invalid(answer, "weekly_until").await;

    // The console's invite form: the date refused as such, nothing registered.
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    for date in ["+262142-12-31", "-262143-01-01", "1969-12-31"] {
        let form = [
            ("visitor_name", "Far Future"),
            ("host_person_id", host.as_str()),
            ("zone", lobby.as_str()),
            ("date", date),
            ("start", "10:00"),
            ("end", "12:00"),
        ];
        let answer = console.submit("/visits/new", &form).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{date}");
        assert!(answer.body.contains(RANGE), "{date}: {}", answer.body);
    }
    // The last hour of 9999 at UTC-11 is in 10000 in UTC: its start is refused.
    let late = [
        ("visitor_name", "Last Hour"),
        ("host_person_id", host.as_str()),
        ("zone", lobby.as_str()),
        ("date", "9999-12-31"),
        ("start", "13:00"),
        ("end", "14:00"),
    ];
    let answer = console.submit("/visits/new", &late).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.body.contains(RANGE), "{}", answer.body);
    let visits = app.get_json("/api/v1/visits", &admin).await;
    assert_eq!(visits["items"], json!([]), "nothing registered");

    // The console's periods and searches: a 422 naming the field, not a panic on the
    // period's date arithmetic.
    for (path, field) in [
        ("/reports?to=%2B262142-12-31", "to"),
        ("/reports?from=1969-12-01&to=1969-12-31", "from"),
        ("/visits/log?to=-262143-01-01", "to"),
        ("/visits?from=%2B262142-12-31", "from"),
        ("/events?from=%2B262142-12-31T00:00", "from"),
        ("/operator-log?to=-262143-01-01T00:00", "to"),
        (
            "/audit/export?from=0000-01-01T00:00&to=2026-01-01T00:00",
            "from",
        ),
    ] {
        let answer = console.get(path).await;
        assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert!(
            answer.body.contains(field) && answer.body.contains(RANGE),
            "{path}: {}",
            answer.body
        );
    }

    // The CSV import: the row refused naming the column, nothing imported.
    let csv = "external_id,name,kind,clearance,card,card_valid_until\n\
               E1,Zoe,staff,1,04A1B2C3D4E5F6,+262142-12-31\n";
    let job = follow(&app, &admin, &start(&app, &admin, csv.to_owned()).await).await;
    assert_eq!(job["state"], "failed", "{job}");
    let errors: Vec<(&str, &str)> = job["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["field"].as_str().unwrap(), e["message"].as_str().unwrap()))
        .collect();
    assert_eq!(errors, [("card_valid_until", RANGE)]);
    let credentials = app.get_json("/api/v1/credentials", &admin).await;
    assert_eq!(credentials["items"], json!([]), "nothing imported");
}

async fn a_stored_time_past_the_sites_calendar_is_shown_in_utc(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let mut s = Site::create(db.store().await).await;
    // UTC+14: the last 14 hours of chrono's calendar have no reading there.
    let moved = json!({"timezone": "Pacific/Kiritimati"});
    let answer = app
        .patch(&format!("/api/v1/sites/{}", s.site), &admin, moved)
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    // Written past the API's checks, as a row from before them or from another tool.
    // The calendar's last whole second, so both databases keep it exactly.
    let last = DateTime::<Utc>::from_timestamp(DateTime::<Utc>::MAX_UTC.timestamp(), 0).unwrap();
    let visit = s
        .store
        .create_visit(
            NewVisit {
                visitor_name: "Vic Future".into(),
                host_person_id: s.ada,
                site_id: Some(s.site),
                window_start: last - Duration::hours(3),
                window_end: last - Duration::hours(1),
                allowed_zone_ids: [s.lobby].into(),
                ..Default::default()
            },
            &Actor::cli(),
        )
        .await
        .unwrap()
        .id;
    // An agent's clock is its own: the journal keeps what the door recorded.
    s.upload(DoorEvent {
        occurred_at: last - Duration::minutes(1),
        door_id: Some(s.front),
        kind: EventKind::ForcedOpen,
    })
    .await;
    let events = app.get_json("/api/v1/events?limit=500", &admin).await;
    let event = events["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "forced_open")
        .and_then(|e| e["id"].as_str())
        .unwrap()
        .to_owned();

    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let page = console.get(&format!("/visits/{visit}")).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(
        page.body.contains("+262142-12-31 20:59 – 22:59 UTC"),
        "the window in UTC: {}",
        page.body
    );
    for path in [
        format!("/visits/{visit}/edit"),
        format!("/visits/{visit}/documents"),
        format!("/events/{event}"),
        "/alarms".to_owned(),
    ] {
        let answer = console.get(&path).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
    }
    let badge = app
        .get(&format!("/api/v1/visits/{visit}/badge.pdf"), &admin)
        .await;
    assert_eq!(badge.status(), StatusCode::OK);
    let visit: Value = app
        .get_json(&format!("/api/v1/visits/{visit}"), &admin)
        .await;
    assert_eq!(visit["window_end"], "+262142-12-31T22:59:59Z");
}
