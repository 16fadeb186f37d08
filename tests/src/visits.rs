//! A place for visits in the end-to-end tests: a site whose local time is late morning
//! now (so "today" has room on both sides whenever the tests run), a lobby opened to
//! visitors by a security officer through the API, and a host person granted it.

use crate::console::Console;
use serde_json::json;

pub const LOBBY: &str = "Lobby";

pub struct VisitPlace {
    pub site: String,
    pub lobby: String,
    /// The host person (granted the lobby).
    pub host: String,
    pub host_name: String,
    /// Hours the site's clock is ahead of UTC.
    pub offset_h: i64,
}

/// Builds the place; the lobby is opened by a new security officer `security_user`.
pub async fn visit_place(console: &Console, host_name: &str, security_user: &str) -> VisitPlace {
    let api = &console.api;
    let admin = &console.admin;
    // Etc/GMT-N is UTC+N: the N that makes it about 11:00 there.
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    let utc_hour = i64::try_from(since_epoch.as_secs() % 86_400 / 3600).unwrap();
    let offset_h = (11 - utc_hour).clamp(-12, 14);
    let tz = match offset_h {
        0 => "UTC".to_owned(),
        n if n > 0 => format!("Etc/GMT-{n}"),
        n => format!("Etc/GMT+{}", -n),
    };
    let site = api
        .created(
            admin,
            "/sites",
            json!({"name": "Harbour House", "timezone": tz}),
        )
        .await;
    let site = site["id"].as_str().unwrap().to_owned();
    let lobby = api
        .created(
            admin,
            "/zones",
            json!({"site_id": site, "name": LOBBY, "level": 0}),
        )
        .await;
    let lobby = lobby["id"].as_str().unwrap().to_owned();
    let password = console.operator(security_user, "security").await;
    let security = api.token(security_user, &password).await;
    let rule = json!({"longest_visit_minutes": 480});
    let opened = api
        .put(&format!("/zones/{lobby}/visitor-rule"), &security, &rule)
        .await;
    assert_eq!(opened.status().as_u16(), 200, "open the lobby to visitors");
    let person = json!({"name": host_name, "kind": "staff", "clearance": 1});
    let host = api.created(admin, "/people", person).await;
    let host = host["id"].as_str().unwrap().to_owned();
    let grant = json!({"person_id": host, "zone_id": lobby});
    api.created(admin, "/grants", grant).await;
    VisitPlace {
        site,
        lobby,
        host,
        host_name: host_name.to_owned(),
        offset_h,
    }
}

/// Creates a host operator linked to `person` (`PUT /operators/{id}/person`); returns
/// its password.
pub async fn host_account(console: &Console, username: &str, person: &str) -> String {
    let password = console.operator(username, "host").await;
    let operators = console
        .api
        .list_all("/operators", &console.admin, 100)
        .await;
    let id = operators
        .iter()
        .find(|o| o["username"] == username)
        .and_then(|o| o["id"].as_str())
        .unwrap()
        .to_owned();
    let link = json!({"person_id": person});
    let linked = console
        .api
        .put(&format!("/operators/{id}/person"), &console.admin, &link)
        .await;
    assert_eq!(linked.status().as_u16(), 200, "link the host account");
    password
}
