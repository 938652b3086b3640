//! `voucher qr CODE -o FILE.png|FILE.svg`: a code as a QR image, to print on
//! a gift card or scan at the till. The QR symbol holds the code's text
//! only, with error correction level M (15% of the symbol may be damaged);
//! the image has the standard quiet zone of four modules.

use std::path::PathBuf;

use qrcode::{Color, EcLevel, QrCode};
use voucher_core::port::VoucherStore;

use crate::failure::Failure;
use crate::output;
use crate::session::Global;

/// Pixels per module of a PNG.
const PNG_MODULE_PIXELS: u32 = 8;
/// Modules of white around the symbol (the standard's quiet zone).
const QUIET_ZONE_MODULES: u32 = 4;
/// Smallest side of an SVG, in its units.
const SVG_SIZE_MIN: u32 = 256;

/// Flags of `qr`.
#[derive(Debug, clap::Args)]
pub struct QrArgs {
    /// The code (it must exist in the project).
    pub code: String,
    /// The image file: .png or .svg.
    #[arg(short, long)]
    pub output: PathBuf,
}

fn png(symbol: &QrCode) -> Result<Vec<u8>, Failure> {
    let fail = |e: png::EncodingError| Failure::other("output_failed", e.to_string());
    let width = u32::try_from(symbol.width())
        .map_err(|_| Failure::other("output_failed", "QR symbol too wide"))?;
    let modules = width + 2 * QUIET_ZONE_MODULES;
    let side = modules * PNG_MODULE_PIXELS;
    let colors = symbol.to_colors();
    let mut pixels = Vec::with_capacity((side * side) as usize);
    for y in 0..side {
        let my = (y / PNG_MODULE_PIXELS).checked_sub(QUIET_ZONE_MODULES);
        for x in 0..side {
            let mx = (x / PNG_MODULE_PIXELS).checked_sub(QUIET_ZONE_MODULES);
            let dark = match (mx, my) {
                (Some(mx), Some(my)) if mx < width && my < width => {
                    colors[(my * width + mx) as usize] == Color::Dark
                }
                _ => false,
            };
            pixels.push(if dark { 0 } else { 255 });
        }
    }
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, side, side);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().map_err(fail)?;
        writer.write_image_data(&pixels).map_err(fail)?;
        writer.finish().map_err(fail)?;
    }
    Ok(bytes)
}

/// The image format `-o` names.
fn is_png(args: &QrArgs) -> Result<bool, Failure> {
    let extension = args
        .output
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("png") => Ok(true),
        Some("svg") => Ok(false),
        _ => Err(Failure::usage(
            "invalid_output",
            format!("-o {}: give a .png or .svg file", args.output.display()),
        )),
    }
}

/// Writes the QR image of `code` (which exists) to `-o`.
pub fn write(code: &str, args: &QrArgs, json: bool) -> Result<(), Failure> {
    let symbol = QrCode::with_error_correction_level(code, EcLevel::M)
        .map_err(|e| Failure::usage("invalid_code", format!("no QR code for it: {e}")))?;
    let bytes = if is_png(args)? {
        png(&symbol)?
    } else {
        symbol
            .render::<qrcode::render::svg::Color<'_>>()
            .quiet_zone(true)
            .min_dimensions(SVG_SIZE_MIN, SVG_SIZE_MIN)
            .build()
            .into_bytes()
    };
    std::fs::write(&args.output, bytes)
        .map_err(|e| Failure::other("io_error", format!("{}: {e}", args.output.display())))?;
    if json {
        output::json(&serde_json::json!({
            "code": code,
            "file": args.output.display().to_string(),
        }))
    } else {
        Ok(())
    }
}

/// Runs `voucher qr` on the file.
pub fn run(global: &Global, args: &QrArgs) -> Result<(), Failure> {
    is_png(args)?;
    let session = global.session(false)?;
    let voucher = session.store.voucher(session.id(), &args.code)?;
    write(voucher.code.as_str(), args, global.json)
}
