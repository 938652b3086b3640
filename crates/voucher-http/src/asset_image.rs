//! A code's images, the one implementation behind `GET /v1/assets/...` and
//! `voucher qr`: a QR symbol (the code's text only, error correction level
//! M, a quiet zone of four modules) and a Code 128 barcode (code set B, or
//! C for an even number of digits; a quiet zone of ten modules), each as a
//! greyscale PNG or an SVG of black `<rect>`s on a white background.
//!
//! Both symbols are first laid out as a grid of dark and light modules
//! ([`Modules`]), quiet zone included; the PNG and SVG writers only draw
//! that grid, so the two formats always show the same symbol.

use qrcode::{EcLevel, QrCode};

/// Pixels per QR module in a PNG (and SVG units per module in its size).
const QR_MODULE_PIXELS: u32 = 8;
/// Modules of white around a QR symbol (the standard's quiet zone).
const QR_QUIET_ZONE_MODULES: u32 = 4;
/// Pixels per barcode module (the narrowest bar) in a PNG.
const BARCODE_MODULE_PIXELS: u32 = 2;
/// Modules of white on each side of a barcode (Code 128 asks for ten).
const BARCODE_QUIET_ZONE_MODULES: u32 = 10;
/// The height of a barcode's bars, in modules.
const BARCODE_HEIGHT_MODULES: u32 = 50;

/// Which image of a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AssetKind {
    /// A QR symbol.
    Qr,
    /// A Code 128 barcode.
    Barcode,
}

impl AssetKind {
    /// The name in URLs: `qr` or `barcode`.
    pub fn name(self) -> &'static str {
        match self {
            AssetKind::Qr => "qr",
            AssetKind::Barcode => "barcode",
        }
    }
}

/// The file format of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFormat {
    /// Greyscale PNG, 8 bits per pixel.
    Png,
    /// SVG.
    Svg,
}

impl ImageFormat {
    /// `png` or `svg` (ASCII case ignored); `None` for anything else.
    pub fn parse(name: &str) -> Option<ImageFormat> {
        if name.eq_ignore_ascii_case("png") {
            Some(ImageFormat::Png)
        } else if name.eq_ignore_ascii_case("svg") {
            Some(ImageFormat::Svg)
        } else {
            None
        }
    }

    /// Its media type, for `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            ImageFormat::Png => "image/png",
            ImageFormat::Svg => "image/svg+xml",
        }
    }
}

/// Why a code has no image of some kind.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderImageError {
    /// The code does not fit in a QR symbol.
    #[error("the code does not fit in a QR symbol: {0}")]
    QrTooLong(String),
    /// Code 128 has no bars for one of the code's characters.
    #[error("a Code 128 barcode holds printable ASCII characters only")]
    NotCode128,
    /// The PNG encoder failed.
    #[error("png: {0}")]
    Png(String),
}

/// A symbol as a grid of modules, quiet zone included: `dark[row *
/// columns + column]`. Each row is `row_height` modules high (a barcode is
/// one row of tall bars).
#[derive(Debug)]
struct Modules {
    columns: u32,
    rows: u32,
    row_height: u32,
    dark: Vec<bool>,
}

impl Modules {
    fn is_dark(&self, column: u32, row: u32) -> bool {
        self.dark[(row * self.columns + column) as usize]
    }
}

/// The image of `code` of `kind` in `format`.
pub fn render(
    kind: AssetKind,
    code: &str,
    format: ImageFormat,
) -> Result<Vec<u8>, RenderImageError> {
    let (modules, pixels) = match kind {
        AssetKind::Qr => (qr_modules(code)?, QR_MODULE_PIXELS),
        AssetKind::Barcode => (barcode_modules(code)?, BARCODE_MODULE_PIXELS),
    };
    match format {
        ImageFormat::Png => png(&modules, pixels),
        ImageFormat::Svg => Ok(svg(&modules, pixels).into_bytes()),
    }
}

fn qr_modules(code: &str) -> Result<Modules, RenderImageError> {
    let symbol = QrCode::with_error_correction_level(code, EcLevel::M)
        .map_err(|e| RenderImageError::QrTooLong(e.to_string()))?;
    let width = u32::try_from(symbol.width())
        .map_err(|_| RenderImageError::QrTooLong("too many modules".to_owned()))?;
    let side = width + 2 * QR_QUIET_ZONE_MODULES;
    let colors = symbol.to_colors();
    let mut dark = vec![false; (side * side) as usize];
    for (i, color) in colors.iter().enumerate() {
        let i = u32::try_from(i).unwrap_or(u32::MAX);
        let (row, column) = (i / width, i % width);
        if row < width && *color == qrcode::Color::Dark {
            let at = (row + QR_QUIET_ZONE_MODULES) * side + column + QR_QUIET_ZONE_MODULES;
            dark[at as usize] = true;
        }
    }
    Ok(Modules {
        columns: side,
        rows: side,
        row_height: 1,
        dark,
    })
}

