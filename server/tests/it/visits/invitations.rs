//! Group and weekly invitations, edits, codes, cancellation of a visit with a card.

use super::support::{operator, site, visit};
use crate::common::{TestApp, TestDb, expect, invalid};
use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

conformance!(
    a_group_and_a_weekly_series_are_one_invitation,
    edits_are_judged_and_codes_find_visits,
    cancelling_revokes_a_pre_issued_card,
);

fn ids(visits: &Value, key: &str) -> Vec<String> {
    let mut ids: Vec<String> = visits
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v[key].to_string())
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

async fn a_group_and_a_weekly_series_are_one_invitation(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let (_, desk) = operator(&app, &s.admin, "rita", "receptionist").await;
    let start = Utc::now() + Duration::days(1);
    let group = json!({"visitors": [{"name": "Ann"}, {"name": "Ben", "email": "ben@example.org"}, {"name": "Cy"}],
        "host_person_id": s.host, "window_start": start, "window_end": start + Duration::hours(2),
        "allowed_zone_ids": [s.lobby], "purpose": "Audit"});
    let group = expect(
        app.post("/api/v1/invitations", &desk, group).await,
        StatusCode::CREATED,
    )
    .await;
    let visits = &group["visits"];
    assert_eq!(visits.as_array().unwrap().len(), 3);
    assert_eq!(ids(visits, "invitation_id").len(), 1, "one invitation");
    assert_eq!(ids(visits, "check_in_code").len(), 3, "each their own code");
    assert_eq!(ids(visits, "visitor_id").len(), 3, "each their own visitor");
    let weekly = json!({"visitors": [{"name": "Carl Contractor", "organisation": "Fixit"}],
        "host_person_id": s.host, "window_start": start, "window_end": start + Duration::hours(4),
        "allowed_zone_ids": [s.lobby], "visit_type": "contractor",
        "weekly_until": (start + Duration::weeks(12)).naive_utc().date()});
    let weekly = expect(
        app.post("/api/v1/invitations", &desk, weekly).await,
        StatusCode::CREATED,
    )
    .await;
    let visits = weekly["visits"].as_array().unwrap();
    assert_eq!(
        visits.len(),
        13,
        "every Tuesday for three months: 13 occurrences"
    );
    assert_eq!(ids(&weekly["visits"], "series_id").len(), 1);
    assert_eq!(
        ids(&weekly["visits"], "visitor_id").len(),
        1,
        "the same visitor every week"
    );
    let at = |v: &Value| {
        v["window_start"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .unwrap()
    };
    assert_eq!(at(&visits[12]) - at(&visits[0]), Duration::weeks(12));
    // A problem in the third visitor names it; nothing is registered.
    let bad = json!({"visitors": [{"name": "A"}, {"name": "B"}, {"name": "C", "email": "not-an-address"}],
        "host_person_id": s.host, "window_start": start, "window_end": start + Duration::hours(2),
        "allowed_zone_ids": [s.lobby]});
    invalid(
        app.post("/api/v1/invitations", &desk, bad).await,
        "visitors[1].email",
    )
    .await;
    let too_long = json!({"visitors": [{"name": "A"}], "host_person_id": s.host, "window_start": start,
        "window_end": start + Duration::hours(2), "allowed_zone_ids": [s.lobby],
        "weekly_until": (start + Duration::weeks(60)).naive_utc().date()});
    invalid(
        app.post("/api/v1/invitations", &desk, too_long).await,
        "weekly_until",
    )
    .await;
    let all = app.get_json("/api/v1/visits?limit=500", &s.admin).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 16);
    // Search by organisation and by status.
    let fixit = app
        .get_json("/api/v1/visits?q=fixit&limit=500", &desk)
        .await;
    assert_eq!(fixit["items"].as_array().unwrap().len(), 13);
    let by_host = app
        .get_json("/api/v1/visits?q=hana&status=invited&limit=500", &desk)
        .await;
    assert_eq!(by_host["items"].as_array().unwrap().len(), 16);
    let bad_status = app.get("/api/v1/visits?status=arrived", &desk).await;
    invalid(bad_status, "status").await;
    invalid(app.get("/api/v1/visits?q=", &desk).await, "q").await;
    invalid(app.get("/api/v1/visits?q=%0A", &desk).await, "q").await;
}

async fn edits_are_judged_and_codes_find_visits(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let (_, desk) = operator(&app, &s.admin, "rita", "receptionist").await;
    let v = expect(
        app.post("/api/v1/visits", &desk, visit(&s.host, &[&s.lobby], 60))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/visits/{}", v["id"].as_str().unwrap());
    let to_closed = app
        .patch(&path, &desk, json!({"allowed_zone_ids": [s.closed]}))
        .await;
    invalid(to_closed, "allowed_zone_ids").await;
    let to_lab = app
        .patch(
            &path,
            &desk,
            json!({"allowed_zone_ids": [s.lobby, s.lab], "purpose": "Tour"}),
        )
        .await;
    let to_lab = expect(to_lab, StatusCode::OK).await;
    assert_eq!(
        (to_lab["escort_required"].clone(), to_lab["purpose"].clone()),
        (json!(true), json!("Tour"))
    );
    let code = v["check_in_code"].as_str().unwrap();
    let typed = format!("{}-{}", code[..5].to_lowercase(), &code[5..]);
    let found = app
        .get_json(&format!("/api/v1/visits/by-code/{typed}"), &desk)
        .await;
    assert_eq!(found["id"], v["id"]);
    let missing = app.get("/api/v1/visits/by-code/ZZZZZZZZZZ", &desk).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    expect(
        app.post(&format!("{path}/check-in"), &desk, json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let after_arrival = app.patch(&path, &desk, json!({"purpose": "Other"})).await;
    assert_eq!(
        after_arrival.status(),
        StatusCode::CONFLICT,
        "an arrived visit is not edited"
    );
}

async fn cancelling_revokes_a_pre_issued_card(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let v = expect(
        app.post("/api/v1/visits", &s.admin, visit(&s.host, &[&s.lobby], 60))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let card = json!({"visit_id": v["id"], "card": "C0FFEE"});
    let card = expect(
        app.post("/api/v1/credentials", &s.admin, card).await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!("/api/v1/visits/{}", v["id"].as_str().unwrap());
    let cancelled = expect(
        app.post(&format!("{path}/cancel"), &s.admin, json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(cancelled["status"], "cancelled");
    assert!(cancelled["ended_at"].is_string());
    let card = app
        .get_json(
            &format!("/api/v1/credentials/{}", card["id"].as_str().unwrap()),
            &s.admin,
        )
        .await;
    assert_eq!(card["state"], "revoked");
}
