//! One line of an export, in both formats: NDJSON (an object per line, absent keys for
//! empty fields) and CSV (the same columns, a header row first). A line is a header, a
//! chained record shown in full, a record shown by its digest only (`redacted`: outside
//! the period or not matching the filter), or a signed checkpoint.
//!
//! CSV cells are safe from formula injection: a value starting with `=`, `+`, `-`, `@`,
//! tab, carriage return or `'` is written with a `'` in front, and an empty text (as
//! opposed to no value) as a lone `'`; readers strip one leading `'`, so the exact values
//! come back and the digests verify.

use crate::audit::records::{AlarmRow, EventRef, OperatorRow, Source};
use crate::store::{BatchMember, ChainEntry};
use chrono::{DateTime, Datelike, NaiveDateTime, SecondsFormat, Timelike, Utc};
use serde_json::{Map, Value};
use sqlx::types::Json;
use std::borrow::Cow;
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

/// A line: a value (or none) per column. The values are kept in one text, each cell a
/// span of it: an export makes a line for each of millions of records, and one
/// allocation a line instead of one a cell spares the allocator most of its work. A
/// value set again is appended and its span moved.
#[derive(Clone)]
pub struct Line {
    text: String,
    cells: [Option<Span>; COLUMNS.len()],
}

/// Where a cell's value lies in its line's text. `u32`: a line's text beyond 4 GiB
/// (which no database row gives) reads as no value, never as a wrong one.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: u32,
    end: u32,
}

impl PartialEq for Line {
    fn eq(&self, other: &Line) -> bool {
        (0..COLUMNS.len()).all(|i| self.cell(i) == other.cell(i))
    }
}

impl Eq for Line {}

impl std::fmt::Debug for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cells = (0..COLUMNS.len()).filter_map(|i| Some((COLUMNS[i], self.cell(i)?)));
        f.debug_map().entries(cells).finish()
    }
}

/// A time as exports write it: UTC, microseconds (`2026-12-06T22:51:03.123456Z`).
pub fn time(t: DateTime<Utc>) -> String {
    let mut text = String::with_capacity(27);
    push_time(&mut text, t);
    text
}

/// Appends [`time`]'s text to `out`. Written digit by digit, since chrono's formatting
/// cost an export of 1,000,000 records several seconds; chrono's own text for what the
/// fast path does not cover (years outside 0–9999, leap seconds), so the text is always
/// the same as `to_rfc3339_opts(Micros, true)` (tested).
pub fn push_time(out: &mut String, t: DateTime<Utc>) {
    let naive = t.naive_utc();
    let (year, nanos) = (naive.year(), naive.nanosecond());
    let Ok(year) = u32::try_from(year) else {
        out.push_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true));
        return;
    };
    if year > 9999 || nanos >= 1_000_000_000 {
        out.push_str(&t.to_rfc3339_opts(SecondsFormat::Micros, true));
        return;
    }
    push_date_time(out, year, naive, 'T');
    out.push('.');
    push_digits(out, 6, nanos / 1_000);
    out.push('Z');
}

/// Appends `YYYY-MM-DD?HH:MM:SS` of `naive` (whose year, 0–9999, is `year`), with
/// `between` between the date and the time; a leap second as second 60, as chrono's
/// `%S` writes it.
pub(super) fn push_date_time(out: &mut String, year: u32, naive: NaiveDateTime, between: char) {
    let second = naive.second() + naive.nanosecond() / 1_000_000_000;
    for (value, width, after) in [
        (year, 4, '-'),
        (naive.month(), 2, '-'),
        (naive.day(), 2, between),
        (naive.hour(), 2, ':'),
        (naive.minute(), 2, ':'),
    ] {
        push_digits(out, width, value);
        out.push(after);
    }
    push_digits(out, 2, second);
}

/// Appends `value`'s last `width` (at most 10) decimal digits, zeros in front.
fn push_digits(out: &mut String, width: usize, mut value: u32) {
    let mut digits = [b'0'; 10];
    let width = width.min(digits.len());
    for digit in digits[..width].iter_mut().rev() {
        *digit = b'0' + (value % 10) as u8;
        value /= 10;
    }
    // Only ASCII digits were written.
    out.push_str(std::str::from_utf8(&digits[..width]).unwrap_or_default());
}

