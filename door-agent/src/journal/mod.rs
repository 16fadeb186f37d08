//! The door agent's event journal: a durable, append-only, hash-chained log of opaque
//! payloads, kept until the server has acknowledged them.
//!
//! Synchronous and single-writer: the agent owns one [`Journal`] on a dedicated thread
//! (or calls it through `spawn_blocking`), because every append waits for `fdatasync`.
//! A lock file stops a second process from opening the same directory.
//!
//! # Guarantees
//! - [`Journal::append`] returns only once the record is on disk (`write` + `sync_data`;
//!   the directory is fsync'd whenever a segment file is created or deleted). Sequence
//!   numbers are gap-free from 1; a failed append consumes none.
//! - Each record carries `prev_hash` and its own hash, SHA-256(prev_hash ‖ seq ‖
//!   payload). That hash is also the checksum: a torn or altered record fails it. Record
//!   1 links to [`GENESIS_HASH`]. The byte layout is documented in `record.rs`.
//! - Records live in segment files named by their first sequence number
//!   (`00000000000000000001.seg`), each starting with a header that repeats the first
//!   sequence number and the previous record's hash, so the chain crosses files.
//!   [`Journal::ack`] records the server's acknowledgement durably (write temp, fsync,
//!   rename, fsync dir) and then deletes segments wholly at or below it, oldest first.
//!
//! # Recovery
//! [`Journal::open`] reads every segment. The only damage it repairs is a torn tail —
//! an incomplete or checksum-failing record at the end of the last segment with nothing
//! valid after it, or a last segment whose header never made it to disk — which is what
//! a power cut during an append leaves. It cuts that tail (truncate + fsync) and says so
//! in [`OpenReport::truncated_bytes`]. Anything else (a damaged record followed by valid
//! ones, a sequence gap, a broken chain, a missing segment, a damaged ack file, an
//! acknowledgement beyond the end) is refused with a specific [`JournalError`]: silently
//! skipping records would turn into lost events at the server. [`verify`] runs the same
//! checks read-only.
//!
//! # Capacity: an alarm threshold, not a cut-off
//! [`JournalOptions::max_unacked`] (default 1,000,000) is when to *alarm*, not when to
//! refuse. Past it, `append` still appends and [`AppendOutcome::over_capacity`] is true;
//! the agent raises `journal_full` when it first sees that and keeps deciding. We chose
//! this over refusing because a refused event is lost: a counter of refused events tells
//! an auditor that something happened, not who, where or with what outcome. The true
//! limit is the disk (a million 300-byte events take about 380 MB with overhead). When
//! the disk really is full, `append` fails with [`JournalError::Io`] — never silently —
//! and the journal is poisoned until reopened (which cuts any partial record); the agent
//! alarms, keeps deciding and retries after reopening.

mod error;
mod open;
mod read;
mod record;
mod segment;
#[cfg(test)]
mod tests;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

pub use error::JournalError;
pub use open::OpenReport;
pub use read::Record;
pub use record::{GENESIS_HASH, Hash, MAX_PAYLOAD, chain_hash};
pub use segment::{VerifyReport, verify};

use record::SEGMENT_HEADER_LEN;
use segment::{INDEX_STRIDE, sync_dir};

/// Tuning for a [`Journal`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalOptions {
    /// Backlog (appended but unacknowledged records) beyond which appends report
    /// [`AppendOutcome::over_capacity`]. Appends are never refused for this.
    pub max_unacked: u64,
    /// A new segment file is started when the next record would make the current one
    /// larger than this (a record larger than a segment gets one of its own).
    pub segment_bytes: u64,
}

impl Default for JournalOptions {
    fn default() -> Self {
        Self {
            max_unacked: 1_000_000,
            segment_bytes: 64 << 20,
        }
    }
}

/// The result of a durable [`Journal::append`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppendOutcome {
    /// The record's sequence number.
    pub seq: u64,
    /// The record's chain hash.
    pub hash: Hash,
    /// Unacknowledged records, this one included.
    pub backlog: u64,
    /// The backlog exceeds [`JournalOptions::max_unacked`]: raise `journal_full`.
    pub over_capacity: bool,
}

/// One segment file still on disk.
#[derive(Debug)]
struct Segment {
    first_seq: u64,
    /// Sequence number after the segment's last record.
    end_seq: u64,
    path: PathBuf,
    /// Byte offsets of records `first_seq + i * INDEX_STRIDE`.
    index: Vec<u64>,
}

/// An open journal directory. See the module documentation.
#[derive(Debug)]
pub struct Journal {
    dir: PathBuf,
    options: JournalOptions,
    /// Holds the directory's advisory lock for as long as the journal is open.
    _lock: File,
    /// Oldest first; never empty; the last one is being appended to.
    segments: Vec<Segment>,
    active: File,
    /// Length of the active segment up to the end of its last durable record.
    tail: u64,
    last_seq: u64,
    last_hash: Hash,
    acked: u64,
    buf: Vec<u8>,
    poisoned: bool,
}

