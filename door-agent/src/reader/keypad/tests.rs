//! The keypad: evdev decoding on recorded kernel bytes (both record layouts, split at
//! every offset), PIN entry, the device thread on a FIFO standing in for the device, and
//! that no digit shows in `Debug`.

use std::time::{Duration, Instant};

use super::entry::{PinEntries, PinEntryConfig};
use super::evdev::{Decoder, EV_KEY, EV_MSC, EV_SYN, Layout, MSC_SCAN, SYN_REPORT, code, key_of};
use super::*;
use crate::reader::CardEvent;

/// `EV_LED`, `LED_NUML`: Num Lock's light, reported when the keypad's Num Lock is pressed.
const EV_LED: u16 = 0x11;

/// What the keys typed: digits, `#` for Enter, `*` for Clear.
fn typed(keys: &[Key]) -> String {
    keys.iter()
        .map(|k| match k {
            Key::Digit(d) => char::from(b'0' + d),
            Key::Enter => '#',
            Key::Clear => '*',
        })
        .collect()
}

/// One `struct input_event` as a little-endian machine writes it.
fn record(layout: Layout, (sec, usec): (u32, u32), kind: u16, code: u16, value: i32) -> Vec<u8> {
    let mut r = Vec::new();
    match layout {
        Layout::Time64 => {
            r.extend_from_slice(&u64::from(sec).to_le_bytes());
            r.extend_from_slice(&u64::from(usec).to_le_bytes());
        }
        Layout::Time32 => {
            r.extend_from_slice(&sec.to_le_bytes());
            r.extend_from_slice(&usec.to_le_bytes());
        }
    }
    r.extend_from_slice(&kind.to_le_bytes());
    r.extend_from_slice(&code.to_le_bytes());
    r.extend_from_slice(&value.to_le_bytes());
    r
}

/// A key stroke as the kernel's usbhid driver reports it: the HID usage (`MSC_SCAN`),
/// the key, `SYN_REPORT`; and the same for the release.
fn stroke(layout: Layout, t: &mut (u32, u32), usage: u32, key: u16) -> Vec<u8> {
    let scan = i32::try_from(0x7_0000 | usage).unwrap();
    let mut bytes = Vec::new();
    for value in [1, 0] {
        bytes.extend(record(layout, *t, EV_MSC, MSC_SCAN, scan));
        bytes.extend(record(layout, *t, EV_KEY, key, value));
        bytes.extend(record(layout, *t, EV_SYN, SYN_REPORT, 0));
        t.1 += 96_011; // about a tenth of a second between reports
    }
    bytes
}

