//! The reception and host screens (issue 13): `/visits` for every role, a host sees only
//! its own visitors ("My visitors", today's arrivals), one-click and group check-in, a
//! walk-in, the check-in code box, the invite form re-rendered naming every visit rule
//! broken, and the visitor log with its CSV.

use super::client::{Answer, Console};
use crate::common::{ADMIN_PASSWORD, PASSWORD, TestApp, TestDb, created};
use chrono::{Duration, Timelike, Utc};
use gatehouse_core::role::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A site whose local time is late morning now (so "today" has room on both sides),
/// a lobby open to visitors (8 hours), a lab not open; two hosts with grants to both.
struct Place {
    app: TestApp,
    admin: String,
    offset_h: i64,
    lobby: String,
    lab: String,
    hana: String,
    otto: String,
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> StatusCode {
    app.request(Method::PUT, path, Some(token))
        .json(&body)
        .send()
        .await
        .unwrap()
        .status()
}

async fn place(db: &TestDb) -> Place {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    // Etc/GMT-N is UTC+N: choose N so that it is about 11:00 there.
    let offset_h = (11 - i64::from(Utc::now().hour())).clamp(-12, 14);
    let tz = match offset_h {
        0 => "UTC".to_owned(),
        n if n > 0 => format!("Etc/GMT-{n}"),
        n => format!("Etc/GMT+{}", -n),
    };
    let site = created(
        app.post(
            "/api/v1/sites",
            &admin,
            json!({"name": "HQ", "timezone": tz}),
        )
        .await,
    )
    .await;
    let zone = |name: &'static str| {
        let body = json!({"site_id": site, "name": name, "level": 0});
        let (app, admin) = (&app, &admin);
        async move { created(app.post("/api/v1/zones", admin, body).await).await }
    };
    let lobby = zone("Lobby").await;
    let lab = zone("Lab").await;
    let rule = json!({"longest_visit_minutes": 480});
    let path = format!("/api/v1/zones/{lobby}/visitor-rule");
    assert_eq!(put(&app, &path, &admin, rule).await, StatusCode::OK);
    let mut hosts = Vec::new();
    for name in ["Hana Host", "Otto Other"] {
        let body = json!({"name": name, "kind": "staff", "clearance": 1});
        let person = created(app.post("/api/v1/people", &admin, body).await).await;
        for zone in [&lobby, &lab] {
            let grant = json!({"person_id": person, "zone_id": zone});
            created(app.post("/api/v1/grants", &admin, grant).await).await;
        }
        hosts.push(person);
    }
    let [hana, otto]: [String; 2] = hosts.try_into().unwrap();
    Place {
        app,
        admin,
        offset_h,
        lobby,
        lab,
        hana,
        otto,
    }
}

impl Place {
    /// `HH:MM` at the site, `minutes` from now.
    fn local(&self, minutes: i64) -> String {
        let at = Utc::now() + Duration::hours(self.offset_h) + Duration::minutes(minutes);
        at.format("%H:%M").to_string()
    }

    fn today(&self) -> String {
        (Utc::now() + Duration::hours(self.offset_h))
            .format("%Y-%m-%d")
            .to_string()
    }

