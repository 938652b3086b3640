//! The plain records the store ports take and give: what a caller specifies
//! (`*Spec`, `*Patch`, `*Query`, `*Request`) and what a store returns
//! (`*Record`). Money is in integer minor units of the project's currency
//! (`*_minor`); ids are the wire's prefixed strings (`v_...`, `camp_...`).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::code_pattern::{Code, CodeConfig};
use crate::decision::{Project, Refusal};
use crate::discount::{Discount, OrderState};
use crate::ledger::EntryKind;
use crate::money::{Currency, Money};
use crate::order::Order;
use crate::rules::RawRuleSet;
use crate::stacking::{EntryStatus, StackingRules};
use crate::validity::{IsoDuration, Validity};
use crate::value::Metadata;
use crate::voucher::{
    Activity, CampaignKind, CampaignLimits, CampaignType, Category, RedemptionQuantity,
};
use crate::webhook::EventType;

/// A project's row id. Every record belongs to exactly one project.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ProjectId(pub i64);

/// What a new project is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectSpec {
    /// Unique name, e.g. `default`, `sandbox`.
    pub name: String,
    /// The one currency of the project.
    pub currency: Currency,
    /// The zone of validity windows.
    pub time_zone: Tz,
    /// How several codes combine on one order.
    pub stacking: StackingRules,
}

/// A stored project.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProjectRecord {
    /// Row id.
    pub id: ProjectId,
    /// The project's settings.
    pub spec: ProjectSpec,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

impl ProjectRecord {
    /// The settings a decision needs.
    pub fn decision_project(&self) -> Project {
        Project {
            currency: self.spec.currency,
            time_zone: self.spec.time_zone,
            stacking: self.spec.stacking.clone(),
        }
    }
}

/// Which side of the API a key is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyKind {
    /// `X-App-Id` + `X-App-Token` on `/v1`.
    Server,
    /// `X-Client-Application-Id` + `X-Client-Token` on `/client/v1`.
    Client,
}

/// What a client key may do beyond validating and qualifying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientPermission {
    /// Redeem codes.
    Redeem,
    /// Publish codes to customers.
    Publish,
}

/// A new key pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeySpec {
    /// The project the key sees.
    pub project: ProjectId,
    /// Server or client.
    pub kind: KeyKind,
    /// The application id (public half).
    pub app_id: String,
    /// The secret; stored hashed.
    pub secret: String,
    /// Allowed `Origin`s of a client key (empty: any).
    pub origins: Vec<String>,
    /// Extra permissions of a client key.
    pub permissions: Vec<ClientPermission>,
}

/// A stored key (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    /// The project the key sees.
    pub project: ProjectId,
    /// Server or client.
    pub kind: KeyKind,
    /// The application id.
    pub app_id: String,
    /// Allowed origins of a client key (empty: any).
    pub origins: Vec<String>,
    /// Extra permissions of a client key.
    pub permissions: Vec<ClientPermission>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// What a voucher is worth, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum BenefitSpec {
    /// A discount voucher.
    Discount(Discount),
    /// A gift voucher with this initial amount.
    Gift {
        /// The initial amount in minor units.
        amount_minor: i64,
    },
}

/// The settings every code of a campaign starts from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherTemplate {
    /// What each code is worth.
    pub benefit: BenefitSpec,
    /// How often each code may be used.
    pub quantity: RedemptionQuantity,
    /// How codes are made.
    pub code_config: CodeConfig,
}

/// Whether a campaign's codes are still being generated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GenerationStatus {
    /// Codes are being generated.
    InProgress,
    /// Every requested code exists.
    Done,
    /// Generation failed.
    Failed,
}

