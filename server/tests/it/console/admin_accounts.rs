//! Door agents, operator accounts and the server's health through the console: an agent
//! registered with its code and the exact `door-agent enroll` command shown once, a new
//! code and revocation; accounts created, re-roled (ending their sessions), disabled and
//! given a new password under the API's rules; the health page's facts.

use super::client::Console;
use crate::common::{ADMIN_PASSWORD, PASSWORD, TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn door(app: &TestApp, admin: &str) -> String {
    let site: Value = app
        .post(
            "/api/v1/sites",
            admin,
            json!({"name": "HQ", "timezone": "Europe/Berlin"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let zone = |name: &'static str| json!({"site_id": site["id"], "name": name, "level": 0});
    let outside: Value = app
        .post("/api/v1/zones", admin, zone("Street"))
        .await
        .json()
        .await
        .unwrap();
    let inside: Value = app
        .post("/api/v1/zones", admin, zone("Lobby"))
        .await
        .json()
        .await
        .unwrap();
    let door: Value = app
        .post(
            "/api/v1/doors",
            admin,
            json!({"name": "Front", "from_zone_id": outside["id"], "to_zone_id": inside["id"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    door["id"].as_str().unwrap().to_owned()
}

/// The text between `<pre class="command" id="enroll-command">` and `</pre>`.
fn command(body: &str) -> String {
    let start = body.find("id=\"enroll-command\">").unwrap() + "id=\"enroll-command\">".len();
    let end = body[start..].find("</pre>").unwrap();
    body[start..start + end].to_owned()
}

async fn agents_registered_with_the_enroll_command(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let door_id = door(&app, &admin).await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let page = console.get("/admin/agents").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No door agent is registered yet"));
    assert!(page.body.contains("Front · HQ"));

    // No door ticked: the API's check names the field.
    let answer = console
        .submit("/admin/agents", &[("name", "pi-front")])
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.body.contains("door ids"), "{}", answer.body);

    let answer = console
        .submit(
            "/admin/agents",
            &[("name", "pi-front"), ("door_ids", &door_id)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.headers.get("cache-control").unwrap(),
        "no-store",
        "the code is not kept by the browser"
    );
    let shown = command(&answer.body);
    let host = app.base.trim_start_matches("http://");
    let prefix = format!("door-agent enroll --server http://{host} --code ");
    assert!(shown.starts_with(&prefix), "{shown}");
    let code = shown[prefix.len()..].split(' ').next().unwrap().to_owned();
    assert_eq!(code.len(), 16);
    assert!(shown.ends_with(" --config /etc/gatehouse/door-agent.toml"));
    assert!(answer.body.contains("allow_plain_http"));

    // The code works at the agent endpoint, once.
    let enrolled = app
        .request(reqwest::Method::POST, "/api/v1/agent/enroll", None)
        .json(&json!({"code": code}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        enrolled.status(),
        StatusCode::OK,
        "{:?}",
        enrolled.text().await
    );
    let agents = app.get_json("/api/v1/agents", &admin).await;
    let agent = agents["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(agents["items"][0]["status"], "active");
    let page = console.get("/admin/agents").await;
    assert!(page.body.contains("pi-front"));
    assert!(page.body.contains("enrolled "));
    assert!(page.body.contains("(served by pi-front)"));

    // A second agent for the same door: the API's 409.
    let answer = console
        .submit(
            "/admin/agents",
            &[("name", "pi-two"), ("door_ids", &door_id)],
        )
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT);

    let answer = console
        .submit(&format!("/admin/agents/{agent}/code"), &[])
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_ne!(command(&answer.body), shown, "a new code");
    let answer = console
        .submit(&format!("/admin/agents/{agent}/revoke"), &[])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let record = app
        .get_json(&format!("/api/v1/agents/{agent}"), &admin)
        .await;
    assert_eq!(record["status"], "revoked");
    let answer = console
        .submit(&format!("/admin/agents/{agent}/revoke"), &[])
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT);

    // A security officer sees the agents but no form.
    app.create_operator(&admin, "sam", "security").await;
    let officer = Console::login(&app, "sam", PASSWORD).await;
    let page = officer.get("/admin/agents").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("pi-front"));
    assert!(
        !page.body.contains("action=\"/admin/agents"),
        "no form for officers"
    );
    let answer = officer
        .submit("/admin/agents", &[("name", "x"), ("door_ids", &door_id)])
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let log = app
        .get_json("/api/v1/operator-log?limit=100&actor=admin", &admin)
        .await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for action in ["agent.create", "agent.enrollment_code", "agent.revoke"] {
        assert!(actions.contains(&action), "{action}: {actions:?}");
    }
    app.stop().await;
}

async fn operator_accounts(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let page = console.get("/admin/operators").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("admin <span class=\"muted\">(you)</span>")
    );

    // Refusals name their fields; nothing is created.
    let answer = console
        .submit(
            "/admin/operators",
            &[
                ("username", "Bad Name"),
                ("display_name", ""),
                ("role", "security"),
                ("password", "short"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer.body.contains("<strong>username</strong>"),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("<strong>password</strong>"));
    let answer = console
        .submit(
            "/admin/operators",
            &[
                ("username", "sam"),
                ("display_name", "Sam Guard"),
                ("role", "security"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let answer = console
        .submit(
            "/admin/operators",
            &[
                ("username", "sam"),
                ("display_name", ""),
                ("role", "host"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT, "username taken");
    let operators = app.get_json("/api/v1/operators", &admin).await;
    let sam = operators["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["username"] == "sam")
        .unwrap();
    assert_eq!(sam["display_name"], "Sam Guard");
    assert_eq!(sam["role"], "security");
    let sam = sam["id"].as_str().unwrap().to_owned();

    // A role change ends Sam's console session at once.
    let sams = Console::login(&app, "sam", PASSWORD).await;
    assert_eq!(sams.get("/desk").await.status, StatusCode::OK);
    let answer = console
        .submit(
            &format!("/admin/operators/{sam}/role"),
            &[("role", "auditor")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(
        sams.get("/desk").await.status,
        StatusCode::SEE_OTHER,
        "logged out"
    );
    let record = app
        .get_json(&format!("/api/v1/operators/{sam}"), &admin)
        .await;
    assert_eq!(record["role"], "auditor");
    let answer = console
        .submit(&format!("/admin/operators/{sam}/role"), &[("role", "king")])
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);

    // Disable and enable; a new password (too short first).
    let answer = console
        .submit(
            &format!("/admin/operators/{sam}/status"),
            &[("status", "disabled")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.try_login("sam", PASSWORD).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let page = console.get("/admin/operators").await;
    assert!(page.body.contains(">disabled</span>"));
    let answer = console
        .submit(
            &format!("/admin/operators/{sam}/status"),
            &[("status", "active")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let answer = console
        .submit(
            &format!("/admin/operators/{sam}/password"),
            &[("password", "short")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let answer = console
        .submit(
            &format!("/admin/operators/{sam}/password"),
            &[("password", "a-brand-new-password")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.try_login("sam", "a-brand-new-password").await.status(),
        StatusCode::OK
    );

    // The last active admin cannot demote themself (the API's 409).
    let me = operators["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["username"] == "admin")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = console
        .submit(
            &format!("/admin/operators/{me}/role"),
            &[("role", "auditor")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT);

    // Only admins manage accounts.
    let auditor = Console::login(&app, "sam", "a-brand-new-password").await;
    assert_eq!(
        auditor.get("/admin/operators").await.status,
        StatusCode::FORBIDDEN
    );
    let answer = auditor
        .submit(
            &format!("/admin/operators/{me}/role"),
            &[("role", "auditor")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    app.stop().await;
}

async fn server_health(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    door(&app, &admin).await;
    app.create_operator(&admin, "audrey", "auditor").await;
    let auditor = Console::login(&app, "audrey", PASSWORD).await;
    let page = auditor.get("/admin/health").await;
    assert_eq!(page.status, StatusCode::OK);
    let kind = if db.url.starts_with("sqlite") {
        "SQLite"
    } else {
        "PostgreSQL"
    };
    assert!(
        page.body
            .contains(&format!("{kind}, <span class=\"badge good\">reachable"))
    );
    let newest = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations/sqlite"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().to_str()?.get(..4).map(str::to_owned))
        .max()
        .unwrap();
    assert!(
        page.body.contains(&format!("<dd>{newest}</dd>")),
        "{}",
        page.body
    );
    assert!(page.body.contains("records chained"));
    assert!(page.body.contains("Never run."));
    assert!(page.body.contains("href=\"/audit\""));
    // A verification (here the API's) is recorded, with what it found.
    let report = app.get_json("/api/v1/audit/verify", &admin).await;
    assert_eq!(report["ok"], true);
    let page = auditor.get("/admin/health").await;
    assert!(
        page.body
            .contains(&format!("intact: {} records", report["records"])),
        "{}",
        page.body
    );
    assert!(page.body.contains("0 of 0 enrolled door agents online"));
    app.create_operator(&admin, "sam", "security").await;
    let officer = Console::login(&app, "sam", PASSWORD).await;
    assert_eq!(
        officer.get("/admin/health").await.status,
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

conformance!(
    agents_registered_with_the_enroll_command,
    operator_accounts,
    server_health
);

/// The administration pages of this module × every role: the roles its menu entry names
/// (the API's read permission) open it, the others get a 403 page; the menu offers it
/// exactly to them.
#[tokio::test]
async fn admin_pages_for_every_role() {
    use gatehouse_core::role::Role;
    use gatehouse_server::console::page::ADMIN_PAGES;
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let mine = [
        "/admin/sites",
        "/admin/schedules",
        "/admin/agents",
        "/admin/operators",
        "/admin/health",
    ];
    for role in Role::ALL {
        let console = if role == Role::Admin {
            Console::login(&app, "admin", ADMIN_PASSWORD).await
        } else {
            let name = format!("op-{}", role.as_str());
            app.create_operator(&admin, &name, role.as_str()).await;
            Console::login(&app, &name, PASSWORD).await
        };
        for page in ADMIN_PAGES.iter().filter(|p| mine.contains(&p.path)) {
            let answer = console.get(page.path).await;
            let expected = if page.roles.contains(&role) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(answer.status, expected, "{role:?} GET {}", page.path);
            if expected == StatusCode::OK {
                let subnav = answer
                    .body
                    .split("aria-label=\"Administration\"")
                    .nth(1)
                    .unwrap();
                for other in ADMIN_PAGES {
                    let offered = subnav.contains(&format!("href=\"{}\"", other.path));
                    assert_eq!(
                        offered,
                        other.roles.contains(&role),
                        "{role:?} {}",
                        other.path
                    );
                }
            }
        }
    }
    app.stop().await;
}
