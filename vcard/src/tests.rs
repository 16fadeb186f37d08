//! Framing and behaviour tests against an in-process fake reader (a `TcpListener`
//! playing vpcd's side).

use super::*;
use gatehouse_desfire::CommMode;
use std::net::TcpListener;
use std::time::Instant;

const UID: [u8; 7] = [0x04, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6];
const GET_UID: [u8; 5] = [0xFF, 0xCA, 0x00, 0x00, 0x00];

/// A fake vpcd reader: a listener and the accepted connection of one card.
fn reader_with_card(behaviour: Behaviour) -> (TcpStream, InsertedCard) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let card = VirtualCard::insert(port, &UID, behaviour).unwrap();
    let (stream, _) = listener.accept().unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    (stream, card)
}

fn exchange(reader: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    frame::write_frame(reader, msg).unwrap();
    frame::read_frame(reader).unwrap().unwrap()
}

#[test]
fn answers_atr_only_to_get_atr_and_uid_to_get_data() {
    let (mut reader, card) = reader_with_card(Behaviour::Normal);
    // Power on, reset and power off get no answer: the next answer is the ATR's.
    for ctrl in [0x01, 0x02, 0x00] {
        frame::write_frame(&mut reader, &[ctrl]).unwrap();
    }
    assert_eq!(exchange(&mut reader, &[0x04]), ATR.to_vec());
    let mut want = UID.to_vec();
    want.extend_from_slice(&[0x90, 0x00]);
    assert_eq!(exchange(&mut reader, &GET_UID), want);
    assert_eq!(
        exchange(&mut reader, &[0x00, 0xA4, 0x04, 0x00]),
        vec![0x6D, 0x00]
    );
    assert_eq!(card.apdu_count(), 2);
    assert!(card.is_connected());
}

#[test]
fn responses_follow_le() {
    assert_eq!(respond(&UID, &[0xFF, 0xCA, 0x00, 0x00, 0x07])[..7], UID);
    assert_eq!(
        respond(&UID, &[0xFF, 0xCA, 0x00, 0x00, 0x04]),
        vec![0x6C, 7]
    );
    assert_eq!(
        respond(&UID, &[0xFF, 0xCA, 0x01, 0x00, 0x00]),
        vec![0x6D, 0x00]
    );
    assert_eq!(respond(&UID, &[0xFF]), vec![0x6D, 0x00]);
}

#[test]
fn delayed_card_answers_late() {
    let delay = Duration::from_millis(150);
    let (mut reader, _card) = reader_with_card(Behaviour::Delay(delay));
    assert_eq!(
        exchange(&mut reader, &[0x04]),
        ATR.to_vec(),
        "ATR is never delayed"
    );
    let start = Instant::now();
    assert_eq!(exchange(&mut reader, &GET_UID)[7..], [0x90, 0x00]);
    assert!(start.elapsed() >= delay);
}

#[test]
fn silent_card_counts_but_never_answers() {
    let (mut reader, card) = reader_with_card(Behaviour::Silent);
    frame::write_frame(&mut reader, &GET_UID).unwrap();
    // The ATR request that follows is answered: proof the APDU got no answer at all.
    assert_eq!(exchange(&mut reader, &[0x04]), ATR.to_vec());
    assert_eq!(card.apdu_count(), 1);
}

#[test]
fn removing_closes_the_connection_even_during_a_delay() {
    let (mut reader, card) = reader_with_card(Behaviour::Delay(Duration::from_secs(60)));
    frame::write_frame(&mut reader, &GET_UID).unwrap();
    let start = Instant::now();
    card.remove();
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(frame::read_frame(&mut reader).unwrap(), None);
}

#[test]
fn reader_closing_ends_the_card() {
    let (reader, card) = reader_with_card(Behaviour::Normal);
    drop(reader);
    card.wait_disconnected().unwrap();
}

#[test]
fn no_reader_and_bad_uid_are_errors() {
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    assert!(VirtualCard::insert(port, &UID, Behaviour::Normal).is_err());
    assert!(VirtualCard::insert(port, &[], Behaviour::Normal).is_err());
}

mod desfire_chip {
    use super::*;
    use crate::desfire;
    use gatehouse_desfire::app::door::{self, DoorRead};
    use gatehouse_desfire::app::station::IssueKeys;
    use gatehouse_desfire::app::{self, SiteKeys};
    use gatehouse_desfire::pcd::Pcd;
    use gatehouse_desfire::{AesKey, Error};
    use rand::rngs::OsRng;

    fn keys() -> IssueKeys {
        IssueKeys {
            door: SiteKeys {
                site_id: [0x5E; 16],
                version: 1,
                read: AesKey::new([0x22; 16]),
                uid: AesKey::new([0x33; 16]),
            },
            master: AesKey::new([0x5A; 16]),
        }
    }

    fn read_key() -> AesKey {
        keys().door.card_read_key(&UID).unwrap()
    }

    fn genuine(random_id: bool) -> SharedCard {
        desfire::shared(desfire::issue(&UID, &keys(), random_id).unwrap())
    }

