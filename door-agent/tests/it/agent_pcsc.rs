//! The real agent process reading cards through real pcscd and the project's virtual
//! card (end-to-end test (f) of the door agent issue): a card opens the door, pcscd is
//! restarted under the running agent, and a card opens the door again. Skipped with a
//! message where pcscd or vpcd is missing, unless `GATEHOUSE_TEST_REQUIRE_PCSC=1`.
//! Needs the `gatehouse` server binary built next to this test (`cargo test
//! --workspace` builds it; `.ci/run` runs this after that).
#![cfg(feature = "pcsc")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{pcsc_site, pcscd};

use gatehouse_e2e::{AgentProcess, wait_until};
use pcsc_site::{PcscSite, WAIT, reader_attached, relay_changes};
use pcscd::{READER0, pcscd, start_pcscd, stop_pcscd, wait_card_absent};
use vcard::{Behaviour, VPCD_PORT, VirtualCard};

const UID: [u8; 7] = [0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6];
const UID_HEX: &str = "04A1B2C3D4E5F6";

/// Presents the card on the first vpcd reader and waits for one more release and relock.
async fn badge_opens(agent: &mut AgentProcess) {
    let before = relay_changes(&agent.status().await.unwrap());
    let card = VirtualCard::insert(VPCD_PORT, &UID, Behaviour::Normal).unwrap();
    agent
        .wait_status(WAIT, "the relay to release and relock", |s| {
            relay_changes(s) >= before + 2 && s["relay"] == "locked"
        })
        .await;
    card.remove();
    assert!(wait_card_absent(READER0), "pcscd still sees the card");
}

// The guard serialises every user of pcscd in this process for the whole test; the test
// runs on one thread (current-thread runtime), so holding it across awaits blocks nothing.
#[allow(clippy::await_holding_lock)]
#[tokio::test]
async fn f_after_pcscd_restarts_the_agent_reads_cards_again() {
    let Some(_pcscd) = pcscd() else { return };
    let site = PcscSite::create(UID_HEX, READER0).await;
    let mut agent = site.start_agent(READER0).await;
    badge_opens(&mut agent).await;

    stop_pcscd();
    agent
        .wait_status(WAIT, "the reader detached", |s| {
            reader_attached(s, READER0) == Some(false)
        })
        .await;
    assert!(start_pcscd(), "pcscd did not come back");
    agent
        .wait_status(WAIT, "the reader attached again", |s| {
            reader_attached(s, READER0) == Some(true)
        })
        .await;
    badge_opens(&mut agent).await;

    let presentations = wait_until(WAIT, "both presentations at the server", async || {
        let found = site.presentations(UID_HEX).await;
        (found.len() >= 2).then_some(found)
    })
    .await;
    assert_eq!(presentations.len(), 2, "{presentations:?}");
    for event in &presentations {
        assert_eq!(event["outcome"], "granted", "{event}");
        assert_eq!(event["reader"], READER0, "{event}");
        assert_eq!(event["door_id"], site.door.as_str(), "{event}");
    }
    assert_eq!(agent.stop().await.code(), Some(0));
}
