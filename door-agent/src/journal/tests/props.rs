//! Property tests: random sequences of append, ack and reopen keep the journal's
//! invariants; random damage to a segment gives an error or a cut tail, never a panic
//! and never a wrong record.

use std::fs;

use proptest::collection::vec;
use proptest::prelude::*;

use super::*;

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    /// Acknowledge this fraction (of 255) of the backlog.
    Ack(u8),
    Reopen,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => vec(any::<u8>(), 0..300).prop_map(Op::Append),
        2 => any::<u8>().prop_map(Op::Ack),
        1 => Just(Op::Reopen),
    ]
}

/// Checks the journal against the model: every payload appended, in order, chained.
fn check(journal: &Journal, model: &[Vec<u8>], acked: u64) {
    let last = model.len() as u64;
    assert_eq!(
        (journal.last_seq(), journal.acked(), journal.backlog()),
        (last, acked, last - acked)
    );
    let first = journal.first_retained_seq();
    assert!(
        first <= acked + 1,
        "record {first} retained, {acked} acknowledged"
    );
    let records = journal.pending(first, usize::MAX).unwrap();
    assert_eq!(records.len() as u64, last + 1 - first);
    let mut prev = records.first().map_or(journal.last_hash(), |r| r.prev_hash);
    if first == 1 {
        assert_eq!(prev, GENESIS_HASH);
    }
    for (r, seq) in records.iter().zip(first..) {
        assert_eq!(
            (r.seq, &r.payload, r.prev_hash),
            (seq, &model[seq as usize - 1], prev)
        );
        assert_eq!(r.hash, chain_hash(&prev, seq, &r.payload));
        prev = r.hash;
    }
    assert_eq!(journal.last_hash(), prev);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn random_appends_acks_and_reopens_keep_the_invariants(
        ops in vec(op(), 1..60),
        segment_bytes in 128u64..2048,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let options = opts(segment_bytes);
        let (mut journal, _) = Journal::open(tmp.path(), options.clone()).unwrap();
        let mut model: Vec<Vec<u8>> = Vec::new();
        let mut acked = 0;
        for op in ops {
            match op {
                Op::Append(p) => {
                    let out = journal.append(&p).unwrap();
                    prop_assert_eq!(out.seq, model.len() as u64 + 1);
                    model.push(p);
                }
                Op::Ack(fraction) => {
                    let upto = acked + journal.backlog() * u64::from(fraction) / 255;
                    journal.ack(upto).unwrap();
                    acked = upto;
                }
                Op::Reopen => {
                    drop(journal);
                    let (reopened, report) = Journal::open(tmp.path(), options.clone()).unwrap();
                    prop_assert_eq!((report.truncated_bytes, report.last_seq), (0, model.len() as u64));
                    journal = reopened;
                }
            }
            check(&journal, &model, acked);
        }
        let report = verify(tmp.path()).unwrap();
        prop_assert_eq!((report.last_seq, report.acked), (model.len() as u64, acked));
        prop_assert_eq!(report.last_hash, journal.last_hash());
    }

    #[test]
    fn random_damage_never_panics_nor_yields_a_wrong_record(
        records in 1u64..20,
        writes in vec((any::<prop::sample::Index>(), vec(any::<u8>(), 1..8)), 0..4),
        cut in proptest::option::of(any::<prop::sample::Index>()),
    ) {
        let tmp = tempfile::tempdir().unwrap();
        drop(filled(tmp.path(), records, JournalOptions::default()));
        let seg = segment_files(tmp.path()).remove(0);
        let mut bytes = fs::read(&seg).unwrap();
        for (at, data) in writes {
            let at = at.index(bytes.len());
            let end = (at + data.len()).min(bytes.len());
            bytes[at..end].copy_from_slice(&data[..end - at]);
        }
        if let Some(cut) = cut {
            bytes.truncate(cut.index(bytes.len() + 1));
        }
        fs::write(&seg, &bytes).unwrap();
        let verified = verify(tmp.path());
        match Journal::open(tmp.path(), JournalOptions::default()) {
            Ok((journal, report)) => {
                let verified = verified.unwrap();
                prop_assert_eq!(verified.last_seq, report.last_seq);
                prop_assert!(report.last_seq <= records);
                // Whatever survives is exactly what was appended.
                let survivors: Vec<Vec<u8>> = (1..=report.last_seq).map(payload).collect();
                check(&journal, &survivors, 0);
            }
            Err(e) => prop_assert_eq!(verified.unwrap_err().to_string(), e.to_string()),
        }
    }

    #[test]
    fn arbitrary_files_never_panic(
        segment in vec(any::<u8>(), 0..600),
        ack in proptest::option::of(vec(any::<u8>(), 0..40)),
        first_seq in 1u64..3,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let mut bytes = segment;
        if first_seq == 1 && bytes.len() > 60 {
            // Often a valid header, so that record parsing is reached too.
            bytes[..56].copy_from_slice(&super::super::record::encode_segment_header(1, &GENESIS_HASH));
        }
        fs::write(segment::segment_path(tmp.path(), first_seq), &bytes).unwrap();
        if let Some(ack) = ack {
            fs::write(tmp.path().join("ack"), ack).unwrap();
        }
        let _ = verify(tmp.path());
        if let Ok((mut journal, _)) = Journal::open(tmp.path(), JournalOptions::default()) {
            journal.append(b"after").unwrap();
            verify(tmp.path()).unwrap();
        }
    }
}