/// A campaign as its author specifies it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignSpec {
    /// Unique name in the project.
    pub name: String,
    /// Free text.
    pub description: Option<String>,
    /// Discount coupons or gift cards.
    pub campaign_type: CampaignType,
    /// STATIC, AUTO_UPDATE or STANDALONE.
    pub kind: CampaignKind,
    /// Enabled or disabled.
    pub activity: Activity,
    /// Dates and windows.
    pub validity: Validity,
    /// Overrides the project's zone.
    pub time_zone: Option<Tz>,
    /// Limits across the campaign.
    pub limits: CampaignLimits,
    /// Stacking categories.
    pub categories: Vec<Category>,
    /// The codes' settings.
    pub template: VoucherTemplate,
    /// Codes to generate at creation.
    pub vouchers_count: u64,
    /// Per-code expiry after publication.
    pub activity_duration_after_publishing: Option<IsoDuration>,
    /// Free-form attributes.
    pub metadata: Metadata,
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignRecord {
    /// `camp_...`.
    pub id: String,
    /// Its settings.
    pub spec: CampaignSpec,
    /// Codes that exist now.
    pub codes_count: u64,
    /// Whether codes are still being made.
    pub generation: GenerationStatus,
    /// The rule assignments of the campaign itself, oldest first.
    #[serde(default)]
    pub assignments: Vec<AssignmentRecord>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A voucher as its author specifies it. Fields left `None` come from the
/// campaign's template, or the defaults (8 characters of `0-9a-zA-Z`,
/// quantity unlimited for gift cards and 1... as the caller decides).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoucherSpec {
    /// The code; generated from `code_config` when absent.
    pub code: Option<Code>,
    /// How to generate the code when it is absent.
    pub code_config: Option<CodeConfig>,
    /// The campaign, by id or name.
    pub campaign: Option<String>,
    /// What the code is worth; the campaign's when absent.
    pub benefit: Option<BenefitSpec>,
    /// How often it may be used; the campaign's when absent.
    pub quantity: Option<RedemptionQuantity>,
    /// Its own dates and windows.
    pub validity: Validity,
    /// Enabled or disabled.
    pub activity: Activity,
    /// Free-text category.
    pub category: Option<String>,
    /// Free text shown to staff.
    pub additional_info: Option<String>,
    /// Free-form attributes.
    pub metadata: Metadata,
}

/// A change to a voucher: only the fields given change. Server-managed
/// fields (redeemed quantity, balance, ids, dates of creation) are not here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VoucherPatch {
    /// A new discount (a gift voucher's amount changes through
    /// `adjust_balance`; the type never changes).
    pub discount: Option<Discount>,
    /// A new quantity.
    pub quantity: Option<RedemptionQuantity>,
    /// New dates and windows.
    pub validity: Option<Validity>,
    /// Enable or disable.
    pub activity: Option<Activity>,
    /// A new category (`Some(None)` clears it).
    pub category: Option<Option<String>>,
    /// New staff text (`Some(None)` clears it).
    pub additional_info: Option<Option<String>>,
    /// New metadata (replaces the old).
    pub metadata: Option<Metadata>,
}

/// A stored voucher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VoucherRecord {
    /// `v_...`.
    pub id: String,
    /// The code.
    pub code: Code,
    /// Its campaign's id and name.
    pub campaign: Option<(String, String)>,
    /// What it is worth (a gift's initial amount).
    pub benefit: BenefitSpec,
    /// A gift card's balance, minor units.
    pub gift_balance_minor: Option<i64>,
    /// How often it may be used.
    pub quantity: RedemptionQuantity,
    /// Successful, not rolled back, redemptions.
    pub redeemed_quantity: u64,
    /// Gift credits spent, minor units.
    pub redeemed_amount_minor: i64,
    /// Its own dates and windows.
    pub validity: Validity,
    /// Enabled or disabled.
    pub activity: Activity,
    /// The customer it was published to (`cust_...`), if any.
    pub holder_id: Option<String>,
    /// When it was first published.
    pub published_at: Option<DateTime<Utc>>,
    /// How many publications name it.
    pub publish_count: u64,
    /// Free-text category.
    pub category: Option<String>,
    /// Free text shown to staff.
    pub additional_info: Option<String>,
    /// Free-form attributes.
    pub metadata: Metadata,
    /// Rule sets assigned to the voucher itself.
    pub assignments: Vec<AssignmentRecord>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// Newest or oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum SortOrder {
    /// Newest first (the default, `-created_at`).
    #[default]
    NewestFirst,
    /// Oldest first (`created_at`).
    OldestFirst,
}

