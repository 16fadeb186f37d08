//! Verifying the whole trail: walks the chain in pages (constant memory), recomputes each
//! record's digest from its row and each entry's hash from the one before, checks every
//! signed checkpoint against the chain and the server's public key, then looks for rows
//! no entry names. Stops at the first problem and names it.

use super::checkpoint::signature_valid;
use super::records::Source;
use super::{GENESIS, chain_hash, hash32};
use crate::store::{ChainEntry, Checkpoint, Store, StoreError};
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use std::collections::HashMap;
use uuid::Uuid;

const PAGE: u32 = 5_000;

/// The outcome of verifying the trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct VerifyReport {
    /// True only when every check passed.
    pub ok: bool,
    /// Chain entries checked (all of them when `ok`).
    pub records: i64,
    /// Signed checkpoints checked.
    pub checkpoints: i64,
    /// The first problem found, in chain order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad: Option<BadRecord>,
}

/// What is wrong, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct BadRecord {
    /// The chain position; absent for a row that no chain entry names.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    /// `event`, `operator` or `alarm`: the table of the record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<Uuid>,
    /// `record_altered`, `record_missing`, `unchained_record`, `chain_altered`,
    /// `seq_gap`, `checkpoint_mismatch`, `checkpoint_signature`, `chain_truncated`.
    pub problem: String,
    /// A sentence for people.
    pub detail: String,
}

impl BadRecord {
    fn at(entry: &ChainEntry, problem: &str, detail: String) -> BadRecord {
        BadRecord {
            seq: Some(entry.seq),
            source: Some(entry.source.clone()),
            record_id: Some(entry.record_id),
            problem: problem.to_owned(),
            detail,
        }
    }
}

/// The digests of the records named by entries `from..=to`, by chain position.
async fn digests(
    store: &Store,
    from: i64,
    to: i64,
) -> Result<HashMap<i64, (Uuid, [u8; 32])>, StoreError> {
    let mut found = HashMap::new();
    for e in store.chained_events(from, to).await? {
        found.insert(e.chain_seq, (e.row.id, e.row.digest()));
    }
    for o in store.chained_operator_log(from, to).await? {
        found.insert(o.chain_seq, (o.row.id, o.row.digest()));
    }
    for a in store.chained_alarms(from, to).await? {
        found.insert(a.chain_seq, (a.row.id, a.row.digest()));
    }
    Ok(found)
}

/// Checks one entry against its record and the entry before it; returns its hash.
fn check_entry(
    entry: &ChainEntry,
    expected_seq: i64,
    previous: &[u8; 32],
    record: Option<&(Uuid, [u8; 32])>,
) -> Result<[u8; 32], BadRecord> {
    if entry.seq != expected_seq {
        return Err(BadRecord::at(
            entry,
            "seq_gap",
            format!(
                "entry {expected_seq} is missing (the next is {})",
                entry.seq
            ),
        ));
    }
    let Some(source) = Source::parse(&entry.source) else {
        let detail = format!("unknown source {:?}", entry.source);
        return Err(BadRecord::at(entry, "chain_altered", detail));
    };
    let digest = hash32(&entry.digest);
    match record {
        Some((id, actual)) if *id == entry.record_id && *actual == digest => {}
        Some(_) => {
            let detail = "the record's content differs from what was chained".to_owned();
            return Err(BadRecord::at(entry, "record_altered", detail));
        }
        None => {
            let detail = format!("the {} record is not in the database", source.as_str());
            return Err(BadRecord::at(entry, "record_missing", detail));
        }
    }
    let hash = chain_hash(
        previous,
        entry.seq,
        source,
        entry.record_id,
        &digest,
        entry.recorded_at,
    );
    if hash != hash32(&entry.hash) {
        let detail = "the entry does not chain from the one before".to_owned();
        return Err(BadRecord::at(entry, "chain_altered", detail));
    }
    Ok(hash)
}

/// Checks a checkpoint at `entry` against the chain hash there and the public key.
fn check_checkpoint(
    checkpoint: &Checkpoint,
    entry: &ChainEntry,
    hash: &[u8; 32],
    key: &VerifyingKey,
) -> Result<(), BadRecord> {
    if hash32(&checkpoint.hash) != *hash {
        let detail = "the chain differs from what the server signed here".to_owned();
        return Err(BadRecord::at(entry, "checkpoint_mismatch", detail));
    }
    if !signature_valid(key, checkpoint) {
        let detail = "the checkpoint's signature does not verify".to_owned();
        return Err(BadRecord::at(entry, "checkpoint_signature", detail));
    }
    Ok(())
}

/// Verifies the trail in `store` against the server's audit public key.
pub async fn verify(store: &Store, key: &VerifyingKey) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport {
        ok: false,
        records: 0,
        checkpoints: 0,
        first_bad: None,
    };
    let mut previous = GENESIS;
    let mut last_seq = 0;
    loop {
        let page = store.chain_page(last_seq, PAGE).await?;
        let (Some(first), Some(last)) = (page.first(), page.last()) else {
            break;
        };
        let records = digests(store, first.seq, last.seq).await?;
        // At most one checkpoint per entry, so a page of them covers a page of entries.
        let mut checkpoints = store
            .checkpoints_after(first.seq - 1, PAGE)
            .await?
            .into_iter()
            .filter(|c| c.seq <= last.seq)
            .peekable();
        for entry in &page {
            let checked = check_entry(entry, last_seq + 1, &previous, records.get(&entry.seq));
            previous = match checked {
                Ok(hash) => hash,
                Err(bad) => {
                    report.first_bad = Some(bad);
                    return Ok(report);
                }
            };
            last_seq = entry.seq;
            if let Some(checkpoint) = checkpoints.next_if(|c| c.seq == entry.seq) {
                if let Err(bad) = check_checkpoint(&checkpoint, entry, &previous, key) {
                    report.first_bad = Some(bad);
                    return Ok(report);
                }
                report.checkpoints += 1;
            }
            report.records += 1;
        }
    }
    // A checkpoint beyond the end, or a head ahead of it: entries were removed at the end.
    let (head_seq, head_hash) = store.audit_head().await?;
    let beyond = store
        .checkpoints_after(last_seq, 1)
        .await?
        .first()
        .map(|c| c.seq);
    if beyond.is_some() || head_seq != last_seq || (head_seq > 0 && head_hash != previous) {
        let signed = beyond.unwrap_or(head_seq);
        report.first_bad = Some(BadRecord {
            seq: Some(last_seq + 1),
            source: None,
            record_id: None,
            problem: "chain_truncated".to_owned(),
            detail: format!(
                "the chain ends at entry {last_seq} but the server wrote up to {}",
                signed.max(head_seq)
            ),
        });
        return Ok(report);
    }
    for source in Source::ALL {
        if let Some(id) = store.unchained_record(source).await? {
            report.first_bad = Some(BadRecord {
                seq: None,
                source: Some(source.as_str().to_owned()),
                record_id: Some(id),
                problem: "unchained_record".to_owned(),
                detail: format!("this {} record was never chained", source.as_str()),
            });
            return Ok(report);
        }
    }
    report.ok = true;
    Ok(report)
}
