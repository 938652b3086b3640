//! The `voucher` command line: scripts campaigns, codes and redemptions, and
//! runs the HTTP server. The commands arrive with the CLI and HTTP issues; for
//! now it parses its arguments and reports its version.

use std::process::ExitCode;

use clap::Parser;

/// Self-hosted promotion engine: coupons, discount codes and gift cards.
#[derive(Debug, Parser)]
#[command(name = "voucher", version, about)]
struct Cli {}

/// Runs the command line with the process's arguments.
#[must_use]
pub fn main() -> ExitCode {
    match Cli::try_parse() {
        Ok(Cli {}) => ExitCode::SUCCESS,
        Err(err) => {
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            ExitCode::from(code)
        }
    }
}
