//! One line of an export, in both formats: NDJSON (an object per line, absent keys for
//! empty fields) and CSV (the same columns, a header row first). A line is a header, a
//! chained record shown in full, a record shown by its digest only (`redacted`: outside
//! the period or not matching the filter), or a signed checkpoint.
//!
//! CSV cells are safe from formula injection: a value starting with `=`, `+`, `-`, `@`,
//! tab, carriage return or `'` is written with a `'` in front, and an empty text (as
//! opposed to no value) as a lone `'`; readers strip one leading `'`, so the exact values
//! come back and the digests verify.

use crate::audit::records::{AlarmRow, EventRow, OperatorRow, Source};
use crate::store::{BatchMember, ChainEntry};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use sqlx::types::Json;
use uuid::Uuid;

/// Every column, in CSV order: the readable ones first (the display columns, see
/// [`super::display`], among the record's kind, outcome and reason), then the chain
/// fields. `data` holds the header's, checkpoints' and name snapshots' fields (JSON).
pub const COLUMNS: [&str; 45] = [
    "local_time",
    "kind",
    "person_name",
    "organisation",
    "door_name",
    "zone_name",
    "site_name",
    "outcome",
    "reason",
    "type",
    "seq",
    "source",
    "record_id",
    "recorded_at",
    "digest",
    "hash",
    "occurred_at",
    "received_at",
    "door_id",
    "zone_id",
    "reader",
    "direction",
    "agent_id",
    "agent_seq",
    "agent_hash",
    "payload_sha256",
    "card",
    "person_id",
    "credential_id",
    "visit_id",
    "policy_version",
    "released_by",
    "release_of",
    "trace",
    "actor",
    "actor_id",
    "target_type",
    "target_id",
    "request_id",
    "before",
    "after",
    "detail_salt",
    "detail_hash",
    "detail",
    "data",
];

/// A line: a value (or none) per column.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Line(Vec<Option<String>>);

/// A time as exports write it: UTC, microseconds.
pub fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

fn column(name: &str) -> usize {
    COLUMNS
        .iter()
        .position(|c| *c == name)
        .unwrap_or(COLUMNS.len() - 1)
}

impl Line {
    fn new(kind: &str) -> Line {
        let mut line = Line(vec![None; COLUMNS.len()]);
        line.set("type", Some(kind.to_owned()));
        line
    }

    pub fn set(&mut self, name: &str, value: Option<String>) {
        self.0[column(name)] = value;
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0[column(name)].as_deref()
    }

    pub fn kind(&self) -> &str {
        self.get("type").unwrap_or_default()
    }

    /// The chain fields every record line has.
    fn entry(kind: &str, entry: &ChainEntry) -> Line {
        let mut line = Line::new(kind);
        line.set("seq", Some(entry.seq.to_string()));
        line.set("source", Some(entry.source.clone()));
        line.set("record_id", Some(entry.record_id.to_string()));
        line.set("recorded_at", Some(time(entry.recorded_at)));
        line.set("digest", Some(hex::encode(&entry.digest)));
        line.set("hash", Some(hex::encode(&entry.hash)));
        line
    }

    /// A record shown by its digest only.
    pub fn redacted(entry: &ChainEntry) -> Line {
        Line::entry("redacted", entry)
    }

    /// A header or checkpoint line carrying `data`.
    pub fn with_data(kind: &str, data: &Value) -> Line {
        let mut line = Line::new(kind);
        line.set("data", Some(data.to_string()));
        line
    }

