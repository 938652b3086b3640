//! The `voucher` command line: runs the HTTP server and scripts campaigns,
//! codes and redemptions on the local database file, or, with `--url`, on
//! a running server through its HTTP API ([`remote`]).
//!
//! Every command opens the file the same way ([`bootstrap`]): created and
//! migrated when missing, with the `default` project. The commands
//! translate flags into the store ports' records and print the answers
//! ([`output`]); they decide nothing the core decides.
//!
//! Exit codes: 0 done, 1 refused by a rule, 2 usage error, 3 not found,
//! 4 other failures ([`failure`]).

mod admin;
mod bootstrap;
mod campaign;
mod checkout;
mod codes;
mod failure;
mod output;
mod progress;
mod qr;
mod redemptions;
mod remote;
mod serve;
mod session;
mod voucher_cmd;
mod webhooks;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

use crate::failure::Failure;
use crate::session::Global;

const AFTER_HELP: &str = "\
Exit codes:
  0  done
  1  refused by a rule (the reason key is on stderr: voucher_expired, gift_amount_exceeded, ...)
  2  usage error (a flag, an amount, a code pattern)
  3  not found (an unknown code, campaign, redemption, project)
  4  other failures (the database, the disk, a server)

Errors are one line on stderr: `error: KEY: message`.
Money is in major units of the project's currency: 10.00, never cents.

Example:
  voucher --db shop.db campaign create --name Public --percent-off 25 --code FEEDMEHUMAN
  voucher --db shop.db redeem FEEDMEHUMAN --amount 40.00 --json";

/// Self-hosted promotion engine: coupons, discount codes and gift cards.
#[derive(Debug, Parser)]
#[command(name = "voucher", version, after_help = AFTER_HELP)]
struct Cli {
    #[command(flatten)]
    global: Global,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the HTTP API (Voucherify-compatible) over the database file.
    Serve(serve::ServeArgs),
    /// Create, list, show, enable, disable campaigns; add codes; stats.
    #[command(
        subcommand,
        after_help = "Example:\n  voucher campaign create --name Spring --percent-off 25 --count 200 --prefix CAT- --length 8"
    )]
    Campaign(campaign::CampaignCommand),
    /// Export or import a campaign's codes as CSV.
    #[command(
        subcommand,
        after_help = "Example:\n  voucher codes export --campaign Spring -o spring.csv"
    )]
    Codes(codes::CodesCommand),
    /// Show, enable or disable one code; change a gift card's balance.
    #[command(
        subcommand,
        after_help = "Example:\n  voucher voucher disable CAT-1A2B3C4D"
    )]
    Voucher(voucher_cmd::VoucherCommand),
    /// Is this code valid on this order, and what is the discount? Changes nothing.
    #[command(
        after_help = "Examples:\n  voucher validate FEEDMEHUMAN --amount 40.00\n  voucher validate CAT-1A2B3C4D --customer tom --item cat-food:2:12.50 --json"
    )]
    Validate(checkout::CheckoutArgs),
    /// Redeem a code on an order, exactly once.
    #[command(
        after_help = "Examples:\n  voucher redeem FEEDMEHUMAN --amount 40.00\n  voucher redeem GC-50 --amount 20.00 --credits 10.00 --json"
    )]
    Redeem(checkout::CheckoutArgs),
    /// Undo a redemption (a refund): the use and the gift credits return.
    #[command(
        after_help = "Example:\n  voucher rollback r_0123456789abcdef --reason 'order cancelled'"
    )]
    Rollback(checkout::RollbackArgs),
    /// The redemption log, filtered by campaign, result, reason, code.
    #[command(
        subcommand,
        after_help = "Example:\n  voucher redemptions list --result failure --reason voucher_expired"
    )]
    Redemptions(redemptions::RedemptionsCommand),
    /// Write a code as a QR image (PNG or SVG), for printing or scanning.
    #[command(
        after_help = "Examples:\n  voucher qr GC-50 -o gc-50.png\n  voucher qr FEEDMEHUMAN -o poster.svg"
    )]
    Qr(qr::QrArgs),
    /// Create and list projects.
    #[command(
        subcommand,
        after_help = "Example:\n  voucher projects create sandbox --currency EUR"
    )]
    Projects(admin::ProjectsCommand),
    /// List, create and revoke API keys.
    #[command(subcommand, after_help = "Example:\n  voucher keys create --json")]
    Keys(admin::KeysCommand),
    /// Add, list and remove webhook endpoints (the server delivers their events).
    #[command(
        subcommand,
        after_help = "Example:\n  voucher webhooks add https://shop.example/hooks --events redemption.succeeded,voucher.created"
    )]
    Webhooks(webhooks::WebhooksCommand),
    /// Copy the database to a file, safely while a server runs.
    #[command(after_help = "Example:\n  voucher --db shop.db backup shop-2027-04-01.db")]
    Backup(admin::BackupArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Example:\n  voucher completions bash > /etc/bash_completion.d/voucher"
    )]
    Completions(CompletionsArgs),
}

