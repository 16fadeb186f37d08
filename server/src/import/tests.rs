//! The parser and its checks, on small files.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::{LineError, parse};
use chrono::{DateTime, TimeZone, Utc};
use gatehouse_core::model::{CardKind, PersonKind, PersonStatus, VettingStatus};

const HEADER: &str = "external_id,name,kind,employer,clearance,status,vetting_status,\
    vetting_cleared_until,vetting_reference,card,card_kind,card_valid_from,card_valid_until";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn file(rows: &[&str]) -> String {
    let mut text = HEADER.to_owned();
    for row in rows {
        text.push('\n');
        text.push_str(row);
    }
    text
}

fn errors(text: &str) -> Vec<(u64, String)> {
    let errors = parse(text.as_bytes(), now(), &()).unwrap_err();
    errors.into_iter().map(|e| (e.line, e.field)).collect()
}

#[test]
fn a_full_row_is_read() {
    let text = file(&[
        "E1,Ada Lovelace,staff,,3,active,cleared,2027-03-31,V-1,04:a2-2b 9c,secure,2026-02-01T08:00:00Z,2027-01-01",
    ]);
    let parsed = parse(text.as_bytes(), now(), &()).unwrap();
    assert_eq!(parsed.rows, 1);
    let [ada] = parsed.people.as_slice() else {
        panic!("one person: {parsed:?}")
    };
    assert_eq!(
        (ada.line, ada.external_id.as_str(), ada.name.as_str()),
        (2, "E1", "Ada Lovelace")
    );
    assert_eq!(
        (ada.kind, ada.employer.clone(), ada.clearance, ada.status),
        (PersonKind::Staff, None, 3, Some(PersonStatus::Active))
    );
    let vetting = ada.vetting.clone().unwrap();
    assert_eq!(vetting.status, VettingStatus::Cleared);
    assert_eq!(vetting.cleared_until, Some(at(2027, 3, 31)));
    assert_eq!(vetting.reference.as_deref(), Some("V-1"));
    let card = &ada.cards[0];
    assert_eq!((card.line, card.card.as_str()), (2, "04A22B9C"));
    assert_eq!(card.kind, Some(CardKind::Secure));
    let from = Utc.with_ymd_and_hms(2026, 2, 1, 8, 0, 0).unwrap();
    assert_eq!(card.valid_from, Some(from));
    assert_eq!(card.valid_until, Some(at(2027, 1, 1)));
}

#[test]
fn quoted_fields_bom_crlf_and_column_order() {
    // BOM, CRLF, columns in another order and some absent, a quoted comma, a doubled
    // quote and a quoted line break (the next row is numbered by the file's lines; a
    // name is one line, so that row is refused).
    let text = "\u{feff}name,external_id,clearance,kind,employer\r\n\
        \"Smith, Jane\",E1,2,Contractor,\"Acme \"\"Locks\"\"\"\r\n\
        \"Two\nLines\",E2,0,staff,\r\n\
        Bob,E3,x,STAFF,\r\n";
    let errors = parse(text.as_bytes(), now(), &()).err().unwrap_or_default();
    let at: Vec<_> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(at, [(3, "name"), (5, "clearance")], "{errors:?}");
    let text = text
        .replace("Two\nLines", "Two Lines")
        .replace(",x,", ",1,");
    let parsed = parse(text.as_bytes(), now(), &()).unwrap();
    let names: Vec<_> = parsed.people.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["Smith, Jane", "Two Lines", "Bob"]);
    let lines: Vec<_> = parsed.people.iter().map(|p| p.line).collect();
    assert_eq!(lines, [2, 3, 4]);
    assert_eq!(parsed.people[0].employer.as_deref(), Some("Acme \"Locks\""));
    assert_eq!(parsed.people[0].kind, PersonKind::Contractor);
    assert!(parsed.people[0].vetting.is_none() && parsed.people[0].cards.is_empty());
}

#[test]
fn empty_optional_fields_are_not_given() {
    let parsed = parse(file(&["E1,Ada,staff,,3,,,,,,,,"]).as_bytes(), now(), &()).unwrap();
    let ada = &parsed.people[0];
    assert_eq!((ada.employer.clone(), ada.status), (None, None));
    assert!(ada.vetting.is_none() && ada.cards.is_empty());
}

#[test]
fn several_cards_on_several_rows() {
    let text = file(&[
        "E1,Ada,staff,,3,,,,,0A0B,,,",
        "E2,Bob,staff,,1,,,,,,,,",
        "E1,Ada,staff,,3,,,,,0C0D,uid,,",
    ]);
    let parsed = parse(text.as_bytes(), now(), &()).unwrap();
    assert_eq!(parsed.rows, 3);
    let cards: Vec<_> = parsed.people[0]
        .cards
        .iter()
        .map(|c| (c.line, c.card.as_str()))
        .collect();
    assert_eq!(cards, [(2, "0A0B"), (4, "0C0D")]);
}

