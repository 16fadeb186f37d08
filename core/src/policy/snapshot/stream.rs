//! Loading a signed snapshot from a reader (the agent's file) without holding its bytes:
//! the envelope's header and signature are read first, then the payload is decoded
//! record by record from a small window of the file while it is hashed, and the policy
//! is kept only if the signature over that hash holds.
//!
//! Loading from bytes held whole costs the file (194 MiB at 2,000,000 credentials) on
//! top of the policy, at the load's peak. This costs a window of a few hundred KiB.
//! The payload is decoded before the signature is known good (one pass over the file);
//! nothing decoded is used, or kept, unless it is.
//!
//! The payload's layout is postcard's for [`PolicySource`]: its fields in order, each
//! kind of record a varint count then the records. `a_streamed_snapshot_loads_as_its_bytes`
//! holds this reader to `postcard::from_bytes`.

use super::{Policy, PolicySource, SnapshotError, signed_message_for};
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use std::io::{Read, Seek, SeekFrom};
use uuid::Uuid;

/// The window's first size; it doubles for a record that does not fit.
const WINDOW: usize = 256 * 1024;

/// A verified snapshot loaded from a reader.
#[derive(Debug)]
pub struct LoadedSnapshot {
    /// The policy, with the snapshot's version.
    pub policy: Policy,
    /// When the server signed it.
    pub issued_at: DateTime<Utc>,
    /// The sites it covers (what a delta must be made for).
    pub site_ids: Vec<Uuid>,
    /// The envelope's size in bytes.
    pub size: u64,
}

/// The envelope up to its payload.
#[derive(Deserialize)]
struct Head {
    version: u64,
    issued_at: DateTime<Utc>,
    site_ids: Vec<Uuid>,
    key_id: [u8; 8],
    payload_len: u64,
}

fn malformed(e: impl std::fmt::Display) -> SnapshotError {
    SnapshotError::Malformed(e.to_string())
}

/// Reads, verifies and loads the snapshot in `file`: refuses what
/// [`super::verify_and_load`] refuses, each with the same error.
pub fn load_snapshot<R: Read + Seek>(
    mut file: R,
    key: &VerifyingKey,
    min_version: u64,
) -> Result<LoadedSnapshot, SnapshotError> {
    let size = file.seek(SeekFrom::End(0)).map_err(malformed)?;
    file.seek(SeekFrom::Start(0)).map_err(malformed)?;
    // The header is small; read until it decodes (a few sites), at most 16 MiB.
    let mut head_bytes = Vec::new();
    let (head, head_len) = loop {
        let want = (head_bytes.len().max(4096) * 2).min(16 << 20) as u64;
        let before = head_bytes.len();
        (&mut file)
            .take(want - before as u64)
            .read_to_end(&mut head_bytes)
            .map_err(malformed)?;
        match postcard::take_from_bytes::<Head>(&head_bytes) {
            Ok((head, rest)) => break (head, head_bytes.len() - rest.len()),
            Err(postcard::Error::DeserializeUnexpectedEnd)
                if head_bytes.len() > before && head_bytes.len() < 16 << 20 => {}
            Err(e) => return Err(malformed(e)),
        }
    };
    let payload_end = (head_len as u64)
        .checked_add(head.payload_len)
        .filter(|&end| end <= size)
        .ok_or_else(|| malformed("payload longer than the file"))?;
    file.seek(SeekFrom::Start(payload_end)).map_err(malformed)?;
    let mut tail = Vec::new();
    (&mut file)
        .take(4096)
        .read_to_end(&mut tail)
        .map_err(malformed)?;
    let signature: Vec<u8> = match postcard::take_from_bytes::<Vec<u8>>(&tail) {
        Ok((s, [])) if payload_end + tail.len() as u64 == size => s,
        Ok(_) => return Err(malformed("trailing bytes")),
        Err(e) => return Err(malformed(e)),
    };
    if head.key_id != super::key_id(key) {
        return Err(SnapshotError::WrongKey);
    }
    let signature = Signature::from_slice(&signature).map_err(|_| SnapshotError::BadSignature)?;

    file.seek(SeekFrom::Start(head_len as u64))
        .map_err(malformed)?;
    let mut payload = Window::new(file.take(head.payload_len), head.payload_len);
    let source = payload.source();
    let digest = payload.finish()?;
    let message = signed_message_for(
        head.version,
        head.issued_at,
        &head.site_ids,
        head.key_id,
        digest,
    )?;
    key.verify(&message, &signature)
        .map_err(|_| SnapshotError::BadSignature)?;
    if head.version < min_version {
        return Err(SnapshotError::VersionTooOld {
            version: head.version,
            min_version,
        });
    }
    let source = source?;
    Ok(LoadedSnapshot {
        policy: Policy::build(source)?.with_version(head.version),
        issued_at: head.issued_at,
        site_ids: head.site_ids,
        size,
    })
}

