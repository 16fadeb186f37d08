//! The PC/SC reader against real parts: pcscd with the vsmartcard vpcd driver and the
//! project's virtual card (`vcard`). Skipped with a message when pcscd or vpcd is not
//! installed, unless `GATEHOUSE_TEST_REQUIRE_PCSC=1` (CI), where that is a failure.
//! The tests share pcscd and its two virtual readers, so they run one at a time, and
//! each one ends with its cards removed *and seen removed*: vpcd takes the next card only
//! once it noticed the last one gone.
#![cfg(feature = "pcsc")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::pcscd;

use door_agent::reader::pcsc::{PcscOptions, PcscReader, measure_round_trip};
use door_agent::reader::{CardReader, ReadErrorKind, ReaderEvent, ReaderHandle};
use pcscd::{READER0, READER1, WAIT, pcscd, start_pcscd, stop_pcscd};
use std::time::Duration;
use tokio::sync::mpsc;
use vcard::{Behaviour, InsertedCard, VPCD_PORT, VirtualCard};

const UID: [u8; 7] = [0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6];
const UID_HEX: &str = "04A1B2C3D4E5F6";
/// The PC/SC reader under test and its events.
struct Agent {
    rx: mpsc::Receiver<ReaderEvent>,
    rt: tokio::runtime::Runtime,
    _handle: ReaderHandle,
}

impl Agent {
    fn start(options: PcscOptions) -> Self {
        let (tx, rx) = mpsc::channel(64);
        let handle = Box::new(PcscReader::new(options)).spawn(tx).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let mut agent = Self {
            rx,
            rt,
            _handle: handle,
        };
        for reader in [READER0, READER1] {
            agent.expect(
                &format!("{reader} attached"),
                |e| matches!(e, ReaderEvent::Attached { reader: r } if r == reader),
            );
        }
        agent
    }

    /// Waits for the first event matching `pred`; returns it and the events before it.
    fn expect(
        &mut self,
        what: &str,
        pred: impl Fn(&ReaderEvent) -> bool,
    ) -> (ReaderEvent, Vec<ReaderEvent>) {
        let deadline = tokio::time::Instant::now() + WAIT;
        let mut before = Vec::new();
        loop {
            let rx = &mut self.rx;
            let next = self
                .rt
                .block_on(async { tokio::time::timeout_at(deadline, rx.recv()).await });
            match next {
                Ok(Some(e)) if pred(&e) => return (e, before),
                Ok(Some(e)) => before.push(e),
                Ok(None) => panic!("reader stopped while waiting for {what}; saw {before:?}"),
                Err(_) => panic!("no {what} within {WAIT:?}; saw {before:?}"),
            }
        }
    }

    fn expect_card(&mut self, reader: &str) -> (ReaderEvent, Vec<ReaderEvent>) {
        self.expect(
            &format!("a card on {reader}"),
            |e| matches!(e, ReaderEvent::Card(c) if c.reader == reader),
        )
    }

    /// A normal card on reader 0 is read with the right UID, then removed.
    fn read_and_remove(&mut self) {
        let card = insert(VPCD_PORT, Behaviour::Normal);
        let (ReaderEvent::Card(read), _) = self.expect_card(READER0) else {
            unreachable!()
        };
        assert_eq!(read.card, UID_HEX);
        card.remove();
        self.expect_removed(READER0);
    }

    fn expect_removed(&mut self, reader: &str) -> Vec<ReaderEvent> {
        self.expect(
            &format!("a removal from {reader}"),
            |e| matches!(e, ReaderEvent::Removed { reader: r, .. } if r == reader),
        )
        .1
    }

    fn expect_timeout(&mut self, reader: &str) -> Vec<ReaderEvent> {
        self.expect(&format!("a read timeout on {reader}"), |e| {
            matches!(e, ReaderEvent::ReadFailed { reader: r, kind: ReadErrorKind::Timeout { .. }, .. } if r == reader)
        })
        .1
    }
}

fn insert(port: u16, behaviour: Behaviour) -> InsertedCard {
    VirtualCard::insert(port, &UID, behaviour).unwrap()
}

fn no_card(events: &[ReaderEvent]) {
    assert!(
        !events.iter().any(|e| matches!(e, ReaderEvent::Card(_))),
        "a card was accepted: {events:?}"
    );
}

#[test]
fn cards_are_read_on_both_readers_and_removals_reported() {
    let Some(_pcscd) = pcscd() else { return };
    let mut agent = Agent::start(PcscOptions::default());

    let card = insert(VPCD_PORT, Behaviour::Normal);
    let (event, _) = agent.expect_card(READER0);
    let ReaderEvent::Card(read) = event else {
        unreachable!()
    };
    assert_eq!(read.card, UID_HEX);
    assert!(read.exchange <= PcscOptions::default().deadline);
    assert_eq!(card.apdu_count(), 1);
    card.remove();
    agent.expect_removed(READER0);

    let card = insert(VPCD_PORT + 1, Behaviour::Normal);
    agent.expect_card(READER1);
    drop(card);
    agent.expect_removed(READER1);
}

#[test]
fn a_card_answering_after_the_deadline_is_an_error_not_a_card() {
    let Some(_pcscd) = pcscd() else { return };
    let deadline = Duration::from_millis(300);
    let mut agent = Agent::start(PcscOptions {
        deadline,
        ..PcscOptions::default()
    });

    let slow = insert(VPCD_PORT, Behaviour::Delay(deadline * 2));
    no_card(&agent.expect_timeout(READER0));
    assert!(slow.apdu_count() >= 1);
    slow.remove();
    no_card(&agent.expect_removed(READER0));

    // A card within the deadline is still read.
    agent.read_and_remove();
}

#[test]
fn a_silent_card_is_an_error_and_the_reader_keeps_working() {
    let Some(_pcscd) = pcscd() else { return };
    let mut agent = Agent::start(PcscOptions::default());

    let silent = insert(VPCD_PORT, Behaviour::Silent);
    no_card(&agent.expect_timeout(READER0));
    silent.remove();
    no_card(&agent.expect_removed(READER0));

    agent.read_and_remove();
}

#[test]
fn cards_are_read_again_after_pcscd_restarts() {
    let Some(_pcscd) = pcscd() else { return };
    let mut agent = Agent::start(PcscOptions::default());
    let card = insert(VPCD_PORT, Behaviour::Normal);
    agent.expect_card(READER0);

    stop_pcscd();
    // pcscd closing the connection removes the card; the readers go with the daemon.
    agent.expect_removed(READER0);
    agent.expect(
        &format!("{READER0} detached"),
        |e| matches!(e, ReaderEvent::Detached { reader } if reader == READER0),
    );
    drop(card);

    assert!(start_pcscd(), "pcscd did not come back");
    agent.expect(
        &format!("{READER0} attached again"),
        |e| matches!(e, ReaderEvent::Attached { reader } if reader == READER0),
    );
    agent.read_and_remove();
}

#[test]
fn the_bare_round_trip_of_get_uid_is_measured() {
    let Some(_pcscd) = pcscd() else { return };
    let mut agent = Agent::start(PcscOptions::default());
    let card = insert(VPCD_PORT, Behaviour::Normal);
    agent.expect_card(READER0);
    let samples = measure_round_trip(READER0, 5).unwrap();
    assert_eq!(samples.len(), 5);
    assert_eq!(card.apdu_count(), 6);
    assert!(measure_round_trip("No Such Reader", 1).is_err());
    card.remove();
    agent.expect_removed(READER0);
}