/// Paging and the filters every list shares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListQuery {
    /// Page size, 1..=100.
    pub limit: u32,
    /// 1-based page number (page paging), when no cursor is given.
    pub page: u32,
    /// Cursor paging: items after this cursor (a previous page's
    /// `next_cursor`).
    pub starting_after: Option<String>,
    /// Created after this instant.
    pub created_after: Option<DateTime<Utc>>,
    /// Created before this instant.
    pub created_before: Option<DateTime<Utc>>,
    /// Updated after this instant.
    pub updated_after: Option<DateTime<Utc>>,
    /// Updated before this instant.
    pub updated_before: Option<DateTime<Utc>>,
    /// Sort order.
    pub order: SortOrder,
}

impl Default for ListQuery {
    fn default() -> ListQuery {
        ListQuery {
            limit: 10,
            page: 1,
            starting_after: None,
            created_after: None,
            created_before: None,
            updated_after: None,
            updated_before: None,
            order: SortOrder::NewestFirst,
        }
    }
}

/// Filters of the voucher list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoucherQuery {
    /// Paging and dates.
    pub list: ListQuery,
    /// Only this campaign's (id or name).
    pub campaign: Option<String>,
    /// Only those published to this customer (id or source id).
    pub customer: Option<String>,
    /// Only this category.
    pub category: Option<String>,
    /// Only enabled (`Some(true)`) or disabled ones.
    pub active: Option<bool>,
    /// Only those expired (`Some(true)`) or not yet expired at `now`.
    pub expired: Option<bool>,
    /// The instant `expired` is judged at.
    pub now: Option<DateTime<Utc>>,
    /// Only codes starting with this.
    pub code_prefix: Option<String>,
    /// Only these ids or codes.
    pub ids: Vec<String>,
}

/// A manual change of a gift card's balance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceChange {
    /// Signed change in minor units (positive adds).
    pub amount_minor: i64,
    /// Why (shown in the ledger).
    pub reason: Option<String>,
    /// The caller's id of the change.
    pub source_id: Option<String>,
    /// Who made it (for the audit log).
    pub actor: String,
}

/// The result of a balance change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalanceRecord {
    /// The signed change.
    pub amount_minor: i64,
    /// The card's initial amount plus additions minus removals.
    pub total_minor: i64,
    /// The balance after the change.
    pub balance_minor: i64,
    /// The voucher's id.
    pub voucher_id: String,
}

/// One entry of a gift card's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerRecord {
    /// `vtx_...`.
    pub id: String,
    /// The voucher's id.
    pub voucher_id: String,
    /// Its campaign's id.
    pub campaign_id: Option<String>,
    /// What moved the balance.
    pub kind: EntryKind,
    /// Signed change in minor units.
    pub amount_minor: i64,
    /// The balance after it.
    pub balance_after_minor: i64,
    /// Why.
    pub reason: Option<String>,
    /// The caller's id of the change.
    pub source_id: Option<String>,
    /// The redemption or rollback that moved it, if any.
    pub related_id: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Through which channel a redemption arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChannelType {
    /// A server key.
    Api,
    /// A person (dashboard, CLI).
    User,
    /// A client key.
    ClientApi,
}

/// A customer as the caller describes them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerSpec {
    /// The engine's id (`cust_...`), when the caller knows it.
    pub id: Option<String>,
    /// The shop's own id.
    pub source_id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Birth date.
    pub birthdate: Option<NaiveDate>,
    /// Address fields (`city`, `country`, ...).
    pub address: BTreeMap<String, String>,
    /// Free text.
    pub description: Option<String>,
    /// Free-form attributes (`segments` among them until segments exist).
    pub metadata: Metadata,
}

