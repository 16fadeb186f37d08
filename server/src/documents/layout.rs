//! A small PDF layout helper shared by badges and signed copies: pages of a fixed size,
//! text in the standard Helvetica fonts (no font file to ship), wrapping, filled boxes,
//! vector paths, a QR code drawn as filled squares with its quiet zone, and images (a
//! JPEG as it is, or 8-bit samples already deflated with PNG row filters).
//!
//! The standard fonts use WinAnsiEncoding: Latin-1 letters print as they are; anything
//! else is transliterated (`deunicode`: "Łukasz" → "Lukasz", "Дмитрий" → "Dmitrii"), so
//! every name prints, if sometimes only in its Latin spelling.

use crate::qr::{QUIET_ZONE, QrMatrix};
use pdf_writer::{Content, Finish, Name, Pdf, Rect, Ref, Str};

/// Points per millimetre (a point is 1/72 inch).
pub const PT_PER_MM: f32 = 72.0 / 25.4;

/// Millimetres as points.
pub fn mm(value: f32) -> f32 {
    value * PT_PER_MM
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Font {
    Regular,
    Bold,
}

impl Font {
    fn resource(self) -> Name<'static> {
        match self {
            Font::Regular => Name(b"F1"),
            Font::Bold => Name(b"F2"),
        }
    }

    /// Advance width of one WinAnsi byte, in 1/1000 of the font size (the AFM metrics of
    /// the standard fonts for ASCII; an average letter for the rest).
    fn width(self, byte: u8) -> u16 {
        let table = match self {
            Font::Regular => &HELVETICA,
            Font::Bold => &HELVETICA_BOLD,
        };
        match byte {
            32..=126 => table[usize::from(byte - 32)],
            128..=255 => match self {
                Font::Regular => 600,
                Font::Bold => 650,
            },
            _ => 0,
        }
    }
}

#[rustfmt::skip]
const HELVETICA: [u16; 95] = [
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556,
    1015, 667, 667, 722, 722, 667, 611, 778, 722, 278, 500, 667, 556, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278, 278, 278, 469, 556,
    333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584,
];

#[rustfmt::skip]
const HELVETICA_BOLD: [u16; 95] = [
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278,
    556, 556, 556, 556, 556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611,
    975, 722, 722, 722, 722, 667, 611, 778, 722, 278, 556, 722, 611, 833, 722, 778,
    667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333, 278, 333, 584, 556,
    333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584,
];

/// `text` in WinAnsiEncoding: Latin-1 and the Windows-1252 extras as they are, control
/// characters as spaces, everything else transliterated to ASCII.
pub fn winansi(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ' '..='~' => out.push(c as u8),
            '\u{A0}'..='\u{FF}' => out.push(c as u32 as u8),
            c if c.is_control() => out.push(b' '),
            c => match cp1252_extra(c) {
                Some(byte) => out.push(byte),
                None => {
                    let ascii = deunicode::deunicode_char(c).unwrap_or("?");
                    out.extend(ascii.bytes().filter(|b| (32..=126).contains(b)));
                }
            },
        }
    }
    out
}

/// The Windows-1252 characters in 0x80..0x9F that a name or a document may hold.
fn cp1252_extra(c: char) -> Option<u8> {
    Some(match c {
        '€' => 0x80,
        '‚' => 0x82,
        '„' => 0x84,
        '…' => 0x85,
        'Š' => 0x8A,
        'Œ' => 0x8C,
        'Ž' => 0x8E,
        '‘' => 0x91,
        '’' => 0x92,
        '“' => 0x93,
        '”' => 0x94,
        '•' => 0x95,
        '–' => 0x96,
        '—' => 0x97,
        '™' => 0x99,
        'š' => 0x9A,
        'œ' => 0x9C,
        'ž' => 0x9E,
        'Ÿ' => 0x9F,
        _ => return None,
    })
}

