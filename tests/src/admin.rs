//! An administrator's set-up done in the browser, for the console's admin tests: a site
//! with a zone inside another and a door between them (`/admin/sites`), a door agent
//! registered for that door (`/admin/agents`), and the real `door-agent` enrolled with
//! the command the page shows, started with simulated hardware. Shared, so later tests
//! (issuing a card that opens the door) start where this one ends.

use crate::agent::{AgentProcess, agent_config, door_agent_binary};
use crate::browser::Browser;
use crate::console::{AGENT_WAIT, Console, READER};
use crate::free_port;
use crate::server::run_to_exit;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Names the set-up gives.
pub const SITE: &str = "Research campus";
pub const OUTER_ZONE: &str = "Building";
pub const INNER_ZONE: &str = "Lab";
pub const DOOR: &str = "Lab door";
pub const AGENT: &str = "pi-lab";
/// Where the shown command puts the agent's configuration (the README's path).
pub const SHOWN_CONFIG: &str = "/etc/gatehouse/door-agent.toml";

/// What the set-up made, by id (for the test's own checks and files).
pub struct AdminModel {
    pub site: String,
    pub door: String,
}

/// Picks the option labelled `label` of the select matching `css`.
pub async fn choose(browser: &Browser, css: &str, label: &str) {
    let script = format!(
        "const select = document.querySelector({css});
         const option = select && Array.from(select.options)
           .find(o => o.textContent.trim() === {label});
         if (!option) {{ return false; }}
         select.value = option.value;
         return true;",
        css = serde_json::to_string(css).unwrap(),
        label = serde_json::to_string(label).unwrap(),
    );
    assert_eq!(
        browser.execute(&script).await,
        serde_json::Value::Bool(true),
        "no option {label:?} in {css}"
    );
}

/// Creates the site, its two zones (the inner one inside the outer) and the door from
/// the outer into the inner, each through the console's forms; checks the site's page
/// shows the tree. The browser must be logged in as an admin.
pub async fn create_site_with_door(browser: &mut Browser) -> AdminModel {
    browser.goto("/admin/sites").await;
    browser
        .submit_in(
            "form[action='/admin/sites']",
            &[("name", SITE), ("timezone", "Europe/Berlin")],
            "Create site",
        )
        .await;
    let path = browser.path().await;
    let site = path
        .strip_prefix("/admin/sites/")
        .unwrap_or_else(|| panic!("the new site's page, not {path}"))
        .to_owned();
    let zones = format!("form[action='/admin/sites/{site}/zones']");
    browser
        .submit_in(
            &zones,
            &[("name", OUTER_ZONE), ("level", "0")],
            "Create zone",
        )
        .await;
    choose(browser, "#zone-parent", OUTER_ZONE).await;
    browser
        .submit_in(
            &zones,
            &[
                ("name", INNER_ZONE),
                ("level", "2"),
                ("max_occupancy", "10"),
            ],
            "Create zone",
        )
        .await;
    let doors = format!("form[action='/admin/sites/{site}/doors']");
    choose(browser, "#door-from", OUTER_ZONE).await;
    choose(browser, "#door-to", &format!("{OUTER_ZONE} › {INNER_ZONE}")).await;
    browser
        .submit_in(&doors, &[("name", DOOR)], "Create door")
        .await;
    assert_eq!(browser.path().await, format!("/admin/sites/{site}"));
    // The tree: the inner zone is listed inside the outer one's item.
    let outer_item = browser.text("ul.zone-tree > li").await;
    assert!(outer_item.starts_with(OUTER_ZONE), "{outer_item}");
    let inner = browser.text("ul.zone-tree > li > ul > li").await;
    assert!(inner.starts_with(INNER_ZONE), "{inner}");
    assert!(inner.contains("clearance level 2 or higher"), "{inner}");
    assert!(inner.contains("at most 10 inside"), "{inner}");
    let doors_table = browser
        .text("#doors + table, section[aria-labelledby='doors'] table")
        .await;
    assert!(doors_table.contains(DOOR), "{doors_table}");
    assert!(doors_table.contains("no door agent"), "{doors_table}");
    let door = browser
        .execute(&format!(
            "const a = Array.from(document.querySelectorAll('section[aria-labelledby=doors] a'))
               .find(a => a.textContent.trim() === {name});
             return a ? a.getAttribute('href').split('/').pop() : null;",
            name = serde_json::to_string(DOOR).unwrap()
        ))
        .await
        .as_str()
        .expect("the door's link")
        .to_owned();
    AdminModel { site, door }
}

/// Registers [`AGENT`] for every door offered and returns the enrolment command the
/// page shows.
pub async fn register_agent(browser: &mut Browser) -> String {
    browser.goto("/admin/agents").await;
    browser
        .click("form[action='/admin/agents'] input[name=door_ids]")
        .await;
    browser
        .submit_in(
            "form[action='/admin/agents']",
            &[("name", AGENT)],
            "Register and show the enrolment code",
        )
        .await;
    browser.text("#enroll-command").await
}

/// An agent enrolled with the shown command and running: its configuration file and
/// state folder are the only things the test chooses.
pub struct EnrolledAgent {
    pub agent: AgentProcess,
    pub config: PathBuf,
}

/// Runs the shown `door-agent enroll ...` command word for word with the real binary,
/// replacing only the configuration's path (the test writes it in its own folder, with
/// `reader_kind` `simulated` or `pcsc` and the entry reader [`READER`] on `door`); then
/// starts the agent and waits for its policy.
pub async fn enroll_as_shown(
    console: &Console,
    command: &str,
    door: &str,
    reader_kind: &str,
) -> EnrolledAgent {
    let words: Vec<&str> = command.split_whitespace().collect();
    assert_eq!(words.first(), Some(&"door-agent"), "{command}");
    assert_eq!(words.get(1), Some(&"enroll"), "{command}");
    let dir = console.dir.path();
    let config = dir.join("door-agent.toml");
    let server = words
        .windows(2)
        .find(|w| w[0] == "--server")
        .map(|w| w[1])
        .expect("the command names the server");
    let status_port = free_port();
    let toml = agent_config(
        server,
        &dir.join("agent-state"),
        status_port,
        86_400,
        reader_kind,
        (READER, door),
    )
    .replace(
        "max_policy_age_s = 86400\n",
        "max_policy_age_s = 86400\nheartbeat_s = 1\n",
    );
    std::fs::write(&config, toml).expect("write the agent's configuration");
    let output = run_to_exit(shown_command(&words, &config), None).await;
    assert!(
        output.status.success(),
        "{command}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let status_url = format!("http://127.0.0.1:{status_port}");
    let mut agent = AgentProcess::start(dir, &config, &status_url);
    agent
        .wait_status(AGENT_WAIT, "a policy", |s| s["policy_version"].is_u64())
        .await;
    EnrolledAgent { agent, config }
}

/// The shown command's words as a process of this build's `door-agent`, the
/// configuration path ([`SHOWN_CONFIG`]) replaced by `config`.
fn shown_command(words: &[&str], config: &Path) -> Command {
    let mut command = Command::new(door_agent_binary());
    for word in words.iter().skip(1) {
        if *word == SHOWN_CONFIG {
            command.arg(config);
        } else {
            command.arg(word);
        }
    }
    command
}