/// What a customer did, for their record.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerSummary {
    /// Redemption attempts.
    pub redemptions_total: u64,
    /// Successful ones.
    pub redemptions_succeeded: u64,
    /// Failed ones.
    pub redemptions_failed: u64,
    /// Rolled back ones.
    pub redemptions_rolled_back: u64,
    /// Gift credits spent, minor units.
    pub gift_redeemed_minor: i64,
    /// Amount of their orders with a code, minor units.
    pub orders_amount_minor: i64,
    /// Their orders with a code.
    pub orders_count: u64,
}

/// A stored customer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomerRecord {
    /// `cust_...`.
    pub id: String,
    /// What the caller said.
    pub spec: CustomerSpec,
    /// What they did.
    pub summary: CustomerSummary,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// Legacy (one code, refusal as the error) or stacked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CheckoutMode {
    /// `POST /v1/vouchers/{code}/redemption`: exactly one code.
    Legacy,
    /// `POST /v1/redemptions`: 1..=30 redeemables under the stacking rules.
    Stacked,
}

/// One code of a checkout request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedeemableRequest {
    /// The code as typed.
    pub code: String,
    /// Gift credits to spend; absent: what the order owes.
    pub credits: Option<Money>,
}

/// A validation or redemption request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckoutRequest {
    /// Legacy or stacked.
    pub mode: CheckoutMode,
    /// The codes.
    pub redeemables: Vec<RedeemableRequest>,
    /// The order.
    pub order: Order,
    /// The order's status as the caller gave it (`CREATED`, `PAID`, ...).
    pub order_status: Option<String>,
    /// The customer, if known; upserted by source id on redemption.
    pub customer: Option<CustomerSpec>,
    /// The request's metadata.
    pub metadata: Metadata,
    /// Through which channel.
    pub channel: ChannelType,
    /// The caller's tracking id.
    pub tracking_id: Option<String>,
    /// Now, as the caller's clock says.
    pub now: DateTime<Utc>,
}

/// One code's result in a validation.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutEntry {
    /// The code as requested.
    pub code: String,
    /// Applicable, inapplicable (with the reason) or skipped.
    pub status: EntryStatus,
    /// The voucher, when the code exists.
    pub voucher: Option<VoucherRecord>,
}

/// The result of a validation.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutResult {
    /// True when the request as a whole may be redeemed.
    pub valid: bool,
    /// One per requested code, in request order.
    pub entries: Vec<CheckoutEntry>,
    /// The order with the applicable codes applied.
    pub order: OrderState,
}

/// One line of an order as a redemption saw it, minor units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemSnapshot {
    /// The product's id.
    pub product_id: Option<String>,
    /// The SKU's id.
    pub sku_id: Option<String>,
    /// Units, free units included.
    pub quantity: u64,
    /// Units the caller sent.
    pub initial_quantity: u64,
    /// Unit price.
    pub price_minor: Option<i64>,
    /// Line amount, free units included.
    pub amount_minor: i64,
    /// Item-level discount on the line.
    pub discount_amount_minor: i64,
    /// `amount - discount_amount`.
    pub subtotal_amount_minor: i64,
}

/// An order as a redemption saw it: the wire's totals, minor units.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderSnapshot {
    /// `ord_...`.
    pub id: Option<String>,
    /// The shop's id of the order.
    pub source_id: Option<String>,
    /// `CREATED`, `PAID`, `CANCELED`, `FULFILLED`.
    pub status: Option<String>,
    /// Amount before discounts.
    pub amount_minor: Option<i64>,
    /// Order-level discounts (gift credits included).
    pub discount_amount_minor: i64,
    /// Item-level discounts.
    pub items_discount_amount_minor: i64,
    /// Both.
    pub total_discount_amount_minor: i64,
    /// What the customer pays.
    pub total_amount_minor: Option<i64>,
    /// What this redemption applied at order level.
    pub applied_discount_amount_minor: i64,
    /// What this redemption applied at item level.
    pub items_applied_discount_amount_minor: i64,
    /// The lines.
    pub items: Vec<ItemSnapshot>,
    /// The order's metadata.
    pub metadata: Metadata,
}

