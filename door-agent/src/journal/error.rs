//! The journal's one error type. Every kind of damage has its own variant, naming the
//! file and position, so an operator (or the alarm sent to the server) says exactly what
//! is wrong instead of "journal corrupt".

use std::path::PathBuf;

/// Why a journal operation failed. Only a torn tail is repaired silently (and reported
/// in [`super::OpenReport`]); everything listed here is refused.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// A file-system call failed.
    #[error("journal I/O error: {op} {}: {source}", path.display())]
    Io {
        /// What the journal was doing.
        op: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// Another process (or another `Journal` in this one) has the directory open.
    #[error("journal {} is already open elsewhere", dir.display())]
    Locked {
        /// The journal directory.
        dir: PathBuf,
    },
    /// The options make no sense (e.g. a segment size out of range).
    #[error("invalid journal options: {0}")]
    InvalidOptions(String),
    /// A payload larger than [`super::MAX_PAYLOAD`].
    #[error("payload of {len} bytes exceeds the journal's limit of {max} bytes")]
    PayloadTooLarge {
        /// The payload's length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// An earlier append failed part-way; the in-memory state can no longer be trusted.
    /// Reopen the journal: recovery cuts whatever the failed append left behind.
    #[error("journal unusable after a failed append; reopen it")]
    Poisoned,
    /// A record is damaged (bad magic, impossible length, checksum mismatch, incomplete)
    /// somewhere other than the tail of the last segment, so it cannot be a torn write.
    #[error("damaged record at byte {offset} of {}: {reason}", path.display())]
    CorruptRecord {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the damaged record in that file.
        offset: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A segment file's header is damaged or disagrees with the file's name.
    #[error("damaged segment header in {}: {reason}", path.display())]
    CorruptSegmentHeader {
        /// The segment file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A valid record carries the wrong sequence number (a record removed or inserted).
    #[error("sequence gap at byte {offset} of {}: expected {expected}, found {found}", path.display())]
    SequenceGap {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the record.
        offset: u64,
        /// The sequence number that should come next.
        expected: u64,
        /// The sequence number found.
        found: u64,
    },
    /// A valid record (or segment) does not link to the hash of the record before it.
    #[error("hash chain broken at seq {seq} in {}", path.display())]
    ChainBroken {
        /// The file where the link fails.
        path: PathBuf,
        /// Sequence number of the first record that does not link.
        seq: u64,
    },
    /// Records that should be on disk are not: a segment file is missing between two
    /// others, before the first unacknowledged record, or altogether.
    #[error("missing journal segment: expected records from seq {expected}, found {}",
        found.map_or_else(|| "none".to_owned(), |s| format!("seq {s}")))]
    MissingSegment {
        /// The first sequence number that should be present.
        expected: u64,
        /// The first sequence number actually present next, if any.
        found: Option<u64>,
    },
    /// A segment file is larger than any segment the journal writes.
    #[error("segment {} is {len} bytes, larger than any segment the journal writes", path.display())]
    SegmentTooLarge {
        /// The segment file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// The acknowledgement file is damaged.
    #[error("damaged acknowledgement file {}: {reason}", path.display())]
    AckFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An acknowledgement beyond the last record: at open, records the server already
    /// has are missing locally, so new events would reuse their sequence numbers.
    #[error("acknowledged up to seq {acked} but the journal ends at seq {last_seq}")]
    AckBeyondEnd {
        /// The acknowledged position.
        acked: u64,
        /// The last record in the journal.
        last_seq: u64,
    },
    /// `pending` asked for records already deleted after acknowledgement.
    #[error("seq {seq} is no longer retained (oldest retained is {first_retained})")]
    NotRetained {
        /// The sequence number asked for.
        seq: u64,
        /// The oldest sequence number still on disk.
        first_retained: u64,
    },
}

impl JournalError {
    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io { op, path, source }
    }
}
