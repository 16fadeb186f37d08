//! Reading an HR file, without I/O (the clock is passed in), so that every rule is
//! unit-tested: the header, line numbers, the row limit, and merging the rows of one
//! person (whose columns must agree) with each card on one row only.

use super::row::Row;
use super::{LineError, MAX_ROWS, Progress};
use chrono::{DateTime, Utc};
use csv::ByteRecord;
use gatehouse_core::model::{CardKind, PersonKind, PersonStatus, VettingStatus};
use std::collections::HashMap;

/// Every column, in the documented order.
pub const COLUMNS: [&str; 14] = [
    "external_id",
    "name",
    "kind",
    "employer",
    "clearance",
    "status",
    "vetting_status",
    "vetting_cleared_until",
    "vetting_reference",
    "card",
    "card_kind",
    "card_valid_from",
    "card_valid_until",
    "groups",
];
const REQUIRED: [&str; 4] = ["external_id", "name", "kind", "clearance"];
/// Rows between two progress reports.
const REPORT_EVERY: u64 = 1000;

/// The vetting a row asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportVetting {
    pub status: VettingStatus,
    pub cleared_until: Option<DateTime<Utc>>,
    pub reference: Option<String>,
}

/// A card a row asks for; `card` is normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportCard {
    pub line: u64,
    pub card: String,
    /// `None`: `uid` for a new card, unchanged for an issued one.
    pub kind: Option<CardKind>,
    pub valid_from: Option<DateTime<Utc>>,
    pub valid_until: Option<DateTime<Utc>>,
}

/// One person of the file, with the cards of all their rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportPerson {
    /// The person's first row.
    pub line: u64,
    pub external_id: String,
    pub name: String,
    pub kind: PersonKind,
    pub employer: Option<String>,
    pub clearance: u8,
    /// `None`: unchanged (`active` for a new person).
    pub status: Option<PersonStatus>,
    /// `None`: vetting unchanged.
    pub vetting: Option<ImportVetting>,
    /// The names of the groups the person is to be in, exactly (sorted, no repeats);
    /// `None`: memberships unchanged.
    pub groups: Option<Vec<String>>,
    pub cards: Vec<ImportCard>,
}

/// A checked file: its people in order of first appearance, and its number of data rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub people: Vec<ImportPerson>,
    pub rows: u64,
}

/// Checks what can be told at once, before a job is started for the file: that it is
/// UTF-8 and that its header names the columns. The problems are those [`parse`] would
/// report first.
pub fn check_start(csv: &[u8]) -> Result<(), Vec<LineError>> {
    open(csv).map(|_| ())
}

/// The file past a UTF-8 byte-order mark, a reader past its header and the header's
/// columns; or the problems of the file as a whole (not UTF-8, a bad header).
type Opened<'a> = (
    &'a [u8],
    csv::Reader<&'a [u8]>,
    HashMap<&'static str, usize>,
);

fn open(csv: &[u8]) -> Result<Opened<'_>, Vec<LineError>> {
    let (csv, mut reader) = reader(csv)?;
    let mut record = ByteRecord::new();
    let mut errors = Vec::new();
    let columns = match reader.read_byte_record(&mut record) {
        Ok(true) => header(&record, &mut errors),
        Ok(false) => {
            errors.push(LineError::new(1, "row", "the header row is missing"));
            HashMap::new()
        }
        Err(e) => {
            errors.push(LineError::new(1, "row", e.to_string()));
            HashMap::new()
        }
    };
    if errors.is_empty() {
        Ok((csv, reader, columns))
    } else {
        Err(errors)
    }
}

/// Reads and checks the whole file; all its problems, or the people it describes.
pub fn parse(
    csv: &[u8],
    now: DateTime<Utc>,
    progress: &dyn Progress,
) -> Result<Parsed, Vec<LineError>> {
    let (csv, mut reader, columns) = open(csv)?;
    progress.start("checking", csv.len() as u64);
    let mut record = ByteRecord::new();
    let mut errors = Vec::new();
    let mut file = File::default();
    let mut lines = Lines::of(csv);
    let mut reported = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(e) => {
                let line = lines.at(e.position().map_or(0, csv::Position::byte));
                errors.push(LineError::new(line, "row", e.to_string()));
                break;
            }
        }
        file.rows += 1;
        let line = lines.at(record.position().map_or(0, csv::Position::byte));
        if file.rows > MAX_ROWS {
            errors.push(LineError::new(
                line,
                "row",
                format!("more than {MAX_ROWS} rows"),
            ));
            break;
        }
        if record.len() != columns.len() {
            let mut message = format!("has {} fields, the header {}", record.len(), columns.len());
            let start = record.position().map_or(0, csv::Position::byte);
            if let Some(quote) = open_quote(csv, start, reader.position().byte(), line) {
                message = format!("{message}: {quote}");
            }
            errors.push(LineError::new(line, "row", message));
        } else {
            let row = Row::new(&record, &columns);
            file.add(line, row, now, &mut errors);
        }
        if file.rows.is_multiple_of(REPORT_EVERY) {
            let at = reader.position().byte();
            progress.advance(at.saturating_sub(reported));
            progress.rows(file.rows);
            reported = at;
        }
    }
    progress.advance(reader.position().byte().saturating_sub(reported));
    progress.rows(file.rows);
    if errors.is_empty() {
        Ok(Parsed {
            people: file.people,
            rows: file.rows,
        })
    } else {
        Err(errors)
    }
}