/// `cat /dev/input/by-id/usb-...-event-kbd` while "1234", Enter are typed on a USB
/// numeric keypad, the first key held long enough to repeat, with a Num Lock press
/// (its light reported with `EV_LED`) and a slip cleared with Backspace before them.
fn recorded(layout: Layout) -> Vec<u8> {
    use code::*;
    let mut t = (1_765_059_730, 412_337);
    let mut bytes = Vec::new();
    // Num Lock (HID usage 0x53, KEY_NUMLOCK 69), and its light.
    bytes.extend(record(layout, t, EV_MSC, MSC_SCAN, 0x7_0053));
    bytes.extend(record(layout, t, EV_KEY, 69, 1));
    bytes.extend(record(layout, t, EV_SYN, SYN_REPORT, 0));
    bytes.extend(record(layout, t, EV_LED, 0, 1));
    bytes.extend(record(layout, t, EV_SYN, SYN_REPORT, 0));
    bytes.extend(record(layout, t, EV_MSC, MSC_SCAN, 0x7_0053));
    bytes.extend(record(layout, t, EV_KEY, 69, 0));
    bytes.extend(record(layout, t, EV_SYN, SYN_REPORT, 0));
    // A slip, cleared: 9 (usage 0x61), Backspace (usage 0x2a).
    bytes.extend(stroke(layout, &mut t, 0x61, KEY_KP7 + 2));
    bytes.extend(stroke(layout, &mut t, 0x2a, KEY_BACKSPACE));
    // 1 held: press, two auto-repeats (no MSC_SCAN: the kernel's soft repeat), release.
    bytes.extend(record(layout, t, EV_MSC, MSC_SCAN, 0x7_0059));
    bytes.extend(record(layout, t, EV_KEY, KEY_KP1, 1));
    bytes.extend(record(layout, t, EV_SYN, SYN_REPORT, 0));
    for _ in 0..2 {
        t.1 += 33_000;
        bytes.extend(record(layout, t, EV_KEY, KEY_KP1, 2));
        bytes.extend(record(layout, t, EV_SYN, SYN_REPORT, 1));
    }
    bytes.extend(record(layout, t, EV_MSC, MSC_SCAN, 0x7_0059));
    bytes.extend(record(layout, t, EV_KEY, KEY_KP1, 0));
    bytes.extend(record(layout, t, EV_SYN, SYN_REPORT, 0));
    bytes.extend(stroke(layout, &mut t, 0x5a, KEY_KP1 + 1));
    bytes.extend(stroke(layout, &mut t, 0x5b, KEY_KP1 + 2));
    bytes.extend(stroke(layout, &mut t, 0x5c, KEY_KP4));
    bytes.extend(stroke(layout, &mut t, 0x58, KEY_KPENTER));
    bytes
}

#[test]
fn the_record_layouts_are_the_kernels() {
    // As `xxd` shows a 64-bit process's read: 8 + 8 bytes of time, type, code, value.
    let press_64: [u8; 24] = [
        0x92, 0xac, 0x34, 0x69, 0, 0, 0, 0, 0xb1, 0x4a, 0x06, 0, 0, 0, 0, 0, // time
        0x01, 0x00, 0x4f, 0x00, 0x01, 0x00, 0x00, 0x00, // EV_KEY, KEY_KP1, 1
    ];
    // A 32-bit process's: 4 + 4 bytes of time.
    let press_32: [u8; 16] = [
        0x92, 0xac, 0x34, 0x69, 0xb1, 0x4a, 0x06, 0x00, // time
        0x01, 0x00, 0x4f, 0x00, 0x01, 0x00, 0x00, 0x00,
    ];
    let t = (1_765_059_730, 412_337);
    assert_eq!(
        record(Layout::Time64, t, EV_KEY, code::KEY_KP1, 1),
        press_64
    );
    assert_eq!(
        record(Layout::Time32, t, EV_KEY, code::KEY_KP1, 1),
        press_32
    );
    assert_eq!(Layout::Time64.record_len(), 24);
    assert_eq!(Layout::Time32.record_len(), 16);
    #[cfg(target_pointer_width = "64")]
    assert_eq!(Layout::NATIVE, Layout::Time64);
}

// The recordings are little-endian, as the kernel writes on every machine the agent
// runs on; the decoder reads the machine's own order.
#[cfg(target_endian = "little")]
#[test]
fn a_recorded_pin_decodes_whatever_the_reads_split() {
    for layout in [Layout::Time64, Layout::Time32] {
        let bytes = recorded(layout);
        assert_eq!(bytes.len() % layout.record_len(), 0);
        let decode = |chunks: &[&[u8]]| {
            let mut decoder = Decoder::new(layout);
            let mut keys = Vec::new();
            for chunk in chunks {
                decoder.feed(chunk, &mut keys);
            }
            typed(&keys)
        };
        assert_eq!(decode(&[&bytes]), "9*1234#", "{layout:?}");
        for split in 0..=bytes.len() {
            let (a, b) = bytes.split_at(split);
            assert_eq!(decode(&[a, b]), "9*1234#", "{layout:?} split at {split}");
        }
        let bytewise: Vec<&[u8]> = bytes.chunks(1).collect();
        assert_eq!(decode(&bytewise), "9*1234#", "{layout:?} byte by byte");
        let odd: Vec<&[u8]> = bytes.chunks(7).collect();
        assert_eq!(decode(&odd), "9*1234#", "{layout:?} in 7-byte reads");
        // Enter's press, cut off before its last byte, waits for its rest (it is the
        // fifth record from the end: release MSC_SCAN, key and SYN_REPORT follow it).
        let cut = bytes.len() - 4 * layout.record_len() - 1;
        let mut decoder = Decoder::new(layout);
        let mut keys = Vec::new();
        decoder.feed(&bytes[..cut], &mut keys);
        assert_eq!(typed(&keys), "9*1234", "{layout:?}");
        decoder.feed(&bytes[cut..], &mut keys);
        assert_eq!(typed(&keys), "9*1234#", "{layout:?}");
    }
}

