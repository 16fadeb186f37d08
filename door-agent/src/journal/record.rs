//! The on-disk encoding of segment headers, records and the acknowledgement file. Pure
//! functions over byte slices: no I/O, no panics on any input.
//!
//! All integers are little-endian.
//!
//! Segment header (56 bytes): `"GHJSEG01"` ‖ first_seq u64 ‖ prev_hash \[32\] ‖ check \[8\]
//! where check = SHA-256(the first 48 bytes)\[..8\].
//!
//! Record (80 + len bytes): `"GHJR"` ‖ len u32 ‖ seq u64 ‖ prev_hash \[32\] ‖ payload
//! \[len\] ‖ hash \[32\] where hash = `gatehouse_core::event::chain_hash(prev_hash, seq,
//! payload)` — the very hash the server recomputes at upload. The hash is both the chain
//! link and the checksum: a torn or altered record fails it.
//!
//! Acknowledgement file (24 bytes): `"GHJACK01"` ‖ acked u64 ‖ SHA-256(first 16)\[..8\].

use sha2::{Digest, Sha256};

/// A SHA-256 chain hash.
pub type Hash = [u8; 32];

/// The `prev_hash` of record 1.
pub use gatehouse_core::event::GENESIS_HASH;

/// Largest payload `append` accepts (16 MiB); it also bounds what recovery will read.
pub const MAX_PAYLOAD: usize = 16 << 20;

pub(crate) const SEGMENT_MAGIC: [u8; 8] = *b"GHJSEG01";
pub(crate) const SEGMENT_HEADER_LEN: usize = 56;
const RECORD_MAGIC: [u8; 4] = *b"GHJR";
pub(crate) const RECORD_HEADER_LEN: usize = 48;
const HASH_LEN: usize = 32;
/// Bytes a record takes beyond its payload.
pub(crate) const RECORD_OVERHEAD: usize = RECORD_HEADER_LEN + HASH_LEN;
const ACK_MAGIC: [u8; 8] = *b"GHJACK01";
pub(crate) const ACK_LEN: usize = 24;

/// The chain hash of a record, shared with the server (see core's `event` module).
pub use gatehouse_core::event::chain_hash;

fn check8(bytes: &[u8]) -> [u8; 8] {
    let digest: [u8; 32] = Sha256::digest(bytes).into();
    let mut out = [0; 8];
    out.copy_from_slice(&digest[..8]);
    out
}

fn u64_at(buf: &[u8], at: usize) -> u64 {
    let mut b = [0; 8];
    if let Some(s) = buf.get(at..at + 8) {
        b.copy_from_slice(s);
    }
    u64::from_le_bytes(b)
}

fn hash_at(buf: &[u8], at: usize) -> Hash {
    let mut h = [0; 32];
    if let Some(s) = buf.get(at..at + 32) {
        h.copy_from_slice(s);
    }
    h
}

pub(crate) fn encode_segment_header(first_seq: u64, prev_hash: &Hash) -> [u8; SEGMENT_HEADER_LEN] {
    let mut out = [0; SEGMENT_HEADER_LEN];
    out[..8].copy_from_slice(&SEGMENT_MAGIC);
    out[8..16].copy_from_slice(&first_seq.to_le_bytes());
    out[16..48].copy_from_slice(prev_hash);
    let check = check8(&out[..48]);
    out[48..].copy_from_slice(&check);
    out
}

/// Decodes a segment header into (first_seq, prev_hash).
pub(crate) fn decode_segment_header(buf: &[u8]) -> Result<(u64, Hash), &'static str> {
    let Some(h) = buf.first_chunk::<SEGMENT_HEADER_LEN>() else {
        return Err("file shorter than a segment header");
    };
    if h[..8] != SEGMENT_MAGIC {
        return Err("bad magic");
    }
    if check8(&h[..48]) != h[48..] {
        return Err("header checksum mismatch");
    }
    Ok((u64_at(h, 8), hash_at(h, 16)))
}