/// Width of `text` in points at `size`.
pub fn text_width(text: &str, font: Font, size: f32) -> f32 {
    let units: u32 = winansi(text)
        .into_iter()
        .map(|b| u32::from(font.width(b)))
        .sum();
    units as f32 * size / 1000.0
}

/// The largest size from `max` down to `min` (in half points) at which `text` fits
/// `width`; `min` when none does.
pub fn fit_size(text: &str, font: Font, width: f32, max: f32, min: f32) -> f32 {
    let mut size = max;
    while size > min && text_width(text, font, size) > width {
        size -= 0.5;
    }
    size.max(min)
}

/// `text` cut at the last character that fits `width`, with "…" when cut.
pub fn truncate(text: &str, font: Font, size: f32, width: f32) -> String {
    if text_width(text, font, size) <= width {
        return text.to_owned();
    }
    let mut out = String::new();
    for c in text.chars() {
        let candidate = format!("{out}{c}…");
        if text_width(&candidate, font, size) > width {
            break;
        }
        out.push(c);
    }
    format!("{}…", out.trim_end())
}

/// `text` wrapped into lines no wider than `width` (paragraphs kept; a word longer than a
/// line is cut).
pub fn wrap(text: &str, font: Font, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.lines() {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            let candidate = if line.is_empty() {
                word.to_owned()
            } else {
                format!("{line} {word}")
            };
            if text_width(&candidate, font, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            // A word wider than the line: cut it into pieces that fit.
            let mut piece = String::new();
            for c in word.chars() {
                piece.push(c);
                if text_width(&piece, font, size) > width && piece.chars().count() > 1 {
                    piece.pop();
                    lines.push(std::mem::take(&mut piece));
                    piece.push(c);
                }
            }
            line = piece;
        }
        lines.push(line);
    }
    lines
}

/// An image in a form PDF reads without re-encoding.
#[derive(Clone)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// 1 (gray) or 3 (RGB) colour components of 8 bits.
    pub components: u8,
    pub data: Vec<u8>,
    pub encoding: ImageEncoding,
}

impl std::fmt::Debug for Image {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Image")
            .field("width", &self.width)
            .field("height", &self.height)
            .field("bytes", &self.data.len())
            .finish()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageEncoding {
    /// A baseline, extended or progressive JPEG file (DCTDecode).
    Jpeg,
    /// A zlib stream of rows each led by its PNG filter byte (a PNG's IDAT data):
    /// FlateDecode with the PNG predictor.
    PngRows,
}

/// One page being drawn; coordinates in points from the bottom-left corner.
pub struct Page {
    pub width: f32,
    pub height: f32,
    content: Content,
    images: Vec<Image>,
}

impl Page {
    /// Text with its baseline's left end at (`x`, `y`).
    pub fn text(&mut self, x: f32, y: f32, font: Font, size: f32, text: &str) {
        let bytes = winansi(text);
        self.content
            .begin_text()
            .set_font(font.resource(), size)
            .next_line(x, y)
            .show(Str(&bytes))
            .end_text();
    }

    /// Text centred on `centre_x`.
    pub fn text_centred(&mut self, centre_x: f32, y: f32, font: Font, size: f32, text: &str) {
        let x = centre_x - text_width(text, font, size) / 2.0;
        self.text(x, y, font, size, text);
    }

    /// A filled rectangle, `gray` from 0 (black) to 1 (white); fill returns to black.
    pub fn fill_rect(&mut self, x: f32, y: f32, width: f32, height: f32, gray: f32) {
        self.content
            .set_fill_gray(gray)
            .rect(x, y, width, height)
            .fill_nonzero()
            .set_fill_gray(0.0);
    }

    /// White text (inside a dark box).
    pub fn text_white(&mut self, x: f32, y: f32, font: Font, size: f32, text: &str) {
        self.content.set_fill_gray(1.0);
        self.text(x, y, font, size, text);
        self.content.set_fill_gray(0.0);
    }

    /// A rectangle's outline.
    pub fn stroke_rect(&mut self, x: f32, y: f32, width: f32, height: f32, line: f32) {
        self.content
            .set_line_width(line)
            .rect(x, y, width, height)
            .stroke();
    }