#[test]
fn every_bad_field_of_every_line_is_reported() {
    let text = file(&[
        "E1,Ada,staff,,256,,,,,,,,",
        "E2,Bob,boss,,1,retired,,,,,,,",
        ",,,,,,,,,,,,",
        "E4,Cy,staff,,1,,cleared,2025-12-31,,,,,",
        "E5,Di,staff,,1,,pending,2027-01-01,,,,,",
        "E6,Ed,staff,,1,,,,REF,,,,",
        "E7,Fa,staff,,1,,,,,0g,,31/12/2026,",
        "E8,Gi,staff,,1,,,,,0A0B,chip,2027-01-01,2026-01-01",
        "E9,Ho,staff,,1,,,,,,uid,,",
    ]);
    assert_eq!(
        errors(&text),
        [
            (2, "clearance".into()),
            (3, "kind".into()),
            (3, "status".into()),
            (4, "clearance".into()),
            (4, "external_id".into()),
            (4, "kind".into()),
            (4, "name".into()),
            (5, "vetting_cleared_until".into()),
            (6, "vetting_cleared_until".into()),
            (7, "vetting_reference".into()),
            (8, "card".into()),
            (8, "card_valid_from".into()),
            (9, "card_kind".into()),
            (9, "card_valid_until".into()),
            (10, "card_kind".into()),
        ]
    );
}

#[test]
fn messages_say_what_is_wrong() {
    let text = file(&["E1,Ada,staff,,x,,cleared,2025-01-01,,0g,,,"]);
    let errors = parse(text.as_bytes(), now(), &()).unwrap_err();
    let message = |field: &str| {
        errors
            .iter()
            .find(|e| e.field == field)
            .map(|e| e.message.clone())
            .unwrap()
    };
    assert_eq!(message("clearance"), "must be a whole number from 0 to 255");
    assert_eq!(message("vetting_cleared_until"), "must be in the future");
    assert!(message("card").contains("non-hex"), "{errors:?}");
    assert_eq!(
        LineError::new(3, "card", "bad").to_string(),
        "line 3: card: bad"
    );
}

#[test]
fn times_outside_1970_to_9999_are_refused_as_the_api_refuses_them() {
    let text = file(&[
        "E1,Ada,staff,,1,,cleared,+262142-12-31,,0A01,,,",
        "E2,Bo,staff,,1,,,,,0A02,,1969-12-31T23:59:59Z,",
        "E3,Cy,staff,,1,,,,,0A03,,,+262142-12-31",
        "E4,Di,staff,,1,,,,,0A04,,,+10000-01-01",
        "E5,Ed,staff,,1,,,,,0A05,,1970-01-01,9999-12-31T23:59:59Z",
    ]);
    let errors = parse(text.as_bytes(), now(), &()).unwrap_err();
    let found: Vec<_> = errors
        .iter()
        .map(|e| (e.line, e.field.as_str(), e.message.as_str()))
        .collect();
    let range = gatehouse_core::protocol::time::RANGE;
    assert_eq!(
        found,
        [
            (2, "vetting_cleared_until", range),
            (3, "card_valid_from", range),
            (4, "card_valid_until", range),
            (5, "card_valid_until", range),
        ]
    );
}

#[test]
fn rows_of_one_person_must_agree_and_cards_appear_once() {
    let text = file(&[
        "E1,Ada,staff,,3,,,,,0A0B,,,",
        "E1,Ada,contractor,,4,,,,,0C0D,,,",
        "E2,Bob,staff,,1,,,,,0a:0b,,,",
    ]);
    assert_eq!(
        errors(&text),
        [
            (3, "kind".into()),
            (3, "clearance".into()),
            (4, "card".into())
        ]
    );
}

#[test]
fn header_problems_are_on_line_one() {
    assert_eq!(errors(""), [(1, "row".into())]);
    assert_eq!(
        errors("external_id,name,kind,colour,name\nE1,Ada,staff,red,Ada"),
        [
            (1, "colour".into()),
            (1, "name".into()),
            (1, "clearance".into())
        ]
    );
}

