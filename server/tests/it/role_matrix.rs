//! Every endpoint of the OpenAPI document × every role (and no token at all), with the
//! expected answer for each cell. An endpoint with no rule here fails the test, so a new
//! endpoint cannot ship without deciding who may call it. Then the fields: every
//! readable answer, fetched with real data by every role, carries exactly the restricted
//! fields (`permissions::RESTRICTED_FIELDS`) that role may read.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::{PASSWORD, TestApp, created, expect};
use gatehouse_core::role::Role;
use gatehouse_server::auth::permissions::{RESTRICTED_FIELDS, RestrictedField};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// Who may call an endpoint.
#[derive(Debug, Clone, Copy)]
enum Access {
    Public,
    Roles(&'static [Role]),
    /// Only a door agent's own token: anonymous and every operator get 401.
    Agent,
}

const ALL: &[Role] = &Role::ALL;
const ADMIN: &[Role] = &[Role::Admin];
const ADMIN_AUDITOR: &[Role] = &[Role::Admin, Role::Auditor];
const READ_PEOPLE: &[Role] = &[
    Role::Admin,
    Role::Security,
    Role::Auditor,
    Role::Receptionist,
];
const READ_VISITS: &[Role] = &[
    Role::Admin,
    Role::Security,
    Role::Auditor,
    Role::Receptionist,
    Role::Host,
];
const INVITE: &[Role] = &[Role::Admin, Role::Security, Role::Receptionist, Role::Host];
const READ_NOTIFICATIONS: &[Role] = &[
    Role::Admin,
    Role::Security,
    Role::Auditor,
    Role::Receptionist,
];
const READ_VISIT_RULES: &[Role] = &[
    Role::Admin,
    Role::Security,
    Role::Auditor,
    Role::Receptionist,
    Role::Host,
];
const WRITE_VISITS: &[Role] = &[Role::Admin, Role::Security, Role::Receptionist];
const READ_MODEL: &[Role] = &[Role::Admin, Role::Security, Role::Auditor];
const WRITE_MODEL: &[Role] = &[Role::Admin, Role::Security];
const READ_WATCHLIST: &[Role] = &[Role::Admin, Role::Security, Role::Auditor];
const MANAGE_VISIT_RULES: &[Role] = &[Role::Admin, Role::Security];
const READ_AGENTS: &[Role] = &[Role::Admin, Role::Security];
const READ_EVENTS: &[Role] = &[Role::Admin, Role::Security, Role::Auditor];
const READ_ALARMS: &[Role] = &[Role::Admin, Role::Security, Role::Auditor];
const ACK_ALARMS: &[Role] = &[Role::Admin, Role::Security];
const READ_DOOR_STATUS: &[Role] = &[Role::Admin, Role::Security, Role::Auditor];
const CONTROL_DOORS: &[Role] = &[Role::Admin, Role::Security];

/// The rule for each endpoint. Keep in step with `auth/permissions.rs`.
fn rule(method: &str, path: &str) -> Option<Access> {
    use Access::{Agent, Public, Roles};
    Some(match (method, path) {
        ("get", "/healthz" | "/readyz" | "/api/v1/openapi.json") => Public,
        ("post", "/api/v1/auth/login") => Public,
        ("post", "/api/v1/auth/logout") | ("get", "/api/v1/auth/me") => Roles(ALL),
        ("put", "/api/v1/auth/me/password") => Roles(ALL),
        ("get" | "post", "/api/v1/operators") => Roles(ADMIN),
        ("get" | "patch", "/api/v1/operators/{id}") => Roles(ADMIN),
        ("put", "/api/v1/operators/{id}/person") => Roles(ADMIN),
        ("put", "/api/v1/operators/{id}/password") => Roles(ADMIN),
        ("get", "/api/v1/operator-log") => Roles(ADMIN_AUDITOR),
        ("get", "/api/v1/audit/verify") => Roles(ADMIN_AUDITOR),
        ("get", "/api/v1/audit/public-key") => Roles(ADMIN_AUDITOR),
        ("get", "/api/v1/audit/export") => Roles(ADMIN_AUDITOR),
        ("get", "/api/v1/zones/{id}/occupancy" | "/api/v1/sites/{id}/occupancy") => {
            Roles(READ_MODEL)
        }
        ("get", "/api/v1/sites/{id}/muster") => Roles(READ_MODEL),
        ("post", "/api/v1/sites/{id}/musters") => Roles(WRITE_MODEL),
        ("get", "/api/v1/musters/{id}") => Roles(READ_MODEL),
        ("post", "/api/v1/musters/{id}/accounted") => Roles(WRITE_MODEL),
        ("post", "/api/v1/musters/{id}/close") => Roles(WRITE_MODEL),
        ("get", "/api/v1/policy/public-key") => Public,
        ("get", "/api/v1/policy/snapshot") => Roles(READ_MODEL),
        ("post", "/api/v1/access/check") => Roles(READ_MODEL),
        ("get", "/api/v1/zones/{id}/access" | "/api/v1/people/{id}/access") => Roles(READ_MODEL),
        ("get", "/api/v1/vetting/expiring") => Roles(READ_MODEL),

        // site model rules (sites, zones, doors, schedules)
        (
            "get",
            "/api/v1/sites"
            | "/api/v1/sites/{id}"
            | "/api/v1/zones"
            | "/api/v1/zones/{id}"
            | "/api/v1/doors"
            | "/api/v1/doors/{id}"
            | "/api/v1/schedules"
            | "/api/v1/schedules/{id}",
        ) => Roles(READ_MODEL),
        ("post", "/api/v1/sites" | "/api/v1/zones" | "/api/v1/doors" | "/api/v1/schedules") => {
            Roles(WRITE_MODEL)
        }
        (
            "patch" | "delete",
            "/api/v1/sites/{id}"
            | "/api/v1/zones/{id}"
            | "/api/v1/doors/{id}"
            | "/api/v1/schedules/{id}",
        ) => Roles(WRITE_MODEL),
        ("put", "/api/v1/sites/{id}/threat-level") => Roles(WRITE_MODEL),
        ("post", "/api/v1/import/people") => Roles(WRITE_MODEL),
        ("get", "/api/v1/import/jobs/{id}") => Roles(WRITE_MODEL),
        // people model rules (people, credentials, groups, grants, visits)
        ("get", "/api/v1/people" | "/api/v1/people/{id}") => Roles(READ_PEOPLE),
        (
            "get",
            "/api/v1/people/{id}/vetting"
            | "/api/v1/credentials"
            | "/api/v1/credentials/{id}"
            | "/api/v1/groups"
            | "/api/v1/groups/{id}"
            | "/api/v1/grants"
            | "/api/v1/grants/{id}",
        ) => Roles(READ_MODEL),
        (
            "post",
            "/api/v1/people" | "/api/v1/credentials" | "/api/v1/groups" | "/api/v1/grants",
        )
        | ("patch", "/api/v1/people/{id}" | "/api/v1/credentials/{id}")
        | (
            "put",
            "/api/v1/people/{id}/vetting"
            | "/api/v1/groups/{id}/members"
            | "/api/v1/people/{id}/email",
        )
        | ("delete", "/api/v1/groups/{id}" | "/api/v1/grants/{id}") => Roles(WRITE_MODEL),
        ("get", "/api/v1/visits" | "/api/v1/visits/{id}") => Roles(READ_VISITS),
        ("post", "/api/v1/visits" | "/api/v1/invitations" | "/api/v1/visits/{id}/cancel")
        | ("patch", "/api/v1/visits/{id}") => Roles(INVITE),
        ("post", "/api/v1/visits/{id}/check-in" | "/api/v1/visits/{id}/check-out")
        | ("get", "/api/v1/visits/by-code/{code}") => Roles(WRITE_VISITS),
        ("post", "/api/v1/visits/{id}/approve")
        | ("put", "/api/v1/zones/{id}/visitor-rule" | "/api/v1/sites/{id}/visit-settings") => {
            Roles(WRITE_MODEL)
        }
        ("get", "/api/v1/visitor-zones" | "/api/v1/sites/{id}/visit-settings") => {
            Roles(READ_VISIT_RULES)
        }
        ("get", "/api/v1/notifications") => Roles(READ_NOTIFICATIONS),
        ("post", "/api/v1/notifications/{id}/retry") => Roles(WRITE_VISITS),
        // visitor documents and badges
        ("get", "/api/v1/visits/{id}/badge.pdf") => Roles(WRITE_VISITS),
        ("get", "/api/v1/visits/{id}/visitor-photo") => Roles(READ_VISITS),
        ("put" | "delete", "/api/v1/visits/{id}/visitor-photo") => Roles(INVITE),
        ("post", "/api/v1/visits/{id}/documents/{template_id}/signature") => Roles(WRITE_VISITS),
        // ReadVisits as declared (hosts included; their own visits are the lead's check).
        ("get", "/api/v1/visits/{id}/documents" | "/api/v1/document-signatures/{id}/pdf") => {
            Roles(READ_VISIT_RULES)
        }
        ("get", "/api/v1/document-templates" | "/api/v1/document-templates/{id}") => {
            Roles(READ_VISIT_RULES)
        }
        ("post", "/api/v1/document-templates") | ("patch", "/api/v1/document-templates/{id}") => {
            Roles(WRITE_MODEL)
        }
        ("get", "/api/v1/visitor-cards" | "/api/v1/visitor-cards/{id}") => Roles(READ_VISITS),
        ("post", "/api/v1/visitor-cards" | "/api/v1/visits/{id}/card")
        | ("patch", "/api/v1/visitor-cards/{id}") => Roles(WRITE_VISITS),
        // watchlist screening
        (
            "get",
            "/api/v1/watchlist"
            | "/api/v1/watchlist/{id}"
            | "/api/v1/screenings"
            | "/api/v1/screenings/{id}",
        ) => Roles(READ_WATCHLIST),
        (
            "post",
            "/api/v1/watchlist" | "/api/v1/watchlist/import" | "/api/v1/screenings/{id}/decision",
        )
        | ("patch" | "delete", "/api/v1/watchlist/{id}") => Roles(MANAGE_VISIT_RULES),
        // door agents: operator side, agent side, and the events they upload
        ("get", "/api/v1/agents" | "/api/v1/agents/{id}" | "/api/v1/agents/{id}/alarms") => {
            Roles(READ_AGENTS)
        }
        (
            "post",
            "/api/v1/agents" | "/api/v1/agents/{id}/revoke" | "/api/v1/agents/{id}/enrollment-code",
        ) => Roles(ADMIN),
        ("post", "/api/v1/agent/enroll") => Public,
        ("get", "/api/v1/agent/policy")
        | ("get", "/api/v1/agent/presence")
        | ("get", "/api/v1/agent/pin-key")
        | ("post", "/api/v1/agent/events")
        | ("post", "/api/v1/agent/door-state" | "/api/v1/agent/commands") => Agent,
        ("put", "/api/v1/agent/card-public-key") | ("get", "/api/v1/agent/card-keys") => Agent,
        // site card keys: admins only
        ("get" | "post", "/api/v1/sites/{id}/card-keys") => Roles(ADMIN),
        ("post", "/api/v1/sites/{id}/card-keys/rotate" | "/api/v1/sites/{id}/card-keys/retire") => {
            Roles(ADMIN)
        }
        // the issuing station's desk reader: admins and security
        ("post", "/api/v1/people/{id}/secure-cards")
        | (
            "post",
            "/api/v1/sites/{id}/secure-cards/rekey" | "/api/v1/sites/{id}/secure-cards/wipe",
        )
        | ("get", "/api/v1/desk-jobs/{id}") => Roles(WRITE_MODEL),
        ("get", "/api/v1/events" | "/api/v1/events/{id}") => Roles(READ_EVENTS),
        // live alarms: list and stream (reading), acknowledging
        ("get", "/api/v1/alarms" | "/api/v1/alarms/stream") => Roles(READ_ALARMS),
        ("post", "/api/v1/alarms/{id}/ack") => Roles(ACK_ALARMS),
        // live doors: reading their state, stream and commands; giving commands
        (
            "get",
            "/api/v1/doors/status" | "/api/v1/doors/status/stream" | "/api/v1/doors/commands/{id}",
        ) => Roles(READ_DOOR_STATUS),
        ("post", "/api/v1/doors/{id}/release" | "/api/v1/doors/{id}/mode") => Roles(CONTROL_DOORS),
        _ => return None,
    })
}

fn endpoints(doc: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "patch", "delete"] {
            if item.get(method).is_some() {
                out.push((method.to_owned(), path.clone()));
            }
        }
    }
    out
}

