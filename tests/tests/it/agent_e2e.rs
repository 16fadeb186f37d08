//! The real door agent against the real server: `door-agent enroll`, then `door-agent
//! run` with the simulated reader (card lines on its standard input) and the simulated
//! lock. The relay is observed through the agent's `/status` (`relay` now, and
//! `relay_changes`, which counts every relay move since start, so a pulse between two
//! polls is not missed). Events are checked at the server through `GET /api/v1/events`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gatehouse_e2e::{
    AgentProcess, Api, OneDoorSite, ServerProcess, agent_config, enroll_agent, expect_json,
    free_port, wait_until,
};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;
use tempfile::TempDir;

const ADMIN_PASSWORD: &str = "admin-password-for-agent-e2e";
const BOOTSTRAP: (&str, &str) = ("GATEHOUSE__BOOTSTRAP__ADMIN_PASSWORD", ADMIN_PASSWORD);
const ALLOWED: &str = "04A1B2C3D4E5F6";
const DENIED: &str = "04DEDEDEDEDEDE";
const READER: &str = "front";
const WAIT: Duration = Duration::from_secs(30);

struct Site {
    dir: TempDir,
    server: ServerProcess,
    api: Api,
    admin: String,
    door: String,
    credential: String,
    config: PathBuf,
    status_url: String,
}

/// A server with a door (unlock 1 s, held-open 1 s), a person whose card may enter, an
/// unknown card, and an enrolled agent whose configuration is written but not started.
async fn site(max_policy_age_s: u64) -> Site {
    let dir = TempDir::new().unwrap();
    let server = ServerProcess::start_ready(dir.path(), &[BOOTSTRAP]).await;
    let api = server.api();
    let admin = api.token("admin", ADMIN_PASSWORD).await;
    let one = OneDoorSite::create(
        &api,
        &admin,
        ALLOWED,
        json!({"unlock_ms": 1000, "held_open_ms": 1000}),
    )
    .await;
    let credential = one.credential.clone();
    let door = one.door.clone();
    let status_port = free_port();
    let state = dir.path().join("agent-state");
    let config = dir.path().join("door-agent.toml");
    std::fs::write(
        &config,
        agent_config(
            &server.base_url,
            &state,
            status_port,
            max_policy_age_s,
            "simulated",
            (READER, &door),
        ),
    )
    .unwrap();
    let output = enroll_agent(&server.base_url, &one.enrollment_code, &config).await;
    assert!(
        output.status.success(),
        "enroll failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let cred_file = state.join("credential.json");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&cred_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the credential file must be owner-only");

    Site {
        dir,
        server,
        api,
        admin,
        door,
        credential,
        config,
        status_url: format!("http://127.0.0.1:{status_port}"),
    }
}

impl Site {
    fn start_agent(&self) -> AgentProcess {
        AgentProcess::start(self.dir.path(), &self.config, &self.status_url)
    }

    fn state_dir(&self) -> PathBuf {
        self.dir.path().join("agent-state")
    }

    /// Every event at the server, in arrival order.
    async fn events(&self) -> Vec<Value> {
        self.api.list_all("/events", &self.admin, 500).await
    }

    /// Waits until the server holds an event matching `pred`.
    async fn wait_event(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        wait_until(WAIT, what, async || {
            self.events().await.into_iter().find(|e| pred(e))
        })
        .await
    }
}

fn presentation(card: &str) -> impl Fn(&Value) -> bool + '_ {
    move |e: &Value| e["kind"] == "presentation" && e["card"] == card
}

fn changes(status: &Value) -> u64 {
    status["relay_changes"].as_u64().unwrap()
}

async fn policy_loaded(agent: &mut AgentProcess) -> Value {
    agent
        .wait_status(WAIT, "a policy version", |s| s["policy_version"].is_u64())
        .await
}

