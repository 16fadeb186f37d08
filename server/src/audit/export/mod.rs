//! Verifiable exports of the audit trail, streamed in pages (constant memory).
//!
//! An export covers a contiguous stretch of the chain: from the first entry recorded at
//! or after `from` to the first signed checkpoint at or after the last entry recorded
//! before `to` (signing one now when there is none yet), so the stretch ends at a
//! signature. Entries recorded in `[from, to)` that match the filter are shown in full;
//! every other entry of the stretch is shown by its digest only (`redacted`). The header
//! names the period, the filter, the stretch and the hash of the entry before it.
//! [`offline::verify_export`] checks such a file with nothing but the public key.
//!
//! An import batch's entry (see [`crate::audit`]) is preceded by its members, in order,
//! each shown or redacted by the same rule, a page at a time; the entry's line states
//! its summary record's own digest (`data.record_digest`) so the batch can be checked.

pub mod display;
pub mod line;
pub mod names;
pub mod offline;

use super::GENESIS;
use super::checkpoint::{AuditKey, CheckpointSettings, checkpoint_if_due};
use super::records::{AlarmRow, OperatorRow, Source};
use crate::store::{ChainEntry, Chained, Checkpoint, Store, StoreError};
use base64::Engine;
use chrono::{DateTime, Utc};
use line::{COLUMNS, Line, time};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::borrow::Cow;
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
/// credential, outcome or reason, so those filters leave them redacted).
///
/// `zone_id` and `site_id` match by place: a record of that zone, or any record at the
/// doors (`at_doors`: those leading into the zone, or every door of the site) — door
/// incidents such as a forced door carry the door only — or an alarm of an agent serving
/// one of them (`at_agents`). Both sets are resolved once when the export starts
/// ([`plan`]) and written in the header, so the verifier checks against the same sets.
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub site_id: Option<Uuid>,
    /// Resolved from `zone_id`/`site_id` by [`plan`]: the doors of the place.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_doors: Vec<Uuid>,
    /// Resolved from `zone_id`/`site_id` by [`plan`]: the agents serving those doors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub at_agents: Vec<Uuid>,
}

impl ExportFilter {
    /// The fields matched by equality (the place is matched by [`Self::at_place`]).
    fn fields(&self) -> [(&'static str, Option<String>); 6] {
        let uuid = |u: Option<Uuid>| u.map(|u| u.to_string());
        [
            ("door_id", uuid(self.door_id)),
            ("person_id", uuid(self.person_id)),
            ("credential_id", uuid(self.credential_id)),
            ("outcome", self.outcome.clone()),
            ("reason", self.reason.clone()),
            ("kind", self.kind.clone()),
        ]
    }

    pub fn is_empty(&self) -> bool {
        self.fields().iter().all(|(_, v)| v.is_none())
            && self.zone_id.is_none()
            && self.site_id.is_none()
    }

    /// Whether the full record `line` matches.
    pub fn matches(&self, line: &Line) -> bool {
        self.fields()
            .iter()
            .all(|(name, want)| want.is_none() || line.get(name) == want.as_deref())
            && self.at_place(line)
    }

    /// Whether `line` is of the filter's zone or site (or there is none).
    fn at_place(&self, line: &Line) -> bool {
        if self.zone_id.is_none() && self.site_id.is_none() {
            return true;
        }
        let id = |name: &str| line.get(name).and_then(|v| v.parse::<Uuid>().ok());
        let zone = id("zone_id");
        if let Some(zone) = zone
            && self.zone_id == Some(zone)
        {
            return true;
        }
        let at_door = id("door_id").is_some_and(|d| self.at_doors.contains(&d));
        let alarm = line.get("source") == Some("alarm");
        let at_agent = alarm && id("agent_id").is_some_and(|a| self.at_agents.contains(&a));
        // A record of another zone through one of the doors (an exit, say) is not of
        // this zone; a door incident (no zone) at one is.
        let other_zone = self.zone_id.is_some() && zone.is_some();
        (at_door && !other_zone) || at_agent
    }
}

/// What to export (with display columns, unless [`Plan::without_display`]).
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
    /// Whether full records carry display columns and the file a name snapshot.
    pub display: bool,
    /// Ties the name snapshot's signatures to this export.
    pub export_id: Uuid,
    key: AuditKey,
}