    pub fn event(entry: &ChainEntry, row: &EventRow) -> Line {
        let mut l = Line::entry("record", entry);
        let uuid = |u: Option<Uuid>| u.map(|u| u.to_string());
        l.set("occurred_at", Some(time(row.occurred_at)));
        l.set("received_at", Some(time(row.received_at)));
        l.set("kind", Some(row.kind.clone()));
        l.set("outcome", row.outcome.clone());
        l.set("reason", row.reason.clone());
        l.set("door_id", uuid(row.door_id));
        l.set("zone_id", uuid(row.zone_id));
        l.set("reader", row.reader.clone());
        l.set("direction", row.direction.clone());
        l.set("agent_id", Some(row.agent_id.to_string()));
        l.set("agent_seq", Some(row.seq.to_string()));
        l.set("agent_hash", Some(hex::encode(&row.hash)));
        let payload = crate::audit::canon::sha256(&row.payload);
        l.set("payload_sha256", Some(hex::encode(payload)));
        l.set("card", row.card.clone());
        l.set("person_id", uuid(row.person_id));
        l.set("credential_id", uuid(row.credential_id));
        l.set("visit_id", uuid(row.visit_id));
        l.set("policy_version", row.policy_version.map(|v| v.to_string()));
        l.set("released_by", uuid(row.released_by));
        l.set("release_of", uuid(row.release_of));
        l.set("trace", row.trace.clone());
        l
    }

    pub fn operator(entry: &ChainEntry, row: &OperatorRow) -> Line {
        let mut l = Line::entry("record", entry);
        let json = |v: &Option<Json<Value>>| v.as_ref().map(|Json(v)| v.to_string());
        l.set("occurred_at", Some(time(row.at)));
        l.set("kind", Some(row.action.clone()));
        l.set("actor", Some(row.actor.clone()));
        l.set("actor_id", row.actor_id.map(|u| u.to_string()));
        l.set("target_type", Some(row.target_type.clone()));
        l.set("target_id", row.target_id.clone());
        l.set("request_id", row.request_id.clone());
        l.set("before", json(&row.before));
        l.set("after", json(&row.after));
        l.set("detail_salt", row.detail_salt.as_deref().map(hex::encode));
        l.set("detail_hash", row.detail_hash.as_deref().map(hex::encode));
        l
    }

    /// Member `member` of the import batch chained at `entry`, in full (`row`) or by its
    /// digest only.
    pub fn member(entry: &ChainEntry, member: &BatchMember, row: Option<&OperatorRow>) -> Line {
        let mut line = match row {
            Some(row) => {
                let mut line = Line::operator(entry, row);
                line.set("type", Some("member".to_owned()));
                line
            }
            None => {
                let mut line = Line::entry("member_redacted", entry);
                line.set("source", Some(Source::Operator.to_string()));
                line
            }
        };
        line.set("record_id", Some(member.record_id.to_string()));
        line.set("digest", Some(hex::encode(member.digest)));
        line.set("hash", None);
        line
    }

    pub fn alarm(entry: &ChainEntry, row: &AlarmRow) -> Line {
        let mut l = Line::entry("record", entry);
        l.set("occurred_at", Some(time(row.at)));
        l.set("kind", Some(row.kind.clone()));
        l.set("agent_id", Some(row.agent_id.to_string()));
        l.set("detail", Some(row.detail.clone()));
        l
    }

    /// The NDJSON text of the line, newline included.
    pub fn ndjson(&self) -> String {
        let mut object = Map::new();
        for (name, value) in COLUMNS.iter().zip(&self.0) {
            let Some(value) = value else { continue };
            let value = match *name {
                "data" => serde_json::from_str(value).unwrap_or(Value::Null),
                _ => Value::String(value.clone()),
            };
            object.insert((*name).to_owned(), value);
        }
        let mut text = Value::Object(object).to_string();
        text.push('\n');
        text
    }

    /// Reads an NDJSON line.
    pub fn from_ndjson(text: &str) -> Result<Line, String> {
        let Value::Object(object) = serde_json::from_str(text).map_err(|e| e.to_string())? else {
            return Err("not a JSON object".into());
        };
        let mut line = Line(vec![None; COLUMNS.len()]);
        for (name, value) in object {
            let Some(i) = COLUMNS.iter().position(|c| *c == name) else {
                return Err(format!("unknown field {name:?}"));
            };
            line.0[i] = Some(match (name.as_str(), value) {
                ("data", v @ Value::Object(_)) => v.to_string(),
                (_, Value::String(s)) => s,
                (name, _) => return Err(format!("field {name:?} must be a string")),
            });
        }
        Ok(line)
    }