/// Flags of `completions`.
#[derive(Debug, clap::Args)]
struct CompletionsArgs {
    /// The shell.
    shell: clap_complete::Shell,
}

/// Runs the command line with the process's arguments.
#[must_use]
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return usage_error(&err),
    };
    match run(&cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            failure.print();
            failure.exit_code()
        }
    }
}

/// Help and version go to stdout (exit 0); a usage error is one line on
/// stderr (exit 2).
fn usage_error(err: &clap::Error) -> ExitCode {
    if !err.use_stderr() {
        let _ = err.print();
        return ExitCode::SUCCESS;
    }
    // clap's message spans lines (the missing flags, a tip); keep them,
    // on one line, without the usage summary.
    let rendered = err.render().to_string();
    let message: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
        .filter(|l| !l.is_empty())
        .collect();
    let message = message.join(" ");
    let first = message.strip_prefix("error: ").unwrap_or(&message);
    Failure::usage("usage", format!("{first} (see --help)")).print();
    ExitCode::from(2)
}

fn run(cli: &Cli) -> Result<(), Failure> {
    let global = &cli.global;
    // The operator's commands work on the file whatever VOUCHER_URL says.
    let file_only = matches!(
        cli.command,
        Command::Serve(_)
            | Command::Completions(_)
            | Command::Projects(_)
            | Command::Keys(_)
            | Command::Backup(_)
            | Command::Webhooks(_)
    );
    if let (Some(url), false) = (&global.url, file_only) {
        return remote::run(global, url, &cli.command);
    }
    match &cli.command {
        Command::Serve(args) => serve::run(&global.db, args),
        Command::Campaign(command) => campaign::run(global, command),
        Command::Codes(command) => codes::run(global, command),
        Command::Voucher(command) => voucher_cmd::run(global, command),
        Command::Validate(args) => checkout::validate(global, args),
        Command::Redeem(args) => checkout::redeem(global, args),
        Command::Rollback(args) => checkout::rollback(global, args),
        Command::Redemptions(command) => redemptions::run(global, command),
        Command::Qr(args) => qr::run(global, args),
        Command::Projects(command) => admin::projects(global, command),
        Command::Keys(command) => admin::keys(global, command),
        Command::Backup(args) => admin::backup(global, args),
        Command::Webhooks(command) => webhooks::run(global, command),
        Command::Completions(args) => {
            let mut out = std::io::stdout().lock();
            clap_complete::generate(args.shell, &mut Cli::command(), "voucher", &mut out);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// Every command's help has an example.
    #[test]
    fn every_command_has_an_example() {
        fn walk(command: &clap::Command, path: &str, missing: &mut Vec<String>) {
            let path = format!("{path} {}", command.get_name());
            let has_example = command
                .get_after_help()
                .is_some_and(|h| h.to_string().contains("Example"));
            if !has_example && command.get_name() != "help" {
                missing.push(path.clone());
            }
            for sub in command.get_subcommands() {
                walk(sub, &path, missing);
            }
        }
        let mut missing = Vec::new();
        walk(&Cli::command(), "", &mut missing);
        assert!(missing.is_empty(), "no example in the help of {missing:?}");
    }

    #[test]
    fn global_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "voucher", "voucher", "show", "X", "--db", "other.db", "--json",
        ])
        .unwrap();
        assert_eq!(cli.global.db, std::path::PathBuf::from("other.db"));
        assert!(cli.global.json);
    }
}
