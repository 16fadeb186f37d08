//! A place for visits in the end-to-end tests: a site whose local time is late morning
//! now (so "today" has room on both sides whenever the tests run), a lobby opened to
//! visitors by a security officer through the API, and a host person granted it; and
//! what several visit journeys do in the browser (the invitation form, a section of
//! `/visits`, the README's pictures).

use crate::browser::{Browser, WINDOW};
use crate::console::Console;
use chrono::{Duration, Timelike, Utc};
use chrono_tz::Tz;
use serde_json::json;
use std::path::PathBuf;

pub const LOBBY: &str = "Lobby";

/// Set to a folder (e.g. `$PWD/docs`) to write the README's pictures there.
pub const SCREENSHOTS_VAR: &str = "GATEHOUSE_SCREENSHOTS";

pub struct VisitPlace {
    pub site: String,
    pub lobby: String,
    /// The host person (granted the lobby).
    pub host: String,
    pub host_name: String,
    /// The site's time zone.
    pub tz: Tz,
}

impl VisitPlace {
    /// `HH:MM` at the site, `minutes` from now.
    pub fn local(&self, minutes: i64) -> String {
        let at = Utc::now() + Duration::minutes(minutes);
        at.with_timezone(&self.tz).format("%H:%M").to_string()
    }

    /// Today's date at the site.
    pub fn today(&self) -> String {
        Utc::now()
            .with_timezone(&self.tz)
            .format("%Y-%m-%d")
            .to_string()
    }
}

/// Zones whose clocks people know by a name (the console shows "PST", not "-08"), about
/// an hour apart around the world.
const NAMED_ZONES: &[Tz] = &[
    chrono_tz::Pacific::Pago_Pago,
    chrono_tz::Pacific::Honolulu,
    chrono_tz::America::Anchorage,
    chrono_tz::America::Los_Angeles,
    chrono_tz::America::Denver,
    chrono_tz::America::Chicago,
    chrono_tz::America::New_York,
    chrono_tz::America::Halifax,
    chrono_tz::America::St_Johns,
    chrono_tz::Europe::London,
    chrono_tz::Europe::Berlin,
    chrono_tz::Europe::Helsinki,
    chrono_tz::Europe::Moscow,
    chrono_tz::Asia::Karachi,
    chrono_tz::Asia::Kolkata,
    chrono_tz::Asia::Jakarta,
    chrono_tz::Asia::Hong_Kong,
    chrono_tz::Asia::Tokyo,
    chrono_tz::Australia::Brisbane,
    chrono_tz::Australia::Sydney,
    chrono_tz::Pacific::Auckland,
];

/// A time zone where it is about 11:00 now: the named zone nearest to it (within two
/// hours), else `Etc/GMT±N`.
pub fn late_morning_zone() -> Tz {
    let now = Utc::now();
    let from_eleven = |tz: &Tz| {
        let local = now.with_timezone(tz);
        (i64::from(local.hour()) * 60 + i64::from(local.minute()) - 11 * 60).abs()
    };
    if let Some(named) = NAMED_ZONES.iter().min_by_key(|tz| from_eleven(tz))
        && from_eleven(named) <= 120
    {
        return *named;
    }
    // Etc/GMT-N is UTC+N: the N that makes it about 11:00 there.
    let offset_h = (11 - i64::from(now.hour())).clamp(-12, 14);
    let name = match offset_h {
        0 => "UTC".to_owned(),
        n if n > 0 => format!("Etc/GMT-{n}"),
        n => format!("Etc/GMT+{}", -n),
    };
    name.parse().expect("an Etc/GMT zone")
}

/// Builds the place; the lobby is opened by a new security officer `security_user`.
pub async fn visit_place(console: &Console, host_name: &str, security_user: &str) -> VisitPlace {
    let api = &console.api;
    let admin = &console.admin;
    let tz = late_morning_zone();
    let site = api
        .created(
            admin,
            "/sites",
            json!({"name": "Harbour House", "timezone": tz.name()}),
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
        tz,
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

/// What the invitation form is filled with by [`invite`].
pub struct Invitation<'a> {
    pub visitor: &'a str,
    pub email: &'a str,
    /// The zone ticked.
    pub zone: &'a str,
    /// The window, in minutes from now (the form takes the site's `HH:MM`).
    pub from_min: i64,
    pub until_min: i64,
    /// The host chosen (desk roles); `None` for a host, who invites for itself.
    pub host: Option<&'a str>,
}

impl<'a> Invitation<'a> {
    /// `visitor` to the place's lobby from in 30 minutes for two hours, host `host`.
    pub fn to_lobby(place: &'a VisitPlace, visitor: &'a str, host: Option<&'a str>) -> Self {
        Invitation {
            visitor,
            email: "visitor@example.com",
            zone: &place.lobby,
            from_min: 30,
            until_min: 150,
            host,
        }
    }
}

/// Fills the invitation form and presses "Invite" (the browser is on `/visits/new`);
/// returns the path of the new visit's page, where the browser then is.
pub async fn invite(browser: &mut Browser, place: &VisitPlace, visit: &Invitation<'_>) -> String {
    browser
        .click(&format!("input[name='zone'][value='{}']", visit.zone))
        .await;
    let start = place.local(visit.from_min);
    let end = place.local(visit.until_min);
    let today = place.today();
    let mut fields = vec![
        ("visitor_name", visit.visitor),
        ("visitor_organisation", "Northwind"),
        ("visitor_email", visit.email),
        ("date", today.as_str()),
        ("start", start.as_str()),
        ("end", end.as_str()),
        ("purpose", "Quarterly review"),
    ];
    if let Some(host) = visit.host {
        fields.push(("host_person_id", host));
    }
    browser
        .submit_in("form.visit-form", &fields, "Invite")
        .await;
    let path = browser.path().await;
    assert!(
        path.starts_with("/visits/") && !path.ends_with("/new"),
        "the invitation was refused: {}",
        browser.page_text().await
    );
    path
}

/// The text of `/visits`'s (or a visit page's) section headed by the element `id`.
pub async fn section(browser: &Browser, id: &str) -> String {
    browser
        .text(&format!("section[aria-labelledby='{id}']"))
        .await
}

/// Writes the window as `file` into the README's folder, when [`SCREENSHOTS_VAR`] is set.
pub async fn readme_picture(browser: &Browser, file: &str) {
    let Some(folder) = std::env::var_os(SCREENSHOTS_VAR).map(PathBuf::from) else {
        return;
    };
    let picture = browser.screenshot().await;
    std::fs::write(folder.join(file), picture).expect("write a screenshot");
}

/// [`readme_picture`] of the whole page: the window made as tall as the page (at most
/// 2,400 pixels) for the picture, then put back.
pub async fn readme_page_picture(browser: &Browser, file: &str) {
    if std::env::var_os(SCREENSHOTS_VAR).is_none() {
        return;
    }
    let needed = browser
        .execute(
            "return Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)
               + window.outerHeight - window.innerHeight;",
        )
        .await;
    let height = needed
        .as_u64()
        .and_then(|h| u32::try_from(h).ok())
        .unwrap_or(WINDOW.1)
        .clamp(WINDOW.1, 2400);
    browser.resize(WINDOW.0, height).await;
    readme_picture(browser, file).await;
    browser.resize(WINDOW.0, WINDOW.1).await;
}
