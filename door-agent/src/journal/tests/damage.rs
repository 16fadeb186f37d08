//! Damage on disk: a torn tail is cut and the journal carries on; every other kind of
//! damage is refused with its own error, by `open` and by `verify` alike.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;

use super::super::record::{SEGMENT_HEADER_LEN, encode_record, encode_segment_header};
use super::*;

/// Builds records 1..=n in one segment; returns the segment path and the byte offset of
/// each record's start, plus the file length as a last element.
fn one_segment(dir: &Path, n: u64) -> (PathBuf, Vec<u64>) {
    let (mut journal, _) = Journal::open(dir, JournalOptions::default()).unwrap();
    let seg = segment_files(dir).remove(0);
    let mut offsets = vec![fs::metadata(&seg).unwrap().len()];
    for seq in 1..=n {
        journal.append(&payload(seq)).unwrap();
        offsets.push(fs::metadata(&seg).unwrap().len());
    }
    (seg, offsets)
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for entry in fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

fn open_err(dir: &Path) -> JournalError {
    let verified = verify(dir).expect_err("verify must refuse");
    let opened = Journal::open(dir, opts(512)).expect_err("open must refuse");
    assert_eq!(format!("{verified}"), format!("{opened}"));
    opened
}

/// Asserts that both `open` and `verify` refuse `dir` with an error matching `pattern`.
macro_rules! assert_refused {
    ($dir:expr, $pattern:pat) => {{
        let err = open_err($dir);
        assert!(matches!(err, $pattern), "unexpected error: {err}");
    }};
}

#[test]
fn a_torn_tail_is_cut_at_every_byte_offset_and_the_journal_continues() {
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().join("template");
    let (seg, offsets) = one_segment(&template, 5);
    let (start, end) = (offsets[4], offsets[5]);
    let original = Journal::open(&template, JournalOptions::default())
        .unwrap()
        .0
        .pending(1, 5)
        .unwrap();
    for cut in start..end {
        let dir = tmp.path().join(format!("cut{cut}"));
        copy_dir(&template, &dir);
        let file = dir.join(seg.file_name().unwrap());
        OpenOptions::new()
            .write(true)
            .open(&file)
            .unwrap()
            .set_len(cut)
            .unwrap();
        assert_eq!(verify(&dir).unwrap().torn_tail_bytes, cut - start);

        let (mut journal, report) = Journal::open(&dir, JournalOptions::default()).unwrap();
        assert_eq!(
            (report.truncated_bytes, report.last_seq, report.records),
            (cut - start, 4, 4)
        );
        assert_eq!(fs::metadata(&file).unwrap().len(), start);
        assert_eq!(journal.last_hash(), original[3].hash);
        let out = journal.append(&payload(5)).unwrap();
        assert_eq!(
            (out.seq, out.hash),
            (5, original[4].hash),
            "same record, same hash"
        );
        drop(journal);
        assert_eq!(verify(&dir).unwrap().last_seq, 5);
        fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn garbage_after_the_last_record_is_cut() {
    for garbage in [
        vec![0u8; 4096],
        b"GHJR".to_vec(),
        (0..=255).collect::<Vec<u8>>(),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let (seg, offsets) = one_segment(tmp.path(), 3);
        OpenOptions::new()
            .append(true)
            .open(&seg)
            .unwrap()
            .write_all(&garbage)
            .unwrap();
        let (mut journal, report) = Journal::open(tmp.path(), JournalOptions::default()).unwrap();
        assert_eq!(
            (report.truncated_bytes, report.last_seq),
            (garbage.len() as u64, 3)
        );
        assert_eq!(fs::metadata(&seg).unwrap().len(), offsets[3]);
        assert_eq!(journal.append(&payload(4)).unwrap().seq, 4);
    }
}

#[test]
fn a_flipped_byte_in_a_middle_record_is_refused_wherever_it_is() {
    let tmp = tempfile::tempdir().unwrap();
    let template = tmp.path().join("template");
    let (seg, offsets) = one_segment(&template, 5);
    let (start, end) = (offsets[2], offsets[3]); // record 3
    let dir = tmp.path().join("d");
    copy_dir(&template, &dir);
    let file = dir.join(seg.file_name().unwrap());
    let clean = fs::read(&file).unwrap();
    for at in start..end {
        let mut bytes = clean.clone();
        bytes[at as usize] ^= 0x40;
        fs::write(&file, &bytes).unwrap();
        match open_err(&dir) {
            JournalError::CorruptRecord { offset, .. } => assert_eq!(offset, start, "byte {at}"),
            other => panic!("byte {at}: {other}"),
        }
    }
    // The segment header is checked too.
    for at in 0..offsets[0] {
        let mut bytes = clean.clone();
        bytes[at as usize] ^= 0x01;
        fs::write(&file, &bytes).unwrap();
        assert_refused!(&dir, JournalError::CorruptSegmentHeader { .. });
    }
}

#[test]
fn damage_anywhere_in_an_older_segment_is_refused_even_at_its_end() {
    let tmp = tempfile::tempdir().unwrap();
    drop(filled(tmp.path(), 30, opts(512)));
    let first = segment_files(tmp.path()).remove(0);
    let len = fs::metadata(&first).unwrap().len();
    OpenOptions::new()
        .write(true)
        .open(&first)
        .unwrap()
        .set_len(len - 1)
        .unwrap();
    assert_refused!(tmp.path(), JournalError::CorruptRecord { .. });
}

#[test]
fn a_missing_segment_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    drop(filled(tmp.path(), 60, opts(512)));
    let files = segment_files(tmp.path());
    assert!(files.len() >= 4);
    let saved = fs::read(&files[1]).unwrap();
    fs::remove_file(&files[1]).unwrap();
    assert_refused!(
        tmp.path(),
        JournalError::MissingSegment { found: Some(_), .. }
    );
    fs::write(&files[1], saved).unwrap();
    // The oldest segment, never acknowledged.
    fs::remove_file(&files[0]).unwrap();
    assert_refused!(tmp.path(), JournalError::MissingSegment { expected: 1, .. });
}

#[test]
fn valid_records_that_do_not_follow_on_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (seg, _) = one_segment(tmp.path(), 3);
    let clean = fs::read(&seg).unwrap();
    let last_hash = verify(tmp.path()).unwrap().last_hash;
    let cases: [(u64, Hash); 3] = [(5, last_hash), (3, last_hash), (4, [7; 32])];
    for (seq, prev) in cases {
        let mut bytes = clean.clone();
        encode_record(&mut bytes, seq, &prev, b"forged");
        fs::write(&seg, &bytes).unwrap();
        match (seq, open_err(tmp.path())) {
            (
                5 | 3,
                JournalError::SequenceGap {
                    expected: 4, found, ..
                },
            ) => assert_eq!(found, seq),
            (4, JournalError::ChainBroken { seq: 4, .. }) => {}
            (_, other) => panic!("seq {seq}: {other}"),
        }
    }
    // A segment whose header does not link to the previous segment's last record.
    fs::write(&seg, &clean).unwrap();
    fs::write(
        segment::segment_path(tmp.path(), 4),
        encode_segment_header(4, &[9; 32]),
    )
    .unwrap();
    assert_refused!(tmp.path(), JournalError::ChainBroken { seq: 4, .. });
}

#[test]
fn ack_file_damage_and_an_ack_beyond_the_end_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut journal = filled(tmp.path(), 60, opts(512));
    journal.ack(30).unwrap();
    drop(journal);
    let ack = tmp.path().join("ack");
    let clean = fs::read(&ack).unwrap();
    let mut bad = clean.clone();
    bad[9] ^= 1;
    fs::write(&ack, bad).unwrap();
    assert_refused!(tmp.path(), JournalError::AckFile { .. });
    // Without the ack file, the deleted segments are missing records.
    fs::remove_file(&ack).unwrap();
    assert_refused!(tmp.path(), JournalError::MissingSegment { expected: 1, .. });
    segment::write_ack(tmp.path(), 61).unwrap();
    assert_refused!(
        tmp.path(),
        JournalError::AckBeyondEnd {
            acked: 61,
            last_seq: 60
        }
    );
    fs::write(&ack, clean).unwrap();
    assert_eq!(verify(tmp.path()).unwrap().acked, 30);
}