/// A file past its UTF-8 byte-order mark, and a reader of its records.
pub(crate) type CsvFile<'a> = (&'a [u8], csv::Reader<&'a [u8]>);

/// The file past a UTF-8 byte-order mark and a reader of its records (the header
/// included), separated as [`delimiter`] tells; or the error for a file not in UTF-8.
pub(crate) fn reader(csv: &[u8]) -> Result<CsvFile<'_>, Vec<LineError>> {
    let csv = csv.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(csv);
    if let Some(error) = not_utf8(csv) {
        return Err(vec![error]);
    }
    let reader = csv::ReaderBuilder::new()
        .delimiter(delimiter(csv))
        .has_headers(false)
        .flexible(true)
        .from_reader(csv);
    Ok((csv, reader))
}

/// The file's field separator, told by its header line: the one of `,`, `;` and tab
/// that it has most of outside quotes (a comma when it has none, or on a tie, which a
/// header of known column names cannot have: they contain none of the three).
/// Spreadsheets in much of Europe export `;`, since `,` is their decimal mark.
pub(super) fn delimiter(csv: &[u8]) -> u8 {
    let line = csv.split(|b| *b == b'\n').next().unwrap_or_default();
    let mut counts = [(b',', 0_usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for byte in line {
        if *byte == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(count) = counts.iter_mut().find(|(d, _)| d == byte) {
            count.1 += 1;
        }
    }
    let mut best = counts[0];
    for count in &counts[1..] {
        if count.1 > best.1 {
            best = *count;
        }
    }
    best.0
}

/// The error for a file that is not UTF-8 (checked whole first, so that a file in
/// another encoding gets one clear error, not one per cell or a column of NUL bytes).
fn not_utf8(csv: &[u8]) -> Option<LineError> {
    const SAVE_AS: &str = "save it as UTF-8 (\"CSV UTF-8\" in a spreadsheet) and import again";
    if csv.starts_with(b"\xFF\xFE") || csv.starts_with(b"\xFE\xFF") {
        let message = format!(
            "the file is UTF-16 (it starts with a UTF-16 byte-order mark), not UTF-8; {SAVE_AS}"
        );
        return Some(LineError::new(1, "file", message));
    }
    // UTF-16 without a byte-order mark: mostly ASCII, so about every other byte is NUL.
    // (A stray NUL in an otherwise UTF-8 file is the cell's problem, named by its column.)
    let head = &csv[..csv.len().min(512)];
    let nuls = head.iter().filter(|b| **b == 0).count();
    if nuls > 0 && nuls * 4 >= head.len() {
        let message =
            format!("the file is not UTF-8: it has NUL bytes, as UTF-16 files do; {SAVE_AS}");
        return Some(LineError::new(1, "file", message));
    }
    let bad = std::str::from_utf8(csv).err()?.valid_up_to();
    let line = 1 + csv[..bad].iter().filter(|b| **b == b'\n').count() as u64;
    let byte = csv.get(bad).copied().unwrap_or_default();
    let message = format!(
        "the file is not UTF-8 (byte 0x{byte:02X} cannot start a UTF-8 character; \
         Latin-1 or Windows-1252 perhaps); {SAVE_AS}"
    );
    Some(LineError::new(line, "file", message))
}

/// Explains a record with the wrong number of fields when a quote is the cause: a quoted
/// field that was never closed swallows the line ends after it (to the next quote, or to
/// the end of the file), so the record spans several lines. `start..end` are the
/// record's bytes and `line` its first line.
fn open_quote(csv: &[u8], start: u64, end: u64, line: u64) -> Option<String> {
    let start = usize::try_from(start).ok()?.min(csv.len());
    let end = usize::try_from(end).ok()?.min(csv.len()).max(start);
    let text = csv[start..end].trim_ascii_end();
    let quote = text.iter().position(|b| *b == b'"')?;
    let spans = text[quote..].contains(&b'\n');
    if !spans {
        return None;
    }
    let opened = line + text[..quote].iter().filter(|b| **b == b'\n').count() as u64;
    let last = line + text.iter().filter(|b| **b == b'\n').count() as u64;
    Some(if end >= csv.len() {
        format!(
            "the quote (\") opened on line {opened} is never closed, so the rest of the file \
             (to line {last}) was read as one field"
        )
    } else {
        format!(
            "the quote (\") opened on line {opened} is not closed on that line; lines \
             {opened} to {last} were read as one field"
        )
    })
}

/// Line numbers of records, counted by this module: the reader's own count is one short
/// after a CRLF line end (it starts the next record at the `\n`).
pub(crate) struct Lines<'a> {
    text: &'a [u8],
    /// Bytes before `at` are counted ...
    at: usize,
    /// ... and `at` is on this line.
    line: u64,
}

impl Lines<'_> {
    /// Counting lines of `text`, from its start (line 1).
    pub(crate) fn of(text: &[u8]) -> Lines<'_> {
        Lines {
            text,
            at: 0,
            line: 1,
        }
    }

    /// The line of the record that the reader says starts at `byte` (at or after `at`).
    pub(crate) fn at(&mut self, byte: u64) -> u64 {
        let mut start = usize::try_from(byte)
            .unwrap_or(usize::MAX)
            .min(self.text.len());
        while start < self.text.len() && matches!(self.text[start], b'\r' | b'\n') {
            start += 1;
        }
        let from = self.at.min(start);
        let newlines = self.text[from..start]
            .iter()
            .filter(|b| **b == b'\n')
            .count();
        self.line += newlines as u64;
        self.at = start;
        self.line
    }
}

