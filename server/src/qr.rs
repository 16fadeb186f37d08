//! QR codes of check-in codes, for badges (drawn as squares in a PDF) and invitation
//! emails (a PNG). One encoder (the `qrcode` crate, no default features: no image
//! stack) and one tiny PNG writer, so every place draws the same symbol.

use qrcode::{Color, EcLevel, QrCode};

/// Modules of quiet zone around the symbol that scanners need.
pub const QUIET_ZONE: usize = 4;

/// A QR symbol: `width` × `width` modules, `true` for dark, row by row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrMatrix {
    pub width: usize,
    pub dark: Vec<bool>,
}

impl QrMatrix {
    /// Encodes `text` with error correction M (survives a scuffed badge).
    pub fn encode(text: &str) -> Result<QrMatrix, QrError> {
        let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)
            .map_err(|_| QrError::TooLong)?;
        let width = code.width();
        let dark = code
            .to_colors()
            .into_iter()
            .map(|c| c == Color::Dark)
            .collect();
        Ok(QrMatrix { width, dark })
    }

    /// Whether the module at column `x`, row `y` is dark (outside the symbol: light).
    pub fn is_dark(&self, x: usize, y: usize) -> bool {
        x < self.width && y < self.width && self.dark[y * self.width + x]
    }

    /// A greyscale PNG with the quiet zone, each module `scale` pixels square.
    pub fn png(&self, scale: usize) -> Result<Vec<u8>, QrError> {
        let scale = scale.max(1);
        let side = (self.width + 2 * QUIET_ZONE) * scale;
        let size = u32::try_from(side).map_err(|_| QrError::TooLong)?;
        let mut pixels = vec![255u8; side * side];
        for y in 0..self.width {
            for x in 0..self.width {
                if !self.is_dark(x, y) {
                    continue;
                }
                for dy in 0..scale {
                    let row = (y + QUIET_ZONE) * scale + dy;
                    let start = row * side + (x + QUIET_ZONE) * scale;
                    pixels[start..start + scale].fill(0);
                }
            }
        }
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, size, size);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(|_| QrError::Png)?;
        writer.write_image_data(&pixels).map_err(|_| QrError::Png)?;
        writer.finish().map_err(|_| QrError::Png)?;
        Ok(out)
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum QrError {
    #[error("the text is too long for a QR code")]
    TooLong,
    #[error("the QR image could not be written")]
    Png,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_check_in_code_encodes_and_renders() {
        let qr = QrMatrix::encode("GH-7K3P-Q9XM").unwrap();
        assert_eq!(qr.dark.len(), qr.width * qr.width);
        // Finder pattern: the top-left corner module is dark.
        assert!(qr.is_dark(0, 0));
        let png = qr.png(4).unwrap();
        assert_eq!(&png[1..4], b"PNG");
    }
}