#[tokio::test]
async fn every_endpoint_has_a_rule_and_every_cell_holds() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    for role in Role::ALL.into_iter().filter(|r| *r != Role::Admin) {
        app.create_operator(&admin, role.as_str(), role.as_str())
            .await;
    }
    let doc: Value = app.public_json("/api/v1/openapi.json").await;
    let endpoints = endpoints(&doc);
    assert!(
        endpoints.len() >= 10,
        "the document lists the API: {endpoints:?}"
    );

    let missing: Vec<_> = endpoints
        .iter()
        .filter(|(m, p)| rule(m, p).is_none())
        .collect();
    assert!(
        missing.is_empty(),
        "endpoints without a rule in the role matrix: {missing:?}"
    );

    let mut cells = 0;
    for (method, path) in &endpoints {
        let access = rule(method, path).unwrap();
        let concrete = path.replace("{id}", &uuid::Uuid::new_v4().to_string());
        let method = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();

        // No token.
        let status = send(&app, &method, &concrete, None).await;
        match access {
            Access::Public => assert_allowed(status, "anonymous", &method, path),
            Access::Roles(_) | Access::Agent => assert_eq!(
                status,
                StatusCode::UNAUTHORIZED,
                "anonymous {method} {path}"
            ),
        }
        cells += 1;

        for role in Role::ALL {
            // A fresh session per cell: logout must not spoil the next cell.
            let password = if role == Role::Admin {
                common::ADMIN_PASSWORD
            } else {
                PASSWORD
            };
            let token = app.login(role.as_str(), password).await;
            let status = send(&app, &method, &concrete, Some(&token)).await;
            match access {
                Access::Public => assert_allowed(status, role.as_str(), &method, path),
                Access::Roles(allowed) if allowed.contains(&role) => {
                    assert_allowed(status, role.as_str(), &method, path);
                }
                Access::Roles(_) => {
                    assert_eq!(status, StatusCode::FORBIDDEN, "{role} {method} {path}");
                }
                Access::Agent => {
                    assert_eq!(status, StatusCode::UNAUTHORIZED, "{role} {method} {path}");
                }
            }
            cells += 1;
        }
    }
    assert_eq!(cells, endpoints.len() * (Role::ALL.len() + 1));
}