/// The position of column `name` in [`COLUMNS`] (unknown names: the last, `data`).
/// A `const fn`, so the hot paths below look their columns up at compile time.
const fn column(name: &str) -> usize {
    let mut i = 0;
    while i < COLUMNS.len() {
        if same(COLUMNS[i].as_bytes(), name.as_bytes()) {
            return i;
        }
        i += 1;
    }
    COLUMNS.len() - 1
}

const fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Columns the record lines set, found once.
mod col {
    use super::column;
    pub const TYPE: usize = column("type");
    pub const SEQ: usize = column("seq");
    pub const SOURCE: usize = column("source");
    pub const RECORD_ID: usize = column("record_id");
    pub const RECORDED_AT: usize = column("recorded_at");
    pub const DIGEST: usize = column("digest");
    pub const HASH: usize = column("hash");
    pub const OCCURRED_AT: usize = column("occurred_at");
    pub const RECEIVED_AT: usize = column("received_at");
    pub const KIND: usize = column("kind");
    pub const OUTCOME: usize = column("outcome");
    pub const REASON: usize = column("reason");
    pub const DOOR_ID: usize = column("door_id");
    pub const ZONE_ID: usize = column("zone_id");
    pub const READER: usize = column("reader");
    pub const DIRECTION: usize = column("direction");
    pub const AGENT_ID: usize = column("agent_id");
    pub const AGENT_SEQ: usize = column("agent_seq");
    pub const AGENT_HASH: usize = column("agent_hash");
    pub const PAYLOAD_SHA256: usize = column("payload_sha256");
    pub const CARD: usize = column("card");
    pub const PERSON_ID: usize = column("person_id");
    pub const CREDENTIAL_ID: usize = column("credential_id");
    pub const VISIT_ID: usize = column("visit_id");
    pub const POLICY_VERSION: usize = column("policy_version");
    pub const RELEASED_BY: usize = column("released_by");
    pub const RELEASE_OF: usize = column("release_of");
    pub const TRACE: usize = column("trace");
    pub const DATA: usize = column("data");
}

/// Appends the text of `id` (hyphenated, lower case), without going through `Display`.
fn push_uuid(out: &mut String, id: Uuid) {
    out.push_str(id.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
}

/// Lower-case hex, as `hex::encode` writes it, without its per-character iterator.
pub fn hex_text(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    push_hex(&mut text, bytes);
    text
}

/// Appends [`hex_text`]'s text to `out`.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xF)]));
    }
}

/// Appends the decimal text of `n`.
fn push_int(out: &mut String, n: i64) {
    use std::fmt::Write;
    // Writing to a String cannot fail.
    let _ = write!(out, "{n}");
}

/// The columns in the order NDJSON writes them: sorted by name, as the `serde_json` map
/// the lines were first written through sorts its keys (the files stay byte-identical).
static NDJSON_ORDER: std::sync::LazyLock<Vec<usize>> = std::sync::LazyLock::new(|| {
    let mut order: Vec<usize> = (0..COLUMNS.len()).collect();
    order.sort_by_key(|&i| COLUMNS[i]);
    order
});

impl Line {
    /// A line with no values (`type` too), its text sized for a record's.
    fn empty() -> Line {
        Line {
            text: String::with_capacity(640),
            cells: [None; COLUMNS.len()],
        }
    }

    fn new(kind: &str) -> Line {
        let mut line = Line::empty();
        line.put(col::TYPE, kind);
        line
    }

    /// The value of column `i`.
    fn cell(&self, i: usize) -> Option<&str> {
        let span = self.cells[i]?;
        self.text.get(span.start as usize..span.end as usize)
    }

    /// Sets column `i` to what `write` appends to the line's text.
    fn write(&mut self, i: usize, write: impl FnOnce(&mut String)) {
        let start = self.text.len();
        write(&mut self.text);
        let span = u32::try_from(start).and_then(|start| {
            Ok(Span {
                start,
                end: u32::try_from(self.text.len())?,
            })
        });
        self.cells[i] = span.ok();
    }

    fn put(&mut self, i: usize, value: &str) {
        self.write(i, |text| text.push_str(value));
    }

