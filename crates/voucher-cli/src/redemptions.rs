//! `voucher redemptions list`: the redemption log, successful and failed,
//! newest first, filtered by campaign, result, reason and code.

use chrono::{DateTime, Utc};
use serde::Serialize;
use voucher_core::decision::Reason;
use voucher_core::port::{
    CheckoutStore, ListQuery, RedemptionKind, RedemptionQuery, RedemptionRecord, RedemptionResult,
    RedemptionState,
};

use crate::campaign::{LIST_ROWS_MAX, PAGE_ROWS};
use crate::failure::Failure;
use crate::output::{self, Fields};
use crate::session::{Global, Session};

/// `voucher redemptions ...`.
#[derive(Debug, clap::Subcommand)]
pub enum RedemptionsCommand {
    /// List redemptions and failed attempts, newest first.
    #[command(
        after_help = "Examples:\n  voucher redemptions list --campaign Spring --result failure\n  voucher redemptions list --reason voucher_expired --csv > expired.csv"
    )]
    List(ListArgs),
}

/// Success or failure, on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ResultArg {
    /// Successful redemptions.
    Success,
    /// Refused attempts.
    Failure,
}

/// Flags of `redemptions list`.
#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only this campaign's (name or id).
    #[arg(long)]
    pub campaign: Option<String>,
    /// Only successes or failures.
    #[arg(long, value_enum)]
    pub result: Option<ResultArg>,
    /// Only failures with this reason key (voucher_expired, gift_amount_exceeded, ...).
    #[arg(long)]
    pub reason: Option<String>,
    /// Only this code's.
    #[arg(long)]
    pub code: Option<String>,
    /// Only this customer's (the shop's id).
    #[arg(long)]
    pub customer: Option<String>,
    /// Print CSV.
    #[arg(long)]
    pub csv: bool,
    /// Most rows to print.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=i64::from(LIST_ROWS_MAX)))]
    pub limit: u32,
}

/// A redemption as printed.
#[derive(Debug, Serialize)]
pub struct RedemptionOut {
    /// `r_...` or `rf_...`.
    pub id: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The code as typed.
    pub code: Option<String>,
    /// The campaign's name.
    pub campaign: Option<String>,
    /// The customer's id in the shop (or the engine's).
    pub customer: Option<String>,
    /// `SUCCESS` or `FAILURE`.
    pub result: &'static str,
    /// `SUCCEEDED`, `FAILED`, `ROLLED_BACK`.
    pub state: &'static str,
    /// Why it failed.
    pub reason: Option<String>,
    /// The order amount.
    pub amount: Option<String>,
    /// Discount (or gift credits) given.
    pub discount: String,
}

impl Fields for RedemptionOut {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.clone()),
            ("created_at", self.created_at.to_rfc3339()),
            ("code", self.code.clone().unwrap_or_default()),
            ("campaign", self.campaign.clone().unwrap_or_default()),
            ("customer", self.customer.clone().unwrap_or_default()),
            ("result", self.result.to_owned()),
            ("state", self.state.to_owned()),
            ("reason", self.reason.clone().unwrap_or_default()),
            ("amount", self.amount.clone().unwrap_or_default()),
            ("discount", self.discount.clone()),
        ]
    }
}

/// The columns of the list.
pub const HEADERS: [&str; 10] = [
    "id",
    "created_at",
    "code",
    "campaign",
    "customer",
    "result",
    "state",
    "reason",
    "amount",
    "discount",
];

fn redemption_out(record: &RedemptionRecord, session: &Session) -> RedemptionOut {
    RedemptionOut {
        id: record.id.clone(),
        created_at: record.created_at,
        code: record.code.clone(),
        campaign: record.campaign.as_ref().map(|(_, name)| name.clone()),
        customer: record
            .customer
            .as_ref()
            .map(|(id, source)| source.clone().unwrap_or_else(|| id.clone())),
        result: match record.result {
            RedemptionResult::Success => "SUCCESS",
            RedemptionResult::Failure => "FAILURE",
        },
        state: match record.state {
            RedemptionState::Succeeded => "SUCCEEDED",
            RedemptionState::Failed => "FAILED",
            RedemptionState::RolledBack => "ROLLED_BACK",
        },
        reason: record.failure.as_ref().map(|f| f.reason.key().to_owned()),
        amount: record.order.amount_minor.map(|a| session.show(a)),
        discount: session.show(record.discount_minor),
    }
}

/// Runs `voucher redemptions ...`.
pub fn run(global: &Global, command: &RedemptionsCommand) -> Result<(), Failure> {
    let RedemptionsCommand::List(args) = command;
    if let Some(reason) = &args.reason {
        if Reason::from_key(reason).is_none() {
            let keys: Vec<&str> = Reason::ALL.iter().map(|r| r.key()).collect();
            return Err(Failure::usage(
                "invalid_reason",
                format!(
                    "--reason {reason:?}: not a reason key; one of {}",
                    keys.join(", ")
                ),
            ));
        }
    }
    let session = global.session(args.csv)?;
    let mut items = Vec::new();
    let mut page = 1;
    while items.len() < args.limit as usize {
        let query = RedemptionQuery {
            list: ListQuery {
                limit: PAGE_ROWS,
                page,
                ..ListQuery::default()
            },
            campaign: args.campaign.clone(),
            customer: args.customer.clone(),
            result: args.result.map(|r| match r {
                ResultArg::Success => RedemptionResult::Success,
                ResultArg::Failure => RedemptionResult::Failure,
            }),
            failure_code: args.reason.clone(),
            code: args.code.clone(),
            order: None,
        };
        let found = session.store.redemptions(session.id(), &query)?;
        // The log lists redemptions: a rollback shows as its redemption's
        // ROLLED_BACK state.
        items.extend(
            found
                .items
                .iter()
                .filter(|r| r.kind == RedemptionKind::Redemption)
                .map(|r| redemption_out(r, &session)),
        );
        if !found.has_more || found.items.is_empty() {
            break;
        }
        page += 1;
    }
    items.truncate(args.limit as usize);
    output::list(session.format, &items, &HEADERS)
}