/// The header's columns by name → position; problems are errors on line 1.
fn header(record: &ByteRecord, errors: &mut Vec<LineError>) -> HashMap<&'static str, usize> {
    let mut columns = HashMap::new();
    for (i, raw) in record.iter().enumerate() {
        let name = String::from_utf8_lossy(raw).trim().to_lowercase();
        match COLUMNS.iter().find(|c| **c == name) {
            Some(column) if columns.insert(*column, i).is_some() => {
                errors.push(LineError::new(1, column, "the column appears twice"));
            }
            Some(_) => {}
            None => errors.push(LineError::new(
                1,
                &name,
                format!("unknown column; the columns are {}", COLUMNS.join(", ")),
            )),
        }
    }
    for column in REQUIRED {
        if !columns.contains_key(column) {
            errors.push(LineError::new(1, column, "a required column is missing"));
        }
    }
    columns
}

/// The people read so far.
#[derive(Default)]
struct File {
    people: Vec<ImportPerson>,
    by_external_id: HashMap<String, usize>,
    card_lines: HashMap<String, u64>,
    rows: u64,
}

impl File {
    /// Checks one row and merges it into its person, or records its problems.
    fn add(
        &mut self,
        line: u64,
        mut row: Row<'_>,
        now: DateTime<Utc>,
        errors: &mut Vec<LineError>,
    ) {
        let person = row.person(line, now);
        let card = row.card(line);
        let problems = std::mem::take(&mut row.problems);
        let (Some(mut person), Some(card), true) = (person, card, problems.is_empty()) else {
            if problems.is_empty() {
                errors.push(LineError::new(line, "row", "is not valid"));
            }
            errors.extend(
                problems
                    .into_iter()
                    .map(|(f, m)| LineError::new(line, &f, m)),
            );
            return;
        };
        if let Some(card) = &card
            && let Some(first) = self.card_lines.insert(card.card.clone(), line)
        {
            self.card_lines.insert(card.card.clone(), first);
            errors.push(LineError::new(
                line,
                "card",
                format!("also on line {first}"),
            ));
            return;
        }
        match self.by_external_id.get(&person.external_id) {
            Some(&i) => {
                let first = &mut self.people[i];
                let before = errors.len();
                for field in disagreements(first, &person) {
                    let message = format!("differs from line {} of this external_id", first.line);
                    errors.push(LineError::new(line, field, message));
                }
                if errors.len() == before {
                    first.cards.extend(card);
                }
            }
            None => {
                person.cards.extend(card);
                let key = person.external_id.clone();
                self.by_external_id.insert(key, self.people.len());
                self.people.push(person);
            }
        }
    }
}

/// The person columns in which two rows of one person differ.
fn disagreements(a: &ImportPerson, b: &ImportPerson) -> Vec<&'static str> {
    let vetting = |p: &ImportPerson| p.vetting.as_ref().map(|v| v.status);
    let until = |p: &ImportPerson| p.vetting.as_ref().and_then(|v| v.cleared_until);
    let reference = |p: &ImportPerson| p.vetting.as_ref().and_then(|v| v.reference.clone());
    [
        ("name", a.name != b.name),
        ("kind", a.kind != b.kind),
        ("employer", a.employer != b.employer),
        ("clearance", a.clearance != b.clearance),
        ("status", a.status != b.status),
        ("vetting_status", vetting(a) != vetting(b)),
        ("vetting_cleared_until", until(a) != until(b)),
        ("vetting_reference", reference(a) != reference(b)),
        ("groups", a.groups != b.groups),
    ]
    .into_iter()
    .filter_map(|(field, differs)| differs.then_some(field))
    .collect()
}
