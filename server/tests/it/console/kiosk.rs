//! The kiosk: enrolled once with a code from the administration page, it checks in a
//! visitor of its own site by the code and registers walk-ins; revoked, it stops. The
//! visitor signs the documents due at the kiosk as at the desk (the same records and log
//! entries), is checked in only once all are signed, and prints the badge there.

use super::client::{Answer, Console};
use crate::common::{ADMIN_PASSWORD, PASSWORD, TestApp, TestDb, expect};
use crate::visits::support::{site, visit};
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::{Value, json};

conformance!(
    a_kiosk_checks_in_its_own_sites_visitors_and_registers_walk_ins,
    a_visitor_signs_the_documents_at_the_kiosk_then_is_checked_in_and_prints_the_badge,
);

async fn a_kiosk_checks_in_its_own_sites_visitors_and_registers_walk_ins(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let admin = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let page = admin
        .submit(
            "/admin/kiosks",
            &[("name", "Main lobby"), ("site", &s.site)],
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    let code = page
        .body
        .split("id=\"kiosk-code\">")
        .nth(1)
        .unwrap()
        .split('<')
        .next()
        .unwrap()
        .to_owned();

    let tablet = Console::new(&app);
    let first = tablet.get("/kiosk").await;
    assert!(first.body.contains("Set up this kiosk"));
    let wrong = tablet
        .submit("/kiosk/enrol", &[("code", "WRONGWRONGWRONG1")])
        .await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY);
    let enrolled = tablet
        .submit("/kiosk/enrol", &[("code", &code.to_lowercase())])
        .await;
    assert_eq!(enrolled.status, StatusCode::SEE_OTHER);
    let cookie = enrolled.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("Path=/kiosk"),
        "{cookie}"
    );
    let tablet = Console::with_cookie(&app, cookie.split(';').next().unwrap());
    let again = Console::new(&app)
        .submit("/kiosk/enrol", &[("code", &code)])
        .await;
    assert_eq!(
        again.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a code works once"
    );
    assert!(
        tablet
            .get("/kiosk")
            .await
            .body
            .contains("Type or scan the code")
    );

    let v = expect(
        app.post("/api/v1/visits", &s.admin, visit(&s.host, &[&s.lobby], 60))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let code = v["check_in_code"].as_str().unwrap();
    let unknown = tablet
        .submit("/kiosk/code", &[("code", "ZZZZZZZZZZ")])
        .await;
    assert!(unknown.body.contains("could not find this code"));
    let confirm = tablet.submit("/kiosk/code", &[("code", code)]).await;
    assert!(
        confirm.body.contains("Vera Visitor") && confirm.body.contains("Hana Host"),
        "{}",
        confirm.body
    );
    assert!(
        !confirm.body.contains(v["id"].as_str().unwrap()),
        "no visit id on a kiosk page"
    );
    let done = tablet.submit("/kiosk/check-in", &[("code", code)]).await;
    assert!(done.body.contains("You are checked in"), "{}", done.body);
    let path = format!("/api/v1/visits/{}", v["id"].as_str().unwrap());
    assert_eq!(app.get_json(&path, &s.admin).await["status"], "checked_in");
    let twice = tablet.submit("/kiosk/code", &[("code", code)]).await;
    assert!(twice.body.contains("already checked in"));
    // A visit at another site is not this kiosk's.
    let grant = json!({"person_id": s.host, "zone_id": s.elsewhere});
    expect(
        app.post("/api/v1/grants", &s.admin, grant).await,
        StatusCode::CREATED,
    )
    .await;
    let elsewhere = expect(
        app.post(
            "/api/v1/visits",
            &s.admin,
            visit(&s.host, &[&s.elsewhere], 60),
        )
        .await,
        StatusCode::CREATED,
    );
    let elsewhere = elsewhere.await;
    let other = tablet
        .submit(
            "/kiosk/code",
            &[("code", elsewhere["check_in_code"].as_str().unwrap())],
        )
        .await;
    assert!(other.body.contains("another site"));

    let walk_in = tablet
        .submit(
            "/kiosk/walk-in",
            &[
                ("name", "Wanda Walker"),
                ("organisation", ""),
                ("email", ""),
                ("host", "hana host"),
            ],
        )
        .await;
    assert!(
        walk_in.body.contains("Reception will be with you"),
        "{}",
        walk_in.body
    );
    let expected = app.get_json("/api/v1/visits?q=wanda", &s.admin).await;
    let wanda = &expected["items"][0];
    assert_eq!(
        (wanda["status"].as_str(), wanda["site_id"].as_str()),
        (Some("invited"), Some(s.site.as_str()))
    );
    assert!(
        wanda["purpose"]
            .as_str()
            .unwrap()
            .contains("Walk-in at the kiosk Main lobby")
    );
    let nobody = tablet
        .submit("/kiosk/walk-in", &[("name", "X"), ("host", "Nobody Here")])
        .await;
    assert_eq!(nobody.status, StatusCode::UNPROCESSABLE_ENTITY);
    let log = app
        .get_json("/api/v1/operator-log?limit=500", &s.admin)
        .await
        .to_string();
    assert!(
        log.contains("kiosk Main lobby"),
        "the kiosk is the actor of its check-ins"
    );

    let kiosks = admin.get("/admin/kiosks").await.body;
    let id = kiosks
        .split("/admin/kiosks/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let revoked = admin
        .submit(&format!("/admin/kiosks/{id}/revoke"), &[])
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    assert!(
        tablet
            .get("/kiosk")
            .await
            .body
            .contains("Set up this kiosk"),
        "a revoked kiosk stops"
    );
    let after = tablet.submit("/kiosk/code", &[("code", code)]).await;
    assert_eq!(after.status, StatusCode::SEE_OTHER);
}

/// Registers a kiosk "Main lobby" at the site and enrols a browser: the tablet.
async fn enrolled<'a>(app: &'a TestApp, site: &str) -> Console<'a> {
    let admin = Console::login(app, "admin", ADMIN_PASSWORD).await;
    let page = admin
        .submit("/admin/kiosks", &[("name", "Main lobby"), ("site", site)])
        .await;
    let code = page.body.split("id=\"kiosk-code\">").nth(1).unwrap();
    let code = code.split('<').next().unwrap();
    let enrolled = Console::new(app)
        .submit("/kiosk/enrol", &[("code", code)])
        .await;
    let cookie = enrolled.headers.get(SET_COOKIE).unwrap().to_str().unwrap();
    Console::with_cookie(app, cookie.split(';').next().unwrap())
}

