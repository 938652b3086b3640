//! Decisions: may this code be used on this order by this customer now, and
//! what is it worth? Validation answers; redemption answers and describes
//! the state transition a store applies atomically; rollback undoes one.
//!
//! The first failing check wins, in this order (each a stable [`Reason`]):
//! 1. input problems: [`Reason::InvalidOrder`], [`Reason::InvalidAmount`],
//!    [`Reason::MissingAmount`], [`Reason::MissingOrderItems`],
//!    [`Reason::MissingOrderItemsAmount`], [`Reason::MissingCustomer`]
//!    (an unknown code, [`Reason::ResourceNotFound`], is decided by the store
//!    before the engine is asked). Those of the order, then of the credits
//!    asked, then of the voucher's effect on this order (a free unit with no
//!    price, a discount or gift card in another currency: the discount is
//!    computed here), then the customer;
//! 2. [`Reason::VoucherDisabled`] (the voucher or its campaign);
//! 3. [`Reason::VoucherNotActive`] (before the start);
//! 4. [`Reason::VoucherExpired`];
//! 5. [`Reason::VoucherNotActiveNow`] (outside a recurring window);
//! 6. [`Reason::QuantityExceeded`];
//! 7. [`Reason::GiftAmountExceeded`];
//! 8. rule failures: [`Reason::CustomerRulesViolated`], then
//!    [`Reason::OrderRulesViolated`], then [`Reason::RedemptionRulesViolated`]
//!    (per-customer, campaign count and budget limits come last). Within one
//!    rule set whose rules mix categories, its lowest-numbered failing rule
//!    decides.
//!
//! Validation never changes anything: it returns an [`Outcome`]. Redemption
//! returns the same outcome plus a [`Transition`] (new redeemed count, the
//! ledger entry of a gift card, what the campaign budget is charged).

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::discount::{
    self, Applied, Discount, DiscountError, DiscountKind, DiscountLevel, OrderState,
};
use crate::ledger::{Entry, EntryKind, LedgerError};
use crate::money::{Currency, Money, MoneyError};
use crate::order::{CheckedOrder, Customer, LineTarget, Order, OrderError};
use crate::rules::{self, RuleCategory, RuleFacts, RuleSet, RuleViolation};
use crate::stacking::StackingRules;
use crate::validity::{Moment, ValidityStatus};
use crate::voucher::{Benefit, Campaign, Counters, Voucher};

/// A stable, machine-readable reason for refusing a code. The wire's
/// `failure_code` and error `key`; never renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// The code does not exist (decided by the store).
    ResourceNotFound,
    /// The order is malformed: another currency, too many lines, a zero
    /// quantity, an overlong id.
    InvalidOrder,
    /// An amount is negative, overflows or is too precise for the currency.
    InvalidAmount,
    /// The code needs an order amount and there is none.
    MissingAmount,
    /// The code's effect works on line items and there are none.
    MissingOrderItems,
    /// A line item has neither amount nor price.
    MissingOrderItemsAmount,
    /// The code's limits need to know the customer and there is none.
    MissingCustomer,
    /// The voucher or its campaign is disabled.
    VoucherDisabled,
    /// Before the start date.
    VoucherNotActive,
    /// After the expiration date.
    VoucherExpired,
    /// Outside the recurring validity window (days, hours, timeframe).
    VoucherNotActiveNow,
    /// The code was already redeemed as many times as allowed.
    QuantityExceeded,
    /// The gift card's balance is too low for the credits asked, or empty.
    GiftAmountExceeded,
    /// A rule on the customer failed.
    CustomerRulesViolated,
    /// A rule on the order failed.
    OrderRulesViolated,
    /// A redemption limit failed: per customer, campaign count or budget.
    RedemptionRulesViolated,
}

impl Reason {
    /// Every reason, in order of precedence.
    pub const ALL: [Reason; 16] = [
        Reason::ResourceNotFound,
        Reason::InvalidOrder,
        Reason::InvalidAmount,
        Reason::MissingAmount,
        Reason::MissingOrderItems,
        Reason::MissingOrderItemsAmount,
        Reason::MissingCustomer,
        Reason::VoucherDisabled,
        Reason::VoucherNotActive,
        Reason::VoucherExpired,
        Reason::VoucherNotActiveNow,
        Reason::QuantityExceeded,
        Reason::GiftAmountExceeded,
        Reason::CustomerRulesViolated,
        Reason::OrderRulesViolated,
        Reason::RedemptionRulesViolated,
    ];