#[test]
fn a_segment_torn_while_being_created_is_removed() {
    for len in [0, 1, 30, SEGMENT_HEADER_LEN - 1] {
        let tmp = tempfile::tempdir().unwrap();
        drop(filled(tmp.path(), 3, JournalOptions::default()));
        let header = encode_segment_header(4, &verify(tmp.path()).unwrap().last_hash);
        fs::write(segment::segment_path(tmp.path(), 4), &header[..len]).unwrap();
        assert_eq!(verify(tmp.path()).unwrap().torn_tail_bytes, len as u64);
        let (mut journal, report) = Journal::open(tmp.path(), JournalOptions::default()).unwrap();
        assert_eq!(
            (report.truncated_bytes, report.last_seq, report.segments),
            (len as u64, 3, 1)
        );
        assert_eq!(journal.append(&payload(4)).unwrap().seq, 4);
        assert_chain(&journal.pending(1, 10).unwrap(), 1);
    }
    // The very first segment of a new journal.
    let tmp = tempfile::tempdir().unwrap();
    fs::write(segment::segment_path(tmp.path(), 1), b"GHJSEG").unwrap();
    let (mut journal, report) = Journal::open(tmp.path(), JournalOptions::default()).unwrap();
    assert_eq!((report.truncated_bytes, journal.last_seq()), (6, 0));
    assert_eq!(journal.append(&payload(1)).unwrap().seq, 1);
    // But a torn header cannot stand for records that should exist.
    let tmp = tempfile::tempdir().unwrap();
    fs::write(segment::segment_path(tmp.path(), 7), b"GHJSEG").unwrap();
    assert_refused!(tmp.path(), JournalError::MissingSegment { expected: 1, .. });
}
