//! Verifiable exports of the audit trail, streamed in pages (constant memory).
//!
//! An export covers a contiguous stretch of the chain: from the first entry recorded at
//! or after `from` to the first signed checkpoint at or after the last entry recorded
//! before `to` (signing one now when there is none yet), so the stretch ends at a
//! signature. Entries recorded in `[from, to)` that match the filter are shown in full;
//! every other entry of the stretch is shown by its digest only (`redacted`). The header
//! names the period, the filter, the stretch and the hash of the entry before it.
//! [`offline::verify_export`] checks such a file with nothing but the public key.

pub mod line;
pub mod offline;

use super::GENESIS;
use super::checkpoint::{AuditKey, CheckpointSettings, checkpoint_if_due};
use crate::store::{ChainEntry, Checkpoint, Store, StoreError};
use base64::Engine;
use chrono::{DateTime, Utc};
use line::{COLUMNS, Line, time};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::{HashMap, VecDeque};
use uuid::Uuid;

/// The header's `format`.
pub const FORMAT_NAME: &str = "gatehouse-audit-export/1";
const PAGE: u32 = 2_000;

/// The file format.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, utoipa::ToSchema, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Ndjson,
    Csv,
}

/// Which records to show in full; `None` matches everything. A record matches when each
/// set field equals the record's own (operator actions and alarms have no door, person,
/// credential, zone, outcome or reason, so those filters leave them redacted).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ExportFilter {
    pub door_id: Option<Uuid>,
    pub person_id: Option<Uuid>,
    pub credential_id: Option<Uuid>,
    pub zone_id: Option<Uuid>,
    pub outcome: Option<String>,
    pub reason: Option<String>,
    /// The event kind, operator action or alarm kind.
    pub kind: Option<String>,
}

impl ExportFilter {
    fn fields(&self) -> [(&'static str, Option<String>); 7] {
        let uuid = |u: Option<Uuid>| u.map(|u| u.to_string());
        [
            ("door_id", uuid(self.door_id)),
            ("person_id", uuid(self.person_id)),
            ("credential_id", uuid(self.credential_id)),
            ("zone_id", uuid(self.zone_id)),
            ("outcome", self.outcome.clone()),
            ("reason", self.reason.clone()),
            ("kind", self.kind.clone()),
        ]
    }

    pub fn is_empty(&self) -> bool {
        self.fields().iter().all(|(_, v)| v.is_none())
    }

    /// Whether the full record `line` matches.
    pub fn matches(&self, line: &Line) -> bool {
        self.fields()
            .iter()
            .all(|(name, want)| want.is_none() || line.get(name) == want.as_deref())
    }
}

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportRequest {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub filter: ExportFilter,
    pub format: Format,
}

/// The stretch of chain an export covers.
#[derive(Debug, Clone)]
pub struct Plan {
    pub request: ExportRequest,
    /// `None` when nothing was recorded in the period.
    pub stretch: Option<(i64, i64)>,
    pub previous_hash: [u8; 32],
    pub public_key: String,
}

impl Plan {
    /// Entries the export will hold.
    pub fn entries(&self) -> u64 {
        self.stretch.map_or(0, |(first, last)| {
            u64::try_from(last - first + 1).unwrap_or(0)
        })
    }