    /// Connected line segments through `points` (a pen stroke), round caps and joins.
    pub fn polyline(&mut self, points: &[(f32, f32)], line: f32) {
        let Some((&(x, y), rest)) = points.split_first() else {
            return;
        };
        self.content
            .set_line_width(line)
            .set_line_cap(pdf_writer::types::LineCapStyle::RoundCap)
            .set_line_join(pdf_writer::types::LineJoinStyle::RoundJoin)
            .move_to(x, y);
        if rest.is_empty() {
            // A dot: a zero-length segment drawn with the round cap.
            self.content.line_to(x, y);
        }
        for &(x, y) in rest {
            self.content.line_to(x, y);
        }
        self.content.stroke();
    }

    /// `image` stretched over the rectangle whose bottom-left corner is (`x`, `y`).
    pub fn image(&mut self, image: Image, x: f32, y: f32, width: f32, height: f32) {
        let name = format!("Im{}", self.images.len() + 1);
        self.images.push(image);
        self.content
            .save_state()
            .transform([width, 0.0, 0.0, height, x, y])
            .x_object(Name(name.as_bytes()))
            .restore_state();
    }

    /// The QR symbol with its quiet zone as a white square of side `side` whose
    /// bottom-left corner is (`x`, `y`); each dark module a filled square.
    pub fn qr(&mut self, qr: &QrMatrix, x: f32, y: f32, side: f32) {
        let modules = qr.width + 2 * QUIET_ZONE;
        let module = side / modules as f32;
        self.fill_rect(x, y, side, side, 1.0);
        for row in 0..qr.width {
            for col in 0..qr.width {
                if qr.is_dark(col, row) {
                    let left = x + (col + QUIET_ZONE) as f32 * module;
                    // Rows run top to bottom; PDF's y runs upwards.
                    let bottom = y + side - (row + QUIET_ZONE + 1) as f32 * module;
                    // A hair of overlap so no light seam shows between adjacent modules.
                    self.content
                        .rect(left, bottom, module + 0.01, module + 0.01);
                }
            }
        }
        self.content.fill_nonzero();
    }
}

/// A document of pages of one size.
pub struct Document {
    width: f32,
    height: f32,
    title: String,
    pages: Vec<Page>,
}

impl Document {
    /// A document whose pages are `width_mm` × `height_mm`.
    pub fn new(width_mm: f32, height_mm: f32, title: &str) -> Document {
        Document {
            width: mm(width_mm),
            height: mm(height_mm),
            title: title.to_owned(),
            pages: Vec::new(),
        }
    }

