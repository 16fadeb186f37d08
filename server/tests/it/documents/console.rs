//! The console: security keeps the templates on `/admin/documents` (auditors read
//! them); the receptionist has the visitor sign on `/visits/{id}/documents` without
//! JavaScript, opens the signed copy and prints the badge in one click.

use super::{visit_at, visitor};
use crate::common::{PASSWORD, TestApp};
use crate::console::client::Console;
use crate::support::site_model::site;
use reqwest::StatusCode;

#[tokio::test]
async fn templates_are_kept_and_signed_from_the_console() {
    let (app, db) = TestApp::start().await;
    let admin = app.admin_token().await;
    for role in ["security", "receptionist", "auditor"] {
        app.create_operator(&admin, role, role).await;
    }
    let store = db.store().await;
    let north = site(&store, "North").await;
    let vera = visitor(&db, "Vera").await;
    let visit = visit_at(&db, &store, Some(north.id), "guest", vera, None).await;

    let security = Console::login(&app, "security", PASSWORD).await;
    let created = security
        .submit(
            "/admin/documents",
            &[
                ("title", "Site safety briefing"),
                ("kind", "safety_briefing"),
                ("site_id", &north.id.to_string()),
                ("visit_type", ""),
                ("resign_after_days", "365"),
                ("body", "Wear the helmet.\nFollow the green line."),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER, "{}", created.body);
    let bad = security
        .submit(
            "/admin/documents",
            &[("title", "x"), ("kind", "Not A Kind"), ("body", "x")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("kind"), "{}", bad.body);
    let list = security.get("/admin/documents").await;
    assert!(list.body.contains("Site safety briefing"));
    assert!(list.body.contains("every 365 days"));
    let auditor = Console::login(&app, "auditor", PASSWORD).await;
    let read_only = auditor.get("/admin/documents").await;
    assert_eq!(read_only.status, StatusCode::OK);
    assert!(read_only.body.contains("Wear the helmet."));
    assert!(
        !read_only.body.contains("Create document"),
        "no forms for auditors"
    );

    let desk = Console::login(&app, "receptionist", PASSWORD).await;
    let path = format!("/visits/{visit}/documents");
    let page = desk.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Follow the green line."));
    assert!(page.body.contains("not signed yet"));
    assert!(
        page.body
            .contains(&format!("/visits/{visit}/badge.pdf?size=a6"))
    );
    let template = store.document_templates().await.unwrap()[0].id;
    let sign = format!("/visits/{visit}/documents/{template}/sign");
    let refused = desk
        .submit(
            &sign,
            &[
                ("version", "1"),
                ("typed_name", "Vera Visitor"),
                ("strokes", ""),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("consent"), "{}", refused.body);
    let signed = desk
        .submit(
            &sign,
            &[
                ("version", "1"),
                ("typed_name", "Vera Visitor"),
                ("strokes", ""),
                ("consent", "yes"),
            ],
        )
        .await;
    assert_eq!(signed.status, StatusCode::SEE_OTHER, "{}", signed.body);
    let page = desk.get(&path).await;
    assert!(page.body.contains("Nothing to sign"), "{}", page.body);
    let record = store
        .visit_documents(visit, gatehouse_server::store::now())
        .await
        .unwrap();
    let id = record.signed[0].id;
    let pdf = desk.get(&format!("/visits/{visit}/signed/{id}/pdf")).await;
    assert_eq!(pdf.status, StatusCode::OK);
    assert_eq!(pdf.headers["content-type"], "application/pdf");
    let elsewhere = desk
        .get(&format!("/visits/{template}/signed/{id}/pdf"))
        .await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND);
    let badge = desk
        .get(&format!("/visits/{visit}/badge.pdf?size=label62"))
        .await;
    assert_eq!(badge.status, StatusCode::OK);
    assert_eq!(badge.headers["content-type"], "application/pdf");
    let auditor_badge = auditor.get(&format!("/visits/{visit}/badge.pdf")).await;
    assert_eq!(auditor_badge.status, StatusCode::FORBIDDEN);

    let off = security
        .submit(
            &format!("/admin/documents/{template}/active"),
            &[("active", "false")],
        )
        .await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    let changed = security
        .submit(
            &format!("/admin/documents/{template}"),
            &[
                ("title", "Site safety briefing"),
                ("resign_after_days", ""),
                ("body", "Wear the helmet at all times."),
            ],
        )
        .await;
    assert_eq!(changed.status, StatusCode::SEE_OTHER);
    let now = store.document_template(template).await.unwrap();
    assert_eq!(
        (now.current_version, now.active, now.resign_after_days),
        (2, false, None)
    );
}