/// Sends a request with an empty JSON object as body for methods that take one: enough
/// to reach the authorisation check, never enough to change anything.
async fn send(app: &TestApp, method: &Method, path: &str, token: Option<&str>) -> StatusCode {
    let mut request = app.request(method.clone(), path, token);
    if matches!(*method, Method::POST | Method::PUT | Method::PATCH) {
        request = request.json(&serde_json::json!({}));
    }
    request.send().await.unwrap().status()
}

fn assert_allowed(status: StatusCode, who: &str, method: &Method, path: &str) {
    assert!(
        status != StatusCode::UNAUTHORIZED
            && status != StatusCode::FORBIDDEN
            && !status.is_server_error(),
        "{who} {method} {path} should be allowed, got {status}"
    );
}

#[tokio::test]
async fn forbidden_calls_change_nothing() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let target = app.create_operator(&admin, "target", "host").await;
    app.create_operator(&admin, "desk", "receptionist").await;
    let desk = app.login("desk", PASSWORD).await;

    let created = app
        .post(
            "/api/v1/operators",
            &desk,
            serde_json::json!({"username": "sneaky", "password": PASSWORD, "role": "admin"}),
        )
        .await;
    assert_eq!(created.status(), StatusCode::FORBIDDEN);
    let promoted = app
        .patch(
            &format!("/api/v1/operators/{target}"),
            &desk,
            serde_json::json!({"role": "admin"}),
        )
        .await;
    assert_eq!(promoted.status(), StatusCode::FORBIDDEN);

    let list: Value = app.get_json("/api/v1/operators", &admin).await;
    let names: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["username"].as_str().unwrap().to_owned())
        .collect();
    assert!(!names.contains(&"sneaky".to_owned()));
    let target: Value = app
        .get_json(&format!("/api/v1/operators/{target}"), &admin)
        .await;
    assert_eq!(target["role"], "host");
}