#[test]
fn only_presses_of_digits_enter_and_clear_are_keys() {
    use code::*;
    let mut row = String::new();
    for code in (KEY_1..=KEY_9).chain([KEY_0]) {
        row.extend(key_of(EV_KEY, code, 1).map(|k| typed(&[k])));
    }
    assert_eq!(row, "1234567890");
    let mut pad = String::new();
    for code in [82, 79, 80, 81, 75, 76, 77, 71, 72, 73] {
        pad.extend(key_of(EV_KEY, code, 1).map(|k| typed(&[k])));
    }
    assert_eq!(pad, "0123456789", "KEY_KP0 … KEY_KP9");
    for (code, key) in [
        (KEY_ENTER, Key::Enter),
        (KEY_KPENTER, Key::Enter),
        (KEY_BACKSPACE, Key::Clear),
        (KEY_ESC, Key::Clear),
    ] {
        assert_eq!(key_of(EV_KEY, code, 1), Some(key), "code {code}");
        assert_eq!(key_of(EV_KEY, code, 0), None, "release of {code}");
        assert_eq!(key_of(EV_KEY, code, 2), None, "repeat of {code}");
    }
    // KEY_KPMINUS, KEY_KPPLUS, KEY_KPDOT, KEY_A, KEY_NUMLOCK; and not key events at all.
    for code in [74, 78, 83, 30, 69] {
        assert_eq!(key_of(EV_KEY, code, 1), None, "code {code}");
    }
    assert_eq!(key_of(EV_MSC, KEY_KP1, 1), None);
    assert_eq!(key_of(EV_LED, KEY_KP1, 1), None);
}

#[test]
fn no_digit_shows_in_debug() {
    let pin = Pin::new("4711".into()).unwrap();
    let keys: Vec<Key> = (0..10).map(Key::Digit).chain([Key::Enter]).collect();
    let event = crate::reader::ReaderEvent::Key {
        reader: "front".into(),
        key: Key::Digit(7),
    };
    for shown in [
        format!("{pin:?}"),
        format!("{keys:?}"),
        format!("{event:?}"),
    ] {
        assert!(!shown.chars().any(|c| c.is_ascii_digit()), "{shown}");
    }
    assert_eq!(pin.expose(), "4711");
    assert!(Pin::new(String::new()).is_none());
    assert!(Pin::new("12a4".into()).is_none());
    assert!(Pin::new("1".repeat(MAX_PIN_DIGITS + 2)).is_none());
}

fn card(reader: &str) -> CardEvent {
    CardEvent {
        reader: reader.into(),
        card: "04A1".into(),
        at: Instant::now(),
        exchange: Duration::ZERO,
        authentication: Default::default(),
    }
}

fn entries(keypads: Option<&[&str]>) -> PinEntries {
    PinEntries::new(PinEntryConfig {
        timeout: Duration::from_secs(10),
        keypads: keypads.map(|r| r.iter().map(|s| (*s).to_owned()).collect()),
    })
}

