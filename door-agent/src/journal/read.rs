//! Reading records back for upload. Every record read is checked again (checksum,
//! sequence number, link to the previous one), so damage that happened after `open` is
//! an error here rather than bad data at the server.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};

use super::record::{self, Hash, Parsed, RECORD_HEADER_LEN, RECORD_OVERHEAD, SEGMENT_HEADER_LEN};
use super::segment::INDEX_STRIDE;
use super::{Journal, JournalError, Segment};

/// A record read back from the journal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its sequence number.
    pub seq: u64,
    /// The hash of the record before it ([`super::GENESIS_HASH`] for record 1).
    pub prev_hash: Hash,
    /// What was appended.
    pub payload: Vec<u8>,
    /// Its chain hash, SHA-256(prev_hash ‖ seq ‖ payload).
    pub hash: Hash,
}

impl Journal {
    /// Up to `max` records starting at `from_seq` (an upload batch), oldest first. Empty
    /// when `from_seq` is past the end; [`JournalError::NotRetained`] when it was deleted.
    pub fn pending(&self, from_seq: u64, max: usize) -> Result<Vec<Record>, JournalError> {
        let from = from_seq.max(1);
        let mut out = Vec::new();
        if from > self.last_seq || max == 0 {
            return Ok(out);
        }
        let first_retained = self.first_retained_seq();
        if from < first_retained {
            return Err(JournalError::NotRetained {
                seq: from,
                first_retained,
            });
        }
        let start = self.segments.partition_point(|s| s.end_seq <= from);
        let mut next = from;
        let mut prev = None;
        for segment in self.segments.iter().skip(start) {
            if out.len() >= max {
                break;
            }
            read_segment(segment, next, max, &mut prev, &mut out)?;
            next = segment.end_seq;
        }
        Ok(out)
    }
}

/// Appends records `from..segment.end_seq` of one segment to `out`, up to `max` in all,
/// checking that each links to `prev`, the hash of the record read before it.
fn read_segment(
    segment: &Segment,
    from: u64,
    max: usize,
    prev: &mut Option<Hash>,
    out: &mut Vec<Record>,
) -> Result<(), JournalError> {
    let path = &segment.path;
    let k = (from - segment.first_seq) / INDEX_STRIDE;
    let (mut seq, mut offset) = match segment.index.get(usize::try_from(k).unwrap_or(usize::MAX)) {
        Some(&offset) => (segment.first_seq + k * INDEX_STRIDE, offset),
        None => (segment.first_seq, SEGMENT_HEADER_LEN as u64),
    };
    let file = File::open(path).map_err(JournalError::io("opening", path))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    reader
        .seek(SeekFrom::Start(offset))
        .map_err(JournalError::io("seeking", path))?;
    let mut buf = Vec::new();
    while seq < segment.end_seq && out.len() < max {
        let mut header = [0; RECORD_HEADER_LEN];
        reader
            .read_exact(&mut header)
            .map_err(JournalError::io("reading", path))?;
        let corrupt = |reason| JournalError::CorruptRecord {
            path: path.clone(),
            offset,
            reason,
        };
        let len = record::declared_len(&header).map_err(corrupt)?;
        let total = RECORD_OVERHEAD + len;
        if seq < from {
            let skip = i64::try_from(total - RECORD_HEADER_LEN).unwrap_or(i64::MAX);
            reader
                .seek_relative(skip)
                .map_err(JournalError::io("seeking", path))?;
        } else {
            buf.clear();
            buf.extend_from_slice(&header);
            buf.resize(total, 0);
            reader
                // `buf` holds `total` bytes, more than the header.
                .read_exact(buf.get_mut(RECORD_HEADER_LEN..).unwrap_or_default())
                .map_err(JournalError::io("reading", path))?;
            let r = match record::parse_record(&buf) {
                Parsed::Valid(r) if r.seq == seq => r,
                Parsed::Valid(_) => return Err(corrupt("unexpected sequence number")),
                Parsed::Incomplete => return Err(corrupt("incomplete record")),
                Parsed::Bad(reason) => return Err(corrupt(reason)),
            };
            if prev.is_some_and(|p| p != r.prev_hash) {
                return Err(JournalError::ChainBroken {
                    path: path.clone(),
                    seq,
                });
            }
            *prev = Some(r.hash);
            out.push(Record {
                seq,
                prev_hash: r.prev_hash,
                payload: r.payload.to_vec(),
                hash: r.hash,
            });
        }
        seq += 1;
        offset += total as u64;
    }
    Ok(())
}
