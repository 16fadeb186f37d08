//! Importing a watchlist file, on SQLite and PostgreSQL: through the API every row is
//! checked first (one bad row: 422 naming its line and column, nothing added); rows
//! already listed are skipped, so a second import adds nothing; each entry added has its
//! `watchlist.create` log entry and the audit chain verifies; an imported name is
//! screened like a typed one; only those who keep the list import it, also from the
//! console's upload form.

use crate::common::{PASSWORD, TestApp, TestDb, error_of, expect};
use crate::console::client::Console;
use gatehouse_server::audit::checkpoint::AuditKey;
use gatehouse_server::audit::verify::verify;
use gatehouse_server::screening::DEFAULT_THRESHOLD;
use gatehouse_server::screening::matcher::{Candidate, Index, Listed};
use reqwest::{Method, Response, StatusCode};
use serde_json::Value;

conformance!(
    a_file_is_added_once_and_all_or_nothing,
    the_console_imports_a_file
);

const FILE: &str = "\u{feff}name;aliases;date_of_birth;organisation;reason;action\r\n\
    Ioannis Papadopoulos;Giannis Papas|Yannis P.;1971-04-02;Acme;Court order 77/2025;block\r\n\
    \"Smith, Jane\";;;;Theft at reception;FLAG\r\n\
    Иван Петров;;;;Trespass;block\r\n";

async fn post_csv(app: &TestApp, token: &str, body: &str) -> Response {
    app.request(Method::POST, "/api/v1/watchlist/import", Some(token))
        .header("content-type", "text/csv; charset=utf-8")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

async fn entries(app: &TestApp, token: &str) -> Vec<Value> {
    let page = app.get_json("/api/v1/watchlist?limit=500", token).await;
    page["items"].as_array().unwrap().clone()
}

async fn a_file_is_added_once_and_all_or_nothing(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "sofia", "security").await;
    app.create_operator(&admin, "rita", "receptionist").await;
    let security = app.login("sofia", PASSWORD).await;
    let reception = app.login("rita", PASSWORD).await;

    // One bad row among good ones: 422 naming it, and nothing is added.
    let bad = format!("{FILE}Ann Other;;1970-13-01;;Fraud;block\r\n  ;;;;No name;flag\r\n");
    let refused = post_csv(&app, &security, &bad).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let error = error_of(refused).await;
    let fields = &error["fields"];
    assert!(
        fields["line 5: date_of_birth"].is_string() && fields["line 6: name"].is_string(),
        "{error}"
    );
    assert!(entries(&app, &security).await.is_empty());
    let refused = post_csv(&app, &security, "name,colour\nA,red\n").await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let denied = post_csv(&app, &reception, FILE).await;
    assert_eq!(denied.status(), StatusCode::FORBIDDEN);
    let json = app
        .request(Method::POST, "/api/v1/watchlist/import", Some(&security))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::BAD_REQUEST);

    let done = expect(post_csv(&app, &security, FILE).await, StatusCode::OK).await;
    assert_eq!(
        (done["added"].as_u64(), done["already_listed"].as_u64()),
        (Some(3), Some(0))
    );
    let listed = entries(&app, &security).await;
    assert_eq!(listed.len(), 3);
    let ioannis = &listed[0];
    assert_eq!(
        ioannis["aliases"],
        serde_json::json!(["Giannis Papas", "Yannis P."])
    );
    assert_eq!(ioannis["date_of_birth"], "1971-04-02");
    assert_eq!(ioannis["action"], "block");
    assert_eq!(listed[1]["name"], "Smith, Jane");
    assert_eq!(listed[1]["action"], "flag");

    // Again, with one new row: only the new row is added.
    let again = format!("{FILE}Ann Other;;;;Fraud;block\r\n");
    let done = expect(post_csv(&app, &security, &again).await, StatusCode::OK).await;
    assert_eq!(
        (done["added"].as_u64(), done["already_listed"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(entries(&app, &security).await.len(), 4);

    // Each entry added has its log entry; the chain verifies.
    let store = db.store().await;
    let log = store.list_operator_log(None, 500).await.unwrap();
    let created = log
        .iter()
        .filter(|e| e.action == "watchlist.create")
        .count();
    assert_eq!(created, 4);
    let key = AuditKey::load(&store).await.unwrap();
    let report = verify(&store, &key.public_key()).await.unwrap();
    assert!(report.ok, "{report:?}");

    // An imported entry is screened like a typed one.
    let (_, list) = store.watchlist_snapshot().await.unwrap();
    let index = Index::build(list.iter().map(Listed::from).collect());
    let visitor = Candidate {
        name: "Giannis Papas".to_owned(),
        date_of_birth: None,
        organisation: None,
    };
    assert_eq!(index.screen(&visitor, DEFAULT_THRESHOLD).len(), 1);
    app.stop().await;
}

async fn the_console_imports_a_file(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    app.create_operator(&admin, "sofia", "security").await;
    app.create_operator(&admin, "audrey", "auditor").await;
    let officer = Console::login(&app, "sofia", PASSWORD).await;
    let auditor = Console::login(&app, "audrey", PASSWORD).await;

    let form = officer.get("/admin/watchlist").await;
    assert!(form.body.contains("action=\"/admin/watchlist/import\""));
    let refused = officer
        .upload(
            "/admin/watchlist/import",
            "list.csv",
            b"name,reason,action\nA,B,shoot\n",
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        refused.body.contains("nothing was added"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("must be flag or block"));

    let done = officer
        .upload("/admin/watchlist/import", "list.csv", FILE.as_bytes())
        .await;
    assert_eq!(done.status, StatusCode::OK);
    assert!(
        done.body
            .contains("Imported: 3 added, 0 already on the list."),
        "{}",
        done.body
    );
    assert!(done.body.contains("Ioannis Papadopoulos"));

    assert!(
        !auditor
            .get("/admin/watchlist")
            .await
            .body
            .contains("/admin/watchlist/import")
    );
    let denied = auditor
        .upload("/admin/watchlist/import", "list.csv", FILE.as_bytes())
        .await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    app.stop().await;
}