    /// The stable key (`voucher_expired`, ...).
    pub fn key(self) -> &'static str {
        match self {
            Reason::ResourceNotFound => "resource_not_found",
            Reason::InvalidOrder => "invalid_order",
            Reason::InvalidAmount => "invalid_amount",
            Reason::MissingAmount => "missing_amount",
            Reason::MissingOrderItems => "missing_order_items",
            Reason::MissingOrderItemsAmount => "missing_order_items_amount",
            Reason::MissingCustomer => "missing_customer",
            Reason::VoucherDisabled => "voucher_disabled",
            Reason::VoucherNotActive => "voucher_not_active",
            Reason::VoucherExpired => "voucher_expired",
            Reason::VoucherNotActiveNow => "voucher_not_active_now",
            Reason::QuantityExceeded => "quantity_exceeded",
            Reason::GiftAmountExceeded => "gift_amount_exceeded",
            Reason::CustomerRulesViolated => "customer_rules_violated",
            Reason::OrderRulesViolated => "order_rules_violated",
            Reason::RedemptionRulesViolated => "redemption_rules_violated",
        }
    }

    /// Parses a stable key.
    pub fn from_key(key: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.key() == key)
    }

    /// A short human sentence (the legacy API's `reason`).
    pub fn message(self) -> &'static str {
        match self {
            Reason::ResourceNotFound => "voucher not found",
            Reason::InvalidOrder => "invalid order",
            Reason::InvalidAmount => "invalid amount",
            Reason::MissingAmount => "order amount is missing",
            Reason::MissingOrderItems => "order items are missing",
            Reason::MissingOrderItemsAmount => "order item amount is missing",
            Reason::MissingCustomer => "customer is missing",
            Reason::VoucherDisabled => "voucher is disabled",
            Reason::VoucherNotActive => "voucher not active",
            Reason::VoucherExpired => "voucher expired",
            Reason::VoucherNotActiveNow => "voucher not active now",
            Reason::QuantityExceeded => "quantity exceeded",
            Reason::GiftAmountExceeded => "gift amount exceeded",
            Reason::CustomerRulesViolated => "customer does not match validation rules",
            Reason::OrderRulesViolated => "order does not match validation rules",
            Reason::RedemptionRulesViolated => "redemption does not match validation rules",
        }
    }
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.key())
    }
}

/// A refusal: one reason, and the rule's own error message if a rule with
/// one decided.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    /// The stable reason.
    pub reason: Reason,
    /// The failing rule's (or rule set's) own error message.
    pub rule_message: Option<String>,
    /// What exactly was wrong, for the log and the error body's `details`.
    pub details: Option<String>,
}

impl Refusal {
    /// A refusal with no message or details.
    pub fn new(reason: Reason) -> Refusal {
        Refusal {
            reason,
            rule_message: None,
            details: None,
        }
    }

    fn with_details(reason: Reason, details: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            rule_message: None,
            details: Some(details.into()),
        }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.reason.key())?;
        if let Some(details) = &self.details {
            write!(f, ": {details}")?;
        }
        Ok(())
    }
}

impl From<OrderError> for Refusal {
    fn from(e: OrderError) -> Refusal {
        let reason = match e {
            OrderError::NegativeAmount | OrderError::InvalidAmount(_) => Reason::InvalidAmount,
            OrderError::MissingAmount => Reason::MissingAmount,
            OrderError::MissingItemAmount { .. } => Reason::MissingOrderItemsAmount,
            OrderError::CurrencyMismatch { .. }
            | OrderError::InvalidQuantity { .. }
            | OrderError::TooManyItems
            | OrderError::TooManyMetadataKeys
            | OrderError::TooManySegments
            | OrderError::IdTooLong => Reason::InvalidOrder,
        };
        Refusal::with_details(reason, e.to_string())
    }
}

impl From<MoneyError> for Refusal {
    fn from(e: MoneyError) -> Refusal {
        let reason = match e {
            MoneyError::CurrencyMismatch { .. } => Reason::InvalidOrder,
            _ => Reason::InvalidAmount,
        };
        Refusal::with_details(reason, e.to_string())
    }
}

