//! A virtual DESFire card on stdin/stdout, for checking it with clients nobody here
//! wrote (python-desfire: `tests/python/read_issued_card.py`). It issues itself first,
//! through the crate's own reader side, exactly like `tests/it/flows.rs::issue`:
//! application `474801`, key 0 = master and key 1 = read key (AN10922-diversified from
//! the test site keys `11…11` and `22…22` with system identifier "gatehse"), file 1 in
//! CommMode.Full readable with key 1, holding `gh:credential:0123456789abcdef`.
//!
//! Then each stdin line is a command in hex (native or ISO-wrapped); each stdout line is
//! the answer in hex.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::io::{BufRead, Write};
use std::rc::Rc;

use gatehouse_desfire::card::Card;
use gatehouse_desfire::diversify::card_key;
use gatehouse_desfire::pcd::Pcd;
use gatehouse_desfire::types::{AccessRights, NEVER};
use gatehouse_desfire::{AesKey, CommMode};
use rand::rngs::OsRng;

const UID: [u8; 7] = [0x04, 0x78, 0x2E, 0x21, 0x80, 0x1D, 0x80];
const AID: [u8; 3] = [0x47, 0x48, 0x01];

fn main() {
    let card = Rc::new(RefCell::new(Card::new(&UID).unwrap()));
    {
        let c = card.clone();
        let mut pcd = Pcd::new(move |apdu: &[u8]| Ok(c.borrow_mut().process(apdu, &mut OsRng)));
        let zero = AesKey::factory_default();
        let k_master = card_key(&AesKey::new([0x11; 16]), &UID, AID, b"gatehse").unwrap();
        let k_read = card_key(&AesKey::new([0x22; 16]), &UID, AID, b"gatehse").unwrap();
        pcd.authenticate_ev2_first(0, &zero, &mut OsRng).unwrap();
        pcd.create_application(AID, 0x0B, 2).unwrap();
        pcd.select_application(AID).unwrap();
        pcd.authenticate_ev2_first(0, &zero, &mut OsRng).unwrap();
        let access = AccessRights {
            read: 1,
            write: 0,
            read_write: NEVER,
            change: 0,
        };
        pcd.create_std_data_file(1, CommMode::Full, access, 32)
            .unwrap();
        pcd.write_data(1, 0, b"gh:credential:0123456789abcdef", CommMode::Full)
            .unwrap();
        pcd.change_key(1, &k_read, 1, &zero).unwrap();
        pcd.change_key(0, &k_master, 1, &zero).unwrap();
    }
    card.borrow_mut().reset();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    for line in std::io::stdin().lock().lines() {
        let line = line.unwrap();
        let line = line.trim();
        let bytes: Vec<u8> = (0..line.len() / 2)
            .map(|i| u8::from_str_radix(&line[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        let answer = card.borrow_mut().process(&bytes, &mut OsRng);
        let hex: String = answer.iter().map(|b| format!("{b:02X}")).collect();
        writeln!(out, "{hex}").unwrap();
        out.flush().unwrap();
    }
}