/// Appends the encoding of one record to `out` and returns its chain hash.
pub(crate) fn encode_record(out: &mut Vec<u8>, seq: u64, prev_hash: &Hash, payload: &[u8]) -> Hash {
    let hash = chain_hash(prev_hash, seq, payload);
    // Callers reject payloads over MAX_PAYLOAD, which fits a u32.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&RECORD_MAGIC);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(prev_hash);
    out.extend_from_slice(payload);
    out.extend_from_slice(&hash);
    hash
}

/// A record decoded in place; its checksum has been verified, its links have not.
#[derive(Debug)]
pub(crate) struct RecordRef<'a> {
    pub seq: u64,
    pub prev_hash: Hash,
    pub payload: &'a [u8],
    pub hash: Hash,
    /// Encoded length in bytes.
    pub len: usize,
}

/// The outcome of decoding the bytes at some offset.
#[derive(Debug)]
pub(crate) enum Parsed<'a> {
    Valid(RecordRef<'a>),
    /// The bytes end before the record does.
    Incomplete,
    /// The bytes are not a valid record.
    Bad(&'static str),
}

/// Payload length declared by a record header, if it is plausible.
pub(crate) fn declared_len(header: &[u8]) -> Result<usize, &'static str> {
    if header.get(..4) != Some(&RECORD_MAGIC[..]) {
        return Err("bad record magic");
    }
    let mut b = [0; 4];
    if let Some(s) = header.get(4..8) {
        b.copy_from_slice(s);
    }
    let len = usize::try_from(u32::from_le_bytes(b)).unwrap_or(usize::MAX);
    if len > MAX_PAYLOAD {
        return Err("record length out of range");
    }
    Ok(len)
}

/// Decodes the record at the start of `buf`, verifying its checksum.
pub(crate) fn parse_record(buf: &[u8]) -> Parsed<'_> {
    // As much of the magic as there are bytes.
    if buf.iter().zip(RECORD_MAGIC.iter()).any(|(a, b)| a != b) {
        return Parsed::Bad("bad record magic");
    }
    if buf.len() < RECORD_HEADER_LEN {
        return Parsed::Incomplete;
    }
    let len = match declared_len(buf) {
        Ok(len) => len,
        Err(reason) => return Parsed::Bad(reason),
    };
    let total = RECORD_OVERHEAD + len;
    let Some(rec) = buf.get(..total) else {
        return Parsed::Incomplete;
    };
    let seq = u64_at(rec, 8);
    let prev_hash = hash_at(rec, 16);
    let Some(payload) = rec.get(RECORD_HEADER_LEN..RECORD_HEADER_LEN + len) else {
        return Parsed::Incomplete;
    };
    let hash = hash_at(rec, RECORD_HEADER_LEN + len);
    if chain_hash(&prev_hash, seq, payload) != hash {
        return Parsed::Bad("checksum mismatch");
    }
    Parsed::Valid(RecordRef {
        seq,
        prev_hash,
        payload,
        hash,
        len: total,
    })
}

/// Offset of the first valid record at or after `from`, if any. Used after damage to
/// tell a torn tail (nothing valid follows) from damage in the middle.
pub(crate) fn find_valid_record(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    rest.windows(RECORD_MAGIC.len())
        .enumerate()
        .filter(|(_, w)| *w == RECORD_MAGIC)
        .map(|(i, _)| from + i)
        .find(|&at| matches!(buf.get(at..).map(parse_record), Some(Parsed::Valid(_))))
}

pub(crate) fn encode_ack(acked: u64) -> [u8; ACK_LEN] {
    let mut out = [0; ACK_LEN];
    out[..8].copy_from_slice(&ACK_MAGIC);
    out[8..16].copy_from_slice(&acked.to_le_bytes());
    let check = check8(&out[..16]);
    out[16..].copy_from_slice(&check);
    out
}

pub(crate) fn decode_ack(buf: &[u8]) -> Result<u64, &'static str> {
    let Ok(buf) = <&[u8; ACK_LEN]>::try_from(buf) else {
        return Err("wrong length");
    };
    if buf[..8] != ACK_MAGIC {
        return Err("bad magic");
    }
    if check8(&buf[..16]) != buf[16..] {
        return Err("checksum mismatch");
    }
    Ok(u64_at(buf, 8))
}
