//! Visitor photos (issue 13 items 2 and 6): what an upload must be — a JPEG or PNG of at
//! most [`MAX_BYTES`] whose bytes are the type it declares — and the photo made ready
//! for the badge's PDF.
//!
//! A JPEG goes into the PDF as it is (DCTDecode reads baseline, extended and
//! progressive JPEGs, so only those are accepted). A PNG is decoded with the `png` crate
//! the QR code already uses, flattened onto white, shrunk to at most
//! [`BADGE_PIXELS`] on its longer side (a badge photo is 2–4 cm: more is only bytes) and
//! encoded again as 8-bit rows that PDF's FlateDecode with the PNG predictor reads, so
//! no other image crate is needed.

use crate::documents::layout::{Image, ImageEncoding};
use std::io::Cursor;

/// The largest photo accepted, in bytes (a phone or tablet camera's JPEG fits).
pub const MAX_BYTES: usize = 2 * 1024 * 1024;
/// The longest side of a PNG photo once on a badge, in pixels (about 300 dpi at 5 cm).
pub const BADGE_PIXELS: u32 = 600;
/// The largest image accepted, in pixels on either side.
const MAX_SIDE: u32 = 10_000;
/// The most pixels a PNG may have: decoding one takes 4 bytes a pixel (64 MB here), and a
/// 2 MiB file can hold far more, compressed (a decompression bomb).
const MAX_PNG_PIXELS: u64 = 16_000_000;

/// The media types a photo may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoType {
    Jpeg,
    Png,
}

impl PhotoType {
    /// The type a `Content-Type` value names (parameters ignored); `None` for any other.
    pub fn from_media_type(value: &str) -> Option<PhotoType> {
        let media = value.split(';').next().unwrap_or("").trim();
        if media.eq_ignore_ascii_case("image/jpeg") {
            Some(PhotoType::Jpeg)
        } else if media.eq_ignore_ascii_case("image/png") {
            Some(PhotoType::Png)
        } else {
            None
        }
    }

    pub fn media_type(self) -> &'static str {
        match self {
            PhotoType::Jpeg => "image/jpeg",
            PhotoType::Png => "image/png",
        }
    }

    /// The type the bytes are, by their signature.
    fn sniff(bytes: &[u8]) -> Option<PhotoType> {
        if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
            Some(PhotoType::Jpeg)
        } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
            Some(PhotoType::Png)
        } else {
            None
        }
    }
}

/// The size and colour components of a JPEG, from its frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct JpegFrame {
    width: u32,
    height: u32,
    components: u8,
}

/// Why an upload is not a photo we keep (a sentence for a 422 on `photo`).
pub fn check(declared: PhotoType, bytes: &[u8]) -> Result<(), String> {
    if bytes.is_empty() {
        return Err("the photo is empty".to_owned());
    }
    match PhotoType::sniff(bytes) {
        None => Err(format!(
            "the bytes are not a JPEG or PNG image (declared {})",
            declared.media_type()
        )),
        Some(actual) if actual != declared => Err(format!(
            "the bytes are {}, not {} as declared",
            actual.media_type(),
            declared.media_type()
        )),
        Some(PhotoType::Jpeg) => jpeg_frame(bytes).map(|_| ()),
        Some(PhotoType::Png) => png_header(bytes).map(|_| ()),
    }
}

/// Reads the JPEG's markers up to its frame header (SOF0, SOF1 or SOF2).
fn jpeg_frame(bytes: &[u8]) -> Result<JpegFrame, String> {
    let broken = || "the JPEG is cut short or damaged".to_owned();
    let mut at = 2;
    loop {
        // Markers may be padded with extra 0xFF bytes.
        while bytes.get(at) == Some(&0xFF) && bytes.get(at + 1) == Some(&0xFF) {
            at += 1;
        }
        if bytes.get(at) != Some(&0xFF) {
            return Err(broken());
        }
        let marker = *bytes.get(at + 1).ok_or_else(broken)?;
        at += 2;
        // Markers without a length.
        if marker == 0x01 || (0xD0..=0xD7).contains(&marker) {
            continue;
        }
        if marker == 0xD9 || marker == 0xDA {
            return Err("the JPEG has no frame header before its image data".to_owned());
        }
        let high = *bytes.get(at).ok_or_else(broken)?;
        let low = *bytes.get(at + 1).ok_or_else(broken)?;
        let length = usize::from(u16::from_be_bytes([high, low]));
        let segment = bytes.get(at + 2..at + length).ok_or_else(broken)?;
        match marker {
            0xC0..=0xC2 => {
                let [_, h1, h0, w1, w0, components, ..] = *segment else {
                    return Err(broken());
                };
                let frame = JpegFrame {
                    width: u32::from(u16::from_be_bytes([w1, w0])),
                    height: u32::from(u16::from_be_bytes([h1, h0])),
                    components,
                };
                if frame.width == 0 || frame.height == 0 {
                    return Err("the JPEG gives no size".to_owned());
                }
                if components != 1 && components != 3 {
                    return Err("a JPEG in grey or colour (not CMYK) is needed".to_owned());
                }
                return Ok(frame);
            }
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => {
                return Err(
                    "the JPEG is of a kind badges cannot print (lossless or arithmetic); \
                     a baseline or progressive JPEG is needed"
                        .to_owned(),
                );
            }
            _ => at += length,
        }
    }
}

