//! The kiosk: enrolled once with a code from the administration page, it checks in a
//! visitor of its own site by the code and registers walk-ins; revoked, it stops.

use super::client::Console;
use crate::common::{ADMIN_PASSWORD, TestApp, TestDb, expect};
use crate::visits::support::{site, visit};
use reqwest::StatusCode;
use reqwest::header::SET_COOKIE;
use serde_json::json;

conformance!(a_kiosk_checks_in_its_own_sites_visitors_and_registers_walk_ins);

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
