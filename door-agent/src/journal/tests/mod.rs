//! Tests of the journal on real files in temporary directories: round trips, upload
//! batches, acknowledgement, capacity. Damage and recovery are in `damage.rs`, the
//! SIGKILL test in `crash.rs`, property tests in `props.rs`.

mod crash;
mod damage;
mod props;

use std::fs;
use std::path::{Path, PathBuf};

use super::*;

pub(super) fn opts(segment_bytes: u64) -> JournalOptions {
    JournalOptions {
        segment_bytes,
        ..JournalOptions::default()
    }
}

pub(super) fn payload(seq: u64) -> Vec<u8> {
    format!("event {seq}").into_bytes()
}

/// Segment files in `dir`, oldest first.
pub(super) fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "seg"))
        .collect();
    files.sort();
    files
}

/// Opens a fresh journal in `dir` holding records 1..=n with [`payload`]s.
pub(super) fn filled(dir: &Path, n: u64, options: JournalOptions) -> Journal {
    let (mut journal, _) = Journal::open(dir, options).unwrap();
    for seq in 1..=n {
        assert_eq!(journal.append(&payload(seq)).unwrap().seq, seq);
    }
    journal
}

/// Checks that `records` are consecutive, hold [`payload`]s and link hash to hash.
pub(super) fn assert_chain(records: &[Record], first: u64) {
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, first + i as u64);
        assert_eq!(r.payload, payload(r.seq));
        assert_eq!(r.hash, chain_hash(&r.prev_hash, r.seq, &r.payload));
        if r.seq == 1 {
            assert_eq!(r.prev_hash, GENESIS_HASH);
        }
        if i > 0 {
            assert_eq!(r.prev_hash, records[i - 1].hash);
        }
    }
}

#[test]
fn append_reopen_round_trip_continues_the_sequence_and_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("j");
    let (mut journal, report) = Journal::open(&dir, JournalOptions::default()).unwrap();
    assert_eq!(
        (report.records, report.last_seq, report.truncated_bytes),
        (0, 0, 0)
    );
    assert_eq!(journal.last_hash(), GENESIS_HASH);
    for seq in 1..=10 {
        let out = journal.append(&payload(seq)).unwrap();
        assert_eq!((out.seq, out.backlog, out.over_capacity), (seq, seq, false));
        assert_eq!(out.hash, journal.last_hash());
    }
    let hash10 = journal.last_hash();
    drop(journal);

    let (mut journal, report) = Journal::open(&dir, JournalOptions::default()).unwrap();
    let expected = OpenReport {
        records: 10,
        last_seq: 10,
        acked: 0,
        segments: 1,
        truncated_bytes: 0,
        removed_segments: 0,
    };
    assert_eq!(report, expected);
    assert_eq!(journal.last_hash(), hash10);
    assert_eq!(journal.append(&payload(11)).unwrap().seq, 11);
    let all = journal.pending(1, 100).unwrap();
    assert_eq!(all.len(), 11);
    assert_chain(&all, 1);
    assert_eq!(all[10].prev_hash, hash10);
    let report = verify(&dir).unwrap();
    assert_eq!(
        (report.records, report.last_seq, report.torn_tail_bytes),
        (11, 11, 0)
    );
    assert_eq!(report.last_hash, journal.last_hash());
}

#[test]
fn pending_returns_batches_across_segments() {
    let tmp = tempfile::tempdir().unwrap();
    // Small segments and more than INDEX_STRIDE records per segment for some of them.
    let journal = filled(tmp.path(), 400, opts(4096));
    assert!(journal.segment_count() > 3);
    for from in (1..=400).step_by(7) {
        let batch = journal.pending(from, 50).unwrap();
        assert_eq!(batch.len() as u64, 50.min(401 - from));
        assert_chain(&batch, from);
    }
    assert!(journal.pending(401, 10).unwrap().is_empty());
    assert!(journal.pending(5, 0).unwrap().is_empty());
    assert_eq!(journal.pending(0, 1).unwrap()[0].seq, 1);
    assert_chain(&journal.pending(1, usize::MAX).unwrap(), 1);
}

