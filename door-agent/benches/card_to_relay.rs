//! Card inserted → relay command, through real pcscd, the vpcd driver and the project's
//! virtual card, with the real server and agent processes; next to the bare PC/SC round
//! trip (connect + GET UID) of the same card measured in the same run, so the ratio is
//! the agent's overhead (insertion detection, decision, journal fsync, relay). Then the
//! same for a secure card (DESFire, issued with `gatehouse cards issue` on the second
//! reader; fixed and random ID) at a door whose zone takes secure cards only, and the
//! door's DESFire read alone against a card in memory (the authentication's CPU work).
//!
//! The relay move is observed by polling the agent's `/status` (`relay_changes`) in a
//! tight loop over one keep-alive connection, so each figure includes up to one poll
//! (about 0.1–0.3 ms on loopback). The agent also reports its own share (detection of
//! the card to event journalled and relay commanded, from `/status`'s last decision): the
//! rest is pcscd noticing the virtual card, which it polls the vpcd driver for.
//!
//! Needs pcscd with vpcd and the release `gatehouse` binary with its desk reader:
//! `cargo build --release -p gatehouse-server --features pcsc && cargo bench -p door-agent --features pcsc --bench card_to_relay`
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/it/support/pcsc_site.rs"]
mod pcsc_site;
#[path = "../tests/it/support/pcscd.rs"]
mod pcscd;

use door_agent::reader::pcsc::measure_round_trip;
use gatehouse_desfire::app::door;
use gatehouse_desfire::pcd::Pcd;
use gatehouse_e2e::gatehouse;
use pcsc_site::{PcscSite, WAIT, relay_changes};
use pcscd::{READER0, READER1, pcscd, wait_card_absent};
use rand::rngs::OsRng;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use vcard::desfire::{self, SharedCard};
use vcard::{Behaviour, Chip, VPCD_PORT, VirtualCard};

const UID: [u8; 7] = [0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6];
const UID_HEX: &str = "04A1B2C3D4E5F6";
const SECURE_FIXED: [u8; 7] = [0x04, 0x5E, 0xC0, 0x00, 0x00, 0x01, 0x01];
const SECURE_RANDOM: [u8; 7] = [0x04, 0x5E, 0xC0, 0x00, 0x00, 0x01, 0x02];
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
    if d < Duration::from_millis(1) {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    } else {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    }
}

