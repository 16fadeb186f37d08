//! Secure cards end to end, through real pcscd and vpcd: the real server issues a DESFire
//! card on vpcd's second reader (`gatehouse cards issue`, the desk reader), and the real
//! door agent, holding its site's read keys sealed to it, reads cards on the first reader
//! at a door into a zone that needs secure cards. An issued card opens; clones (UID only,
//! or the layout without the keys), the right UID with other keys and a replayed session
//! are refused `credential_not_authentic` with an alarm; a UID card is refused
//! `assurance_insufficient` there and admitted once the zone takes UID cards; a key
//! rollover keeps old and new cards during the overlap and refuses the old keys after.
//!
//! Needs the `gatehouse` binary built with the `pcsc` feature next to this test
//! (`.ci/run` builds it); skipped with a message otherwise, unless
//! `GATEHOUSE_TEST_REQUIRE_PCSC=1`.
#![cfg(feature = "pcsc")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{pcsc_site, pcscd};
use door_agent::agent::card_keys;

use gatehouse_desfire::AesKey;
use gatehouse_desfire::app::SiteKeys;
use gatehouse_desfire::app::station::IssueKeys;
use gatehouse_e2e::{AgentProcess, expect_json, gatehouse, wait_until};
use pcsc_site::PcscSite;
use pcscd::{READER0, READER1, pcscd, wait_card_absent};
use serde_json::{Value, json};
use std::time::Duration;
use vcard::desfire::{self, SharedCard};
use vcard::{Behaviour, Chip, Recording, VPCD_PORT, VirtualCard};

const UID_CARD: &str = "04A1B2C3D4E5F6";
const CARD_A: [u8; 7] = [0x04, 0x5E, 0xC0, 0x00, 0x00, 0x00, 0x0A];
const CARD_B: [u8; 7] = [0x04, 0x5E, 0xC0, 0x00, 0x00, 0x00, 0x0B];
/// Key rotations reach the agent with its next policy long-poll answer.
const WAIT: Duration = Duration::from_secs(90);

struct Secure {
    site: PcscSite,
    agent: AgentProcess,
}

impl Secure {
    fn path(&self, rest: &str) -> String {
        format!("/sites/{}{rest}", self.site.site_id)
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        let r = self.site.api.post(path, &self.site.admin, &body).await;
        let status = r.status().as_u16();
        assert!((200..300).contains(&status), "{path}: {status}");
        r.json().await.unwrap_or(Value::Null)
    }

    /// `gatehouse cards <verb>` with `card` on the desk reader; its output.
    async fn desk(&self, card: &SharedCard, args: &[&str]) -> String {
        let inserted = VirtualCard::insert_chip(
            VPCD_PORT + 1,
            Chip::Desfire(card.clone()),
            Behaviour::Normal,
        )
        .unwrap();
        let mut all = vec!["cards"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--reader", READER1, "--wait", "60"]);
        let out = gatehouse(self.site.server.dir.as_path(), &all, None).await;
        inserted.remove();
        assert!(
            wait_card_absent(READER1),
            "the desk reader still sees the card"
        );
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "gatehouse cards {args:?}: {text}");
        text
    }

    /// Presents `chip` at the door; the server's event for it.
    async fn present(&self, chip: Chip, card: &str) -> Value {
        let before = self.site.presentations(card).await.len();
        let inserted = VirtualCard::insert_chip(VPCD_PORT, chip, Behaviour::Normal).unwrap();
        let events = wait_until(WAIT, "the presentation at the server", async || {
            let found = self.site.presentations(card).await;
            (found.len() > before).then_some(found)
        })
        .await;
        inserted.remove();
        assert!(wait_card_absent(READER0), "pcscd still sees the card");
        events.last().unwrap().clone()
    }

    /// The reason of the next presentation at the door, whatever card it names (a
    /// random-ID card that fails authentication is named by the random ID it showed).
    async fn next_reason(&self, chip: Chip) -> String {
        let all = async || {
            let events = self
                .site
                .api
                .list_all("/events", &self.site.admin, 500)
                .await;
            let presentations = events.into_iter().filter(|e| e["kind"] == "presentation");
            presentations.collect::<Vec<_>>()
        };
        let before = all().await.len();
        let inserted = VirtualCard::insert_chip(VPCD_PORT, chip, Behaviour::Normal).unwrap();
        let events = wait_until(WAIT, "the presentation at the server", async || {
            let found = all().await;
            (found.len() > before).then_some(found)
        })
        .await;
        inserted.remove();
        assert!(wait_card_absent(READER0), "pcscd still sees the card");
        let last = events
            .iter()
            .max_by_key(|e| e["at"].as_str().map(str::to_owned));
        last.unwrap()["reason"].as_str().unwrap().to_owned()
    }

