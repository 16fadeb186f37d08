//! The signed copy of a visitor document: a PDF holding the template's title, version and
//! text, who signed for which visit, when (site-local), the typed name and/or the drawn
//! signature as a vector path, and the SHA-256 of the text signed.

use super::layout::{Document, Font, mm, text_width, wrap};
use serde::{Deserialize, Serialize};

/// The drawing area a drawn signature's points lie in: x in `0..=WIDTH`, y in
/// `0..=HEIGHT`, y growing downwards (as on a canvas).
pub const STROKE_WIDTH: f32 = 1000.0;
pub const STROKE_HEIGHT: f32 = 400.0;
/// Bounds on a drawn signature, so a request cannot make the PDF or the row huge.
pub const MAX_STROKES: usize = 100;
pub const MAX_POINTS: usize = 5000;

/// A drawn signature: pen strokes, each a list of points. Only points; nothing else a
/// client sends is kept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(transparent)]
#[schema(value_type = Vec<Vec<Vec<f32>>>)]
pub struct Strokes(pub Vec<Vec<[f32; 2]>>);

impl Strokes {
    /// Checks the bounds: at least one point, at most [`MAX_STROKES`] strokes and
    /// [`MAX_POINTS`] points, every coordinate finite and inside the drawing area.
    pub fn validate(&self) -> Result<(), &'static str> {
        let points: usize = self.0.iter().map(Vec::len).sum();
        if points == 0 {
            return Err("is empty: draw the signature");
        }
        if self.0.len() > MAX_STROKES || points > MAX_POINTS {
            return Err("has too many strokes or points (at most 100 strokes, 5000 points)");
        }
        let inside = self.0.iter().flatten().all(|&[x, y]| {
            x.is_finite()
                && y.is_finite()
                && (0.0..=STROKE_WIDTH).contains(&x)
                && (0.0..=STROKE_HEIGHT).contains(&y)
        });
        if !inside {
            return Err("has a point outside the drawing area (x 0..1000, y 0..400)");
        }
        Ok(())
    }
}

/// What a signed copy shows; times already site-local text.
#[derive(Debug, Clone)]
pub struct SignedCopy<'a> {
    pub title: &'a str,
    pub kind: &'a str,
    pub version: i64,
    pub body: &'a str,
    pub body_sha256: &'a str,
    pub visitor_name: &'a str,
    pub organisation: Option<&'a str>,
    pub host_name: &'a str,
    pub site_name: &'a str,
    pub visit_date: &'a str,
    pub signed_at: &'a str,
    pub typed_name: Option<&'a str>,
    pub strokes: Option<&'a Strokes>,
}

const MARGIN_MM: f32 = 20.0;
const BODY_SIZE: f32 = 10.0;
const LEADING: f32 = 13.0;

/// The signed copy as an A4 PDF (as many pages as the text needs).
pub fn render(copy: &SignedCopy<'_>) -> Vec<u8> {
    let mut w = Writer::new(Document::new(210.0, 297.0, copy.title), mm(MARGIN_MM));
    for line in wrap(copy.title, Font::Bold, 16.0, w.width) {
        w.line(Font::Bold, 16.0, &line, 20.0);
    }
    w.y -= 2.0;
    let subtitle = format!(
        "{} - version {} - {}",
        copy.kind, copy.version, copy.site_name
    );
    w.line(Font::Regular, 9.0, &subtitle, 20.0);
    for line in wrap(copy.body, Font::Regular, BODY_SIZE, w.width) {
        w.line(Font::Regular, BODY_SIZE, &line, LEADING);
    }
    // The signature block stays on one page.
    w.need(mm(95.0));
    w.y -= 10.0;
    let (margin, width, y) = (w.margin, w.width, w.y);
    w.doc.last().fill_rect(margin, y, width, 0.7, 0.0);
    w.y -= 6.0;
    w.line(Font::Bold, 11.0, "Signed", 18.0);
    w.pair("Visitor", copy.visitor_name);
    if let Some(org) = copy.organisation {
        w.pair("Organisation", org);
    }
    w.pair("Visiting", copy.host_name);
    w.pair("Visit date", copy.visit_date);
    w.pair("Signed at", copy.signed_at);
    if let Some(name) = copy.typed_name {
        w.pair("Typed name", name);
    }
    w.pair(
        "Consent",
        "The visitor confirmed having read and accepted this text.",
    );
    if let Some(strokes) = copy.strokes {
        w.y -= 4.0;
        w.line(Font::Regular, 9.0, "Signature:", 14.0);
        let box_width = mm(100.0);
        let box_height = box_width * STROKE_HEIGHT / STROKE_WIDTH;
        let (margin, top) = (w.margin, w.y);
        let page = w.doc.last();
        page.stroke_rect(margin, top - box_height, box_width, box_height, 0.5);
        let scale = box_width / STROKE_WIDTH;
        for stroke in &strokes.0 {
            let points: Vec<(f32, f32)> = stroke
                .iter()
                .map(|&[x, y]| (margin + x * scale, top - y * scale))
                .collect();
            page.polyline(&points, 1.2);
        }
        w.y = top - box_height - 8.0;
    }
    w.y -= 8.0;
    let hash = format!("SHA-256 of the text signed: {}", copy.body_sha256);
    let size = if text_width(&hash, Font::Regular, 8.0) > w.width {
        6.5
    } else {
        8.0
    };
    w.line(Font::Regular, size, &hash, 12.0);
    w.doc.finish()
}

