//! Crash safety: a child process (this test binary, re-executed) appends in a loop and
//! prints each sequence number once `append` has returned; the parent SIGKILLs it after
//! a random number of acknowledgements, reopens the journal and checks that every
//! acknowledged record is there and the journal verifies.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rand::Rng;

use super::*;

const CHILD_DIR_ENV: &str = "GATEHOUSE_JOURNAL_CRASH_CHILD_DIR";
/// Small segments so that kills also land while segments are created and deleted.
const SEGMENT_BYTES: u64 = 1024;

/// The child's side: does nothing unless re-executed by the test below.
#[test]
fn crash_child() {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return;
    };
    let (mut journal, _) = Journal::open(Path::new(&dir), opts(SEGMENT_BYTES)).unwrap();
    let mut stdout = std::io::stdout().lock();
    loop {
        let seq = journal.last_seq() + 1;
        let out = journal.append(&payload(seq)).unwrap();
        writeln!(stdout, "acked {}", out.seq).unwrap();
        stdout.flush().unwrap();
        if out.seq % 50 == 0 {
            // Exercise ack (and segment deletion) too, as the uploader would.
            journal.ack(out.seq - 25).unwrap();
        }
    }
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_record() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let test_name = format!(
        "{}::crash_child",
        module_path!().split_once("::").unwrap().1
    );
    let mut rng = rand::thread_rng();
    let mut acked_max = 0;
    for round in 0..5 {
        let wanted: u64 = rng.gen_range(1..200);
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                test_name.as_str(),
                "--exact",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_DIR_ENV, &dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(seq) = line.strip_prefix("acked ") {
                    let _ = tx.send(seq.parse::<u64>().unwrap());
                }
            }
        });
        let mut seen = 0;
        while seen < wanted {
            let Ok(seq) = rx.recv_timeout(Duration::from_secs(60)) else {
                child.kill().unwrap();
                panic!("round {round}: the child stopped acknowledging after {seen}");
            };
            acked_max = acked_max.max(seq);
            seen += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        reader.join().unwrap();
        // Whatever the child printed before it died was acknowledged too.
        acked_max = rx.try_iter().fold(acked_max, u64::max);

        let report = verify(&dir).unwrap();
        assert!(
            report.last_seq >= acked_max,
            "round {round}: lost records after {}",
            report.last_seq
        );
        let (journal, open) = Journal::open(&dir, opts(SEGMENT_BYTES)).unwrap();
        assert_eq!(open.last_seq, report.last_seq);
        let first = journal.first_retained_seq();
        assert!(first <= journal.acked() + 1);
        let records = journal.pending(first, usize::MAX).unwrap();
        assert_eq!(records.last().map_or(first - 1, |r| r.seq), report.last_seq);
        assert_chain(&records, first);
        let verified = verify(&dir).unwrap();
        assert_eq!(
            (verified.torn_tail_bytes, verified.last_seq),
            (0, report.last_seq)
        );
    }
    assert!(acked_max >= 5);
}