#[test]
fn a_row_of_the_wrong_width_and_bad_utf8_are_errors() {
    let text = file(&["E1,Ada,staff,,3", "E2,Bob,staff,,1,,,,,,,,"]);
    assert_eq!(errors(&text), [(2, "row".to_owned())]);
    let mut text = text.into_bytes();
    text.extend_from_slice(b"\nE3,B\xffb,staff,,1,,,,,,,,");
    let errors = parse(&text, now(), &()).unwrap_err();
    let got: Vec<_> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
    assert_eq!(got, [(4, "file")], "one error for the file, before any row");
}

#[test]
fn progress_counts_every_byte() {
    use std::sync::Mutex;
    #[derive(Default)]
    struct Count(Mutex<(u64, u64)>);
    impl super::Progress for Count {
        fn start(&self, _: &'static str, total: u64) {
            *self.0.lock().unwrap() = (total, 0);
        }
        fn advance(&self, done: u64) {
            self.0.lock().unwrap().1 += done;
        }
    }
    let rows: Vec<String> = (0..2500)
        .map(|i| format!("E{i},P{i},staff,,1,,,,,,,,"))
        .collect();
    let rows: Vec<&str> = rows.iter().map(String::as_str).collect();
    let text = file(&rows);
    let count = Count::default();
    let parsed = parse(text.as_bytes(), now(), &count).unwrap();
    assert_eq!(parsed.people.len(), 2500);
    let (total, done) = *count.0.lock().unwrap();
    assert_eq!((total, done), (text.len() as u64, text.len() as u64));
}

#[test]
fn names_with_control_bidi_or_only_invisible_characters_are_refused() {
    for bad in ["Ada\u{0}", "Ada\tLovelace", "\u{202E}gpj.exe", "\u{200B}"] {
        let row = format!("E1,{bad},staff,,3,,,,,,,,");
        let errors = parse(file(&[&row]).as_bytes(), now(), &())
            .err()
            .unwrap_or_default();
        let at: Vec<_> = errors.iter().map(|e| (e.line, e.field.as_str())).collect();
        assert_eq!(at, [(2, "name")], "{bad:?}: {errors:?}");
    }
}

/// The one error of a file that is not UTF-8: on line 1 (or the line of the first bad
/// byte), naming the file, not a column of NUL bytes or every cell.
#[test]
fn a_file_not_in_utf8_is_named_as_such() {
    let text = file(&["E1,Zoë,staff,,1,,,,,,,,"]);
    let utf16_le: Vec<u8> = [0xFF, 0xFE]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    let utf16_be: Vec<u8> = [0xFE, 0xFF]
        .into_iter()
        .chain(text.encode_utf16().flat_map(u16::to_be_bytes))
        .collect();
    let utf16_no_bom: Vec<u8> = text.encode_utf16().flat_map(u16::to_le_bytes).collect();
    let latin1: Vec<u8> = text.chars().map(|c| c as u8).collect();
    let cases: [(&str, &[u8], u64, &str); 4] = [
        ("UTF-16 LE with BOM", &utf16_le, 1, "the file is UTF-16"),
        ("UTF-16 BE with BOM", &utf16_be, 1, "the file is UTF-16"),
        (
            "UTF-16 without BOM",
            &utf16_no_bom,
            1,
            "not UTF-8: it has NUL bytes",
        ),
        ("Latin-1", &latin1, 2, "not UTF-8 (byte 0xEB"),
    ];
    for (name, bytes, line, says) in cases {
        let errors = parse(bytes, now(), &()).unwrap_err();
        let [error] = errors.as_slice() else {
            panic!("{name}: one error, not {errors:?}")
        };
        assert_eq!((error.line, error.field.as_str()), (line, "file"), "{name}");
        assert!(error.message.contains(says), "{name}: {}", error.message);
        assert!(error.message.contains("save it as UTF-8"), "{name}");
    }
}

/// A quote that is never closed: the row is named with the quote and where it opened,
/// not only by its count of fields.
#[test]
fn an_unterminated_quote_is_named() {
    let at_end = file(&[
        "E1,Ada,staff,,1,,,,,,,,",
        "E2,\"Bob,staff,,1,,,,,,,,",
        "E3,Cy,staff,,1,,,,,,,,",
    ]);
    let errors = parse(at_end.as_bytes(), now(), &()).unwrap_err();
    let [error] = errors.as_slice() else {
        panic!("one error, not {errors:?}")
    };
    assert_eq!((error.line, error.field.as_str()), (3, "row"));
    assert!(
        error.message.starts_with("has 2 fields, the header 13: "),
        "{}",
        error.message
    );
    assert!(
        error
            .message
            .contains("the quote (\") opened on line 3 is never closed"),
        "{}",
        error.message
    );

    let closed_later = file(&[
        "E1,\"Ada,staff,,1,,,,,,,,",
        "E2,Bob\",1",
        "E3,Cy,staff,,1,,,,,,,,",
    ]);
    let errors = parse(closed_later.as_bytes(), now(), &()).unwrap_err();
    assert_eq!((errors[0].line, errors[0].field.as_str()), (2, "row"));
    assert!(
        errors[0]
            .message
            .contains("opened on line 2 is not closed on that line; lines 2 to 3"),
        "{}",
        errors[0].message
    );

    let plain = file(&["E1,Ada,staff"]);
    let errors = parse(plain.as_bytes(), now(), &()).unwrap_err();
    assert_eq!(
        errors[0].message, "has 3 fields, the header 13",
        "no quote, no word of one"
    );
}

