//! Checking one data row, column by column. The checks are the domain's
//! (`crate::domain`: `check_text`, `check_window`, `check_cleared_until`), as the API's
//! are, so a row is refused exactly when the same values sent to the API would be.

use super::parse::{ImportCard, ImportPerson, ImportVetting};
use crate::domain::FieldErrors;
use crate::domain::checks::{NAME_MAX, check_text, check_window, stored};
use crate::domain::person::{EXTERNAL_ID_MAX, REFERENCE_MAX, check_cleared_until};
use chrono::{DateTime, NaiveDate, Utc};
use csv::ByteRecord;
use gatehouse_core::model::{CardKind, PersonKind, VettingStatus, normalize_card};
use gatehouse_core::protocol::time::{RANGE, Timestamp};
use std::collections::HashMap;
use std::str::FromStr;

/// One data row being checked; problems collect per column, as the API's do.
pub(super) struct Row<'a> {
    record: &'a ByteRecord,
    columns: &'a HashMap<&'static str, usize>,
    pub(super) problems: FieldErrors,
}

impl<'a> Row<'a> {
    pub(super) fn new(record: &'a ByteRecord, columns: &'a HashMap<&'static str, usize>) -> Self {
        Row {
            record,
            columns,
            problems: FieldErrors::new(),
        }
    }

    /// The trimmed value of a column; `None` when absent or empty.
    fn text(&mut self, column: &'static str) -> Option<&'a str> {
        let raw = self.record.get(*self.columns.get(column)?)?;
        match std::str::from_utf8(raw) {
            Ok(text) => Some(text.trim()).filter(|t| !t.is_empty()),
            Err(_) => {
                self.problem(column, "is not valid UTF-8");
                None
            }
        }
    }

    fn problem(&mut self, column: &str, message: impl Into<String>) {
        self.problems
            .entry(column.to_owned())
            .or_insert_with(|| message.into());
    }

    /// A required column's text, of at most `max` characters.
    fn required(&mut self, column: &'static str, max: usize) -> Option<String> {
        let value = self.optional(column, max);
        if value.is_none() && !self.problems.contains_key(column) {
            self.problem(column, "is required");
        }
        value
    }

    /// An optional column's text, of at most `max` characters.
    fn optional(&mut self, column: &'static str, max: usize) -> Option<String> {
        let value = self.text(column).map(str::to_owned);
        check_text(&mut self.problems, column, value.as_deref(), max);
        value
    }

    /// One of an enumeration's names (strum's, equal to serde's), ignoring case.
    fn choice<T: FromStr>(&mut self, column: &'static str, names: &str) -> Option<T> {
        let text = self.text(column)?.to_lowercase();
        let value = text.parse().ok();
        if value.is_none() {
            self.problem(column, format!("must be one of {names}"));
        }
        value
    }

    /// An RFC 3339 instant, or a date meaning its midnight UTC; from 1970 to 9999, as
    /// the API's times are.
    fn time(&mut self, column: &'static str) -> Option<DateTime<Utc>> {
        let text = self.text(column)?;
        let at = DateTime::parse_from_rfc3339(text)
            .map(|t| t.with_timezone(&Utc))
            .ok()
            .or_else(|| {
                let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?;
                Some(date.and_hms_opt(0, 0, 0)?.and_utc())
            });
        let Some(at) = at else {
            let message = "must be an RFC 3339 time (2027-03-31T17:00:00Z) or a date (2027-03-31)";
            self.problem(column, message);
            return None;
        };
        if Timestamp::new(at).is_none() {
            self.problem(column, RANGE);
            return None;
        }
        stored(Some(at))
    }

    /// Records a problem on each of `columns` that is given although `without` is not.
    fn only_with(&mut self, without: &str, columns: &[&'static str]) {
        for &column in columns {
            if self.text(column).is_some() {
                self.problem(column, format!("only with {without}"));
            }
        }
    }

    /// The person columns; `None` when one is missing or malformed.
    pub(super) fn person(&mut self, line: u64, now: DateTime<Utc>) -> Option<ImportPerson> {
        let external_id = self.required("external_id", EXTERNAL_ID_MAX);
        let name = self.required("name", NAME_MAX);
        let kind = self.choice::<PersonKind>("kind", "staff, contractor");
        if kind.is_none() && self.text("kind").is_none() {
            self.problem("kind", "is required");
        }
        let employer = self.optional("employer", NAME_MAX);
        let clearance = match self.text("clearance").map(str::parse::<u8>) {
            Some(Ok(level)) => Some(level),
            Some(Err(_)) => {
                self.problem("clearance", "must be a whole number from 0 to 255");
                None
            }
            None => {
                self.problem("clearance", "is required");
                None
            }
        };
        let status = self.choice("status", "active, suspended, left");
        let vetting = self.vetting(now);
        let groups = self.groups();
        Some(ImportPerson {
            line,
            external_id: external_id?,
            name: name?,
            kind: kind?,
            employer,
            clearance: clearance?,
            status,
            vetting: vetting?,
            groups: groups?,
            cards: Vec::new(),
        })
    }

    /// The `groups` column: group names separated by `|` (or `,` in a file separated by
    /// `;` or tabs); `Some(None)` when empty, `None` when a name is too long. Whether
    /// each group exists is the store's check (it names the unknown ones).
    fn groups(&mut self) -> Option<Option<Vec<String>>> {
        let Some(text) = self.text("groups") else {
            return Some(None);
        };
        let mut names = std::collections::BTreeSet::new();
        for name in text
            .split(['|', ','])
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            if name.chars().count() > NAME_MAX {
                let message = format!("a group name is longer than {NAME_MAX} characters");
                self.problem("groups", message);
                return None;
            }
            names.insert(name.to_owned());
        }
        Some(Some(names.into_iter().collect()))
    }

    /// The vetting columns: `Some(None)` when none is given, `None` when malformed.
    fn vetting(&mut self, now: DateTime<Utc>) -> Option<Option<ImportVetting>> {
        let names = "pending, cleared, expired, revoked";
        let Some(status) = self.choice::<VettingStatus>("vetting_status", names) else {
            let given = self.text("vetting_status").is_some();
            self.only_with(
                "vetting_status",
                &["vetting_cleared_until", "vetting_reference"],
            );
            return (!given).then_some(None);
        };
        let cleared_until = self.time("vetting_cleared_until");
        let field = "vetting_cleared_until";
        check_cleared_until(&mut self.problems, field, status, cleared_until, now);
        let reference = self.optional("vetting_reference", REFERENCE_MAX);
        Some(Some(ImportVetting {
            status,
            cleared_until,
            reference,
        }))
    }

    /// The card columns: `Some(None)` when no card is given, `None` when malformed.
    pub(super) fn card(&mut self, line: u64) -> Option<Option<ImportCard>> {
        let Some(raw) = self.text("card") else {
            self.only_with(
                "card",
                &["card_kind", "card_valid_from", "card_valid_until"],
            );
            return Some(None);
        };
        let card = normalize_card(raw)
            .inspect_err(|e| self.problem("card", e.to_string()))
            .ok();
        let given = self.text("card_kind").is_some();
        let kind = self.choice::<CardKind>("card_kind", "uid, secure");
        let valid_from = self.time("card_valid_from");
        let valid_until = self.time("card_valid_until");
        check_window(
            &mut self.problems,
            "card_valid_until",
            valid_from,
            valid_until,
        );
        if given && kind.is_none() {
            return None;
        }
        Some(Some(ImportCard {
            line,
            card: card?,
            kind,
            valid_from,
            valid_until,
        }))
    }
}