/// The PNG's width and height, from its header.
fn png_header(bytes: &[u8]) -> Result<(u32, u32), String> {
    let decoder = png::Decoder::new(Cursor::new(bytes));
    let reader = decoder
        .read_info()
        .map_err(|e| format!("the PNG cannot be read: {e}"))?;
    let (width, height) = reader.info().size();
    if width > MAX_SIDE || height > MAX_SIDE {
        return Err(format!(
            "the image is larger than {MAX_SIDE} pixels on a side"
        ));
    }
    if u64::from(width) * u64::from(height) > MAX_PNG_PIXELS {
        return Err(format!(
            "the PNG has more than {MAX_PNG_PIXELS} pixels; send a smaller one or a JPEG"
        ));
    }
    Ok((width, height))
}

/// The stored photo as a badge's image; `None` when it cannot be read (the badge is
/// printed without it rather than refused).
pub fn badge_image(media_type: &str, bytes: &[u8]) -> Option<Image> {
    match PhotoType::from_media_type(media_type)? {
        PhotoType::Jpeg => {
            let frame = jpeg_frame(bytes).ok()?;
            Some(Image {
                width: frame.width,
                height: frame.height,
                components: frame.components,
                data: bytes.to_vec(),
                encoding: ImageEncoding::Jpeg,
            })
        }
        PhotoType::Png => png_image(bytes),
    }
}

/// Decodes a PNG, flattens it onto white, shrinks it and encodes its rows again.
fn png_image(bytes: &[u8]) -> Option<Image> {
    png_header(bytes).ok()?;
    let mut decoder = png::Decoder::new(Cursor::new(bytes));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().ok()?;
    let mut buf = vec![0; reader.output_buffer_size()?];
    let info = reader.next_frame(&mut buf).ok()?;
    let channels = info.color_type.samples();
    let (width, height) = (info.width as usize, info.height as usize);
    // Gray or RGB, alpha blended onto white.
    let gray = matches!(
        info.color_type,
        png::ColorType::Grayscale | png::ColorType::GrayscaleAlpha
    );
    let out_channels = if gray { 1 } else { 3 };
    let colour = channels - usize::from(channels == 2 || channels == 4);
    let mut flat = Vec::with_capacity(width * height * out_channels);
    for pixel in buf.get(..width * height * channels)?.chunks_exact(channels) {
        let alpha = if colour < channels {
            u32::from(pixel[colour])
        } else {
            255
        };
        for &c in &pixel[..out_channels.min(colour)] {
            let blended = (u32::from(c) * alpha + 255 * (255 - alpha)) / 255;
            flat.push(blended as u8);
        }
    }
    let (width, height, pixels) = shrink(&flat, width, height, out_channels);
    let mut encoded = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut encoded, width as u32, height as u32);
        encoder.set_color(if gray {
            png::ColorType::Grayscale
        } else {
            png::ColorType::Rgb
        });
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&pixels).ok()?;
        writer.finish().ok()?;
    }
    Some(Image {
        width: width as u32,
        height: height as u32,
        components: out_channels as u8,
        data: idat(&encoded)?,
        encoding: ImageEncoding::PngRows,
    })
}

/// The image averaged down by a whole factor so its longer side is at most
/// [`BADGE_PIXELS`].
fn shrink(pixels: &[u8], width: usize, height: usize, channels: usize) -> (usize, usize, Vec<u8>) {
    let longer = width.max(height);
    let factor = longer.div_ceil(BADGE_PIXELS as usize).max(1);
    if factor == 1 {
        return (width, height, pixels.to_vec());
    }
    let (w, h) = (width.div_ceil(factor), height.div_ceil(factor));
    let mut out = Vec::with_capacity(w * h * channels);
    for y in 0..h {
        for x in 0..w {
            for c in 0..channels {
                let (mut sum, mut n) = (0u32, 0u32);
                for sy in y * factor..((y + 1) * factor).min(height) {
                    for sx in x * factor..((x + 1) * factor).min(width) {
                        sum += u32::from(pixels[(sy * width + sx) * channels + c]);
                        n += 1;
                    }
                }
                out.push((sum / n.max(1)) as u8);
            }
        }
    }
    (w, h, out)
}