impl From<DiscountError> for Refusal {
    fn from(e: DiscountError) -> Refusal {
        match e {
            // The order's own error knows its reason (a negative amount is
            // `invalid_amount`, not `invalid_order`).
            DiscountError::InvalidOrder(order) => Refusal::from(order),
            other => Refusal::with_details(discount_error_reason(&other), other.to_string()),
        }
    }
}

/// The project's settings every decision needs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Project {
    /// The one currency of the project; orders in another are refused.
    pub currency: Currency,
    /// The zone of validity windows, unless a campaign overrides it.
    pub time_zone: Tz,
    /// How several codes on one order combine.
    pub stacking: StackingRules,
}

impl Project {
    /// A project in `currency`, in UTC, with the default stacking rules.
    pub fn new(currency: Currency) -> Project {
        Project {
            currency,
            time_zone: Tz::UTC,
            stacking: StackingRules::default(),
        }
    }
}

/// A voucher to decide on, with its campaign and the store's counters.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    /// The voucher.
    pub voucher: &'a Voucher,
    /// Its campaign, if it has one.
    pub campaign: Option<&'a Campaign>,
    /// What the store counted, read in the deciding transaction.
    pub counters: Counters,
}

/// The order, the customer and the moment of a checkout.
#[derive(Debug, Clone, Copy)]
pub struct Checkout<'a> {
    /// The order as the caller described it.
    pub order: &'a Order,
    /// The customer, possibly anonymous.
    pub customer: &'a Customer,
    /// Now, as the caller's clock says.
    pub now: DateTime<Utc>,
}

/// What a gift redemption asks to spend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Credits {
    /// Exactly these credits, capped at what the order still owes; more
    /// than the balance is `gift_amount_exceeded`.
    Exactly(Money),
    /// What the order still owes, up to the balance (a partial spend, as at
    /// a till); an empty card is `gift_amount_exceeded`.
    WhatIsOwed,
}

/// What a code does to the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A discount, with its allocation over the lines.
    Discount(Applied),
    /// Gift credits spent on the order (they count as an order-level
    /// discount in the totals).
    Gift {
        /// The credits spent as an order-level reduction.
        applied: Applied,
        /// Credits spent, in minor units (may be zero on an order already
        /// paid in full by earlier codes).
        credits_minor: i64,
        /// The card's balance after the spend.
        balance_after_minor: i64,
    },
}

impl Outcome {
    /// The reduction of the order, in minor units.
    pub fn applied(&self) -> &Applied {
        match self {
            Outcome::Discount(applied) | Outcome::Gift { applied, .. } => applied,
        }
    }

    /// What the campaign budget is charged: the discount, or the credits.
    pub fn given_minor(&self) -> i64 {
        match self {
            Outcome::Discount(applied) => applied.discount_minor(),
            Outcome::Gift { credits_minor, .. } => *credits_minor,
        }
    }
}

/// A successful validation: the outcome and the order after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Validation {
    /// What the code does.
    pub outcome: Outcome,
    /// The order with the code applied (totals per the wire's formulas).
    pub order: OrderState,
}

/// The state change of one successful redemption, for the store to apply
/// atomically together with the redemption record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// The voucher's redeemed count after this redemption.
    pub redeemed_quantity_after: u64,
    /// The gift card's ledger entry, if credits were spent.
    pub ledger_entry: Option<Entry>,
    /// Discount or credits charged to the campaign budget, minor units.
    pub given_minor: i64,
}

/// A successful redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redemption {
    /// What the code did.
    pub validation: Validation,
    /// What the store must apply.
    pub transition: Transition,
}

/// Validates a code: never changes anything.
pub fn validate(
    project: &Project,
    candidate: &Candidate<'_>,
    checkout: &Checkout<'_>,
    credits: Credits,
) -> Result<Validation, Refusal> {
    let checked = check_input(project, checkout)?;
    let mut order = OrderState::of(&checked)?;
    let outcome = decide(
        project,
        candidate,
        checkout,
        &checked,
        &order,
        credits,
        CountLimits::Enforce,
    )?;
    order.commit(outcome.applied())?;
    Ok(Validation { outcome, order })
}