/// Types `keys` (digits, `#` Enter, `*` Clear) at `reader`; the PIN completed, if any.
fn type_at(e: &mut PinEntries, reader: &str, keys: &str, now: Instant) -> Option<String> {
    let mut done = None;
    for c in keys.chars() {
        let key = match c {
            '#' => Key::Enter,
            '*' => Key::Clear,
            d => Key::Digit(u8::try_from(d.to_digit(10).unwrap()).unwrap()),
        };
        if let Some((card, pin)) = e.key(reader, key, now) {
            assert_eq!(card.reader, reader);
            done = Some(pin.expose().to_owned());
        }
    }
    done
}

#[test]
fn a_waiting_card_takes_the_digits_typed_at_its_reader_until_enter() {
    let t0 = Instant::now();
    let mut e = entries(None);
    assert!(e.has_keypad("anything"), "simulated: every reader");
    assert_eq!(type_at(&mut e, "front", "1234#", t0), None, "no card waits");
    assert!(e.wait(card("front"), t0).is_none());
    assert!(e.wait(card("back"), t0).is_none());
    assert_eq!(e.next_deadline(), Some(t0 + Duration::from_secs(10)));
    assert_eq!(
        type_at(&mut e, "front", "#", t0),
        None,
        "Enter alone is a stray press"
    );
    assert_eq!(type_at(&mut e, "back", "98", t0), None);
    assert_eq!(
        type_at(&mut e, "front", "12*5678#", t0).as_deref(),
        Some("5678")
    );
    assert_eq!(
        type_at(&mut e, "front", "1#", t0),
        None,
        "front waits no more"
    );
    // Over-long entries stay over-long (and so wrong), whatever is typed after.
    let long = "1".repeat(20) + "#";
    assert_eq!(
        type_at(&mut e, "back", &long, t0),
        Some("98".to_owned() + &"1".repeat(11))
    );
}

#[test]
fn a_card_waits_until_its_deadline_and_a_new_card_displaces_it() {
    let t0 = Instant::now();
    let due = t0 + Duration::from_secs(10);
    let mut e = entries(Some(&["front"]));
    assert!(e.has_keypad("front") && !e.has_keypad("back"));
    assert!(e.wait(card("front"), t0).is_none());
    assert!(e.expired(due - Duration::from_millis(1)).is_empty());
    assert_eq!(type_at(&mut e, "front", "1234#", due), None, "too late");
    assert_eq!(e.expired(due).len(), 1);
    assert_eq!(e.next_deadline(), None);
    e.wait(card("front"), t0);
    let mut second = card("front");
    second.card = "04B2".into();
    let displaced = e.wait(second, t0).expect("the first card");
    assert_eq!(displaced.card, "04A1");
    assert!(e.key("front", Key::Digit(1), t0).is_none());
    let (card, _) = e
        .key("front", Key::Enter, t0)
        .expect("the second card's PIN");
    assert_eq!(card.card, "04B2");
    e.wait(card.clone(), t0);
    assert_eq!(e.drain().len(), 1);
    assert!(e.drain().is_empty());
}

#[test]
fn keypad_config_names_configured_readers_once() {
    let device = |reader: &str| KeypadDevice {
        reader: reader.into(),
        path: "/dev/input/by-id/usb-keypad-event-kbd".into(),
    };
    let config = |timeout, devices| KeypadConfig {
        pin_timeout_s: timeout,
        devices,
    };
    let readers = ["front", "back"];
    assert_eq!(
        config(10, vec![device("front")]).validate(readers.into_iter()),
        Ok(())
    );
    let error = |c: KeypadConfig| c.validate(readers.into_iter()).unwrap_err();
    assert!(error(config(0, vec![])).contains("keypad.pin_timeout_s"));
    assert!(error(config(61, vec![])).contains("keypad.pin_timeout_s"));
    assert!(error(config(10, vec![device("side")])).contains("\"side\""));
    let twice = error(config(10, vec![device("front"), device("front")]));
    assert!(twice.contains("two keypads"), "{twice}");
    assert_eq!(
        KeypadConfig::default().pin_timeout(),
        Duration::from_secs(10)
    );
}

