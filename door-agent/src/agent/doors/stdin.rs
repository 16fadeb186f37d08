//! The simulated door inputs: `contact <door-id> open|closed`, `exit <door-id>` and
//! `tamper <door-id> open|closed` lines on standard input, split off before the
//! simulated card reader sees the rest (card lines, and card + PIN lines, which are
//! passed on whole and never logged here).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::thread::JoinHandle;

use uuid::Uuid;

use crate::door::{ContactLevel, SimDoorSensor, SimExitButton};

/// A simulated door command on standard input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimCommand {
    /// `contact <door-id> open|closed`
    Contact(Uuid, ContactLevel),
    /// `exit <door-id>`: the request-to-exit button.
    Exit(Uuid),
    /// `tamper <door-id> open|closed`: the tamper line.
    Tamper(Uuid, bool),
}

/// Parses a door command; `None` when the line is not one (it is then a card line).
pub fn parse_sim_command(line: &str) -> Option<Result<SimCommand, String>> {
    let mut words = line.split_whitespace();
    let verb = words.next()?;
    if !["contact", "exit", "tamper"].contains(&verb) {
        return None;
    }
    let rest: Vec<&str> = words.collect();
    let door = |w: &str| -> Result<Uuid, String> {
        w.parse::<Uuid>()
            .map_err(|e| format!("{verb}: bad door id ({e})"))
    };
    let open_closed = |level: &str| match level {
        "open" => Ok(true),
        "closed" => Ok(false),
        other => Err(format!("{verb}: {other:?} is not open or closed")),
    };
    Some(match (verb, rest.as_slice()) {
        ("contact", [id, level]) => door(id).and_then(|d| {
            let level = if open_closed(level)? {
                ContactLevel::Open
            } else {
                ContactLevel::Closed
            };
            Ok(SimCommand::Contact(d, level))
        }),
        ("exit", [id]) => door(id).map(SimCommand::Exit),
        ("tamper", [id, level]) => {
            door(id).and_then(|d| Ok(SimCommand::Tamper(d, open_closed(level)?)))
        }
        ("contact", _) => Err("expected `contact <door-id> open|closed`".into()),
        ("tamper", _) => Err("expected `tamper <door-id> open|closed`".into()),
        _ => Err("expected `exit <door-id>`".into()),
    })
}

/// Reads standard input on its own thread: door commands go to the simulated doors,
/// every other line to `card_lines` (the simulated card reader's input).
pub fn split_stdin(
    doors: BTreeMap<Uuid, (SimDoorSensor, SimExitButton)>,
    mut card_lines: std::io::PipeWriter,
) -> std::io::Result<JoinHandle<()>> {
    std::thread::Builder::new()
        .name("stdin-split".into())
        .spawn(move || {
            let stdin = std::io::stdin();
            let mut input = BufReader::new(stdin.lock());
            let mut line = Vec::new();
            loop {
                line.clear();
                match input.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                let text = String::from_utf8_lossy(&line);
                match parse_sim_command(&text) {
                    None => {
                        if card_lines.write_all(&line).is_err() {
                            return;
                        }
                    }
                    Some(Err(e)) => tracing::warn!("standard input: {e}"),
                    Some(Ok(command)) => {
                        let id = match &command {
                            SimCommand::Contact(id, _)
                            | SimCommand::Exit(id)
                            | SimCommand::Tamper(id, _) => *id,
                        };
                        match (doors.get(&id), command) {
                            (None, _) => {
                                tracing::warn!(door = %id, "standard input: no such simulated door")
                            }
                            (Some((sensor, _)), SimCommand::Contact(_, level)) => {
                                sensor.set(level);
                            }
                            (Some((sensor, _)), SimCommand::Tamper(_, open)) => {
                                sensor.tamper(open);
                            }
                            (Some((_, button)), SimCommand::Exit(_)) => {
                                button.press();
                                button.release();
                            }
                        }
                    }
                }
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn door_commands_parse_and_card_lines_pass() {
        let id = Uuid::from_u128(5);
        assert_eq!(
            parse_sim_command(&format!("contact {id} open\n")),
            Some(Ok(SimCommand::Contact(id, ContactLevel::Open)))
        );
        assert_eq!(
            parse_sim_command(&format!("exit {id}")),
            Some(Ok(SimCommand::Exit(id)))
        );
        assert_eq!(
            parse_sim_command(&format!("tamper {id} open")),
            Some(Ok(SimCommand::Tamper(id, true)))
        );
        assert_eq!(
            parse_sim_command(&format!("tamper {id} closed")),
            Some(Ok(SimCommand::Tamper(id, false)))
        );
        assert!(matches!(
            parse_sim_command(&format!("tamper {id} ajar")),
            Some(Err(_))
        ));
        assert!(matches!(parse_sim_command("tamper"), Some(Err(_))));
        assert!(matches!(parse_sim_command("contact x open"), Some(Err(_))));
        assert!(matches!(parse_sim_command("contact"), Some(Err(_))));
        assert_eq!(parse_sim_command("front 04A1"), None);
        assert_eq!(parse_sim_command(""), None);
    }
}