    fn reader_with(chip: Chip) -> (TcpStream, InsertedCard) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let card = VirtualCard::insert_chip(port, chip, Behaviour::Normal).unwrap();
        let (stream, _) = listener.accept().unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        (stream, card)
    }

    /// The door's read over the fake reader, of the card that showed `seen`.
    fn door_read(reader: &mut TcpStream, seen: &[u8]) -> Result<DoorRead, Error> {
        let mut pcd = Pcd::new(|apdu: &[u8]| Ok(exchange(reader, apdu)));
        door::read(&mut pcd, seen, &[keys().door], &mut OsRng)
    }

    fn authentic() -> DoorRead {
        DoorRead::Authentic {
            uid: UID.to_vec(),
            site_id: [0x5E; 16],
            version: 1,
        }
    }

    #[test]
    fn answers_get_data_itself_and_passes_the_rest_to_the_card() {
        let (mut reader, card) = reader_with(Chip::Desfire(genuine(false)));
        assert_eq!(exchange(&mut reader, &[0x04]), ATR_DESFIRE.to_vec());
        assert_eq!(exchange(&mut reader, &GET_UID)[..7], UID);
        // A 1-byte native command (vpcd frames it like a control code) and a wrapped one.
        assert_eq!(exchange(&mut reader, &[0x60])[0], 0xAF);
        let wrapped = exchange(&mut reader, &[0x90, 0x60, 0x00, 0x00, 0x00]);
        assert_eq!(wrapped[wrapped.len() - 2..], [0x91, 0xAF]);
        assert_eq!(door_read(&mut reader, &UID).unwrap(), authentic());
        // ISO class commands other than FF CA get the card's "class not supported".
        assert_eq!(
            exchange(&mut reader, &[0x00, 0xA4, 0x04, 0x00]),
            [0x6E, 0x00]
        );
        assert_eq!(card.exchanges()[0].0, GET_UID);
        assert_eq!(card.apdu_count(), card.exchanges().len());
    }

    #[test]
    fn power_off_ends_the_session() {
        let shared = genuine(false);
        let (mut reader, _card) = reader_with(Chip::Desfire(shared));
        let mut control = reader.try_clone().unwrap();
        let mut pcd = Pcd::new(|apdu: &[u8]| Ok(exchange(&mut reader, apdu)));
        pcd.select_application(app::AID).unwrap();
        pcd.authenticate_ev2_first(1, &read_key(), &mut OsRng)
            .unwrap();
        assert_eq!(pcd.get_card_uid().unwrap(), UID);
        frame::write_frame(&mut control, &[0x00]).unwrap();
        // The card forgot the session (and the selected application).
        assert!(pcd.get_card_uid().is_err());
        assert!(pcd.read_data(1, 0, 4, CommMode::Plain).is_err());
    }

    #[test]
    fn random_id_is_new_per_insertion_and_the_card_state_is_kept() {
        let shared = genuine(true);
        let mut shown = Vec::new();
        for _ in 0..2 {
            let (mut reader, card) = reader_with(Chip::Desfire(shared.clone()));
            let uid = exchange(&mut reader, &GET_UID);
            assert_eq!((uid.len(), uid[0], &uid[4..]), (6, 0x08, &[0x90, 0x00][..]));
            assert_eq!(
                exchange(&mut reader, &GET_UID),
                uid,
                "stable while inserted"
            );
            let seen = &uid[..4];
            assert_eq!(door_read(&mut reader, seen).unwrap(), authentic());
            shown.push(uid);
            card.remove();
        }
        assert_ne!(shown[0], shown[1]);
        assert_eq!(shared.lock().unwrap().key_version(app::AID, 1), Some(1));
    }

    #[test]
    fn clones_show_the_uid_but_do_not_hold_the_keys() {
        let clone = desfire::clone_of(&UID, true).unwrap();
        let (mut reader, _card) = reader_with(Chip::Desfire(desfire::shared(clone)));
        assert_eq!(exchange(&mut reader, &GET_UID)[..7], UID);
        assert_eq!(door_read(&mut reader, &UID), Err(Error::NotAuthentic));

        let empty = desfire::clone_of(&UID, false).unwrap();
        let (mut reader, _card) = reader_with(Chip::Desfire(desfire::shared(empty)));
        assert_eq!(door_read(&mut reader, &UID), Ok(DoorRead::NoApplication));
        assert!(desfire::clone_of(&[1, 2, 3], false).is_err());
    }

    #[test]
    fn a_replay_plays_the_recorded_answers_and_fails_authentication() {
        let (mut reader, card) = reader_with(Chip::Desfire(genuine(false)));
        exchange(&mut reader, &GET_UID);
        door_read(&mut reader, &UID).unwrap();
        let recording = card.recording();
        card.remove();
        let text = recording.to_text();
        assert_eq!(Recording::from_text(&text).unwrap(), recording);

        let (mut reader, _attacker) = reader_with(Chip::Replay(recording.clone()));
        assert_eq!(exchange(&mut reader, &[0x04]), ATR_DESFIRE.to_vec());
        assert_eq!(exchange(&mut reader, &GET_UID), recording.exchanges[0].1);
        assert!(door_read(&mut reader, &UID).unwrap_err().is_not_authentic());

        // Played verbatim (same commands in the same order) it ends with "no diagnosis".
        let (mut reader, _attacker) = reader_with(Chip::Replay(recording.clone()));
        for (command, answer) in &recording.exchanges {
            assert_eq!(&exchange(&mut reader, command), answer);
        }
        assert_eq!(exchange(&mut reader, &[0x90, 0xAF, 0, 0, 0]), [0x6F, 0x00]);
    }

    #[test]
    fn recordings_parse_strictly_and_skip_unanswered_apdus() {
        assert!(Recording::from_text("# c\n\nFFCA000000 0102039000\n").is_ok());
        assert!(Recording::from_text("FFCA000000").is_err());
        assert!(Recording::from_text("FFCA000000 zz").is_err());
        assert!(Recording::from_text("F 9000").is_err());
        assert!(Recording::from_text("FF 9000 00").is_err());
        let (mut reader, card) = reader_with_card(Behaviour::Silent);
        frame::write_frame(&mut reader, &GET_UID).unwrap();
        assert_eq!(exchange(&mut reader, &[0x04]), ATR.to_vec());
        assert!(card.exchanges().is_empty());
    }
}