#[tokio::test]
async fn a_allowed_card_opens_and_the_event_reaches_the_server() {
    let site = site(86_400).await;
    let mut agent = site.start_agent();
    policy_loaded(&mut agent).await;
    agent.send_line(&format!("{READER} {ALLOWED}"));
    // Released, then locked again after the unlock time: at least two relay moves.
    agent
        .wait_status(WAIT, "the relay to release and relock", |s| {
            changes(s) >= 2 && s["relay"] == "locked"
        })
        .await;
    let event = site
        .wait_event("the granted presentation", presentation(ALLOWED))
        .await;
    assert_eq!(event["outcome"], "granted", "{event}");
    assert_eq!(event["door_id"], site.door.as_str());
    assert_eq!(event["reader"], READER);
    let status = agent.status().await.unwrap();
    assert_eq!(status["last_decision"]["outcome"], "granted", "{status}");
    assert_eq!(agent.stop().await.code(), Some(0));
}

#[tokio::test]
async fn b_denied_card_never_moves_the_relay_and_carries_its_reason() {
    let site = site(86_400).await;
    let mut agent = site.start_agent();
    policy_loaded(&mut agent).await;
    agent.send_line(&format!("{READER} {DENIED}"));
    let event = site
        .wait_event("the denied presentation", presentation(DENIED))
        .await;
    assert_eq!(event["outcome"], "denied", "{event}");
    assert_eq!(event["reason"], "unknown_credential", "{event}");
    let status = agent.status().await.unwrap();
    assert_eq!(
        changes(&status),
        0,
        "the relay moved for a denied card: {status}"
    );
    assert_eq!(status["relay"], "locked");
}

#[tokio::test]
async fn c_revocation_applies_without_restart() {
    let site = site(86_400).await;
    let mut agent = site.start_agent();
    let before = policy_loaded(&mut agent).await["policy_version"]
        .as_u64()
        .unwrap();
    let response = site
        .api
        .patch(
            &format!("/credentials/{}", site.credential),
            &site.admin,
            &json!({"state": "revoked"}),
        )
        .await;
    assert!(
        response.status().is_success(),
        "revoke: {}",
        response.status()
    );
    agent
        .wait_status(WAIT, "the new policy version", |s| {
            s["policy_version"].as_u64() > Some(before)
        })
        .await;
    // It came as a signed delta, kept beside the snapshot it applies to.
    let deltas = std::fs::read_dir(site.state_dir()).unwrap();
    let deltas: Vec<String> = (deltas.map(|e| e.unwrap().file_name()))
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| name.starts_with("policy.delta."))
        .collect();
    assert_eq!(deltas.len(), 1, "one delta on disk: {deltas:?}");
    agent.send_line(&format!("{READER} {ALLOWED}"));
    let event = site
        .wait_event("the revoked card's presentation", presentation(ALLOWED))
        .await;
    assert_eq!(event["outcome"], "denied", "{event}");
    assert_eq!(changes(&agent.status().await.unwrap()), 0);
}

