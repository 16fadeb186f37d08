//! Every console page and action × every role: the page's declared roles (the menu's
//! table, `console::page::PAGES`, which names the API's permissions) get it, the others a
//! 403 page, and nobody without a session gets more than the login page.

use super::client::Console;
use crate::common::{PASSWORD, TestApp};
use gatehouse_core::role::Role;
use gatehouse_server::auth::permissions::{
    AcknowledgeAlarms, AnyOperator, ControlDoors, InviteVisitors, ManageAgents, ManageCardKeys,
    ManageOperators, ManageVisitRules, Permission, ReadAudit, RunMuster, WriteSecurityModel,
    WriteVisits,
};
use gatehouse_server::console::page::PAGES;
use reqwest::StatusCode;
use serde_json::json;

/// State-changing console actions and the roles allowed each (the API's permissions).
fn actions(site: &str) -> Vec<(String, &'static [Role])> {
    let nil = uuid::Uuid::nil();
    vec![
        (format!("/threat/{site}"), WriteSecurityModel::ROLES),
        (format!("/alarms/{nil}/ack"), AcknowledgeAlarms::ROLES),
        ("/muster".to_owned(), RunMuster::ROLES),
        (format!("/muster/{nil}/accounted"), RunMuster::ROLES),
        (format!("/muster/{nil}/close"), RunMuster::ROLES),
        ("/account/password".to_owned(), AnyOperator::ROLES),
        ("/admin/operators/person".to_owned(), ManageOperators::ROLES),
        ("/admin/kiosks".to_owned(), ManageAgents::ROLES),
        (format!("/admin/kiosks/{nil}/revoke"), ManageAgents::ROLES),
        // Visit rules.
        (
            format!("/admin/visit-rules/sites/{site}"),
            ManageVisitRules::ROLES,
        ),
        (
            format!("/admin/visit-rules/zones/{nil}"),
            ManageVisitRules::ROLES,
        ),
        (
            format!("/notifications/{nil}/retry"),
            gatehouse_server::auth::permissions::WriteVisits::ROLES,
        ),
        (format!("/desk/doors/{nil}/release"), ControlDoors::ROLES),
        (format!("/desk/doors/{nil}/mode"), ControlDoors::ROLES),
        // Administration: people, cards, groups, grants, import.
        ("/admin/people".to_owned(), WriteSecurityModel::ROLES),
        (format!("/admin/people/{nil}"), WriteSecurityModel::ROLES),
        (
            format!("/admin/people/{nil}/status"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/people/{nil}/email"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/people/{nil}/vetting"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/people/{nil}/cards"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/people/{nil}/cards/{nil}"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/people/{nil}/secure-card"),
            gatehouse_server::auth::permissions::IssueSecureCards::ROLES,
        ),
        (
            format!("/admin/people/{nil}/groups"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/people/{nil}/groups/{nil}/leave"),
            WriteSecurityModel::ROLES,
        ),
        ("/admin/groups".to_owned(), WriteSecurityModel::ROLES),
        (
            format!("/admin/groups/{nil}/delete"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/groups/{nil}/members/{nil}/remove"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/groups/{nil}/grants"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/groups/{nil}/grants/{nil}/delete"),
            WriteSecurityModel::ROLES,
        ),
        ("/admin/import".to_owned(), WriteSecurityModel::ROLES),
        // administration: the site model, schedules, door agents, operator accounts
        // (unknown ids or empty forms: an allowed role gets 404 or 422, nothing changes)
        ("/admin/sites".to_owned(), WriteSecurityModel::ROLES),
        (format!("/admin/sites/{site}"), WriteSecurityModel::ROLES),
        (
            format!("/admin/sites/{nil}/delete"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/sites/{site}/zones"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/sites/{site}/zones/{nil}"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/sites/{site}/zones/{nil}/delete"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/sites/{site}/doors"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/sites/{site}/doors/{nil}"),
            WriteSecurityModel::ROLES,
        ),
        (
            format!("/admin/sites/{site}/doors/{nil}/delete"),
            WriteSecurityModel::ROLES,
        ),
        // site card keys (an empty form is refused before anything changes)
        (
            format!("/admin/sites/{site}/card-keys"),
            ManageCardKeys::ROLES,
        ),
        (
            format!("/admin/sites/{site}/card-keys/rotate"),
            ManageCardKeys::ROLES,
        ),
        (
            format!("/admin/sites/{site}/card-keys/retire"),
            ManageCardKeys::ROLES,
        ),
        ("/admin/schedules".to_owned(), WriteSecurityModel::ROLES),
        (format!("/admin/schedules/{nil}"), WriteSecurityModel::ROLES),
        (
            format!("/admin/schedules/{nil}/delete"),
            WriteSecurityModel::ROLES,
        ),
        ("/admin/agents".to_owned(), ManageAgents::ROLES),
        (format!("/admin/agents/{nil}/code"), ManageAgents::ROLES),
        (format!("/admin/agents/{nil}/revoke"), ManageAgents::ROLES),
        ("/admin/operators".to_owned(), ManageOperators::ROLES),
        (
            format!("/admin/operators/{nil}/role"),
            ManageOperators::ROLES,
        ),
        (
            format!("/admin/operators/{nil}/status"),
            ManageOperators::ROLES,
        ),
        (
            format!("/admin/operators/{nil}/password"),
            ManageOperators::ROLES,
        ),
        ("/audit/verify".to_owned(), ReadAudit::ROLES),
        // visitor documents: templates (security), signing at the desk (reception)
        ("/admin/documents".to_owned(), ManageVisitRules::ROLES),
        (format!("/admin/documents/{nil}"), ManageVisitRules::ROLES),
        (
            format!("/admin/documents/{nil}/active"),
            ManageVisitRules::ROLES,
        ),
        (
            format!("/visits/{nil}/documents/{nil}/sign"),
            WriteVisits::ROLES,
        ),
        // the visitor card pool
        ("/visitor-cards".to_owned(), WriteVisits::ROLES),
        (format!("/visitor-cards/{nil}/state"), WriteVisits::ROLES),
        ("/visitor-cards/hand-out".to_owned(), WriteVisits::ROLES),
        // visits (issue 13): a host invites, edits and cancels its own, never checks in
        ("/visits/new".to_owned(), InviteVisitors::ROLES),
        (format!("/visits/{nil}/edit"), InviteVisitors::ROLES),
        (format!("/visits/{nil}/cancel"), InviteVisitors::ROLES),
        (format!("/visits/{nil}/check-in"), WriteVisits::ROLES),
        (format!("/visits/{nil}/check-out"), WriteVisits::ROLES),
        (format!("/visits/{nil}/approve"), ManageVisitRules::ROLES),
        // the visitor's photo: whoever may change the visit (a host its own)
        (format!("/visits/{nil}/photo"), InviteVisitors::ROLES),
        (format!("/visits/{nil}/photo/remove"), InviteVisitors::ROLES),
        (
            format!("/visits/invitations/{nil}/check-in"),
            WriteVisits::ROLES,
        ),
        // watchlist screening
        ("/admin/watchlist".to_owned(), ManageVisitRules::ROLES),
        (
            "/admin/watchlist/import".to_owned(),
            ManageVisitRules::ROLES,
        ),
        (format!("/admin/watchlist/{nil}"), ManageVisitRules::ROLES),
        (
            format!("/admin/watchlist/{nil}/delete"),
            ManageVisitRules::ROLES,
        ),
        (
            format!("/screenings/{nil}/decision"),
            ManageVisitRules::ROLES,
        ),
    ]
}

#[tokio::test]
async fn every_page_and_action_for_every_role() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let site = app
        .post(
            "/api/v1/sites",
            &admin,
            json!({"name": "HQ", "timezone": "Europe/Berlin"}),
        )
        .await;
    assert_eq!(site.status(), StatusCode::CREATED);
    let site: serde_json::Value = site.json().await.unwrap();
    let site = site["id"].as_str().unwrap().to_owned();

    let anonymous = Console::new(&app);
    for page in PAGES {
        let answer = anonymous.get(page.path).await;
        assert_eq!(
            answer.status,
            StatusCode::SEE_OTHER,
            "{} anonymous",
            page.path
        );
        assert!(
            answer.location().starts_with("/login?next="),
            "{}",
            page.path
        );
    }
    for (path, _) in actions(&site) {
        let answer = anonymous.submit(&path, &[]).await;
        assert_eq!(answer.status, StatusCode::SEE_OTHER, "{path} anonymous");
    }

    for role in Role::ALL {
        let name = format!("op-{}", role.as_str());
        let console = if role == Role::Admin {
            Console::login(&app, "admin", crate::common::ADMIN_PASSWORD).await
        } else {
            app.create_operator(&admin, &name, role.as_str()).await;
            Console::login(&app, &name, PASSWORD).await
        };
        for page in PAGES {
            let answer = console.get(page.path).await;
            let expected = if page.roles.contains(&role) {
                StatusCode::OK
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(answer.status, expected, "{role:?} GET {}", page.path);
            // The menu offers exactly the pages the role may open.
            let offered = answer.body.contains(&format!("href=\"{}\"", page.path));
            if expected == StatusCode::OK {
                assert!(answer.body.contains("<nav"), "{role:?} {}", page.path);
                assert!(offered, "{role:?} menu lacks {}", page.path);
            }
        }
        let home = console.get("/").await;
        let landed = console.get(home.location()).await;
        assert_eq!(
            landed.status,
            StatusCode::OK,
            "{role:?} lands on a page it may open"
        );
        for link in PAGES.iter().filter(|p| !p.roles.contains(&role)) {
            assert!(
                !landed.body.contains(&format!("href=\"{}\"", link.path)),
                "{role:?} is offered {}",
                link.path
            );
        }
        for (path, roles) in actions(&site) {
            let answer = console.submit(&path, &[]).await;
            if roles.contains(&role) {
                assert_ne!(answer.status, StatusCode::FORBIDDEN, "{role:?} POST {path}");
            } else {
                assert_eq!(answer.status, StatusCode::FORBIDDEN, "{role:?} POST {path}");
            }
        }
    }
    // Nothing was changed by the refused actions.
    let after = app.get_json(&format!("/api/v1/sites/{site}"), &admin).await;
    assert_eq!(after["threat"]["lockdown"], false);
    app.stop().await;
}

/// Every form of every template that posts (but logging in and out) is one of
/// [`actions`], so each role is tried on it above: a new form cannot be left out.
#[test]
fn every_posting_form_is_in_the_matrix() {
    let nil = uuid::Uuid::nil().to_string();
    let known: Vec<String> = actions(&nil).iter().map(|(path, _)| shape(path)).collect();
    let templates = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
    let mut forms = 0;
    for file in html_files(&templates) {
        let text = std::fs::read_to_string(&file).unwrap();
        for action in posting_forms(&text) {
            forms += 1;
            // Kiosk forms are the device's, not an operator's: console::kiosk tests them.
            if action == "/login" || action == "/logout" || action.starts_with("/kiosk/") {
                continue;
            }
            assert!(
                known.contains(&shape(&action)),
                "{}: the form posting to {action} is not in the matrix's actions()",
                file.display()
            );
        }
    }
    assert!(
        forms > 10,
        "found only {forms} posting forms: is the scan broken?"
    );
}

/// A path with each id (a UUID, or a template expression) as `{}`; without a fragment
/// (where the answer opens the page, not part of what is posted).
fn shape(path: &str) -> String {
    let path = path.split_once('#').map_or(path, |(path, _)| path);
    path.split('/')
        .map(|part| {
            if part.contains("{{") || uuid::Uuid::parse_str(part).is_ok() {
                "{}"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// The `action` of each `<form ... method="post" ...>` in a template.
fn posting_forms(text: &str) -> Vec<String> {
    text.split("<form")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            if !tag.to_ascii_lowercase().contains("method=\"post\"") {
                return None;
            }
            let action = tag.split("action=\"").nth(1)?;
            Some(action[..action.find('"')?].to_owned())
        })
        .collect()
}

fn html_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(html_files(&path));
        } else if path.extension().is_some_and(|e| e == "html") {
            files.push(path);
        }
    }
    files
}
