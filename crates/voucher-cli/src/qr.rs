//! `voucher qr CODE -o FILE.png|FILE.svg`: a code as a QR image, to print on
//! a gift card or scan at the till. The image is the server's
//! (`voucher_http::asset_image`): the code's text only, error correction
//! level M, the standard quiet zone of four modules.

use std::path::PathBuf;

use voucher_core::port::VoucherStore;
use voucher_http::asset_image::{self, AssetKind, ImageFormat, RenderImageError};

use crate::failure::Failure;
use crate::output;
use crate::session::Global;

/// Flags of `qr`.
#[derive(Debug, clap::Args)]
pub struct QrArgs {
    /// The code (it must exist in the project).
    pub code: String,
    /// The image file: .png or .svg.
    #[arg(short, long)]
    pub output: PathBuf,
}

/// The image format `-o` names.
fn format(args: &QrArgs) -> Result<ImageFormat, Failure> {
    args.output
        .extension()
        .and_then(|e| e.to_str())
        .and_then(ImageFormat::parse)
        .ok_or_else(|| {
            Failure::usage(
                "invalid_output",
                format!("-o {}: give a .png or .svg file", args.output.display()),
            )
        })
}

/// Writes the QR image of `code` (which exists) to `-o`.
pub fn write(code: &str, args: &QrArgs, json: bool) -> Result<(), Failure> {
    let bytes = asset_image::render(AssetKind::Qr, code, format(args)?).map_err(|e| match e {
        RenderImageError::Png(_) => Failure::other("output_failed", e.to_string()),
        other => Failure::usage("invalid_code", format!("no QR code for it: {other}")),
    })?;
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
    format(args)?;
    let session = global.session(false)?;
    let voucher = session.store.voucher(session.id(), &args.code)?;
    write(voucher.code.as_str(), args, global.json)
}
