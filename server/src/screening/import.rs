//! A watchlist from a file: the CSV a security team receives from head office or keeps
//! in a spreadsheet, read without I/O so that every rule is unit-tested. The store adds
//! its entries ([`crate::store::Store::import_watchlist`]); rows already on the list are
//! skipped, so importing the same file again changes nothing.
//!
//! | column | required | meaning |
//! | --- | --- | --- |
//! | `name` | yes | the listed name, 1–200 characters |
//! | `aliases` | no | other names, separated by `\|` (at most 20) |
//! | `date_of_birth` | no | `YYYY-MM-DD` |
//! | `organisation` | no | 1–200 characters |
//! | `reason` | yes | why the person is listed, 1–1000 characters |
//! | `action` | yes | `flag` or `block` (any case) |
//!
//! The file is UTF-8 (a byte-order mark is ignored), separated by commas, semicolons or
//! tabs as the HR import's files are, with a header row naming the columns in any order.

use crate::import::LineError;
use crate::import::parse::{Lines, reader};
use crate::store::ModelError;
use crate::store::watchlist::{WatchAction, WatchlistInput};
use chrono::NaiveDate;
use csv::StringRecord;

/// Most rows one file may hold.
pub const MAX_ROWS: usize = 100_000;
/// Most problems reported for one file (the rest are counted, not listed).
pub const MAX_ERRORS: usize = 100;

const COLUMNS: [&str; 6] = [
    "name",
    "aliases",
    "date_of_birth",
    "organisation",
    "reason",
    "action",
];
const REQUIRED: [&str; 3] = ["name", "reason", "action"];

/// One entry of the file with its line (the header is line 1).
#[derive(Debug, Clone)]
pub struct ImportRow {
    pub line: u64,
    pub input: WatchlistInput,
}

/// The file's entries, or its problems (at most [`MAX_ERRORS`], in line order).
pub fn parse(csv: &[u8]) -> Result<Vec<ImportRow>, Vec<LineError>> {
    let (csv, mut reader) = reader(csv)?;
    let mut records = reader.records();
    let header = match records.next() {
        Some(Ok(header)) => header,
        Some(Err(e)) => return Err(vec![LineError::new(1, "row", e.to_string())]),
        None => return Err(vec![LineError::new(1, "row", "the header row is missing")]),
    };
    let columns = columns(&header)?;
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    let mut lines = Lines::of(csv);
    for record in records {
        let line = lines.at(match &record {
            Ok(r) => r.position().map_or(0, csv::Position::byte),
            Err(e) => e.position().map_or(0, csv::Position::byte),
        });
        if rows.len() + errors.len() >= MAX_ROWS {
            errors.push(LineError::new(
                line,
                "row",
                format!("more than {MAX_ROWS} rows"),
            ));
            break;
        }
        let record = match record {
            Ok(r) if r.len() == header.len() => r,
            Ok(r) => {
                let message = format!("has {} fields, the header {}", r.len(), header.len());
                errors.push(LineError::new(line, "row", message));
                continue;
            }
            Err(e) => {
                errors.push(LineError::new(line, "row", e.to_string()));
                continue;
            }
        };
        if record.iter().all(|cell| cell.trim().is_empty()) {
            continue;
        }
        match row(&record, &columns, line) {
            Ok(input) => rows.push(ImportRow { line, input }),
            Err(error) => errors.push(error),
        }
    }
    if errors.is_empty() {
        Ok(rows)
    } else {
        errors.truncate(MAX_ERRORS);
        Err(errors)
    }
}

/// Each known column's position, or the header's problems.
fn columns(header: &StringRecord) -> Result<[Option<usize>; 6], Vec<LineError>> {
    let mut at = [None; 6];
    let mut errors = Vec::new();
    for (i, name) in header.iter().enumerate() {
        let name = name.trim().to_lowercase();
        match COLUMNS.iter().position(|c| *c == name) {
            Some(c) if at[c].is_some() => {
                errors.push(LineError::new(1, &name, "the column is named twice"));
            }
            Some(c) => at[c] = Some(i),
            None => errors.push(LineError::new(
                1,
                "row",
                format!("unknown column \"{name}\" (known: {})", COLUMNS.join(", ")),
            )),
        }
    }
    for required in REQUIRED {
        let c = COLUMNS.iter().position(|c| *c == required).unwrap_or(0);
        if at[c].is_none() {
            errors.push(LineError::new(1, required, "the column is missing"));
        }
    }
    if errors.is_empty() {
        Ok(at)
    } else {
        Err(errors)
    }
}