/// Redeems a code: the same decision as [`validate`], plus the transition.
pub fn redeem(
    project: &Project,
    candidate: &Candidate<'_>,
    checkout: &Checkout<'_>,
    credits: Credits,
) -> Result<Redemption, Refusal> {
    let validation = validate(project, candidate, checkout, credits)?;
    let transition = transition(candidate.voucher, &validation.outcome)?;
    Ok(Redemption {
        validation,
        transition,
    })
}

/// Checks the order and customer, the input half of every decision.
pub(crate) fn check_input<'a>(
    project: &Project,
    checkout: &Checkout<'a>,
) -> Result<CheckedOrder<'a>, Refusal> {
    checkout.customer.check()?;
    Ok(checkout.order.check(project.currency)?)
}

/// The transition of a successful decision.
pub(crate) fn transition(voucher: &Voucher, outcome: &Outcome) -> Result<Transition, Refusal> {
    let redeemed_quantity_after = voucher
        .redeemed_quantity
        .checked_add(1)
        .ok_or_else(|| Refusal::new(Reason::QuantityExceeded))?;
    let ledger_entry = match (&voucher.benefit, outcome) {
        (Benefit::Gift(ledger), Outcome::Gift { credits_minor, .. }) if *credits_minor > 0 => Some(
            ledger
                .next(EntryKind::Redemption, *credits_minor)
                .map_err(ledger_refusal)?,
        ),
        _ => None,
    };
    Ok(Transition {
        redeemed_quantity_after,
        ledger_entry,
        given_minor: outcome.given_minor(),
    })
}

/// Decides one code against the running order `state` (the order as
/// earlier codes of a stack left it). `checked` is the order as given.
pub(crate) fn decide(
    project: &Project,
    candidate: &Candidate<'_>,
    checkout: &Checkout<'_>,
    checked: &CheckedOrder<'_>,
    state: &OrderState,
    credits: Credits,
    counts: CountLimits,
) -> Result<Outcome, Refusal> {
    let voucher = candidate.voucher;
    let campaign = candidate.campaign;

    // 1. Input problems, the discount's own among them (a free unit with
    //    no price, a value in another currency): it is computed here, on
    //    the running order, so that they come before every later check.
    let plan = check_needs(
        voucher,
        campaign,
        checkout,
        checked,
        state,
        project.currency,
        credits,
    )?;

    // 2-5. Enabled, then dates and windows.
    let disabled =
        !voucher.activity.is_enabled() || campaign.is_some_and(|c| !c.activity.is_enabled());
    if disabled {
        return Err(Refusal::new(Reason::VoucherDisabled));
    }
    if let Some(reason) = validity_refusal(project, voucher, campaign, checkout.now) {
        return Err(Refusal::new(reason));
    }

    // 6. Quantity.
    if voucher.quantity.is_exhausted(voucher.redeemed_quantity) {
        return Err(Refusal::new(Reason::QuantityExceeded));
    }

    // 7. Gift balance.
    let spend_minor = match &plan {
        Plan::Gift { balance_minor } => gift_spend(*balance_minor, state, credits)?,
        Plan::Discount(_) => 0,
    };

    // 8. Rules, then the campaign's limits. Qualifications ignore the
    // counters: rules on them see nothing redeemed yet.
    let counters = match counts {
        CountLimits::Enforce => candidate.counters,
        CountLimits::Ignore => Counters::default(),
    };
    let facts = RuleFacts {
        order: checked,
        order_metadata: &checkout.order.metadata,
        customer: checkout.customer,
        customer_redemptions: counters.customer_redemptions,
        campaign_redemptions: counters.campaign_redemptions,
        campaign_given_minor: counters.campaign_given_minor,
    };
    check_rules(rule_sets(voucher, campaign), &facts)?;
    check_count_limits(campaign, &counters)?;

    let outcome = match plan {
        Plan::Gift { balance_minor } => {
            let applied = state.apply_credits(spend_minor)?;
            let credits_minor = applied.discount_minor();
            let balance_after_minor = balance_minor
                .checked_sub(credits_minor)
                .ok_or_else(|| Refusal::new(Reason::InvalidAmount))?;
            Outcome::Gift {
                credits_minor,
                balance_after_minor,
                applied,
            }
        }
        Plan::Discount(applied) => Outcome::Discount(*applied),
    };
    if counts == CountLimits::Enforce {
        check_budget(campaign, &counters, outcome.given_minor())?;
    }
    Ok(outcome)
}