    /// Sets column `i` to `value`, or to no value.
    fn put_opt(&mut self, i: usize, value: Option<&str>) {
        match value {
            Some(value) => self.put(i, value),
            None => self.cells[i] = None,
        }
    }

    fn put_uuid(&mut self, i: usize, id: Option<Uuid>) {
        match id {
            Some(id) => self.write(i, |text| push_uuid(text, id)),
            None => self.cells[i] = None,
        }
    }

    fn put_time(&mut self, i: usize, t: DateTime<Utc>) {
        self.write(i, |text| push_time(text, t));
    }

    fn put_hex(&mut self, i: usize, bytes: &[u8]) {
        self.write(i, |text| push_hex(text, bytes));
    }

    pub fn set(&mut self, name: &str, value: Option<&str>) {
        self.put_opt(column(name), value);
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.cell(column(name))
    }

    pub fn kind(&self) -> &str {
        self.cell(col::TYPE).unwrap_or_default()
    }

    /// The chain position of a record line (`record`, `redacted`, `member`, ...).
    pub fn seq(&self) -> Option<i64> {
        self.cell(col::SEQ).and_then(|s| s.parse().ok())
    }

    /// The chain fields every record line has.
    fn entry(kind: &str, entry: &ChainEntry) -> Line {
        let mut line = Line::new(kind);
        line.put_entry(entry);
        line
    }

    /// Sets the chain fields of `entry`.
    pub fn put_entry(&mut self, entry: &ChainEntry) {
        self.write(col::SEQ, |text| push_int(text, entry.seq));
        self.put(col::SOURCE, &entry.source);
        self.put_uuid(col::RECORD_ID, Some(entry.record_id));
        self.put_time(col::RECORDED_AT, entry.recorded_at);
        self.put_hex(col::DIGEST, &entry.digest);
        self.put_hex(col::HASH, &entry.hash);
    }

    /// A record shown by its digest only.
    pub fn redacted(entry: &ChainEntry) -> Line {
        Line::entry("redacted", entry)
    }

    /// A header or checkpoint line carrying `data`.
    pub fn with_data(kind: &str, data: &Value) -> Line {
        let mut line = Line::new(kind);
        line.put(col::DATA, &data.to_string());
        line
    }

    /// An access event's record line without its chain fields ([`Self::put_entry`]
    /// adds them), made straight from the row the database gave.
    pub fn event_record(row: EventRef<'_>) -> Line {
        let mut l = Line::new("record");
        l.put_time(col::OCCURRED_AT, row.occurred_at);
        l.put_time(col::RECEIVED_AT, row.received_at);
        l.put(col::KIND, row.kind);
        l.put_opt(col::OUTCOME, row.outcome);
        l.put_opt(col::REASON, row.reason);
        l.put_uuid(col::DOOR_ID, row.door_id);
        l.put_uuid(col::ZONE_ID, row.zone_id);
        l.put_opt(col::READER, row.reader);
        l.put_opt(col::DIRECTION, row.direction);
        l.put_uuid(col::AGENT_ID, Some(row.agent_id));
        l.write(col::AGENT_SEQ, |text| push_int(text, row.seq));
        l.put_hex(col::AGENT_HASH, row.hash);
        l.put_hex(
            col::PAYLOAD_SHA256,
            &crate::audit::canon::sha256(row.payload),
        );
        l.put_opt(col::CARD, row.card);
        l.put_uuid(col::PERSON_ID, row.person_id);
        l.put_uuid(col::CREDENTIAL_ID, row.credential_id);
        l.put_uuid(col::VISIT_ID, row.visit_id);
        if let Some(version) = row.policy_version {
            l.write(col::POLICY_VERSION, |text| push_int(text, version));
        }
        l.put_uuid(col::RELEASED_BY, row.released_by);
        l.put_uuid(col::RELEASE_OF, row.release_of);
        l.put_opt(col::TRACE, row.trace);
        l
    }