/// One row as an entry to add, checked as the API checks one (lengths, names).
fn row(
    record: &StringRecord,
    at: &[Option<usize>; 6],
    line: u64,
) -> Result<WatchlistInput, LineError> {
    let cell = |c: usize| at[c].and_then(|i| record.get(i)).unwrap_or_default().trim();
    let date_of_birth = match cell(2) {
        "" => None,
        text => Some(
            NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| LineError::new(line, "date_of_birth", "not a date as YYYY-MM-DD"))?,
        ),
    };
    let action = match cell(5).to_lowercase().as_str() {
        "flag" => WatchAction::Flag,
        "block" => WatchAction::Block,
        _ => return Err(LineError::new(line, "action", "must be flag or block")),
    };
    let aliases = cell(1)
        .split('|')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .collect();
    let input = WatchlistInput {
        name: cell(0).to_owned(),
        aliases,
        date_of_birth,
        organisation: Some(cell(3).to_owned()).filter(|o| !o.is_empty()),
        reason: cell(4).to_owned(),
        action,
    };
    input.checked().map_err(|e| match e {
        ModelError::Invalid { field, problem } => LineError::new(line, field, problem),
        other => LineError::new(line, "row", other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn errors(csv: &str) -> Vec<String> {
        match parse(csv.as_bytes()) {
            Ok(rows) => panic!("expected errors, got {} rows", rows.len()),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    #[test]
    fn reads_every_column_in_any_order_and_separator() {
        for csv in [
            "action,name,aliases,date_of_birth,organisation,reason\n\
             BLOCK,Ivan Petrov,Vanya Petrov | I. Petrov,1970-02-03,Acme,Trespass\n",
            "\u{feff}name;reason;action;aliases;organisation;date_of_birth\r\n\
             Ivan Petrov;Trespass;block;Vanya Petrov|I. Petrov;Acme;1970-02-03\r\n",
        ] {
            let rows = parse(csv.as_bytes()).unwrap();
            assert_eq!(rows.len(), 1);
            let entry = &rows[0].input;
            assert_eq!(rows[0].line, 2);
            assert_eq!(entry.name, "Ivan Petrov");
            assert_eq!(entry.aliases, ["Vanya Petrov", "I. Petrov"]);
            assert_eq!(entry.date_of_birth, NaiveDate::from_ymd_opt(1970, 2, 3));
            assert_eq!(entry.organisation.as_deref(), Some("Acme"));
            assert_eq!(entry.reason, "Trespass");
            assert_eq!(entry.action, WatchAction::Block);
        }
    }

    #[test]
    fn optional_columns_may_be_absent_or_empty_and_blank_lines_are_skipped() {
        let rows = parse(b"name,reason,action\n\"Smith, Jane\",Theft,flag\n,,\n").unwrap();
        assert_eq!(rows.len(), 1);
        let entry = &rows[0].input;
        assert_eq!(entry.name, "Smith, Jane");
        assert!(entry.aliases.is_empty() && entry.organisation.is_none());
        assert_eq!(entry.date_of_birth, None);
    }

    #[test]
    fn names_the_line_and_column_of_each_problem() {
        let csv = "name,reason,action,date_of_birth\n\
                   Ann,Theft,warn,\n\
                   Bob,Theft,flag,03/02/1970\n\
                   Cy,Theft\n";
        assert_eq!(
            errors(csv),
            [
                "line 2: action: must be flag or block",
                "line 3: date_of_birth: not a date as YYYY-MM-DD",
                "line 4: row: has 2 fields, the header 4",
            ]
        );
    }

    #[test]
    fn refuses_a_bad_header_or_a_file_not_in_utf8() {
        assert_eq!(
            errors("name,reason,colour\n"),
            [
                "line 1: row: unknown column \"colour\" (known: name, aliases, date_of_birth, \
                 organisation, reason, action)",
                "line 1: action: the column is missing",
            ]
        );
        assert_eq!(
            errors("name,name,reason,action\n"),
            ["line 1: name: the column is named twice"]
        );
        assert_eq!(errors(""), ["line 1: row: the header row is missing"]);
        let latin1 = b"name,reason,action\nJos\xe9,Theft,flag\n";
        let error = parse(latin1).unwrap_err();
        assert_eq!((error[0].line, error[0].field.as_str()), (2, "file"));
    }

    #[test]
    fn stops_at_the_row_limit_and_lists_at_most_max_errors() {
        let mut csv = String::from("name,reason,action\n");
        for _ in 0..=MAX_ROWS {
            csv.push_str("A,B,flag\n");
        }
        let errors = parse(csv.as_bytes()).unwrap_err();
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("more than"));
        let mut csv = String::from("name,reason,action\n");
        for _ in 0..(MAX_ERRORS + 5) {
            csv.push_str("A,B,maybe\n");
        }
        assert_eq!(parse(csv.as_bytes()).unwrap_err().len(), MAX_ERRORS);
    }
}