/// Whether the campaign's redemption limits (per customer, per campaign,
/// the budget, and rules on those counters) take part in a decision.
/// Qualifications ignore them, as the reference says; validations and
/// redemptions enforce them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CountLimits {
    Enforce,
    Ignore,
}

/// What a voucher will do once the checks pass.
enum Plan {
    /// A gift card with this balance; its spend is decided in step 7.
    Gift { balance_minor: i64 },
    /// A discount, computed with the input checks.
    Discount(Box<Applied>),
}

fn rule_sets<'a>(
    voucher: &'a Voucher,
    campaign: Option<&'a Campaign>,
) -> impl Iterator<Item = &'a RuleSet> + Clone {
    campaign
        .into_iter()
        .flat_map(|c| c.rules.iter())
        .chain(voucher.rules.iter())
}

/// Which lines a discount touches: the intersection of every rule set's
/// targets (`None`: every line).
fn targets<'a>(
    sets: impl Iterator<Item = &'a RuleSet>,
    order: &CheckedOrder<'_>,
) -> Option<Vec<LineTarget>> {
    rules::combine_targets(sets.map(|set| set.targets(order)))
}

/// The input checks of a decision, in the order of precedence of their
/// reasons; computes the discount (or reads the gift balance) on the way.
fn check_needs(
    voucher: &Voucher,
    campaign: Option<&Campaign>,
    checkout: &Checkout<'_>,
    checked: &CheckedOrder<'_>,
    state: &OrderState,
    currency: Currency,
    credits: Credits,
) -> Result<Plan, Refusal> {
    if let Credits::Exactly(money) = credits {
        if money.currency() != currency {
            return Err(Refusal::with_details(
                Reason::InvalidOrder,
                "credits in another currency",
            ));
        }
        if money.is_negative() || money.is_zero() {
            return Err(Refusal::with_details(
                Reason::InvalidAmount,
                "credits must be positive",
            ));
        }
        money.to_minor()?;
    }
    let plan = match &voucher.benefit {
        Benefit::Gift(ledger) => {
            // The balance is in the card's minor units: spending it on an
            // order in another currency would mix units (5000 yen are not
            // 50.00 euros).
            if ledger.currency() != currency {
                return Err(Refusal::with_details(
                    Reason::InvalidOrder,
                    "gift card in another currency",
                ));
            }
            if checked.amount_minor.is_none() {
                return Err(Refusal::new(Reason::MissingAmount));
            }
            Plan::Gift {
                balance_minor: ledger.balance_minor(),
            }
        }
        Benefit::Discount(discount) => {
            if let Some(reason) = missing_discount_input(discount, checked) {
                return Err(Refusal::new(reason));
            }
            let targets = targets(rule_sets(voucher, campaign), checked);
            Plan::Discount(Box::new(discount::apply(
                discount,
                state,
                targets.as_deref(),
            )?))
        }
    };
    let needs_customer = campaign.is_some_and(|c| c.limits.per_customer_max.is_some())
        || rule_sets(voucher, campaign).any(RuleSet::needs_customer);
    if needs_customer && !checkout.customer.is_identified() {
        return Err(Refusal::new(Reason::MissingCustomer));
    }
    Ok(plan)
}

/// What a discount needs from the order: an amount for order-level effects,
/// lines for item-level ones (UNIT effects add their own lines).
fn missing_discount_input(discount: &Discount, checked: &CheckedOrder<'_>) -> Option<Reason> {
    if discount.value().kind() == DiscountKind::Unit {
        return None;
    }
    match discount.effect().level() {
        DiscountLevel::Order => checked
            .amount_minor
            .is_none()
            .then_some(Reason::MissingAmount),
        DiscountLevel::Items => checked
            .lines
            .is_empty()
            .then_some(Reason::MissingOrderItems),
    }
}

