//! Live door latencies, end to end, with the real `gatehouse` and `door-agent` release
//! binaries of this build (simulated hardware, SQLite, one machine):
//!
//! - door state change at the agent (a `contact` line on its standard input) → the
//!   change seen on an open `GET /doors/status/stream`;
//! - remote release request (`POST /doors/{id}/release` sent) → the simulated relay
//!   moved (the agent's `/status` `relay_changes`, polled every 2 ms);
//! - in a real Chromium (when chromium and chromedriver are installed): the same state
//!   change → shown on the console's open door board (the tile's text, read every
//!   5 ms), and the board's "Open" clicked → the relay moved;
//! - baselines from the same run: a bare `POST /agent/door-state` round trip with the
//!   agent's token (the first hop of a state change), and a bare `GET /doors/status`.
//!
//! `cargo build --release -p gatehouse-server --bin gatehouse -p door-agent --bin
//! door-agent && cargo bench -p gatehouse-e2e --bench door_live`
//! (`GATEHOUSE_BENCH_SAMPLES`, default 20, samples of each).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gatehouse_e2e::bench_table::row;
use gatehouse_e2e::{Browser, LIVE_ADMIN_PASSWORD, LiveDoorSite};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// A pause of up to `max` ms that differs from one call to the next (no randomness
/// needed: the clock's nanoseconds).
fn jitter_ms(max: u64) -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    nanos % max
}

