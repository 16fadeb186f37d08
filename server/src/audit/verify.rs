//! Verifying the whole trail: walks the chain in pages (constant memory), recomputes each
//! record's digest from its row and each entry's hash from the one before, checks every
//! signed checkpoint against the chain and the server's public key, then looks for rows
//! no entry names. Stops at the first problem and names it. A row that does not decode
//! (a value altered behind the database's back) is such a problem, named at its chain
//! position, never an error. An import batch's entry is checked member by member
//! ([`check_batch`]): a member whose record is altered, missing or unreadable is named
//! at the batch's position with the member's id, and a list that was changed (a member
//! added, removed or reordered) makes the batch's own digest differ (`record_altered`).

use super::checkpoint::signature_valid;
use super::records::Source;
use super::{GENESIS, batch_digest, chain_hash, hash32, member_hash};
use crate::store::{ChainEntry, Checkpoint, Store, StoreError, Unreadable, Verification};
use ed25519_dalek::VerifyingKey;
use serde::Serialize;
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use strum::IntoEnumIterator;
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

/// A chained record's id and digest, or why its row does not decode.
type Found = Result<(Uuid, [u8; 32]), String>;

/// The operator-log entries and alarms named by entries `from..=to` (the events come
/// with their entries), by chain position; each table is read only when `sources` says
/// the page holds entries of it.
async fn other_digests(
    store: &Store,
    from: i64,
    to: i64,
    sources: (bool, bool),
    found: &mut HashMap<i64, Found>,
) -> Result<(), StoreError> {
    let (operators, alarms) = sources;
    if operators {
        for o in store.chained_operator_log(from, to).await? {
            found.insert(o.chain_seq, o.row.map(|r| (r.id, r.digest())));
        }
    }
    if alarms {
        for a in store.chained_alarms(from, to).await? {
            found.insert(a.chain_seq, a.row.map(|r| (r.id, r.digest())));
        }
    }
    Ok(())
}

/// A problem with member `record_id` of the import batch chained at `seq`.
fn member_problem(seq: i64, record_id: Option<Uuid>, problem: &str, detail: String) -> BadRecord {
    BadRecord {
        seq: Some(seq),
        source: Some(Source::Operator.to_string()),
        record_id,
        problem: problem.to_owned(),
        detail,
    }
}

/// Checks every member of import batch `batch`, chained at `seq`, against its
/// operator-log record, in order: their running hash and count, or the first member
/// that is altered or missing.
async fn check_batch(
    store: &Store,
    seq: i64,
    batch: Uuid,
) -> Result<Result<([u8; 32], i64), BadRecord>, StoreError> {
    let mut running = GENESIS;
    let mut after = 0;
    loop {
        let page = store.batch_members(batch, after, PAGE).await?;
        if page.is_empty() {
            return Ok(Ok((running, after)));
        }
        for member in page {
            let member = match member {
                Ok(member) => member,
                Err(e) => {
                    let pos = e.seq.unwrap_or(after + 1);
                    let detail = format!(
                        "member {pos} of import batch {batch} cannot be read: {}",
                        e.error
                    );
                    return Ok(Err(member_problem(seq, None, "record_altered", detail)));
                }
            };
            let (pos, id) = (member.pos, Some(member.record_id));
            if pos != after + 1 {
                let detail = format!(
                    "member {} of import batch {batch} is missing from its list (the next is {pos})",
                    after + 1
                );
                return Ok(Err(member_problem(seq, None, "record_missing", detail)));
            }
            match &member.row {
                Some(Ok(row)) if row.digest() == member.digest => {}
                Some(Ok(_)) => {
                    let detail = format!(
                        "member {pos} of import batch {batch}: the record's content differs \
                         from what was chained"
                    );
                    return Ok(Err(member_problem(seq, id, "record_altered", detail)));
                }
                Some(Err(error)) => {
                    let detail = format!(
                        "member {pos} of import batch {batch}: the operator record cannot be \
                         read: {error}"
                    );
                    return Ok(Err(member_problem(seq, id, "record_altered", detail)));
                }
                None => {
                    let detail = format!(
                        "member {pos} of import batch {batch}: the operator record is not in \
                         the database"
                    );
                    return Ok(Err(member_problem(seq, id, "record_missing", detail)));
                }
            }
            running = member_hash(&running, pos, member.record_id, &member.digest);
            after = pos;
        }
    }
}

/// A problem with a row that does not decode, at `seq` when that much reads.
fn unreadable(seq: Option<i64>, problem: &str, detail: String) -> BadRecord {
    BadRecord {
        seq,
        source: None,
        record_id: None,
        problem: problem.to_owned(),
        detail,
    }
}