impl Plan {
    /// The same export without display columns or name snapshot (for machines, and the
    /// benchmark's baseline): it verifies exactly as one with them.
    pub fn without_display(mut self) -> Plan {
        self.display = false;
        self
    }

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
                "display": self.display.then(|| json!({
                    "columns": display::DISPLAY_COLUMNS,
                    "note": display::DISPLAY_NOTE,
                    "names": "as of the export",
                    "export_id": self.export_id,
                })),
            }),
        )
    }
}

/// Finds the stretch for `request`, signing a checkpoint when the period's last entry
/// has none after it yet.
pub async fn plan(
    store: &Store,
    key: &AuditKey,
    mut request: ExportRequest,
) -> Result<Plan, StoreError> {
    let public_key = base64::engine::general_purpose::STANDARD.encode(key.public_key().as_bytes());
    resolve_place(store, &mut request.filter).await?;
    let bounds = store.chain_bounds(request.from, request.to).await?;
    let Some((first, last_in_period)) = bounds.filter(|(first, last)| first <= last) else {
        return Ok(Plan {
            request,
            stretch: None,
            previous_hash: GENESIS,
            public_key,
            display: true,
            export_id: Uuid::new_v4(),
            key: key.clone(),
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
        display: true,
        export_id: Uuid::new_v4(),
        key: key.clone(),
    })
}

/// Sets the filter's door and agent sets from its zone and site (once per export).
async fn resolve_place(store: &Store, filter: &mut ExportFilter) -> Result<(), StoreError> {
    filter.at_doors.clear();
    filter.at_agents.clear();
    if filter.zone_id.is_none() && filter.site_id.is_none() {
        return Ok(());
    }
    let model = crate::console::names::Names::load(store).await?;
    let mut doors: Vec<Uuid> = model
        .doors
        .values()
        .filter(|d| filter.zone_id.is_none_or(|z| d.to_zone_id == z))
        .filter(|d| filter.site_id.is_none_or(|s| d.site_id == s))
        .map(|d| d.id)
        .collect();
    doors.sort_unstable();
    let mut agents = Vec::new();
    let mut after = None;
    loop {
        let page = store.list_agents(after, PAGE).await?;
        after = page.last().map(|a| a.id);
        let full = page.len() == PAGE as usize;
        agents.extend(
            page.into_iter()
                .filter(|a| a.door_ids.iter().any(|d| doors.binary_search(d).is_ok()))
                .map(|a| a.id),
        );
        if !full {
            break;
        }
    }
    filter.at_doors = doors;
    filter.at_agents = agents;
    Ok(())
}

/// What [`page`] reads from the database for the entries after `after`, up to `last`.
pub struct PageRows {
    /// The page's entries, cut before the next import batch's entry.
    entries: Vec<ChainEntry>,
    batches: HashMap<i64, Uuid>,
    next_batch: Option<(i64, Uuid)>,
    /// The access events' record lines, without their chain fields.
    events: Vec<Chained<Result<Line, String>>>,
    operator_log: Vec<Chained<Result<OperatorRow, String>>>,
    alarms: Vec<Chained<Result<AlarmRow, String>>>,
    checkpoints: VecDeque<Checkpoint>,
}

impl PageRows {
    /// The position of the page's last entry (`after` when it has none).
    fn end(&self, after: i64) -> i64 {
        self.entries.last().map_or(after, |e| e.seq)
    }
}

/// The lines of the chain entries after `after`, up to `last`, at most a page: each
/// record in full or redacted, each checkpoint after its entry. The page stops before an
/// import batch's entry, returned with the batch's id, so that its members go first;
/// unless it is the page's first entry and `members_sent` says they went.
pub async fn page(
    store: &Store,
    plan: &Plan,
    after: i64,
    last: i64,
    members_sent: bool,
) -> Result<(Vec<Line>, Option<Uuid>), StoreError> {
    let rows = read_page(store, after, last, members_sent).await?;
    Ok(page_lines(plan, rows))
}

/// The database half of [`page`]: the queries, and the rows decoded. The entries come
/// with their access events in one statement (most entries are events); the operator
/// log, alarms and import batches are asked for only when the page holds entries of
/// theirs.
pub async fn read_page(
    store: &Store,
    after: i64,
    last: i64,
    members_sent: bool,
) -> Result<PageRows, StoreError> {
    let limit = u32::try_from((last - after).clamp(0, i64::from(PAGE))).unwrap_or(PAGE);
    let rows = store
        .chain_page_with_events(after, limit, Line::event_record)
        .await?;
    let mut entries = Vec::with_capacity(rows.len());
    let mut events = Vec::with_capacity(rows.len());
    for row in rows {
        // An entry that does not decode fails the export (the verifier names it).
        let entry = row.entry?;
        if let Some(event) = row.event {
            events.push(Chained {
                chain_seq: entry.seq,
                row: event,
            });
        }
        entries.push(entry);
    }
    let (Some(first), Some(end)) = (entries.first(), entries.last()) else {
        return Ok(PageRows {
            entries,
            batches: HashMap::new(),
            next_batch: None,
            events: Vec::new(),
            operator_log: Vec::new(),
            alarms: Vec::new(),
            checkpoints: VecDeque::new(),
        });
    };
    let (from, to) = (first.seq, end.seq);
    let holds = |source: Source| entries.iter().any(|e| e.source == source.as_str());
    let (operators, alarms) = (holds(Source::Operator), holds(Source::Alarm));
    let batches: HashMap<i64, Uuid> = if operators {
        store.chained_batches(from, to).await?.into_iter().collect()
    } else {
        HashMap::new()
    };
    let next_batch = entries
        .iter()
        .find(|e| batches.contains_key(&e.seq) && !(members_sent && e.seq == from))
        .map(|e| (e.seq, batches[&e.seq]));
    if let Some((seq, _)) = next_batch {
        entries.retain(|e| e.seq < seq);
    }
    let checkpoints = store.checkpoints_up_to(from - 1, to, PAGE).await?.into();
    let operator_log = if operators {
        store.chained_operator_log(from, to).await?
    } else {
        Vec::new()
    };
    let alarms = if alarms {
        store.chained_alarms(from, to).await?
    } else {
        Vec::new()
    };
    Ok(PageRows {
        entries,
        batches,
        next_batch,
        events,
        operator_log,
        alarms,
        checkpoints,
    })
}

/// The formatting half of [`page`]: the lines of the rows [`read_page`] read.
pub fn page_lines(plan: &Plan, rows: PageRows) -> (Vec<Line>, Option<Uuid>) {
    let PageRows {
        entries,
        batches,
        next_batch,
        events,
        operator_log,
        alarms,
        mut checkpoints,
    } = rows;
    let by_seq: HashMap<i64, &ChainEntry> = entries.iter().map(|e| (e.seq, e)).collect();
    // A record whose row does not decode (altered behind the database's back) cannot be
    // shown: it goes out by its digest only, and verifying the export names it.
    let mut full: HashMap<i64, Line> = HashMap::with_capacity(entries.len());
    for e in events {
        if let (Some(entry), Ok(mut line)) = (by_seq.get(&e.chain_seq), e.row) {
            line.put_entry(entry);
            full.insert(e.chain_seq, line);
        }
    }
    let mut own_digests = HashMap::new();
    for o in operator_log {
        if let (Some(entry), Ok(row)) = (by_seq.get(&o.chain_seq), &o.row) {
            full.insert(o.chain_seq, Line::operator(entry, row));
            own_digests.insert(o.chain_seq, row.digest());
        }
    }
    for a in alarms {
        if let (Some(entry), Ok(row)) = (by_seq.get(&a.chain_seq), &a.row) {
            full.insert(a.chain_seq, Line::alarm(entry, row));
        }
    }
    let request = &plan.request;
    let mut lines = Vec::with_capacity(entries.len());
    for entry in &entries {
        let in_period = (request.from..request.to).contains(&entry.recorded_at);
        let shown = full
            .remove(&entry.seq)
            .filter(|line| in_period && request.filter.matches(line));
        let mut line = shown.unwrap_or_else(|| Line::redacted(entry));
        if batches.contains_key(&entry.seq) {
            // A record that does not decode has no digest to state: the batch then fails
            // to verify, as the record would.
            let own = own_digests.get(&entry.seq).copied().unwrap_or_default();
            let data = json!({ "record_digest": hex::encode(own) });
            line.set("data", Some(&data.to_string()));
        }
        lines.push(line);
        while checkpoints.front().is_some_and(|c| c.seq == entry.seq) {
            if let Some(c) = checkpoints.pop_front() {
                lines.push(checkpoint_line(&c));
            }
        }
    }
    (lines, next_batch.map(|(_, batch)| batch))
}

/// A page of lines as [`lines_after`] gives them: the lines, the import batch whose
/// members go next, and the position of the page's last entry.
type PageOut = (Vec<Line>, Option<Uuid>, i64);

/// The lines of the page after `after` (see [`page`]), with the position of its last
/// entry.
async fn read_lines(
    store: &Store,
    plan: &Plan,
    after: i64,
    last: i64,
    members_sent: bool,
) -> Result<PageOut, StoreError> {
    let rows = read_page(store, after, last, members_sent).await?;
    let end = rows.end(after);
    let (lines, batch) = page_lines(plan, rows);
    Ok((lines, batch, end))
}

/// The next page, read and made into lines by a task of its own while the current page
/// gets its names and is encoded: on PostgreSQL the server's query work, on SQLite the
/// driver's thread, the rows' decoding and the lines then run beside the rest. Dropping
/// it (the download went away) stops the task.
struct Prefetch {
    after: i64,
    task: tokio::task::JoinHandle<Result<PageOut, StoreError>>,
}

impl Prefetch {
    fn start(store: &Store, plan: &Plan, after: i64, last: i64) -> Prefetch {
        let (store, plan) = (store.clone(), plan.clone());
        let task = tokio::spawn(async move { read_lines(&store, &plan, after, last, false).await });
        Prefetch { after, task }
    }
}

impl Drop for Prefetch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The page after `after`: the prefetched one when it is that page.
async fn lines_after(
    store: &Store,
    plan: &Plan,
    prefetched: Option<Prefetch>,
    after: i64,
    last: i64,
    members_sent: bool,
) -> Result<PageOut, StoreError> {
    if let Some(mut prefetch) = prefetched
        && prefetch.after == after
        && !members_sent
    {
        // A task that failed to run (it cannot panic) falls back to reading here.
        if let Ok(page) = (&mut prefetch.task).await {
            return page;
        }
    }
    read_lines(store, plan, after, last, members_sent).await
}

/// The lines of up to a page of the members after position `after_pos` of import batch
/// `batch`, chained at `entry`: each in full or redacted, as the records are.
pub async fn member_page(
    store: &Store,
    plan: &Plan,
    entry: &ChainEntry,
    batch: Uuid,
    after_pos: i64,
) -> Result<(Vec<Line>, i64), StoreError> {
    let request = &plan.request;
    let in_period = (request.from..request.to).contains(&entry.recorded_at);
    let mut lines = Vec::new();
    let mut last_pos = after_pos;
    for member in store.batch_members(batch, after_pos, PAGE).await? {
        // A member that does not read is left out: the batch then fails to verify.
        let Ok(member) = member else { continue };
        last_pos = member.pos;
        let row = member.row.as_ref().and_then(|r| r.as_ref().ok());
        let full = row.map(|row| Line::member(entry, &member, Some(row)));
        let shown = full.filter(|line| in_period && request.filter.matches(line));
        lines.push(shown.unwrap_or_else(|| Line::member(entry, &member, None)));
    }
    Ok((lines, last_pos))
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
        Format::Ndjson => {
            let mut out = Vec::with_capacity(lines.len() * 1_024);
            for line in lines {
                line.write_ndjson(&mut out);
            }
            out
        }
        Format::Csv => {
            let out = Vec::with_capacity(lines.len() * 768);
            let mut writer = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(out);
            // Writing to a Vec cannot fail.
            if first {
                let _ = writer.write_record(COLUMNS);
            }
            for line in lines {
                let _ = writer.write_record(line.csv_cells_borrowed().map(|cell| match cell {
                    Cow::Borrowed(text) => Cow::Borrowed(text.as_bytes()),
                    Cow::Owned(text) => Cow::Owned(text.into_bytes()),
                }));
            }
            writer.into_inner().unwrap_or_default()
        }
    }
}

