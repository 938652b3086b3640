//! `voucher validate | redeem | rollback`: the checkout questions from the
//! command line, one code at a time (the legacy mode: a refusal is the
//! command's failure). A refusal exits 1 (3 for an unknown code) with its
//! reason key on stderr; with `--json`, stdout still carries the result
//! object, with `reason`.
//!
//! Money printed: `discount` is the order's total discount (gift credits
//! count as a discount, as in the core's totals), `total` what the customer
//! pays; for a gift card `credits` is what the card pays and `balance` the
//! card's balance after this order (for `validate`, what it would be).

use chrono::Utc;
use serde::Serialize;
use voucher_core::order::{Order, OrderItem};
use voucher_core::port::{
    ChannelType, CheckoutMode, CheckoutRequest, CheckoutStore, CustomerSpec, RedeemableRequest,
    RedemptionRecord, RollbackRequest,
};
use voucher_core::stacking::EntryStatus;

use crate::failure::Failure;
use crate::output::{self, Fields, Format};
use crate::session::{Global, Session};

/// Flags of `validate` and `redeem`.
#[derive(Debug, clap::Args)]
pub struct CheckoutArgs {
    /// The code.
    pub code: String,
    /// The order amount, in major units (the sum of the items without it).
    #[arg(long, value_name = "AMOUNT")]
    pub amount: Option<String>,
    /// The customer's id in the shop (needed by per-customer limits).
    #[arg(long)]
    pub customer: Option<String>,
    /// An order line, PRODUCT:QUANTITY:PRICE (price in major units); repeat for several.
    #[arg(long, value_name = "PRODUCT:QTY:PRICE")]
    pub item: Vec<String>,
    /// Gift credits to spend, in major units (default: what the order owes, up to the balance).
    #[arg(long, value_name = "AMOUNT")]
    pub credits: Option<String>,
}

/// Flags of `rollback`.
#[derive(Debug, clap::Args)]
pub struct RollbackArgs {
    /// The redemption's id (`r_...`).
    pub redemption_id: String,
    /// Why (a refund, a cancelled order).
    #[arg(long)]
    pub reason: Option<String>,
}

/// A checkout answer as printed.
#[derive(Debug, Default, Serialize)]
pub struct CheckoutOut {
    /// `validate`: may the code be redeemed on this order?
    #[serde(skip_serializing_if = "Option::is_none")]
    pub valid: Option<bool>,
    /// `redeem`: `SUCCESS` or `FAILURE`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<&'static str>,
    /// `redeem`: the redemption's id (`r_...`), or the recorded failure's (`rf_...`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The code.
    pub code: String,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The order amount.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
    /// The order's discount (gift credits included).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discount: Option<String>,
    /// What the customer pays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<String>,
    /// Gift credits the card pays.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub credits: Option<String>,
    /// The gift card's balance after this order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub balance: Option<String>,
}

impl Fields for CheckoutOut {
    fn fields(&self) -> Vec<(&'static str, String)> {
        let mut fields = Vec::new();
        if let Some(valid) = self.valid {
            fields.push(("valid", valid.to_string()));
        }
        if let Some(result) = self.result {
            fields.push(("result", result.to_owned()));
        }
        if let Some(id) = &self.id {
            fields.push(("id", id.clone()));
        }
        fields.push(("code", self.code.clone()));
        let optional = [
            ("reason", &self.reason),
            ("amount", &self.amount),
            ("discount", &self.discount),
            ("total", &self.total),
            ("credits", &self.credits),
            ("balance", &self.balance),
        ];
        for (name, value) in optional {
            if let Some(value) = value {
                fields.push((name, value.clone()));
            }
        }
        fields
    }
}

/// A rollback as printed.
#[derive(Debug, Serialize)]
pub struct RollbackOut {
    /// `rr_...`.
    pub id: String,
    /// The redemption rolled back.
    pub redemption: String,
    /// The code.
    pub code: Option<String>,
    /// Gift credits returned.
    pub credits: String,
    /// The gift card's balance after it.
    pub balance: Option<String>,
    /// The code's uses after it.
    pub redeemed: Option<u64>,
}

impl Fields for RollbackOut {
    fn fields(&self) -> Vec<(&'static str, String)> {
        vec![
            ("id", self.id.clone()),
            ("redemption", self.redemption.clone()),
            ("code", self.code.clone().unwrap_or_default()),
            ("credits", self.credits.clone()),
            ("balance", self.balance.clone().unwrap_or_default()),
            (
                "redeemed",
                self.redeemed.map(|n| n.to_string()).unwrap_or_default(),
            ),
        ]
    }
}

