//! Verifying an export file with nothing but the server's audit public key: every
//! record shown in full must hash to its digest, every entry must chain from the one
//! before (starting from the header's `previous_hash`), numbers must run without a gap
//! to the header's `last_seq`, and the stretch must end at a checkpoint whose signature
//! verifies. So no record of the stretch can have been altered, removed, added or
//! reordered. In an unfiltered export a record of the period cannot be hidden either
//! (a redacted entry recorded inside the period is an error); in a filtered one the
//! redacted entries prove only that something else was recorded there.
//!
//! An import batch's entry comes after its members (`member` or `member_redacted`
//! lines, in order, at the entry's position): each shown member must hash to its digest,
//! and the entry's digest must be that of its summary record (`record_digest` in its
//! `data`) and the members' running hash, so a member cannot be altered, removed, added
//! or reordered either.
//!
//! Display columns (names, site-local time) are outside the digests: when the header
//! declares them, every full record's display columns must equal what the signed name
//! snapshot (`names` lines, [`super::display`]) gives for its digested ids and time, and
//! every snapshot part must carry a valid signature for this export; a file whose
//! header declares none must carry none. So a name cannot be edited unnoticed either.

use super::display::{self, Names, SignedNames};
use super::line::{CsvLayout, Line, source_of};
use super::{ExportFilter, FORMAT_NAME};
use crate::audit::checkpoint::{names_signature_valid, signature_valid};
use crate::audit::records::{AlarmRow, EventRow, OperatorRow, Source};
use crate::audit::{GENESIS, batch_digest, chain_hash, member_hash};
use crate::store::Checkpoint;
use chrono::{DateTime, Utc};
use ed25519_dalek::VerifyingKey;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::types::Json;
use std::io::BufRead;
use uuid::Uuid;

/// The outcome of verifying an export file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportReport {
    pub ok: bool,
    /// Records shown in full and verified.
    pub records: u64,
    /// Entries shown by digest only.
    pub redacted: u64,
    /// Signed checkpoints verified.
    pub checkpoints: u64,
    /// When the names of the display columns were read (the signed snapshot's time);
    /// absent for an export without display columns.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub names_as_of: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_bad: Option<ExportProblem>,
}

/// What is wrong, and where in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportProblem {
    /// The line of the file, from 1 (CSV: counting the column row).
    pub line: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seq: Option<i64>,
    pub problem: String,
    pub detail: String,
}

#[derive(Deserialize)]
struct Header {
    format: String,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    filter: ExportFilter,
    first_seq: Option<i64>,
    last_seq: Option<i64>,
    previous_hash: String,
    /// Absent in exports without display columns (and those written before them).
    #[serde(default)]
    display: Option<HeaderDisplay>,
}

#[derive(Deserialize)]
struct HeaderDisplay {
    columns: Vec<String>,
    export_id: Uuid,
}

#[derive(Deserialize)]
struct CheckpointData {
    seq: i64,
    hash: String,
    signed_at: DateTime<Utc>,
    signature: String,
}

fn field<'a>(line: &'a Line, name: &str) -> Result<&'a str, String> {
    line.get(name).ok_or_else(|| format!("{name} is missing"))
}

fn parse<T: std::str::FromStr>(line: &Line, name: &str) -> Result<Option<T>, String> {
    line.get(name)
        .map(|v| v.parse::<T>().map_err(|_| format!("{name} is malformed")))
        .transpose()
}

fn required<T: std::str::FromStr>(line: &Line, name: &str) -> Result<T, String> {
    parse(line, name)?.ok_or_else(|| format!("{name} is missing"))
}

fn bytes(text: &str, name: &str) -> Result<Vec<u8>, String> {
    hex::decode(text).map_err(|_| format!("{name} is not hex"))
}

fn hash_field(text: &str, name: &str) -> Result<[u8; 32], String> {
    bytes(text, name)?
        .try_into()
        .map_err(|_| format!("{name} is not 32 bytes"))
}

fn text(line: &Line, name: &str) -> Option<String> {
    line.get(name).map(str::to_owned)
}

fn json(line: &Line, name: &str) -> Result<Option<Json<Value>>, String> {
    line.get(name)
        .map(|v| {
            serde_json::from_str(v)
                .map(Json)
                .map_err(|_| format!("{name} is not JSON"))
        })
        .transpose()
}

