//! The occupancy and muster API: JSON, CSV and printable HTML; marking people.

use super::support::Site;
use crate::common::{TestApp, expect};
use gatehouse_core::decide::{Direction, Outcome};
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn officers_see_who_is_inside_and_run_a_muster() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let mut s = Site::create(db.store().await).await;
    // This muster is of people who badged: the site's visitor (checked in, never badged,
    // so listed by any muster) leaves first.
    let cli = gatehouse_server::store::Actor::cli();
    db.store()
        .await
        .check_out_visit(s.visit, &cli)
        .await
        .unwrap();
    s.badge(s.ada, s.front, Direction::Entry, Outcome::Granted, 1)
        .await;
    s.badge(s.bo, s.front, Direction::Entry, Outcome::Granted, 2)
        .await;
    s.badge(s.bo, s.lab_door, Direction::Entry, Outcome::Granted, 3)
        .await;

    let lobby = expect(
        app.get(&format!("/api/v1/zones/{}/occupancy", s.lobby), &admin)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(lobby["count"], 2, "{lobby}");
    let per_zone: Vec<(String, u64)> = lobby["zones"]
        .as_array()
        .unwrap()
        .iter()
        .map(|z| {
            (
                z["zone_name"].as_str().unwrap().to_owned(),
                z["count"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(per_zone.len(), 2);
    assert!(per_zone.contains(&("Lab".into(), 1)) && per_zone.contains(&("Lobby".into(), 1)));

    let list = |format: &str| format!("/api/v1/sites/{}/muster?format={format}", s.site);
    let json = expect(app.get(&list("json"), &admin).await, StatusCode::OK).await;
    assert_eq!(json.as_array().unwrap().len(), 2, "{json}");
    let csv = app.get(&list("csv"), &admin).await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert!(
        csv.starts_with("name,kind,organisation,host,zone,last door,since,accounted for\n"),
        "{csv}"
    );
    assert!(
        csv.contains("'=Bo<script>,person,,,Lab,Lab door,"),
        "formula defused: {csv}"
    );
    let html = app.get(&list("html"), &admin).await;
    assert_eq!(html.headers()["content-type"], "text/html; charset=utf-8");
    let html = html.text().await.unwrap();
    assert!(
        html.contains("=Bo&lt;script&gt;") && !html.contains("<script>"),
        "{html}"
    );
    assert!(html.contains("Ada"));
    let bad = app.get(&list("pdf"), &admin).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let started = app
        .post(
            &format!("/api/v1/sites/{}/musters", s.site),
            &admin,
            json!({}),
        )
        .await;
    let muster = expect(started, StatusCode::CREATED).await;
    assert_eq!(muster["unaccounted"], 2);
    let id = muster["id"].as_str().unwrap();
    let mark = |holder: uuid::Uuid| json!({"holder_id": holder, "note": "at the gate"});
    let marked = expect(
        app.post(
            &format!("/api/v1/musters/{id}/accounted"),
            &admin,
            mark(s.ada),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(marked["unaccounted"], 1);
    let again = app
        .post(
            &format!("/api/v1/musters/{id}/accounted"),
            &admin,
            mark(s.ada),
        )
        .await;
    assert_eq!(again.status(), StatusCode::CONFLICT);
    let stranger = app
        .post(
            &format!("/api/v1/musters/{id}/accounted"),
            &admin,
            mark(s.visit),
        )
        .await;
    assert_eq!(stranger.status(), StatusCode::NOT_FOUND);
    let long = json!({"holder_id": s.bo, "note": "x".repeat(501)});
    let long = app
        .post(&format!("/api/v1/musters/{id}/accounted"), &admin, long)
        .await;
    assert_eq!(long.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = app
        .get(&format!("/api/v1/musters/{id}?format=html"), &admin)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("1 of 2 not accounted for") && page.contains("at the gate"),
        "{page}"
    );
    // The length is measured on the trimmed note, and the trimmed note is what is kept
    // (it was stored as sent: 2,500 characters past a 500-character limit).
    let padded = format!("  {}{}", "y".repeat(500), " ".repeat(2000));
    let padded = json!({"holder_id": s.bo, "note": padded});
    let marked = expect(
        app.post(&format!("/api/v1/musters/{id}/accounted"), &admin, padded)
            .await,
        StatusCode::OK,
    )
    .await;
    let bo = marked["people"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["holder_id"] == json!(s.bo));
    assert_eq!(bo.unwrap()["note"], json!("y".repeat(500)));
    let closed = expect(
        app.post(&format!("/api/v1/musters/{id}/close"), &admin, json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(closed["closed_at"].is_string());
}