/// The device thread on a FIFO standing in for `/dev/input/eventN` (these machines have
/// no `/dev/uinput` to make a real one): a missing device is reported once, then read
/// when it appears, in reads that split records; a device that goes away is reported.
#[cfg(all(target_endian = "little", target_os = "linux"))]
#[tokio::test]
async fn the_device_thread_waits_for_a_missing_keypad_then_reads_it() {
    use crate::reader::{ReadErrorKind, ReaderEvent};
    use device::KeypadReader;
    use std::io::Write;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("usb-Keypad-event-kbd");
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let keypad = KeypadReader {
        retry: Duration::from_millis(20),
        layout: evdev::Layout::Time64,
        ..KeypadReader::new("front".into(), path.clone())
    };
    let handle = keypad.spawn(tx).unwrap();
    let mut next = async || {
        let event = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await;
        event.expect("an event in time").expect("the thread runs")
    };
    let failed = |event: ReaderEvent| match event {
        ReaderEvent::ReadFailed {
            reader,
            kind: ReadErrorKind::Keypad { message },
            ..
        } => (reader, message),
        other => panic!("expected a keypad failure, got {other:?}"),
    };
    let (reader, message) = failed(next().await);
    assert_eq!(reader, "front");
    assert!(message.contains("usb-Keypad-event-kbd"), "{message}");

    let made = std::process::Command::new("mkfifo").arg(&path).status();
    assert!(made.unwrap().success(), "mkfifo");
    let bytes = recorded(Layout::Time64);
    let fifo = path.clone();
    let writer = std::thread::spawn(move || {
        // Opening blocks until the thread opens its end.
        let mut device = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
        let (a, b) = bytes.split_at(100);
        device.write_all(a).unwrap();
        device.flush().unwrap();
        device.write_all(b).unwrap();
    });
    let mut keys = Vec::new();
    while keys.len() < 7 {
        match next().await {
            ReaderEvent::Key { reader, key } => {
                assert_eq!(reader, "front");
                keys.push(key);
            }
            other => panic!("a key expected (the outage is reported once): {other:?}"),
        }
    }
    assert_eq!(typed(&keys), "9*1234#");
    writer.join().unwrap();
    let (_, message) = failed(next().await);
    assert!(message.contains("closed"), "{message}");

    // Nobody listens any more: the thread ends, once out of its open of the FIFO (a
    // writer lets it out; `O_NONBLOCK`, 0o4000 on Linux, fails while no reader waits).
    drop(rx);
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.is_running() {
        assert!(Instant::now() < deadline, "the keypad thread did not end");
        use std::os::unix::fs::OpenOptionsExt;
        let mut writer = std::fs::OpenOptions::new();
        drop(writer.write(true).custom_flags(0o4000).open(&path));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    handle.stop();
}

/// The shipped configuration with its example reader and keypad uncommented loads.
#[test]
fn the_documented_keypad_example_loads() {
    let shipped = include_str!("../../../../config/door-agent.toml");
    let headers = ["[[readers]]", "[[keypad.devices]]"];
    let keys = [
        "name = ",
        "door_id = ",
        "direction = ",
        "reader = ",
        "path = ",
    ];
    let example = |line: &str| headers.contains(&line) || keys.iter().any(|k| line.starts_with(k));
    let text: String = shipped
        .lines()
        .map(|line| match line.strip_prefix("# ") {
            Some(uncommented) if example(uncommented) => uncommented,
            _ => line,
        })
        .map(|line| format!("{line}\n"))
        .collect();
    assert!(text.contains("\n[[keypad.devices]]\n"), "{text}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("door-agent.toml");
    std::fs::write(&path, text).unwrap();
    let config = crate::config::AgentConfig::load(&path).unwrap();
    assert_eq!(config.keypad.pin_timeout_s, 10);
    assert_eq!(config.keypad.devices.len(), 1);
    assert_eq!(config.keypad.devices[0].reader, config.readers[0].name);
}
