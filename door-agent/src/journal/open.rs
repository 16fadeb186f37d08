//! Opening a journal: locking the directory, recovering from a crash (cutting a torn
//! tail, finishing deletions an interrupted `ack` left) and creating the first segment.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Seek, SeekFrom};
use std::path::Path;
use std::time::{Duration, Instant};

use super::record::SEGMENT_HEADER_LEN;
use super::segment::{self, MAX_SEGMENT_BYTES, sync_dir};
use super::{Journal, JournalError, JournalOptions, Segment, create_segment, remove_segment_file};

/// What [`Journal::open`] found and repaired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Records on disk after recovery, acknowledged ones not yet deleted included.
    pub records: u64,
    /// The newest record (0 for an empty journal).
    pub last_seq: u64,
    /// The acknowledged position.
    pub acked: u64,
    /// Segment files after recovery.
    pub segments: usize,
    /// Bytes of a torn tail that were cut (0 after a clean shutdown).
    pub truncated_bytes: u64,
    /// Fully acknowledged segments deleted at open (left by a crash during `ack`).
    pub removed_segments: usize,
}

fn lock_dir(dir: &Path) -> Result<File, JournalError> {
    let path = dir.join("LOCK");
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(JournalError::io("creating", &path))?;
    // A lock can stay held for a moment after its holder closed it: a process forking
    // at that instant (to run any command) shares the lock until its child execs. So
    // "locked" is only believed after it has lasted a while.
    let deadline = Instant::now() + LOCK_PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(TryLockError::WouldBlock) => {
                return Err(JournalError::Locked {
                    dir: dir.to_owned(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(JournalError::io("locking", path)(e)),
        }
    }
}

/// How long a held lock is waited for before the journal is reported in use.
const LOCK_PATIENCE: Duration = Duration::from_secs(1);

impl Journal {
    /// Opens (creating if needed) the journal in `dir`, recovering from a crash: a torn
    /// tail is cut and reported, any other damage is an error.
    pub fn open(dir: &Path, options: JournalOptions) -> Result<(Self, OpenReport), JournalError> {
        if !(128..=MAX_SEGMENT_BYTES).contains(&options.segment_bytes) {
            let msg = format!("segment_bytes must be between 128 and {MAX_SEGMENT_BYTES}");
            return Err(JournalError::InvalidOptions(msg));
        }
        if !dir.is_dir() {
            fs::create_dir_all(dir).map_err(JournalError::io("creating", dir))?;
            let parent = dir.parent().filter(|p| !p.as_os_str().is_empty());
            sync_dir(parent.unwrap_or_else(|| Path::new(".")))?;
        }
        let lock = lock_dir(dir)?;
        segment::remove_ack_tmp(dir)?;
        let scan = segment::scan_dir(dir)?;
        let (last_seq, last_hash) = scan.tail();
        let acked = scan.acked;
        let mut report = OpenReport {
            records: 0,
            last_seq,
            acked,
            segments: 0,
            truncated_bytes: 0,
            removed_segments: 0,
        };
        let mut segments = Vec::with_capacity(scan.segments.len());
        let mut tail = None;
        for s in scan.segments {
            if s.header_torn {
                remove_segment_file(dir, &s.path)?;
                report.truncated_bytes += s.file_len;
                continue;
            }
            tail = Some((s.good_len, s.file_len));
            segments.push(Segment {
                first_seq: s.first_seq,
                end_seq: s.end_seq,
                path: s.path,
                index: s.index,
            });
        }
        let (active, tail) = match (segments.last(), tail) {
            (Some(last), Some((good_len, file_len))) => {
                let mut file = OpenOptions::new()
                    .write(true)
                    .open(&last.path)
                    .map_err(JournalError::io("opening", &last.path))?;
                if file_len > good_len {
                    file.set_len(good_len)
                        .and_then(|()| file.sync_all())
                        .map_err(JournalError::io("truncating torn tail of", &last.path))?;
                    report.truncated_bytes += file_len - good_len;
                }
                file.seek(SeekFrom::Start(good_len))
                    .map_err(JournalError::io("seeking", &last.path))?;
                (file, good_len)
            }
            _ => {
                let (file, segment) = create_segment(dir, last_seq + 1, &last_hash)?;
                segments.push(segment);
                (file, SEGMENT_HEADER_LEN as u64)
            }
        };
        let mut journal = Self {
            dir: dir.to_owned(),
            options,
            _lock: lock,
            segments,
            active,
            tail,
            last_seq,
            last_hash,
            acked,
            buf: Vec::new(),
            poisoned: false,
        };
        report.removed_segments = journal.delete_acked_segments()?;
        report.segments = journal.segments.len();
        report.records = journal
            .segments
            .iter()
            .map(|s| s.end_seq - s.first_seq)
            .sum();
        Ok((journal, report))
    }
}
