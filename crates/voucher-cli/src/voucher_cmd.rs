//! `voucher voucher show | enable | disable | balance`: one code at a time.

use chrono::{DateTime, Utc};
use serde::Serialize;
use voucher_core::port::{BalanceChange, GiftStore, VoucherRecord, VoucherStore};

use crate::campaign::{describe_benefit, describe_quantity, ACTOR};
use crate::failure::Failure;
use crate::output::{self, Fields};
use crate::session::{Global, Session};

/// `voucher voucher ...`.
#[derive(Debug, clap::Subcommand)]
pub enum VoucherCommand {
    /// Show a code: its value, uses, balance and state.
    #[command(after_help = "Example:\n  voucher voucher show FEEDMEHUMAN")]
    Show(CodeArg),
    /// Enable a code.
    #[command(after_help = "Example:\n  voucher voucher enable CAT-1A2B3C4D")]
    Enable(CodeArg),
    /// Disable a code (a leaked one): it is refused with `voucher_disabled`.
    #[command(after_help = "Example:\n  voucher voucher disable CAT-1A2B3C4D")]
    Disable(CodeArg),
    /// Add credits to a gift card (or remove them with a negative amount).
    #[command(
        after_help = "Examples:\n  voucher voucher balance GC-50 --add 10.00\n  voucher voucher balance GC-50 --add=-5.00 --reason 'correction'"
    )]
    Balance(BalanceArgs),
}

/// A code.
#[derive(Debug, clap::Args)]
pub struct CodeArg {
    /// The code (or the voucher's id).
    pub code: String,
}

/// Flags of `voucher balance`.
#[derive(Debug, clap::Args)]
pub struct BalanceArgs {
    /// The gift card's code.
    pub code: String,
    /// Credits to add, in major units (negative removes).
    #[arg(long, allow_hyphen_values = true, value_name = "AMOUNT")]
    pub add: String,
    /// Why (shown in the card's ledger).
    #[arg(long)]
    pub reason: Option<String>,
}

/// A voucher as printed.
#[derive(Debug, Serialize)]
pub struct VoucherOut {
    /// The code.
    pub code: String,
    /// `v_...`.
    pub id: String,
    /// Its campaign's name.
    pub campaign: Option<String>,
    /// What it is worth.
    pub value: String,
    /// Uses allowed: a number or `unlimited`.
    pub quantity: String,
    /// Uses so far.
    pub redeemed: u64,
    /// A gift card's balance.
    pub balance: Option<String>,
    /// Enabled?
    pub active: bool,
    /// Its own start, if any (the campaign's applies too).
    pub start: Option<String>,
    /// Its own expiry, if any (the campaign's applies too).
    pub expire: Option<String>,
    /// The customer it was published to.
    pub holder: Option<String>,
    /// When created.
    pub created_at: DateTime<Utc>,
}

impl Fields for VoucherOut {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("code", self.code.clone()),
            ("id", self.id.clone()),
            ("campaign", self.campaign.clone().unwrap_or_default()),
            ("value", self.value.clone()),
            ("quantity", self.quantity.clone()),
            ("redeemed", self.redeemed.to_string()),
            ("balance", self.balance.clone().unwrap_or_default()),
            ("active", self.active.to_string()),
            ("start", self.start.clone().unwrap_or_default()),
            ("expire", self.expire.clone().unwrap_or_default()),
            ("holder", self.holder.clone().unwrap_or_default()),
            ("created_at", self.created_at.to_rfc3339()),
        ]
    }
}

/// A voucher record as printed.
pub fn voucher_out(record: &VoucherRecord, session: &Session) -> VoucherOut {
    VoucherOut {
        code: record.code.to_string(),
        id: record.id.clone(),
        campaign: record.campaign.as_ref().map(|(_, name)| name.clone()),
        value: describe_benefit(&record.benefit, session),
        quantity: describe_quantity(record.quantity),
        redeemed: record.redeemed_quantity,
        balance: record.gift_balance_minor.map(|b| session.show(b)),
        active: record.activity.is_enabled(),
        start: record.validity.start.map(|m| m.to_string()),
        expire: record.validity.expiration.map(|m| m.to_string()),
        holder: record.holder_id.clone(),
        created_at: record.created_at,
    }
}

/// A balance change as printed.
#[derive(Debug, Serialize)]
pub struct BalanceOut {
    /// The code.
    pub code: String,
    /// The signed change.
    pub change: String,
    /// The balance after it.
    pub balance: String,
    /// Initial amount plus additions minus removals.
    pub total: String,
}

impl Fields for BalanceOut {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("code", self.code.clone()),
            ("change", self.change.clone()),
            ("balance", self.balance.clone()),
            ("total", self.total.clone()),
        ]
    }
}

/// Runs `voucher voucher ...`.
pub fn run(global: &Global, command: &VoucherCommand) -> Result<(), Failure> {
    let session = global.session(false)?;
    let project = session.id();
    match command {
        VoucherCommand::Show(CodeArg { code }) => {
            let record = session.store.voucher(project, code)?;
            output::object(session.format, &voucher_out(&record, &session))
        }
        VoucherCommand::Enable(CodeArg { code }) | VoucherCommand::Disable(CodeArg { code }) => {
            let active = matches!(command, VoucherCommand::Enable(_));
            let record =
                session
                    .store
                    .set_voucher_active(project, code, active, ACTOR, Utc::now())?;
            output::object(session.format, &voucher_out(&record, &session))
        }
        VoucherCommand::Balance(args) => {
            let change = BalanceChange {
                amount_minor: session.minor(&args.add)?,
                reason: args.reason.clone(),
                source_id: None,
                actor: ACTOR.to_owned(),
            };
            let record = session
                .store
                .adjust_balance(project, &args.code, &change, Utc::now())?;
            let out = BalanceOut {
                code: args.code.clone(),
                change: session.show(record.amount_minor),
                balance: session.show(record.balance_minor),
                total: session.show(record.total_minor),
            };
            output::object(session.format, &out)
        }
    }
}