/// A typical European HR export: `;`-separated, a UTF-8 byte-order mark, CRLF line ends,
/// a decimal comma in a quoted field and names with accents.
#[test]
fn a_semicolon_file_with_bom_and_crlf_is_read() {
    let text = "\u{feff}external_id;name;kind;employer;clearance;groups\r\n\
                E1;Zoë Müller;staff;\"Acme, Köln\";2;Night shift|Lab\r\n\
                E2;Jan de Vries;contractor;;1;\r\n";
    let parsed = parse(text.as_bytes(), now(), &()).unwrap();
    assert_eq!(parsed.rows, 2);
    let [zoe, jan] = parsed.people.as_slice() else {
        panic!("two people: {parsed:?}")
    };
    assert_eq!((zoe.line, zoe.name.as_str()), (2, "Zoë Müller"));
    assert_eq!(zoe.employer.as_deref(), Some("Acme, Köln"));
    assert_eq!(
        zoe.groups,
        Some(vec!["Lab".to_owned(), "Night shift".to_owned()])
    );
    assert_eq!(
        (jan.line, jan.kind, jan.groups.clone()),
        (3, PersonKind::Contractor, None)
    );

    // Line numbers stay right after CRLF, and errors name the column.
    let bad = "external_id;name;kind;clearance\r\nE1;Ada;staff;1\r\nE2;Bob;robot;1\r\n";
    assert_eq!(
        errors(bad),
        vec![(3, "kind".to_owned())],
        "the third line's kind"
    );
}

#[test]
fn a_tab_separated_file_is_read() {
    let text =
        "external_id\tname\tkind\tclearance\tgroups\nE1\tAda, Countess\tstaff\t3\tLab,Office\n";
    let parsed = parse(text.as_bytes(), now(), &()).unwrap();
    let [ada] = parsed.people.as_slice() else {
        panic!("one person: {parsed:?}")
    };
    assert_eq!(ada.name, "Ada, Countess");
    assert_eq!(
        ada.groups,
        Some(vec!["Lab".to_owned(), "Office".to_owned()])
    );
}

#[test]
fn the_delimiter_is_the_header_line_s_commonest() {
    use super::parse::delimiter;
    assert_eq!(delimiter(b"external_id,name,kind\n1;2;3"), b',');
    assert_eq!(delimiter(b"external_id;name;kind\r\nE1,x;y;z"), b';');
    assert_eq!(delimiter(b"external_id\tname\tkind"), b'\t');
    assert_eq!(
        delimiter(b"\"a;b\",name,kind"),
        b',',
        "inside quotes does not count"
    );
    assert_eq!(delimiter(b"external_id"), b',', "one column: a comma");
    assert_eq!(delimiter(b""), b',');
}

#[test]
fn the_groups_column_lists_names_once_each() {
    let text = "external_id,name,kind,clearance,groups\n\
                E1,Ada,staff,1,\"Lab | Lab|  Office \"\n\
                E1,Ada,staff,1,Lab\n\
                E2,Bob,staff,1,|\n";
    let found = parse(text.as_bytes(), now(), &()).unwrap_err();
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!((found[0].line, found[0].field.as_str()), (3, "groups"));
    assert!(
        found[0].message.contains("differs from line 2"),
        "{found:?}"
    );

    let text = "external_id,name,kind,clearance,groups\n\
                E1,Ada,staff,1,\"Lab | Lab|  Office \"\n\
                E2,Bob,staff,1,|\n";
    let parsed = parse(text.as_bytes(), now(), &()).unwrap();
    assert_eq!(
        parsed.people[0].groups,
        Some(vec!["Lab".to_owned(), "Office".to_owned()])
    );
    assert_eq!(
        parsed.people[1].groups,
        Some(vec![]),
        "only separators: in no group"
    );
    let long = format!(
        "external_id,name,kind,clearance,groups\nE1,Ada,staff,1,{}\n",
        "g".repeat(129)
    );
    assert_eq!(errors(&long), vec![(2, "groups".to_owned())]);
}
