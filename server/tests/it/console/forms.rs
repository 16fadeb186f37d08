//! Console actions: refused from another site, logged like the API's; pages escape what
//! people typed and carry the strict Content-Security-Policy.

use super::client::Console;
use crate::common::{ADMIN_PASSWORD, TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn site(app: &TestApp, admin: &str, name: &str) -> String {
    let site = app
        .post(
            "/api/v1/sites",
            admin,
            json!({"name": name, "timezone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(site.status(), StatusCode::CREATED);
    let site: Value = site.json().await.unwrap();
    site["id"].as_str().unwrap().to_owned()
}

async fn lockdown(app: &TestApp, admin: &str, site: &str) -> bool {
    let site = app.get_json(&format!("/api/v1/sites/{site}"), admin).await;
    site["threat"]["lockdown"].as_bool().unwrap()
}

async fn cross_site_posts_are_refused(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let site = site(&app, &admin, "HQ").await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let path = format!("/threat/{site}");
    let fields = [("level", "3"), ("clearance_raise", "0"), ("lockdown", "on")];
    let host = app.base.trim_start_matches("http://").to_owned();
    let own_origin = app.base.clone();
    let refused: [&[(&str, &str)]; 5] = [
        &[("sec-fetch-site", "cross-site")],
        &[("sec-fetch-site", "same-site")],
        &[("origin", "http://evil.example")],
        &[("origin", "null")],
        &[],
    ];
    for headers in refused {
        let answer = console.submit_from(&path, &fields, headers).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{headers:?}");
        assert!(
            answer
                .body
                .contains("did not come from a page of this console")
        );
        assert!(
            !lockdown(&app, &admin, &site).await,
            "{headers:?} changed the site"
        );
    }
    // Browsers without Sec-Fetch-Site: the Origin must be this server.
    let answer = console
        .submit_from(&path, &fields, &[("origin", &own_origin), ("host", &host)])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert!(lockdown(&app, &admin, &site).await);
    // Login and logout are state-changing too.
    let forged_login = Console::new(&app)
        .submit_from(
            "/login",
            &[("username", "admin"), ("password", ADMIN_PASSWORD)],
            &[("sec-fetch-site", "cross-site")],
        )
        .await;
    assert_eq!(forged_login.status, StatusCode::FORBIDDEN);
    let forged_logout = console
        .submit_from("/logout", &[], &[("sec-fetch-site", "cross-site")])
        .await;
    assert_eq!(forged_logout.status, StatusCode::FORBIDDEN);
    assert_eq!(console.get("/threat").await.status, StatusCode::OK);
    app.stop().await;
}

async fn lockdown_confirmed_logged_and_lifted(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let site = site(&app, &admin, "HQ").await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    // The confirmation page changes nothing.
    let confirm = console
        .get(&format!(
            "/threat/{site}?level=4&clearance_raise=2&lockdown=on"
        ))
        .await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(confirm.body.contains("Every door of HQ will refuse entry"));
    assert!(!lockdown(&app, &admin, &site).await);
    let bad = console
        .get(&format!("/threat/{site}?level=999&clearance_raise=0"))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("must be a number from 0 to 255"));

    let applied = console
        .submit(
            &format!("/threat/{site}"),
            &[("level", "4"), ("clearance_raise", "2"), ("lockdown", "on")],
        )
        .await;
    assert_eq!(applied.status, StatusCode::SEE_OTHER);
    let record = app.get_json(&format!("/api/v1/sites/{site}"), &admin).await;
    assert_eq!(record["threat"]["lockdown"], true);
    assert_eq!(record["threat"]["level"], 4);
    // Lifting keeps the level and raise: the page's button sends them unchanged.
    let page = console.get("/threat").await;
    assert!(page.body.contains("Lift lockdown"));
    console
        .submit(
            &format!("/threat/{site}"),
            &[("level", "4"), ("clearance_raise", "2")],
        )
        .await;
    let record = app.get_json(&format!("/api/v1/sites/{site}"), &admin).await;
    assert_eq!(record["threat"]["lockdown"], false);
    assert_eq!(record["threat"]["clearance_raise"], 2);

    let log = app.get_json("/api/v1/operator-log?limit=100", &admin).await;
    let changes: Vec<&Value> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "site.threat_level")
        .collect();
    assert_eq!(
        changes.len(),
        2,
        "both console changes are in the operator log"
    );
    assert_eq!(changes[0]["actor"], "admin");
    assert!(changes[0]["request_id"].is_string());
    assert_eq!(changes[0]["after"]["threat"]["lockdown"], true);
    app.stop().await;
}

conformance!(
    cross_site_posts_are_refused,
    lockdown_confirmed_logged_and_lifted
);

/// Whether an attribute such as ` onclick=` is in the HTML.
fn has_inline_handler(html: &str) -> bool {
    html.match_indices(" on").any(|(at, _)| {
        let rest = &html[at + 3..];
        let name_len = rest.chars().take_while(char::is_ascii_alphabetic).count();
        name_len > 0 && rest[name_len..].starts_with('=')
    })
}

#[tokio::test]
async fn names_are_escaped_and_pages_carry_the_policy() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let evil = "<script>document.title='pwned'</script><b>x</b>";
    site(&app, &admin, evil).await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    for path in [
        "/threat",
        "/occupancy",
        "/muster",
        "/login",
        "/alarms",
        "/desk",
        "/access",
    ] {
        let answer = console.get(path).await;
        let csp = answer.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("style-src 'self'"), "{path}: {csp}");
        assert!(!csp.contains("unsafe"), "{path}: {csp}");
        assert!(
            !answer.body.contains("<script>document"),
            "{path} shows a raw name"
        );
        assert!(
            !answer.body.contains("style=\""),
            "{path} has an inline style"
        );
        assert!(
            !has_inline_handler(&answer.body),
            "{path} has an inline handler"
        );
    }
    let threat = console.get("/threat").await;
    assert!(threat.body.contains("&#60;script&#62;") || threat.body.contains("&lt;script&gt;"));
    app.stop().await;
}

#[tokio::test]
async fn muster_from_start_to_close() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let site = site(&app, &admin, "HQ").await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let started = console.submit("/muster", &[("site", &site)]).await;
    assert_eq!(started.status, StatusCode::SEE_OTHER);
    let muster = started.location().to_owned();
    assert!(muster.starts_with("/muster/"));
    let page = console.get(&muster).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("0 of 0 not accounted for"));
    let list = console.get("/muster").await;
    assert!(list.body.contains(&format!("href=\"{muster}\"")));
    let print = console.get(&format!("{muster}/print")).await;
    assert_eq!(print.status, StatusCode::OK);
    let closed = console.submit(&format!("{muster}/close"), &[]).await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER);
    let page = console.get(&muster).await;
    assert!(page.body.contains("Closed"));
    assert!(!page.body.contains("Close muster</button>"));
    let again = console.submit(&format!("{muster}/close"), &[]).await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    app.stop().await;
}
