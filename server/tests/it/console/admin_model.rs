//! The site model's administration pages: sites, the zone tree, doors and schedules
//! created, changed and refused through the console as through the API (same checks,
//! same operator-log entries), and the read-only view of roles that may not write.

use super::client::Console;
use crate::common::{ADMIN_PASSWORD, PASSWORD, TestApp, TestDb};
use reqwest::StatusCode;
use serde_json::Value;

/// The id at the end of a redirect's location.
fn id_in(location: &str) -> String {
    location.rsplit('/').next().unwrap().to_owned()
}

async fn zones_of(app: &TestApp, admin: &str, site: &str) -> Vec<Value> {
    let zones = app
        .get_json(&format!("/api/v1/zones?site_id={site}"), admin)
        .await;
    zones["items"].as_array().unwrap().clone()
}

fn zone_named<'a>(zones: &'a [Value], name: &str) -> &'a Value {
    zones.iter().find(|z| z["name"] == name).unwrap()
}

async fn actions_by(app: &TestApp, admin: &str, actor: &str) -> Vec<String> {
    let log = app
        .get_json(
            &format!("/api/v1/operator-log?limit=100&actor={actor}"),
            admin,
        )
        .await;
    log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn site_zones_and_doors(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;

    let page = console.get("/admin/sites").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("There are no sites yet"));
    assert!(page.body.contains("<option>Europe/Berlin</option>"));
    let created = console
        .submit(
            "/admin/sites",
            &[("name", "Research campus"), ("timezone", "Europe/Berlin")],
        )
        .await;
    assert_eq!(created.status, StatusCode::SEE_OTHER);
    let site = id_in(created.location());
    let base = format!("/admin/sites/{site}");
    assert_eq!(created.location(), base);

    // A root zone and one inside it, with rules.
    let zone = |name: &'static str, parent: String, level: &'static str| {
        vec![
            ("name", name.to_owned()),
            ("parent", parent),
            ("level", level.to_owned()),
            ("anti_passback", "off".to_owned()),
            ("anti_passback_timeout_s", String::new()),
            ("max_occupancy", String::new()),
        ]
    };
    let post = |path: String, fields: Vec<(&'static str, String)>| {
        let console = &console;
        async move {
            let refs: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
            console.submit(&path, &refs).await
        }
    };
    let answer = post(
        format!("{base}/zones"),
        zone("Building", String::new(), "1"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let zones = zones_of(&app, &admin, &site).await;
    let building = zone_named(&zones, "Building")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut lab = zone("Lab", building.clone(), "3");
    lab.push(("vetting_required", "on".to_owned()));
    lab.push(("pin_required", "on".to_owned()));
    lab.retain(|(k, _)| *k != "max_occupancy" && *k != "anti_passback");
    lab.push(("max_occupancy", "5".to_owned()));
    lab.push(("anti_passback", "hard".to_owned()));
    lab.push(("min_assurance", "secure".to_owned()));
    let answer = post(format!("{base}/zones"), lab).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let zones = zones_of(&app, &admin, &site).await;
    let lab = zone_named(&zones, "Lab");
    assert_eq!(lab["parent_id"], building.as_str());
    assert_eq!(lab["level"], 3);
    assert_eq!(lab["vetting_required"], true);
    assert_eq!(lab["pin_required"], true);
    assert_eq!(lab["escort_required"], false);
    assert_eq!(lab["max_occupancy"], 5);
    assert_eq!(lab["anti_passback"], "hard");
    assert_eq!(lab["min_assurance"], "secure");
    assert_eq!(zone_named(&zones, "Building")["min_assurance"], "uid");
    let lab = lab["id"].as_str().unwrap().to_owned();
    let page = console.get(&format!("{base}/zones/{lab}")).await;
    assert!(page.body.contains("secure cards only"), "{}", page.body);
    let mut gold = zone("Vault", lab.clone(), "4");
    gold.push(("min_assurance", "gold".to_owned()));
    let answer = post(format!("{base}/zones"), gold).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.body.contains("uid or secure"), "{}", answer.body);

    // Refused fields are named, all at once, and nothing is created.
    let mut bad = zone("Vault", lab.clone(), "high");
    bad.retain(|(k, _)| *k != "max_occupancy");
    bad.push(("max_occupancy", "0".to_owned()));
    let answer = post(format!("{base}/zones"), bad).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        answer.body.contains("<strong>level</strong>"),
        "{}",
        answer.body
    );
    let answer = post(format!("{base}/zones"), zone("Vault", lab.clone(), "4")).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let mut full = zone("Annex", String::new(), "0");
    full.retain(|(k, _)| *k != "max_occupancy");
    full.push(("max_occupancy", "0".to_owned()));
    let answer = post(format!("{base}/zones"), full).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.body.contains("max occupancy"), "{}", answer.body);
    assert_eq!(zones_of(&app, &admin, &site).await.len(), 3);

    // A door between the two.
    let door = vec![
        ("name", "Lab door".to_owned()),
        ("from_zone_id", building.clone()),
        ("to_zone_id", lab.clone()),
        ("mode", "normal".to_owned()),
        ("unlock_ms", "4000".to_owned()),
        ("held_open_ms", String::new()),
    ];
    let answer = post(format!("{base}/doors"), door.clone()).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let doors = app
        .get_json(&format!("/api/v1/doors?site_id={site}"), &admin)
        .await;
    let door_record = &doors["items"][0];
    assert_eq!(door_record["unlock_ms"], 4000);
    assert_eq!(door_record["held_open_ms"], 30000);
    let door_id = door_record["id"].as_str().unwrap().to_owned();
    // A door into the zone it leaves is the API's 422.
    let mut same = door.clone();
    same.retain(|(k, _)| *k != "to_zone_id");
    same.push(("to_zone_id", building.clone()));
    let answer = post(format!("{base}/doors"), same).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);

    // The site's page: the tree nests Lab (and Vault) under Building, rules in words.
    let page = console.get(&base).await;
    assert_eq!(page.status, StatusCode::OK);
    let tree = page.body.split("zone-tree").nth(1).unwrap();
    let building_at = tree.find(">Building</a>").unwrap();
    let nested = tree.find("<ul>").unwrap();
    let lab_at = tree.find(">Lab</a>").unwrap();
    assert!(building_at < nested && nested < lab_at, "{tree}");
    assert!(
        page.body
            .contains("clearance level 3 or higher, valid vetting required")
    );
    assert!(page.body.contains("hard anti-passback (refused)"));
    assert!(page.body.contains("at most 5 inside"));
    assert!(page.body.contains(&format!("/admin/groups/who?zone={lab}")));
    assert!(page.body.contains(">Lab door</a>"));
    assert!(page.body.contains("no door agent"));
    assert!(
        !page.body.contains(&format!(">{lab}<")),
        "no UUID shown as text"
    );

    // Change the zone and the door; the edit page shows the values.
    let zone_page = console.get(&format!("{base}/zones/{lab}")).await;
    assert_eq!(zone_page.status, StatusCode::OK);
    assert!(zone_page.body.contains("value=\"5\""));
    assert!(zone_page.body.contains("Building › Lab"));
    let mut renamed = zone("Laboratory", building.clone(), "3");
    renamed.push(("vetting_required", "on".to_owned()));
    let answer = post(format!("{base}/zones/{lab}"), renamed).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let record = app.get_json(&format!("/api/v1/zones/{lab}"), &admin).await;
    assert_eq!(record["name"], "Laboratory");
    assert_eq!(record["pin_required"], false);
    assert_eq!(record["max_occupancy"], Value::Null);
    // A zone cannot move inside itself.
    let answer = post(
        format!("{base}/zones/{building}"),
        zone("Building", lab.clone(), "1"),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut door_change = door.clone();
    door_change[0].1 = "Laboratory door".to_owned();
    door_change.retain(|(k, _)| *k != "mode");
    door_change.push(("mode", "locked".to_owned()));
    let answer = post(format!("{base}/doors/{door_id}"), door_change).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let record = app
        .get_json(&format!("/api/v1/doors/{door_id}"), &admin)
        .await;
    assert_eq!(record["name"], "Laboratory door");
    assert_eq!(record["mode"], "locked");
    let door_page = console.get(&format!("{base}/doors/{door_id}")).await;
    assert!(door_page.body.contains("From Building into Laboratory"));

    // Deleting: refused while in use (409), then allowed from the leaves up.
    let answer = console.submit(&format!("{base}/delete"), &[]).await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    let answer = console
        .submit(&format!("{base}/zones/{lab}/delete"), &[])
        .await;
    assert_eq!(answer.status, StatusCode::CONFLICT);
    let answer = console
        .submit(&format!("{base}/doors/{door_id}/delete"), &[])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);

    // Rename the site and change its zone.
    let answer = console
        .submit(&base, &[("name", "Campus"), ("timezone", "Europe/Paris")])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let record = app.get_json(&format!("/api/v1/sites/{site}"), &admin).await;
    assert_eq!(record["timezone"], "Europe/Paris");
    let answer = console
        .submit(&base, &[("name", "Campus"), ("timezone", "Mars/Olympus")])
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.body.contains("timezone"));
    // Secure cards only from threat level 2; then never again.
    let secure_from = |level: &'static str| {
        let fields = [
            ("name", "Campus"),
            ("timezone", "Europe/Paris"),
            ("secure_cards_from_threat_level", level),
        ];
        let console = &console;
        let base = &base;
        async move { console.submit(base, &fields).await }
    };
    assert_eq!(secure_from("2").await.status, StatusCode::SEE_OTHER);
    let record = app.get_json(&format!("/api/v1/sites/{site}"), &admin).await;
    assert_eq!(record["secure_cards_from_threat_level"], 2);
    let page = console.get(&base).await;
    assert!(page.body.contains(r#"value="2""#), "{}", page.body);
    let refused = secure_from("high").await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("threat level from 0 to 255"),
        "{}",
        refused.body
    );
    assert_eq!(secure_from("").await.status, StatusCode::SEE_OTHER);
    let record = app.get_json(&format!("/api/v1/sites/{site}"), &admin).await;
    assert_eq!(record["secure_cards_from_threat_level"], Value::Null);

    let actions = actions_by(&app, &admin, "admin").await;
    for action in [
        "site.create",
        "zone.create",
        "door.create",
        "zone.update",
        "door.update",
        "door.delete",
        "site.update",
    ] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
    app.stop().await;
}