    fn header(&self) -> Line {
        let (first, last) = self.stretch.unzip();
        Line::with_data(
            "header",
            &json!({
                "format": FORMAT_NAME,
                "from": time(self.request.from),
                "to": time(self.request.to),
                "filter": self.request.filter,
                "first_seq": first,
                "last_seq": last,
                "previous_hash": hex::encode(self.previous_hash),
                "public_key": self.public_key,
                "exported_at": time(Utc::now()),
            }),
        )
    }
}

/// Finds the stretch for `request`, signing a checkpoint when the period's last entry
/// has none after it yet.
pub async fn plan(
    store: &Store,
    key: &AuditKey,
    request: ExportRequest,
) -> Result<Plan, StoreError> {
    let public_key = base64::engine::general_purpose::STANDARD.encode(key.public_key().as_bytes());
    let bounds = store.chain_bounds(request.from, request.to).await?;
    let Some((first, last_in_period)) = bounds.filter(|(first, last)| first <= last) else {
        return Ok(Plan {
            request,
            stretch: None,
            previous_hash: GENESIS,
            public_key,
        });
    };
    let mut covering = store.checkpoints_after(last_in_period - 1, 1).await?;
    if covering.is_empty() {
        let now = CheckpointSettings {
            checkpoint_records: 1,
            ..CheckpointSettings::default()
        };
        checkpoint_if_due(store, key, now).await?;
        covering = store.checkpoints_after(last_in_period - 1, 1).await?;
    }
    let last = covering.first().map_or(last_in_period, |c| c.seq);
    let previous_hash = match store.chain_page(first - 2, 1).await?.first() {
        Some(entry) if first > 1 => super::hash32(&entry.hash),
        _ => GENESIS,
    };
    Ok(Plan {
        request,
        stretch: Some((first, last)),
        previous_hash,
        public_key,
    })
}

/// The lines of the chain entries after `after`, up to `last`, at most a page: each
/// record in full or redacted, each checkpoint after its entry.
pub async fn page(
    store: &Store,
    plan: &Plan,
    after: i64,
    last: i64,
) -> Result<Vec<Line>, StoreError> {
    let limit = u32::try_from((last - after).clamp(0, i64::from(PAGE))).unwrap_or(PAGE);
    let entries = store.chain_page(after, limit).await?;
    let (Some(first), Some(end)) = (entries.first(), entries.last()) else {
        return Ok(Vec::new());
    };
    let (from, to) = (first.seq, end.seq);
    let by_seq: HashMap<i64, &ChainEntry> = entries.iter().map(|e| (e.seq, e)).collect();
    // A record whose row does not decode (altered behind the database's back) cannot be
    // shown: it goes out by its digest only, and verifying the export names it.
    let mut full: HashMap<i64, Line> = HashMap::new();
    for e in store.chained_events(from, to).await? {
        if let (Some(entry), Ok(row)) = (by_seq.get(&e.chain_seq), &e.row) {
            full.insert(e.chain_seq, Line::event(entry, row));
        }
    }
    for o in store.chained_operator_log(from, to).await? {
        if let (Some(entry), Ok(row)) = (by_seq.get(&o.chain_seq), &o.row) {
            full.insert(o.chain_seq, Line::operator(entry, row));
        }
    }
    for a in store.chained_alarms(from, to).await? {
        if let (Some(entry), Ok(row)) = (by_seq.get(&a.chain_seq), &a.row) {
            full.insert(a.chain_seq, Line::alarm(entry, row));
        }
    }
    let mut checkpoints: VecDeque<Checkpoint> = store
        .checkpoints_after(from - 1, PAGE)
        .await?
        .into_iter()
        .filter(|c| c.seq <= to)
        .collect();
    let request = &plan.request;
    let mut lines = Vec::with_capacity(entries.len());
    for entry in &entries {
        let in_period = (request.from..request.to).contains(&entry.recorded_at);
        let shown = full
            .remove(&entry.seq)
            .filter(|line| in_period && request.filter.matches(line));
        lines.push(shown.unwrap_or_else(|| Line::redacted(entry)));
        while checkpoints.front().is_some_and(|c| c.seq == entry.seq) {
            if let Some(c) = checkpoints.pop_front() {
                lines.push(checkpoint_line(&c));
            }
        }
    }
    Ok(lines)
}

fn checkpoint_line(c: &Checkpoint) -> Line {
    Line::with_data(
        "checkpoint",
        &json!({
            "seq": c.seq,
            "hash": hex::encode(&c.hash),
            "signed_at": time(c.signed_at),
            "signature": hex::encode(&c.signature),
        }),
    )
}

/// Encodes lines in `format`; `first` adds the CSV column row.
pub fn encode(format: Format, lines: &[Line], first: bool) -> Vec<u8> {
    match format {
        Format::Ndjson => lines.iter().flat_map(|l| l.ndjson().into_bytes()).collect(),
        Format::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
            // Writing to a Vec cannot fail.
            if first {
                let _ = writer.write_record(COLUMNS);
            }
            for line in lines {
                let _ = writer.write_record(line.csv_cells());
            }
            writer.into_inner().unwrap_or_default()
        }
    }
}

/// The export as a stream of chunks, each with the number of chain entries it holds:
/// the header, then a page of lines at a time.
pub fn stream(
    store: Store,
    plan: Plan,
) -> impl futures_util::Stream<Item = Result<(Vec<u8>, u64), StoreError>> + Send {
    enum Next {
        Header,
        After(i64),
        Done,
    }
    futures_util::stream::unfold(Next::Header, move |next| {
        let (store, plan) = (store.clone(), plan.clone());
        async move {
            match next {
                Next::Header => {
                    let chunk = encode(plan.request.format, &[plan.header()], true);
                    let after = plan
                        .stretch
                        .map_or(Next::Done, |(first, _)| Next::After(first - 1));
                    Some((Ok((chunk, 0)), after))
                }
                Next::After(after) => {
                    let last = plan.stretch.map_or(0, |(_, last)| last);
                    match page(&store, &plan, after, last).await {
                        Err(e) => Some((Err(e), Next::Done)),
                        Ok(lines) => {
                            let seqs: Vec<i64> = lines
                                .iter()
                                .filter_map(|l| l.get("seq").and_then(|s| s.parse().ok()))
                                .collect();
                            let next = match seqs.last() {
                                Some(&seq) if seq < last => Next::After(seq),
                                _ => Next::Done,
                            };
                            let chunk = encode(plan.request.format, &lines, false);
                            Some((Ok((chunk, seqs.len() as u64)), next))
                        }
                    }
                }
                Next::Done => None,
            }
        }
    })
}

/// The operator-log details of an export (exports are themselves logged).
pub fn log_details(plan: &Plan) -> Value {
    json!({
        "from": time(plan.request.from),
        "to": time(plan.request.to),
        "format": plan.request.format,
        "filter": plan.request.filter,
        "first_seq": plan.stretch.map(|s| s.0),
        "last_seq": plan.stretch.map(|s| s.1),
    })
}
