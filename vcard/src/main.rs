//! `vcard`: insert a virtual card into a vpcd reader by hand.
//!
//! Inserts the card (UID-only, DESFire genuine, blank or cloned, or a replaying attacker),
//! keeps it inserted for `--hold-ms` (or until pcscd closes the connection), then removes
//! it and prints how many APDUs it saw. `--help` lists the flags.

use std::process::ExitCode;
use std::time::Duration;

use gatehouse_desfire::AesKey;
use gatehouse_desfire::app::SiteKeys;
use gatehouse_desfire::app::station::IssueKeys;
use vcard::desfire;
use vcard::{Behaviour, Chip, Recording, VPCD_PORT, VirtualCard};

const USAGE: &str = "\
usage: vcard [--port PORT] --uid HEX [--delay-ms N | --silent] [--hold-ms N]
             [--desfire MODE [--random-uid] [--site-id UUID] [--key-version N]
              [--site-master-key HEX] [--site-read-key HEX] [--site-uid-key HEX]]
             [--record FILE]
       vcard [--port PORT] --replay FILE [--hold-ms N]

  --port PORT           vpcd port: 35963 = Virtual PCD 00 00 (default), 35964 = 00 01
  --uid HEX             the card's UID (4, 7 or 10 bytes for DESFire)
  --delay-ms N          answer every APDU N ms late (a relayed card)
  --silent              never answer an APDU
  --hold-ms N           remove the card after N ms (default: when pcscd disconnects)
  --desfire MODE        a DESFire EV2 card instead of a UID-only one; MODE is
                          blank        factory keys (all zero), for an issuing station
                          issued       issued as `gatehouse cards issue` does: application
                                       474801, keys 0 and 1 diversified (AN10922) from the
                                       site keys for this UID, key 2 the site's UID key;
                                       file 1 (32 bytes, encrypted, read with key 1) holds
                                       the record naming the UID and the site
                          clone        same UID, application and file, but factory keys
                          clone-empty  same UID, no application at all
  --random-uid          random anticollision UID per insertion (GetCardUID gives --uid)
  --site-id UUID        the site the card is issued for (default all zero)
  --key-version N       the keys' version, 1-255 (default 1)
  --site-master-key HEX site key of key 0 (default 11 x16, the tests' site)
  --site-read-key HEX   site key of key 1, the door's read key (default 22 x16)
  --site-uid-key HEX    key 2, the site's UID key (default 33 x16)
  --record FILE         on removal, write every exchange to FILE (for --replay)
  --replay FILE         a replaying attacker: answers FF CA with the recorded UID and
                        every other APDU with the next recorded answer";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Blank,
    Issued,
    Clone,
    CloneEmpty,
}

struct Args {
    port: u16,
    uid: Vec<u8>,
    behaviour: Behaviour,
    hold: Option<Duration>,
    desfire: Option<Mode>,
    random_uid: bool,
    keys: IssueKeys,
    record: Option<String>,
    replay: Option<String>,
}

/// Bytes from hex digits, `:` and `-` between them ignored.
fn parse_hex(flag: &str, s: &str) -> Result<Vec<u8>, String> {
    let digits: String = s.chars().filter(|c| !matches!(c, ':' | '-')).collect();
    match hex::decode(&digits) {
        Ok(bytes) if !bytes.is_empty() => Ok(bytes),
        Ok(_) | Err(hex::FromHexError::OddLength) => {
            Err(format!("{flag}: {s:?} is not an even number of hex digits"))
        }
        Err(_) => Err(format!("{flag}: {s:?} is not hex")),
    }
}

