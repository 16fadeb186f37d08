//! pcscd with the vsmartcard vpcd driver, shared by the PC/SC tests and the card → relay
//! benchmark: start it, find its pid, stop it, and skip (or fail, when
//! `GATEHOUSE_TEST_REQUIRE_PCSC=1`) where it is not installed. Users of pcscd run one at
//! a time through [`pcscd`]'s lock.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use door_agent::reader::pcsc::list_readers;
use std::path::Path;
use std::process::Command;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// vpcd's two readers, listening for virtual cards on `vcard::VPCD_PORT` and the next port.
pub const READER0: &str = "Virtual PCD 00 00";
pub const READER1: &str = "Virtual PCD 00 01";
pub const VPCD_DRIVER: &str = "/usr/lib/pcsc/drivers/serial/libifdvpcd.so";
pub const PID_FILE: &str = "/run/pcscd/pcscd.pid";
/// Generous: vpcd itself gives up on a silent card only after ~5 s.
pub const WAIT: Duration = Duration::from_secs(20);

pub static PCSCD: Mutex<()> = Mutex::new(());

/// Polls `cond` every 20 ms until it holds or `timeout` passes.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

pub fn vpcd_readers_listed() -> bool {
    list_readers().is_ok_and(|r| r.iter().any(|n| n == READER0))
}

pub fn start_pcscd() -> bool {
    Command::new("pcscd").status().is_ok_and(|s| s.success())
        && wait_until(Duration::from_secs(10), vpcd_readers_listed)
}

/// pcscd's pid, from its pid file (which may carry trailing NULs).
pub fn pcscd_pid() -> Option<String> {
    let text = std::fs::read_to_string(PID_FILE).ok()?;
    let pid = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    (!pid.is_empty()).then(|| pid.to_owned())
}

pub fn pcscd_running() -> bool {
    pcscd_pid().is_some_and(|pid| Path::new(&format!("/proc/{pid}")).exists())
}

/// Takes the pcscd lock, making sure pcscd runs with vpcd; `None` means skip.
pub fn pcscd() -> Option<MutexGuard<'static, ()>> {
    let guard = PCSCD.lock().unwrap_or_else(PoisonError::into_inner);
    let installed =
        Command::new("pcscd").arg("--version").output().is_ok() && Path::new(VPCD_DRIVER).exists();
    let ready = || {
        if pcscd_running() {
            wait_until(Duration::from_secs(10), vpcd_readers_listed)
        } else {
            start_pcscd()
        }
    };
    if installed && ready() {
        return Some(guard);
    }
    let why = if installed {
        "pcscd does not start or shows no vpcd reader"
    } else {
        "pcscd or vsmartcard-vpcd is not installed"
    };
    if std::env::var("GATEHOUSE_TEST_REQUIRE_PCSC").as_deref() == Ok("1") {
        panic!("GATEHOUSE_TEST_REQUIRE_PCSC=1 but {why}");
    }
    eprintln!("skipping PC/SC test: {why} (apt-get install pcscd vsmartcard-vpcd)");
    None
}

/// Stops pcscd (SIGTERM, by its pid file) and waits until it is gone.
pub fn stop_pcscd() {
    let pid = pcscd_pid().unwrap();
    assert!(Command::new("kill").arg(&pid).status().unwrap().success());
    let proc_dir = format!("/proc/{pid}");
    assert!(
        wait_until(Duration::from_secs(10), || !Path::new(&proc_dir).exists()),
        "pcscd did not stop"
    );
}

/// Waits until pcscd reports `reader` empty: vpcd takes the next card only once it
/// noticed the last one gone, so a user of pcscd ends with this after removing its card.
pub fn wait_card_absent(reader: &str) -> bool {
    use pcsc::{Context, ReaderState, Scope, State};
    let (Ok(ctx), Ok(name)) = (
        Context::establish(Scope::User),
        std::ffi::CString::new(reader),
    ) else {
        return false;
    };
    let mut states = [ReaderState::new(name, State::UNAWARE)];
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        match ctx.get_status_change(Duration::from_millis(500), &mut states) {
            Ok(()) if states[0].event_state().contains(State::EMPTY) => return true,
            Ok(()) => states[0].sync_current_state(),
            Err(pcsc::Error::Timeout) => {}
            Err(_) => return false,
        }
    }
    false
}
