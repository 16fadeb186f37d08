//! `vcard`: insert a virtual card into a vpcd reader by hand.
//!
//! `vcard --port 35963 --uid 04A1B2C3D4E5F6 [--delay-ms N] [--silent] [--hold-ms N]`
//! inserts the card, keeps it inserted for `--hold-ms` (or until pcscd closes the
//! connection), then removes it and prints how many APDUs it saw.

use std::process::ExitCode;
use std::time::Duration;
use vcard::{Behaviour, VPCD_PORT, VirtualCard};

const USAGE: &str = "usage: vcard [--port PORT] --uid HEX [--delay-ms N | --silent] [--hold-ms N]";

struct Args {
    port: u16,
    uid: Vec<u8>,
    behaviour: Behaviour,
    hold: Option<Duration>,
}

/// The card's UID from hex digits, `:` and `-` between them ignored.
fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let digits: String = s.chars().filter(|c| !matches!(c, ':' | '-')).collect();
    match hex::decode(&digits) {
        Ok(uid) if !uid.is_empty() => Ok(uid),
        Ok(_) | Err(hex::FromHexError::OddLength) => {
            Err(format!("--uid: {s:?} is not an even number of hex digits"))
        }
        Err(_) => Err(format!("--uid: {s:?} is not hex")),
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut out = Args {
        port: VPCD_PORT,
        uid: Vec::new(),
        behaviour: Behaviour::Normal,
        hold: None,
    };
    while let Some(flag) = args.next() {
        if flag == "--silent" {
            out.behaviour = Behaviour::Silent;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(USAGE.to_owned());
        }
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|_| format!("{flag}: not a number"))
        };
        match flag.as_str() {
            "--port" => out.port = value.parse().map_err(|_| "--port: not a port")?,
            "--uid" => out.uid = parse_hex(&value)?,
            "--delay-ms" => out.behaviour = Behaviour::Delay(Duration::from_millis(number()?)),
            "--hold-ms" => out.hold = Some(Duration::from_millis(number()?)),
            _ => return Err(format!("unknown argument {flag}\n{USAGE}")),
        }
    }
    if out.uid.is_empty() {
        return Err(format!("--uid is required\n{USAGE}"));
    }
    Ok(out)
}

fn main() -> ExitCode {
    let args = match parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(msg) => {
            eprintln!("{msg}");
            return ExitCode::from(2);
        }
    };
    let card = match VirtualCard::insert(args.port, &args.uid, args.behaviour) {
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
    match args.hold {
        Some(hold) => {
            std::thread::sleep(hold);
            println!("vcard: removed after {} APDU(s)", card.apdu_count());
        }
        None => match card.wait_disconnected() {
            Ok(()) => println!("vcard: the reader closed the connection"),
            Err(e) => println!("vcard: connection lost: {e}"),
        },
    }
    ExitCode::SUCCESS
}