/// Writes lines down the page, starting a new page when one is full.
struct Writer {
    doc: Document,
    /// The top of the next line.
    y: f32,
    margin: f32,
    /// The width between the margins.
    width: f32,
    top: f32,
}

impl Writer {
    fn new(mut doc: Document, margin: f32) -> Writer {
        let page = doc.page();
        let (width, top) = (page.width - 2.0 * margin, page.height - margin);
        Writer {
            doc,
            y: top,
            margin,
            width,
            top,
        }
    }

    /// Starts a new page unless `room` points are left on this one.
    fn need(&mut self, room: f32) {
        if self.y - room < self.margin {
            self.doc.page();
            self.y = self.top;
        }
    }

    /// One line of text, then down by `leading` (at least the text's size).
    fn line(&mut self, font: Font, size: f32, text: &str, leading: f32) {
        let leading = leading.max(size);
        self.need(leading);
        let (x, y) = (self.margin, self.y - size);
        self.doc.last().text(x, y, font, size, text);
        self.y -= leading;
    }

    /// A label and its value (wrapped beside it).
    fn pair(&mut self, label: &str, value: &str) {
        let indent = mm(32.0);
        let lines = wrap(value, Font::Regular, BODY_SIZE, self.width - indent);
        self.need(LEADING * lines.len().max(1) as f32);
        let (x, y) = (self.margin, self.y - BODY_SIZE);
        self.doc.last().text(x, y, Font::Bold, BODY_SIZE, label);
        for line in lines {
            let y = self.y - BODY_SIZE;
            self.doc
                .last()
                .text(x + indent, y, Font::Regular, BODY_SIZE, &line);
            self.y -= LEADING;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strokes_are_bounded() {
        assert!(Strokes(vec![vec![[1.0, 2.0]]]).validate().is_ok());
        assert!(Strokes(vec![]).validate().is_err());
        assert!(Strokes(vec![vec![[1001.0, 2.0]]]).validate().is_err());
        assert!(Strokes(vec![vec![[f32::NAN, 2.0]]]).validate().is_err());
        assert!(Strokes(vec![vec![[1.0, 1.0]]; 101]).validate().is_err());
    }

    #[test]
    fn a_long_text_takes_several_pages() {
        let body = "Lorem ipsum dolor sit amet. ".repeat(600);
        let strokes = Strokes(vec![vec![[0.0, 0.0], [1000.0, 400.0]], vec![[5.0, 5.0]]]);
        let pdf = render(&SignedCopy {
            title: "NDA",
            kind: "nda",
            version: 2,
            body: &body,
            body_sha256: &"ab".repeat(32),
            visitor_name: "Zoë",
            organisation: Some("Acme"),
            host_name: "Hannah",
            site_name: "Main",
            visit_date: "2026-12-08",
            signed_at: "2026-12-08 09:00 CET",
            typed_name: Some("Zoë"),
            strokes: Some(&strokes),
        });
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(pdf.windows(9).filter(|w| w == b"/Type /Pa").count() >= 2);
    }
}
