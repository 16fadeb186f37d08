//! Attackers: a replayed session, a replaying card, a clone with the UID but not the
//! keys, and random bytes in both directions.

use std::cell::RefCell;
use std::rc::Rc;

use gatehouse_desfire::card::Card;
use gatehouse_desfire::pcd::Pcd;
use gatehouse_desfire::types::{AccessRights, NEVER};
use gatehouse_desfire::{AesKey, CommMode, Error};
use rand::rngs::OsRng;
use rand::{Rng, RngCore};

use super::flows::{FILE, door_read, issue};
use super::*;

fn issued() -> Rc<RefCell<Card>> {
    let card = Rc::new(RefCell::new(Card::new(&UID).unwrap()));
    issue(&mut reader(card.clone(), Log::default()), &UID);
    card
}

/// The door's exchange recorded from the air, replayed to the card: the card's new RndB
/// makes the recorded proof wrong (`91 AE`), and without a session nothing is read.
#[test]
fn a_recorded_session_replayed_to_the_card_is_refused() {
    let card = issued();
    let log = Log::default();
    let mut pcd = reader(card.clone(), log.clone());
    door_read(&mut pcd, &UID).unwrap();
    let recorded = log.borrow().clone();
    assert!(recorded.len() >= 5);
    card.borrow_mut().reset();
    let answers: Vec<Vec<u8>> = recorded
        .iter()
        .map(|(command, _)| card.borrow_mut().process(command, &mut OsRng))
        .collect();
    // Select still works (it is public), the challenge is new, the proof is refused.
    assert_eq!(answers[0], [0x91, 0x00]);
    assert_ne!(answers[1], recorded[1].1, "a fresh RndB each time");
    assert_eq!(answers[2], [0x91, 0xAE]);
    for (answer, (_, original)) in answers.iter().zip(&recorded).skip(3) {
        assert!(
            answer.len() == 2 && answer != &[0x91, 0x00],
            "refused: {answer:02X?}"
        );
        assert_ne!(answer, original);
    }
}

/// The same commands replayed a second time inside one genuine session: the command
/// counter has moved, so the recorded ReadData's MAC no longer verifies.
#[test]
fn a_command_replayed_inside_a_session_is_refused() {
    let card = issued();
    let log = Log::default();
    let mut pcd = reader(card.clone(), log.clone());
    door_read(&mut pcd, &UID).unwrap();
    let read_command = log.borrow()[3].0.clone();
    assert_eq!(read_command[1], 0xAD);
    let answer = card.borrow_mut().process(&read_command, &mut OsRng);
    assert_eq!(answer, [0x91, 0x1E], "integrity error");
}

/// A card that answers with what the genuine card said last time: the reader's fresh
/// RndA is not in the recorded answer, so it is not authentic.
#[test]
fn a_card_replaying_recorded_answers_is_not_authentic() {
    let card = issued();
    let log = Log::default();
    door_read(&mut reader(card, log.clone()), &UID).unwrap();
    let answers: Vec<Vec<u8>> = log.borrow().iter().map(|(_, a)| a.clone()).collect();
    let mut next = answers.into_iter();
    let mut pcd = Pcd::new(move |_: &[u8]| Ok(next.next().unwrap_or_else(|| vec![0x91, 0xCA])));
    let err = door_read(&mut pcd, &UID).unwrap_err();
    assert_eq!(err, Error::NotAuthentic);
    assert!(err.is_not_authentic());
}