/// Creates a segment file with its header, durably (file and directory).
fn create_segment(
    dir: &Path,
    first_seq: u64,
    prev_hash: &Hash,
) -> Result<(File, Segment), JournalError> {
    let path = segment::segment_path(dir, first_seq);
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(JournalError::io("creating", &path))?;
    file.write_all(&record::encode_segment_header(first_seq, prev_hash))
        .and_then(|()| file.sync_data())
        .map_err(JournalError::io("writing", &path))?;
    sync_dir(dir)?;
    let segment = Segment {
        first_seq,
        end_seq: first_seq,
        path,
        index: Vec::new(),
    };
    Ok((file, segment))
}

fn remove_segment_file(dir: &Path, path: &Path) -> Result<(), JournalError> {
    fs::remove_file(path).map_err(JournalError::io("removing", path))?;
    sync_dir(dir)
}

impl Journal {
    /// Appends one record and returns once it is durable.
    pub fn append(&mut self, payload: &[u8]) -> Result<AppendOutcome, JournalError> {
        if self.poisoned {
            return Err(JournalError::Poisoned);
        }
        if payload.len() > MAX_PAYLOAD {
            return Err(JournalError::PayloadTooLarge {
                len: payload.len(),
                max: MAX_PAYLOAD,
            });
        }
        let seq = self.last_seq + 1;
        self.buf.clear();
        let hash = record::encode_record(&mut self.buf, seq, &self.last_hash, payload);
        let len = self.buf.len() as u64;
        // Until the record is durable any failure leaves the file state unknown.
        self.poisoned = true;
        if self.tail > SEGMENT_HEADER_LEN as u64 && self.tail + len > self.options.segment_bytes {
            let (file, segment) = create_segment(&self.dir, seq, &self.last_hash)?;
            self.active = file;
            self.tail = SEGMENT_HEADER_LEN as u64;
            self.segments.push(segment);
        }
        let Some(segment) = self.segments.last_mut() else {
            return Err(JournalError::Poisoned);
        };
        self.active
            .write_all(&self.buf)
            .and_then(|()| self.active.sync_data())
            .map_err(JournalError::io("appending to", &segment.path))?;
        self.poisoned = false;
        if (seq - segment.first_seq).is_multiple_of(INDEX_STRIDE) {
            segment.index.push(self.tail);
        }
        segment.end_seq = seq + 1;
        self.tail += len;
        self.last_seq = seq;
        self.last_hash = hash;
        let backlog = self.backlog();
        Ok(AppendOutcome {
            seq,
            hash,
            backlog,
            over_capacity: backlog > self.options.max_unacked,
        })
    }

    /// Records durably that the server holds every record up to `upto_seq`, then deletes
    /// the segments wholly at or below it (never the one being appended to). Returns how
    /// many segment files were deleted. Acknowledging less than before does nothing.
    pub fn ack(&mut self, upto_seq: u64) -> Result<usize, JournalError> {
        if upto_seq > self.last_seq {
            return Err(JournalError::AckBeyondEnd {
                acked: upto_seq,
                last_seq: self.last_seq,
            });
        }
        if upto_seq > self.acked {
            segment::write_ack(&self.dir, upto_seq)?;
            self.acked = upto_seq;
        }
        self.delete_acked_segments()
    }

    fn delete_acked_segments(&mut self) -> Result<usize, JournalError> {
        let mut removed = 0;
        // Oldest first, one fsync each, so a crash never leaves a hole in the middle.
        while self.segments.len() > 1 {
            match self.segments.first() {
                Some(first) if first.end_seq <= self.acked + 1 => {
                    remove_segment_file(&self.dir, &first.path)?;
                    self.segments.remove(0);
                    removed += 1;
                }
                _ => break,
            }
        }
        Ok(removed)
    }

    /// The newest record's sequence number (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The newest record's hash ([`GENESIS_HASH`] when empty).
    pub fn last_hash(&self) -> Hash {
        self.last_hash
    }

    /// The acknowledged position.
    pub fn acked(&self) -> u64 {
        self.acked
    }

    /// Records appended but not yet acknowledged.
    pub fn backlog(&self) -> u64 {
        self.last_seq - self.acked
    }

    /// Whether the backlog exceeds [`JournalOptions::max_unacked`].
    pub fn over_capacity(&self) -> bool {
        self.backlog() > self.options.max_unacked
    }

    /// The oldest record still on disk (`last_seq + 1` when there is none).
    pub fn first_retained_seq(&self) -> u64 {
        self.segments
            .first()
            .map_or(self.last_seq + 1, |s| s.first_seq)
    }

    /// Segment files on disk.
    pub fn segment_count(&self) -> usize {
        self.segments.len()
    }

    /// The journal directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}