/// The digest of a record line, recomputed from its fields.
fn digest_of(line: &Line, source: Source, record_id: Uuid) -> Result<[u8; 32], String> {
    let hex_opt = |name: &str| line.get(name).map(|v| bytes(v, name)).transpose();
    Ok(match source {
        Source::Event => EventRow {
            id: record_id,
            agent_id: required(line, "agent_id")?,
            seq: required(line, "agent_seq")?,
            hash: bytes(field(line, "agent_hash")?, "agent_hash")?,
            payload: Vec::new(),
            occurred_at: required(line, "occurred_at")?,
            received_at: required(line, "received_at")?,
            door_id: parse(line, "door_id")?,
            kind: field(line, "kind")?.to_owned(),
            reader: text(line, "reader"),
            direction: text(line, "direction"),
            card: text(line, "card"),
            outcome: text(line, "outcome"),
            reason: text(line, "reason"),
            person_id: parse(line, "person_id")?,
            visit_id: parse(line, "visit_id")?,
            credential_id: parse(line, "credential_id")?,
            zone_id: parse(line, "zone_id")?,
            policy_version: parse(line, "policy_version")?,
            released_by: parse(line, "released_by")?,
            release_of: parse(line, "release_of")?,
            trace: text(line, "trace"),
        }
        .digest_with(&hash_field(
            field(line, "payload_sha256")?,
            "payload_sha256",
        )?),
        Source::Operator => OperatorRow {
            id: record_id,
            at: required(line, "occurred_at")?,
            actor_id: parse(line, "actor_id")?,
            actor: field(line, "actor")?.to_owned(),
            action: field(line, "kind")?.to_owned(),
            target_type: field(line, "target_type")?.to_owned(),
            target_id: text(line, "target_id"),
            before: json(line, "before")?,
            after: json(line, "after")?,
            request_id: text(line, "request_id"),
            detail_salt: hex_opt("detail_salt")?,
            detail_hash: hex_opt("detail_hash")?,
        }
        .digest(),
        Source::Alarm => AlarmRow {
            id: record_id,
            agent_id: required(line, "agent_id")?,
            at: required(line, "occurred_at")?,
            kind: field(line, "kind")?.to_owned(),
            detail: field(line, "detail")?.to_owned(),
        }
        .digest(),
    })
}

/// Walks the lines, keeping the chain state.
struct Walk<'k> {
    key: &'k VerifyingKey,
    header: Option<Header>,
    next_seq: i64,
    previous: [u8; 32],
    /// The members read so far of the import batch at `next_seq`: running hash, count.
    members: Option<([u8; 32], i64)>,
    /// The name snapshot read so far (`None` before the first `names` line).
    names: Option<Names>,
    report: ExportReport,
}

/// The `data` of an import batch's entry line.
#[derive(Deserialize)]
struct BatchData {
    record_digest: String,
}

