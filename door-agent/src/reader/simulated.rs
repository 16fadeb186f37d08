//! The simulated reader: one card presentation per input line, `<reader-name> <hex-card>`
//! (the name may contain spaces: the card is the last word), or `<reader-name> <hex-card>
//! pin <digits>` for a card and its PIN at once: the card, then the digits and Enter as
//! keys of that reader's keypad (see [`super::keypad`]), as a real keypad sends them.
//! `pin` as the last word but one always means a PIN. Blank lines and lines starting
//! with `#` are skipped; anything else that does not parse is reported as a
//! [`ReadErrorKind::BadInput`] event (never quoting a PIN) and reading goes on. Used for
//! demos (stdin) and tests.

use super::keypad::{Key, MAX_PIN_DIGITS, Pin};
use super::{CardEvent, CardReader, ReadErrorKind, ReaderEvent, ReaderHandle};
use gatehouse_core::decide::Authentication;
use gatehouse_core::model::normalize_card;
use std::io::{self, BufRead, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::mpsc::Sender;

/// Longest accepted input line, in bytes; longer lines are reported and skipped.
pub const MAX_LINE: usize = 1024;

/// Reads presentations from lines of text.
pub struct SimulatedReader<R> {
    input: R,
}

impl<R: BufRead + Send + 'static> SimulatedReader<R> {
    /// A reader over `input`.
    pub fn new(input: R) -> Self {
        Self { input }
    }
}

impl SimulatedReader<io::BufReader<io::Stdin>> {
    /// A reader over the process's standard input.
    pub fn stdin() -> Self {
        Self::new(io::BufReader::new(io::stdin()))
    }
}

/// One presentation: reader name, normalised card, and the PIN typed with it.
pub type Presented = (String, String, Option<Pin>);

/// Parses one input line: `Ok(None)` for a blank or comment line.
pub fn parse_line(line: &str) -> Result<Option<Presented>, String> {
    let line = line.trim();
    if line.is_empty() || line.starts_with('#') {
        return Ok(None);
    }
    let (line, pin) = split_pin(line)?;
    let Some((reader, card)) = line.rsplit_once(char::is_whitespace) else {
        return Err(
            "expected `<reader-name> <hex-card>` or `<reader-name> <hex-card> pin <digits>`".into(),
        );
    };
    let card = normalize_card(card).map_err(|e| format!("card {card:?}: {e}"))?;
    Ok(Some((reader.trim_end().to_owned(), card, pin)))
}

/// Splits ` pin <digits>` off the end of `line`, if it is there.
fn split_pin(line: &str) -> Result<(&str, Option<Pin>), String> {
    let Some((head, digits)) = line.rsplit_once(char::is_whitespace) else {
        return Ok((line, None));
    };
    let head = head.trim_end();
    match head.rsplit_once(char::is_whitespace) {
        Some((rest, "pin")) => {
            // The message must not quote what was typed: it may be a PIN with a slip.
            let pin = Some(digits)
                .filter(|d| d.len() <= MAX_PIN_DIGITS)
                .and_then(|d| Pin::new(d.to_owned()))
                .ok_or("pin: expected 1 to 12 digits")?;
            Ok((rest.trim_end(), Some(pin)))
        }
        _ => Ok((line, None)),
    }
}

/// The events of one presentation: the card, then its PIN's keys and Enter.
fn presentation_events((reader, card, pin): Presented, at: Instant) -> Vec<ReaderEvent> {
    let keys = pin
        .as_ref()
        .map(|p| p.expose().bytes().map(|b| Key::Digit(b - b'0')))
        .into_iter()
        .flatten()
        .chain(pin.as_ref().map(|_| Key::Enter));
    let keys: Vec<ReaderEvent> = keys
        .map(|key| ReaderEvent::Key {
            reader: reader.clone(),
            key,
        })
        .collect();
    let card = ReaderEvent::Card(CardEvent {
        reader,
        card,
        at,
        exchange: Duration::ZERO,
        authentication: Authentication::NotAttempted,
    });
    std::iter::once(card).chain(keys).collect()
}

/// Reads one line of at most [`MAX_LINE`] bytes into `buf` (without the newline).
/// `Ok(None)` at end of input; `Ok(Some(false))` when the line was too long (skipped).
fn read_line(input: &mut impl BufRead, buf: &mut Vec<u8>) -> io::Result<Option<bool>> {
    buf.clear();
    let limit = u64::try_from(MAX_LINE).unwrap_or(u64::MAX) + 1;
    let n = input.by_ref().take(limit).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    if buf.last() == Some(&b'\n') {
        buf.pop();
        return Ok(Some(true));
    }
    if buf.len() <= MAX_LINE {
        return Ok(Some(true)); // last line, no newline
    }
    // Skip the rest of the over-long line.
    let mut rest = Vec::new();
    while input.by_ref().take(4096).read_until(b'\n', &mut rest)? > 0 {
        if rest.last() == Some(&b'\n') {
            break;
        }
        rest.clear();
    }
    Ok(Some(false))
}