    /// A console of a new operator with `role` (a host linked to Hana).
    async fn console(&self, role: Role) -> Console<'_> {
        if role == Role::Admin {
            return Console::login(&self.app, "admin", ADMIN_PASSWORD).await;
        }
        let name = format!("op-{}", role.as_str());
        let id = self
            .app
            .create_operator(&self.admin, &name, role.as_str())
            .await;
        if role == Role::Host {
            let path = format!("/api/v1/operators/{id}/person");
            let link = json!({"person_id": self.hana});
            assert_eq!(
                put(&self.app, &path, &self.admin, link).await,
                StatusCode::OK
            );
        }
        Console::login(&self.app, &name, PASSWORD).await
    }

    /// The invite form's fields for one visitor to the lobby, 1 to 3 hours from now.
    fn invite<'a>(&'a self, name: &'a str, host: &'a str) -> Vec<(&'a str, String)> {
        vec![
            ("visitor_name", name.to_owned()),
            ("visitor_organisation", "Acme".to_owned()),
            ("visitor_email", "visitor@example.com".to_owned()),
            ("host_person_id", host.to_owned()),
            ("zone", self.lobby.clone()),
            ("date", self.today()),
            ("start", self.local(60)),
            ("end", self.local(180)),
            ("purpose", "Meeting".to_owned()),
        ]
    }

    async fn visits(&self, q: &str) -> Vec<Value> {
        let page = self
            .app
            .get_json(&format!("/api/v1/visits?q={q}"), &self.admin)
            .await;
        page["items"].as_array().cloned().unwrap_or_default()
    }
}

async fn send(console: &Console<'_>, path: &str, fields: &[(&str, String)]) -> Answer {
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    console.submit(path, &fields).await
}

async fn every_role_sees_the_visit_pages_a_host_only_its_own(db: &TestDb) {
    let p = place(db).await;
    let desk = p.console(Role::Receptionist).await;
    let answer = send(&desk, "/visits/new", &p.invite("Vera Visitor", &p.otto)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let otto_visit = answer.location().to_owned();
    let host = p.console(Role::Host).await;
    // The host's form has its own person fixed: no host field needed.
    let mut mine = p.invite("Mia Mine", "");
    mine.retain(|(k, _)| *k != "host_person_id");
    let answer = send(&host, "/visits/new", &mine).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let mine_visit = answer.location().to_owned();

    let page = host.get("/visits").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("My visitors"));
    assert!(page.body.contains("Mia Mine") && !page.body.contains("Vera Visitor"));
    assert!(page.body.contains("Arrived today"));
    // No check-in for a host, no code box.
    assert!(!page.body.contains("/check-in\""));
    assert!(!page.body.contains("Type or scan the code"));
    assert_eq!(host.get(&otto_visit).await.status, StatusCode::NOT_FOUND);
    assert_eq!(host.get(&mine_visit).await.status, StatusCode::OK);
    let form = host.get("/visits/new").await;
    assert!(form.body.contains("Hana Host") && !form.body.contains("Otto Other"));
    assert!(!form.body.contains("Walk-in"));

    // A host account not linked to a person is told so, and sees no one.
    p.app.create_operator(&p.admin, "lonely", "host").await;
    let lonely = Console::login(&p.app, "lonely", PASSWORD).await;
    let page = lonely.get("/visits").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body
            .contains("account is not linked to a person; ask an administrator")
    );
    assert!(!page.body.contains("Mia Mine") && !page.body.contains("/visits/new"));

    let home = desk.get("/visits").await;
    assert!(home.body.contains("Vera Visitor") && home.body.contains("Mia Mine"));
    assert!(home.body.contains("Expected today") && home.body.contains("Type or scan the code"));
    for role in [Role::Admin, Role::Security, Role::Auditor] {
        let console = p.console(role).await;
        for path in [
            "/visits",
            "/visits/log",
            "/visits/log.csv",
            otto_visit.as_str(),
        ] {
            let answer = console.get(path).await;
            assert_eq!(answer.status, StatusCode::OK, "{role:?} {path}");
            assert!(
                !answer.body.contains(&p.otto),
                "{role:?} {path} shows an id"
            );
        }
        let new = console.get("/visits/new").await.status;
        let expected = if role == Role::Auditor { 403 } else { 200 };
        assert_eq!(new.as_u16(), expected, "{role:?} /visits/new");
    }
    // The visit in words: host, zones by name, site-local window, code as two groups.
    let visit = desk.get(&otto_visit).await;
    for words in [
        "Otto Other",
        "Lobby",
        "Meeting",
        "visitor@example.com",
        "Check in",
    ] {
        assert!(visit.body.contains(words), "visit page lacks {words}");
    }
    // What the desk needs next: the screening, documents, the badge and the invitation
    // sent (a pool card is offered once the visitor is in).
    for part in [
        "Watchlist screening",
        "clear",
        "Nothing to sign",
        "Print badge (card)",
        "Invitation",
    ] {
        assert!(visit.body.contains(part), "visit page lacks {part}");
    }
    p.app.stop().await;
}

