//! Framing and behaviour tests against an in-process fake reader (a `TcpListener`
//! playing vpcd's side).

use super::*;
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
