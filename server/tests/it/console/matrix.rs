//! Every console page and action × every role: the page's declared roles (the menu's
//! table, `console::page::PAGES`, which names the API's permissions) get it, the others a
//! 403 page, and nobody without a session gets more than the login page.

use super::client::Console;
use crate::common::{PASSWORD, TestApp};
use gatehouse_core::role::Role;
use gatehouse_server::auth::permissions::{
    AcknowledgeAlarms, AnyOperator, Permission, ReadAudit, RunMuster, WriteSecurityModel,
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
        ("/audit/verify".to_owned(), ReadAudit::ROLES),
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