/// A kiosk page: no visit id, no link into the console's visit pages.
fn no_visit_id(page: &Answer, ids: &[&str]) {
    for id in ids {
        assert!(
            !page.body.contains(id),
            "a visit id on a kiosk page: {}",
            page.body
        );
    }
    assert!(!page.body.contains("/visits/"), "{}", page.body);
}

/// The signatures of a visit, as (template, version, method, consent), and the details
/// of its `visit.document_signed` entries with their actor, sorted by template.
async fn signatures(app: &TestApp, admin: &str, visit: &str) -> (Vec<Value>, Vec<Value>) {
    let documents = app
        .get_json(&format!("/api/v1/visits/{visit}/documents"), admin)
        .await;
    let mut signed: Vec<Value> = documents["signed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| json!([s["template_id"], s["version"], s["method"], s["consent"]]))
        .collect();
    signed.sort_by_key(Value::to_string);
    let log = app
        .get_json(
            &format!(
                "/api/v1/operator-log?limit=500&action=visit.document_signed&target_id={visit}"
            ),
            admin,
        )
        .await;
    let mut entries: Vec<Value> = log["items"].as_array().unwrap().clone();
    entries.sort_by_key(|e| e["after"]["template_id"].to_string());
    (signed, entries)
}

async fn a_visitor_signs_the_documents_at_the_kiosk_then_is_checked_in_and_prints_the_badge(
    db: &TestDb,
) {
    let app = TestApp::start_on(db).await;
    let s = site(&app).await;
    let tablet = enrolled(&app, &s.site).await;
    let mut templates = Vec::new();
    for (kind, title, site) in [
        ("nda", "Visitor NDA", json!(s.site)),
        ("safety_briefing", "Safety briefing", json!(null)),
    ] {
        let body = json!({"kind": kind, "title": title, "site_id": site,
            "body": format!("{title}: what you see here stays here.")});
        let t = expect(
            app.post("/api/v1/document-templates", &s.admin, body).await,
            StatusCode::CREATED,
        )
        .await;
        templates.push(t["id"].as_str().unwrap().to_owned());
    }
    let new_visit = || async {
        expect(
            app.post("/api/v1/visits", &s.admin, visit(&s.host, &[&s.lobby], 60))
                .await,
            StatusCode::CREATED,
        )
        .await
    };
    let (kiosk_visit, desk_visit) = (new_visit().await, new_visit().await);
    let id = kiosk_visit["id"].as_str().unwrap();
    let desk_id = desk_visit["id"].as_str().unwrap();
    let ids = [id, desk_id];
    let code = kiosk_visit["check_in_code"].as_str().unwrap();
    let status = |visit: &str| {
        let path = format!("/api/v1/visits/{visit}");
        let admin = s.admin.clone();
        let app = &app;
        async move { app.get_json(&path, &admin).await["status"].clone() }
    };

    let confirm = tablet.submit("/kiosk/code", &[("code", code)]).await;
    assert!(
        confirm.body.contains("sign 2 documents"),
        "{}",
        confirm.body
    );
    assert!(confirm.body.contains("Yes, continue"));
    no_visit_id(&confirm, &ids);
    // Confirming shows the first document; the visitor is not checked in yet.
    let first = tablet.submit("/kiosk/check-in", &[("code", code)]).await;
    assert_eq!(first.status, StatusCode::OK);
    assert!(first.body.contains("2 documents to sign"), "{}", first.body);
    assert!(first.body.contains("what you see here stays here."));
    assert!(first.body.contains("action=\"/kiosk/sign\""));
    no_visit_id(&first, &ids);
    assert_eq!(status(id).await, "invited");
    let shown = |page: &Answer| {
        templates
            .iter()
            .find(|t| page.body.contains(&format!("value=\"{t}\"")))
            .unwrap()
            .clone()
    };
    let template = shown(&first);
    let sign = |template: String, version: &'static str, consent: bool| {
        let tablet = &tablet;
        async move {
            let mut fields = vec![
                ("code", code.to_lowercase()),
                ("template", template),
                ("version", version.to_owned()),
                ("typed_name", "Vera Visitor".to_owned()),
                ("strokes", String::new()),
            ];
            if consent {
                fields.push(("consent", "yes".to_owned()));
            }
            let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            tablet.submit("/kiosk/sign", &fields).await
        }
    };
    let no_consent = sign(template.clone(), "1", false).await;
    assert_eq!(no_consent.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        no_consent.body.contains("tick the box"),
        "{}",
        no_consent.body
    );
    assert!(
        no_consent.body.contains("value=\"Vera Visitor\""),
        "the name is kept"
    );
    let second = sign(template.clone(), "1", true).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let next = shown(&second);
    assert_ne!(next, template, "the next document follows");
    assert!(!second.body.contains("documents to sign"), "one left");
    no_visit_id(&second, &ids);
    // Check-in is refused while a document is unsigned: the kiosk shows it again.
    let early = tablet.submit("/kiosk/check-in", &[("code", code)]).await;
    assert_eq!(shown(&early), next);
    assert_eq!(status(id).await, "invited");
    let again = sign(template.clone(), "1", true).await;
    assert_eq!(
        again.status,
        StatusCode::OK,
        "a second tap is no error: {}",
        again.body
    );
    assert_eq!(shown(&again), next);
    // A new version published while the visitor reads: shown again, not signed.
    let path = format!("/api/v1/document-templates/{next}");
    let change = json!({"body": "A new text: please read it."});
    let patched = app.patch(&path, &s.admin, change).await;
    assert_eq!(patched.status(), StatusCode::OK);
    let stale = sign(next.clone(), "1", true).await;
    assert_eq!(stale.status, StatusCode::CONFLICT, "{}", stale.body);
    assert!(stale.body.contains("has changed") && stale.body.contains("(version 2)"));
    assert_eq!(status(id).await, "invited");
    let done = sign(next.clone(), "2", true).await;
    assert!(done.body.contains("You are checked in"), "{}", done.body);
    assert!(
        done.body.contains("Hana Host has been told"),
        "{}",
        done.body
    );
    let badge_link = format!("/kiosk/badge?code={}", normalised(code));
    assert!(done.body.contains(&badge_link), "{}", done.body);
    no_visit_id(&done, &ids);
    assert_eq!(status(id).await, "checked_in");
    let declined = tablet.get("/kiosk/declined").await;
    assert!(declined.body.contains("Please ask at reception"));

    // The desk signs the same documents for another visit: the same records and entries.
    app.create_operator(&s.admin, "desk", "receptionist").await;
    let desk = Console::login(&app, "desk", PASSWORD).await;
    for template in &templates {
        let path = format!("/visits/{desk_id}/documents/{template}/sign");
        // No version: whatever is current (the kiosk signed version 2 of one of them).
        let fields = [
            ("version", ""),
            ("typed_name", "Vera Visitor"),
            ("strokes", ""),
            ("consent", "yes"),
        ];
        assert_eq!(
            desk.submit(&path, &fields).await.status,
            StatusCode::SEE_OTHER
        );
    }
    let (at_kiosk, kiosk_log) = signatures(&app, &s.admin, id).await;
    let (at_desk, desk_log) = signatures(&app, &s.admin, desk_id).await;
    assert_eq!(at_kiosk.len(), 2);
    assert_eq!(at_kiosk, at_desk);
    assert_eq!((kiosk_log.len(), desk_log.len()), (2, 2));
    for (k, d) in kiosk_log.iter().zip(&desk_log) {
        assert_eq!(k["actor"], "kiosk Main lobby");
        assert_eq!(d["actor"], "desk");
        let keys = |e: &Value| {
            e["after"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(keys(k), keys(d));
        for same in [
            "template_id",
            "kind",
            "title",
            "version",
            "body_sha256",
            "method",
        ] {
            assert_eq!(k["after"][same], d["after"][same], "{same}");
        }
    }

    // The badge: for this kiosk's checked-in visitor, with the kiosk's cookie only.
    let badge = tablet.get(&badge_link).await;
    assert_eq!(badge.status, StatusCode::OK, "{}", badge.body);
    assert_eq!(badge.headers["content-type"], "application/pdf");
    assert!(badge.body.starts_with("%PDF"));
    let log = app
        .get_json(
            "/api/v1/operator-log?limit=500&action=visit.badge_printed",
            &s.admin,
        )
        .await;
    assert_eq!(log["items"][0]["actor"], "kiosk Main lobby");
    let no_cookie = Console::new(&app).get(&badge_link).await;
    assert_eq!(no_cookie.status, StatusCode::FORBIDDEN);
    let desk_code = desk_visit["check_in_code"].as_str().unwrap();
    let not_in = tablet.get(&format!("/kiosk/badge?code={desk_code}")).await;
    assert_eq!(not_in.status, StatusCode::NOT_FOUND, "not checked in");
    let unknown = tablet.get("/kiosk/badge?code=ZZZZZZZZZZ").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let grant = json!({"person_id": s.host, "zone_id": s.elsewhere});
    expect(
        app.post("/api/v1/grants", &s.admin, grant).await,
        StatusCode::CREATED,
    )
    .await;
    let elsewhere = visit(&s.host, &[&s.elsewhere], 60);
    let elsewhere = expect(
        app.post("/api/v1/visits", &s.admin, elsewhere).await,
        StatusCode::CREATED,
    )
    .await;
    let path = format!(
        "/api/v1/visits/{}/check-in",
        elsewhere["id"].as_str().unwrap()
    );
    expect(app.post(&path, &s.admin, json!({})).await, StatusCode::OK).await;
    let other_code = elsewhere["check_in_code"].as_str().unwrap();
    let other_site = tablet.get(&format!("/kiosk/badge?code={other_code}")).await;
    assert_eq!(
        other_site.status,
        StatusCode::NOT_FOUND,
        "another site's visitor"
    );
}

fn normalised(code: &str) -> String {
    gatehouse_server::store::normalise_check_in_code(code)
}