    /// A new page to draw on (the last one).
    pub fn page(&mut self) -> &mut Page {
        self.pages.push(Page {
            width: self.width,
            height: self.height,
            content: Content::new(),
            images: Vec::new(),
        });
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// The page drawn on last (a new one when there is none).
    pub fn last(&mut self) -> &mut Page {
        if self.pages.is_empty() {
            return self.page();
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// The PDF's bytes.
    pub fn finish(self) -> Vec<u8> {
        let mut pdf = Pdf::new();
        let catalog = Ref::new(1);
        let tree = Ref::new(2);
        let regular = Ref::new(3);
        let bold = Ref::new(4);
        let info = Ref::new(5);
        let first = 6;
        let page_ids: Vec<Ref> = (0..self.pages.len())
            .map(|i| Ref::new(first + 2 * i as i32))
            .collect();
        pdf.catalog(catalog).pages(tree);
        pdf.pages(tree)
            .kids(page_ids.iter().copied())
            .count(page_ids.len() as i32);
        let title = winansi(&self.title);
        pdf.document_info(info)
            .title(pdf_writer::TextStr(&String::from_utf8_lossy(&title)))
            .producer(pdf_writer::TextStr("Gatehouse"));
        pdf.type1_font(regular)
            .base_font(Name(b"Helvetica"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        pdf.type1_font(bold)
            .base_font(Name(b"Helvetica-Bold"))
            .encoding_predefined(Name(b"WinAnsiEncoding"));
        // Images after the pages' objects.
        let mut next = first + 2 * self.pages.len() as i32;
        for (page, &id) in self.pages.into_iter().zip(&page_ids) {
            let contents = Ref::new(id.get() + 1);
            let images: Vec<(String, Ref, Image)> = page
                .images
                .into_iter()
                .enumerate()
                .map(|(i, image)| {
                    next += 1;
                    (format!("Im{}", i + 1), Ref::new(next - 1), image)
                })
                .collect();
            let mut writer = pdf.page(id);
            writer
                .media_box(Rect::new(0.0, 0.0, page.width, page.height))
                .parent(tree)
                .contents(contents);
            let mut resources = writer.resources();
            resources
                .fonts()
                .pair(Font::Regular.resource(), regular)
                .pair(Font::Bold.resource(), bold);
            if !images.is_empty() {
                let mut objects = resources.x_objects();
                for (name, id, _) in &images {
                    objects.pair(Name(name.as_bytes()), *id);
                }
            }
            resources.finish();
            writer.finish();
            let data = page.content.finish();
            pdf.stream(contents, &data);
            for (_, id, image) in &images {
                write_image(&mut pdf, *id, image);
            }
        }
        pdf.finish()
    }
}

fn write_image(pdf: &mut Pdf, id: Ref, image: &Image) {
    let mut xobject = pdf.image_xobject(id, &image.data);
    xobject.width(image.width as i32);
    xobject.height(image.height as i32);
    xobject.color_space_name(match image.components {
        1 => Name(b"DeviceGray"),
        _ => Name(b"DeviceRGB"),
    });
    xobject.bits_per_component(8);
    match image.encoding {
        ImageEncoding::Jpeg => {
            xobject.filter(pdf_writer::Filter::DctDecode);
        }
        ImageEncoding::PngRows => {
            xobject.filter(pdf_writer::Filter::FlateDecode);
            xobject
                .decode_parms()
                .predictor(pdf_writer::types::Predictor::PngOptimum)
                .colors(i32::from(image.components))
                .bits_per_component(8)
                .columns(image.width as i32);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_outside_winansi_are_transliterated() {
        assert_eq!(winansi("Zoë Müller"), b"Zo\xEB M\xFCller".to_vec());
        assert_eq!(winansi("Łukasz"), b"Lukasz".to_vec());
        assert_eq!(winansi("Дмитрий"), b"Dmitrii".to_vec());
        assert_eq!(winansi("a\tb"), b"a b".to_vec());
    }

    #[test]
    fn wrapping_keeps_lines_within_the_width() {
        let text = "one two three four five six seven eight nine ten\n\nsecond paragraph";
        let lines = wrap(text, Font::Regular, 10.0, 60.0);
        assert!(lines.len() > 3);
        assert!(
            lines
                .iter()
                .all(|l| text_width(l, Font::Regular, 10.0) <= 60.0)
        );
        assert!(lines.contains(&String::new()));
        let long = wrap(&"x".repeat(200), Font::Bold, 10.0, 50.0);
        assert!(long.len() > 1);
        assert!(fit_size(&"W".repeat(40), Font::Bold, 100.0, 30.0, 8.0) == 8.0);
        assert!(truncate(&"W".repeat(40), Font::Bold, 8.0, 100.0).ends_with('…'));
    }

    #[test]
    fn a_document_is_a_pdf() {
        let mut doc = Document::new(85.6, 53.98, "Badge");
        let page = doc.page();
        page.text(10.0, 10.0, Font::Bold, 12.0, "Zoë (O'Brien) \\ x");
        page.polyline(&[(1.0, 1.0), (5.0, 5.0)], 1.0);
        let qr = QrMatrix::encode("GH-1").unwrap();
        page.qr(&qr, 100.0, 10.0, 60.0);
        let bytes = doc.finish();
        assert!(bytes.starts_with(b"%PDF-"));
    }
}