impl Walk<'_> {
    /// A part of the name snapshot: signed for this export, consistent with the parts
    /// before it.
    fn names(&mut self, line: &Line) -> Result<(), (&'static str, String)> {
        let Some(header) = &self.header else {
            return Err(("bad_header", "the file does not start with a header".into()));
        };
        let Some(declared) = &header.display else {
            let detail = "a name snapshot in an export without display columns".to_owned();
            return Err(("names_unexpected", detail));
        };
        let data: SignedNames = serde_json::from_str(line.get("data").unwrap_or_default())
            .map_err(|e| {
                (
                    "names_altered",
                    format!("the name snapshot does not read: {e}"),
                )
            })?;
        let signature = bytes(&data.signature, "signature").map_err(|e| ("names_altered", e))?;
        if !names_signature_valid(self.key, &data.names, &signature) {
            let detail = "the name snapshot's signature does not verify with this public key";
            return Err(("names_signature", detail.to_owned()));
        }
        if data.names.export_id != declared.export_id {
            let detail = "the name snapshot was signed for another export".to_owned();
            return Err(("names_signature", detail));
        }
        match &mut self.names {
            None => {
                self.report.names_as_of = data.names.as_of;
                self.names = Some(data.names);
            }
            Some(names) => {
                if (&names.as_of, &names.timezone) != (&data.names.as_of, &data.names.timezone) {
                    let detail = "the name snapshot's parts differ in time or zone".to_owned();
                    return Err(("names_conflict", detail));
                }
                names.merge(data.names).map_err(|e| ("names_conflict", e))?;
            }
        }
        Ok(())
    }

    /// A full record's display columns: as the snapshot gives them, or none at all when
    /// the header declares none.
    fn display(&self, line: &Line) -> Result<(), (&'static str, String)> {
        let declared = self.header.as_ref().and_then(|h| h.display.as_ref());
        match (declared, &self.names) {
            (None, _) if display::has_display(line) => {
                let detail = "display columns in an export that declares none".to_owned();
                Err(("display_altered", detail))
            }
            (None, _) => Ok(()),
            (Some(_), None) => {
                let detail = "a record before the name snapshot".to_owned();
                Err(("names_missing", detail))
            }
            (Some(_), Some(names)) => match display::difference(line, names) {
                Some(detail) => Err(("display_altered", detail)),
                None => Ok(()),
            },
        }
    }

    fn header(&mut self, line: &Line) -> Result<(), (&'static str, String)> {
        let data = line.get("data").unwrap_or_default();
        let header: Header = serde_json::from_str(data)
            .map_err(|e| ("bad_header", format!("the header does not parse: {e}")))?;
        if header.format != FORMAT_NAME {
            return Err(("bad_header", format!("unknown format {:?}", header.format)));
        }
        if let Some(declared) = &header.display
            && declared.columns != display::DISPLAY_COLUMNS
        {
            let detail = format!("unknown display columns {:?}", declared.columns);
            return Err(("bad_header", detail));
        }
        self.previous =
            hash_field(&header.previous_hash, "previous_hash").map_err(|e| ("bad_header", e))?;
        // Chain positions start at 1; a stated start outside 1..i64::MAX would make the
        // position arithmetic below overflow.
        let first_seq = header.first_seq.unwrap_or(1);
        if !(1..i64::MAX).contains(&first_seq) {
            return Err((
                "bad_header",
                format!("first_seq {first_seq} is not a chain position"),
            ));
        }
        self.next_seq = first_seq;
        self.header = Some(header);
        Ok(())
    }

    fn entry(&mut self, line: &Line) -> Result<(), (&'static str, String)> {
        let Some(header) = &self.header else {
            return Err(("bad_header", "the file does not start with a header".into()));
        };
        let malformed = |e: String| ("malformed", e);
        let seq: i64 = required(line, "seq").map_err(malformed)?;
        // From here the line is at a known position: a field that does not read is an
        // altered entry (chain fields) or record (the rest), named there like any other.
        let malformed = |e: String| ("chain_broken", format!("the entry cannot be read: {e}"));
        if seq != self.next_seq || header.last_seq.is_none_or(|last| seq > last) {
            let detail = format!("entry {} expected, found {seq}", self.next_seq);
            return Err(("removed_added_or_reordered", detail));
        }
        let source = source_of(line).ok_or_else(|| malformed("unknown source".to_owned()))?;
        let record_id: Uuid = required(line, "record_id").map_err(malformed)?;
        let recorded_at: DateTime<Utc> = required(line, "recorded_at").map_err(malformed)?;
        let digest =
            hash_field(field(line, "digest").map_err(malformed)?, "digest").map_err(malformed)?;
        let in_period = (header.from..header.to).contains(&recorded_at);
        let filter_matches = header.filter.matches(line);
        let filter_empty = header.filter.is_empty();
        let own = self
            .record_digest(line, &digest)
            .map_err(|e| ("record_altered", e))?;
        if line.kind() == "record" {
            let actual = digest_of(line, source, record_id)
                .map_err(|e| ("record_altered", format!("the record cannot be read: {e}")))?;
            if actual != own {
                let detail = "the record's fields do not match its digest".to_owned();
                return Err(("record_altered", detail));
            }
            if !in_period || !filter_matches {
                let detail = "a record outside the export's period or filter".to_owned();
                return Err(("record_out_of_scope", detail));
            }
            self.display(line)?;
            self.report.records += 1;
        } else {
            if display::has_display(line) {
                let detail = "display columns on a redacted entry".to_owned();
                return Err(("display_altered", detail));
            }
            if in_period && filter_empty {
                let detail = "a record of the period is withheld".to_owned();
                return Err(("record_withheld", detail));
            }
            self.report.redacted += 1;
        }
        let hash = chain_hash(&self.previous, seq, source, record_id, &digest, recorded_at);
        let stated =
            hash_field(field(line, "hash").map_err(malformed)?, "hash").map_err(malformed)?;
        if hash != stated {
            let detail = "the entry does not chain from the one before".to_owned();
            return Err(("chain_broken", detail));
        }
        self.previous = hash;
        self.next_seq = seq + 1;
        Ok(())
    }

    /// A member of the import batch whose entry comes next.
    fn member(&mut self, line: &Line) -> Result<(), (&'static str, String)> {
        let Some(header) = &self.header else {
            return Err(("bad_header", "the file does not start with a header".into()));
        };
        let seq: i64 = required(line, "seq").map_err(|e| ("malformed", e))?;
        if seq != self.next_seq || header.last_seq.is_none_or(|last| seq > last) {
            let detail = format!("a member of entry {} expected, found {seq}", self.next_seq);
            return Err(("removed_added_or_reordered", detail));
        }
        let malformed = |e: String| ("record_altered", format!("the member cannot be read: {e}"));
        let record_id: Uuid = required(line, "record_id").map_err(malformed)?;
        let recorded_at: DateTime<Utc> = required(line, "recorded_at").map_err(malformed)?;
        let digest =
            hash_field(field(line, "digest").map_err(malformed)?, "digest").map_err(malformed)?;
        let in_period = (header.from..header.to).contains(&recorded_at);
        if line.kind() == "member" {
            let actual = digest_of(line, Source::Operator, record_id).map_err(malformed)?;
            if actual != digest {
                let detail = "the member's fields do not match its digest".to_owned();
                return Err(("record_altered", detail));
            }
            if !in_period || !header.filter.matches(line) {
                let detail = "a member outside the export's period or filter".to_owned();
                return Err(("record_out_of_scope", detail));
            }
            self.display(line)?;
            self.report.records += 1;
        } else {
            if display::has_display(line) {
                let detail = "display columns on a redacted member".to_owned();
                return Err(("display_altered", detail));
            }
            if in_period && header.filter.is_empty() {
                let detail = "a member of the period is withheld".to_owned();
                return Err(("record_withheld", detail));
            }
            self.report.redacted += 1;
        }
        let (running, count) = self.members.unwrap_or((GENESIS, 0));
        let pos = count + 1;
        self.members = Some((member_hash(&running, pos, record_id, &digest), pos));
        Ok(())
    }

    /// The digest an entry line's record must have: the entry's own, or for an import
    /// batch's entry (it states `record_digest`) that and its members' (read before it).
    fn record_digest(&mut self, line: &Line, digest: &[u8; 32]) -> Result<[u8; 32], String> {
        let members = self.members.take();
        let Some(data) = line.get("data") else {
            return match members {
                None => Ok(*digest),
                Some(_) => Err("members without an import batch's entry".to_owned()),
            };
        };
        let data: BatchData = serde_json::from_str(data).map_err(|e| e.to_string())?;
        let record = hash_field(&data.record_digest, "record_digest")?;
        let (running, count) = members.unwrap_or((GENESIS, 0));
        if batch_digest(&record, &running, count) != *digest {
            return Err("the import batch's members differ from what was chained".to_owned());
        }
        Ok(record)
    }

    fn checkpoint(&mut self, line: &Line) -> Result<(), (&'static str, String)> {
        let data: CheckpointData = serde_json::from_str(line.get("data").unwrap_or_default())
            .map_err(|e| ("malformed", format!("checkpoint: {e}")))?;
        let checkpoint = Checkpoint {
            seq: data.seq,
            hash: bytes(&data.hash, "hash").map_err(|e| ("malformed", e))?,
            signed_at: data.signed_at,
            signature: bytes(&data.signature, "signature").map_err(|e| ("malformed", e))?,
        };
        if checkpoint.seq != self.next_seq - 1 || checkpoint.hash != self.previous {
            let detail = format!(
                "the chain differs from what was signed at {}",
                checkpoint.seq
            );
            return Err(("checkpoint_mismatch", detail));
        }
        if !signature_valid(self.key, &checkpoint) {
            let detail = "the signature does not verify with this public key".to_owned();
            return Err(("checkpoint_signature", detail));
        }
        self.report.checkpoints += 1;
        Ok(())
    }

    /// After the last line: the stretch is complete and ends at a verified checkpoint.
    fn end(&self, last_checkpoint: Option<i64>) -> Result<(), (&'static str, String)> {
        let Some(header) = &self.header else {
            return Err(("bad_header", "the file has no header".into()));
        };
        if self.members.is_some() {
            let detail = format!("members of entry {} without the entry", self.next_seq);
            return Err(("removed_added_or_reordered", detail));
        }
        if let Some(last) = header.last_seq {
            if self.next_seq != last + 1 {
                let detail = format!("entries {} to {last} are missing", self.next_seq);
                return Err(("removed_added_or_reordered", detail));
            }
            if last_checkpoint != Some(last) {
                let detail = format!("no signed checkpoint at the last entry ({last})");
                return Err(("unsigned", detail));
            }
        }
        Ok(())
    }
}

