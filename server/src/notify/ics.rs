//! A small iCalendar (RFC 5545) writer: one event, enough for a calendar to add the visit.
//! Times are written in UTC (`…Z`), so no VTIMEZONE is needed; text values are escaped
//! (section 3.3.11) and lines folded at 75 octets (section 3.1) without splitting a UTF-8
//! character.

use chrono::{DateTime, Utc};

/// One calendar event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event<'a> {
    /// Globally unique and stable: the same event sent again updates, not duplicates.
    pub uid: &'a str,
    /// When this calendar object was created.
    pub stamp: DateTime<Utc>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub summary: &'a str,
    pub location: &'a str,
    pub description: &'a str,
}

/// The longest content line, in octets, before folding (CRLF not counted).
const LINE_OCTETS: usize = 75;

/// The event as a whole `VCALENDAR` object, CRLF line ends.
pub fn calendar(event: &Event<'_>) -> String {
    let mut out = String::new();
    let mut line = |text: &str| fold_into(&mut out, text);
    line("BEGIN:VCALENDAR");
    line("VERSION:2.0");
    line("PRODID:-//Gatehouse//Visitor management//EN");
    line("CALSCALE:GREGORIAN");
    line("METHOD:PUBLISH");
    line("BEGIN:VEVENT");
    line(&format!("UID:{}", text(event.uid)));
    line(&format!("DTSTAMP:{}", utc(event.stamp)));
    line(&format!("DTSTART:{}", utc(event.start)));
    line(&format!("DTEND:{}", utc(event.end)));
    line(&format!("SUMMARY:{}", text(event.summary)));
    line(&format!("LOCATION:{}", text(event.location)));
    line(&format!("DESCRIPTION:{}", text(event.description)));
    line("END:VEVENT");
    line("END:VCALENDAR");
    out
}

/// A DATE-TIME in UTC form: `20261206T140000Z`.
pub fn utc(at: DateTime<Utc>) -> String {
    at.format("%Y%m%dT%H%M%SZ").to_string()
}

/// A TEXT value escaped: backslash, semicolon, comma, and newlines as `\n` (a CR of a
/// CRLF is dropped; other control characters, which TEXT forbids, become spaces).
pub fn text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' => out.push_str("\\n"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Appends `line` folded: at most 75 octets a line, continuations start with a space
/// (which counts toward their 75).
fn fold_into(out: &mut String, line: &str) {
    let mut used = 0;
    for c in line.chars() {
        let width = c.len_utf8();
        if used + width > LINE_OCTETS {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += width;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 7, h, 30, 0).unwrap()
    }

    /// Unfolds as a reader does (RFC 5545 3.1): CRLF followed by one space is removed.
    fn unfold(text: &str) -> String {
        text.replace("\r\n ", "")
    }

    #[test]
    fn escapes_text() {
        assert_eq!(text("a,b;c\\d"), "a\\,b\\;c\\\\d");
        assert_eq!(text("one\r\ntwo\nthree\rfour"), "one\\ntwo\\nthree\\nfour");
        assert_eq!(text("tab\there"), "tab here");
        assert_eq!(text("Zoë"), "Zoë");
    }

    #[test]
    fn writes_an_event_in_utc() {
        let ics = calendar(&Event {
            uid: "visit-1@gatehouse",
            stamp: at(8),
            start: at(9),
            end: at(11),
            summary: "Visit: Ada, Lovelace; Ltd",
            location: "HQ",
            description: "Host: Bob",
        });
        assert!(ics.starts_with("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n"));
        assert!(ics.ends_with("END:VEVENT\r\nEND:VCALENDAR\r\n"));
        assert!(ics.contains("\r\nDTSTART:20261207T093000Z\r\n"));
        assert!(ics.contains("\r\nDTEND:20261207T113000Z\r\n"));
        assert!(ics.contains("\r\nDTSTAMP:20261207T083000Z\r\n"));
        assert!(ics.contains("\r\nUID:visit-1@gatehouse\r\n"));
        assert!(ics.contains("\r\nSUMMARY:Visit: Ada\\, Lovelace\\; Ltd\r\n"));
        // Every line ends with CRLF, no bare LF.
        assert_eq!(ics.matches('\n').count(), ics.matches("\r\n").count());
    }

    #[test]
    fn folds_long_lines_at_75_octets_without_splitting_characters() {
        let long = "é".repeat(100) + &"x".repeat(100);
        let ics = calendar(&Event {
            uid: "u",
            stamp: at(8),
            start: at(9),
            end: at(10),
            summary: "s",
            location: "l",
            description: &long,
        });
        for line in ics.split("\r\n") {
            assert!(line.len() <= LINE_OCTETS, "{} octets: {line:?}", line.len());
        }
        assert!(unfold(&ics).contains(&format!("\r\nDESCRIPTION:{long}\r\n")));
        // The first continuation line starts with exactly one space.
        let folded: Vec<&str> = ics.split("\r\n").filter(|l| l.starts_with(' ')).collect();
        assert!(folded.len() >= 3, "{ics}");
        assert!(folded.iter().all(|l| !l.starts_with("  ")));
    }

    #[test]
    fn a_line_of_exactly_75_octets_is_not_folded() {
        let mut out = String::new();
        fold_into(&mut out, &"a".repeat(75));
        assert_eq!(out, format!("{}\r\n", "a".repeat(75)));
        let mut out = String::new();
        fold_into(&mut out, &"a".repeat(76));
        assert_eq!(out, format!("{}\r\n a\r\n", "a".repeat(75)));
    }
}
