//! Ports for the processes a test starts.
//!
//! A port the kernel picked (`bind` to port 0) and that was then freed is in the
//! ephemeral range, which the kernel also hands to every outgoing connection as its
//! source port: between freeing it and the child process binding it, a browser, a
//! database client or another test may take it ("Address already in use", seen in CI).
//! So ports are handed out from below that range, where the kernel never picks one by
//! itself; each once per test process (a counter), starting at a place that depends on
//! the process id so that two test binaries at once seldom meet, and only if nothing
//! listens there now.

use std::net::TcpListener;
use std::sync::Mutex;

/// The lowest port handed out: above the well-known and usual service ports (PostgreSQL
/// 5432, chromedriver 9515).
const LOWEST: u16 = 10_000;
/// Used when the kernel's range cannot be read (not Linux): Linux's default start.
const DEFAULT_EPHEMERAL_START: u16 = 32_768;

/// The next port to try, once the first call has placed it.
static NEXT: Mutex<Option<u16>> = Mutex::new(None);

/// A port on 127.0.0.1 that nothing listens on, outside the kernel's ephemeral range,
/// never handed out twice by this process.
pub fn free_port() -> u16 {
    let end = ephemeral_start().max(LOWEST + 1_000);
    let span = end - LOWEST;
    let mut next = NEXT.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut port = next.unwrap_or_else(|| LOWEST + (std::process::id() % u32::from(span)) as u16);
    for _ in 0..span {
        let candidate = port;
        port = if port + 1 >= end { LOWEST } else { port + 1 };
        if TcpListener::bind(("127.0.0.1", candidate)).is_ok() {
            *next = Some(port);
            return candidate;
        }
    }
    panic!("no free port between {LOWEST} and {end}");
}

/// The first port of the kernel's ephemeral range.
fn ephemeral_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|range| range.split_whitespace().next()?.parse().ok())
        .unwrap_or(DEFAULT_EPHEMERAL_START)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ports_are_outside_the_ephemeral_range_and_never_handed_out_twice() {
        let start = ephemeral_start();
        let handed: Vec<u16> = std::thread::scope(|scope| {
            let threads: Vec<_> = (0..4)
                .map(|_| scope.spawn(|| (0..250).map(|_| free_port()).collect::<Vec<_>>()))
                .collect();
            threads
                .into_iter()
                .flat_map(|t| t.join().unwrap())
                .collect()
        });
        assert!(
            handed.iter().all(|&p| (LOWEST..start).contains(&p)),
            "{handed:?}"
        );
        let distinct: HashSet<_> = handed.iter().collect();
        assert_eq!(distinct.len(), handed.len(), "a port was handed out twice");
    }

    #[test]
    fn a_port_something_listens_on_is_skipped() {
        let first = free_port();
        let held = TcpListener::bind(("127.0.0.1", first + 1));
        let second = free_port();
        assert_ne!(second, first);
        if held.is_ok() {
            assert_ne!(second, first + 1, "handed out a port in use");
        }
    }
}