/// Checks one entry against its record and the entry before it; returns its hash.
fn check_entry(
    entry: &ChainEntry,
    expected_seq: i64,
    previous: &[u8; 32],
    record: Option<&Found>,
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
        Some(Ok((id, actual))) if *id == entry.record_id && *actual == digest => {}
        Some(Ok(_)) => {
            let detail = "the record's content differs from what was chained".to_owned();
            return Err(BadRecord::at(entry, "record_altered", detail));
        }
        // Nothing the server writes fails to decode: the row was changed behind its back.
        Some(Err(error)) => {
            let detail = format!("the {source} record cannot be read: {error}");
            return Err(BadRecord::at(entry, "record_altered", detail));
        }
        None => {
            let detail = format!("the {source} record is not in the database");
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
    checkpoint: &Result<Checkpoint, Unreadable>,
    entry: &ChainEntry,
    hash: &[u8; 32],
    key: &VerifyingKey,
) -> Result<(), BadRecord> {
    let checkpoint = match checkpoint {
        Ok(checkpoint) => checkpoint,
        Err(e) => {
            let detail = format!("the checkpoint cannot be read: {}", e.error);
            return Err(BadRecord::at(entry, "checkpoint_mismatch", detail));
        }
    };
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

/// The position of a checkpoint as read, when that much decodes.
fn checkpoint_seq(checkpoint: &Result<Checkpoint, Unreadable>) -> Option<i64> {
    match checkpoint {
        Ok(c) => Some(c.seq),
        Err(e) => e.seq,
    }
}

/// Verifies the trail in `store` against the server's audit public key. A row that does
/// not decode is a finding like any other, never an error: only the database being
/// unreachable is.
pub async fn verify(store: &Store, key: &VerifyingKey) -> Result<VerifyReport, StoreError> {
    verify_counting(store, key, &AtomicI64::new(0)).await
}

/// [`verify`], keeping in `checked` how many entries it has checked so far (a page at a
/// time), so that a page can show its progress while it runs.
pub async fn verify_counting(
    store: &Store,
    key: &VerifyingKey,
    checked: &AtomicI64,
) -> Result<VerifyReport, StoreError> {
    let mut report = VerifyReport {
        ok: false,
        records: 0,
        checkpoints: 0,
        first_bad: None,
    };
    match walk(store, key, &mut report, checked).await? {
        Some(bad) => report.first_bad = Some(bad),
        None => report.ok = true,
    }
    let done = Verification {
        finished_at: crate::store::now(),
        ok: report.ok,
        records: report.records,
        checkpoints: report.checkpoints,
        problem: report.first_bad.as_ref().map(|bad| bad.detail.clone()),
    };
    // The report stands even when it cannot be recorded (the health page then shows an
    // older one).
    if let Err(error) = store.record_verification(&done).await {
        tracing::warn!(%error, "cannot record the verification");
    }
    Ok(report)
}

/// One page of the walk as read: the entries after a position, the digests of their
/// records (with each import batch's members folded in, or the batch's first bad
/// member), and the checkpoints among them.
struct WalkPage {
    entries: Vec<Result<ChainEntry, Unreadable>>,
    /// The position of the page's last readable entry.
    to: i64,
    records: HashMap<i64, Found>,
    bad_members: HashMap<i64, BadRecord>,
    checkpoints: Vec<Result<Checkpoint, Unreadable>>,
}

/// Reads the page of entries after `last_seq` and digests their records; `None` past
/// the end of the chain. The entries and their events come in one statement, each
/// event digested from its row as it arrives (its texts and bytes not copied).
async fn read_walk_page(store: &Store, last_seq: i64) -> Result<Option<WalkPage>, StoreError> {
    let rows = store
        .chain_page_with_events(last_seq, PAGE, |e| (e.id, e.digest()))
        .await?;
    if rows.is_empty() {
        return Ok(None);
    }
    let mut entries = Vec::with_capacity(rows.len());
    let mut records = HashMap::with_capacity(rows.len());
    let (mut operators, mut alarms) = (false, false);
    for row in rows {
        if let Ok(entry) = &row.entry {
            if let Some(event) = row.event {
                records.insert(entry.seq, event);
            }
            operators |= entry.source == Source::Operator.as_str();
            alarms |= entry.source == Source::Alarm.as_str();
        }
        entries.push(row.entry);
    }
    let from = last_seq + 1;
    let to = entries
        .iter()
        .filter_map(|e| e.as_ref().ok().map(|e| e.seq))
        .max()
        .unwrap_or(from);
    other_digests(store, from, to, (operators, alarms), &mut records).await?;
    // An import batch's entry commits to its summary record and its members.
    let mut bad_members = HashMap::new();
    let batches = if operators {
        store.chained_batches(from, to).await?
    } else {
        Vec::new()
    };
    for (seq, batch) in batches {
        match check_batch(store, seq, batch).await? {
            Ok((members, count)) => {
                if let Some(Ok((_, digest))) = records.get_mut(&seq) {
                    *digest = batch_digest(digest, &members, count);
                }
            }
            Err(bad) => {
                bad_members.insert(seq, bad);
            }
        }
    }
    // At most one checkpoint per entry, so a page of them covers a page of entries.
    let checkpoints = store
        .checkpoints_up_to_read(last_seq, to, PAGE)
        .await?
        .into_iter()
        .filter(|c| checkpoint_seq(c).is_some_and(|seq| seq <= to))
        .collect();
    Ok(Some(WalkPage {
        entries,
        to,
        records,
        bad_members,
        checkpoints,
    }))
}

/// The next page of the walk, read (and its records digested) by a task of its own
/// while the current page's entries are chained: reading and digesting then run beside
/// the chain hashing. Dropping it (the walk stopped at a problem) stops the task.
struct NextPage {
    after: i64,
    task: tokio::task::JoinHandle<Result<Option<WalkPage>, StoreError>>,
}

impl NextPage {
    fn start(store: &Store, after: i64) -> NextPage {
        let store = store.clone();
        let task = tokio::spawn(async move { read_walk_page(&store, after).await });
        NextPage { after, task }
    }

    /// The page after `last_seq`: the one read ahead when it is that page.
    async fn take(
        next: Option<NextPage>,
        store: &Store,
        last_seq: i64,
    ) -> Result<Option<WalkPage>, StoreError> {
        if let Some(mut next) = next
            && next.after == last_seq
        {
            // A task that failed to run (it cannot panic) falls back to reading here.
            if let Ok(page) = (&mut next.task).await {
                return page;
            }
        }
        read_walk_page(store, last_seq).await
    }
}

impl Drop for NextPage {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Walks the chain, then the head and the unchained rows; the first problem found.
async fn walk(
    store: &Store,
    key: &VerifyingKey,
    report: &mut VerifyReport,
    checked: &AtomicI64,
) -> Result<Option<BadRecord>, StoreError> {
    let mut previous = GENESIS;
    let mut last_seq = 0;
    let mut next = None;
    loop {
        let Some(page) = NextPage::take(next.take(), store, last_seq).await? else {
            break;
        };
        // The walk goes on past this page only when every entry checks, up to `to`.
        next = Some(NextPage::start(store, page.to));
        let WalkPage {
            entries,
            records,
            mut bad_members,
            checkpoints,
            ..
        } = page;
        let mut checkpoints = checkpoints.into_iter().peekable();
        for entry in &entries {
            let entry = match entry {
                Ok(entry) => entry,
                Err(e) => {
                    let detail = format!("the chain entry cannot be read: {}", e.error);
                    let seq = e.seq.or(Some(last_seq + 1));
                    return Ok(Some(unreadable(seq, "chain_altered", detail)));
                }
            };
            if let Some(bad) = bad_members.remove(&entry.seq) {
                return Ok(Some(bad));
            }
            previous = match check_entry(entry, last_seq + 1, &previous, records.get(&entry.seq)) {
                Ok(hash) => hash,
                Err(bad) => return Ok(Some(bad)),
            };
            last_seq = entry.seq;
            if let Some(checkpoint) = checkpoints.next_if(|c| checkpoint_seq(c) == Some(entry.seq))
            {
                if let Err(bad) = check_checkpoint(&checkpoint, entry, &previous, key) {
                    return Ok(Some(bad));
                }
                report.checkpoints += 1;
            }
            report.records += 1;
        }
        checked.store(report.records, Ordering::Relaxed);
    }
    // A checkpoint beyond the end, or a head ahead of it: entries were removed at the end.
    let (head_seq, head_hash) = match store.audit_head_read().await? {
        Ok(head) => head,
        Err(e) => {
            let detail = format!("the chain head cannot be read: {e}");
            return Ok(Some(unreadable(None, "chain_altered", detail)));
        }
    };
    let beyond = match store.checkpoints_after_read(last_seq, 1).await?.pop() {
        None => None,
        Some(Ok(checkpoint)) => Some(checkpoint.seq),
        Some(Err(e)) => {
            let detail = format!("a checkpoint cannot be read: {}", e.error);
            return Ok(Some(unreadable(e.seq, "checkpoint_mismatch", detail)));
        }
    };
    if beyond.is_some() || head_seq != last_seq || (head_seq > 0 && head_hash != previous) {
        let signed = beyond.unwrap_or(head_seq);
        return Ok(Some(BadRecord {
            seq: Some(last_seq + 1),
            source: None,
            record_id: None,
            problem: "chain_truncated".to_owned(),
            detail: format!(
                "the chain ends at entry {last_seq} but the server wrote up to {}",
                signed.max(head_seq)
            ),
        }));
    }
    for source in Source::iter() {
        let Some(id) = store.unchained_record(source).await? else {
            continue;
        };
        let detail = match &id {
            Ok(_) => format!("this {source} record was never chained"),
            Err(e) => format!("a {source} record whose id cannot be read was never chained: {e}"),
        };
        return Ok(Some(BadRecord {
            seq: None,
            source: Some(source.to_string()),
            record_id: id.ok(),
            problem: "unchained_record".to_owned(),
            detail,
        }));
    }
    Ok(None)
}
