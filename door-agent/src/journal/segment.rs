//! Reading a journal directory: listing segment files, scanning each one record by
//! record, checking the links between segments, and the acknowledgement file. Scanning
//! only reads; [`super::Journal::open`] acts on the result and [`super::verify`] reports it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::JournalError;
use super::record::{
    self, GENESIS_HASH, Hash, MAX_PAYLOAD, Parsed, RECORD_OVERHEAD, SEGMENT_HEADER_LEN,
};

/// One index entry is kept for every `INDEX_STRIDE` records, so `pending` seeks near a
/// record instead of reading its segment from the start.
pub(crate) const INDEX_STRIDE: u64 = 64;
/// Largest segment size the options accept.
pub(crate) const MAX_SEGMENT_BYTES: u64 = 1 << 30;
const ACK_FILE: &str = "ack";
const ACK_TMP: &str = "ack.tmp";

pub(crate) fn segment_path(dir: &Path, first_seq: u64) -> PathBuf {
    dir.join(format!("{first_seq:020}.seg"))
}

fn parse_segment_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".seg")?;
    if digits.len() != 20 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// fsyncs a directory so that file creations, renames and deletions in it are durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(JournalError::io("syncing directory", dir))
}

/// Reads the acknowledged position; 0 when the file does not exist yet.
pub(crate) fn read_ack(dir: &Path) -> Result<u64, JournalError> {
    let path = dir.join(ACK_FILE);
    let mut buf = Vec::new();
    match File::open(&path).and_then(|f| f.take(64).read_to_end(&mut buf)) {
        Ok(_) => record::decode_ack(&buf).map_err(|reason| JournalError::AckFile { path, reason }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(JournalError::io("reading", path)(e)),
    }
}

/// Writes the acknowledged position atomically: temp file, fsync, rename, fsync dir.
pub(crate) fn write_ack(dir: &Path, acked: u64) -> Result<(), JournalError> {
    let tmp = dir.join(ACK_TMP);
    let mut f = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(JournalError::io("creating", &tmp))?;
    f.write_all(&record::encode_ack(acked))
        .and_then(|()| f.sync_all())
        .map_err(JournalError::io("writing", &tmp))?;
    let path = dir.join(ACK_FILE);
    fs::rename(&tmp, &path).map_err(JournalError::io("renaming into", &path))?;
    sync_dir(dir)
}

/// Removes a temp file left by a crash in the middle of [`write_ack`].
pub(crate) fn remove_ack_tmp(dir: &Path) -> Result<(), JournalError> {
    let tmp = dir.join(ACK_TMP);
    match fs::remove_file(&tmp) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(JournalError::io("removing", tmp)(e)),
        _ => Ok(()),
    }
}

/// What scanning one segment file found.
#[derive(Debug)]
pub(crate) struct SegmentScan {
    pub path: PathBuf,
    pub first_seq: u64,
    /// The sequence number after the last valid record.
    pub end_seq: u64,
    pub prev_hash: Hash,
    pub last_hash: Hash,
    /// Byte length up to the end of the last valid record.
    pub good_len: u64,
    pub file_len: u64,
    /// Offsets of records `first_seq + i * INDEX_STRIDE`.
    pub index: Vec<u64>,
    /// Last segment only: the header itself is torn (crash while creating the file).
    pub header_torn: bool,
}

fn scan_segment(path: &Path, name_seq: u64, is_last: bool) -> Result<SegmentScan, JournalError> {
    let file = File::open(path).map_err(JournalError::io("opening", path))?;
    let file_len = file
        .metadata()
        .map_err(JournalError::io("reading metadata of", path))?
        .len();
    if file_len > MAX_SEGMENT_BYTES + (SEGMENT_HEADER_LEN + RECORD_OVERHEAD + MAX_PAYLOAD) as u64 {
        return Err(JournalError::SegmentTooLarge {
            path: path.to_owned(),
            len: file_len,
        });
    }
    let mut buf = Vec::new();
    file.take(file_len)
        .read_to_end(&mut buf)
        .map_err(JournalError::io("reading", path))?;
    let mut scan = SegmentScan {
        path: path.to_owned(),
        first_seq: name_seq,
        end_seq: name_seq,
        prev_hash: GENESIS_HASH,
        last_hash: GENESIS_HASH,
        good_len: 0,
        file_len,
        index: Vec::new(),
        header_torn: false,
    };
    let (first_seq, prev_hash) = match record::decode_segment_header(&buf) {
        Ok(h) => h,
        Err(_) if is_last && record::find_valid_record(&buf, 0).is_none() => {
            scan.header_torn = true;
            return Ok(scan);
        }
        Err(reason) => {
            return Err(JournalError::CorruptSegmentHeader {
                path: path.to_owned(),
                reason,
            });
        }
    };
    if first_seq != name_seq {
        let reason = "first sequence number differs from the file name";
        return Err(JournalError::CorruptSegmentHeader {
            path: path.to_owned(),
            reason,
        });
    }
    scan.prev_hash = prev_hash;
    scan.last_hash = prev_hash;
    let mut at = SEGMENT_HEADER_LEN;
    while let Some(rest) = buf.get(at..).filter(|rest| !rest.is_empty()) {
        let reason = match record::parse_record(rest) {
            Parsed::Valid(r) => {
                let offset = at as u64;
                if r.seq != scan.end_seq {
                    let (expected, found) = (scan.end_seq, r.seq);
                    return Err(JournalError::SequenceGap {
                        path: path.to_owned(),
                        offset,
                        expected,
                        found,
                    });
                }
                if r.prev_hash != scan.last_hash {
                    return Err(JournalError::ChainBroken {
                        path: path.to_owned(),
                        seq: r.seq,
                    });
                }
                if (r.seq - first_seq).is_multiple_of(INDEX_STRIDE) {
                    scan.index.push(offset);
                }
                scan.end_seq += 1;
                scan.last_hash = r.hash;
                at += r.len;
                continue;
            }
            Parsed::Incomplete => "incomplete record",
            Parsed::Bad(reason) => reason,
        };
        // Only the end of the last segment may be torn, and only if nothing valid follows.
        if !is_last || record::find_valid_record(&buf, at + 1).is_some() {
            return Err(JournalError::CorruptRecord {
                path: path.to_owned(),
                offset: at as u64,
                reason,
            });
        }
        break;
    }
    scan.good_len = at.min(buf.len()) as u64;
    Ok(scan)
}