fn discount_error_reason(e: &DiscountError) -> Reason {
    match e {
        DiscountError::MissingAmount => Reason::MissingAmount,
        DiscountError::MissingOrderItems => Reason::MissingOrderItems,
        DiscountError::MissingUnitPrice => Reason::MissingOrderItemsAmount,
        DiscountError::CurrencyMismatch { .. }
        | DiscountError::InvalidOrder(_)
        | DiscountError::TooManyLines => Reason::InvalidOrder,
        _ => Reason::InvalidAmount,
    }
}

fn validity_refusal(
    project: &Project,
    voucher: &Voucher,
    campaign: Option<&Campaign>,
    now: DateTime<Utc>,
) -> Option<Reason> {
    let tz = campaign
        .and_then(|c| c.time_zone)
        .unwrap_or(project.time_zone);
    // At most three statuses: an array, not a vector (this runs on every
    // decision).
    let mut statuses = [Some(voucher.validity.status(now, tz)), None, None];
    if let Some(campaign) = campaign {
        statuses[1] = Some(campaign.validity.status(now, tz));
    }
    if let (Some(published_at), Some(duration)) =
        (voucher.published_at, voucher.active_after_publishing)
    {
        // An instant expiry, as `Validity::for_code_published_at` makes it:
        // valid up to and including the instant. An expiry that cannot be
        // computed (past the calendar's end) never comes.
        if let Some(expiry) = duration.after(published_at, tz) {
            if Moment::Instant(expiry).has_expired(now, tz) {
                statuses[2] = Some(ValidityStatus::Expired);
            }
        }
    }
    let rank = |status: &ValidityStatus| match status {
        ValidityStatus::NotYetActive => Some((0, Reason::VoucherNotActive)),
        ValidityStatus::Expired => Some((1, Reason::VoucherExpired)),
        ValidityStatus::NotActiveNow => Some((2, Reason::VoucherNotActiveNow)),
        ValidityStatus::Active => None,
    };
    statuses
        .iter()
        .flatten()
        .filter_map(rank)
        .min()
        .map(|(_, reason)| reason)
}

fn gift_spend(balance_minor: i64, state: &OrderState, credits: Credits) -> Result<i64, Refusal> {
    let owed = state
        .remaining_minor()
        .ok_or_else(|| Refusal::new(Reason::MissingAmount))?;
    match credits {
        Credits::Exactly(money) => {
            let requested = money.to_minor()?;
            if requested > balance_minor {
                return Err(Refusal::with_details(
                    Reason::GiftAmountExceeded,
                    format!("balance {balance_minor}, requested {requested} (minor units)"),
                ));
            }
            Ok(requested.min(owed))
        }
        Credits::WhatIsOwed => {
            if balance_minor <= 0 {
                return Err(Refusal::with_details(
                    Reason::GiftAmountExceeded,
                    "balance is zero",
                ));
            }
            Ok(balance_minor.min(owed))
        }
    }
}

fn category_rank(category: RuleCategory) -> u8 {
    match category {
        RuleCategory::Customer => 0,
        RuleCategory::Order => 1,
        RuleCategory::Redemption => 2,
    }
}

fn violation_reason(category: RuleCategory) -> Reason {
    match category {
        RuleCategory::Customer => Reason::CustomerRulesViolated,
        RuleCategory::Order => Reason::OrderRulesViolated,
        RuleCategory::Redemption => Reason::RedemptionRulesViolated,
    }
}

fn check_rules<'a>(
    sets: impl Iterator<Item = &'a RuleSet>,
    facts: &RuleFacts<'_>,
) -> Result<(), Refusal> {
    let mut first: Option<RuleViolation> = None;
    for set in sets {
        if let Err(violation) = set.evaluate(facts) {
            let better = match &first {
                None => true,
                Some(current) => {
                    category_rank(violation.category).cmp(&category_rank(current.category))
                        == Ordering::Less
                }
            };
            if better {
                first = Some(violation);
            }
        }
    }
    match first {
        None => Ok(()),
        Some(violation) => Err(Refusal {
            reason: violation_reason(violation.category),
            rule_message: violation.message,
            details: Some(format!("rule {} failed", violation.rule)),
        }),
    }
}