/// A clone: same UID, same application and file layout, but not the keys (an attacker
/// who copied what a phone can see). Authentication fails with a typed error.
#[test]
fn a_clone_with_the_uid_but_not_the_keys_is_not_authentic() {
    let clone = Rc::new(RefCell::new(Card::new(&UID).unwrap()));
    {
        let mut pcd = reader(clone.clone(), Log::default());
        let zero = AesKey::factory_default();
        pcd.create_application(AID, 0x0F, 2).unwrap();
        pcd.select_application(AID).unwrap();
        pcd.authenticate_ev2_first(0, &zero, &mut OsRng).unwrap();
        let access = AccessRights {
            read: 1,
            write: 0,
            read_write: NEVER,
            change: 0,
        };
        pcd.create_std_data_file(FILE, CommMode::Full, access, 32)
            .unwrap();
        pcd.write_data(FILE, 0, CREDENTIAL, CommMode::Full).unwrap();
        pcd.change_key(1, &AesKey::new(OsRng.r#gen()), 1, &zero)
            .unwrap();
    }
    let mut pcd = reader(clone, Log::default());
    let err = door_read(&mut pcd, &UID).unwrap_err();
    assert_eq!(err, Error::NotAuthentic);
    assert!(pcd.session().is_none());
}

#[test]
fn random_commands_never_panic_the_card() {
    let card = issued();
    let mut rng = OsRng;
    let mut card = Rc::try_unwrap(card).ok().unwrap().into_inner();
    for i in 0..20_000u32 {
        let len = rng.gen_range(0..80);
        let mut apdu = vec![0u8; len];
        rng.fill_bytes(&mut apdu);
        // Make most of them look like DESFire commands so they get past the parser.
        if len >= 6 && i % 4 != 0 {
            apdu[0] = 0x90;
            apdu[2] = 0;
            apdu[3] = 0;
            apdu[4] = (len - 6).min(255) as u8;
            let cmds = [0x60, 0x5A, 0x71, 0xAF, 0x51, 0xAD, 0x8D, 0xC4, 0xCA, 0xCD];
            apdu[1] = cmds[i as usize % cmds.len()];
        }
        let answer = card.process(&apdu, &mut rng);
        assert!(!answer.is_empty());
    }
}

#[test]
fn random_answers_never_panic_the_reader() {
    let mut rng = OsRng;
    for _ in 0..2_000 {
        let mut pcd = Pcd::new(|_: &[u8]| {
            let mut r = OsRng;
            let len = r.gen_range(0..70);
            let mut a = vec![0u8; len];
            r.fill_bytes(&mut a);
            if len >= 2 && r.gen_bool(0.7) {
                a[len - 2] = 0x91;
                a[len - 1] = *[0x00, 0xAF, 0xAE, 0x1E]
                    .get(r.gen_range(0..4))
                    .unwrap_or(&0);
            }
            Ok(a)
        });
        let key = AesKey::new(rng.r#gen());
        let _ = pcd.select_application(AID);
        let _ = pcd.get_version();
        if pcd.authenticate_ev2_first(1, &key, &mut rng).is_ok() {
            panic!("random answers authenticated");
        }
        let _ = pcd.read_data(FILE, 0, 30, CommMode::Full);
        let _ = pcd.get_card_uid();
    }
}

#[test]
fn transport_errors_pass_through() {
    let mut pcd = Pcd::new(|_: &[u8]| Err(Error::Transport("card removed".into())));
    assert_eq!(
        pcd.select_application(AID),
        Err(Error::Transport("card removed".into()))
    );
    let err = pcd.authenticate_ev2_first(0, &AesKey::factory_default(), &mut OsRng);
    assert!(matches!(err, Err(Error::Transport(_))));
}

/// A relay in the middle flips one bit of the ReadData command or of its answer, at
/// every position in turn: the card or the reader notices, never accepts altered data.
#[test]
fn a_flipped_bit_in_a_session_is_caught_on_either_side() {
    let card = issued();
    for to_card in [true, false] {
        for pos in 0..64usize {
            let card = card.clone();
            card.borrow_mut().reset();
            let mut n = 0;
            let flipped = Rc::new(std::cell::Cell::new(false));
            let flag = flipped.clone();
            let mut pcd = Pcd::new(move |apdu: &[u8]| {
                n += 1;
                let mut apdu = apdu.to_vec();
                // Exchange 4 is ReadData (after select and the two authentication frames).
                if n == 4 && to_card && pos < apdu.len() - 1 && pos > 4 {
                    apdu[pos] ^= 0x01;
                    flag.set(true);
                }
                let mut answer = card.borrow_mut().process(&apdu, &mut OsRng);
                if n == 4 && !to_card && pos < answer.len().saturating_sub(2) {
                    answer[pos] ^= 0x01;
                    flag.set(true);
                }
                Ok(answer)
            });
            match door_read(&mut pcd, &UID) {
                Ok((data, _)) => {
                    assert!(!flipped.get(), "an altered exchange was accepted");
                    assert_eq!(data, CREDENTIAL);
                }
                Err(e) => assert!(
                    e.is_not_authentic() || matches!(e, Error::Card(_) | Error::Malformed(_)),
                    "{e:?}"
                ),
            }
        }
    }
}
