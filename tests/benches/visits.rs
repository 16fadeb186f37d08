//! Visitor latencies end to end, with the real `gatehouse` and `door-agent` release
//! binaries of this build (simulated hardware, SQLite, one machine):
//!
//! - check-in (`POST /visits/{id}/check-in` sent) → the host's arrival email delivered
//!   to a real SMTP server (aiosmtpd, from `.ci/run`'s venv or `GATEHOUSE_TEST_PYTHON`;
//!   its Maildir watched every 2 ms);
//! - check-out (`POST /visits/{id}/check-out` sent) → the visitor's card refused at the
//!   online door: the agent's `/status` shows the policy version the check-out made
//!   (polled every 2 ms; the card is then presented once and its refusal checked);
//! - baselines from the same run: the bare check-in and check-out API round trips.
//!
//! `cargo build --release -p gatehouse-server --bin gatehouse -p door-agent --bin
//! door-agent && cargo bench -p gatehouse-e2e --bench visits`
//! (`GATEHOUSE_BENCH_SAMPLES`, default 20, samples of each).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use gatehouse_e2e::bench_table::row;
use gatehouse_e2e::{LiveDoorSite, free_port};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// aiosmtpd writing each message into a Maildir.
struct Smtp {
    port: u16,
    maildir: PathBuf,
    child: std::process::Child,
}

impl Smtp {
    fn start(dir: &Path) -> Smtp {
        let python = std::env::var("GATEHOUSE_TEST_PYTHON").map_or_else(
            |_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/pyvenv/bin/python"),
            PathBuf::from,
        );
        let port = free_port();
        let maildir = dir.join("maildir");
        let child = std::process::Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(&maildir)
            .spawn()
            .expect("aiosmtpd (run .ci/run, or set GATEHOUSE_TEST_PYTHON)");
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "aiosmtpd did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Smtp {
            port,
            maildir,
            child,
        }
    }

    fn delivered(&self) -> usize {
        std::fs::read_dir(self.maildir.join("new")).map_or(0, |d| d.count())
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

async fn agent_version(client: &reqwest::Client, status_url: &str) -> u64 {
    let status: Value = client
        .get(format!("{status_url}/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    status["policy_version"].as_u64().unwrap_or(0)
}

/// Polls every 2 ms until `done`, at most 30 s; the time it took.
async fn until(started: Instant, mut done: impl AsyncFnMut() -> bool) -> Duration {
    while !done().await {
        assert!(started.elapsed() < Duration::from_secs(30), "timed out");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}

#[tokio::main]
async fn main() {
    let samples: usize = std::env::var("GATEHOUSE_BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::TempDir::new().unwrap();
    let smtp = Smtp::start(dir.path());
    let port = smtp.port.to_string();
    let env = [
        ("GATEHOUSE__NOTIFY__SMTP__HOST", "127.0.0.1"),
        ("GATEHOUSE__NOTIFY__SMTP__PORT", port.as_str()),
        ("GATEHOUSE__NOTIFY__SMTP__TLS", "none"),
        (
            "GATEHOUSE__NOTIFY__SMTP__FROM",
            "Gatehouse <gatehouse@example.org>",
        ),
    ];
    let site = LiveDoorSite::create_with(dir.path(), &env).await;
    let (api, admin) = (&site.api, site.admin.as_str());
    let door: Value = api
        .get(&format!("/doors/{}", site.door), admin)
        .await
        .json()
        .await
        .unwrap();
    let zone = door["to_zone_id"].as_str().unwrap().to_owned();
    let opened = api
        .put(
            &format!("/zones/{zone}/visitor-rule"),
            admin,
            &json!({"longest_visit_minutes": 600}),
        )
        .await;
    assert!(opened.status().is_success(), "{}", opened.status());
    let email = json!({"email": "host@example.org"});
    let set = api
        .put(&format!("/people/{}/email", site.person), admin, &email)
        .await;
    assert!(set.status().is_success(), "{}", set.status());
    let mut agent = site.start_agent();
    agent
        .wait_status(Duration::from_secs(30), "the agent", |s| {
            s["policy_version"].is_u64()
        })
        .await;
    let client = reqwest::Client::new();
    let base = format!("{}/api/v1", site.server.base_url);
    let post = |path: String| {
        let request = client
            .post(format!("{base}{path}"))
            .bearer_auth(admin)
            .json(&json!({}));
        async move {
            let started = Instant::now();
            let answer = request.send().await.unwrap();
            assert!(answer.status().is_success(), "{}", answer.status());
            started
        }
    };

    let (mut to_email, mut to_refused, mut check_in_api, mut check_out_api) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut last_card = String::new();
    for i in 0..samples {
        let now = chrono::Utc::now();
        let visit = api
            .created(
                admin,
                "/visits",
                json!({"visitor_name": format!("Visitor {i}"),
                "host_person_id": site.person, "window_start": now - chrono::Duration::minutes(5),
                "window_end": now + chrono::Duration::hours(2), "allowed_zone_ids": [zone]}),
            )
            .await;
        let id = visit["id"].as_str().unwrap().to_owned();
        let before = smtp.delivered();
        let sent = post(format!("/visits/{id}/check-in")).await;
        check_in_api.push(sent.elapsed());
        to_email.push(until(sent, async || smtp.delivered() > before).await);

        last_card = format!("0A{i:06X}");
        api.created(
            admin,
            "/credentials",
            json!({"visit_id": id, "card": last_card}),
        )
        .await;
        let issued = agent_version(&client, &site.status_url).await;
        // The agent holds the card before the check-out is timed.
        until(Instant::now(), async || {
            agent_version(&client, &site.status_url).await > issued
        })
        .await;
        let held = agent_version(&client, &site.status_url).await;
        let sent = post(format!("/visits/{id}/check-out")).await;
        check_out_api.push(sent.elapsed());
        to_refused.push(
            until(sent, async || {
                agent_version(&client, &site.status_url).await > held
            })
            .await,
        );
    }
    // The last visitor's card is refused at the door now.
    agent.send_line(&format!("front {last_card}"));
    let refused = until(Instant::now(), async || {
        let events: Value = client
            .get(format!("{base}/events?card={last_card}"))
            .bearer_auth(admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        events["items"].as_array().is_some_and(|e| !e.is_empty())
    })
    .await;
    let events: Value = client
        .get(format!("{base}/events?card={last_card}"))
        .bearer_auth(admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(events["items"][0]["outcome"], "denied", "{events}");
    eprintln!("refusal recorded within {refused:?}");

    println!("| measure | samples | p50 | p99 |");
    println!("|---|---:|---:|---:|");
    row(
        "check-in sent → host's arrival email delivered (SMTP)",
        to_email,
    );
    row(
        "check-out sent → card refused at the online door (agent on the new policy)",
        to_refused,
    );
    row("baseline: bare check-in API round trip", check_in_api);
    row("baseline: bare check-out API round trip", check_out_api);
}