/// Logs in every role (creating the accounts); the tokens in `Role::ALL` order.
async fn tokens_of_every_role(app: &TestApp, admin: &str) -> Vec<(Role, String)> {
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let token = if role == Role::Admin {
            admin.to_owned()
        } else {
            app.create_operator(admin, role.as_str(), role.as_str())
                .await;
            app.login(role.as_str(), PASSWORD).await
        };
        tokens.push((role, token));
    }
    tokens
}

/// A person with every restricted field filled: vetting, a group, a clearance.
async fn seed_person(app: &TestApp, admin: &str) {
    let person = created(
        app.post(
            "/api/v1/people",
            admin,
            json!({"name": "Vera Vetted", "kind": "staff", "clearance": 3}),
        )
        .await,
    )
    .await;
    let vetting = json!({"status": "cleared", "reference": "CASE-1", "note": "private"});
    let path = format!("/api/v1/people/{person}/vetting");
    let vetted = app.request(Method::PUT, &path, Some(admin)).json(&vetting);
    expect(vetted.send().await.unwrap(), StatusCode::OK).await;
    let group = created(
        app.post("/api/v1/groups", admin, json!({"name": "Lab staff"}))
            .await,
    )
    .await;
    let members = app
        .request(
            Method::PUT,
            &format!("/api/v1/groups/{group}/members"),
            Some(admin),
        )
        .json(&json!({"person_ids": [person]}));
    let answer = members.send().await.unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
}

