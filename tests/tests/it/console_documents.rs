//! Visitor documents in a real browser: a security officer's template, then a
//! receptionist has the visitor draw a signature on the desk page (console.js's pad) and
//! sign; the signed copy is listed with its PDF. Every page passes axe and the CSP.

use serde_json::json;

#[tokio::test]
async fn a_visitor_signs_with_a_drawn_signature_at_the_desk() {
    let Some(mut console) = gatehouse_e2e::Console::start("documents_desk", &[]).await else {
        return;
    };
    let api = &console.api;
    let admin = &console.admin;
    let site = api
        .created(
            admin,
            "/sites",
            json!({"name": "HQ", "timezone": "Europe/Berlin"}),
        )
        .await;
    let host = api
        .created(
            admin,
            "/people",
            json!({"name": "Hannah Host", "kind": "staff", "clearance": 1}),
        )
        .await;
    let start = chrono::Utc::now() - chrono::Duration::hours(1);
    let visit = api
        .created(
            admin,
            "/visits",
            json!({"visitor_name": "Vera Visitor", "host_person_id": host["id"],
                "window_start": start.to_rfc3339(),
                "window_end": (start + chrono::Duration::hours(8)).to_rfc3339(),
                "allowed_zone_ids": []}),
        )
        .await;
    let template = api
        .created(
            admin,
            "/document-templates",
            json!({"kind": "nda", "title": "Visitor NDA", "site_id": null,
                "body": "What you see here stays here.\nThank you."}),
        )
        .await;
    let _ = site;
    let visit = visit["id"].as_str().unwrap().to_owned();
    let template = template["id"].as_str().unwrap().to_owned();

    console.login_as("desk", "receptionist").await;
    let browser = &mut console.browser;
    browser.goto(&format!("/visits/{visit}/documents")).await;
    assert!(
        browser
            .page_text()
            .await
            .contains("What you see here stays here.")
    );
    // Draw a stroke on the pad as a pen would.
    let drawn = browser
        .execute(
            "var c = document.querySelector('.signature-pad canvas');\
             var b = c.getBoundingClientRect();\
             function ev(t, x, y) { c.dispatchEvent(new PointerEvent(t, {pointerId: 1,\
               bubbles: true, clientX: b.left + x * b.width, clientY: b.top + y * b.height})); }\
             ev('pointerdown', 0.1, 0.5); ev('pointermove', 0.3, 0.2);\
             ev('pointermove', 0.6, 0.8); ev('pointerup', 0.6, 0.8);\
             return document.getElementsByName('strokes')[0].value;",
        )
        .await;
    let strokes = drawn.as_str().unwrap_or_default();
    assert!(strokes.starts_with("[["), "strokes filled: {drawn}");
    browser.click(&format!("#consent-{template}")).await;
    browser.press("Sign Visitor NDA").await;
    let text = browser.page_text().await;
    assert!(text.contains("Nothing to sign"), "{text}");
    assert!(text.contains("drawn signature"), "{text}");
    let links = browser.links("main table").await;
    assert!(
        links.iter().any(|l| l.ends_with("/pdf")),
        "a link to the signed copy: {links:?}"
    );
    console.finish().await;
}