#[test]
fn ack_deletes_old_segments_and_persists_across_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let mut journal = filled(dir, 100, opts(512));
    let before = segment_files(dir).len();
    assert!(before > 5);

    let removed = journal.ack(50).unwrap();
    assert!(removed > 0);
    assert_eq!(segment_files(dir).len(), before - removed);
    assert_eq!((journal.acked(), journal.backlog()), (50, 50));
    let first = journal.first_retained_seq();
    assert!((2..=51).contains(&first), "first retained {first}");
    assert_chain(&journal.pending(first, 200).unwrap(), first);
    assert!(matches!(
        journal.pending(1, 1),
        Err(JournalError::NotRetained { seq: 1, .. })
    ));
    assert_eq!(journal.ack(40).unwrap(), 0, "a lower ack changes nothing");
    assert!(matches!(
        journal.ack(101),
        Err(JournalError::AckBeyondEnd {
            acked: 101,
            last_seq: 100
        })
    ));
    drop(journal);

    let (mut journal, report) = Journal::open(dir, opts(512)).unwrap();
    assert_eq!(
        (report.acked, report.last_seq, report.removed_segments),
        (50, 100, 0)
    );
    assert_eq!(
        (journal.backlog(), journal.first_retained_seq()),
        (50, first)
    );
    let hash100 = journal.last_hash();
    journal.ack(100).unwrap();
    assert_eq!(segment_files(dir).len(), 1, "the active segment stays");
    drop(journal);

    let (mut journal, report) = Journal::open(dir, opts(512)).unwrap();
    assert_eq!(
        (report.acked, report.last_seq, journal.backlog()),
        (100, 100, 0)
    );
    assert_eq!(journal.last_hash(), hash100);
    let out = journal.append(&payload(101)).unwrap();
    assert_eq!(out.seq, 101);
    let rec = journal.pending(101, 1).unwrap();
    assert_eq!(rec[0].prev_hash, hash100);
    assert_eq!(verify(dir).unwrap().acked, 100);
}

#[test]
fn fully_acked_segments_left_by_a_crash_are_deleted_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    drop(filled(tmp.path(), 60, opts(512)));
    let before = segment_files(tmp.path()).len();
    // As if the agent died between persisting the ack and deleting the segments.
    segment::write_ack(tmp.path(), 40).unwrap();
    let (journal, report) = Journal::open(tmp.path(), opts(512)).unwrap();
    assert!(report.removed_segments > 0);
    assert_eq!(
        segment_files(tmp.path()).len(),
        before - report.removed_segments
    );
    assert_eq!(journal.backlog(), 20);
    assert_chain(&journal.pending(41, 100).unwrap(), 41);
}

#[test]
fn over_capacity_keeps_appending_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let options = JournalOptions {
        max_unacked: 3,
        segment_bytes: 4096,
    };
    let (mut journal, _) = Journal::open(tmp.path(), options.clone()).unwrap();
    let flags: Vec<bool> = (1..=5)
        .map(|s| journal.append(&payload(s)).unwrap().over_capacity)
        .collect();
    assert_eq!(flags, [false, false, false, true, true]);
    assert!(journal.over_capacity());
    assert_eq!(
        (journal.last_seq(), journal.backlog()),
        (5, 5),
        "nothing dropped"
    );
    journal.ack(3).unwrap();
    assert!(!journal.over_capacity());
    let out = journal.append(&payload(6)).unwrap();
    assert_eq!((out.seq, out.backlog, out.over_capacity), (6, 3, false));
    assert_chain(&journal.pending(1, 10).unwrap(), 1);
}

#[test]
fn oversized_payload_is_refused_without_consuming_a_sequence_number() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut journal, _) = Journal::open(tmp.path(), JournalOptions::default()).unwrap();
    let big = vec![0; MAX_PAYLOAD + 1];
    assert!(matches!(
        journal.append(&big),
        Err(JournalError::PayloadTooLarge { .. })
    ));
    assert_eq!(journal.append(&payload(1)).unwrap().seq, 1);
    // A record larger than a segment gets a segment of its own.
    let (mut small, _) = Journal::open(&tmp.path().join("s"), opts(128)).unwrap();
    for seq in 1..=3 {
        assert_eq!(small.append(&[seq as u8; 300]).unwrap().seq, seq);
    }
    assert_eq!(small.segment_count(), 3);
    assert_eq!(small.pending(2, 1).unwrap()[0].payload, vec![2; 300]);
}

#[test]
fn a_second_open_of_the_same_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (journal, _) = Journal::open(tmp.path(), JournalOptions::default()).unwrap();
    assert!(matches!(
        Journal::open(tmp.path(), JournalOptions::default()),
        Err(JournalError::Locked { .. })
    ));
    drop(journal);
    assert!(Journal::open(tmp.path(), JournalOptions::default()).is_ok());
}

#[test]
fn silly_options_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    for segment_bytes in [0, 127, (1 << 30) + 1] {
        let r = Journal::open(tmp.path(), opts(segment_bytes));
        assert!(
            matches!(r, Err(JournalError::InvalidOptions(_))),
            "{segment_bytes}"
        );
    }
}