fn check_count_limits(campaign: Option<&Campaign>, counters: &Counters) -> Result<(), Refusal> {
    let Some(limits) = campaign.map(|c| c.limits) else {
        return Ok(());
    };
    if limits
        .per_customer_max
        .is_some_and(|max| counters.customer_redemptions >= max)
    {
        return Err(Refusal::with_details(
            Reason::RedemptionRulesViolated,
            "redemption limit per customer reached",
        ));
    }
    if limits
        .redemptions_max
        .is_some_and(|max| counters.campaign_redemptions >= max)
    {
        return Err(Refusal::with_details(
            Reason::RedemptionRulesViolated,
            "campaign redemption limit reached",
        ));
    }
    Ok(())
}

fn check_budget(
    campaign: Option<&Campaign>,
    counters: &Counters,
    given_minor: i64,
) -> Result<(), Refusal> {
    let Some(budget) = campaign.and_then(|c| c.limits.budget_max_minor) else {
        return Ok(());
    };
    let after = counters.campaign_given_minor.saturating_add(given_minor);
    if after > budget {
        return Err(Refusal::with_details(
            Reason::RedemptionRulesViolated,
            "campaign budget exhausted",
        ));
    }
    Ok(())
}

fn ledger_refusal(e: LedgerError) -> Refusal {
    let reason = match e {
        LedgerError::InsufficientBalance { .. } => Reason::GiftAmountExceeded,
        _ => Reason::InvalidAmount,
    };
    Refusal::with_details(reason, e.to_string())
}

/// The state of a stored redemption, as far as a rollback cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RedemptionStatus {
    /// Succeeded and still counts.
    Succeeded,
    /// Succeeded, then rolled back.
    RolledBack,
    /// Refused: nothing to roll back.
    Failed,
}

/// Why a rollback was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RollbackError {
    /// The redemption was already rolled back (wire key
    /// `already_rolled_back`).
    #[error("redemption already rolled back")]
    AlreadyRolledBack,
    /// The redemption failed, so there is nothing to roll back.
    #[error("a failed redemption cannot be rolled back")]
    NotSucceeded,
    /// The stored state does not add up (the voucher's redeemed count is
    /// zero, an amount is negative, credits were spent by a voucher without
    /// a balance, or the refund overflows): the store is corrupt.
    #[error("stored state is inconsistent: {0}")]
    Inconsistent(String),
}

/// The state change of one rollback, for the store to apply atomically.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackTransition {
    /// The voucher's redeemed count after the rollback.
    pub redeemed_quantity_after: u64,
    /// The refund entry of a gift card, if credits return.
    pub ledger_entry: Option<Entry>,
    /// What returns to the campaign budget, minor units.
    pub returned_minor: i64,
}

/// Rolls back a successful redemption: the use returns, and the gift
/// credits it spent (`credits_minor`) return to the card, exactly once.
pub fn rollback(
    voucher: &Voucher,
    status: RedemptionStatus,
    credits_minor: i64,
    given_minor: i64,
) -> Result<RollbackTransition, RollbackError> {
    match status {
        RedemptionStatus::RolledBack => return Err(RollbackError::AlreadyRolledBack),
        RedemptionStatus::Failed => return Err(RollbackError::NotSucceeded),
        RedemptionStatus::Succeeded => {}
    }
    let redeemed_quantity_after = voucher.redeemed_quantity.checked_sub(1).ok_or_else(|| {
        RollbackError::Inconsistent("redeemed quantity is already zero".to_owned())
    })?;
    // Stored amounts are data from outside: checked, not trusted.
    if credits_minor < 0 || given_minor < 0 {
        return Err(RollbackError::Inconsistent(
            "negative credits or discount".to_owned(),
        ));
    }
    let ledger_entry = match &voucher.benefit {
        Benefit::Gift(ledger) if credits_minor > 0 => Some(
            ledger
                .next(EntryKind::Refund, credits_minor)
                .map_err(|e| RollbackError::Inconsistent(e.to_string()))?,
        ),
        Benefit::Discount(_) if credits_minor > 0 => {
            return Err(RollbackError::Inconsistent(
                "credits spent by a voucher without a balance".to_owned(),
            ))
        }
        _ => None,
    };
    Ok(RollbackTransition {
        redeemed_quantity_after,
        ledger_entry,
        returned_minor: given_minor,
    })
}

#[cfg(test)]
mod tests;