async fn schedules_and_holidays(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let created = console
        .submit(
            "/admin/sites",
            &[("name", "HQ"), ("timezone", "Europe/Berlin")],
        )
        .await;
    let site = id_in(created.location());

    let answer = console
        .submit(
            "/admin/schedules",
            &[
                ("site_id", &site),
                ("name", "Office hours"),
                ("windows", "mon-fri 08:00-18:00\r\nsat 22:00-02:00"),
                ("holidays", "2026-12-25\r\n2026-12-26"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let id = id_in(answer.location());
    let record = app
        .get_json(&format!("/api/v1/schedules/{id}"), &admin)
        .await;
    assert_eq!(record["windows"][0]["days"].as_array().unwrap().len(), 5);
    assert_eq!(record["windows"][1]["start"], "22:00");
    assert_eq!(record["holidays"][1], "2026-12-26");

    let list = console.get("/admin/schedules").await;
    assert!(list.body.contains("Mon–Fri 08:00–18:00"));
    assert!(list.body.contains("Sat 22:00–02:00 (into the next day)"));
    assert!(list.body.contains("Fri 25 Dec 2026"));
    let page = console.get(&format!("/admin/schedules/{id}")).await;
    assert!(
        page.body
            .contains("mon-fri 08:00-18:00\nsat 22:00-02:00</textarea>")
    );

    // Both fields' problems at once; nothing changes.
    let answer = console
        .submit(
            &format!("/admin/schedules/{id}"),
            &[
                ("name", "Office hours"),
                ("windows", "mon-fri 08:00-18:00\nsomeday 9-5"),
                ("holidays", "25.12.2026"),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.body.contains("line 2:"), "{}", answer.body);
    assert!(answer.body.contains("<strong>holidays</strong>"));
    let answer = console
        .submit(
            &format!("/admin/schedules/{id}"),
            &[
                ("name", "Late"),
                ("windows", "sun 10:00-12:00"),
                ("holidays", ""),
            ],
        )
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let record = app
        .get_json(&format!("/api/v1/schedules/{id}"), &admin)
        .await;
    assert_eq!(record["name"], "Late");
    assert_eq!(record["holidays"].as_array().unwrap().len(), 0);
    let answer = console
        .submit(&format!("/admin/schedules/{id}/delete"), &[])
        .await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER);
    let actions = actions_by(&app, &admin, "admin").await;
    for action in ["schedule.create", "schedule.update", "schedule.delete"] {
        assert!(actions.iter().any(|a| a == action), "{action}");
    }
    app.stop().await;
}

/// An auditor reads the model without a form, and every write is refused (403) and
/// changes nothing.
async fn auditors_read_and_cannot_write(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let created = console
        .submit("/admin/sites", &[("name", "HQ"), ("timezone", "UTC")])
        .await;
    let site = id_in(created.location());
    app.create_operator(&admin, "audrey", "auditor").await;
    let auditor = Console::login(&app, "audrey", PASSWORD).await;
    for path in [
        "/admin/sites".to_owned(),
        format!("/admin/sites/{site}"),
        "/admin/schedules".to_owned(),
    ] {
        let page = auditor.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            !page.body.contains("method=\"post\" action=\"/admin"),
            "{path}"
        );
    }
    for (path, fields) in [
        (
            "/admin/sites".to_owned(),
            vec![("name", "X"), ("timezone", "UTC")],
        ),
        (
            format!("/admin/sites/{site}"),
            vec![("name", "X"), ("timezone", "UTC")],
        ),
        (format!("/admin/sites/{site}/delete"), vec![]),
        (
            format!("/admin/sites/{site}/zones"),
            vec![("name", "Z"), ("level", "0")],
        ),
    ] {
        let answer = auditor.submit(&path, &fields).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{path}");
    }
    let record = app.get_json(&format!("/api/v1/sites/{site}"), &admin).await;
    assert_eq!(record["name"], "HQ");
    assert!(zones_of(&app, &admin, &site).await.is_empty());
    // Nor do the accounts, agents or health pages open for a receptionist.
    app.create_operator(&admin, "rita", "receptionist").await;
    let receptionist = Console::login(&app, "rita", PASSWORD).await;
    for path in [
        "/admin/sites",
        "/admin/agents",
        "/admin/operators",
        "/admin/health",
    ] {
        assert_eq!(
            receptionist.get(path).await.status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    app.stop().await;
}

conformance!(
    site_zones_and_doors,
    schedules_and_holidays,
    auditors_read_and_cannot_write
);
