//! The visitor's photo over the API: set, served and removed by who may (a host only on
//! its own visits, an auditor only reading), refused whole when it is not the image it
//! claims, logged by its hash, and gone once retention purged the visitor.

use super::support::{operator, put, site, visit};
use crate::common::{TestApp, TestDb, expect, invalid};
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::verify::verify;
use gatehouse_server::store::{Actor, LogFilter, Store, now};
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

conformance!(
    photos_are_set_served_and_removed_by_who_may,
    photos_that_are_not_what_they_claim_change_nothing,
    a_purged_visitors_photo_is_gone_and_the_trail_verifies,
);

/// A real `width` × `height` RGB PNG.
pub fn png_photo(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().unwrap();
    let pixels: Vec<u8> = (0..width * height)
        .flat_map(|i| [(i % 200) as u8, 90, 160])
        .collect();
    writer.write_image_data(&pixels).unwrap();
    writer.finish().unwrap();
    out
}

/// The head of a baseline JPEG (its frame header: 240 × 320, colour); the server reads
/// no further than that.
fn jpeg_head() -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46];
    out.extend([0xFF, 0xC0, 0x00, 0x11, 8, 0x01, 0x40, 0x00, 0xF0, 3]);
    out.extend([1, 0x22, 0, 2, 0x11, 1, 3, 0x11, 1]);
    out.extend([0xFF, 0xD9]);
    out
}

fn path(visit: &str) -> String {
    format!("/api/v1/visits/{visit}/visitor-photo")
}

pub async fn upload(
    app: &TestApp,
    token: &str,
    visit: &str,
    content_type: Option<&str>,
    bytes: Vec<u8>,
) -> Response {
    let mut request = app.request(Method::PUT, &path(visit), Some(token));
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request.body(bytes).send().await.unwrap()
}

async fn delete(app: &TestApp, token: &str, visit: &str) -> Response {
    app.request(Method::DELETE, &path(visit), Some(token))
        .send()
        .await
        .unwrap()
}

