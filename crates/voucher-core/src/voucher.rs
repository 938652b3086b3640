//! Vouchers and campaigns as the engine sees them when it decides: what a
//! code is worth, when and how often it may be used, and the rules and
//! limits around it. Stores load these, plus the [`Counters`] the limits
//! need, and hand them to [`crate::decision`].

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::code_pattern::Code;
use crate::discount::Discount;
use crate::ledger::Ledger;
use crate::rules::RuleSet;
use crate::validity::{IsoDuration, Validity};

/// What a campaign hands out. The wire's `campaign_type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CampaignType {
    /// Discount codes (`DISCOUNT_COUPONS`).
    DiscountCoupons,
    /// Gift cards with a balance (`GIFT_VOUCHERS`).
    GiftVouchers,
}

/// How a campaign's codes come to be. The wire's campaign `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CampaignKind {
    /// A set of unique codes generated up front (`STATIC`).
    Static,
    /// Codes generated when they are published (`AUTO_UPDATE`).
    AutoUpdate,
    /// One shared public code (`STANDALONE`), e.g. `FEEDMEHUMAN`.
    Standalone,
}

/// Whether a voucher or campaign may be used at all (the wire's `active`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Activity {
    /// Usable, subject to the rest of the checks.
    Enabled,
    /// Refused with `voucher_disabled`.
    Disabled,
}

impl Activity {
    /// From the wire's `active` flag.
    pub fn from_active(active: bool) -> Activity {
        if active {
            Activity::Enabled
        } else {
            Activity::Disabled
        }
    }

    /// The wire's `active` flag.
    pub fn is_enabled(self) -> bool {
        self == Activity::Enabled
    }
}

/// How many times a code may be redeemed (the wire's
/// `redemption.quantity`, `null` meaning unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RedemptionQuantity {
    /// At most this many successful, not rolled back, redemptions.
    Limited(u64),
    /// No limit (gift cards are then limited by their balance).
    Unlimited,
}

impl RedemptionQuantity {
    /// True when one more redemption after `redeemed` would exceed it.
    pub fn is_exhausted(self, redeemed: u64) -> bool {
        match self {
            RedemptionQuantity::Limited(max) => redeemed >= max,
            RedemptionQuantity::Unlimited => false,
        }
    }
}

/// What a voucher is worth.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Benefit {
    /// A discount (`DISCOUNT_VOUCHER`).
    Discount(Discount),
    /// A prepaid balance (`GIFT_VOUCHER`), spent over many orders.
    Gift(Ledger),
}

/// A voucher: one code and what it is worth.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Voucher {
    /// The code, case-sensitive.
    pub code: Code,
    /// What the code is worth; a gift voucher carries its balance.
    pub benefit: Benefit,
    /// Enabled or disabled.
    pub activity: Activity,
    /// The code's own dates and recurring windows.
    pub validity: Validity,
    /// How many times it may be redeemed.
    pub quantity: RedemptionQuantity,
    /// Successful redemptions not rolled back.
    pub redeemed_quantity: u64,
    /// The customer the code was published to, if any.
    pub holder_id: Option<String>,
    /// When the code was published, if it was.
    pub published_at: Option<DateTime<Utc>>,
    /// The code expires this long after its publication (the campaign's
    /// `activity_duration_after_publishing`).
    pub active_after_publishing: Option<IsoDuration>,
    /// Rule sets assigned to the voucher itself.
    pub rules: Vec<RuleSet>,
}

/// A category a campaign belongs to, for the stacking rules.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    /// The category's name, as the stacking rules name it.
    pub name: String,
    /// Lower applies first under the `CATEGORY_HIERARCHY` sorting rule.
    pub hierarchy: u32,
}

/// Limits that span all of a campaign's codes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignLimits {
    /// Most successful redemptions of the campaign's codes together.
    pub redemptions_max: Option<u64>,
    /// Most successful redemptions by one customer.
    pub per_customer_max: Option<u64>,
    /// Most discount (and gift credits) given by the campaign, in minor
    /// units.
    pub budget_max_minor: Option<i64>,
}

/// A campaign: the settings its codes share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Campaign {
    /// The campaign's unique name.
    pub name: String,
    /// Discount coupons or gift cards.
    pub campaign_type: CampaignType,
    /// Static set, auto-update or one shared code.
    pub kind: CampaignKind,
    /// Enabled or disabled: a disabled campaign disables all its codes.
    pub activity: Activity,
    /// The campaign's dates and windows, checked besides each code's own.
    pub validity: Validity,
    /// Overrides the project's time zone for this campaign's windows.
    pub time_zone: Option<Tz>,
    /// Rule sets assigned to the campaign.
    pub rules: Vec<RuleSet>,
    /// Limits across the campaign's codes.
    pub limits: CampaignLimits,
    /// Categories, for the stacking rules.
    pub categories: Vec<Category>,
}

/// What the store counted so far, for the limits and rules that need it.
/// A store MUST read these inside the same transaction that applies the
/// decision, or the limits can be exceeded under concurrency.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Successful, not rolled back, redemptions by this customer of this
    /// campaign's codes (of this voucher when it has no campaign).
    pub customer_redemptions: u64,
    /// Successful, not rolled back, redemptions of the campaign's codes.
    pub campaign_redemptions: u64,
    /// Discount and gift credits given by the campaign so far, minus what
    /// rollbacks returned, in minor units.
    pub campaign_given_minor: i64,
}