    async fn reason(&self, chip: Chip, card: &str) -> String {
        let event = self.present(chip, card).await;
        event["reason"].as_str().unwrap().to_owned()
    }

    /// Waits until the agent's readers hold exactly these key versions.
    async fn agent_holds(&mut self, versions: &[u64]) {
        let want = versions.to_vec();
        self.agent
            .wait_status(WAIT, "the agent's card key versions", |s| {
                let mut held: Vec<u64> = (s["card_keys"].as_array())
                    .map(|a| a.iter().filter_map(|k| k["version"].as_u64()).collect())
                    .unwrap_or_default();
                held.sort_unstable();
                held == want
            })
            .await;
    }

    /// Sets the cards the zone takes, and waits until the agent has that policy.
    async fn zone_takes(&mut self, zone: &str, assurance: &str) {
        let before = self.agent.status().await.unwrap()["policy_version"].as_u64();
        let body = json!({ "min_assurance": assurance });
        let path = format!("/zones/{zone}");
        expect_json(
            self.site.api.patch(&path, &self.site.admin, &body).await,
            200,
        )
        .await;
        self.agent
            .wait_status(WAIT, "the new policy", |s| {
                s["policy_version"].as_u64() > before
            })
            .await;
    }
}

/// An independent client agrees: python-desfire reads the card `gatehouse cards issue`
/// wrote, on the desk reader, with the site's read key as the agent received it.
fn python_reads_issued(s: &Secure, card: &SharedCard) {
    let Some(python) = crate::desfire_pcsc::desfire_python() else {
        return;
    };
    let state = s.site.dir.path().join("agent-state");
    let credential = std::fs::read_to_string(state.join("credential.json")).unwrap();
    let credential: Value = serde_json::from_str(&credential).unwrap();
    let agent = credential["agent_id"].as_str().unwrap().parse().unwrap();
    let secret = card_keys::load_or_create_secret(&state).unwrap();
    let keys = card_keys::CardKeys::load(&state, agent, secret).reader_keys();
    let site = keys.current()[0].clone();
    let chip = Chip::Desfire(card.clone());
    let desk = VirtualCard::insert_chip(VPCD_PORT + 1, chip, Behaviour::Normal).unwrap();
    let read_key = site.read.expose().to_owned();
    crate::desfire_pcsc::python_desfire_reads(&python, READER1, &CARD_A, &read_key, &site.site_id);
    desk.remove();
    assert!(
        wait_card_absent(READER1),
        "the desk reader still sees the card"
    );
}

/// Whether this build's `gatehouse` has a desk reader; skips (or fails in CI) otherwise.
async fn desk_built(dir: &std::path::Path) -> bool {
    let out = gatehouse(
        dir,
        &["cards", "wipe", "--site", "none", "--wait", "0"],
        None,
    )
    .await;
    let text = String::from_utf8_lossy(&out.stderr);
    if !text.contains("built without a desk reader") {
        return true;
    }
    let required = std::env::var("GATEHOUSE_TEST_REQUIRE_PCSC").as_deref() == Ok("1");
    assert!(
        !required,
        "GATEHOUSE_TEST_REQUIRE_PCSC=1 but gatehouse lacks `pcsc`: {text}"
    );
    eprintln!("skipping: build gatehouse with `--features pcsc` for the secure-card e2e test");
    false
}

fn other_keys() -> IssueKeys {
    IssueKeys {
        door: SiteKeys {
            site_id: [0; 16],
            version: 1,
            read: AesKey::new([0x77; 16]),
            uid: AesKey::new([0x78; 16]),
        },
        master: AesKey::new([0x79; 16]),
    }
}

