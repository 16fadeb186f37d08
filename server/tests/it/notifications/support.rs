//! What the notification tests share: a real visit, the settings of a server that sends
//! quickly, an SMTP server (aiosmtpd, from `.ci/run`'s venv; `gatehouse_e2e::smtp`), and
//! waiting on the API.

use crate::common::{TestApp, TestDb};
use crate::support::site_model::{site, zone};
use chrono::TimeZone;
use gatehouse_core::model::PersonKind;
use gatehouse_server::config::Settings;
use gatehouse_server::notify::{Arrival, Invitation};
use gatehouse_server::store::{Actor, NewPerson, NewVisit, Store, now};
use serde_json::Value;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A visit by "Vera Visitor" ending in `hours`.
pub async fn visit(store: &Store, hours: i64) -> Uuid {
    let site = site(store, "HQ").await;
    let lobby = zone(store, site.id, None, 0).await;
    let host = store
        .create_person(
            NewPerson {
                name: "Hana Host".into(),
                kind: PersonKind::Staff,
                employer: None,
                clearance: 1,
            },
            &Actor::cli(),
        )
        .await
        .unwrap();
    store
        .create_visit(
            NewVisit {
                visitor_name: "Vera Visitor".into(),
                visitor_organisation: Some("Supplier Ltd".into()),
                host_person_id: host.id,
                window_start: now() - chrono::Duration::hours(1),
                window_end: now() + chrono::Duration::hours(hours),
                allowed_zone_ids: [lobby.id].into(),
                escort_required: false,
                ..Default::default()
            },
            &Actor::cli(),
        )
        .await
        .unwrap()
        .id
}

pub const CHECK_IN_CODE: &str = "GH-7Q2K-9XMP";

pub fn invitation(visit_id: Uuid) -> Invitation {
    Invitation {
        visit_id,
        visitor_name: "Vera Visitor".to_owned(),
        visitor_email: "vera@visitor.example".to_owned(),
        host_name: "Hana Host".to_owned(),
        site_name: "HQ".to_owned(),
        tz: chrono_tz::Europe::Berlin,
        window_start: chrono::Utc.with_ymd_and_hms(2026, 12, 7, 9, 30, 0).unwrap(),
        window_end: chrono::Utc.with_ymd_and_hms(2026, 12, 7, 11, 0, 0).unwrap(),
        purpose: Some("Audit, part 2".to_owned()),
        check_in_code: CHECK_IN_CODE.to_owned(),
        escort_required: true,
    }
}

pub fn arrival(visit_id: Uuid) -> Arrival {
    Arrival {
        visit_id,
        visitor_name: "Vera Visitor".to_owned(),
        visitor_organisation: Some("Supplier Ltd".to_owned()),
        host_name: "Hana Host".to_owned(),
        host_email: Some("hana@gatehouse.example".to_owned()),
        site_name: "HQ".to_owned(),
        tz: chrono_tz::Europe::Berlin,
        arrived_at: now(),
    }
}

/// A server on `db` that polls and retries within milliseconds.
pub fn quick_settings(db: &TestDb) -> Settings {
    let mut settings = db.settings();
    settings.notify.poll_ms = 20;
    settings.notify.backoff_ms = 20;
    settings.notify.max_backoff_ms = 100;
    settings
}

fn required() -> bool {
    std::env::var("GATEHOUSE_TEST_REQUIRE_SMTP").as_deref() == Ok("1")
}

/// Skips (with a message) unless required, when it fails.
pub fn skip_unless_required(what: &str) {
    assert!(!required(), "GATEHOUSE_TEST_REQUIRE_SMTP=1 but {what}");
    eprintln!("skipped: {what} (run .ci/run, or set GATEHOUSE_TEST_PYTHON)");
}

/// aiosmtpd on a loopback port, each message it receives parsed into a JSON file (this
/// folder's `smtp_sink.py`): shared with the end-to-end tests.
pub use gatehouse_e2e::smtp::SmtpSink;

/// Polls `GET /notifications?visit_id=` until notification `id` is in `state`, and
/// returns it as served.
pub async fn wait_for_state(
    app: &TestApp,
    token: &str,
    visit: Uuid,
    id: Uuid,
    state: &str,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let page = app
            .get_json(&format!("/api/v1/notifications?visit_id={visit}"), token)
            .await;
        let found = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["id"] == id.to_string())
            .cloned();
        if let Some(n) = found.as_ref().filter(|n| n["state"] == state) {
            return n.clone();
        }
        assert!(
            Instant::now() < deadline,
            "notification {id} not {state} in 30 s: {found:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
