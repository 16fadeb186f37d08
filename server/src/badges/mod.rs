//! Printable visitor badges (issue 13 item 6): a PDF at card (CR80), A6 or 62 mm label
//! size with the visitor's name, organisation, host, the visit's date large enough to
//! spot an expired badge, the time it is valid until, an ESCORT REQUIRED band when the
//! visit needs one, the site, a QR code of the check-in code, and the visitor's photo
//! when one was taken ([`photo`]).

pub mod photo;

use crate::documents::layout::{Document, Font, Image, Page, fit_size, mm, truncate};
use crate::qr::{QrError, QrMatrix};
use crate::store::documents::VisitSheet;
use chrono::{NaiveDate, NaiveDateTime};
use gatehouse_core::local_time::{local_date, wall_clock};
use serde::Deserialize;

/// Everything printed on a badge, times already in the site's local time.
#[derive(Debug, Clone)]
pub struct BadgeContent {
    pub visitor_name: String,
    pub organisation: Option<String>,
    pub host_name: String,
    pub site_name: String,
    /// The day the visit starts (site-local).
    pub visit_date: NaiveDate,
    /// The end of the visit's window (site-local).
    pub valid_until: NaiveDateTime,
    pub escort_required: bool,
    pub check_in_code: String,
    /// The visitor's photo, ready for the PDF ([`photo::badge_image`]).
    pub photo: Option<Image>,
}

/// The printed sizes.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Deserialize,
    strum::AsRefStr,
    strum::EnumString,
    utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum BadgeSize {
    /// An ID card, 85.6 × 53.98 mm (landscape), for card printers.
    Cr80,
    /// A6 paper, 105 × 148 mm (portrait), for a badge holder.
    A6,
    /// A 62 mm continuous label cut at 100 mm (portrait), for label printers.
    Label62,
}

impl BadgeSize {
    pub const ALL: [BadgeSize; 3] = [BadgeSize::Cr80, BadgeSize::A6, BadgeSize::Label62];

    /// Width and height in millimetres.
    pub fn millimetres(self) -> (f32, f32) {
        match self {
            BadgeSize::Cr80 => (85.6, 53.98),
            BadgeSize::A6 => (105.0, 148.0),
            BadgeSize::Label62 => (62.0, 100.0),
        }
    }