    pub fn operator(entry: &ChainEntry, row: &OperatorRow) -> Line {
        let mut l = Line::entry("record", entry);
        let json = |v: &Option<Json<Value>>| v.as_ref().map(|Json(v)| v.to_string());
        l.put_time(col::OCCURRED_AT, row.at);
        l.put(col::KIND, &row.action);
        l.set("actor", Some(&row.actor));
        l.put_uuid(column("actor_id"), row.actor_id);
        l.set("target_type", Some(&row.target_type));
        l.set("target_id", row.target_id.as_deref());
        l.set("request_id", row.request_id.as_deref());
        l.set("before", json(&row.before).as_deref());
        l.set("after", json(&row.after).as_deref());
        if let Some(salt) = &row.detail_salt {
            l.put_hex(column("detail_salt"), salt);
        }
        if let Some(hash) = &row.detail_hash {
            l.put_hex(column("detail_hash"), hash);
        }
        l
    }

    /// Member `member` of the import batch chained at `entry`, in full (`row`) or by its
    /// digest only.
    pub fn member(entry: &ChainEntry, member: &BatchMember, row: Option<&OperatorRow>) -> Line {
        let mut line = match row {
            Some(row) => {
                let mut line = Line::operator(entry, row);
                line.put(col::TYPE, "member");
                line
            }
            None => {
                let mut line = Line::entry("member_redacted", entry);
                line.put(col::SOURCE, Source::Operator.as_str());
                line
            }
        };
        line.put_uuid(col::RECORD_ID, Some(member.record_id));
        line.put_hex(col::DIGEST, &member.digest);
        line.put_opt(col::HASH, None);
        line
    }

    pub fn alarm(entry: &ChainEntry, row: &AlarmRow) -> Line {
        let mut l = Line::entry("record", entry);
        l.put_time(col::OCCURRED_AT, row.at);
        l.put(col::KIND, &row.kind);
        l.put_uuid(col::AGENT_ID, Some(row.agent_id));
        l.set("detail", Some(&row.detail));
        l
    }

    /// The NDJSON text of the line, newline included (built through a `serde_json`
    /// map: the definition [`Self::write_ndjson`] is tested against).
    pub fn ndjson(&self) -> String {
        let mut object = Map::new();
        for (i, name) in COLUMNS.iter().enumerate() {
            let Some(value) = self.cell(i) else { continue };
            let value = match *name {
                "data" => serde_json::from_str(value).unwrap_or(Value::Null),
                _ => Value::String(value.to_owned()),
            };
            object.insert((*name).to_owned(), value);
        }
        let mut text = Value::Object(object).to_string();
        text.push('\n');
        text
    }

    /// Appends [`Self::ndjson`]'s text to `out`, written straight from the cells.
    pub fn write_ndjson(&self, out: &mut Vec<u8>) {
        out.push(b'{');
        let mut first = true;
        for &i in NDJSON_ORDER.iter() {
            let Some(value) = self.cell(i) else { continue };
            if !first {
                out.push(b',');
            }
            first = false;
            // Column names are plain ASCII words: nothing to escape.
            out.push(b'"');
            out.extend_from_slice(COLUMNS[i].as_bytes());
            out.extend_from_slice(b"\":");
            // Writing to a Vec cannot fail.
            let _ = if i == col::DATA {
                let data: Value = serde_json::from_str(value).unwrap_or(Value::Null);
                serde_json::to_writer(&mut *out, &data)
            } else {
                serde_json::to_writer(&mut *out, value)
            };
        }
        out.extend_from_slice(b"}\n");
    }

    /// Reads an NDJSON line.
    pub fn from_ndjson(text: &str) -> Result<Line, String> {
        let Value::Object(object) = serde_json::from_str(text).map_err(|e| e.to_string())? else {
            return Err("not a JSON object".into());
        };
        let mut line = Line::empty();
        for (name, value) in object {
            let Some(i) = COLUMNS.iter().position(|c| *c == name) else {
                return Err(format!("unknown field {name:?}"));
            };
            match (name.as_str(), value) {
                ("data", v @ Value::Object(_)) => line.put(i, &v.to_string()),
                (_, Value::String(s)) => line.put(i, &s),
                (name, _) => return Err(format!("field {name:?} must be a string")),
            }
        }
        Ok(line)
    }

    /// The CSV cells of the line (escaped).
    pub fn csv_cells(&self) -> Vec<String> {
        self.csv_cells_borrowed().map(Cow::into_owned).collect()
    }