/// Succeeded or failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RedemptionResult {
    /// The code was used.
    Success,
    /// The code was refused.
    Failure,
}

/// Where a redemption stands now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RedemptionState {
    /// Succeeded and counts.
    Succeeded,
    /// Refused.
    Failed,
    /// Succeeded, then rolled back.
    RolledBack,
}

/// What a [`RedemptionRecord`] records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RedemptionKind {
    /// A code's use or refusal, or the parent of a stacked redemption.
    #[default]
    Redemption,
    /// A rollback, read in the shape of a redemption (the redemption list
    /// holds both): `parent_id` is the redemption it rolled back,
    /// `amount_minor` the credits it returned (positive), `discount_minor`
    /// the discount it returned, `children` the rollbacks of a stacked
    /// parent's children; its `result` is its own (`Success`).
    Rollback {
        /// Why, as the caller said.
        reason: Option<String>,
    },
}

/// A stored redemption: one code's use (or refusal), or the parent of a
/// stacked redemption; or a rollback in the same shape
/// ([`RedemptionKind::Rollback`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RedemptionRecord {
    /// `r_...` (success), `rf_...` (failure), `rr_...` (rollback).
    pub id: String,
    /// A redemption or a rollback.
    #[serde(default)]
    pub kind: RedemptionKind,
    /// The stacked parent's id, for a child.
    pub parent_id: Option<String>,
    /// The children's records, for a stacked parent.
    pub children: Vec<RedemptionRecord>,
    /// Success or failure.
    pub result: RedemptionResult,
    /// Where it stands now.
    pub state: RedemptionState,
    /// Why it failed.
    pub failure: Option<Refusal>,
    /// The code as requested (unknown codes too).
    pub code: Option<String>,
    /// The voucher's id, when the code exists.
    pub voucher_id: Option<String>,
    /// The campaign's id and name.
    pub campaign: Option<(String, String)>,
    /// The customer's id and source id.
    pub customer: Option<(String, Option<String>)>,
    /// The order as redeemed.
    pub order: OrderSnapshot,
    /// Gift credits spent, minor units.
    pub amount_minor: i64,
    /// Discount (or credits) given, minor units.
    pub discount_minor: i64,
    /// The voucher's state after the redemption (balance, redeemed count).
    pub voucher_after: Option<VoucherRecord>,
    /// Channel.
    pub channel: ChannelType,
    /// Caller's tracking id.
    pub tracking_id: Option<String>,
    /// Request metadata.
    pub metadata: Metadata,
    /// The rollback's id, once rolled back.
    pub rollback_id: Option<String>,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Filters of the redemption list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedemptionQuery {
    /// Paging and dates.
    pub list: ListQuery,
    /// Only this campaign's (id or name).
    pub campaign: Option<String>,
    /// Only this customer's (id or source id).
    pub customer: Option<String>,
    /// Only successes or failures.
    pub result: Option<RedemptionResult>,
    /// Only failures with this reason key.
    pub failure_code: Option<String>,
    /// Only this code's.
    pub code: Option<String>,
    /// Only this order's (id or source id).
    pub order: Option<String>,
}

/// A rollback request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RollbackRequest {
    /// The redemption (or stacked parent) to roll back.
    pub redemption_id: String,
    /// Why.
    pub reason: Option<String>,
    /// Caller's tracking id.
    pub tracking_id: Option<String>,
    /// Request metadata.
    pub metadata: Metadata,
    /// Channel.
    pub channel: ChannelType,
    /// Now.
    pub now: DateTime<Utc>,
}

