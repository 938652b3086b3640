//! The `voucher` command line: runs the HTTP server and scripts campaigns,
//! codes and redemptions on the local database file (or, with `--url`, on a
//! running server).
//!
//! Exit codes: 0 done, 1 refused by a rule, 2 usage error, 3 not found,
//! 4 other failures.

mod serve;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Self-hosted promotion engine: coupons, discount codes and gift cards.
#[derive(Debug, Parser)]
#[command(
    name = "voucher",
    version,
    about,
    after_help = "Exit codes: 0 done, 1 refused by a rule, 2 usage error, 3 not found, 4 other failures.\n\nExample:\n  voucher --db shop.db serve --listen 127.0.0.1:8080"
)]
struct Cli {
    /// The database file (created and migrated when missing).
    #[arg(long, global = true, env = "VOUCHER_DB", default_value = "voucher.db")]
    db: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (Voucherify-compatible) over the database file.
    Serve(serve::ServeArgs),
}

/// Runs the command line with the process's arguments.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { 2 } else { 0 };
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Serve(args) => match serve::run(cli.db, &args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(serve::ServeError::Usage(message)) => {
                eprintln!("error: {message}");
                ExitCode::from(2)
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(4)
            }
        },
    }
}