fn parse_key(flag: &str, s: &str) -> Result<AesKey, String> {
    AesKey::from_slice(&parse_hex(flag, s)?).ok_or_else(|| format!("{flag}: not 16 bytes"))
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut out = Args {
        port: VPCD_PORT,
        uid: Vec::new(),
        behaviour: Behaviour::Normal,
        hold: None,
        desfire: None,
        random_uid: false,
        keys: IssueKeys {
            door: SiteKeys {
                site_id: [0; 16],
                version: 1,
                read: AesKey::new([0x22; 16]),
                uid: AesKey::new([0x33; 16]),
            },
            master: AesKey::new([0x11; 16]),
        },
        record: None,
        replay: None,
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--silent" => out.behaviour = Behaviour::Silent,
            "--random-uid" => out.random_uid = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            _ => {
                let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
                flag_with_value(&mut out, &flag, value)?;
            }
        }
    }
    if out.uid.is_empty() && out.replay.is_none() {
        return Err(format!("--uid is required\n{USAGE}"));
    }
    if out.desfire.is_some() && !matches!(out.uid.len(), 4 | 7 | 10) {
        return Err("--uid: a DESFire UID has 4, 7 or 10 bytes".to_owned());
    }
    if out.random_uid && !matches!(out.desfire, Some(Mode::Blank | Mode::Issued)) {
        return Err("--random-uid needs --desfire blank or issued".to_owned());
    }
    if out.replay.is_some() && (out.desfire.is_some() || out.record.is_some()) {
        return Err("--replay cannot be combined with --desfire or --record".to_owned());
    }
    Ok(out)
}

fn flag_with_value(out: &mut Args, flag: &str, value: String) -> Result<(), String> {
    let number = || {
        value
            .parse::<u64>()
            .map_err(|_| format!("{flag}: not a number"))
    };
    match flag {
        "--port" => out.port = value.parse().map_err(|_| "--port: not a port")?,
        "--uid" => out.uid = parse_hex(flag, &value)?,
        "--delay-ms" => out.behaviour = Behaviour::Delay(Duration::from_millis(number()?)),
        "--hold-ms" => out.hold = Some(Duration::from_millis(number()?)),
        "--desfire" => {
            out.desfire = Some(match value.as_str() {
                "blank" => Mode::Blank,
                "issued" => Mode::Issued,
                "clone" => Mode::Clone,
                "clone-empty" => Mode::CloneEmpty,
                _ => return Err(format!("--desfire: {value:?} is not one of {MODES}")),
            })
        }
        "--site-id" => {
            out.keys.door.site_id = parse_hex(flag, &value)?
                .try_into()
                .map_err(|_| "--site-id: not a UUID (16 bytes)")?
        }
        "--key-version" => {
            out.keys.door.version = match value.parse::<u8>() {
                Ok(v) if v > 0 => v,
                _ => return Err("--key-version: not a number from 1 to 255".to_owned()),
            }
        }
        "--site-master-key" => out.keys.master = parse_key(flag, &value)?,
        "--site-read-key" => out.keys.door.read = parse_key(flag, &value)?,
        "--site-uid-key" => out.keys.door.uid = parse_key(flag, &value)?,
        "--record" => out.record = Some(value),
        "--replay" => out.replay = Some(value),
        _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
    }
    Ok(())
}

const MODES: &str = "blank, issued, clone, clone-empty";