/// A stored rollback.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RollbackRecord {
    /// `rr_...`.
    pub id: String,
    /// The redemption rolled back.
    pub redemption_id: String,
    /// The children's rollbacks, for a stacked parent.
    pub children: Vec<RollbackRecord>,
    /// Why.
    pub reason: Option<String>,
    /// Gift credits returned, minor units (positive).
    pub amount_minor: i64,
    /// The code, if any.
    pub code: Option<String>,
    /// The voucher's state after the rollback.
    pub voucher_after: Option<VoucherRecord>,
    /// The customer's id and source id.
    pub customer: Option<(String, Option<String>)>,
    /// The order, now canceled.
    pub order: OrderSnapshot,
    /// Channel.
    pub channel: ChannelType,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// What a publication hands out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum PublicationTarget {
    /// This code.
    Voucher(String),
    /// `count` unpublished codes of this campaign (id or name).
    Campaign {
        /// The campaign.
        campaign: String,
        /// How many codes, 1..=50.
        count: u32,
    },
}

/// Whether a customer always gets the same code of a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum JoinOnce {
    /// A new code each time.
    No,
    /// The code they already hold, if any.
    Yes,
}

/// A publication request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationSpec {
    /// What to hand out.
    pub target: PublicationTarget,
    /// To whom (upserted).
    pub customer: CustomerSpec,
    /// Through which channel (`API`, `email`, ...).
    pub channel: String,
    /// The caller's unique id of this publication.
    pub source_id: Option<String>,
    /// Free-form attributes.
    pub metadata: Metadata,
    /// Same code every time?
    pub join_once: JoinOnce,
}

/// A stored publication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublicationRecord {
    /// `pub_...`.
    pub id: String,
    /// The customer's id and source id.
    pub customer: (String, Option<String>),
    /// The codes handed out.
    pub vouchers: Vec<VoucherRecord>,
    /// The channel.
    pub channel: String,
    /// The caller's id.
    pub source_id: Option<String>,
    /// Free-form attributes.
    pub metadata: Metadata,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// Filters of the publication list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicationQuery {
    /// Paging and dates.
    pub list: ListQuery,
    /// Only this campaign's.
    pub campaign: Option<String>,
    /// Only this customer's.
    pub customer: Option<String>,
    /// Only this code's.
    pub code: Option<String>,
}

/// A rule set as its author writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleSpec {
    /// Unique name in the project.
    pub name: String,
    /// The rules, in the wire's shape (checked by the store with
    /// [`crate::rules::RuleSet::parse`]).
    pub raw: RawRuleSet,
}

/// A stored rule set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRecord {
    /// `val_...`.
    pub id: String,
    /// Its definition.
    pub spec: RuleSpec,
    /// How many objects it is assigned to.
    pub assignments_count: u64,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// What a rule set is assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AssignmentTarget {
    /// A voucher, by code or id.
    Voucher(String),
    /// A campaign, by id or name.
    Campaign(String),
}

/// A stored assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentRecord {
    /// `asgm_...`.
    pub id: String,
    /// The rule set's id.
    pub rule_id: String,
    /// `voucher` or `campaign`.
    pub related_type: String,
    /// The voucher's or campaign's id.
    pub related_id: String,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// An idempotency key, scoped to the endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IdempotencyKey {
    /// The `Idempotency-Key` header.
    pub key: String,
    /// The HTTP method.
    pub method: String,
    /// The request path.
    pub path: String,
}

/// A response kept for replays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// The body, byte for byte.
    pub body: Vec<u8>,
}

/// The outcome of claiming an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: process the request, then `complete` or `release`.
    Fresh,
    /// Seen before with the same request: replay this.
    Replay(StoredResponse),
}

/// Where an async action stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ActionStatus {
    /// Waiting.
    Enqueued,
    /// Running.
    InProgress,
    /// Finished.
    Done,
    /// Failed.
    Failed,
}

/// One row an import could not take.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportFailure {
    /// 1-based data row number (the header is row 0).
    pub row: u64,
    /// The code on that row, if it had one.
    pub code: Option<String>,
    /// Why.
    pub reason: String,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportReport {
    /// Rows that went in (new or updated).
    pub done_count: u64,
    /// Rows refused, with their row numbers and reasons: the first ones
    /// only (a store lists a bounded number, in row order).
    pub failed: Vec<ImportFailure>,
    /// Rows refused in all, listed or not.
    pub failed_count: u64,
}