impl<R: BufRead + Send + 'static> SimulatedReader<R> {
    fn run(mut self, events: Sender<ReaderEvent>, stop: Arc<AtomicBool>) {
        let mut buf = Vec::new();
        let mut line_no = 0u64;
        while !stop.load(Ordering::SeqCst) {
            let line = read_line(&mut self.input, &mut buf);
            line_no += 1;
            let at = Instant::now();
            let parsed = match line {
                Ok(None) => return,
                Ok(Some(false)) => Err(format!("line longer than {MAX_LINE} bytes")),
                Ok(Some(true)) => match std::str::from_utf8(&buf) {
                    Ok(text) => parse_line(text),
                    Err(_) => Err("not UTF-8".to_owned()),
                },
                Err(e) => {
                    let kind = ReadErrorKind::BadInput {
                        line: line_no,
                        message: format!("cannot read input: {e}"),
                    };
                    let _ = events.blocking_send(failed(kind, at));
                    return;
                }
            };
            let sent = match parsed {
                Ok(None) => continue,
                Ok(Some(presented)) => presentation_events(presented, at),
                Err(message) => vec![failed(
                    ReadErrorKind::BadInput {
                        line: line_no,
                        message,
                    },
                    at,
                )],
            };
            for event in sent {
                if stop.load(Ordering::SeqCst) || events.blocking_send(event).is_err() {
                    return;
                }
            }
        }
    }
}

fn failed(kind: ReadErrorKind, at: Instant) -> ReaderEvent {
    ReaderEvent::ReadFailed {
        reader: String::new(),
        kind,
        at,
    }
}

impl<R: BufRead + Send + 'static> CardReader for SimulatedReader<R> {
    fn spawn(self: Box<Self>, events: Sender<ReaderEvent>) -> io::Result<ReaderHandle> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("reader-simulated".into())
            .spawn(move || self.run(events, flag))?;
        let stop_fn = Arc::new(move || stop.store(true, Ordering::SeqCst));
        // A blocking read of stdin cannot be interrupted: the handle does not wait.
        Ok(ReaderHandle::new(thread, stop_fn, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::mpsc;

    fn events_of(input: &'static [u8]) -> Vec<ReaderEvent> {
        let (tx, mut rx) = mpsc::channel(16);
        let handle = Box::new(SimulatedReader::new(input)).spawn(tx).unwrap();
        let mut out = Vec::new();
        while let Some(e) = rx.blocking_recv() {
            out.push(e);
        }
        handle.stop();
        out
    }

    #[test]
    fn parses_names_with_spaces_and_normalises_cards() {
        let parsed = parse_line("  Virtual PCD 00 00   04:a1:b2 \r")
            .unwrap()
            .unwrap();
        assert_eq!(
            (parsed.0.as_str(), parsed.1.as_str(), parsed.2.is_none()),
            ("Virtual PCD 00 00", "04A1B2", true)
        );
        assert!(parse_line("# comment").unwrap().is_none());
        assert!(parse_line("   ").unwrap().is_none());
        assert!(parse_line("lonely").is_err());
        assert!(parse_line("front 0G").is_err());
        assert!(parse_line("front ABC").is_err());
    }

    #[test]
    fn bad_lines_are_reported_and_reading_goes_on() {
        let events = events_of(b"front 04A1\nnonsense\n\xff\xfe x\n\nback DEADBEEF");
        assert_eq!(events.len(), 4, "{events:?}");
        let cards: Vec<_> = events
            .iter()
            .filter_map(|e| match e {
                ReaderEvent::Card(c) => Some((c.reader.as_str(), c.card.as_str())),
                _ => None,
            })
            .collect();
        assert_eq!(cards, vec![("front", "04A1"), ("back", "DEADBEEF")]);
        assert!(matches!(
            &events[1],
            ReaderEvent::ReadFailed {
                kind: ReadErrorKind::BadInput { line: 2, .. },
                ..
            }
        ));
        assert!(matches!(
            &events[2],
            ReaderEvent::ReadFailed {
                kind: ReadErrorKind::BadInput { line: 3, .. },
                ..
            }
        ));
    }

    #[test]
    fn a_pin_line_is_the_card_then_its_keys_and_no_error_quotes_a_pin() {
        let events = events_of(
            b"Virtual PCD 00 00 04A1 pin 0815\nfront 04A2 pin 08x5\nfront 04A3 pin\n\
              front 04A4 pin 0815081508150\nfront 04A5 pin 08\n",
        );
        let shown: Vec<String> = events
            .iter()
            .map(|e| match e {
                ReaderEvent::Card(c) => format!("{} {}", c.reader, c.card),
                ReaderEvent::Key {
                    reader,
                    key: Key::Digit(d),
                } => format!("{reader} key {d}"),
                ReaderEvent::Key { reader, key } => format!("{reader} {key:?}"),
                ReaderEvent::ReadFailed {
                    kind: ReadErrorKind::BadInput { line, message },
                    ..
                } => {
                    assert!(!message.contains("08"), "{message}");
                    format!("line {line} refused")
                }
                other => panic!("{other:?}"),
            })
            .collect();
        let pcd = "Virtual PCD 00 00";
        assert_eq!(
            shown,
            [
                format!("{pcd} 04A1"),
                format!("{pcd} key 0"),
                format!("{pcd} key 8"),
                format!("{pcd} key 1"),
                format!("{pcd} key 5"),
                format!("{pcd} Enter"),
                "line 2 refused".into(),
                "line 3 refused".into(),
                "line 4 refused".into(),
                "front 04A5".into(),
                "front key 0".into(),
                "front key 8".into(),
                "front Enter".into(),
            ]
        );
    }

    #[test]
    fn over_long_lines_are_skipped_whole() {
        let mut input = vec![b'a'; MAX_LINE * 5];
        input.extend_from_slice(b" 01\nfront 02\n");
        let input: &'static [u8] = Box::leak(input.into_boxed_slice());
        let events = events_of(input);
        assert_eq!(events.len(), 2, "{events:?}");
        assert!(matches!(&events[0], ReaderEvent::ReadFailed { .. }));
        assert!(matches!(&events[1], ReaderEvent::Card(c) if c.card == "02"));
    }
}