/// What to insert, as the flags say.
fn chip(args: &Args) -> Result<Chip, String> {
    if let Some(path) = &args.replay {
        let text = std::fs::read_to_string(path).map_err(|e| format!("--replay {path}: {e}"))?;
        return Recording::from_text(&text)
            .map(Chip::Replay)
            .map_err(|e| format!("--replay {path}: {e}"));
    }
    let card = match args.desfire {
        None => return Ok(Chip::Uid(args.uid.clone())),
        Some(Mode::Blank) => desfire::blank(&args.uid, args.random_uid)
            .ok_or_else(|| "--uid: a DESFire UID has 4, 7 or 10 bytes".to_owned()),
        Some(Mode::Issued) => desfire::issue(&args.uid, &args.keys, args.random_uid)
            .map_err(|e| format!("issuing the card: {e}")),
        Some(Mode::Clone) => {
            desfire::clone_of(&args.uid, true).map_err(|e| format!("making the clone: {e}"))
        }
        Some(Mode::CloneEmpty) => {
            desfire::clone_of(&args.uid, false).map_err(|e| format!("making the clone: {e}"))
        }
    }?;
    Ok(Chip::Desfire(desfire::shared(card)))
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let chip = match chip(&args) {
        Ok(c) => c,
        Err(msg) => {
            eprintln!("vcard: {msg}");
            return ExitCode::from(2);
        }
    };
    let card = match VirtualCard::insert_chip(args.port, chip, args.behaviour) {
        Ok(c) => c,
        Err(e) => {
            eprintln!(
                "vcard: cannot reach a vpcd reader on 127.0.0.1:{}: {e}",
                args.port
            );
            return ExitCode::FAILURE;
        }
    };
    println!("vcard: card inserted on port {}", args.port);
    let recording = match args.hold {
        Some(hold) => {
            std::thread::sleep(hold);
            let recording = card.recording();
            println!("vcard: removed after {} APDU(s)", card.apdu_count());
            recording
        }
        None => {
            let mut card = card;
            match card.wait_reader_closed() {
                Ok(()) => println!("vcard: the reader closed the connection"),
                Err(e) => println!("vcard: connection lost: {e}"),
            }
            card.recording()
        }
    };
    if let Some(path) = &args.record {
        if let Err(e) = std::fs::write(path, recording.to_text()) {
            eprintln!("vcard: --record {path}: {e}");
            return ExitCode::FAILURE;
        }
        println!(
            "vcard: {} exchange(s) written to {path}",
            recording.exchanges.len()
        );
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn args(line: &str) -> Result<Args, String> {
        parse(line.split_whitespace().map(str::to_owned))
    }

    #[test]
    fn the_uid_only_card_is_the_default_and_desfire_modes_are_named() {
        let a = args("--uid 04:A1:B2:C3:D4:E5:F6 --hold-ms 5").unwrap();
        assert_eq!((a.uid.len(), a.desfire, a.port), (7, None, VPCD_PORT));
        assert!(matches!(chip(&a), Ok(Chip::Uid(_))));
        let site = "5e5e5e5e-0000-4000-8000-000000000001";
        let line = format!("--uid 04782E21801D80 --desfire issued --random-uid --site-id {site}");
        let a = args(&format!("{line} --key-version 7")).unwrap();
        assert_eq!(
            (a.desfire, a.random_uid, a.keys.door.version),
            (Some(Mode::Issued), true, 7)
        );
        assert_eq!(a.keys.door.site_id[..4], [0x5E; 4]);
        assert!(matches!(chip(&a), Ok(Chip::Desfire(_))));
        for mode in ["blank", "clone", "clone-empty"] {
            let a = args(&format!("--uid 04782E21801D80 --desfire {mode}")).unwrap();
            assert!(matches!(chip(&a), Ok(Chip::Desfire(_))), "{mode}");
        }
    }

    #[test]
    fn bad_flags_are_errors_that_say_which() {
        for (line, says) in [
            ("", "--uid is required"),
            ("--uid 0102 --desfire issued", "4, 7 or 10 bytes"),
            ("--uid 04782E21801D80 --desfire nope", "--desfire"),
            ("--uid 04782E21801D80 --random-uid", "--random-uid"),
            (
                "--uid 04782E21801D80 --desfire issued --site-read-key 0011",
                "not 16 bytes",
            ),
            ("--uid 04782E21801D80 --site-id 0102", "--site-id"),
            ("--uid 04782E21801D80 --key-version 0", "--key-version"),
            ("--uid 04782E21801D80 --key-version 256", "--key-version"),
            (
                "--replay f --desfire blank --uid 04782E21801D80",
                "--replay",
            ),
            ("--uid 0x", "--uid"),
            ("--port", "needs a value"),
        ] {
            let err = args(line).err().unwrap();
            assert!(err.contains(says), "{line:?}: {err}");
        }
        let a = args("--replay /nonexistent/recording").unwrap();
        assert!(chip(&a).unwrap_err().contains("--replay"));
    }
}