/// A stored async action (imports, code generation, deletions).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActionRecord {
    /// `aa_...`.
    pub id: String,
    /// What it does (`IMPORT_VOUCHERS`, `CAMPAIGN_VOUCHERS_GENERATE`...).
    pub kind: String,
    /// Where it stands.
    pub status: ActionStatus,
    /// 0..=100.
    pub progress: u8,
    /// A human summary.
    pub message: Option<String>,
    /// Rows done.
    pub done_count: u64,
    /// Rows refused.
    pub failed: Vec<ImportFailure>,
    /// When created.
    pub created_at: DateTime<Utc>,
    /// When last changed.
    pub updated_at: DateTime<Utc>,
}

/// One management action, for the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Row id.
    pub id: i64,
    /// Who (a key's app id, `cli`, a user).
    pub actor: String,
    /// What (`voucher.disabled`, `voucher.balance_changed`, ...).
    pub action: String,
    /// The object's type.
    pub object_type: String,
    /// The object's id.
    pub object_id: String,
    /// Details.
    pub details: Metadata,
    /// When.
    pub created_at: DateTime<Utc>,
}

/// The sizes of the store's write batches (group commit: how many writes
/// shared one commit), for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchSizes {
    /// `counts[i]`: batches of more than `2^(i-1)` (none for `i = 0`) and
    /// at most `2^i` writes, for the bounds 1, 2, 4, ... 256
    /// ([`BatchSizes::BOUNDS`]).
    pub counts: [u64; 9],
    /// Batches of more than 256 writes.
    pub over: u64,
    /// Batches run.
    pub batches: u64,
    /// Writes run, in all batches (the sum of their sizes).
    pub writes: u64,
}

impl BatchSizes {
    /// The upper bounds of [`BatchSizes::counts`]' buckets.
    pub const BOUNDS: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];
}

/// How long purgeable rows are kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Failed redemptions of unknown codes.
    pub unknown_code_failures: Duration,
    /// Idempotency records.
    pub idempotency: Duration,
    /// Webhook events done (delivered, or given up).
    pub delivered_events: Duration,
}

impl Default for Retention {
    fn default() -> Retention {
        let day = Duration::from_secs(24 * 3600);
        Retention {
            unknown_code_failures: day * 30,
            idempotency: day,
            delivered_events: day * 7,
        }
    }
}

/// A campaign's figures.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CampaignSummary {
    /// Codes created.
    pub vouchers_created: u64,
    /// Codes published.
    pub vouchers_published: u64,
    /// Redemption attempts.
    pub redemptions_total: u64,
    /// Successful redemptions ever (rollbacks not subtracted).
    pub redemptions_succeeded: u64,
    /// Failed redemptions.
    pub redemptions_failed: u64,
    /// Failed redemptions by reason key.
    pub failed_by_reason: BTreeMap<String, u64>,
    /// Rollbacks.
    pub rollbacks: u64,
    /// Discount given ever (rollbacks not subtracted), minor units.
    pub discounted_amount_minor: i64,
    /// Discount returned by rollbacks.
    pub rolledback_discounted_amount_minor: i64,
    /// Gift credits spent, net of rollbacks.
    pub gift_spent_minor: i64,
    /// Gift balances outstanding (the liability).
    pub gift_outstanding_minor: i64,
    /// Amount of orders redeemed with a code.
    pub orders_amount_minor: i64,
    /// Amount of those orders rolled back.
    pub orders_rolledback_amount_minor: i64,
    /// Successful redemptions per UTC day.
    pub redemptions_per_day: BTreeMap<NaiveDate, u64>,
}

