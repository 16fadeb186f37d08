//! Badges and documents over HTTP: each badge size read back by independent tools (the
//! QR code decoded by zbar back to the check-in code, the text found by poppler), the
//! badge logged, refusals; templates, signing and the signed copy through the API.

use super::{id_sql, visit_at, visitor};
use crate::common::{TestApp, expect, invalid};
use crate::support::site_model::site;
use gatehouse_e2e::pdf;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn badges_print_at_every_size_and_read_back() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let store = db.store().await;
    let north = site(&store, "North").await;
    let vera = visitor(&db, "Vera").await;
    let visit = visit_at(&db, &store, Some(north.id), "guest", vera, None).await;
    let code = "GH-7K3P-Q9XM";
    db.raw_execute(&format!(
        "UPDATE visits SET check_in_code = '{code}', visitor_name = 'Zoë Łukasiewicz' \
         WHERE id = {}",
        id_sql(&db, visit)
    ))
    .await
    .unwrap();
    let tools = pdf::tools("the badges");
    for size in ["cr80", "a6", "label62"] {
        let response = app
            .get(
                &format!("/api/v1/visits/{visit}/badge.pdf?size={size}"),
                &admin,
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK, "{size}");
        assert_eq!(response.headers()["content-type"], "application/pdf");
        let disposition = response.headers()["content-disposition"].to_str().unwrap();
        assert!(disposition.starts_with("inline"), "{disposition}");
        let pdf = response.bytes().await.unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        if tools {
            let (text, decoded) = (pdf::text(&pdf), pdf::qr(&pdf));
            assert_eq!(decoded, code, "{size}: the QR code reads back");
            // Ł is outside WinAnsi: transliterated.
            assert!(text.contains("Zoë Lukasiewicz"), "{size}: {text}");
            assert!(text.contains("Visiting Hannah Host"), "{size}: {text}");
            assert!(text.contains("ESCORT REQUIRED"), "{size}: {text}");
        }
    }
    let log = store.list_operator_log(None, 500).await.unwrap();
    let printed: Vec<_> = log
        .iter()
        .filter(|e| e.action == "visit.badge_printed")
        .map(|e| e.after.as_ref().unwrap().0["size"].clone())
        .collect();
    assert_eq!(printed, [json!("cr80"), json!("a6"), json!("label62")]);

    invalid(
        app.get(&format!("/api/v1/visits/{visit}/badge.pdf?size=a4"), &admin)
            .await,
        "size",
    )
    .await;
    db.raw_execute(&format!(
        "UPDATE visits SET check_in_code = NULL WHERE id = {}",
        id_sql(&db, visit)
    ))
    .await
    .unwrap();
    let refused = expect(
        app.get(&format!("/api/v1/visits/{visit}/badge.pdf"), &admin)
            .await,
        StatusCode::CONFLICT,
    )
    .await;
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("check-in code"), "{message}");
    let unknown = uuid::Uuid::now_v7();
    expect(
        app.get(&format!("/api/v1/visits/{unknown}/badge.pdf"), &admin)
            .await,
        StatusCode::NOT_FOUND,
    )
    .await;
}

/// The same badges with the visitor's photo on them — a JPEG from poppler's own encoder
/// and a PNG — still read back: the QR code decodes to the check-in code, the text is
/// all there, and the photo is on the page.
#[tokio::test]
async fn badges_with_a_photo_still_read_back() {
    if !pdf::tools("the badges with a photo") {
        return;
    }
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let store = db.store().await;
    let north = site(&store, "North").await;
    let vera = visitor(&db, "Vera").await;
    let visit = visit_at(&db, &store, Some(north.id), "guest", vera, None).await;
    let code = "GH-4H7M-X2PQ";
    db.raw_execute(&format!(
        "UPDATE visits SET check_in_code = '{code}' WHERE id = {}",
        id_sql(&db, visit)
    ))
    .await
    .unwrap();
    let badge = |size: &'static str| {
        let (app, admin) = (&app, &admin);
        async move {
            let path = format!("/api/v1/visits/{visit}/badge.pdf?size={size}");
            let response = app.get(&path, admin).await;
            assert_eq!(response.status(), StatusCode::OK, "{size}");
            response.bytes().await.unwrap().to_vec()
        }
    };
    let dir = tempfile::tempdir().unwrap();
    // A real JPEG: the top of the plain badge (its text, not its QR code, which would
    // read back too) as a picture, encoded by poppler.
    let plain = dir.path().join("plain.pdf");
    std::fs::write(&plain, badge("a6").await).unwrap();
    let prefix = dir.path().join("plain");
    let made = std::process::Command::new("pdftoppm")
        .args(["-r", "60", "-jpeg", "-singlefile", "-W", "240", "-H", "120"])
        .args([&plain, &prefix])
        .status()
        .unwrap();
    assert!(made.success(), "pdftoppm made the JPEG");
    let jpeg = std::fs::read(dir.path().join("plain.jpg")).unwrap();
    let png = crate::visits::photo::png_photo(300, 400);
    for (kind, photo) in [("image/jpeg", jpeg), ("image/png", png)] {
        let stored = app
            .request(
                reqwest::Method::PUT,
                &format!("/api/v1/visits/{visit}/visitor-photo"),
                Some(&admin),
            )
            .header("content-type", kind)
            .body(photo)
            .send()
            .await
            .unwrap();
        assert_eq!(stored.status(), StatusCode::NO_CONTENT, "{kind}");
        for size in ["cr80", "a6", "label62"] {
            let pdf = badge(size).await;
            assert!(
                pdf.windows(4).any(|w| w == b"/Im1"),
                "{kind} {size}: the photo is on the badge"
            );
            let (text, decoded) = (pdf::text(&pdf), pdf::qr(&pdf));
            assert_eq!(decoded, code, "{kind} {size}: the QR code reads back");
            // Words as read, whatever lines pdftotext breaks them into.
            let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(text.contains("Vera Visitor"), "{kind} {size}: {text}");
            assert!(
                text.contains("Visiting Hannah Host"),
                "{kind} {size}: {text}"
            );
            assert!(text.contains("ESCORT REQUIRED"), "{kind} {size}: {text}");
        }
    }
}

