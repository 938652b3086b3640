//! `voucher codes export | import`: a campaign's codes as CSV (the store's
//! importCSV columns, money in major units), streamed in bounded memory by
//! the store's [`BulkStore`]; an export imports again.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use chrono::Utc;
use serde::Serialize;
use voucher_core::port::{BulkStore, CampaignStore, ImportFailure, VoucherQuery};

use crate::failure::{Exit, Failure};
use crate::output::{self, Fields};
use crate::progress::{self, ReadProgress, Unit, WriteProgress};
use crate::session::Global;

/// `voucher codes ...`.
#[derive(Debug, clap::Subcommand)]
pub enum CodesCommand {
    /// Write codes, with their state, as CSV (to stdout unless -o).
    #[command(after_help = "Example:\n  voucher codes export --campaign Spring -o spring.csv")]
    Export(ExportArgs),
    /// Read codes from CSV (columns: Code, Value, Start Date, Expiration Date,
    /// Redemption Limit, Active, Category, ...; other columns are metadata).
    #[command(after_help = "Example:\n  voucher codes import --campaign Spring codes.csv")]
    Import(ImportArgs),
}

/// Flags of `codes export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Only this campaign's codes (name or id); all codes without it.
    #[arg(long)]
    pub campaign: Option<String>,
    /// The file to write (stdout without it).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// Flags of `codes import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The campaign the codes go into (name or id); standalone codes without it.
    #[arg(long)]
    pub campaign: Option<String>,
    /// The CSV file (`-` for stdin).
    pub file: PathBuf,
}

/// What an import did.
#[derive(Debug, Serialize)]
pub struct ImportOut {
    /// Rows that went in.
    pub imported: u64,
    /// Rows refused.
    pub failed: u64,
    /// The first refused rows.
    pub failures: Vec<ImportFailure>,
}

impl Fields for ImportOut {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("imported", self.imported.to_string()),
            ("failed", self.failed.to_string()),
        ]
    }
}

/// What an export to a file did.
#[derive(Debug, Serialize)]
pub struct ExportOut {
    /// Rows written.
    pub exported: u64,
    /// The file.
    pub file: String,
}

impl Fields for ExportOut {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("exported", self.exported.to_string()),
            ("file", self.file.clone()),
        ]
    }
}

/// Runs `voucher codes ...`.
pub fn run(global: &Global, command: &CodesCommand) -> Result<(), Failure> {
    let session = global.session(false)?;
    let project = session.id();
    match command {
        CodesCommand::Export(args) => {
            // Resolve the name first: an unknown campaign is "not found",
            // not an empty file.
            let total = match &args.campaign {
                Some(name) => Some(session.store.campaign(project, name)?.codes_count),
                None => None,
            };
            let query = VoucherQuery {
                campaign: args.campaign.clone(),
                ..VoucherQuery::default()
            };
            let bar = total.and_then(|t| progress::bar(t, Unit::Codes));
            let rows = match &args.output {
                Some(path) => {
                    let file = File::create(path).map_err(|e| {
                        Failure::other("io_error", format!("{}: {e}", path.display()))
                    })?;
                    let mut out = WriteProgress {
                        inner: BufWriter::new(file),
                        bar: bar.clone(),
                        lines: 0,
                    };
                    let rows = session
                        .store
                        .export_vouchers_csv(project, &query, &mut out)?;
                    out.flush()?;
                    rows
                }
                None => {
                    let mut out = WriteProgress {
                        inner: BufWriter::new(std::io::stdout().lock()),
                        bar: bar.clone(),
                        lines: 0,
                    };
                    let rows = session
                        .store
                        .export_vouchers_csv(project, &query, &mut out)?;
                    out.flush()?;
                    rows
                }
            };
            if let Some(bar) = bar {
                bar.finish_and_clear();
            }
            if let Some(path) = &args.output {
                let out = ExportOut {
                    exported: rows,
                    file: path.display().to_string(),
                };
                output::object(session.format, &out)?;
            }
            Ok(())
        }
        CodesCommand::Import(args) => {
            if let Some(name) = &args.campaign {
                session.store.campaign(project, name)?;
            }
            let report = if args.file.as_os_str() == "-" {
                let mut input = std::io::stdin().lock();
                session.store.import_vouchers_csv(
                    project,
                    args.campaign.as_deref(),
                    &mut input,
                    Utc::now(),
                )?
            } else {
                let file = File::open(&args.file).map_err(|e| {
                    let message = format!("{}: {e}", args.file.display());
                    if e.kind() == std::io::ErrorKind::NotFound {
                        Failure::not_found(message)
                    } else {
                        Failure::other("io_error", message)
                    }
                })?;
                let size = file.metadata().map(|m| m.len()).unwrap_or(0);
                let mut input = ReadProgress {
                    inner: BufReader::new(file),
                    bar: progress::bar(size, Unit::Bytes),
                };
                let report = session.store.import_vouchers_csv(
                    project,
                    args.campaign.as_deref(),
                    &mut input,
                    Utc::now(),
                )?;
                if let Some(bar) = input.bar {
                    bar.finish_and_clear();
                }
                report
            };
            for failure in &report.failed {
                eprintln!(
                    "row {}: {}: {}",
                    failure.row,
                    failure.code.as_deref().unwrap_or("-"),
                    failure.reason
                );
            }
            let out = ImportOut {
                imported: report.done_count,
                failed: report.failed_count,
                failures: report.failed.clone(),
            };
            output::object(session.format, &out)?;
            if report.failed_count > 0 {
                return Err(Failure {
                    exit: Exit::Refused,
                    key: "import_rows_refused".to_owned(),
                    message: format!(
                        "{} of {} rows refused",
                        report.failed_count,
                        report.failed_count + report.done_count
                    ),
                });
            }
            Ok(())
        }
    }
}