/// Everything read from a journal directory, checked end to end.
#[derive(Debug)]
pub(crate) struct DirScan {
    pub segments: Vec<SegmentScan>,
    pub acked: u64,
}

impl DirScan {
    /// The last record's sequence number and hash (0 and the genesis hash when empty).
    pub fn tail(&self) -> (u64, Hash) {
        self.segments
            .iter()
            .rev()
            .find(|s| !s.header_torn)
            .map_or((0, GENESIS_HASH), |s| (s.end_seq - 1, s.last_hash))
    }
}

/// Reads and checks a whole journal directory without changing anything.
pub(crate) fn scan_dir(dir: &Path) -> Result<DirScan, JournalError> {
    let acked = read_ack(dir)?;
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(JournalError::io("listing", dir))? {
        let entry = entry.map_err(JournalError::io("listing", dir))?;
        if let Some(seq) = entry.file_name().to_str().and_then(parse_segment_name) {
            names.push(seq);
        }
    }
    names.sort_unstable();
    let mut segments: Vec<SegmentScan> = Vec::with_capacity(names.len());
    for (i, &seq) in names.iter().enumerate() {
        let scan = scan_segment(&segment_path(dir, seq), seq, i + 1 == names.len())?;
        match segments.last() {
            Some(prev) if scan.first_seq != prev.end_seq => {
                return Err(JournalError::MissingSegment {
                    expected: prev.end_seq,
                    found: Some(scan.first_seq),
                });
            }
            Some(prev) if !scan.header_torn && scan.prev_hash != prev.last_hash => {
                return Err(JournalError::ChainBroken {
                    path: scan.path,
                    seq: scan.first_seq,
                });
            }
            None if scan.first_seq > acked.saturating_add(1) => {
                return Err(JournalError::MissingSegment {
                    expected: acked + 1,
                    found: Some(scan.first_seq),
                });
            }
            None if scan.first_seq == 0 => {
                let reason = "sequence numbers start at 1";
                return Err(JournalError::CorruptSegmentHeader {
                    path: scan.path,
                    reason,
                });
            }
            None if scan.first_seq == 1 && scan.prev_hash != GENESIS_HASH => {
                return Err(JournalError::ChainBroken {
                    path: scan.path,
                    seq: 1,
                });
            }
            _ => {}
        }
        segments.push(scan);
    }
    let found = DirScan { segments, acked };
    let (last_seq, _) = found.tail();
    if found.segments.iter().all(|s| s.header_torn)
        && found.segments.iter().any(|s| s.first_seq != 1)
    {
        return Err(JournalError::MissingSegment {
            expected: acked + 1,
            found: None,
        });
    }
    if acked > last_seq {
        return Err(JournalError::AckBeyondEnd { acked, last_seq });
    }
    Ok(found)
}

/// The result of [`super::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Segment files present.
    pub segments: usize,
    /// Records present (acknowledged ones not yet deleted included).
    pub records: u64,
    /// The oldest record on disk (`last_seq + 1` when there is none).
    pub first_seq: u64,
    /// The newest record (0 when the journal never had one).
    pub last_seq: u64,
    /// The acknowledged position.
    pub acked: u64,
    /// The hash of the newest record.
    pub last_hash: Hash,
    /// Bytes of a torn tail that the next open will cut (a crash mid-append).
    pub torn_tail_bytes: u64,
}

/// Checks a journal directory end to end (checksums, hash chain, sequence numbers,
/// segment continuity, acknowledgement file) without modifying it. A torn tail is
/// reported, not an error: it is what a power cut leaves and the next open cuts it.
pub fn verify(dir: &Path) -> Result<VerifyReport, JournalError> {
    let scan = scan_dir(dir)?;
    let (last_seq, last_hash) = scan.tail();
    let live = scan.segments.iter().filter(|s| !s.header_torn);
    Ok(VerifyReport {
        segments: scan.segments.len(),
        records: live.clone().map(|s| s.end_seq - s.first_seq).sum(),
        first_seq: live.clone().next().map_or(last_seq + 1, |s| s.first_seq),
        last_seq,
        acked: scan.acked,
        last_hash,
        torn_tail_bytes: scan.segments.last().map_or(0, |s| s.file_len - s.good_len),
    })
}