/// The payload being read: a window of it in memory, and the hash of all read so far.
struct Window<R> {
    reader: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    hash: Sha256,
    /// Whether the reader is at the payload's end.
    eof: bool,
    /// Payload bytes not read yet.
    left: u64,
}

impl<R: Read> Window<R> {
    fn new(reader: R, len: u64) -> Self {
        Window {
            left: len,
            reader,
            buf: vec![0; WINDOW],
            start: 0,
            end: 0,
            hash: Sha256::new(),
            eof: false,
        }
    }

    /// Reads more of the payload into the window; false at its end.
    fn fill(&mut self) -> Result<bool, SnapshotError> {
        if self.eof {
            return Ok(false);
        }
        self.buf.copy_within(self.start..self.end, 0);
        (self.end, self.start) = (self.end - self.start, 0);
        if self.end == self.buf.len() {
            // A record larger than the window: double it.
            self.buf.resize(self.buf.len() * 2, 0);
        }
        let free = self.buf.get_mut(self.end..).unwrap_or_default();
        let read = self.reader.read(free).map_err(malformed)?;
        self.hash.update(free.get(..read).unwrap_or_default());
        self.end += read;
        self.left = self.left.saturating_sub(read as u64);
        self.eof = read == 0;
        Ok(read > 0)
    }

    fn next<T: DeserializeOwned>(&mut self) -> Result<T, SnapshotError> {
        loop {
            let window = self.buf.get(self.start..self.end).unwrap_or_default();
            let error = match postcard::take_from_bytes::<T>(window) {
                Ok((value, rest)) => {
                    self.start = self.end - rest.len();
                    return Ok(value);
                }
                Err(e) => e,
            };
            if error != postcard::Error::DeserializeUnexpectedEnd || !self.fill()? {
                return Err(SnapshotError::Payload(error.to_string()));
            }
        }
    }

    fn records<T: DeserializeOwned>(&mut self) -> Result<Vec<T>, SnapshotError> {
        let count = self.next::<u64>()?;
        // Each record takes at least a byte: never reserve for more than could follow.
        let cap = usize::try_from(count)
            .unwrap_or(usize::MAX)
            .min(self.end - self.start);
        let mut records = Vec::with_capacity(cap);
        for _ in 0..count {
            records.push(self.next()?);
        }
        records.shrink_to_fit();
        Ok(records)
    }

    /// Decodes the payload. The caller reports an error only once the signature holds
    /// (a bad signature is the more useful answer for a damaged file).
    fn source(&mut self) -> Result<PolicySource, SnapshotError> {
        let source = PolicySource {
            settings: self.next()?,
            sites: self.records()?,
            zones: self.records()?,
            doors: self.records()?,
            people: self.records()?,
            visits: self.records()?,
            credentials: self.records()?,
            grants: self.records()?,
            schedules: self.records()?,
        };
        if self.start != self.end || self.fill()? {
            return Err(SnapshotError::Payload("trailing bytes".into()));
        }
        Ok(source)
    }

    /// Reads what is left of the payload (after an error while decoding) and gives its
    /// hash.
    fn finish(mut self) -> Result<[u8; 32], SnapshotError> {
        while self.fill()? {
            self.start = self.end;
        }
        Ok(self.hash.finalize().into())
    }
}