async fn relay_changes(client: &reqwest::Client, status_url: &str) -> u64 {
    let status: Value = client
        .get(format!("{status_url}/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    status["relay_changes"].as_u64().unwrap()
}

/// Whether the element matching `css` shows `text` within `timeout`, read every 5 ms.
async fn shows(browser: &Browser, css: &str, text: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    let script = "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';";
    while Instant::now() < deadline {
        let shown = browser
            .client()
            .execute(script, vec![Value::from(css)])
            .await
            .unwrap();
        if shown.as_str().is_some_and(|t| t.trim() == text) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

#[tokio::main]
async fn main() {
    let samples: usize = std::env::var("GATEHOUSE_BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::TempDir::new().unwrap();
    let site = LiveDoorSite::create(dir.path()).await;
    let mut agent = site.start_agent();
    agent
        .wait_status(Duration::from_secs(30), "the agent", |s| {
            s["policy_version"].is_u64()
        })
        .await;
    let client = reqwest::Client::new();
    let credential = dir.path().join("agent-state/credential.json");
    let credential: Value =
        serde_json::from_str(&std::fs::read_to_string(credential).unwrap()).unwrap();
    let agent_token = credential["token"].as_str().unwrap().to_owned();
    let base = site.server.base_url.clone();

    // State change at the agent → seen on the stream (which ends every 25 s: a new one
    // is opened every 20 s, and a sample the stream missed is taken again).
    let mut change = Vec::new();
    let mut stream = site.stream(&site.admin).await;
    let mut opened_at = Instant::now();
    let mut open = false;
    while change.len() < samples {
        if opened_at.elapsed() > Duration::from_secs(20) {
            stream = site.stream(&site.admin).await;
            opened_at = Instant::now();
        }
        // Let the door settle (debounce, the previous report) before the next change,
        // and vary the pause so the changes do not fall in step with the stream's reads.
        tokio::time::sleep(Duration::from_millis(300 + jitter_ms(250))).await;
        open = !open;
        let level = if open { "open" } else { "closed" };
        agent.send_line(&format!("contact {} {level}", site.door));
        let sent = Instant::now();
        let seen = stream
            .wait_door(Duration::from_secs(5), |d| d["contact"] == level)
            .await;
        match seen {
            Some(_) => change.push(sent.elapsed()),
            None => {
                stream = site.stream(&site.admin).await;
                opened_at = Instant::now();
            }
        }
    }
    agent.send_line(&format!("contact {} closed", site.door));

    // Remote release request → relay moved.
    let mut release = Vec::new();
    let url = format!("{base}/api/v1/doors/{}/release", site.door);
    while release.len() < samples {
        let before = relay_changes(&client, &site.status_url).await;
        let sent = Instant::now();
        let answer = client
            .post(&url)
            .bearer_auth(&site.admin)
            .json(&json!({"seconds": 1}))
            .send();
        let watch = async {
            loop {
                if relay_changes(&client, &site.status_url).await > before {
                    return sent.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        };
        let (answer, moved) = tokio::join!(answer, watch);
        assert_eq!(answer.unwrap().status(), reqwest::StatusCode::ACCEPTED);
        release.push(moved);
        // The release ends after 1 s (nobody opens): wait for the relock, varied as
        // above against the agent's command poll.
        tokio::time::sleep(Duration::from_millis(1300 + jitter_ms(100))).await;
    }

    // The same in the browser, on the console's door board.
    let mut board_change = Vec::new();
    let mut board_release = Vec::new();
    if let Some(mut browser) = Browser::start("door_live bench", &base).await {
        browser.login("admin", LIVE_ADMIN_PASSWORD).await;
        browser.goto("/desk").await;
        browser.wait_stream_open("/desk/stream").await;
        let tile = format!("[data-door=\"{}\"]", site.door);
        let contact = format!("{tile} [data-field=contact]");
        while board_change.len() < samples {
            tokio::time::sleep(Duration::from_millis(300 + jitter_ms(250))).await;
            open = !open;
            let (level, shown) = if open {
                ("open", "Open")
            } else {
                ("closed", "Closed")
            };
            agent.send_line(&format!("contact {} {level}", site.door));
            let sent = Instant::now();
            if shows(&browser, &contact, shown, Duration::from_secs(5)).await {
                board_change.push(sent.elapsed());
            } else {
                // The page's stream was between two connections: start again.
                browser.goto("/desk").await;
                browser.wait_stream_open("/desk/stream").await;
            }
        }
        agent.send_line(&format!("contact {} closed", site.door));
        while board_release.len() < samples {
            let before = relay_changes(&client, &site.status_url).await;
            let sent = Instant::now();
            let click = browser.submit_in(&tile, &[("seconds", "1")], "Open");
            let watch = async {
                loop {
                    if relay_changes(&client, &site.status_url).await > before {
                        return sent.elapsed();
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            };
            let ((), moved) = tokio::join!(click, watch);
            board_release.push(moved);
            tokio::time::sleep(Duration::from_millis(1300 + jitter_ms(100))).await;
        }
        browser.close().await;
    } else {
        println!("(no chromium/chromedriver: the door board rows are left out)");
    }

    // Baselines.
    let report = json!({"doors": [{
        "door_id": site.door, "lock": "locked", "contact": "closed", "mode": "normal",
        "mode_until": null, "alarms": [], "last_event": null
    }]});
    let mut upload = Vec::new();
    let mut board = Vec::new();
    for _ in 0..samples {
        let sent = Instant::now();
        let answer = client
            .post(format!("{base}/api/v1/agent/door-state"))
            .bearer_auth(&agent_token)
            .json(&report)
            .send()
            .await
            .unwrap();
        assert!(answer.status().is_success());
        upload.push(sent.elapsed());
        let sent = Instant::now();
        let answer = client
            .get(format!("{base}/api/v1/doors/status"))
            .bearer_auth(&site.admin)
            .send()
            .await
            .unwrap();
        let _: Value = answer.json().await.unwrap();
        board.push(sent.elapsed());
    }

    println!("| measure | samples | p50 | p99 |");
    println!("|---|---:|---:|---:|");
    row(
        "door state change at the agent → seen on the status stream",
        change,
    );
    row("remote release request → simulated relay moved", release);
    if !board_change.is_empty() {
        row(
            "door state change at the agent → shown on an open door board (Chromium)",
            board_change,
        );
        row(
            "\"Open\" clicked on the door board → simulated relay moved (Chromium)",
            board_release,
        );
    }
    row("baseline: bare POST /agent/door-state round trip", upload);
    row("baseline: bare GET /doors/status round trip", board);
    drop(agent);
}
