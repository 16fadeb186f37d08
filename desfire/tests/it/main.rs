//! Reader side against card side, in memory: issuing, the door's read, replay and
//! clones, and garbage in both directions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod app;
mod flows;
mod hostile;

use std::cell::RefCell;
use std::rc::Rc;

use gatehouse_desfire::card::Card;
use gatehouse_desfire::pcd::Pcd;
use gatehouse_desfire::{AesKey, Error};
use rand::rngs::OsRng;

/// Every APDU exchanged, in order: (command, answer).
pub type Log = Rc<RefCell<Vec<(Vec<u8>, Vec<u8>)>>>;

/// A reader wired to `card`, recording the exchange in `log`.
pub fn reader(
    card: Rc<RefCell<Card>>,
    log: Log,
) -> Pcd<impl FnMut(&[u8]) -> Result<Vec<u8>, Error>> {
    Pcd::new(move |apdu: &[u8]| {
        let answer = card.borrow_mut().process(apdu, &mut OsRng);
        log.borrow_mut().push((apdu.to_vec(), answer.clone()));
        Ok(answer)
    })
}

pub const UID: [u8; 7] = [0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80];
pub const AID: [u8; 3] = [0x47, 0x48, 0x01];
pub const SYSTEM: &[u8] = b"gatehse";
pub const CREDENTIAL: &[u8] = b"gh:credential:0123456789abcdef";

pub fn site_master() -> AesKey {
    AesKey::new([0x11; 16])
}

pub fn site_read() -> AesKey {
    AesKey::new([0x22; 16])
}