/// The path with `{id}` replaced by the first item of its collection, or `None` when
/// the collection is not listed or empty.
async fn concrete(app: &TestApp, admin: &str, path: &str) -> Option<String> {
    let Some((collection, rest)) = path.split_once("/{id}") else {
        return Some(path.to_owned());
    };
    let response = app.get(collection, admin).await;
    if response.status() != StatusCode::OK {
        return None;
    }
    let list: Value = response.json().await.ok()?;
    let id = list["items"].get(0)?["id"].as_str()?.to_owned();
    Some(format!("{collection}/{id}{rest}"))
}

/// What the check saw: (schema, field, shown) for each restricted field met.
type Seen = BTreeSet<(&'static str, &'static str, bool)>;

/// Walks `value` along its schema and checks, on every object of a schema with
/// restricted fields, that each is present exactly when `role` may read it.
fn check_fields(doc: &Value, schema: &Value, value: &Value, role: Role, at: &str, seen: &mut Seen) {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap();
        if value.is_object() {
            let restricted = RESTRICTED_FIELDS.iter().filter(|f| f.schema == name);
            for &RestrictedField {
                schema,
                field,
                roles,
            } in restricted
            {
                let shown = value.get(field).is_some();
                assert_eq!(
                    shown,
                    roles.contains(&role),
                    "{role} {at}: {schema}.{field} shown = {shown}"
                );
                seen.insert((schema, field, shown));
            }
        }
        let resolved = &doc["components"]["schemas"][name];
        return check_fields(doc, resolved, value, role, at, seen);
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        for variant in schema[combinator].as_array().into_iter().flatten() {
            check_fields(doc, variant, value, role, at, seen);
        }
    }
    match value {
        Value::Array(items) => {
            for item in items {
                check_fields(doc, &schema["items"], item, role, at, seen);
            }
        }
        Value::Object(object) => {
            for (key, item) in object {
                if let Some(property) = schema["properties"].get(key) {
                    check_fields(doc, property, item, role, at, seen);
                } else if schema["additionalProperties"].is_object() {
                    let property = &schema["additionalProperties"];
                    check_fields(doc, property, item, role, at, seen);
                }
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn every_answer_carries_only_the_fields_each_role_may_read() {
    let (app, _db) = TestApp::start().await;
    let admin = app.admin_token().await;
    let tokens = tokens_of_every_role(&app, &admin).await;
    seed_person(&app, &admin).await;
    let doc: Value = app.public_json("/api/v1/openapi.json").await;

    let mut seen = Seen::new();
    let mut answers = 0;
    for (method, path) in endpoints(&doc) {
        let ok = &doc["paths"][&path][&method]["responses"]["200"];
        let answer_schema = &ok["content"]["application/json"]["schema"];
        if method != "get" || answer_schema.is_null() {
            continue;
        }
        let Some(concrete) = concrete(&app, &admin, &path).await else {
            continue;
        };
        for (role, token) in &tokens {
            let response = app.get(&concrete, token).await;
            let json = response
                .headers()
                .get("content-type")
                .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
            if response.status() != StatusCode::OK || !json {
                continue;
            }
            let body: Value = response.json().await.unwrap();
            check_fields(&doc, answer_schema, &body, *role, &path, &mut seen);
            answers += 1;
        }
    }
    assert!(answers > 20, "only {answers} answers were checked");
    // Every declared field was met where it must show and where it must not.
    for field in RESTRICTED_FIELDS {
        for shown in [true, false] {
            assert!(
                seen.contains(&(field.schema, field.field, shown)),
                "{}.{} never met with shown = {shown}: {seen:?}",
                field.schema,
                field.field
            );
        }
    }
}