/// Per sample: card inserted → relay moved (seen from outside), and the agent's own
/// figures for it: card detected → journalled and relay commanded, and the UID exchange.
async fn card_to_relay(site: &PcscSite, keys: bool, chip: impl Fn() -> Chip) -> [Vec<Duration>; 3] {
    let mut agent = site.start_agent(READER0).await;
    agent
        .wait_status(WAIT, "the site's card keys, if any", |s| {
            keys == s["card_keys"].as_array().is_some_and(|k| !k.is_empty())
        })
        .await;
    let client = reqwest::Client::new();
    let url = format!("{}/status", agent.status_url);
    let mut samples = Vec::with_capacity(SAMPLES);
    let (mut inside, mut exchange) = (Vec::new(), Vec::new());
    for _ in 0..SAMPLES {
        let before = relay_changes(&status(&client, &url).await);
        let start = Instant::now();
        let card = VirtualCard::insert_chip(VPCD_PORT, chip(), Behaviour::Normal).unwrap();
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

/// Secure cards at the site: keys, a fixed-ID and a random-ID card issued on the desk
/// reader with `gatehouse cards issue`, and the door's zone taking secure cards only.
async fn secure_cards(site: &PcscSite) -> [(SharedCard, String); 2] {
    let keys = format!("/sites/{}/card-keys", site.site_id);
    let made = site.api.post(&keys, &site.admin, &json!({})).await;
    assert!(made.status().is_success(), "card keys: {}", made.status());
    let mut cards = Vec::new();
    for (uid, random_id) in [(SECURE_FIXED, false), (SECURE_RANDOM, true)] {
        let card = desfire::shared(desfire::blank(&uid, random_id).unwrap());
        let chip = Chip::Desfire(card.clone());
        let desk = VirtualCard::insert_chip(VPCD_PORT + 1, chip, Behaviour::Normal).unwrap();
        let args = [
            "cards",
            "issue",
            "--person",
            &site.person_id,
            "--site",
            &site.site_id,
            "--reader",
            READER1,
        ];
        let out = gatehouse(site.server.dir.as_path(), &args, None).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        desk.remove();
        assert!(
            wait_card_absent(READER1),
            "the desk reader still sees the card"
        );
        cards.push((card, hex::encode_upper(uid)));
    }
    let zone = site.door_zone().await;
    let body = json!({"min_assurance": "secure"});
    let r = site
        .api
        .patch(&format!("/zones/{zone}"), &site.admin, &body)
        .await;
    assert!(r.status().is_success(), "zone: {}", r.status());
    cards.try_into().unwrap()
}

/// The door's DESFire read alone, against a card in memory: the authentication's CPU
/// work (both sides of it, in this process).
fn authentication_alone() -> Vec<Duration> {
    let keys = gatehouse_desfire::app::station::IssueKeys {
        door: gatehouse_desfire::app::SiteKeys {
            site_id: [1; 16],
            version: 1,
            read: gatehouse_desfire::AesKey::new([2; 16]),
            uid: gatehouse_desfire::AesKey::new([3; 16]),
        },
        master: gatehouse_desfire::AesKey::new([4; 16]),
    };
    let mut card = desfire::issue(&SECURE_FIXED, &keys, false).unwrap();
    let door_keys = [keys.door.clone()];
    (0..1000)
        .map(|_| {
            card.reset();
            let start = Instant::now();
            let mut pcd = Pcd::new(|apdu: &[u8]| Ok(card.process(apdu, &mut OsRng)));
            door::read(&mut pcd, &SECURE_FIXED, &door_keys, &mut OsRng).unwrap();
            start.elapsed()
        })
        .collect()
}

fn main() {
    let Some(_pcscd) = pcscd() else { return };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let site = rt.block_on(PcscSite::create(UID_HEX, READER0));
    let uid_chip = || Chip::Uid(UID.to_vec());
    let [mut relay, mut inside, mut exchange] = rt.block_on(card_to_relay(&site, false, uid_chip));
    let (mut bare, mut transmit) = bare_round_trips();
    let [(fixed, fixed_hex), (random, random_hex)] = rt.block_on(secure_cards(&site));
    let fixed_chip = || Chip::Desfire(fixed.clone());
    let [mut s_relay, mut s_inside, mut s_exchange] =
        rt.block_on(card_to_relay(&site, true, fixed_chip));
    let random_chip = || Chip::Desfire(random.clone());
    let [mut r_relay, _, mut r_exchange] = rt.block_on(card_to_relay(&site, true, random_chip));
    let mut alone = authentication_alone();
    for s in [
        &mut relay,
        &mut inside,
        &mut exchange,
        &mut bare,
        &mut transmit,
        &mut s_relay,
        &mut s_inside,
        &mut s_exchange,
        &mut r_relay,
        &mut r_exchange,
        &mut alone,
    ] {
        s.sort_unstable();
    }
    for card in [UID_HEX, &fixed_hex, &random_hex] {
        let presented = rt.block_on(site.presentations(card));
        assert_eq!(presented.len(), SAMPLES, "{card}");
        assert!(
            presented.iter().all(|e| e["outcome"] == "granted"),
            "{card}"
        );
    }

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
        (
            "secure card (fixed ID): card inserted → relay moved",
            &s_relay,
        ),
        (
            "secure card: card detected → journalled and relay commanded",
            &s_inside,
        ),
        ("secure card: of which the DESFire exchange", &s_exchange),
        (
            "secure card (random ID): card inserted → relay moved",
            &r_relay,
        ),
        (
            "secure card (random ID): of which the DESFire exchange",
            &r_exchange,
        ),
        (
            "DESFire read alone, card in memory (CPU, 1000 reads)",
            &alone,
        ),
        ("bare PC/SC: connect + transmit GET UID", &bare),
        ("bare PC/SC: transmit GET UID only", &transmit),
    ] {
        println!(
            "| {name} | {} | {} |",
            ms(quantile(s, 0.5)),
            ms(quantile(s, 0.99))
        );
    }
    let ratio = |a: &[Duration], b: &[Duration]| {
        quantile(a, 0.5).as_secs_f64() / quantile(b, 0.5).as_secs_f64()
    };
    println!(
        "\nagent overhead at p50: {:.1}× the bare round trip; a secure card {:.1}× (random ID \
         {:.1}×), {:.1}× a UID card",
        ratio(&relay, &bare),
        ratio(&s_relay, &bare),
        ratio(&r_relay, &bare),
        ratio(&s_relay, &relay)
    );
}