/// "Why was this denied?": the door's own trace travels with the event, and the event's
/// detail shows it with names, as the door decided then, whatever the rules are now.
#[tokio::test]
async fn cc_a_denial_carries_the_door_trace_to_the_event_detail() {
    let site = site(86_400).await;
    let mut agent = site.start_agent();
    let before = policy_loaded(&mut agent).await["policy_version"]
        .as_u64()
        .unwrap();
    let credential = format!("/credentials/{}", site.credential);
    let set_state = async |state: &str| {
        let body = json!({ "state": state });
        let response = site.api.patch(&credential, &site.admin, &body).await;
        assert!(
            response.status().is_success(),
            "{state}: {}",
            response.status()
        );
    };
    set_state("suspended").await;
    agent
        .wait_status(WAIT, "the new policy version", |s| {
            s["policy_version"].as_u64() > Some(before)
        })
        .await;
    agent.send_line(&format!("{READER} {ALLOWED}"));
    let event = site
        .wait_event("the suspended card's presentation", presentation(ALLOWED))
        .await;
    assert_eq!(event["reason"], "credential_inactive", "{event}");
    // Today's rules would admit the card again: the detail still shows the door's.
    set_state("active").await;
    let id = event["id"].as_str().unwrap();
    let detail = expect_json(
        site.api.get(&format!("/events/{id}"), &site.admin).await,
        200,
    )
    .await;
    let steps: Vec<(&str, bool)> = detail["trace"]
        .as_array()
        .unwrap_or_else(|| panic!("no trace: {detail}"))
        .iter()
        .map(|s| (s["check"].as_str().unwrap(), s["passed"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        steps,
        [
            ("credential", true),
            ("authenticity", true),
            ("credential_active", false)
        ],
        "{detail}"
    );
    assert_eq!(detail["person_name"], "Alice", "{detail}");
    assert_eq!(detail["door_name"], "Front", "{detail}");
    assert_eq!(detail["zone_name"], "Office", "{detail}");
    assert_eq!(detail["site_name"], "HQ", "{detail}");
    assert_eq!(detail["agent_name"], "front door", "{detail}");
    assert_eq!(changes(&agent.status().await.unwrap()), 0);
}

#[tokio::test]
async fn d_server_down_decisions_go_on_and_every_event_arrives_once_in_order() {
    let mut site = site(86_400).await;
    let mut agent = site.start_agent();
    policy_loaded(&mut agent).await;
    agent
        .wait_status(WAIT, "agent_started uploaded", |s| {
            s["journal_backlog"] == 0
        })
        .await;
    site.server.stop().await;

    let taps = 6;
    for i in 0..taps {
        let card = if i % 2 == 0 { ALLOWED } else { DENIED };
        agent.send_line(&format!("{READER} {card}"));
    }
    let status = agent
        .wait_status(WAIT, "grants from the cache while offline", |s| {
            changes(s) >= 1 && s["journal_backlog"].as_u64() >= Some(taps)
        })
        .await;
    assert!(
        status["journal_backlog"].as_u64().unwrap() >= taps,
        "{status}"
    );

    let port: u16 = site
        .server
        .base_url
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    site.server = ServerProcess::start_on(site.dir.path(), &[BOOTSTRAP], port);
    site.server.wait_ready().await;
    site.api = site.server.api();
    site.admin = site.api.token("admin", ADMIN_PASSWORD).await;
    agent
        .wait_status(Duration::from_secs(60), "the backlog to drain", |s| {
            s["journal_backlog"] == 0
        })
        .await;
    let events = site.events().await;
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    let mut sorted = seqs.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, expected, "each seq exactly once, none missing");
    let presentations: Vec<&Value> = events
        .iter()
        .filter(|e| e["kind"] == "presentation")
        .collect();
    assert_eq!(presentations.len(), taps as usize);
    let granted = presentations
        .iter()
        .filter(|e| e["outcome"] == "granted")
        .count();
    assert_eq!(granted, 3, "offline decisions came from the cached policy");
}

#[tokio::test]
async fn e_sigkill_during_a_burst_loses_nothing_acknowledged_and_the_journal_verifies() {
    let site = site(86_400).await;
    let mut agent = site.start_agent();
    policy_loaded(&mut agent).await;
    for _ in 0..40 {
        agent.send_line(&format!("{READER} {DENIED}"));
    }
    // Kill as soon as some taps are journalled, while others are still in flight.
    agent
        .wait_status(WAIT, "some taps journalled", |s| {
            s["last_decision"].is_object()
        })
        .await;
    agent.kill9();
    let report = door_agent::journal::verify(&site.state_dir().join("journal"))
        .unwrap_or_else(|e| panic!("the journal does not verify after SIGKILL: {e}"));
    assert!(report.records > 0 || report.first_seq > 1, "{report:?}");

    let mut agent = site.start_agent();
    policy_loaded(&mut agent).await;
    agent
        .wait_status(Duration::from_secs(60), "the backlog to drain", |s| {
            s["journal_backlog"] == 0
        })
        .await;
    let events = site.events().await;
    let mut seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    seqs.sort_unstable();
    let expected: Vec<i64> = (1..=seqs.len() as i64).collect();
    assert_eq!(seqs, expected, "gap-free, each once");
    let started = events
        .iter()
        .filter(|e| e["kind"] == "agent_started")
        .count();
    assert_eq!(started, 2);
    assert!(events.iter().any(|e| e["kind"] == "presentation"));
    let alarms = site
        .api
        .get(
            &format!("/agents/{}/alarms", events[0]["agent_id"].as_str().unwrap()),
            &site.admin,
        )
        .await;
    let alarms = expect_json(alarms, 200).await;
    assert_eq!(
        alarms["items"],
        json!([]),
        "the server saw a gap or broken chain"
    );
}

#[tokio::test]
async fn g_an_altered_snapshot_is_refused_at_start() {
    let mut site = site(86_400).await;
    let mut agent = site.start_agent();
    policy_loaded(&mut agent).await;
    agent.stop().await;
    site.server.stop().await;
    let path = site.state_dir().join("policy.snapshot");
    let mut bytes = std::fs::read(&path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();

    let mut agent = site.start_agent();
    let status = agent
        .wait_status(WAIT, "the status endpoint", |_| true)
        .await;
    assert_eq!(
        status["policy_version"],
        Value::Null,
        "the altered snapshot was used: {status}"
    );
    agent.send_line(&format!("{READER} {ALLOWED}"));
    let status = agent
        .wait_status(WAIT, "the decision", |s| s["last_decision"].is_object())
        .await;
    assert_eq!(status["last_decision"]["outcome"], "denied", "{status}");
    assert_eq!(changes(&status), 0);
    assert!(
        agent.logs().contains("REFUSED the policy snapshot on disk"),
        "{}",
        agent.logs()
    );
}

#[tokio::test]
async fn h_forced_held_open_and_tamper_alarms_reach_the_server() {
    let site = site(86_400).await;
    let mut agent = site.start_agent();
    policy_loaded(&mut agent).await;
    // No grant: the door opens → forced open; it stays open past 1 s → held open.
    agent.send_line(&format!("contact {} open", site.door));
    site.wait_event("forced_open", |e| e["kind"] == "forced_open")
        .await;
    agent.send_line(&format!("contact {} closed", site.door));
    agent
        .wait_status(WAIT, "the contact closed", |s| {
            s["doors"][0]["contact"] == "closed"
        })
        .await;
    // A legitimate opening held past the held-open time.
    agent.send_line(&format!("{READER} {ALLOWED}"));
    agent
        .wait_status(WAIT, "the release", |s| changes(s) >= 1)
        .await;
    agent.send_line(&format!("contact {} open", site.door));
    let held = site
        .wait_event("held_open", |e| e["kind"] == "held_open")
        .await;
    assert_eq!(held["door_id"], site.door.as_str());
    agent.send_line(&format!("contact {} closed", site.door));
    site.wait_event("held_open_cleared", |e| e["kind"] == "held_open_cleared")
        .await;
    // The enclosure opened and shut again: a tamper alarm, then its clearing.
    agent.send_line(&format!("tamper {} open", site.door));
    agent.send_line(&format!("tamper {} closed", site.door));
    site.wait_event("tamper_cleared", |e| e["kind"] == "tamper_cleared")
        .await;
    let alarms = site
        .api
        .list_all("/alarms?kind=tamper", &site.admin, 100)
        .await;
    assert_eq!(alarms.len(), 1, "{alarms:?}");
    assert_eq!(alarms[0]["door_id"], site.door.as_str());
}

/// A second site's door and an agent enrolled for it, configured in `agent-b/`.
async fn second_agent(site: &Site) -> (String, PathBuf, String) {
    let (api, admin) = (&site.api, site.admin.as_str());
    let annex = api
        .created(admin, "/sites", json!({"name": "Annex", "timezone": "UTC"}))
        .await;
    let zone =
        |name: &str, level: u8| json!({"site_id": annex["id"], "name": name, "level": level});
    let yard = api.created(admin, "/zones", zone("Yard", 0)).await;
    let store = api.created(admin, "/zones", zone("Store", 1)).await;
    let door = api
        .created(
            admin,
            "/doors",
            json!({"name": "Store", "from_zone_id": yard["id"], "to_zone_id": store["id"]}),
        )
        .await;
    let door = door["id"].as_str().unwrap().to_owned();
    let agent = api
        .created(
            admin,
            "/agents",
            json!({"name": "store door", "door_ids": [door]}),
        )
        .await;
    let status_port = free_port();
    let config = site.dir.path().join("agent-b.toml");
    let toml = agent_config(
        &site.server.base_url,
        &site.dir.path().join("agent-b"),
        status_port,
        86_400,
        "simulated",
        ("store", &door),
    );
    std::fs::write(&config, toml).unwrap();
    let code = agent["enrollment_code"].as_str().unwrap();
    let output = enroll_agent(&site.server.base_url, code, &config).await;
    assert!(output.status.success(), "{output:?}");
    (door, config, format!("http://127.0.0.1:{status_port}"))
}

#[tokio::test]
async fn i_an_agent_gets_only_its_own_doors_and_cannot_upload_for_another() {
    let site = site(86_400).await;
    let (other_door, other_config, other_status) = second_agent(&site).await;
    let mut mine = site.start_agent();
    let mut theirs = AgentProcess::start(site.dir.path(), &other_config, &other_status);
    for (agent, door) in [(&mut mine, &site.door), (&mut theirs, &other_door)] {
        let status = policy_loaded(agent).await;
        let doors: Vec<&Value> = status["doors"].as_array().unwrap().iter().collect();
        assert_eq!(doors.len(), 1, "{status}");
        assert_eq!(doors[0]["door_id"], door.as_str(), "{status}");
    }

    // With agent A's own token: its snapshot names only its door...
    let credential =
        door_agent::agent::credential::Credential::load(&site.state_dir().join("credential.json"))
            .unwrap();
    let file: Value = serde_json::from_str(
        &std::fs::read_to_string(site.state_dir().join("credential.json")).unwrap(),
    )
    .unwrap();
    let token = file["token"].as_str().unwrap();
    let url = |path: &str| format!("{}/api/v1/agent/{path}", site.server.base_url);
    let client = reqwest::Client::new();
    let response = client
        .get(url("policy?wait_s=0"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let bytes = response.bytes().await.unwrap();
    let policy = gatehouse_core::policy::SignedSnapshot::from_bytes(&bytes)
        .unwrap()
        .verify(&credential.policy_key, 0)
        .unwrap();
    let doors: Vec<String> = policy
        .source()
        .doors
        .iter()
        .map(|d| d.id.to_string())
        .collect();
    assert_eq!(doors, vec![site.door.clone()]);

    // ...and an event for agent B's door is refused whole, nothing stored.
    let event = gatehouse_core::event::DoorEvent {
        occurred_at: chrono::Utc::now(),
        door_id: Some(other_door.parse().unwrap()),
        kind: gatehouse_core::event::EventKind::AgentStarted,
    };
    let payload = event.encode().unwrap();
    let hash = gatehouse_core::event::chain_hash(
        &gatehouse_core::event::GENESIS_HASH,
        1_000_000,
        &payload,
    );
    let hash = hex::encode(hash);
    use base64::Engine;
    let payload = base64::engine::general_purpose::STANDARD.encode(&payload);
    let record = json!({"seq": 1_000_000, "payload": payload, "hash": hash});
    let response = client
        .post(url("events"))
        .bearer_auth(token)
        .json(&json!({"agent_time": chrono::Utc::now().to_rfc3339(), "records": [record]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let stored = site.events().await;
    assert!(
        !stored.iter().any(|e| e["door_id"] == other_door.as_str()),
        "{stored:?}"
    );
    assert!(!stored.iter().any(|e| e["seq"] == 1_000_000), "{stored:?}");
}

/// A second door into the first site's office, with hard anti-passback on the office,
/// and an agent for it whose presence feed counts as lost after 4 s: (door, agent).
async fn side_door_with_hard_anti_passback(site: &Site) -> (String, AgentProcess) {
    let (api, admin) = (&site.api, site.admin.as_str());
    let front = expect_json(api.get(&format!("/doors/{}", site.door), admin).await, 200).await;
    let office = front["to_zone_id"].as_str().unwrap();
    let hard = json!({"anti_passback": "hard"});
    expect_json(
        api.patch(&format!("/zones/{office}"), admin, &hard).await,
        200,
    )
    .await;
    let body = json!({"name": "Side", "from_zone_id": front["from_zone_id"], "to_zone_id": office});
    let side = api.created(admin, "/doors", body).await;
    let side = side["id"].as_str().unwrap().to_owned();
    let agent = api
        .created(
            admin,
            "/agents",
            json!({"name": "side door", "door_ids": [side]}),
        )
        .await;
    let status_port = free_port();
    let config = site.dir.path().join("agent-side.toml");
    let toml = agent_config(
        &site.server.base_url,
        &site.dir.path().join("agent-side"),
        status_port,
        86_400,
        "simulated",
        ("side", &side),
    )
    .replace(
        "max_policy_age_s = 86400\n",
        "max_policy_age_s = 86400\npresence_max_age_s = 4\n",
    );
    std::fs::write(&config, toml).unwrap();
    let code = agent["enrollment_code"].as_str().unwrap();
    let output = enroll_agent(&site.server.base_url, code, &config).await;
    assert!(output.status.success(), "{output:?}");
    let status_url = format!("http://127.0.0.1:{status_port}");
    (
        side,
        AgentProcess::start(site.dir.path(), &config, &status_url),
    )
}

#[tokio::test]
async fn j_anti_passback_holds_across_agents_and_is_soft_while_the_server_is_away() {
    let mut site = site(86_400).await;
    let (side, mut side_agent) = side_door_with_hard_anti_passback(&site).await;
    let mut front_agent = site.start_agent();
    policy_loaded(&mut front_agent).await;
    policy_loaded(&mut side_agent).await;
    let fed = side_agent
        .wait_status(WAIT, "the presence feed", |s| {
            s["presence_revision"].is_i64()
        })
        .await;
    assert_eq!(fed["presence_unconfirmed"], false, "{fed}");

    // In at the front; the side door's agent hears of it from the server and refuses.
    front_agent.send_line(&format!("{READER} {ALLOWED}"));
    let at = |door: &str| {
        let door = door.to_owned();
        move |e: &Value| e["kind"] == "presentation" && e["door_id"] == door.as_str()
    };
    let entered = site.wait_event("the front entry", at(&site.door)).await;
    assert_eq!(entered["outcome"], "granted", "{entered}");
    let revision = fed["presence_revision"].as_i64().unwrap();
    side_agent
        .wait_status(WAIT, "the entry in the side agent's feed", |s| {
            s["presence_revision"].as_i64() > Some(revision)
        })
        .await;
    side_agent.send_line(&format!("side {ALLOWED}"));
    let refused = site.wait_event("the side door's decision", at(&side)).await;
    assert_eq!(
        (refused["outcome"].as_str(), refused["reason"].as_str()),
        (Some("denied"), Some("anti_passback")),
        "{refused}"
    );

    // The server goes away: past presence_max_age_s the side door lets her in again, with
    // the alarm, and says why in its journal.
    site.server.stop().await;
    let lost = side_agent
        .wait_status(WAIT, "the presence feed lost", |s| {
            s["presence_unconfirmed"] == true
        })
        .await;
    side_agent.send_line(&format!("side {ALLOWED}"));
    side_agent
        .wait_status(WAIT, "the relay to move", |s| changes(s) > changes(&lost))
        .await;

    let port: u16 = site
        .server
        .base_url
        .rsplit(':')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    site.server = ServerProcess::start_on(site.dir.path(), &[BOOTSTRAP], port);
    site.server.wait_ready().await;
    site.api = site.server.api();
    site.admin = site.api.token("admin", ADMIN_PASSWORD).await;
    side_agent
        .wait_status(Duration::from_secs(60), "the side backlog to drain", |s| {
            s["journal_backlog"] == 0 && s["presence_unconfirmed"] == false
        })
        .await;
    let events = site.events().await;
    let side_decisions: Vec<(&str, &str)> = events
        .iter()
        .filter(|e| at(&side)(e))
        .map(|e| {
            (
                e["outcome"].as_str().unwrap(),
                e["reason"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        side_decisions,
        [("denied", "anti_passback"), ("granted", "granted")]
    );
    assert!(
        events.iter().any(|e| e["kind"] == "presence_unconfirmed"),
        "the softened period is in the record"
    );
    let alarms = site.api.list_all("/alarms", &site.admin, 100).await;
    assert!(
        alarms
            .iter()
            .any(|a| a["kind"] == "anti_passback_violation" && a["door_id"] == side.as_str()),
        "{alarms:?}"
    );
}

const VISITOR: &str = "04B0B1B2B3B4B5";

#[tokio::test]
async fn k_an_escorted_visitor_is_recorded_as_entering_and_placed_inside() {
    let site = site(86_400).await;
    let (api, admin) = (&site.api, site.admin.as_str());
    // The office needs an escort; Alice's visitor Vera needs one there.
    let front = expect_json(api.get(&format!("/doors/{}", site.door), admin).await, 200).await;
    let office = front["to_zone_id"].as_str().unwrap().to_owned();
    let escort = json!({"escort_required": true});
    let zone = expect_json(
        api.patch(&format!("/zones/{office}"), admin, &escort).await,
        200,
    )
    .await;
    let alice = expect_json(
        api.get(&format!("/credentials/{}", site.credential), admin)
            .await,
        200,
    )
    .await["person_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Security opens the office to visitors.
    let rule = json!({"longest_visit_minutes": 600});
    let opened = api
        .put(&format!("/zones/{office}/visitor-rule"), admin, &rule)
        .await;
    assert!(opened.status().is_success(), "{}", opened.status());
    let now = chrono::Utc::now();
    let visit = api
        .created(
            admin,
            "/visits",
            json!({"visitor_name": "Vera", "host_person_id": alice,
                "window_start": now - chrono::Duration::hours(1),
                "window_end": now + chrono::Duration::hours(8),
                "allowed_zone_ids": [office], "escort_required": true}),
        )
        .await;
    let visit = visit["id"].as_str().unwrap().to_owned();
    let checked_in = api
        .post(&format!("/visits/{visit}/check-in"), admin, &json!({}))
        .await;
    assert!(checked_in.status().is_success(), "{}", checked_in.status());
    api.created(
        admin,
        "/credentials",
        json!({"visit_id": visit, "card": VISITOR}),
    )
    .await;

    let mut agent = site.start_agent();
    policy_loaded(&mut agent).await;
    agent.send_line(&format!("{READER} {VISITOR}"));
    let waiting = site
        .wait_event("the visitor's presentation", presentation(VISITOR))
        .await;
    assert_eq!(
        (waiting["outcome"].as_str(), waiting["reason"].as_str()),
        (Some("pending"), Some("escort_required")),
        "{waiting}"
    );
    agent.send_line(&format!("{READER} {ALLOWED}"));
    let released = site
        .wait_event("the visitor's released entry", |e| {
            e["kind"] == "released_entry"
        })
        .await;
    let by = site
        .wait_event("Alice's presentation", presentation(ALLOWED))
        .await;
    assert_eq!(by["outcome"], "granted", "{by}");
    assert_eq!(
        (
            released["outcome"].as_str(),
            released["reason"].as_str(),
            released["direction"].as_str(),
            released["visit_id"].as_str(),
            released["card"].as_str(),
            released["zone_id"].as_str(),
        ),
        (
            Some("granted"),
            Some("granted"),
            Some("entry"),
            Some(visit.as_str()),
            Some(VISITOR),
            Some(office.as_str()),
        ),
        "{released}"
    );
    assert_eq!(
        (
            released["released_by"].as_str(),
            released["release_of"].as_str()
        ),
        (Some(alice.as_str()), by["id"].as_str()),
        "names the escort and the escort's event: {released}"
    );
    // Inside the office for occupancy and the muster, not where she waited.
    let occupancy = expect_json(
        api.get(&format!("/zones/{office}/occupancy"), admin).await,
        200,
    )
    .await;
    let inside: Vec<&str> = occupancy["occupants"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|o| o["holder_id"].as_str())
        .collect();
    assert!(
        inside.contains(&visit.as_str()) && inside.contains(&alice.as_str()),
        "{occupancy}"
    );
    let site_id = zone["site_id"].as_str().unwrap();
    let muster = expect_json(
        api.get(&format!("/sites/{site_id}/muster"), admin).await,
        200,
    )
    .await;
    let vera = muster
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["holder_id"] == visit.as_str())
        .unwrap_or_else(|| panic!("Vera is not on the muster: {muster}"));
    assert_eq!(vera["zone_id"], office.as_str(), "{vera}");
    let status = agent.status().await.unwrap();
    assert_eq!(
        status["last_decision"]["releases_holder"],
        visit.as_str(),
        "{status}"
    );
}