    /// How people call it, for links and buttons.
    pub fn label(self) -> &'static str {
        match self {
            BadgeSize::Cr80 => "Card (CR80)",
            BadgeSize::A6 => "A6",
            BadgeSize::Label62 => "62 mm label",
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BadgeError {
    #[error(transparent)]
    Qr(#[from] QrError),
}

impl BadgeContent {
    /// What a visit's badge shows, in the site's local time. Refused (with a sentence for
    /// a 409) when the visit has no check-in code or no site yet.
    pub fn of_visit(sheet: &VisitSheet) -> Result<BadgeContent, &'static str> {
        let code = sheet
            .check_in_code
            .clone()
            .ok_or("the visit has no check-in code yet: a badge needs one for its QR code")?;
        let site_name = sheet
            .site_name
            .clone()
            .ok_or("the visit has no site yet: a badge shows the site and its local date")?;
        let zone = sheet.zone();
        Ok(BadgeContent {
            visitor_name: sheet.visitor_name.clone(),
            organisation: sheet.visitor_organisation.clone(),
            host_name: sheet.host_name.clone(),
            site_name,
            visit_date: local_date(sheet.window_start, zone),
            valid_until: wall_clock(sheet.window_end, zone),
            escort_required: sheet.escort_required,
            check_in_code: code,
            photo: None,
        })
    }
}

/// The visit's date as printed large: `TUE 8 DEC`.
pub fn big_date(date: NaiveDate) -> String {
    date.format("%a %-d %b").to_string().to_uppercase()
}

/// "Valid until 17:00", with the date when the visit ends on another day.
fn valid_until(content: &BadgeContent) -> String {
    if content.valid_until.date() == content.visit_date {
        format!("Valid until {}", content.valid_until.format("%H:%M"))
    } else {
        format!(
            "Valid until {}",
            content.valid_until.format("%a %-d %b %Y %H:%M")
        )
    }
}

/// The badge as a one-page PDF.
pub fn render(content: &BadgeContent, size: BadgeSize) -> Result<Vec<u8>, BadgeError> {
    let qr = QrMatrix::encode(&content.check_in_code)?;
    let (width, height) = size.millimetres();
    let mut doc = Document::new(
        width,
        height,
        &format!("Visitor badge: {}", content.visitor_name),
    );
    let page = doc.page();
    match size {
        BadgeSize::Cr80 => card(page, content, &qr),
        BadgeSize::A6 => portrait(page, content, &qr, 1.0),
        BadgeSize::Label62 => portrait(page, content, &qr, 0.62),
    }
    Ok(doc.finish())
}

/// The escort band across the page at `top` (its top edge), `height` tall.
fn escort_band(page: &mut Page, top: f32, height: f32, size: f32) {
    page.fill_rect(0.0, top - height, page.width, height, 0.0);
    let text = "ESCORT REQUIRED";
    let size = fit_size(text, Font::Bold, page.width - mm(4.0), size, 5.0);
    let x = (page.width - crate::documents::layout::text_width(text, Font::Bold, size)) / 2.0;
    page.text_white(x, top - height / 2.0 - size * 0.35, Font::Bold, size, text);
}

/// CR80, landscape: the text on the left, the QR code on the right.
fn card(page: &mut Page, c: &BadgeContent, qr: &QrMatrix) {
    let margin = mm(3.0);
    let mut top = page.height - margin;
    if c.escort_required {
        escort_band(page, page.height, mm(8.0), 12.0);
        top = page.height - mm(8.0) - mm(2.0);
    }
    // With a photo, the QR code shrinks a little and the photo stands above it.
    let qr_side = mm(if c.photo.is_some() { 22.0 } else { 26.0 });
    let qr_x = page.width - margin - qr_side;
    page.qr(qr, qr_x, margin, qr_side);
    let text_width = qr_x - margin - mm(1.0);
    // The name may use the full width above the QR code (beside the photo, if any).
    let full = match &c.photo {
        Some(image) => {
            let bottom = margin + qr_side + mm(1.0);
            photo_in(page, image.clone(), qr_x, bottom, qr_side, top - bottom);
            text_width
        }
        None => page.width - 2.0 * margin,
    };
    let name_size = fit_size(&c.visitor_name, Font::Bold, full, 16.0, 7.0);
    top -= name_size;
    let name = truncate(&c.visitor_name, Font::Bold, name_size, full);
    page.text(margin, top, Font::Bold, name_size, &name);
    if let Some(org) = &c.organisation {
        top -= 10.0;
        page.text(
            margin,
            top,
            Font::Regular,
            8.0,
            &truncate(org, Font::Regular, 8.0, full),
        );
    }
    top -= 10.0;
    let host = format!("Visiting {}", c.host_name);
    page.text(
        margin,
        top,
        Font::Regular,
        7.5,
        &truncate(&host, Font::Regular, 7.5, text_width),
    );
    let date = big_date(c.visit_date);
    let date_size = fit_size(&date, Font::Bold, text_width, 20.0, 8.0);
    top -= date_size + 2.0;
    page.text(margin, top, Font::Bold, date_size, &date);
    top -= 11.0;
    let until = valid_until(c);
    page.text(
        margin,
        top,
        Font::Regular,
        7.0,
        &truncate(&until, Font::Regular, 7.0, text_width),
    );
    let site = truncate(&c.site_name, Font::Regular, 6.5, text_width);
    page.text(margin, margin + 1.0, Font::Regular, 6.5, &site);
}

/// A6 or a 62 mm label, portrait: the text stacked, the QR code centred below;
/// `scale` shrinks the type for the narrower label.
fn portrait(page: &mut Page, c: &BadgeContent, qr: &QrMatrix, scale: f32) {
    let margin = mm(5.0 * scale.max(0.7));
    let full = page.width - 2.0 * margin;
    let centre = page.width / 2.0;
    let mut top = page.height - margin;
    let site_size = 9.0 * scale.max(0.8);
    top -= site_size;
    page.text_centred(
        centre,
        top,
        Font::Regular,
        site_size,
        &truncate(&c.site_name, Font::Regular, site_size, full),
    );
    top -= mm(2.0);
    if c.escort_required {
        let band = mm(12.0 * scale.max(0.75));
        escort_band(page, top, band, 20.0 * scale.max(0.7));
        top -= band;
    }
    top -= mm(3.0);
    let name_size = fit_size(&c.visitor_name, Font::Bold, full, 28.0 * scale, 8.0);
    top -= name_size;
    page.text_centred(
        centre,
        top,
        Font::Bold,
        name_size,
        &truncate(&c.visitor_name, Font::Bold, name_size, full),
    );
    let line = 12.0 * scale.max(0.8);
    if let Some(org) = &c.organisation {
        top -= line + 2.0;
        page.text_centred(
            centre,
            top,
            Font::Regular,
            line,
            &truncate(org, Font::Regular, line, full),
        );
    }
    top -= line + 4.0;
    let host = format!("Visiting {}", c.host_name);
    page.text_centred(
        centre,
        top,
        Font::Regular,
        line * 0.9,
        &truncate(&host, Font::Regular, line * 0.9, full),
    );
    let date = big_date(c.visit_date);
    let date_size = fit_size(&date, Font::Bold, full, 40.0 * scale, 10.0);
    top -= date_size + 6.0;
    page.text_centred(centre, top, Font::Bold, date_size, &date);
    top -= line + 2.0;
    let until = valid_until(c);
    page.text_centred(
        centre,
        top,
        Font::Regular,
        line * 0.9,
        &truncate(&until, Font::Regular, line * 0.9, full),
    );
    // The QR code fills what is left below, up to 40 mm (scanned at the desk or kiosk);
    // a photo shares the row, on the QR code's left.
    let room = top - mm(3.0) - margin;
    let gap = mm(3.0);
    let across = match c.photo {
        Some(_) => (full - gap) / 2.0,
        None => full,
    };
    let qr_side = room
        .min(mm(40.0 * scale.max(0.8)))
        .min(across)
        .max(mm(15.0));
    match &c.photo {
        Some(image) => {
            let left = centre - (2.0 * qr_side + gap) / 2.0;
            photo_in(page, image.clone(), left, margin, qr_side, qr_side);
            page.qr(qr, left + qr_side + gap, margin, qr_side);
        }
        None => page.qr(qr, centre - qr_side / 2.0, margin, qr_side),
    }
}

/// The photo as large as fits the box whose bottom-left corner is (`x`, `y`), keeping
/// its proportions, centred across the box and standing on its bottom edge.
fn photo_in(page: &mut Page, image: Image, x: f32, y: f32, width: f32, height: f32) {
    if width <= 0.0 || height <= 0.0 || image.width == 0 || image.height == 0 {
        return;
    }
    let scale = (width / image.width as f32).min(height / image.height as f32);
    let (w, h) = (image.width as f32 * scale, image.height as f32 * scale);
    page.image(image, x + (width - w) / 2.0, y, w, h);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_dates_read_at_a_glance() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
        assert_eq!(big_date(date), "TUE 8 DEC");
    }

    #[test]
    fn every_size_renders() {
        let date = NaiveDate::from_ymd_opt(2026, 12, 8).unwrap();
        let content = BadgeContent {
            visitor_name: "Maximiliane Wolkenstein-Trostburg of Greater Lengthshire".into(),
            organisation: Some("Acme".into()),
            host_name: "Hannah Host".into(),
            site_name: "Main site".into(),
            visit_date: date,
            valid_until: date.and_hms_opt(17, 0, 0).unwrap(),
            escort_required: true,
            check_in_code: "GH-7K3P-Q9XM".into(),
            photo: None,
        };
        for size in BadgeSize::ALL {
            let pdf = render(&content, size).unwrap();
            assert!(pdf.starts_with(b"%PDF-"));
        }
        let photo = Image {
            width: 2,
            height: 3,
            components: 1,
            data: vec![0xFF, 0xD8],
            encoding: crate::documents::layout::ImageEncoding::Jpeg,
        };
        let with_photo = BadgeContent {
            photo: Some(photo),
            ..content
        };
        for size in BadgeSize::ALL {
            let pdf = render(&with_photo, size).unwrap();
            assert!(pdf.windows(4).any(|w| w == b"/Im1"));
        }
        assert_eq!("label62".parse::<BadgeSize>(), Ok(BadgeSize::Label62));
    }
}
