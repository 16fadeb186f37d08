//! The lists as served: JSON, CSV (formula-safe) or a printable HTML page, one row per
//! person (name, kind, organisation, host, zone, last door, since, accounted for).

use super::ListFormat;
use crate::store::{MusterPerson, Occupant};
use axum::Json;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// One line of a printed or CSV list.
pub(super) struct Row {
    name: String,
    kind: String,
    organisation: String,
    host: String,
    zone: String,
    door: String,
    since: String,
    accounted: String,
}

impl Row {
    fn cells(&self) -> [&str; 8] {
        [
            &self.name,
            &self.kind,
            &self.organisation,
            &self.host,
            &self.zone,
            &self.door,
            &self.since,
            &self.accounted,
        ]
        .map(String::as_str)
    }
}

impl From<&Occupant> for Row {
    fn from(o: &Occupant) -> Row {
        Row {
            name: o.name.clone(),
            kind: o.kind.clone(),
            organisation: o.organisation.clone().unwrap_or_default(),
            host: o.host_name.clone().unwrap_or_default(),
            zone: o.zone_name.clone(),
            door: o.door_name.clone().unwrap_or_default(),
            since: minute(o.since),
            accounted: String::new(),
        }
    }
}

impl From<&MusterPerson> for Row {
    fn from(p: &MusterPerson) -> Row {
        let accounted = match (&p.accounted_at, &p.accounted_by) {
            (Some(at), by) => format!(
                "{} by {}{}",
                minute(*at),
                by.as_deref().unwrap_or_default(),
                p.note
                    .as_ref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ),
            (None, _) => String::new(),
        };
        Row {
            name: p.name.clone(),
            kind: p.kind.clone(),
            organisation: p.organisation.clone().unwrap_or_default(),
            // A visitor's phone beside the host: whom to call for someone missing.
            host: match (&p.host_name, &p.phone) {
                (host, Some(phone)) => format!(
                    "{}{}visitor's phone {phone}",
                    host.as_deref().unwrap_or_default(),
                    if host.is_some() { ", " } else { "" }
                ),
                (host, None) => host.clone().unwrap_or_default(),
            },
            zone: p.zone_name.clone(),
            door: p.door_name.clone().unwrap_or_default(),
            since: minute(p.since),
            accounted,
        }
    }
}

pub(super) fn minute(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

const HEADINGS: [&str; 8] = [
    "name",
    "kind",
    "organisation",
    "host",
    "zone",
    "last door",
    "since",
    "accounted for",
];

/// The list as JSON (`json`), CSV (formula-safe) or a printable HTML page.
pub(super) fn render(
    format: ListFormat,
    title: &str,
    rows: &[Row],
    json: &impl Serialize,
) -> Response {
    match format {
        ListFormat::Json => Json(json).into_response(),
        ListFormat::Csv => {
            let mut writer = csv::Writer::from_writer(Vec::new());
            let _ = writer.write_record(HEADINGS);
            for row in rows {
                let _ = writer.write_record(row.cells().map(spreadsheet_safe));
            }
            let body = writer.into_inner().unwrap_or_default();
            ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], body).into_response()
        }
        ListFormat::Html => {
            let mut html = format!(
                "<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>{t}</title>\
                 <style>body{{font-family:sans-serif}}table{{border-collapse:collapse;width:100%}}\
                 td,th{{border:1px solid #444;padding:4px 8px;text-align:left}}\
                 td.box{{width:2em}}@media print{{button{{display:none}}}}</style>\
                 <h1>{t}</h1><p>{n} people</p><table><tr><th></th>",
                t = escape(title),
                n = rows.len()
            );
            for h in HEADINGS {
                html.push_str(&format!("<th>{}</th>", escape(h)));
            }
            html.push_str("</tr>");
            for row in rows {
                let mark = if row.accounted.is_empty() {
                    "☐"
                } else {
                    "☑"
                };
                html.push_str(&format!("<tr><td class=\"box\">{mark}</td>"));
                for cell in row.cells() {
                    html.push_str(&format!("<td>{}</td>", escape(cell)));
                }
                html.push_str("</tr>");
            }
            html.push_str("</table></html>\n");
            ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
        }
    }
}

/// A cell a spreadsheet will not run as a formula.
pub(crate) fn spreadsheet_safe(cell: &str) -> String {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_and_csv_cells_are_defused() {
        assert_eq!(
            escape("<b>\"A&B\"</b>"),
            "&lt;b&gt;&quot;A&amp;B&quot;&lt;/b&gt;"
        );
        assert_eq!(spreadsheet_safe("=cmd()"), "'=cmd()");
        assert_eq!(spreadsheet_safe("Ada"), "Ada");
    }
}