/// The photo as served, with its content type.
async fn served(app: &TestApp, token: &str, visit: &str) -> (String, Vec<u8>) {
    let response = app.get(&path(visit), token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers["cache-control"], "private, no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let kind = headers["content-type"].to_str().unwrap().to_owned();
    (kind, response.bytes().await.unwrap().to_vec())
}

/// The operator log's photo entries about `visit`: (action, before, after).
async fn photo_log(store: &Store, visit: &str) -> Vec<(String, Value, Value)> {
    let filter = LogFilter {
        target_type: Some("visit".into()),
        target_id: Some(visit.to_owned()),
        ..Default::default()
    };
    let log = store.search_operator_log(&filter, None, 100).await.unwrap();
    log.into_iter()
        .filter(|e| e.action.starts_with("visit.visitor_photo_"))
        .map(|e| {
            let json = |v: Option<sqlx::types::Json<Value>>| v.map_or(Value::Null, |j| j.0);
            (e.action, json(e.before), json(e.after))
        })
        .collect()
}

async fn photos_are_set_served_and_removed_by_who_may(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let store = db.store().await;
    let s = site(&app).await;
    let (_, desk) = operator(&app, &s.admin, "rita", "receptionist").await;
    let (_, auditor) = operator(&app, &s.admin, "audrey", "auditor").await;
    let (hana_account, hana) = operator(&app, &s.admin, "hana", "host").await;
    let link = format!("/api/v1/operators/{hana_account}/person");
    expect(
        put(&app, &s.admin, &link, json!({"person_id": s.host})).await,
        StatusCode::OK,
    )
    .await;
    let hanas = app
        .post("/api/v1/visits", &desk, visit(&s.host, &[&s.lobby], 60))
        .await;
    let hanas = expect(hanas, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ottos = app
        .post(
            "/api/v1/visits",
            &desk,
            visit(&s.other_host, &[&s.lobby], 60),
        )
        .await;
    let ottos = expect(ottos, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    // No photo yet.
    expect(app.get(&path(&hanas), &desk).await, StatusCode::NOT_FOUND).await;
    let png = png_photo(30, 40);
    let stored = upload(&app, &desk, &hanas, Some("image/png"), png.clone()).await;
    assert_eq!(stored.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        served(&app, &desk, &hanas).await,
        ("image/png".to_owned(), png.clone())
    );
    // An auditor sees it but cannot change it.
    assert_eq!(served(&app, &auditor, &hanas).await.1, png);
    let jpeg = jpeg_head();
    for refused in [
        upload(&app, &auditor, &hanas, Some("image/jpeg"), jpeg.clone()).await,
        delete(&app, &auditor, &hanas).await,
    ] {
        assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    }

    // The host: its own visit's photo, not another host's (404, as the visit itself).
    assert_eq!(served(&app, &hana, &hanas).await.1, png);
    let own = upload(&app, &hana, &hanas, Some("image/jpeg"), jpeg.clone()).await;
    assert_eq!(own.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        served(&app, &desk, &hanas).await,
        ("image/jpeg".to_owned(), jpeg.clone())
    );
    let other = upload(&app, &desk, &ottos, Some("image/png"), png.clone()).await;
    assert_eq!(other.status(), StatusCode::NO_CONTENT);
    for hidden in [
        app.get(&path(&ottos), &hana).await,
        upload(&app, &hana, &ottos, Some("image/jpeg"), jpeg.clone()).await,
        delete(&app, &hana, &ottos).await,
    ] {
        expect(hidden, StatusCode::NOT_FOUND).await;
    }
    assert_eq!(served(&app, &desk, &ottos).await.1, png, "unchanged");

    // Removed; removing again changes (and logs) nothing.
    assert_eq!(
        delete(&app, &desk, &hanas).await.status(),
        StatusCode::NO_CONTENT
    );
    expect(app.get(&path(&hanas), &desk).await, StatusCode::NOT_FOUND).await;
    assert_eq!(
        delete(&app, &desk, &hanas).await.status(),
        StatusCode::NO_CONTENT
    );
    let unknown = uuid::Uuid::now_v7().to_string();
    expect(app.get(&path(&unknown), &desk).await, StatusCode::NOT_FOUND).await;
    expect(
        upload(&app, &desk, &unknown, Some("image/png"), png.clone()).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    // The log names the photo by its hash, never its bytes.
    let hash = |b: &[u8]| hex::encode(Sha256::digest(b));
    let log = photo_log(&store, &hanas).await;
    let actions: Vec<&str> = log.iter().map(|(a, _, _)| a.as_str()).collect();
    assert_eq!(
        actions,
        [
            "visit.visitor_photo_set",
            "visit.visitor_photo_set",
            "visit.visitor_photo_removed"
        ]
    );
    assert_eq!(
        log[0].2["photo"],
        json!({"content_type": "image/png", "bytes": png.len(), "sha256": hash(&png)})
    );
    assert_eq!(log[0].1["photo"], Value::Null);
    assert_eq!(log[1].1["photo"]["sha256"], hash(&png));
    assert_eq!(log[1].2["photo"]["sha256"], hash(&jpeg));
    assert_eq!(log[2].1["photo"]["sha256"], hash(&jpeg));
    assert_eq!(log[2].2["photo"], Value::Null);
}

async fn photos_that_are_not_what_they_claim_change_nothing(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let store = db.store().await;
    let s = site(&app).await;
    let (_, desk) = operator(&app, &s.admin, "rita", "receptionist").await;
    let id = app
        .post("/api/v1/visits", &desk, visit(&s.host, &[&s.lobby], 60))
        .await;
    let id = expect(id, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let png = png_photo(8, 8);
    let first = upload(&app, &desk, &id, Some("image/png"), png.clone()).await;
    assert_eq!(first.status(), StatusCode::NO_CONTENT);

    for kind in [Some("image/gif"), Some("application/octet-stream"), None] {
        let refused = upload(&app, &desk, &id, kind, png.clone()).await;
        let body = expect(refused, StatusCode::UNSUPPORTED_MEDIA_TYPE).await;
        assert_eq!(body["error"]["code"], "unsupported_media_type", "{kind:?}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("image/jpeg or image/png"), "{message}");
    }
    // The declared type must be what the bytes are.
    invalid(
        upload(&app, &desk, &id, Some("image/jpeg"), png.clone()).await,
        "photo",
    )
    .await;
    invalid(
        upload(&app, &desk, &id, Some("image/png"), jpeg_head()).await,
        "photo",
    )
    .await;
    invalid(
        upload(&app, &desk, &id, Some("image/png"), b"<svg/>".to_vec()).await,
        "photo",
    )
    .await;
    invalid(
        upload(&app, &desk, &id, Some("image/png"), Vec::new()).await,
        "photo",
    )
    .await;
    let mut cut = png.clone();
    cut.truncate(20);
    invalid(
        upload(&app, &desk, &id, Some("image/png"), cut).await,
        "photo",
    )
    .await;
    // Over 2 MiB.
    let mut big = png.clone();
    big.resize(2 * 1024 * 1024 + 1, 0);
    expect(
        upload(&app, &desk, &id, Some("image/png"), big).await,
        StatusCode::PAYLOAD_TOO_LARGE,
    )
    .await;

    assert_eq!(
        served(&app, &desk, &id).await.1,
        png,
        "the first photo stays"
    );
    assert_eq!(
        photo_log(&store, &id).await.len(),
        1,
        "refusals log nothing"
    );
}

async fn a_purged_visitors_photo_is_gone_and_the_trail_verifies(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let store = db.store().await;
    let key = AuditKey::load(&store).await.unwrap();
    let s = site(&app).await;
    let (_, desk) = operator(&app, &s.admin, "rita", "receptionist").await;
    let id = app
        .post("/api/v1/visits", &desk, visit(&s.host, &[&s.lobby], 60))
        .await;
    let id = expect(id, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let png = png_photo(8, 8);
    let stored = upload(&app, &desk, &id, Some("image/png"), png.clone()).await;
    assert_eq!(stored.status(), StatusCode::NO_CONTENT);

    let summary = store
        .purge_visitor_data(now() + chrono::Duration::days(2), &Actor::system())
        .await
        .unwrap();
    assert_eq!(summary.visits, 1);
    expect(app.get(&path(&id), &desk).await, StatusCode::NOT_FOUND).await;
    // A purged visitor takes no new photo either.
    expect(
        upload(&app, &desk, &id, Some("image/png"), png).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // The log entry's details (the photo's hash) went with the visit.
    let log = photo_log(&store, &id).await;
    assert_eq!(log.len(), 1);
    assert_eq!((&log[0].1, &log[0].2), (&Value::Null, &Value::Null));
    let report = verify(&store, &key.public_key()).await.unwrap();
    assert!(report.ok, "the chain verifies after the purge: {report:?}");
}