/// [`encode`] as it was first written (every cell through a `serde_json` map or an
/// owned CSV cell): the definition the export's bytes are tested against.
pub fn encode_reference(format: Format, lines: &[Line], first: bool) -> Vec<u8> {
    match format {
        Format::Ndjson => lines.iter().flat_map(|l| l.ndjson().into_bytes()).collect(),
        Format::Csv => {
            let mut writer = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::new());
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
        /// Entries after this position; the bool: the members of the next one went.
        After(i64, bool),
        /// Members of the import batch chained at the position, after the member.
        Members(i64, Uuid, i64),
        Done,
    }
    futures_util::stream::unfold(
        (Next::Header, None, None),
        move |(next, resolver, prefetched)| {
            let (store, plan) = (store.clone(), plan.clone());
            async move {
                let mut resolver: Option<names::Resolver> = resolver;
                let format = plan.request.format;
                let last = plan.stretch.map_or(0, |(_, last)| last);
                match next {
                    Next::Header => {
                        if plan.display {
                            let export_id = plan.export_id;
                            match names::Resolver::new(&store, plan.key.clone(), export_id).await {
                                Ok(r) => resolver = Some(r),
                                Err(e) => return Some((Err(e), (Next::Done, None, None))),
                            }
                        }
                        let chunk = encode(format, &[plan.header()], true);
                        let after = plan
                            .stretch
                            .map_or(Next::Done, |(first, _)| Next::After(first - 1, false));
                        Some((Ok((chunk, 0)), (after, resolver, None)))
                    }
                    Next::After(after, members_sent) => {
                        let page =
                            lines_after(&store, &plan, prefetched, after, last, members_sent).await;
                        let mut prefetch = None;
                        let result = match page {
                            Ok((mut lines, batch, end)) => {
                                if batch.is_none() && end < last && end > after {
                                    prefetch = Some(Prefetch::start(&store, &plan, end, last));
                                }
                                with_names(&store, &mut resolver, &mut lines)
                                    .await
                                    .map(|()| (lines, batch))
                            }
                            Err(e) => Err(e),
                        };
                        match result {
                            Err(e) => Some((Err(e), (Next::Done, None, None))),
                            Ok((lines, batch)) => {
                                let seqs: Vec<i64> = lines
                                    .iter()
                                    .filter(|l| matches!(l.kind(), "record" | "redacted"))
                                    .filter_map(Line::seq)
                                    .collect();
                                let end = seqs.last().copied().unwrap_or(after);
                                let next = match batch {
                                    Some(batch) => Next::Members(end + 1, batch, 0),
                                    None if end < last && end > after => Next::After(end, false),
                                    None => Next::Done,
                                };
                                let chunk = encode(format, &lines, false);
                                let entries = seqs.len() as u64;
                                Some((Ok((chunk, entries)), (next, resolver, prefetch)))
                            }
                        }
                    }
                    Next::Members(seq, batch, after_pos) => {
                        let lines = match store.chain_page(seq - 1, 1).await {
                            Err(e) => Err(e),
                            Ok(entries) => match entries.first() {
                                Some(entry) => {
                                    member_page(&store, &plan, entry, batch, after_pos).await
                                }
                                None => Ok((Vec::new(), after_pos)),
                            },
                        };
                        let lines = match lines {
                            Ok((mut lines, last_pos)) => {
                                with_names(&store, &mut resolver, &mut lines)
                                    .await
                                    .map(|()| (lines, last_pos))
                            }
                            Err(e) => Err(e),
                        };
                        match lines {
                            Err(e) => Some((Err(e), (Next::Done, None, None))),
                            Ok((lines, last_pos)) if last_pos > after_pos => {
                                let chunk = encode(format, &lines, false);
                                let next = Next::Members(seq, batch, last_pos);
                                Some((Ok((chunk, 0)), (next, resolver, None)))
                            }
                            // Every member went: now the batch's own entry, and on.
                            Ok(_) => {
                                let next = Next::After(seq - 1, true);
                                Some((Ok((Vec::new(), 0)), (next, resolver, None)))
                            }
                        }
                    }
                    Next::Done => None,
                }
            }
        },
    )
}

/// Puts the display columns in `lines`' full records and the names they need first.
async fn with_names(
    store: &Store,
    resolver: &mut Option<names::Resolver>,
    lines: &mut Vec<Line>,
) -> Result<(), StoreError> {
    let Some(resolver) = resolver else {
        return Ok(());
    };
    if lines.is_empty() {
        return Ok(());
    }
    if let Some(names) = resolver.prepare(store, lines).await? {
        lines.insert(0, names);
    }
    Ok(())
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