/// The IDAT chunks' data of a PNG file, joined: one zlib stream of filtered rows.
fn idat(png: &[u8]) -> Option<Vec<u8>> {
    let mut at = 8;
    let mut out = Vec::new();
    while at + 8 <= png.len() {
        let length = u32::from_be_bytes(png.get(at..at + 4)?.try_into().ok()?) as usize;
        let kind = png.get(at + 4..at + 8)?;
        let data = png.get(at + 8..at + 8 + length)?;
        if kind == b"IDAT" {
            out.extend_from_slice(data);
        }
        at += 12 + length;
    }
    (!out.is_empty()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `width` × `height` RGBA PNG, half transparent.
    fn png_file(width: u32, height: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, width, height);
        encoder.set_color(png::ColorType::Rgba);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().unwrap();
        let pixels: Vec<u8> = (0..width * height)
            .flat_map(|i| [(i % 251) as u8, 40, 200, 128])
            .collect();
        writer.write_image_data(&pixels).unwrap();
        writer.finish().unwrap();
        out
    }

    /// The smallest JPEG header that names a frame (no image data after it).
    fn jpeg_head(sof: u8, components: u8) -> Vec<u8> {
        let mut out = vec![0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46];
        out.extend([0xFF, sof, 0x00, 0x0B, 8, 0x01, 0x40, 0x00, 0xF0, components]);
        out.extend([1, 0x11, 0]);
        out
    }

    #[test]
    fn declared_types_must_match_the_bytes() {
        let png = png_file(4, 3);
        assert_eq!(check(PhotoType::Png, &png), Ok(()));
        assert!(
            check(PhotoType::Jpeg, &png)
                .unwrap_err()
                .contains("image/png")
        );
        assert!(
            check(PhotoType::Png, b"GIF89a")
                .unwrap_err()
                .contains("not a JPEG")
        );
        assert!(check(PhotoType::Png, b"").is_err());
        let jpeg = jpeg_head(0xC0, 3);
        assert_eq!(check(PhotoType::Jpeg, &jpeg), Ok(()));
        assert!(check(PhotoType::Png, &jpeg).is_err());
        assert!(check(PhotoType::Jpeg, &jpeg_head(0xC3, 3)).is_err());
        assert!(check(PhotoType::Jpeg, &jpeg_head(0xC0, 4)).is_err());
        assert!(check(PhotoType::Jpeg, &jpeg[..9]).is_err());
        assert_eq!(
            PhotoType::from_media_type("Image/JPEG; q=1"),
            Some(PhotoType::Jpeg)
        );
        assert_eq!(PhotoType::from_media_type("image/gif"), None);
    }

    #[test]
    fn a_jpeg_goes_in_as_it_is_and_a_png_is_shrunk() {
        let jpeg = jpeg_head(0xC2, 1);
        let image = badge_image("image/jpeg", &jpeg).unwrap();
        assert_eq!((image.width, image.height, image.components), (240, 320, 1));
        assert_eq!(image.data, jpeg);
        let image = badge_image("image/png", &png_file(1300, 20)).unwrap();
        assert_eq!((image.width, image.height, image.components), (434, 7, 3));
        assert_eq!(image.encoding, ImageEncoding::PngRows);
        assert!(badge_image("image/png", b"\x89PNG\r\n\x1a\nbroken").is_none());
    }

    #[test]
    fn a_png_that_would_decode_to_too_many_pixels_is_refused() {
        // 5,000 × 5,000 one-bit pixels: a few kilobytes that decode to 100 MB.
        let mut bomb = Vec::new();
        let mut encoder = png::Encoder::new(&mut bomb, 5_000, 5_000);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::One);
        let mut writer = encoder.write_header().unwrap();
        writer.write_image_data(&vec![0; 625 * 5_000]).unwrap();
        writer.finish().unwrap();
        assert!(bomb.len() < MAX_BYTES);
        assert!(check(PhotoType::Png, &bomb).unwrap_err().contains("pixels"));
        assert!(badge_image("image/png", &bomb).is_none());
    }
}
