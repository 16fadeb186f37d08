//! Card inserted → relay command, through real pcscd, the vpcd driver and the project's
//! virtual card, with the real server and agent processes; next to the bare PC/SC round
//! trip (connect + GET UID) of the same card measured in the same run, so the ratio is
//! the agent's overhead (insertion detection, decision, journal fsync, relay).
//!
//! The relay move is observed by polling the agent's `/status` (`relay_changes`) in a
//! tight loop over one keep-alive connection, so each figure includes up to one poll
//! (about 0.1–0.3 ms on loopback). The agent also reports its own share (detection of
//! the card to event journalled and relay commanded, from `/status`'s last decision): the
//! rest is pcscd noticing the virtual card, which it polls the vpcd driver for.
//!
//! Needs pcscd with vpcd and the release `gatehouse` binary:
//! `cargo build --release -p gatehouse-server && cargo bench -p door-agent --features pcsc --bench card_to_relay`
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/support/pcsc_site.rs"]
mod pcsc_site;
#[path = "../tests/it/support/pcscd.rs"]
mod pcscd;

use door_agent::reader::pcsc::measure_round_trip;
use pcsc_site::{PcscSite, WAIT, relay_changes};
use pcscd::{READER0, pcscd, wait_card_absent};
use serde_json::Value;
use std::time::{Duration, Instant};
use vcard::{Behaviour, VPCD_PORT, VirtualCard};

const UID: [u8; 7] = [0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6];
const UID_HEX: &str = "04A1B2C3D4E5F6";
const SAMPLES: usize = 50;

async fn status(client: &reqwest::Client, url: &str) -> Value {
    client.get(url).send().await.unwrap().json().await.unwrap()
}

/// `samples` sorted; the value at `q` (0..=1), nearest rank.
fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let rank = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Per sample: card inserted → relay moved (seen from outside), and the agent's own
/// figures for it: card detected → journalled and relay commanded, and the UID exchange.
async fn card_to_relay(site: &PcscSite) -> [Vec<Duration>; 3] {
    let mut agent = site.start_agent(READER0).await;
    let client = reqwest::Client::new();
    let url = format!("{}/status", agent.status_url);
    let mut samples = Vec::with_capacity(SAMPLES);
    let (mut inside, mut exchange) = (Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let before = relay_changes(&status(&client, &url).await);
        let start = Instant::now();
        let card = VirtualCard::insert(VPCD_PORT, &UID, Behaviour::Normal).unwrap();
        loop {
            if relay_changes(&status(&client, &url).await) > before {
                samples.push(start.elapsed());
                break;
            }
            assert!(start.elapsed() < WAIT, "the relay did not move");
        }
        card.remove();
        assert!(wait_card_absent(READER0), "pcscd still sees the card");
        // The next sample starts from a locked door (unlock time 1 s).
        let status = agent
            .wait_status(WAIT, "the relock", |s| {
                relay_changes(s) >= before + 2 && s["relay"] == "locked"
            })
            .await;
        let us = |key: &str| Duration::from_micros(status["last_decision"][key].as_u64().unwrap());
        inside.push(us("detected_to_done_us"));
        exchange.push(us("exchange_us"));
    }
    agent.stop().await;
    [samples, inside, exchange]
}

fn bare_round_trips() -> (Vec<Duration>, Vec<Duration>) {
    let card = VirtualCard::insert(VPCD_PORT, &UID, Behaviour::Normal).unwrap();
    // pcscd powers the card up once it notices it; wait until a connect succeeds.
    let deadline = Instant::now() + WAIT;
    while measure_round_trip(READER0, 1).is_err() {
        assert!(Instant::now() < deadline, "the card is not readable");
        std::thread::sleep(Duration::from_millis(20));
    }
    let trips = measure_round_trip(READER0, SAMPLES).unwrap();
    card.remove();
    assert!(wait_card_absent(READER0), "pcscd still sees the card");
    let whole = trips.iter().map(|t| t.connect + t.transmit).collect();
    let transmit = trips.iter().map(|t| t.transmit).collect();
    (whole, transmit)
}

fn main() {
    let Some(_pcscd) = pcscd() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let site = rt.block_on(PcscSite::create(UID_HEX, READER0));
    let [mut relay, mut inside, mut exchange] = rt.block_on(card_to_relay(&site));
    let (mut bare, mut transmit) = bare_round_trips();
    for s in [
        &mut relay,
        &mut inside,
        &mut exchange,
        &mut bare,
        &mut transmit,
    ] {
        s.sort_unstable();
    }
    let granted = rt.block_on(site.presentations(UID_HEX));
    assert!(granted.iter().all(|e| e["outcome"] == "granted"));

    println!("| measure ({SAMPLES} samples) | p50 | p99 |");
    println!("|---|---:|---:|");
    for (name, s) in [
        (
            "card inserted → relay moved (real agent, seen from outside)",
            &relay,
        ),
        (
            "agent: card detected → journalled (fsync) and relay commanded",
            &inside,
        ),
        ("agent: of which the UID exchange through pcscd", &exchange),
        ("bare PC/SC: connect + transmit GET UID", &bare),
        ("bare PC/SC: transmit GET UID only", &transmit),
    ] {
        println!(
            "| {name} | {} | {} |",
            ms(quantile(s, 0.5)),
            ms(quantile(s, 0.99))
        );
    }
    let ratio = quantile(&relay, 0.5).as_secs_f64() / quantile(&bare, 0.5).as_secs_f64();
    println!("\nagent overhead at p50: {ratio:.1}× the bare round trip");
}