    /// The CSV cells of the line (escaped).
    pub fn csv_cells(&self) -> Vec<String> {
        self.0
            .iter()
            .map(|v| match v.as_deref() {
                None => String::new(),
                Some("") => "'".to_owned(),
                Some(v) if v.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) => {
                    format!("'{v}")
                }
                Some(v) => v.to_owned(),
            })
            .collect()
    }

    /// Reads the CSV cells of a line (unescaping), placed by the file's `layout`.
    pub fn from_csv(cells: &csv::StringRecord, layout: &CsvLayout) -> Result<Line, String> {
        if cells.len() != layout.0.len() {
            return Err(format!(
                "{} cells, the header {}",
                cells.len(),
                layout.0.len()
            ));
        }
        let mut line = Line(vec![None; COLUMNS.len()]);
        for (cell, &column) in cells.iter().zip(&layout.0) {
            line.0[column] = match cell.strip_prefix('\'') {
                Some(rest) => Some(rest.to_owned()),
                None if cell.is_empty() => None,
                None => Some(cell.to_owned()),
            };
        }
        Ok(line)
    }
}

/// Where each column of a CSV export goes among [`COLUMNS`], read from the file's
/// header row. Columns are found by name, so an export written before a column was
/// added (e.g. `released_by`, `release_of`, `trace`) still reads: that column is empty on every
/// line, as an absent NDJSON key is, and the digests (which commit to such fields only
/// when set) verify as they did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsvLayout(Vec<usize>);

impl CsvLayout {
    pub fn of(header: &csv::StringRecord) -> Result<CsvLayout, String> {
        let mut seen = [false; COLUMNS.len()];
        let mut layout = Vec::with_capacity(header.len());
        for name in header {
            let column = COLUMNS
                .iter()
                .position(|c| *c == name)
                .ok_or_else(|| format!("unknown column {name:?}"))?;
            if std::mem::replace(&mut seen[column], true) {
                return Err(format!("column {name:?} appears twice"));
            }
            layout.push(column);
        }
        if !seen[column("type")] {
            return Err("no \"type\" column".into());
        }
        Ok(CsvLayout(layout))
    }
}

/// Which table a record line comes from.
pub fn source_of(line: &Line) -> Option<Source> {
    line.get("source").and_then(Source::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_columns_are_found_by_name() {
        let header = |names: &[&str]| CsvLayout::of(&csv::StringRecord::from(names.to_vec()));
        let layout = header(&["seq", "type", "card"]).unwrap();
        let record = csv::StringRecord::from(vec!["7", "record", "'=1"]);
        let line = Line::from_csv(&record, &layout).unwrap();
        assert_eq!(
            (
                line.kind(),
                line.get("seq"),
                line.get("card"),
                line.get("reader")
            ),
            ("record", Some("7"), Some("=1"), None)
        );
        let short = csv::StringRecord::from(vec!["7", "record"]);
        assert!(Line::from_csv(&short, &layout).is_err());
        assert!(header(&["type", "nonsense"]).is_err());
        assert!(header(&["type", "seq", "seq"]).is_err());
        assert!(header(&["seq"]).is_err());
    }

    #[test]
    fn csv_cells_resist_formulas_and_round_trip() {
        let mut line = Line::new("record");
        line.set("card", Some("=HYPERLINK(\"x\")".into()));
        line.set("reader", Some(String::new()));
        line.set("detail", Some("'quoted".into()));
        line.set("actor", Some("-1+2".into()));
        line.set("target_id", Some("plain".into()));
        let cells = line.csv_cells();
        for cell in &cells {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "{cell}"
            );
        }
        let record = csv::StringRecord::from(cells);
        let layout = CsvLayout::of(&csv::StringRecord::from(COLUMNS.to_vec())).unwrap();
        assert_eq!(Line::from_csv(&record, &layout).unwrap(), line);
        assert_eq!(Line::from_ndjson(&line.ndjson()).unwrap(), line);
    }
}