// The guard serialises every user of pcscd in this process for the whole test; the test
// runs on one thread (current-thread runtime), so holding it across awaits blocks nothing.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn secure_cards_open_a_secure_zone_and_clones_replays_and_old_keys_do_not() {
    let Some(_pcscd) = pcscd() else { return };
    let site = PcscSite::create(UID_CARD, READER0).await;
    if !desk_built(site.server.dir.as_path()).await {
        return;
    }
    let agent = site.start_agent(READER0).await;
    let mut s = Secure { site, agent };
    s.post(&s.path("/card-keys"), json!({})).await;
    s.agent_holds(&[1]).await;
    let person = s.site.person_id.clone();
    let site_id = s.site.site_id.clone();

    // Issue card A at the desk; the door's zone then takes secure cards only.
    let card_a = desfire::shared(desfire::blank(&CARD_A, true).unwrap());
    let issued = s
        .desk(&card_a, &["issue", "--person", &person, "--site", &site_id])
        .await;
    let a_hex = hex::encode_upper(CARD_A);
    assert!(issued.contains(&a_hex), "{issued}");
    python_reads_issued(&s, &card_a);
    let zone = s.site.door_zone().await;
    s.zone_takes(&zone, "secure").await;

    let granted = s.present(Chip::Desfire(card_a.clone()), &a_hex).await;
    assert_eq!(granted["reason"], "granted", "{granted}");
    let uid_card = Chip::Uid(hex::decode(UID_CARD).unwrap());
    assert_eq!(s.reason(uid_card, UID_CARD).await, "assurance_insufficient");
    let magic = desfire::shared(desfire::clone_of(&CARD_A, false).unwrap());
    let layout = desfire::shared(desfire::clone_of(&CARD_A, true).unwrap());
    let forged = desfire::shared(desfire::issue(&CARD_A, &other_keys(), false).unwrap());
    for (what, clone) in [("magic", magic), ("layout", layout), ("other keys", forged)] {
        let reason = s.reason(Chip::Desfire(clone), &a_hex).await;
        assert_eq!(reason, "credential_not_authentic", "{what}");
    }
    // A genuine session recorded off the air, replayed by an attacker's device.
    let inserted =
        VirtualCard::insert_chip(VPCD_PORT, Chip::Desfire(card_a.clone()), Behaviour::Normal)
            .unwrap();
    let before = s.site.presentations(&a_hex).await.len();
    wait_until(WAIT, "the genuine read", async || {
        (s.site.presentations(&a_hex).await.len() > before).then_some(())
    })
    .await;
    let recording: Recording = inserted.recording();
    inserted.remove();
    assert!(wait_card_absent(READER0));
    // Card A shows a random ID: the replay shows the recorded one, and is named by it.
    let (_, shown) = &recording.exchanges[0];
    let shown = hex::encode_upper(&shown[..shown.len() - 2]);
    let replayed = s.reason(Chip::Replay(recording), &shown).await;
    assert_eq!(replayed, "credential_not_authentic");
    let alarms = s.site.api.list_all("/alarms", &s.site.admin, 200).await;
    let clone_alarms = alarms
        .iter()
        .filter(|a| a["kind"] == "credential_not_authentic")
        .count();
    assert!(
        clone_alarms >= 4,
        "one alarm per clone and replay: {alarms:?}"
    );

    // The zone takes UID cards again: the UID card is admitted.
    s.zone_takes(&zone, "uid").await;
    let uid_card = Chip::Uid(hex::decode(UID_CARD).unwrap());
    assert_eq!(s.reason(uid_card, UID_CARD).await, "granted");

    // Rollover: v2 current, v1 previous; a card issued now gets v2; both open.
    s.post(&s.path("/card-keys/rotate"), json!({})).await;
    s.agent_holds(&[1, 2]).await;
    let card_b = desfire::shared(desfire::blank(&CARD_B, false).unwrap());
    s.desk(&card_b, &["issue", "--person", &person, "--site", &site_id])
        .await;
    let b_hex = hex::encode_upper(CARD_B);
    assert_eq!(
        s.reason(Chip::Desfire(card_a.clone()), &a_hex).await,
        "granted"
    );
    assert_eq!(
        s.reason(Chip::Desfire(card_b.clone()), &b_hex).await,
        "granted"
    );
    // v1 retired: card A (still v1) is refused until it is re-keyed at the desk.
    s.post(&s.path("/card-keys/retire"), json!({"version": 1}))
        .await;
    s.agent_holds(&[2]).await;
    let old = s.next_reason(Chip::Desfire(card_a.clone())).await;
    assert_eq!(old, "credential_not_authentic");
    assert_eq!(
        s.reason(Chip::Desfire(card_b.clone()), &b_hex).await,
        "granted"
    );
    s.desk(&card_a, &["rekey", "--site", &site_id]).await;
    assert_eq!(s.reason(Chip::Desfire(card_a), &a_hex).await, "granted");
    assert_eq!(s.agent.stop().await.code(), Some(0));
}