/// A qualification request: which of the codes this customer may know
/// apply to this order (reference §2.11).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QualificationRequest {
    /// The order.
    pub order: Order,
    /// The customer, if known (by id or source id; never upserted).
    pub customer: Option<CustomerSpec>,
    /// How the qualified codes are ordered.
    pub sorting: crate::qualification::Sorting,
    /// Most codes returned (capped at the core's limit).
    pub limit: usize,
    /// Now, as the caller's clock says.
    pub now: DateTime<Utc>,
}

/// One qualified code.
#[derive(Debug, Clone, PartialEq)]
pub struct QualifiedRecord {
    /// The voucher.
    pub voucher: VoucherRecord,
    /// What it would do.
    pub outcome: crate::decision::Outcome,
    /// The order with it applied.
    pub order: OrderState,
}

/// The result of a qualification.
#[derive(Debug, Clone, PartialEq)]
pub struct QualificationResult {
    /// The first `limit` qualified codes, in the requested order.
    pub qualified: Vec<QualifiedRecord>,
    /// How many qualified in all.
    pub total: u64,
    /// The order as given, before any code.
    pub order: OrderState,
}

/// A webhook endpoint as its author specifies it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookSpec {
    /// Where events are POSTed (`http` or `https`).
    pub url: String,
    /// The event types it receives (at least one, no repeats).
    pub events: Vec<EventType>,
    /// The HMAC-SHA256 key of the `x-voucherify-signature` header.
    pub secret: String,
}

/// A stored webhook endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookRecord {
    /// `wh_...`.
    pub id: String,
    /// The project whose events it receives.
    pub project: ProjectId,
    /// Its settings (the secret included: it signs every delivery).
    pub spec: WebhookSpec,
    /// When it was added.
    pub created_at: DateTime<Utc>,
}

/// What an event carries: the record of the object it is about, as the
/// store returned it to the caller of the change (rendered on the wire by
/// the adapter that delivers it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum EventObject {
    /// A redemption, successful or failed.
    Redemption(Box<RedemptionRecord>),
    /// A rollback.
    Rollback(Box<RollbackRecord>),
    /// A voucher (as it was just after the change; before, for a deletion).
    Voucher(Box<VoucherRecord>),
    /// A gift card's balance change, and the card after it.
    Balance {
        /// The card.
        voucher: Box<VoucherRecord>,
        /// The change.
        balance: BalanceRecord,
    },
    /// A publication.
    Publication(Box<PublicationRecord>),
    /// A campaign.
    Campaign(Box<CampaignRecord>),
}

/// An event of the outbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRecord {
    /// `evt_...`.
    pub id: String,
    /// The project it happened in.
    pub project: ProjectId,
    /// What happened.
    pub event_type: EventType,
    /// What it happened to.
    pub object: EventObject,
    /// When (the instant of the change).
    pub created_at: DateTime<Utc>,
}

/// One event to deliver to one endpoint, claimed by a delivery worker.
#[derive(Debug, Clone, PartialEq)]
pub struct DueDelivery {
    /// The delivery's id (one per event and endpoint).
    pub delivery_id: i64,
    /// The endpoint's id (`wh_...`).
    pub webhook_id: String,
    /// Where to POST.
    pub url: String,
    /// The key of the signature.
    pub secret: String,
    /// The event.
    pub event: EventRecord,
    /// Attempts already made.
    pub attempts: u32,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AttemptOutcome {
    /// The endpoint answered 2xx.
    Delivered {
        /// The HTTP status.
        status: u16,
    },
    /// The endpoint answered otherwise, or could not be reached in time.
    Failed {
        /// The HTTP status, when there was an answer.
        status: Option<u16>,
        /// What went wrong, in a few words.
        error: String,
        /// When to try again; `None`: give up.
        retry_at: Option<DateTime<Utc>>,
    },
}

/// One logged delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptRecord {
    /// The event's id (`evt_...`).
    pub event_id: String,
    /// The event's type.
    pub event_type: EventType,
    /// The attempt's number for this delivery, from 1.
    pub attempt: u32,
    /// When it started.
    pub attempted_at: DateTime<Utc>,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// What went wrong, if it failed.
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}