/// Verifies an export (NDJSON or CSV, told apart by the first character) read from
/// `input` with the server's audit public key.
pub fn verify_export(mut input: impl BufRead, key: &VerifyingKey) -> std::io::Result<ExportReport> {
    let csv = input.fill_buf()?.first().is_some_and(|b| *b != b'{');
    let mut walk = Walk {
        key,
        header: None,
        next_seq: 1,
        previous: GENESIS,
        members: None,
        names: None,
        report: ExportReport {
            ok: false,
            records: 0,
            redacted: 0,
            checkpoints: 0,
            names_as_of: None,
            first_bad: None,
        },
    };
    let lines: Box<dyn Iterator<Item = Result<Line, String>>> = if csv {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(input);
        let layout = reader
            .headers()
            .map_err(|e| e.to_string())
            .and_then(CsvLayout::of);
        let layout = match layout {
            Ok(layout) => layout,
            Err(detail) => {
                walk.report.first_bad = Some(ExportProblem {
                    line: 1,
                    seq: None,
                    problem: "malformed".to_owned(),
                    detail: format!("the column names: {detail}"),
                });
                return Ok(walk.report);
            }
        };
        Box::new(reader.into_records().map(move |r| {
            r.map_err(|e| e.to_string())
                .and_then(|r| Line::from_csv(&r, &layout))
        }))
    } else {
        Box::new(input.lines().map(|l| {
            l.map_err(|e| e.to_string())
                .and_then(|l| Line::from_ndjson(&l))
        }))
    };
    let first_line = if csv { 2 } else { 1 };
    let mut last_checkpoint = None;
    let mut number = first_line - 1;
    let fail = |report: &mut ExportReport, line, seq, (problem, detail): (&str, String)| {
        report.first_bad = Some(ExportProblem {
            line,
            seq,
            problem: problem.to_owned(),
            detail,
        });
    };
    for line in lines {
        number += 1;
        let line = match line {
            Ok(line) => line,
            Err(e) => {
                fail(&mut walk.report, number, None, ("malformed", e));
                return Ok(walk.report);
            }
        };
        let result = match (number == first_line, line.kind()) {
            (true, "header") => walk.header(&line),
            (true, _) => Err(("bad_header", "the file does not start with a header".into())),
            (false, "record" | "redacted") => walk.entry(&line),
            (false, "member" | "member_redacted") => walk.member(&line),
            (false, "names") => walk.names(&line),
            (false, "checkpoint") => walk.checkpoint(&line).map(|()| {
                last_checkpoint = Some(walk.next_seq - 1);
            }),
            (false, other) => Err(("malformed", format!("unknown line type {other:?}"))),
        };
        if let Err(problem) = result {
            let seq = line.get("seq").and_then(|s| s.parse().ok());
            fail(&mut walk.report, number, seq, problem);
            return Ok(walk.report);
        }
    }
    if let Err(problem) = walk.end(last_checkpoint) {
        fail(&mut walk.report, number, None, problem);
        return Ok(walk.report);
    }
    walk.report.ok = true;
    Ok(walk.report)
}