async fn check_in_from_the_list_by_code_and_a_group_at_once(db: &TestDb) {
    let p = place(db).await;
    let desk = p.console(Role::Receptionist).await;
    let host = p.console(Role::Host).await;
    let answer = send(&desk, "/visits/new", &p.invite("Solo Visitor", &p.hana)).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let solo = p.visits("Solo").await;
    let solo_id = solo[0]["id"].as_str().unwrap().to_owned();
    let code = solo[0]["check_in_code"].as_str().unwrap().to_owned();

    // The code box: typed in lower case with a dash, it finds the visit.
    let typed = format!("{}-{}", &code[..5], &code[5..]).to_lowercase();
    let found = desk.get(&format!("/visits/code?code={typed}")).await;
    assert_eq!(found.status, StatusCode::SEE_OTHER);
    assert_eq!(found.location(), format!("/visits/{solo_id}"));
    let missing = desk.get("/visits/code?code=NOPE").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert!(missing.body.contains("No visit has the check-in code"));

    // One click from the list, back to the list.
    let path = format!("/visits/{solo_id}/check-in");
    let done = send(&desk, &path, &[("back", "list".to_owned())]).await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(done.location(), "/visits");
    let list = desk.get("/visits").await;
    let on_site = &list.body[list.body.find("On site now").unwrap()..];
    assert!(on_site[..on_site.find("Awaiting approval").unwrap()].contains("Solo Visitor"));
    // The host's arrival notice.
    let mine = host.get("/visits").await;
    let arrived = &mine.body[mine.body.find("Arrived today").unwrap()..];
    assert!(arrived[..arrived.find("Expected today").unwrap()].contains("Solo Visitor"));
    // Check-out from the visit's page.
    let out = send(&desk, &format!("/visits/{solo_id}/check-out"), &[]).await;
    assert_eq!(out.location(), format!("/visits/{solo_id}"));
    assert!(
        desk.get(&format!("/visits/{solo_id}"))
            .await
            .body
            .contains("Left")
    );

    // A group of three: shown together, "Check in all 3".
    let mut group = p.invite("Gail Group", &p.hana);
    group.push(("other_name_1", "Gus Group".to_owned()));
    group.push(("other_name_3", "Gwen Group".to_owned()));
    group.push(("other_organisation_3", "Acme".to_owned()));
    let answer = send(&desk, "/visits/new", &group).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let members = p.visits("Group").await;
    assert_eq!(members.len(), 3);
    let invitation = members[0]["invitation_id"].as_str().unwrap().to_owned();
    let list = desk.get("/visits").await;
    assert!(list.body.contains("Check in all 3"), "{}", list.body);
    // One of them was cancelled meanwhile: reported, the others checked in.
    let gus = members
        .iter()
        .find(|m| m["visitor_name"] == "Gus Group")
        .unwrap();
    let gus = gus["id"].as_str().unwrap();
    created_ok(send(&desk, &format!("/visits/{gus}/cancel"), &[]).await);
    let all = send(
        &desk,
        &format!("/visits/invitations/{invitation}/check-in"),
        &[],
    )
    .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert!(
        all.body.contains("All 2 visitors are checked in"),
        "{}",
        all.body
    );
    let members = p.visits("Group").await;
    let statuses: Vec<&str> = members
        .iter()
        .map(|m| m["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "checked_in").count(),
        2,
        "{statuses:?}"
    );
    p.app.stop().await;
}

fn created_ok(answer: Answer) {
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
}

async fn walk_in_and_refusals_naming_every_rule(db: &TestDb) {
    let p = place(db).await;
    let desk = p.console(Role::Receptionist).await;
    // A walk-in: no date or start (now), checked in at once.
    let mut walk = p.invite("Walter Walkin", &p.hana);
    walk.retain(|(k, _)| !matches!(*k, "date" | "start"));
    walk.push(("end", p.local(90)));
    walk.push(("walk_in", "on".to_owned()));
    let answer = send(&desk, "/visits/new", &walk).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let walter = p.visits("Walter").await;
    assert_eq!(walter[0]["status"], "checked_in");

    // The lab is not open to visitors, and ten hours is longer than the lobby allows:
    // both rules named, the form shown again with what was typed.
    let mut bad = p.invite("Rita Refused", &p.otto);
    bad.push(("zone", p.lab.clone()));
    bad.retain(|(k, _)| *k != "end");
    bad.push(("end", p.local(60 + 600).to_owned()));
    let answer = send(&desk, "/visits/new", &bad).await;
    assert_eq!(
        answer.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        answer.body
    );
    assert!(answer.body.contains("The visit was not registered"));
    assert!(
        answer.body.contains("Lab is not open to visitors"),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("value=\"Rita Refused\""));
    assert!(p.visits("Rita").await.is_empty());
    // A missing name and host: each field named.
    let answer = send(&desk, "/visits/new", &[("date", p.today())]).await;
    assert_eq!(answer.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(answer.body.contains("Host") && answer.body.contains("End"));

    // An upcoming visit is edited (judged again) and cancelled by its host.
    let host = p.console(Role::Host).await;
    let answer = send(&host, "/visits/new", &p.invite("Eddie Edit", "")).await;
    assert_eq!(answer.status, StatusCode::SEE_OTHER, "{}", answer.body);
    let eddie = answer.location().to_owned();
    let form = host.get(&format!("{eddie}/edit")).await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains("Edit the visit of Eddie Edit"));
    let mut edit = vec![
        ("zone", p.lobby.clone()),
        ("date", p.today()),
        ("start", p.local(60)),
        ("end", p.local(60 + 600)),
        ("purpose", "Longer".to_owned()),
    ];
    let refused = send(&host, &format!("{eddie}/edit"), &edit).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused
            .body
            .contains("Lobby allows visits of at most 8 hours")
    );
    edit[3].1 = p.local(120);
    let saved = send(&host, &format!("{eddie}/edit"), &edit).await;
    assert_eq!(saved.location(), eddie, "{}", saved.body);
    assert!(host.get(&eddie).await.body.contains("Longer"));
    let cancelled = send(&host, &format!("{eddie}/cancel"), &[]).await;
    assert_eq!(cancelled.status, StatusCode::SEE_OTHER);
    assert!(host.get(&eddie).await.body.contains("Cancelled"));
    assert_eq!(
        send(&host, &format!("{eddie}/check-in"), &[]).await.status,
        StatusCode::FORBIDDEN
    );

    // The log, and its CSV with names (no ids).
    let auditor = p.console(Role::Auditor).await;
    let log = auditor.get("/visits/log").await;
    assert!(log.body.contains("Walter Walkin") && log.body.contains("Hana Host"));
    let csv = auditor.get("/visits/log.csv").await;
    assert!(
        csv.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let mut lines = csv.body.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("Visitor,Organisation,Host,Site")
    );
    let walter_line = lines.find(|l| l.contains("Walter Walkin")).unwrap();
    assert!(walter_line.contains("Hana Host") && walter_line.contains("On site"));
    assert!(!csv.body.contains(&p.hana));
    p.app.stop().await;
}

conformance!(
    every_role_sees_the_visit_pages_a_host_only_its_own,
    check_in_from_the_list_by_code_and_a_group_at_once,
    walk_in_and_refusals_naming_every_rule,
);
