//! Administration of people, cards, groups and grants in the console, on both backends:
//! forms create and change what the API would (same checks: a bad value is a 422 page
//! naming the field, and changes nothing), reach the operator log like the API's, and
//! "what can this person open" / "who can open this zone" are the engine's answers. An
//! auditor sees the pages without forms and is refused every action.

use super::client::Console;
use crate::common::{ADMIN_PASSWORD, PASSWORD, TestApp, TestDb, created};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// The id at the end of a redirect to `/admin/<what>/{id}`.
fn id_of(location: &str) -> String {
    location.rsplit('/').next().unwrap().to_owned()
}

async fn actions(app: &TestApp, admin: &str) -> Vec<String> {
    let log = app.get_json("/api/v1/operator-log?limit=500", admin).await;
    log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == "admin")
        .map(|e| e["action"].as_str().unwrap().to_owned())
        .collect()
}

async fn people_and_cards(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;

    let made = console
        .submit(
            "/admin/people",
            &[
                ("name", "Ada Lovelace"),
                ("kind", "contractor"),
                ("employer", "Analytical Engines Ltd"),
                ("clearance", "2"),
            ],
        )
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let ada = id_of(made.location());
    let person = app.get_json(&format!("/api/v1/people/{ada}"), &admin).await;
    assert_eq!(person["employer"], "Analytical Engines Ltd");

    // The API's checks: nothing is made from a bad form.
    let bad = console
        .submit(
            "/admin/people",
            &[("name", "Bob"), ("kind", "staff"), ("clearance", "999")],
        )
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.body.contains("clearance"), "{}", bad.body);
    let blank = console
        .submit(
            "/admin/people",
            &[("name", "  "), ("kind", "staff"), ("clearance", "1")],
        )
        .await;
    assert_eq!(blank.status, StatusCode::UNPROCESSABLE_ENTITY);
    let all = app.get_json("/api/v1/people", &admin).await;
    assert_eq!(all["items"].as_array().unwrap().len(), 1);

    // Found by organisation, then by name.
    let found = console.get("/admin/people?q=engines").await;
    assert!(found.body.contains("Ada Lovelace"), "{}", found.body);
    assert!(
        !console
            .get("/admin/people?q=nobody")
            .await
            .body
            .contains("Ada Lovelace")
    );

    let page = format!("/admin/people/{ada}");
    let edited = console
        .submit(
            &page,
            &[
                ("name", "Ada King"),
                ("employer", ""),
                ("clearance", "3"),
                ("external_id", "E-1"),
            ],
        )
        .await;
    assert_eq!(edited.status, StatusCode::SEE_OTHER, "{}", edited.body);
    let person = app.get_json(&format!("/api/v1/people/{ada}"), &admin).await;
    assert_eq!(
        (&person["name"], &person["employer"], &person["clearance"]),
        (&json!("Ada King"), &Value::Null, &json!(3))
    );

    let vetted = console
        .submit(
            &format!("{page}/vetting"),
            &[
                ("status", "cleared"),
                ("cleared_until", "2099-01-01T00:00"),
                ("reference", "V-77"),
            ],
        )
        .await;
    assert_eq!(vetted.status, StatusCode::SEE_OTHER, "{}", vetted.body);
    let past = console
        .submit(
            &format!("{page}/vetting"),
            &[("status", "cleared"), ("cleared_until", "2001-01-01T00:00")],
        )
        .await;
    assert_eq!(
        past.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        past.body
    );

    let issued = console
        .submit(
            &format!("{page}/cards"),
            &[("card", "0a:0b:0c:0d"), ("kind", "uid"), ("pin", "1234")],
        )
        .await;
    assert_eq!(issued.status, StatusCode::SEE_OTHER, "{}", issued.body);
    let short_pin = console
        .submit(&format!("{page}/cards"), &[("card", "0E0F"), ("pin", "12")])
        .await;
    assert_eq!(short_pin.status, StatusCode::UNPROCESSABLE_ENTITY);
    let taken = console
        .submit(&format!("{page}/cards"), &[("card", "0A0B0C0D")])
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "the card is issued");

    let found = console.get("/admin/people?q=0A0B0C0D").await;
    assert!(found.body.contains("Ada King"), "found by card");
    let shown = console.get(&page).await;
    assert!(shown.body.contains("V-77") && shown.body.contains("Cleared"));
    assert!(shown.body.contains("0A0B0C0D"));

    let cards = app
        .get_json(&format!("/api/v1/credentials?person_id={ada}"), &admin)
        .await;
    let card = cards["items"][0]["id"].as_str().unwrap().to_owned();
    assert_eq!(cards["items"][0]["has_pin"], true);
    let lost = console
        .submit(&format!("{page}/cards/{card}"), &[("state", "lost")])
        .await;
    assert_eq!(lost.status, StatusCode::SEE_OTHER);
    assert!(console.get(&page).await.body.contains("Reported lost"));
    let revoked = console
        .submit(&format!("{page}/cards/{card}"), &[("state", "revoked")])
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let again = console
        .submit(&format!("{page}/cards/{card}"), &[("state", "active")])
        .await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "a revoked card is final"
    );

    for status in ["suspended", "active", "left"] {
        let changed = console
            .submit(&format!("{page}/status"), &[("status", status)])
            .await;
        assert_eq!(changed.status, StatusCode::SEE_OTHER);
    }
    let person = app.get_json(&format!("/api/v1/people/{ada}"), &admin).await;
    assert_eq!(person["status"], "left");
    assert!(console.get(&page).await.body.contains("Left (leaver)"));

    let logged = actions(&app, &admin).await;
    for action in [
        "person.create",
        "person.update",
        "person.vetting",
        "credential.create",
        "credential.update",
    ] {
        assert!(logged.iter().any(|a| a == action), "{action} in {logged:?}");
    }

    // An auditor reads, without forms, and is refused every action.
    app.create_operator(&admin, "auditor", "auditor").await;
    let auditor = Console::login(&app, "auditor", PASSWORD).await;
    let seen = auditor.get(&page).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(seen.body.contains("Ada King"));
    assert!(!seen.body.contains("method=\"post\" action=\"/admin/people"));
    assert!(
        !auditor
            .get("/admin/people")
            .await
            .body
            .contains("Register a person")
    );
    let before = actions(&app, &admin).await.len();
    let refused = auditor
        .submit(&format!("{page}/status"), &[("status", "active")])
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let refused = auditor
        .submit(
            "/admin/people",
            &[("name", "X"), ("kind", "staff"), ("clearance", "1")],
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(actions(&app, &admin).await.len(), before);
    app.create_operator(&admin, "desk", "receptionist").await;
    let desk = Console::login(&app, "desk", PASSWORD).await;
    assert_eq!(desk.get(&page).await.status, StatusCode::FORBIDDEN);
    assert_eq!(
        desk.get("/admin/groups").await.status,
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

async fn groups_grants_and_the_engine_s_answers(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let site = created(
        app.post(
            "/api/v1/sites",
            &admin,
            json!({"name": "Plant", "timezone": "UTC"}),
        )
        .await,
    )
    .await;
    let lobby = created(
        app.post(
            "/api/v1/zones",
            &admin,
            json!({"site_id": site, "name": "Lobby", "level": 0}),
        )
        .await,
    )
    .await;
    let lab = created(
        app.post(
            "/api/v1/zones",
            &admin,
            json!({"site_id": site, "parent_id": lobby, "name": "Lab", "level": 1}),
        )
        .await,
    )
    .await;
    created(
        app.post(
            "/api/v1/doors",
            &admin,
            json!({"name": "Lab door", "from_zone_id": lobby, "to_zone_id": lab}),
        )
        .await,
    )
    .await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let ada = id_of(
        console
            .submit(
                "/admin/people",
                &[("name", "Ada"), ("kind", "staff"), ("clearance", "1")],
            )
            .await
            .location(),
    );
    let bob = id_of(
        console
            .submit(
                "/admin/people",
                &[("name", "Bob"), ("kind", "staff"), ("clearance", "1")],
            )
            .await
            .location(),
    );
    for (who, card) in [(&ada, "A1A1"), (&bob, "B2B2")] {
        let issued = console
            .submit(&format!("/admin/people/{who}/cards"), &[("card", card)])
            .await;
        assert_eq!(issued.status, StatusCode::SEE_OTHER);
    }

    let made = console
        .submit("/admin/groups", &[("name", "Lab staff")])
        .await;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.body);
    let group = id_of(made.location());
    let taken = console
        .submit("/admin/groups", &[("name", "Lab staff")])
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    for who in [&ada, &bob] {
        let joined = console
            .submit(&format!("/admin/people/{who}/groups"), &[("group", &group)])
            .await;
        assert_eq!(joined.status, StatusCode::SEE_OTHER);
    }
    let no_zone = console
        .submit(&format!("/admin/groups/{group}/grants"), &[("zone", "")])
        .await;
    assert_eq!(no_zone.status, StatusCode::UNPROCESSABLE_ENTITY);
    let granted = console
        .submit(&format!("/admin/groups/{group}/grants"), &[("zone", &lab)])
        .await;
    assert_eq!(granted.status, StatusCode::SEE_OTHER, "{}", granted.body);
    let shown = console.get(&format!("/admin/groups/{group}")).await;
    assert!(shown.body.contains("Lab · Plant") && shown.body.contains("At all times"));
    assert!(shown.body.contains(">Ada<") && shown.body.contains(">Bob<"));

    // Bob's card is reported lost: he holds the grant but is refused, with the reason.
    let cards = app
        .get_json(&format!("/api/v1/credentials?person_id={bob}"), &admin)
        .await;
    let card = cards["items"][0]["id"].as_str().unwrap();
    console
        .submit(
            &format!("/admin/people/{bob}/cards/{card}"),
            &[("state", "lost")],
        )
        .await;
    let who = console.get(&format!("/admin/groups/who?zone={lab}")).await;
    assert_eq!(who.status, StatusCode::OK);
    let (can, refused) = who.body.split_once("Hold a grant but refused").unwrap();
    assert!(can.contains(">Ada<") && !can.contains(">Bob<"), "{can}");
    assert!(refused.contains(">Bob<"), "{refused}");
    assert!(
        refused.contains("Card not active or not valid now"),
        "{refused}"
    );

    let opens = console.get(&format!("/admin/people/{ada}")).await;
    let (_, answers) = opens.body.split_once("What can this person open").unwrap();
    assert!(answers.contains("Lab door · Plant") && answers.contains("Opens"));
    let opens = console.get(&format!("/admin/people/{bob}")).await;
    let (_, answers) = opens.body.split_once("What can this person open").unwrap();
    assert!(answers.contains("Refused"), "{answers}");

    // A group with grants is not deleted; without them it is.
    let refused = console
        .submit(&format!("/admin/groups/{group}/delete"), &[])
        .await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    let grants = app
        .get_json(&format!("/api/v1/grants?group_id={group}"), &admin)
        .await;
    let grant = grants["items"][0]["id"].as_str().unwrap();
    let revoked = console
        .submit(&format!("/admin/groups/{group}/grants/{grant}/delete"), &[])
        .await;
    assert_eq!(revoked.status, StatusCode::SEE_OTHER);
    let removed = console
        .submit(&format!("/admin/groups/{group}/members/{bob}/remove"), &[])
        .await;
    assert_eq!(removed.status, StatusCode::SEE_OTHER);
    let record = app
        .get_json(&format!("/api/v1/groups/{group}"), &admin)
        .await;
    assert_eq!(record["person_ids"], json!([ada]));
    let deleted = console
        .submit(&format!("/admin/groups/{group}/delete"), &[])
        .await;
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    let logged = actions(&app, &admin).await;
    for action in [
        "group.create",
        "group.set_members",
        "grant.create",
        "grant.delete",
        "group.delete",
    ] {
        assert!(logged.iter().any(|a| a == action), "{action} in {logged:?}");
    }
    app.stop().await;
}

/// The job's page once the job has ended (its section is no longer re-read).
async fn ended(console: &Console<'_>, job: &str) -> String {
    for _ in 0..200 {
        let page = console.get(job).await;
        assert_eq!(page.status, StatusCode::OK);
        if !page.body.contains("data-poll") {
            return page.body;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the import did not end")
}

async fn the_import_by_upload(db: &TestDb) {
    let app = TestApp::start_on(db).await;
    let admin = app.admin_token().await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    console
        .submit("/admin/groups", &[("name", "Night shift")])
        .await;

    // Not an HR file: refused at once, before any job.
    let sent = console
        .upload("/admin/import", "x.csv", b"surname;forename\nA;B\n")
        .await;
    let (status, _, body) = (sent.status, sent.location().to_owned(), sent.body);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body.contains("unknown column"), "{body}");

    let header = "\u{feff}external_id;name;kind;clearance;groups\r\n";
    let bad = format!("{header}E1;Zoë;staff;1;Night shift\r\nE2;Jan;robot;1;Day shift\r\n");
    let sent = console
        .upload("/admin/import", "hr.csv", bad.as_bytes())
        .await;
    let (status, job, _) = (sent.status, sent.location().to_owned(), sent.body);
    assert_eq!(status, StatusCode::SEE_OTHER);
    let page = ended(&console, &job).await;
    assert!(page.contains("Failed: nothing imported"), "{page}");
    let (_, table) = page.split_once("Problems by line").unwrap();
    assert!(
        table.contains("<td>3</td>") && table.contains("<code>kind</code>"),
        "{table}"
    );
    assert!(
        table.contains("must be one of staff, contractor"),
        "{table}"
    );
    assert!(
        app.get_json("/api/v1/people", &admin).await["items"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let good = format!("{header}E1;Zoë;staff;1;Night shift\r\nE2;Jan;contractor;1;\r\n");
    let sent = console
        .upload("/admin/import", "hr.csv", good.as_bytes())
        .await;
    let (status, job, _) = (sent.status, sent.location().to_owned(), sent.body);
    assert_eq!(status, StatusCode::SEE_OTHER);
    let page = ended(&console, &job).await;
    assert!(page.contains("2 people created"), "{page}");
    let history = console.get("/admin/import").await;
    assert!(history.body.contains("Imported") && history.body.contains("Failed"));
    let people = app.get_json("/api/v1/people?q=Zo", &admin).await;
    assert_eq!(people["items"][0]["group_ids"].as_array().unwrap().len(), 1);

    // Only writers of the security model import.
    app.create_operator(&admin, "auditor", "auditor").await;
    let auditor = Console::login(&app, "auditor", PASSWORD).await;
    assert_eq!(
        auditor.get("/admin/import").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(auditor.get(&job).await.status, StatusCode::FORBIDDEN);
    let sent = auditor
        .upload("/admin/import", "hr.csv", good.as_bytes())
        .await;
    let (status, _, _) = (sent.status, sent.location().to_owned(), sent.body);
    assert_eq!(status, StatusCode::FORBIDDEN);
    app.stop().await;
}

/// "Issue a secure card on the desk reader": offered only where this server has a desk
/// reader (else the section says there is none, with no form); a refusal (no desk reader,
/// the site has no card keys) is the person's page again, answering 409, with why next to
/// the form and the chosen site kept.
async fn issuing_a_secure_card_from_the_person_page(db: &TestDb) {
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::start_with(crate::card_keys::with_kek(db, &dir)).await;
    let admin = app.admin_token().await;
    let console = Console::login(&app, "admin", ADMIN_PASSWORD).await;
    let mut sites = Vec::new();
    for name in ["HQ", "Annex"] {
        let body = json!({"name": name, "timezone": "Europe/Berlin"});
        sites.push(created(app.post("/api/v1/sites", &admin, body).await).await);
    }
    let site_id = sites[1].as_str();
    let body = json!({"name": "Ada Lovelace", "kind": "staff", "clearance": 1});
    let ada = created(app.post("/api/v1/people", &admin, body).await).await;
    let page = console.get(&format!("/admin/people/{ada}")).await;
    assert!(
        page.body.contains("Issue a secure card on the desk reader"),
        "{}",
        page.body
    );
    let offered = page.body.contains("Issue on the desk reader");
    assert_eq!(offered, cfg!(feature = "pcsc"), "{}", page.body);
    let no_desk_note = page.body.contains("This server has no desk reader");
    assert_eq!(no_desk_note, !cfg!(feature = "pcsc"), "{}", page.body);

    // Refusals come back on the person's page, in the section, not as an error page: no
    // desk reader in this build, else the site's missing card keys.
    let form = format!("/admin/people/{ada}/secure-card");
    let refused = console.submit(&form, &[("site_id", site_id)]).await;
    assert_eq!(refused.status, StatusCode::CONFLICT);
    assert!(
        refused.body.contains("<h1>Ada Lovelace</h1>"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("What can this person open"));
    if cfg!(feature = "pcsc") {
        let why = "<p class=\"problem\" role=\"alert\" id=\"s-refused\">\
                   The site has no card keys; create them first.</p>";
        assert!(refused.body.contains(why), "{}", refused.body);
        let chosen = format!("<option value=\"{site_id}\" selected>Annex</option>");
        assert!(refused.body.contains(&chosen), "{}", refused.body);
    } else {
        let why = "<p class=\"problem\" role=\"alert\">This server has no desk reader";
        assert!(refused.body.contains(why), "{}", refused.body);
        assert!(!refused.body.contains("Issue on the desk reader"));
    }
    // Not a refusal of the form: an unknown person or site is the error page.
    let nobody = format!("/admin/people/{}/secure-card", uuid::Uuid::now_v7());
    let unknown = console.submit(&nobody, &[("site_id", site_id)]).await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let missing = console
        .get(&format!("/admin/desk-jobs/{}", uuid::Uuid::now_v7()))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    app.stop().await;
}

conformance!(
    people_and_cards,
    groups_grants_and_the_engine_s_answers,
    the_import_by_upload,
    issuing_a_secure_card_from_the_person_page,
);