/// The text barcoders encodes for `code`: a start in code set C for an
/// even number of digits (two per symbol, half as wide), else in code set B.
fn code128_input(code: &str) -> Result<String, RenderImageError> {
    if code.is_empty() || !code.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err(RenderImageError::NotCode128);
    }
    let set = if code.len() % 2 == 0 && code.bytes().all(|b| b.is_ascii_digit()) {
        '\u{0106}' // Ć: code set C
    } else {
        '\u{0181}' // Ɓ: code set B
    };
    Ok(format!("{set}{code}"))
}

fn barcode_modules(code: &str) -> Result<Modules, RenderImageError> {
    let bars = barcoders::sym::code128::Code128::new(code128_input(code)?)
        .map_err(|_| RenderImageError::NotCode128)?
        .encode();
    let quiet = BARCODE_QUIET_ZONE_MODULES as usize;
    let mut dark = vec![false; quiet];
    dark.extend(bars.iter().map(|bar| *bar == 1));
    dark.extend(std::iter::repeat_n(false, quiet));
    let columns = u32::try_from(dark.len()).map_err(|_| RenderImageError::NotCode128)?;
    Ok(Modules {
        columns,
        rows: 1,
        row_height: BARCODE_HEIGHT_MODULES,
        dark,
    })
}

fn png(modules: &Modules, module_pixels: u32) -> Result<Vec<u8>, RenderImageError> {
    let fail = |e: png::EncodingError| RenderImageError::Png(e.to_string());
    let width = modules.columns * module_pixels;
    let row_pixels = modules.row_height * module_pixels;
    let height = modules.rows * row_pixels;
    let mut pixels = Vec::with_capacity((width * height) as usize);
    for y in 0..height {
        let row = y / row_pixels;
        for x in 0..width {
            let dark = modules.is_dark(x / module_pixels, row);
            pixels.push(if dark { 0 } else { 255 });
        }
    }
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, width, height);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(fail)?;
        writer.write_image_data(&pixels).map_err(fail)?;
        writer.finish().map_err(fail)?;
    }
    Ok(bytes)
}

/// An SVG whose user unit is one module: a white background, then one
/// black `<rect>` per horizontal run of dark modules in a row.
fn svg(modules: &Modules, module_pixels: u32) -> String {
    use std::fmt::Write as _;
    let (width, height) = (modules.columns, modules.rows * modules.row_height);
    let mut out = format!(
        concat!(
            r#"<?xml version="1.0" encoding="UTF-8"?>"#,
            r#"<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="{pw}" height="{ph}""#,
            r#" viewBox="0 0 {w} {h}" shape-rendering="crispEdges">"#,
            r##"<rect width="{w}" height="{h}" fill="#fff"/><g fill="#000">"##
        ),
        pw = width * module_pixels,
        ph = height * module_pixels,
        w = width,
        h = height,
    );
    for row in 0..modules.rows {
        let mut column = 0;
        while column < modules.columns {
            if !modules.is_dark(column, row) {
                column += 1;
                continue;
            }
            let start = column;
            while column < modules.columns && modules.is_dark(column, row) {
                column += 1;
            }
            // Writing to a String cannot fail.
            let _ = write!(
                out,
                r#"<rect x="{start}" y="{y}" width="{run}" height="{h}"/>"#,
                y = row * modules.row_height,
                run = column - start,
                h = modules.row_height,
            );
        }
    }
    out.push_str("</g></svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_by_name() {
        assert_eq!(ImageFormat::parse("png"), Some(ImageFormat::Png));
        assert_eq!(ImageFormat::parse("SVG"), Some(ImageFormat::Svg));
        assert_eq!(ImageFormat::parse("gif"), None);
        assert_eq!(ImageFormat::parse(""), None);
    }

    #[test]
    fn code128_picks_a_code_set() {
        assert_eq!(code128_input("1234").unwrap(), "\u{0106}1234");
        assert_eq!(code128_input("123").unwrap(), "\u{0181}123");
        assert_eq!(code128_input("GC-50").unwrap(), "\u{0181}GC-50");
        assert_eq!(
            code128_input("caf\u{e9}"),
            Err(RenderImageError::NotCode128)
        );
        assert_eq!(code128_input(""), Err(RenderImageError::NotCode128));
    }

    #[test]
    fn a_barcode_has_its_quiet_zones_and_ends_on_the_stop_bar() {
        let modules = barcode_modules("AB").unwrap();
        let dark = &modules.dark;
        let quiet = BARCODE_QUIET_ZONE_MODULES as usize;
        assert!(dark[..quiet].iter().all(|d| !d));
        assert!(dark[dark.len() - quiet..].iter().all(|d| !d));
        // Start, two symbols and the checksum of 11 modules, a 13-module stop.
        assert_eq!(dark.len(), 2 * quiet + 4 * 11 + 13);
        assert!(dark[quiet] && dark[dark.len() - quiet - 1]);
    }

    #[test]
    fn png_and_svg_draw_the_same_modules() {
        let modules = qr_modules("GC-50").unwrap();
        let svg = svg(&modules, 1);
        let rects = svg.matches("<rect ").count() - 1;
        let runs = (0..modules.rows)
            .map(|row| {
                (0..modules.columns)
                    .filter(|&c| {
                        modules.is_dark(c, row) && (c == 0 || !modules.is_dark(c - 1, row))
                    })
                    .count()
            })
            .sum::<usize>();
        assert_eq!(rects, runs);
        let png = png(&modules, 2).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