    /// [`Self::csv_cells`], borrowing the values that need no escape (most of them).
    pub fn csv_cells_borrowed(&self) -> impl Iterator<Item = Cow<'_, str>> {
        (0..COLUMNS.len()).map(|i| match self.cell(i) {
            None => Cow::Borrowed(""),
            Some("") => Cow::Borrowed("'"),
            Some(v) if v.starts_with(['=', '+', '-', '@', '\t', '\r', '\'']) => {
                Cow::Owned(format!("'{v}"))
            }
            Some(v) => Cow::Borrowed(v),
        })
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
        let mut line = Line::empty();
        for (cell, &column) in cells.iter().zip(&layout.0) {
            match cell.strip_prefix('\'') {
                Some(rest) => line.put(column, rest),
                None if cell.is_empty() => line.put_opt(column, None),
                None => line.put(column, cell),
            }
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

/// Times for the tests of the time writers: the year-0 and year-9999 edges, the
/// calendar's ends, a leap second, and `count` more spread over ±`span_micros` around
/// 1970.
#[cfg(test)]
pub(crate) fn times_to_test(count: usize, span_micros: i64) -> Vec<DateTime<Utc>> {
    let micros = [
        0,
        1,
        -1,
        999_999,
        -86_400_000_000,
        1_700_000_000_123_456,
        1_711_846_800_000_000,   // a spring clock change in Europe
        -62_167_219_200_000_000, // 0000-01-01
        253_402_300_799_999_999, // 9999-12-31T23:59:59.999999
        253_402_300_800_000_000, // 10000-01-01
        -62_167_219_200_000_001, // before year 0
    ];
    let mut times: Vec<DateTime<Utc>> = micros
        .iter()
        .filter_map(|m| DateTime::from_timestamp_micros(*m))
        .collect();
    times.extend([DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC]);
    times.extend(DateTime::from_timestamp(1_483_228_799, 1_500_000_000));
    let mut x: i64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..count {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        times.extend(DateTime::from_timestamp_micros(x % span_micros));
    }
    times
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
        line.set("card", Some("=HYPERLINK(\"x\")"));
        line.set("reader", Some(""));
        line.set("detail", Some("'quoted"));
        line.set("actor", Some("-1+2"));
        line.set("target_id", Some("plain"));
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

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        let times = times_to_test(10_000, 300_000_000_000_000_000);
        for t in times {
            assert_eq!(time(t), t.to_rfc3339_opts(SecondsFormat::Micros, true));
        }
    }

    #[test]
    fn hex_is_written_as_the_hex_crate_writes_it() {
        let bytes: Vec<u8> = (0..=255).collect();
        assert_eq!(hex_text(&bytes), hex::encode(&bytes));
        assert_eq!(hex_text(&[]), "");
    }

    #[test]
    fn columns_are_found_at_compile_time_as_at_run_time() {
        for (i, name) in COLUMNS.iter().enumerate() {
            assert_eq!(column(name), i);
            assert_eq!(COLUMNS.iter().position(|c| c == name), Some(i));
        }
        assert_eq!(column("nonsense"), COLUMNS.len() - 1);
        assert_eq!(COLUMNS[col::DATA], "data");
        assert_eq!(COLUMNS[col::TRACE], "trace");
    }

    #[test]
    fn ndjson_is_written_as_through_a_json_map() {
        let texts = [
            "",
            "plain",
            "quote \" and \\ backslash",
            "control \u{1} \n \t \r \u{7f}",
            "unicode é ß 中 \u{1F600}",
            "</script>",
        ];
        let mut line = Line::new("record");
        for (i, text) in texts.iter().cycle().take(COLUMNS.len()).enumerate() {
            line.put(i, text);
        }
        line.put(
            col::DATA,
            r#"{"b":[1,2.5,null],"a":{"z":"\u00e9","y":true}}"#,
        );
        let mut out = Vec::new();
        line.write_ndjson(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), line.ndjson());
        for i in 0..COLUMNS.len() {
            line.put_opt(i, None);
            let mut out = Vec::new();
            line.write_ndjson(&mut out);
            assert_eq!(String::from_utf8(out).unwrap(), line.ndjson());
        }
        line.put(col::DATA, "not json");
        let mut out = Vec::new();
        line.write_ndjson(&mut out);
        assert_eq!(String::from_utf8(out).unwrap(), line.ndjson());
    }
}