#[tokio::test]
async fn documents_are_kept_signed_and_served_over_the_api() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "desk", "receptionist").await;
    let desk = app.login("desk", crate::common::PASSWORD).await;
    let store = db.store().await;
    let north = site(&store, "North").await;
    let vera = visitor(&db, "Vera").await;
    let visit = visit_at(&db, &store, Some(north.id), "guest", vera, None).await;

    let body = json!({"kind": "nda", "title": "NDA", "body": "Keep it secret.",
        "site_id": north.id});
    assert_eq!(
        app.post("/api/v1/document-templates", &desk, body.clone())
            .await
            .status(),
        StatusCode::FORBIDDEN,
        "receptionists do not keep templates"
    );
    let template = expect(
        app.post("/api/v1/document-templates", &admin, body).await,
        StatusCode::CREATED,
    )
    .await;
    let id = template["id"].as_str().unwrap();
    invalid(
        app.post(
            "/api/v1/document-templates",
            &admin,
            json!({"kind": "nda", "title": " ", "body": "x"}),
        )
        .await,
        "title",
    )
    .await;
    let listed = expect(
        app.get("/api/v1/document-templates", &desk).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), 1);

    let documents = format!("/api/v1/visits/{visit}/documents");
    let due = expect(app.get(&documents, &desk).await, StatusCode::OK).await;
    assert_eq!(due["due"][0]["title"], "NDA");
    assert_eq!(due["due"][0]["reason"], "not_signed");
    let sign = format!("{documents}/{id}/signature");
    invalid(
        app.post(
            &sign,
            &desk,
            json!({"method": "typed", "typed_name": "Vera", "consent": false}),
        )
        .await,
        "consent",
    )
    .await;
    invalid(
        app.post(
            &sign,
            &desk,
            json!({"method": "drawn", "consent": true,
            "strokes": [[[1, 2], [5000, 3]]]}),
        )
        .await,
        "strokes",
    )
    .await;
    let signed = expect(
        app.post(
            &sign,
            &desk,
            json!({"method": "drawn", "typed_name": "Vera",
            "consent": true, "version": 1, "strokes": [[[10, 10], [300, 200]], [[500, 50]]]}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        app.post(
            &sign,
            &desk,
            json!({"method": "typed", "typed_name": "Vera", "consent": true})
        )
        .await
        .status(),
        StatusCode::CONFLICT,
        "signed already"
    );
    let after = expect(app.get(&documents, &desk).await, StatusCode::OK).await;
    assert_eq!(after["due"], json!([]));
    assert_eq!(after["signed"][0]["id"], signed["id"]);

    let pdf = app
        .get(
            &format!(
                "/api/v1/document-signatures/{}/pdf",
                signed["id"].as_str().unwrap()
            ),
            &desk,
        )
        .await;
    assert_eq!(pdf.status(), StatusCode::OK);
    let pdf = pdf.bytes().await.unwrap();
    assert_eq!(
        gatehouse_server::store::documents::sha256_hex(&pdf),
        signed["pdf_sha256"].as_str().unwrap()
    );
    if pdf::tools("the signed copy") {
        let text = pdf::text(&pdf);
        assert!(text.contains("Keep it secret."), "{text}");
        assert!(text.contains("Hannah Host"), "{text}");
        assert!(
            text.contains(template["body_sha256"].as_str().unwrap()),
            "{text}"
        );
    }

    let patched = expect(
        app.patch(
            &format!("/api/v1/document-templates/{id}"),
            &admin,
            json!({"body": "Keep it very secret.", "resign_after_days": 365}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(patched["current_version"], 2);
    let again = expect(app.get(&documents, &desk).await, StatusCode::OK).await;
    assert_eq!(again["due"][0]["reason"], "new_version");
}
