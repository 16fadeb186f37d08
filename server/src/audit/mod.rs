//! The tamper-evident audit trail.
//!
//! Every record auditors rely on — what door agents recorded (`access_events`), what
//! operators did (`operator_log`), ingest alarms (`agent_alarms`) — is appended, in the
//! transaction that writes it, to one hash chain (`audit_chain`): entry `n` names its
//! record, the record's digest over every column ([`records`]), and the hash of entry
//! `n - 1`. The database rejects UPDATE and DELETE on all of these tables; the chain
//! makes a change made around that (a trigger dropped, a file edited) visible, and the
//! signed checkpoints ([`checkpoint`]) make rewriting the chain to hide it require the
//! server's private key. [`verify`] recomputes everything and names the first bad record.
//!
//! A large HR import's operator-log entries are chained as one batch: they are listed
//! with their digests in `audit_import_members`, and the chain entry of the import's
//! summary entry commits to that list ([`batch_digest`]). The verifier checks every
//! member as it checks a chained record, and names an altered or missing one.

pub mod canon;
pub mod checkpoint;
pub mod export;
pub mod records;
pub use crate::store::stored_time;
pub mod verify;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use canon::Canon;
use records::Source;

/// The hash "before" the first entry.
pub const GENESIS: [u8; 32] = [0; 32];

/// The hash of chain entry `seq`, committing to the entry before it.
pub fn chain_hash(
    previous: &[u8; 32],
    seq: i64,
    source: Source,
    record_id: Uuid,
    digest: &[u8; 32],
    recorded_at: DateTime<Utc>,
) -> [u8; 32] {
    let mut canon = Canon::new(CHAIN_DOMAIN);
    chain_canonical(
        &mut canon,
        previous,
        seq,
        source,
        record_id,
        digest,
        recorded_at,
    );
    canon.finish()
}

const CHAIN_DOMAIN: &str = "gatehouse.audit.chain.v1";

/// Appends to `out` the bytes [`chain_hash`] hashes (the audit_trail bench's baseline).
pub fn chain_bytes(
    out: &mut Vec<u8>,
    previous: &[u8; 32],
    seq: i64,
    source: Source,
    record_id: Uuid,
    digest: &[u8; 32],
    recorded_at: DateTime<Utc>,
) {
    let mut canon = Canon::to(std::mem::take(out), CHAIN_DOMAIN);
    chain_canonical(
        &mut canon,
        previous,
        seq,
        source,
        record_id,
        digest,
        recorded_at,
    );
    *out = canon.into_sink();
}

fn chain_canonical<S: canon::Sink>(
    canon: &mut Canon<S>,
    previous: &[u8; 32],
    seq: i64,
    source: Source,
    record_id: Uuid,
    digest: &[u8; 32],
    recorded_at: DateTime<Utc>,
) {
    canon
        .bytes("previous", Some(previous))
        .int("seq", Some(seq))
        .text("source", Some(source.as_ref()))
        .uuid("record_id", Some(record_id))
        .bytes("digest", Some(digest))
        .time("recorded_at", Some(recorded_at));
}

/// The running hash of an import's operator-log entries (chained as one batch) after
/// member `pos` (1, 2, …), starting from [`GENESIS`]: each member's id and digest in
/// order, so changing, removing, adding or reordering one changes the result.
pub fn member_hash(previous: &[u8; 32], pos: i64, record_id: Uuid, digest: &[u8; 32]) -> [u8; 32] {
    Canon::new("gatehouse.audit.import-member.v1")
        .bytes("previous", Some(previous))
        .int("pos", Some(pos))
        .uuid("record_id", Some(record_id))
        .bytes("digest", Some(digest))
        .finish()
}

/// The digest the chain holds for an import's summary entry: the entry's own digest and
/// its `count` members' running hash ([`member_hash`]). The import's entries are so
/// chained as one batch, written before the chain's head is taken, instead of one chain
/// entry each while it is held.
pub fn batch_digest(record: &[u8; 32], members: &[u8; 32], count: i64) -> [u8; 32] {
    Canon::new("gatehouse.audit.import-batch.v1")
        .bytes("record", Some(record))
        .bytes("members", Some(members))
        .int("count", Some(count))
        .finish()
}

/// A stored 32-byte hash; anything else (only possible by editing the database, the
/// columns have CHECKs) reads as all ones, which never matches a real hash.
pub fn hash32(bytes: &[u8]) -> [u8; 32] {
    bytes.try_into().unwrap_or([0xFF; 32])
}