fn item(text: &str, session: &Session) -> Result<OrderItem, Failure> {
    let bad = || {
        Failure::usage(
            "invalid_item",
            format!("--item {text:?}: expected PRODUCT:QUANTITY:PRICE, e.g. cat-food:2:12.50"),
        )
    };
    // The product id may itself hold colons: quantity and price are the
    // last two parts.
    let mut parts = text.rsplitn(3, ':');
    let (Some(price), Some(quantity), Some(product)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    if product.is_empty() {
        return Err(bad());
    }
    Ok(OrderItem {
        product_id: Some(product.to_owned()),
        quantity: Some(quantity.trim().parse().map_err(|_| bad())?),
        price: Some(session.money(price)?),
        ..OrderItem::default()
    })
}

fn request(args: &CheckoutArgs, session: &Session) -> Result<CheckoutRequest, Failure> {
    let items = args
        .item
        .iter()
        .map(|i| item(i, session))
        .collect::<Result<Vec<_>, _>>()?;
    if args.amount.is_none() && items.is_empty() {
        return Err(Failure::usage(
            "missing_amount",
            "give the order: --amount AMOUNT and/or --item PRODUCT:QTY:PRICE",
        ));
    }
    Ok(CheckoutRequest {
        mode: CheckoutMode::Legacy,
        redeemables: vec![RedeemableRequest {
            code: args.code.clone(),
            credits: args
                .credits
                .as_deref()
                .map(|c| session.money(c))
                .transpose()?,
        }],
        order: Order {
            amount: args
                .amount
                .as_deref()
                .map(|a| session.money(a))
                .transpose()?,
            items,
            ..Order::default()
        },
        order_status: None,
        customer: args.customer.as_ref().map(|id| CustomerSpec {
            source_id: Some(id.clone()),
            ..CustomerSpec::default()
        }),
        metadata: Default::default(),
        channel: ChannelType::User,
        tracking_id: None,
        now: Utc::now(),
    })
}

/// Prints the result object (with `--json`, refusals too), then fails.
fn refused(session: &Session, out: &CheckoutOut, failure: Failure) -> Result<(), Failure> {
    if session.format == Format::Json {
        output::json(out)?;
    }
    Err(failure)
}

/// Runs `voucher validate`.
pub fn validate(global: &Global, args: &CheckoutArgs) -> Result<(), Failure> {
    let session = global.session(false)?;
    let request = request(args, &session)?;
    let result = session.store.validate(session.id(), &request)?;
    let entry = result
        .entries
        .first()
        .ok_or_else(|| Failure::other("storage_failure", "the store answered no entry"))?;
    let totals = result.order.totals();
    let mut out = CheckoutOut {
        valid: Some(result.valid),
        code: args.code.clone(),
        amount: Some(session.show(totals.amount_minor)),
        ..CheckoutOut::default()
    };
    match &entry.status {
        EntryStatus::Applicable(outcome) if result.valid => {
            out.discount = Some(session.show(totals.total_discount_amount_minor));
            out.total = Some(session.show(totals.total_amount_minor));
            if let voucher_core::decision::Outcome::Gift {
                credits_minor,
                balance_after_minor,
                ..
            } = outcome.as_ref()
            {
                out.credits = Some(session.show(*credits_minor));
                out.balance = Some(session.show(*balance_after_minor));
            }
            output::object(session.format, &out)
        }
        EntryStatus::Inapplicable(refusal) => {
            out.reason = Some(refusal.reason.key().to_owned());
            refused(&session, &out, Failure::refusal(refusal, None))
        }
        EntryStatus::Applicable(_) | EntryStatus::Skipped(_) => Err(Failure::other(
            "invalid_request",
            "the code was not applied to the order",
        )),
    }
}

fn redemption_out(record: &RedemptionRecord, session: &Session) -> CheckoutOut {
    let balance = record
        .voucher_after
        .as_ref()
        .and_then(|v| v.gift_balance_minor);
    CheckoutOut {
        result: Some("SUCCESS"),
        id: Some(record.id.clone()),
        code: record.code.clone().unwrap_or_default(),
        amount: record.order.amount_minor.map(|a| session.show(a)),
        discount: Some(session.show(record.order.total_discount_amount_minor)),
        total: record.order.total_amount_minor.map(|t| session.show(t)),
        credits: balance.map(|_| session.show(record.amount_minor)),
        balance: balance.map(|b| session.show(b)),
        ..CheckoutOut::default()
    }
}

/// Runs `voucher redeem`.
pub fn redeem(global: &Global, args: &CheckoutArgs) -> Result<(), Failure> {
    let session = global.session(false)?;
    let request = request(args, &session)?;
    match session.store.redeem(session.id(), &request) {
        Ok(record) => output::object(session.format, &redemption_out(&record, &session)),
        Err(voucher_core::port::StoreError::Refused {
            refusal,
            failure_id,
        }) => {
            let out = CheckoutOut {
                result: Some("FAILURE"),
                id: failure_id.clone(),
                code: args.code.clone(),
                reason: Some(refusal.reason.key().to_owned()),
                ..CheckoutOut::default()
            };
            refused(
                &session,
                &out,
                Failure::refusal(&refusal, failure_id.as_deref()),
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Runs `voucher rollback`.
pub fn rollback(global: &Global, args: &RollbackArgs) -> Result<(), Failure> {
    let session = global.session(false)?;
    let request = RollbackRequest {
        redemption_id: args.redemption_id.clone(),
        reason: args.reason.clone(),
        tracking_id: None,
        metadata: Default::default(),
        channel: ChannelType::User,
        now: Utc::now(),
    };
    let record = session.store.rollback(session.id(), &request)?;
    let out = RollbackOut {
        id: record.id.clone(),
        redemption: record.redemption_id.clone(),
        code: record.code.clone(),
        credits: session.show(record.amount_minor),
        balance: record
            .voucher_after
            .as_ref()
            .and_then(|v| v.gift_balance_minor)
            .map(|b| session.show(b)),
        redeemed: record.voucher_after.as_ref().map(|v| v.redeemed_quantity),
    };
    output::object(session.format, &out)
}
