//! Discounts (a value and an effect) and their application on a running
//! order, so that stacked discounts apply in sequence on what remains.
//!
//! A [`Discount`] is checked when built ([`Discount::new`]). An
//! [`OrderState`] holds the running order: per line its amount, the
//! item-level discount on it and its share of order-level discounts; and the
//! order amount with the order-level and item-level discount totals, from
//! which the wire totals follow exactly ([`Totals`], reference §2.5).
//! [`apply`] computes what a discount does to a state without changing it (a
//! validation); [`OrderState::commit`] makes it so (a redemption); stacking
//! commits each discount in turn. Gift credits are an order-level reduction
//! of the running total ([`OrderState::apply_credits`]).
//!
//! Rules (all amounts in integer minor units, checked arithmetic):
//! - Nothing goes below zero: a line's discount is at most what remains of
//!   the line, the order's at most what remains of the order.
//! - Order-level effects (`APPLY_TO_ORDER`, credits) are capped by the order's
//!   remaining total and split over the lines' remaining amounts by the
//!   allocation rule ([`crate::allocation`]); what the lines cannot hold
//!   (shipping, an order without lines) stays unallocated at order level.
//! - Item-level effects touch the targeted lines (`None`: every line). A
//!   [`LineTarget`]'s `quantity_limit` bounds the units touched: the part of a
//!   line a discount may reach is its remaining amount times
//!   `min(quantity, quantity_limit) / quantity`, floored (a `Rounding::Down`
//!   point). Its `amount_limit_minor` caps the discount of that line.
//!   `APPLY_TO_ITEMS` with `AMOUNT` takes `amount_off` once per line (not per
//!   unit: that is `APPLY_TO_ITEMS_BY_QUANTITY`), within the reachable part.
//!   If the lines' discounts together exceed what remains of the order (an
//!   order amount below the sum of its lines), they are scaled down to it by
//!   the allocation rule.
//! - `PERCENT` rounds half away from zero: once for the order, once per line
//!   for items; an `amount_limit` then caps the order's discount, or the sum
//!   of the lines' (spread over them by the allocation rule).
//! - `UNIT` ignores the targets: it names its product. A line matches when
//!   its SKU id equals the discount's SKU id, or, if the discount names no
//!   SKU, when its product id equals the discount's; the first matching line
//!   is used. Added free units go onto that line (or a new line at the end)
//!   and raise the line's quantity and amount, the order amount and the
//!   item-level discount by the same amount, so the customer pays the same.

use std::fmt;

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::allocation::{allocate_capped, AllocationError};
use crate::limits::{ID_LEN_MAX, ITEMS_PER_ORDER_MAX, ITEM_QUANTITY_MAX, RUNNING_ORDER_LINES_MAX};
use crate::money::{minor_max, Currency, Money, MoneyError, Rounding};
use crate::order::{CheckedOrder, LineTarget, OrderError};

/// How a discount is applied to an order. Wire names in
/// SCREAMING_SNAKE_CASE (`APPLY_TO_ITEMS_PROPORTIONALLY`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Effect {
    /// The discount applies to the order's total.
    ApplyToOrder,
    /// Each targeted line gets the full discount (AMOUNT: `amount_off` per
    /// line; PERCENT: `percent_off` of each line; FIXED: each unit's price
    /// set to `fixed_amount`).
    ApplyToItems,
    /// One `amount_off` split over the targeted lines by amount.
    ApplyToItemsProportionally,
    /// One `amount_off` split over the targeted lines by quantity.
    ApplyToItemsProportionallyByQuantity,
    /// `amount_off` per targeted unit.
    ApplyToItemsByQuantity,
    /// Free units of a product, added only as far as the order lacks them.
    AddMissingItems,
    /// Free units of a product, always added.
    AddNewItems,
}

impl Effect {
    /// Every effect, in declaration order.
    pub const ALL: [Effect; 7] = [
        Effect::ApplyToOrder,
        Effect::ApplyToItems,
        Effect::ApplyToItemsProportionally,
        Effect::ApplyToItemsProportionallyByQuantity,
        Effect::ApplyToItemsByQuantity,
        Effect::AddMissingItems,
        Effect::AddNewItems,
    ];

    /// The wire name, e.g. `APPLY_TO_ORDER`.
    pub fn wire_name(self) -> &'static str {
        match self {
            Effect::ApplyToOrder => "APPLY_TO_ORDER",
            Effect::ApplyToItems => "APPLY_TO_ITEMS",
            Effect::ApplyToItemsProportionally => "APPLY_TO_ITEMS_PROPORTIONALLY",
            Effect::ApplyToItemsProportionallyByQuantity => {
                "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY"
            }
            Effect::ApplyToItemsByQuantity => "APPLY_TO_ITEMS_BY_QUANTITY",
            Effect::AddMissingItems => "ADD_MISSING_ITEMS",
            Effect::AddNewItems => "ADD_NEW_ITEMS",
        }
    }

    /// Whether the effect discounts the order or its lines.
    pub fn level(self) -> DiscountLevel {
        match self {
            Effect::ApplyToOrder => DiscountLevel::Order,
            _ => DiscountLevel::Items,
        }
    }
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// The type of a discount. Wire names `AMOUNT`, `PERCENT`, `FIXED`, `UNIT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DiscountKind {
    /// An amount off.
    Amount,
    /// A percentage off.
    Percent,
    /// A new, fixed price.
    Fixed,
    /// Free units of a product.
    Unit,
}

impl DiscountKind {
    /// The wire name, e.g. `PERCENT`.
    pub fn wire_name(self) -> &'static str {
        match self {
            DiscountKind::Amount => "AMOUNT",
            DiscountKind::Percent => "PERCENT",
            DiscountKind::Fixed => "FIXED",
            DiscountKind::Unit => "UNIT",
        }
    }

    /// The effects a discount of this kind may have.
    pub fn effects(self) -> &'static [Effect] {
        match self {
            DiscountKind::Amount => &[
                Effect::ApplyToOrder,
                Effect::ApplyToItems,
                Effect::ApplyToItemsProportionally,
                Effect::ApplyToItemsProportionallyByQuantity,
                Effect::ApplyToItemsByQuantity,
            ],
            DiscountKind::Percent | DiscountKind::Fixed => {
                &[Effect::ApplyToOrder, Effect::ApplyToItems]
            }
            DiscountKind::Unit => &[Effect::AddMissingItems, Effect::AddNewItems],
        }
    }
}

impl fmt::Display for DiscountKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.wire_name())
    }
}

/// Whether a discount reduces the order (wire `discount_amount`) or its
/// lines (wire `items_discount_amount`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DiscountLevel {
    /// Order-level: `APPLY_TO_ORDER` and gift credits.
    Order,
    /// Item-level: every other effect.
    Items,
}

/// Whether the validation rules define included or excluded products, which
/// decides the default effect of AMOUNT and PERCENT discounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemTargets {
    /// The rules name no products: the discount is for the order.
    Undefined,
    /// The rules include or exclude products.
    Defined,
}

/// The product a UNIT discount gives away: a product id, a SKU id, or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnitProduct {
    product_id: Option<String>,
    sku_id: Option<String>,
}

impl UnitProduct {
    /// A product by product id and/or SKU id; at least one is needed.
    pub fn new(
        product_id: Option<String>,
        sku_id: Option<String>,
    ) -> Result<UnitProduct, DiscountError> {
        let product = UnitProduct { product_id, sku_id };
        product.check()?;
        Ok(product)
    }

    /// The product's id, if given.
    pub fn product_id(&self) -> Option<&str> {
        self.product_id.as_deref()
    }

    /// The SKU's id, if given.
    pub fn sku_id(&self) -> Option<&str> {
        self.sku_id.as_deref()
    }

    fn check(&self) -> Result<(), DiscountError> {
        if self.product_id.is_none() && self.sku_id.is_none() {
            return Err(DiscountError::MissingUnitProduct);
        }
        let too_long = |id: &Option<String>| id.as_ref().is_some_and(|id| id.len() > ID_LEN_MAX);
        if too_long(&self.product_id) || too_long(&self.sku_id) {
            return Err(DiscountError::IdTooLong);
        }
        Ok(())
    }

    /// A SKU id decides alone; otherwise the product id.
    fn matches(&self, line: &LineState) -> bool {
        match (&self.sku_id, &self.product_id) {
            (Some(sku), _) => line.sku_id() == Some(sku.as_str()),
            (None, Some(product)) => line.product_id() == Some(product.as_str()),
            (None, None) => false,
        }
    }
}

/// What a discount is worth, by type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DiscountValue {
    /// An amount off.
    Amount {
        /// The amount off.
        amount_off: Money,
    },
    /// A percentage off, optionally capped.
    Percent {
        /// Percent off, 0 to 100.
        percent_off: Decimal,
        /// Most the discount may be worth.
        amount_limit: Option<Money>,
    },
    /// A new price: of the order, or of each targeted unit.
    Fixed {
        /// The new price.
        fixed_amount: Money,
    },
    /// Free units of a product.
    Unit {
        /// Units given free, 1 to [`ITEM_QUANTITY_MAX`].
        unit_off: u64,
        /// The product given.
        product: UnitProduct,
        /// The unit price when the order has no line of the product.
        price: Option<Money>,
    },
}

impl DiscountValue {
    /// The type of the discount.
    pub fn kind(&self) -> DiscountKind {
        match self {
            DiscountValue::Amount { .. } => DiscountKind::Amount,
            DiscountValue::Percent { .. } => DiscountKind::Percent,
            DiscountValue::Fixed { .. } => DiscountKind::Fixed,
            DiscountValue::Unit { .. } => DiscountKind::Unit,
        }
    }

    /// The amount of money in the value, if any (each type has at most one).
    fn money(&self) -> Option<&Money> {
        match self {
            DiscountValue::Amount { amount_off } => Some(amount_off),
            DiscountValue::Percent { amount_limit, .. } => amount_limit.as_ref(),
            DiscountValue::Fixed { fixed_amount } => Some(fixed_amount),
            DiscountValue::Unit { price, .. } => price.as_ref(),
        }
    }
}

/// The effect a discount has when none is given (reference §2.1): AMOUNT and
/// PERCENT apply to the items when the rules define products, else to the
/// order; UNIT adds missing items; FIXED applies to the order.
pub fn default_effect(value: &DiscountValue, targets: ItemTargets) -> Effect {
    match (value.kind(), targets) {
        (DiscountKind::Amount | DiscountKind::Percent, ItemTargets::Defined) => {
            Effect::ApplyToItems
        }
        (DiscountKind::Amount | DiscountKind::Percent | DiscountKind::Fixed, _) => {
            Effect::ApplyToOrder
        }
        (DiscountKind::Unit, _) => Effect::AddMissingItems,
    }
}

/// A checked discount: a value and an effect that suits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "DiscountParts")]
pub struct Discount {
    value: DiscountValue,
    effect: Effect,
}

/// The unchecked form that [`Discount`] deserializes through.
#[derive(Deserialize)]
struct DiscountParts {
    value: DiscountValue,
    effect: Effect,
}

impl TryFrom<DiscountParts> for Discount {
    type Error = DiscountError;
    fn try_from(parts: DiscountParts) -> Result<Discount, DiscountError> {
        Discount::new(parts.value, parts.effect)
    }
}

impl Discount {
    /// Checks the value (amounts non-negative and exact to the minor unit,
    /// percent within 0..=100, unit_off within 1..=[`ITEM_QUANTITY_MAX`], a
    /// unit product named) and that the effect suits the type.
    pub fn new(value: DiscountValue, effect: Effect) -> Result<Discount, DiscountError> {
        if let Some(money) = value.money() {
            check_money(money)?;
        }
        match &value {
            DiscountValue::Percent { percent_off, .. } => {
                if *percent_off < Decimal::ZERO || *percent_off > Decimal::ONE_HUNDRED {
                    return Err(DiscountError::PercentOutOfRange);
                }
            }
            DiscountValue::Unit {
                unit_off, product, ..
            } => {
                if *unit_off == 0 || *unit_off > ITEM_QUANTITY_MAX {
                    return Err(DiscountError::InvalidUnitOff);
                }
                product.check()?;
            }
            DiscountValue::Amount { .. } | DiscountValue::Fixed { .. } => {}
        }
        let kind = value.kind();
        if !kind.effects().contains(&effect) {
            return Err(DiscountError::EffectNotAllowed { kind, effect });
        }
        Ok(Discount { value, effect })
    }

    /// A discount with the default effect for its type ([`default_effect`]).
    pub fn with_default_effect(
        value: DiscountValue,
        targets: ItemTargets,
    ) -> Result<Discount, DiscountError> {
        let effect = default_effect(&value, targets);
        Discount::new(value, effect)
    }

    /// The value.
    pub fn value(&self) -> &DiscountValue {
        &self.value
    }

    /// The effect.
    pub fn effect(&self) -> Effect {
        self.effect
    }
}

fn check_money(money: &Money) -> Result<i64, DiscountError> {
    if money.is_negative() {
        return Err(DiscountError::NegativeValue);
    }
    money.to_minor().map_err(DiscountError::from)
}

/// Why a discount could not be built or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscountError {
    /// An amount, price or limit is below zero.
    #[error("negative discount value")]
    NegativeValue,
    /// `percent_off` is outside 0..=100.
    #[error("percent off outside 0 to 100")]
    PercentOutOfRange,
    /// `unit_off` is zero or above [`ITEM_QUANTITY_MAX`].
    #[error("unit off outside 1 to {ITEM_QUANTITY_MAX}")]
    InvalidUnitOff,
    /// A UNIT discount names neither a product nor a SKU.
    #[error("unit discount names no product or sku")]
    MissingUnitProduct,
    /// An identifier longer than [`ID_LEN_MAX`].
    #[error("identifier too long")]
    IdTooLong,
    /// The effect does not exist for the discount's type.
    #[error("effect {effect} does not apply to {kind} discounts")]
    EffectNotAllowed {
        /// The discount's type.
        kind: DiscountKind,
        /// The effect asked for.
        effect: Effect,
    },
    /// An amount is too precise for its currency.
    #[error("invalid amount: {0}")]
    InvalidAmount(MoneyError),
    /// The discount's money is in another currency than the order's.
    #[error("discount currency {found} differs from the order currency {expected}")]
    CurrencyMismatch {
        /// The order's currency.
        expected: Currency,
        /// The discount's currency.
        found: Currency,
    },
    /// The order is not acceptable input (wire key `invalid_order`).
    #[error("invalid order: {0}")]
    InvalidOrder(#[from] OrderError),
    /// The discount needs an order amount and the order has none (wire key
    /// `missing_amount`).
    #[error("order amount missing")]
    MissingAmount,
    /// An item effect on an order without lines (wire key
    /// `missing_order_items`).
    #[error("order items missing")]
    MissingOrderItems,
    /// A UNIT discount for a product that is not in the order and has no
    /// price.
    #[error("no price for the free units")]
    MissingUnitPrice,
    /// A target names a line the order does not have.
    #[error("target line {line} not in the order")]
    TargetOutOfRange {
        /// The line named.
        line: usize,
    },
    /// Two targets name the same line.
    #[error("line {line} targeted twice")]
    DuplicateTarget {
        /// The line named.
        line: usize,
    },
    /// A target's amount limit is below zero.
    #[error("negative amount limit on line {line}")]
    NegativeTargetLimit {
        /// The line named.
        line: usize,
    },
    /// Adding a line would pass [`RUNNING_ORDER_LINES_MAX`].
    #[error("too many order lines")]
    TooManyLines,
    /// An amount or quantity left the engine's range.
    #[error("amount out of range")]
    Overflow,
    /// Splitting the discount failed.
    #[error("allocation failed: {0}")]
    Allocation(#[from] AllocationError),
    /// [`OrderState::commit`] was given an [`Applied`] computed on another
    /// state (or on this one before a later commit).
    #[error("applied discount computed on another order state")]
    StaleApplied,
}

impl DiscountError {
    /// The wire's `failure_code` for errors that are the order's fault.
    pub fn key(&self) -> Option<&'static str> {
        match self {
            DiscountError::MissingAmount => Some("missing_amount"),
            DiscountError::MissingOrderItems => Some("missing_order_items"),
            DiscountError::InvalidOrder(_) => Some("invalid_order"),
            _ => None,
        }
    }
}

impl From<MoneyError> for DiscountError {
    fn from(e: MoneyError) -> DiscountError {
        match e {
            MoneyError::CurrencyMismatch { expected, found } => {
                DiscountError::CurrencyMismatch { expected, found }
            }
            MoneyError::Overflow => DiscountError::Overflow,
            other => DiscountError::InvalidAmount(other),
        }
    }
}

/// The order totals in minor units, named after their wire fields (§2.5).
/// `total_discount_amount_minor = discount_amount_minor +
/// items_discount_amount_minor` and `total_amount_minor = amount_minor -
/// total_discount_amount_minor`, always.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// The order amount, free units added by UNIT discounts included (0 for
    /// an order without an amount).
    pub amount_minor: i64,
    /// Order-level discounts, gift credits included (`discount_amount`).
    pub discount_amount_minor: i64,
    /// The sum of the lines' item-level discounts (`items_discount_amount`).
    pub items_discount_amount_minor: i64,
    /// Both (`total_discount_amount`).
    pub total_discount_amount_minor: i64,
    /// What the customer pays (`total_amount`).
    pub total_amount_minor: i64,
}

impl Totals {
    fn new(amount: i64, discount: i64, items_discount: i64) -> Result<Totals, DiscountError> {
        let total_discount = add(discount, items_discount)?;
        Ok(Totals {
            amount_minor: amount,
            discount_amount_minor: discount,
            items_discount_amount_minor: items_discount,
            total_discount_amount_minor: total_discount,
            total_amount_minor: sub(amount, total_discount)?,
        })
    }
}

/// Longest identifier a [`LineId`] keeps inline.
const LINE_ID_INLINE_MAX: usize = 23;

/// A line's product or SKU id. Short ids (most are) are kept inline, so
/// that building a running order from a checked one, which borrows the
/// caller's strings, allocates nothing for them; longer ones on the heap.
/// The variant follows from the length alone, so the derived equality is
/// the equality of the strings.
#[derive(Clone, PartialEq, Eq)]
enum LineId {
    /// `bytes[..len]` is the id, the rest zeros.
    Inline {
        len: u8,
        bytes: [u8; LINE_ID_INLINE_MAX],
    },
    Heap(Box<str>),
}

impl LineId {
    fn new(id: &str) -> LineId {
        let mut bytes = [0_u8; LINE_ID_INLINE_MAX];
        match (bytes.get_mut(..id.len()), u8::try_from(id.len())) {
            (Some(head), Ok(len)) => {
                head.copy_from_slice(id.as_bytes());
                LineId::Inline { len, bytes }
            }
            _ => LineId::Heap(id.into()),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            LineId::Inline { len, bytes } => {
                let head = bytes.get(..usize::from(*len)).unwrap_or_default();
                // The bytes are a copy of a whole `str`.
                let text = std::str::from_utf8(head);
                debug_assert!(text.is_ok(), "an inline id is a copied str");
                text.unwrap_or_default()
            }
            LineId::Heap(id) => id,
        }
    }
}

impl fmt::Debug for LineId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// One line of a running order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineState {
    product_id: Option<LineId>,
    sku_id: Option<LineId>,
    source_index: Option<usize>,
    initial_quantity: u64,
    quantity: u64,
    price_minor: Option<i64>,
    amount_minor: i64,
    discount_minor: i64,
    order_share_minor: i64,
}

impl LineState {
    /// The product's id, if known.
    pub fn product_id(&self) -> Option<&str> {
        self.product_id.as_ref().map(LineId::as_str)
    }

    /// The SKU's id, if known.
    pub fn sku_id(&self) -> Option<&str> {
        self.sku_id.as_ref().map(LineId::as_str)
    }

    /// Index of the line in the caller's order; `None` for a line added by
    /// a UNIT discount.
    pub fn source_index(&self) -> Option<usize> {
        self.source_index
    }

    /// Units in the caller's order (wire `initial_quantity`); 0 for an added
    /// line.
    pub fn initial_quantity(&self) -> u64 {
        self.initial_quantity
    }

    /// Units now, free units included (wire `quantity`).
    pub fn quantity(&self) -> u64 {
        self.quantity
    }

    /// Free units added by UNIT discounts.
    pub fn added_quantity(&self) -> u64 {
        self.quantity.saturating_sub(self.initial_quantity)
    }

    /// Price of one unit, if known.
    pub fn price_minor(&self) -> Option<i64> {
        self.price_minor
    }

    /// The line's amount, free units included (wire `amount`).
    pub fn amount_minor(&self) -> i64 {
        self.amount_minor
    }

    /// Item-level discounts on the line (wire `discount_amount`).
    pub fn discount_amount_minor(&self) -> i64 {
        self.discount_minor
    }

    /// The line's share of order-level discounts (not in its wire
    /// `discount_amount`, which is item-level only).
    pub fn order_discount_share_minor(&self) -> i64 {
        self.order_share_minor
    }

    /// `amount - discount_amount` (wire `subtotal_amount`).
    pub fn subtotal_amount_minor(&self) -> i64 {
        self.amount_minor - self.discount_minor
    }

    /// What later discounts may still take from the line: its amount less
    /// both its item-level discounts and its share of order-level ones.
    pub fn remaining_minor(&self) -> i64 {
        self.amount_minor - self.discount_minor - self.order_share_minor
    }

    /// The unit price: given, or the amount over the quantity when exact.
    fn unit_price_minor(&self) -> Option<i64> {
        self.price_minor.or_else(|| {
            let quantity = i64::try_from(self.quantity).ok()?;
            (quantity > 0 && self.amount_minor % quantity == 0)
                .then(|| self.amount_minor / quantity)
        })
    }
}

/// Units given free by a UNIT discount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddedUnits {
    /// The line that receives them (after the commit).
    pub line: usize,
    /// Units added to the order (0 when ADD_MISSING_ITEMS found enough).
    pub units: u64,
    /// Units discounted (`unit_off`).
    pub discounted_units: u64,
    /// The unit price used.
    pub price_minor: i64,
    /// Whether the units go onto an existing line or a new one.
    pub placement: Placement,
}

/// Where free units go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Placement {
    /// Onto the order's line of the product.
    ExistingLine,
    /// Onto a new line at the end of the order.
    NewLine,
}

/// What a discount does to an [`OrderState`], computed by [`apply`] or
/// [`OrderState::apply_credits`]; [`OrderState::commit`] makes it so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    level: DiscountLevel,
    discount_minor: i64,
    lines: Vec<i64>,
    unallocated_minor: i64,
    added: Option<AddedUnits>,
    new_line: Option<LineState>,
    totals: Totals,
    basis: Basis,
}

/// The state an [`Applied`] was computed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Basis {
    revision: u64,
    line_count: usize,
    totals: Totals,
}

impl Applied {
    /// Order-level or item-level.
    pub fn level(&self) -> DiscountLevel {
        self.level
    }

    /// The discount, in minor units (wire `applied_discount_amount` for an
    /// order-level discount, `items_applied_discount_amount` for items).
    pub fn discount_minor(&self) -> i64 {
        self.discount_minor
    }

    /// The discount per line, one entry per line of the state after the
    /// commit (a line added by a UNIT discount comes last). With
    /// [`Applied::unallocated_minor`] they sum to the discount.
    pub fn lines(&self) -> &[i64] {
        &self.lines
    }

    /// The part of an order-level discount that no line could hold (zero for
    /// item-level discounts).
    pub fn unallocated_minor(&self) -> i64 {
        self.unallocated_minor
    }

    /// Free units added, for UNIT discounts.
    pub fn added(&self) -> Option<&AddedUnits> {
        self.added.as_ref()
    }

    /// The order totals after the commit.
    pub fn totals(&self) -> Totals {
        self.totals
    }
}

/// A running order: the amounts left after the discounts committed so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderState {
    currency: Currency,
    amount_minor: Option<i64>,
    lines: Vec<LineState>,
    discount_minor: i64,
    unallocated_minor: i64,
    items_discount_minor: i64,
    revision: u64,
}

impl OrderState {
    /// The running order of a checked order, before any discount. Re-checks
    /// what [`crate::order::Order::check`] promises (the fields are public):
    /// line count, quantities, non-negative amounts within range. An order
    /// with lines and no amount takes the sum of the lines.
    pub fn new(order: CheckedOrder<'_>) -> Result<OrderState, DiscountError> {
        OrderState::of(&order)
    }

    /// [`OrderState::new`] without taking the checked order, which a
    /// decision still needs for its rules.
    pub(crate) fn of(order: &CheckedOrder<'_>) -> Result<OrderState, DiscountError> {
        let currency = order.currency;
        if order.lines.len() > ITEMS_PER_ORDER_MAX {
            return Err(OrderError::TooManyItems.into());
        }
        // The range of `Money::from_minor`, as one integer comparison.
        let max = minor_max(currency);
        let in_range = |minor: i64| -> Result<i64, DiscountError> {
            if minor < 0 {
                return Err(OrderError::NegativeAmount.into());
            }
            if minor.unsigned_abs() > max {
                return Err(OrderError::from(MoneyError::Overflow).into());
            }
            Ok(minor)
        };
        let mut lines = Vec::with_capacity(order.lines.len());
        let mut lines_sum: i64 = 0;
        for (index, line) in order.lines.iter().enumerate() {
            if line.quantity == 0 || line.quantity > ITEM_QUANTITY_MAX {
                return Err(OrderError::InvalidQuantity { line: index }.into());
            }
            let amount = in_range(line.amount_minor)?;
            let price = line.price_minor.map(in_range).transpose()?;
            lines_sum = in_range(add(lines_sum, amount)?)?;
            lines.push(LineState {
                product_id: line.product_id.as_deref().map(LineId::new),
                sku_id: line.sku_id.as_deref().map(LineId::new),
                source_index: line.source_index,
                initial_quantity: line.quantity,
                quantity: line.quantity,
                price_minor: price,
                amount_minor: amount,
                discount_minor: 0,
                order_share_minor: 0,
            });
        }
        let amount_minor = match order.amount_minor {
            Some(amount) => Some(in_range(amount)?),
            None if lines.is_empty() => None,
            None => Some(lines_sum),
        };
        Ok(OrderState {
            currency,
            amount_minor,
            lines,
            discount_minor: 0,
            unallocated_minor: 0,
            items_discount_minor: 0,
            revision: 0,
        })
    }

    /// The order's currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The order amount, free units included; `None` for an order without
    /// lines or amount.
    pub fn amount_minor(&self) -> Option<i64> {
        self.amount_minor
    }

    /// The lines, added ones last.
    pub fn lines(&self) -> &[LineState] {
        &self.lines
    }

    /// The order-level discount that no line holds (shipping, no lines).
    pub fn unallocated_minor(&self) -> i64 {
        self.unallocated_minor
    }

    /// What remains to pay (`total_amount`), if the order has an amount.
    pub fn remaining_minor(&self) -> Option<i64> {
        self.amount_minor
            .map(|amount| amount - self.discount_minor - self.items_discount_minor)
    }

    /// The current totals.
    pub fn totals(&self) -> Totals {
        let amount = self.amount_minor.unwrap_or(0);
        // Cannot fail: the invariants keep every sum within the amount.
        Totals::new(amount, self.discount_minor, self.items_discount_minor).unwrap_or_default()
    }

    /// Gift credits (or any order-level reduction) spent on the running
    /// total: at most what remains, split over the lines like an order-level
    /// discount; they count in `discount_amount`.
    pub fn apply_credits(&self, credits_minor: i64) -> Result<Applied, DiscountError> {
        if credits_minor < 0 {
            return Err(DiscountError::NegativeValue);
        }
        let remaining = self.require_remaining()?;
        self.order_level(credits_minor.min(remaining))
    }

    /// Makes `applied` part of the state. Refuses, changing nothing, an
    /// [`Applied`] computed on another state or before a later commit.
    pub fn commit(&mut self, applied: &Applied) -> Result<(), DiscountError> {
        if applied.basis != self.basis() {
            return Err(DiscountError::StaleApplied);
        }
        let new_lines = usize::from(applied.new_line.is_some());
        if applied.lines.len() != self.lines.len() + new_lines {
            return Err(DiscountError::StaleApplied);
        }
        // Check every change first, so that a refusal leaves the state whole.
        let added_to = |index: usize| {
            applied
                .added
                .filter(|a| a.placement == Placement::ExistingLine && a.line == index)
        };
        let mut updated = Vec::with_capacity(self.lines.len());
        for (index, (line, share)) in self.lines.iter().zip(&applied.lines).enumerate() {
            let (quantity, amount) = match added_to(index) {
                Some(added) => (
                    line.quantity
                        .checked_add(added.units)
                        .ok_or(DiscountError::Overflow)?,
                    add(line.amount_minor, mul(added.price_minor, added.units)?)?,
                ),
                None => (line.quantity, line.amount_minor),
            };
            let remaining = sub(sub(amount, line.discount_minor)?, line.order_share_minor)?;
            if *share < 0 || *share > remaining {
                return Err(DiscountError::StaleApplied);
            }
            let (discount, order_share) = match applied.level {
                DiscountLevel::Order => (line.discount_minor, add(line.order_share_minor, *share)?),
                DiscountLevel::Items => (add(line.discount_minor, *share)?, line.order_share_minor),
            };
            updated.push((quantity, amount, discount, order_share));
        }
        let new_line = match &applied.new_line {
            Some(line) => {
                let share = applied.lines.last().copied().unwrap_or(0);
                if share < 0 || share > line.amount_minor {
                    return Err(DiscountError::StaleApplied);
                }
                Some(LineState {
                    discount_minor: share,
                    ..line.clone()
                })
            }
            None => None,
        };
        let added_amount = match applied.added {
            Some(added) => mul(added.price_minor, added.units)?,
            None => 0,
        };
        let amount = match (self.amount_minor, applied.added) {
            (Some(amount), _) => Some(add(amount, added_amount)?),
            (None, Some(_)) => Some(added_amount),
            (None, None) => None,
        };
        let (discount, unallocated, items_discount) = match applied.level {
            DiscountLevel::Order => (
                add(self.discount_minor, applied.discount_minor)?,
                add(self.unallocated_minor, applied.unallocated_minor)?,
                self.items_discount_minor,
            ),
            DiscountLevel::Items => (
                self.discount_minor,
                self.unallocated_minor,
                add(self.items_discount_minor, applied.discount_minor)?,
            ),
        };
        let totals = Totals::new(amount.unwrap_or(0), discount, items_discount)?;
        if totals != applied.totals || totals.total_amount_minor < 0 {
            return Err(DiscountError::StaleApplied);
        }
        let revision = self
            .revision
            .checked_add(1)
            .ok_or(DiscountError::Overflow)?;

        // Nothing below can fail.
        for (line, (quantity, amount, discount, order_share)) in self.lines.iter_mut().zip(updated)
        {
            line.quantity = quantity;
            line.amount_minor = amount;
            line.discount_minor = discount;
            line.order_share_minor = order_share;
        }
        if let Some(line) = new_line {
            self.lines.push(line);
        }
        self.amount_minor = amount;
        self.discount_minor = discount;
        self.unallocated_minor = unallocated;
        self.items_discount_minor = items_discount;
        self.revision = revision;
        self.check_invariants();
        Ok(())
    }

    /// Pair assertions: the totals equal the fold of the lines.
    fn check_invariants(&self) {
        let items: i128 = self
            .lines
            .iter()
            .map(|l| i128::from(l.discount_minor))
            .sum();
        assert_eq!(
            items,
            i128::from(self.items_discount_minor),
            "items discount is the sum of the lines"
        );
        let shares: i128 = self
            .lines
            .iter()
            .map(|l| i128::from(l.order_share_minor))
            .sum();
        assert_eq!(
            shares + i128::from(self.unallocated_minor),
            i128::from(self.discount_minor),
            "order discount is the lines' shares plus the unallocated part"
        );
        assert!(
            self.lines.iter().all(|l| l.remaining_minor() >= 0),
            "no line below zero"
        );
        assert!(
            self.remaining_minor().is_none_or(|r| r >= 0),
            "order not below zero"
        );
    }

    fn basis(&self) -> Basis {
        Basis {
            revision: self.revision,
            line_count: self.lines.len(),
            totals: self.totals(),
        }
    }

    fn require_remaining(&self) -> Result<i64, DiscountError> {
        self.remaining_minor().ok_or(DiscountError::MissingAmount)
    }

    /// An order-level discount of `discount` (already capped by what
    /// remains), split over the lines' remaining amounts.
    fn order_level(&self, discount: i64) -> Result<Applied, DiscountError> {
        let remaining: Vec<i64> = self.lines.iter().map(LineState::remaining_minor).collect();
        let allocation = allocate_capped(discount, &remaining, &remaining)?;
        let totals = Totals::new(
            self.amount_minor.unwrap_or(0),
            add(self.discount_minor, discount)?,
            self.items_discount_minor,
        )?;
        Ok(Applied {
            level: DiscountLevel::Order,
            discount_minor: discount,
            unallocated_minor: allocation.unplaced(),
            lines: allocation.into_shares(),
            added: None,
            new_line: None,
            totals,
            basis: self.basis(),
        })
    }

    /// An item-level discount given per line (each within the line's
    /// remaining amount), scaled down to what remains of the order if the
    /// lines together exceed it.
    fn items_level(&self, mut per_line: Vec<i64>) -> Result<Applied, DiscountError> {
        debug_assert_eq!(per_line.len(), self.lines.len());
        let remaining = self.require_remaining()?;
        let mut discount = sum(&per_line)?;
        if discount > remaining {
            per_line = allocate_capped(remaining, &per_line, &per_line)?.into_shares();
            discount = remaining;
        }
        let totals = Totals::new(
            self.amount_minor.unwrap_or(0),
            self.discount_minor,
            add(self.items_discount_minor, discount)?,
        )?;
        Ok(Applied {
            level: DiscountLevel::Items,
            discount_minor: discount,
            lines: per_line,
            unallocated_minor: 0,
            added: None,
            new_line: None,
            totals,
            basis: self.basis(),
        })
    }

    /// The lines an item effect touches, with what it may take from each.
    fn reach(&self, targets: Option<&[LineTarget]>) -> Result<Vec<Reach>, DiscountError> {
        if self.lines.is_empty() {
            return Err(DiscountError::MissingOrderItems);
        }
        let everything: Vec<LineTarget>;
        let targets = match targets {
            Some(targets) => targets,
            None => {
                everything = (0..self.lines.len())
                    .map(|line| LineTarget {
                        line,
                        quantity_limit: None,
                        amount_limit_minor: None,
                    })
                    .collect();
                &everything
            }
        };
        let mut seen = vec![false; self.lines.len()];
        let mut reach = Vec::with_capacity(targets.len().min(self.lines.len()));
        // Bounded: a list longer than the lines has a duplicate or a stray
        // index, which ends the loop by the line count plus one.
        for target in targets {
            let line = self
                .lines
                .get(target.line)
                .ok_or(DiscountError::TargetOutOfRange { line: target.line })?;
            let seen_before = seen
                .get_mut(target.line)
                .ok_or(DiscountError::TargetOutOfRange { line: target.line })?;
            if *seen_before {
                return Err(DiscountError::DuplicateTarget { line: target.line });
            }
            *seen_before = true;
            let units = target
                .quantity_limit
                .map_or(line.quantity, |limit| limit.min(line.quantity));
            // Rounding point: the part of the line that the touched units
            // carry, floored so a discount never reaches untouched units.
            let base = mul_div(line.remaining_minor(), units, line.quantity, Rounding::Down)?;
            let cap = match target.amount_limit_minor {
                Some(limit) if limit < 0 => {
                    return Err(DiscountError::NegativeTargetLimit { line: target.line })
                }
                Some(limit) => base.min(limit),
                None => base,
            };
            reach.push(Reach {
                line: target.line,
                units,
                base,
                cap,
            });
        }
        Ok(reach)
    }

    /// Per-line discounts from a function of each reached line.
    fn per_line(
        &self,
        reach: &[Reach],
        mut discount_of: impl FnMut(&Reach) -> Result<i64, DiscountError>,
    ) -> Result<Vec<i64>, DiscountError> {
        let mut per_line = vec![0_i64; self.lines.len()];
        for r in reach {
            let discount = discount_of(r)?.max(0).min(r.cap);
            if let Some(slot) = per_line.get_mut(r.line) {
                *slot = discount;
            }
        }
        Ok(per_line)
    }

    /// One amount split over the reached lines by `weight`, each within its
    /// cap; what no line can hold is not given.
    fn proportional(
        &self,
        amount: i64,
        reach: &[Reach],
        weight: impl Fn(&Reach) -> Result<i64, DiscountError>,
    ) -> Result<Vec<i64>, DiscountError> {
        let weights = reach.iter().map(weight).collect::<Result<Vec<_>, _>>()?;
        let caps: Vec<i64> = reach.iter().map(|r| r.cap).collect();
        let allocation = allocate_capped(amount, &weights, &caps)?;
        let mut per_line = vec![0_i64; self.lines.len()];
        for (r, share) in reach.iter().zip(allocation.shares()) {
            if let Some(slot) = per_line.get_mut(r.line) {
                *slot = *share;
            }
        }
        Ok(per_line)
    }

    fn unit(
        &self,
        unit_off: u64,
        product: &UnitProduct,
        price: Option<&Money>,
        effect: Effect,
    ) -> Result<Applied, DiscountError> {
        let found = self.lines.iter().position(|line| product.matches(line));
        let line = found.and_then(|index| self.lines.get(index));
        let price_minor = match (line.and_then(LineState::unit_price_minor), price) {
            (Some(price), _) => price,
            (None, Some(price)) => price.to_minor()?,
            (None, None) => return Err(DiscountError::MissingUnitPrice),
        };
        let present = line.map_or(0, |line| line.quantity);
        let units = match effect {
            Effect::AddMissingItems => unit_off.saturating_sub(present),
            _ => unit_off,
        };
        if present
            .checked_add(units)
            .is_none_or(|q| q > ITEM_QUANTITY_MAX)
        {
            return Err(DiscountError::Overflow);
        }
        let added_amount = mul(price_minor, units)?;
        let line_remaining = add(line.map_or(0, LineState::remaining_minor), added_amount)?;
        let order_remaining = add(self.remaining_minor().unwrap_or(0), added_amount)?;
        let discount = mul(price_minor, unit_off)?
            .min(line_remaining)
            .min(order_remaining);
        let amount = add(self.amount_minor.unwrap_or(0), added_amount)?;
        // Both the order and the line stay within the engine's range.
        Money::from_minor(amount, self.currency)?;
        Money::from_minor(
            add(line.map_or(0, |l| l.amount_minor), added_amount)?,
            self.currency,
        )?;
        let (index, placement, new_line) = match found {
            Some(index) => (index, Placement::ExistingLine, None),
            None => {
                if self.lines.len() >= RUNNING_ORDER_LINES_MAX {
                    return Err(DiscountError::TooManyLines);
                }
                let new_line = LineState {
                    product_id: product.product_id.as_deref().map(LineId::new),
                    sku_id: product.sku_id.as_deref().map(LineId::new),
                    source_index: None,
                    initial_quantity: 0,
                    quantity: units,
                    price_minor: Some(price_minor),
                    amount_minor: added_amount,
                    discount_minor: 0,
                    order_share_minor: 0,
                };
                (self.lines.len(), Placement::NewLine, Some(new_line))
            }
        };
        let mut lines = vec![0_i64; self.lines.len() + usize::from(new_line.is_some())];
        if let Some(slot) = lines.get_mut(index) {
            *slot = discount;
        }
        let totals = Totals::new(
            amount,
            self.discount_minor,
            add(self.items_discount_minor, discount)?,
        )?;
        Ok(Applied {
            level: DiscountLevel::Items,
            discount_minor: discount,
            lines,
            unallocated_minor: 0,
            added: Some(AddedUnits {
                line: index,
                units,
                discounted_units: unit_off,
                price_minor,
                placement,
            }),
            new_line,
            totals,
            basis: self.basis(),
        })
    }
}

/// A line an item effect reaches.
#[derive(Debug, Clone, Copy)]
struct Reach {
    /// Index of the line.
    line: usize,
    /// Units touched: the quantity, bounded by the target's quantity limit.
    units: u64,
    /// The part of the line's remaining amount those units carry.
    base: i64,
    /// The most this line may receive: `base`, bounded by the target's
    /// amount limit.
    cap: i64,
}

/// What `discount` does to `state`, without changing it. `targets` are the
/// lines item effects may touch (`None`: every line); order-level and UNIT
/// effects ignore them. Errors: [`DiscountError::MissingAmount`] for an
/// order-level discount on an order without an amount,
/// [`DiscountError::MissingOrderItems`] for an item effect on an order
/// without lines, [`DiscountError::MissingUnitPrice`] for free units of a
/// product neither in the order nor priced by the discount.
pub fn apply(
    discount: &Discount,
    state: &OrderState,
    targets: Option<&[LineTarget]>,
) -> Result<Applied, DiscountError> {
    if let Some(money) = discount.value.money() {
        if money.currency() != state.currency {
            return Err(DiscountError::CurrencyMismatch {
                expected: state.currency,
                found: money.currency(),
            });
        }
    }
    let effect = discount.effect;
    match (&discount.value, effect) {
        (
            DiscountValue::Unit {
                unit_off,
                product,
                price,
            },
            _,
        ) => state.unit(*unit_off, product, price.as_ref(), effect),
        (value, Effect::ApplyToOrder) => {
            let remaining = state.require_remaining()?;
            let discount = match value {
                DiscountValue::Amount { amount_off } => amount_off.to_minor()?,
                DiscountValue::Percent {
                    percent_off,
                    amount_limit,
                } => {
                    let share = percent_of(remaining, *percent_off, state.currency)?;
                    match amount_limit {
                        Some(limit) => share.min(limit.to_minor()?),
                        None => share,
                    }
                }
                DiscountValue::Fixed { fixed_amount } => {
                    sub(remaining, fixed_amount.to_minor()?)?.max(0)
                }
                DiscountValue::Unit { .. } => 0,
            };
            state.order_level(discount.min(remaining))
        }
        (value, effect) => {
            let reach = state.reach(targets)?;
            let per_line = match (value, effect) {
                (DiscountValue::Amount { amount_off }, Effect::ApplyToItems) => {
                    let off = amount_off.to_minor()?;
                    state.per_line(&reach, |_| Ok(off))?
                }
                (DiscountValue::Amount { amount_off }, Effect::ApplyToItemsByQuantity) => {
                    let off = amount_off.to_minor()?;
                    // Saturating is exact here: the cap is far below i64::MAX.
                    state.per_line(&reach, |r| Ok(mul(off, r.units).unwrap_or(i64::MAX)))?
                }
                (DiscountValue::Amount { amount_off }, Effect::ApplyToItemsProportionally) => {
                    state.proportional(amount_off.to_minor()?, &reach, |r| Ok(r.base))?
                }
                (
                    DiscountValue::Amount { amount_off },
                    Effect::ApplyToItemsProportionallyByQuantity,
                ) => state.proportional(amount_off.to_minor()?, &reach, |r| {
                    i64::try_from(r.units).map_err(|_| DiscountError::Overflow)
                })?,
                (
                    DiscountValue::Percent {
                        percent_off,
                        amount_limit,
                    },
                    Effect::ApplyToItems,
                ) => {
                    let per_line = state
                        .per_line(&reach, |r| percent_of(r.base, *percent_off, state.currency))?;
                    match amount_limit {
                        Some(limit) if sum(&per_line)? > limit.to_minor()? => {
                            allocate_capped(limit.to_minor()?, &per_line, &per_line)?.into_shares()
                        }
                        _ => per_line,
                    }
                }
                (DiscountValue::Fixed { fixed_amount }, Effect::ApplyToItems) => {
                    let fixed = fixed_amount.to_minor()?;
                    state.per_line(&reach, |r| {
                        // The new price of the touched units; saturating is
                        // exact: a product beyond i64 is above any base.
                        let new_price = mul(fixed, r.units).unwrap_or(i64::MAX);
                        Ok(r.base.saturating_sub(new_price).max(0))
                    })?
                }
                (value, effect) => {
                    return Err(DiscountError::EffectNotAllowed {
                        kind: value.kind(),
                        effect,
                    })
                }
            };
            state.items_level(per_line)
        }
    }
}

/// `percent` of `amount_minor`, rounded at the named point.
fn percent_of(
    amount_minor: i64,
    percent: Decimal,
    currency: Currency,
) -> Result<i64, DiscountError> {
    let share = Money::from_minor(amount_minor, currency)?.percent(percent)?;
    // Rounding point: a percentage of an amount, to the minor unit.
    Ok(share.round(Rounding::HalfAwayFromZero).to_minor()?)
}

/// `value * numerator / denominator` for a non-negative `value`, rounded by
/// `rounding`; exact in i128.
fn mul_div(
    value: i64,
    numerator: u64,
    denominator: u64,
    rounding: Rounding,
) -> Result<i64, DiscountError> {
    if denominator == 0 || value < 0 {
        return Err(DiscountError::Overflow);
    }
    let product = i128::from(value) * i128::from(numerator);
    let denominator = i128::from(denominator);
    let quotient = product / denominator;
    let twice_remainder = 2 * (product % denominator);
    let round_up = match rounding {
        Rounding::Down => false,
        Rounding::HalfAwayFromZero => twice_remainder >= denominator,
        Rounding::HalfEven => {
            twice_remainder > denominator || (twice_remainder == denominator && quotient % 2 == 1)
        }
    };
    i64::try_from(quotient + i128::from(round_up)).map_err(|_| DiscountError::Overflow)
}

fn add(a: i64, b: i64) -> Result<i64, DiscountError> {
    a.checked_add(b).ok_or(DiscountError::Overflow)
}

fn sub(a: i64, b: i64) -> Result<i64, DiscountError> {
    a.checked_sub(b).ok_or(DiscountError::Overflow)
}

fn mul(a: i64, units: u64) -> Result<i64, DiscountError> {
    let units = i64::try_from(units).map_err(|_| DiscountError::Overflow)?;
    a.checked_mul(units).ok_or(DiscountError::Overflow)
}

fn sum(values: &[i64]) -> Result<i64, DiscountError> {
    values.iter().try_fold(0_i64, |total, v| add(total, *v))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::order::Line;

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR).unwrap()
    }

    fn line(amount: i64, quantity: u64) -> Line<'static> {
        Line {
            product_id: None,
            sku_id: None,
            quantity,
            price_minor: None,
            amount_minor: amount,
            categories: Vec::new().into(),
            source_index: None,
        }
    }

    fn product_line(product: &str, price: i64, quantity: u64) -> Line<'static> {
        Line {
            product_id: Some(product.to_owned().into()),
            price_minor: Some(price),
            ..line(price * i64::try_from(quantity).unwrap(), quantity)
        }
    }

    fn order(amount: Option<i64>, lines: Vec<Line<'static>>) -> OrderState {
        let lines = lines
            .into_iter()
            .enumerate()
            .map(|(i, l)| Line {
                source_index: Some(i),
                ..l
            })
            .collect();
        OrderState::new(CheckedOrder {
            currency: Currency::EUR,
            amount_minor: amount,
            lines,
        })
        .unwrap()
    }

    fn lines(amounts: &[(i64, u64)]) -> OrderState {
        order(None, amounts.iter().map(|(a, q)| line(*a, *q)).collect())
    }

    fn amount(off: i64, effect: Effect) -> Discount {
        Discount::new(
            DiscountValue::Amount {
                amount_off: eur(off),
            },
            effect,
        )
        .unwrap()
    }

    fn percent(percent_off: &str, limit: Option<i64>, effect: Effect) -> Discount {
        let value = DiscountValue::Percent {
            percent_off: percent_off.parse().unwrap(),
            amount_limit: limit.map(eur),
        };
        Discount::new(value, effect).unwrap()
    }

    fn fixed(fixed_amount: i64, effect: Effect) -> Discount {
        Discount::new(
            DiscountValue::Fixed {
                fixed_amount: eur(fixed_amount),
            },
            effect,
        )
        .unwrap()
    }

    fn unit(unit_off: u64, product: &str, price: Option<i64>, effect: Effect) -> Discount {
        let value = DiscountValue::Unit {
            unit_off,
            product: UnitProduct::new(Some(product.to_owned()), None).unwrap(),
            price: price.map(eur),
        };
        Discount::new(value, effect).unwrap()
    }

    fn target(line: usize, quantity_limit: Option<u64>, amount_limit: Option<i64>) -> LineTarget {
        LineTarget {
            line,
            quantity_limit,
            amount_limit_minor: amount_limit,
        }
    }

    /// Applies `discount` and checks the split over the lines and the part
    /// left unallocated, then commits it.
    fn check(
        state: &mut OrderState,
        discount: &Discount,
        targets: Option<&[LineTarget]>,
        expected_lines: &[i64],
        expected_unallocated: i64,
    ) -> Applied {
        let applied = apply(discount, state, targets).unwrap();
        assert_eq!(
            (applied.lines(), applied.unallocated_minor()),
            (expected_lines, expected_unallocated),
            "{discount:?}"
        );
        assert_eq!(
            applied.lines().iter().sum::<i64>() + applied.unallocated_minor(),
            applied.discount_minor()
        );
        state.commit(&applied).unwrap();
        assert_eq!(state.totals(), applied.totals());
        applied
    }

    /// Checks the wire totals: amount, discount_amount, items_discount_amount,
    /// total_discount_amount, total_amount.
    fn check_totals(state: &OrderState, expected: [i64; 5]) {
        let t = state.totals();
        assert_eq!(
            [
                t.amount_minor,
                t.discount_amount_minor,
                t.items_discount_amount_minor,
                t.total_discount_amount_minor,
                t.total_amount_minor
            ],
            expected
        );
    }

    #[test]
    fn amount_to_order_is_capped_and_split_over_the_lines() {
        let mut state = lines(&[(6000, 1), (4000, 1)]);
        check(
            &mut state,
            &amount(1000, Effect::ApplyToOrder),
            None,
            &[600, 400],
            0,
        );
        check_totals(&state, [10000, 1000, 0, 1000, 9000]);
        // Never more than what remains: 20000 off a remaining 9000.
        check(
            &mut state,
            &amount(20000, Effect::ApplyToOrder),
            None,
            &[5400, 3600],
            0,
        );
        check_totals(&state, [10000, 10000, 0, 10000, 0]);
        check(
            &mut state,
            &amount(500, Effect::ApplyToOrder),
            None,
            &[0, 0],
            0,
        );
    }

    #[test]
    fn order_level_beyond_the_lines_stays_unallocated() {
        // 500 of shipping on top of the lines.
        let mut state = order(Some(10500), vec![line(6000, 1), line(4000, 1)]);
        check(
            &mut state,
            &amount(700, Effect::ApplyToOrder),
            None,
            &[420, 280],
            0,
        );
        check_totals(&state, [10500, 700, 0, 700, 9800]);
        // 10300 is capped at the 9800 left; the lines hold 5580 + 3720 and
        // the 500 of shipping keeps the rest at order level.
        check(
            &mut state,
            &amount(10300, Effect::ApplyToOrder),
            None,
            &[5580, 3720],
            500,
        );
        check_totals(&state, [10500, 10500, 0, 10500, 0]);
        assert_eq!(state.unallocated_minor(), 500);
    }

    #[test]
    fn order_without_lines_keeps_the_discount_at_order_level() {
        let mut state = order(Some(5000), vec![]);
        check(
            &mut state,
            &amount(1000, Effect::ApplyToOrder),
            None,
            &[],
            1000,
        );
        check(
            &mut state,
            &percent("10", None, Effect::ApplyToOrder),
            None,
            &[],
            400,
        );
        check_totals(&state, [5000, 1400, 0, 1400, 3600]);
        assert_eq!(state.unallocated_minor(), 1400);
    }

    #[test]
    fn percent_of_the_order_rounds_half_away_from_zero_then_caps() {
        // 15% of 3333 = 499.95 -> 500.
        check(
            &mut lines(&[(3333, 1)]),
            &percent("15", None, Effect::ApplyToOrder),
            None,
            &[500],
            0,
        );
        check(
            &mut lines(&[(3333, 1)]),
            &percent("15", Some(400), Effect::ApplyToOrder),
            None,
            &[400],
            0,
        );
        // 12.5% of 1004 = 125.5 -> 126.
        check(
            &mut lines(&[(1004, 1)]),
            &percent("12.5", None, Effect::ApplyToOrder),
            None,
            &[126],
            0,
        );
        check(
            &mut lines(&[(1004, 1)]),
            &percent("0", None, Effect::ApplyToOrder),
            None,
            &[0],
            0,
        );
        check(
            &mut lines(&[(1004, 1)]),
            &percent("100", None, Effect::ApplyToOrder),
            None,
            &[1004],
            0,
        );
    }

    #[test]
    fn percent_of_items_rounds_per_line() {
        // 100.5 -> 101, 201.5 -> 202, 99.5 -> 100: 403, where 10% of the
        // order (4015) would be 402.
        let mut state = lines(&[(1005, 1), (2015, 1), (995, 1)]);
        check(
            &mut state,
            &percent("10", None, Effect::ApplyToItems),
            None,
            &[101, 202, 100],
            0,
        );
        check_totals(&state, [4015, 0, 403, 403, 3612]);
        // The cap of 300 spread over 101:202:100 -> 75.19, 150.37, 74.44 ->
        // floors 75 + 150 + 74 = 299, the last unit to the largest remainder.
        check(
            &mut lines(&[(1005, 1), (2015, 1), (995, 1)]),
            &percent("10", Some(300), Effect::ApplyToItems),
            None,
            &[75, 150, 75],
            0,
        );
        // Only the targeted lines.
        check(
            &mut lines(&[(1005, 1), (2015, 1), (995, 1)]),
            &percent("10", None, Effect::ApplyToItems),
            Some(&[target(1, None, None)]),
            &[0, 202, 0],
            0,
        );
    }

    #[test]
    fn amount_to_items_gives_the_full_amount_to_each_line() {
        let effect = Effect::ApplyToItems;
        let state = || lines(&[(3000, 3), (300, 1)]);
        check(&mut state(), &amount(500, effect), None, &[500, 300], 0);
        // The target's amount limit.
        check(
            &mut state(),
            &amount(500, effect),
            Some(&[target(0, None, Some(200))]),
            &[200, 0],
            0,
        );
        // quantity_limit 1 of 3 units: the discount reaches 1000 of the 3000.
        check(
            &mut state(),
            &amount(1500, effect),
            Some(&[target(0, Some(1), None)]),
            &[1000, 0],
            0,
        );
        check(&mut state(), &amount(500, effect), Some(&[]), &[0, 0], 0);
        let mut state = state();
        check(&mut state, &amount(500, effect), None, &[500, 300], 0);
        check_totals(&state, [3300, 0, 800, 800, 2500]);
        assert_eq!(state.lines()[1].subtotal_amount_minor(), 0);
    }

    #[test]
    fn amount_by_quantity_is_per_unit() {
        let effect = Effect::ApplyToItemsByQuantity;
        let state = || lines(&[(1000, 3), (150, 2)]);
        check(&mut state(), &amount(100, effect), None, &[300, 150], 0);
        check(
            &mut state(),
            &amount(100, effect),
            Some(&[target(0, Some(2), None)]),
            &[200, 0],
            0,
        );
        // One unit of two reaches 75 of the line's 150.
        check(
            &mut state(),
            &amount(100, effect),
            Some(&[target(1, Some(1), None)]),
            &[0, 75],
            0,
        );
    }

    #[test]
    fn amount_proportionally_splits_by_largest_remainder() {
        let effect = Effect::ApplyToItemsProportionally;
        // The reference's example: 147.76 -> 148, 152.24 -> 152.
        check(
            &mut lines(&[(3300, 1), (3400, 1)]),
            &amount(300, effect),
            None,
            &[148, 152],
            0,
        );
        // A capped line passes its excess on.
        check(
            &mut lines(&[(3300, 1), (3400, 1)]),
            &amount(300, effect),
            Some(&[target(0, None, Some(100)), target(1, None, None)]),
            &[100, 200],
            0,
        );
        // More than the lines hold: only what they hold.
        let mut state = lines(&[(3300, 1), (3400, 1)]);
        check(&mut state, &amount(10000, effect), None, &[3300, 3400], 0);
        check_totals(&state, [6700, 0, 6700, 6700, 0]);
    }

    #[test]
    fn amount_proportionally_by_quantity_splits_by_units() {
        let effect = Effect::ApplyToItemsProportionallyByQuantity;
        // 1000 by 1:2:4 = 142.86, 285.71, 571.43: two leftover units to the
        // remainders .86 and .71.
        check(
            &mut lines(&[(5000, 1), (5000, 2), (5000, 4)]),
            &amount(1000, effect),
            None,
            &[143, 286, 571],
            0,
        );
        // 5:1:4 proposes 500/100/400; line 0 holds only 100, so the other 900
        // goes 1:4.
        check(
            &mut lines(&[(100, 5), (2000, 1), (2000, 4)]),
            &amount(1000, effect),
            None,
            &[100, 180, 720],
            0,
        );
    }

    #[test]
    fn fixed_sets_the_new_price() {
        let state = || lines(&[(6000, 1), (4000, 1)]);
        check(
            &mut state(),
            &fixed(7000, Effect::ApplyToOrder),
            None,
            &[1800, 1200],
            0,
        );
        // Already cheaper than the fixed price: nothing.
        check(
            &mut state(),
            &fixed(12000, Effect::ApplyToOrder),
            None,
            &[0, 0],
            0,
        );
        let state = || lines(&[(3000, 3)]);
        // Three units of 1000 at 800 each.
        check(
            &mut state(),
            &fixed(800, Effect::ApplyToItems),
            None,
            &[600],
            0,
        );
        check(
            &mut state(),
            &fixed(1200, Effect::ApplyToItems),
            None,
            &[0],
            0,
        );
        check(
            &mut state(),
            &fixed(800, Effect::ApplyToItems),
            Some(&[target(0, Some(1), None)]),
            &[200],
            0,
        );
    }

    #[test]
    fn unit_add_missing_items_adds_only_what_lacks() {
        let mut state = order(
            None,
            vec![product_line("p1", 500, 1), product_line("p2", 1000, 1)],
        );
        let applied = check(
            &mut state,
            &unit(2, "p1", None, Effect::AddMissingItems),
            None,
            &[1000, 0],
            0,
        );
        assert_eq!(
            applied.added(),
            Some(&AddedUnits {
                line: 0,
                units: 1,
                discounted_units: 2,
                price_minor: 500,
                placement: Placement::ExistingLine,
            })
        );
        // One unit added (500 more, 500 off), the one in the order free too.
        check_totals(&state, [2000, 0, 1000, 1000, 1000]);
        let line = &state.lines()[0];
        assert_eq!(
            (
                line.initial_quantity(),
                line.quantity(),
                line.added_quantity()
            ),
            (1, 2, 1)
        );
        assert_eq!(
            (
                line.amount_minor(),
                line.discount_amount_minor(),
                line.subtotal_amount_minor()
            ),
            (1000, 1000, 0)
        );

        // Enough units already: none added, two of them free.
        let mut state = order(None, vec![product_line("p1", 500, 3)]);
        let applied = check(
            &mut state,
            &unit(2, "p1", None, Effect::AddMissingItems),
            None,
            &[1000],
            0,
        );
        assert_eq!(applied.added().map(|a| a.units), Some(0));
        check_totals(&state, [1500, 0, 1000, 1000, 500]);
    }

    #[test]
    fn unit_add_new_items_always_adds() {
        let mut state = order(None, vec![product_line("p1", 500, 1)]);
        check(
            &mut state,
            &unit(2, "p1", None, Effect::AddNewItems),
            None,
            &[1000],
            0,
        );
        // The customer pays the same 500.
        check_totals(&state, [1500, 0, 1000, 1000, 500]);
        assert_eq!(state.lines()[0].quantity(), 3);
    }

    #[test]
    fn unit_for_a_product_not_in_the_order_needs_a_price() {
        let mut state = order(None, vec![product_line("p1", 500, 1)]);
        let applied = check(
            &mut state,
            &unit(2, "p9", Some(700), Effect::AddMissingItems),
            None,
            &[0, 1400],
            0,
        );
        assert_eq!(
            applied.added().map(|a| (a.line, a.placement)),
            Some((1, Placement::NewLine))
        );
        check_totals(&state, [1900, 0, 1400, 1400, 500]);
        let added = &state.lines()[1];
        assert_eq!(
            (
                added.product_id(),
                added.source_index(),
                added.initial_quantity(),
                added.quantity()
            ),
            (Some("p9"), None, 0, 2)
        );
        assert_eq!(
            (added.amount_minor(), added.discount_amount_minor()),
            (1400, 1400)
        );
        assert_eq!(
            apply(&unit(1, "p8", None, Effect::AddNewItems), &state, None),
            Err(DiscountError::MissingUnitPrice)
        );
        // An empty order takes the free units as its amount.
        let mut empty = order(None, vec![]);
        check(
            &mut empty,
            &unit(1, "p9", Some(700), Effect::AddNewItems),
            None,
            &[700],
            0,
        );
        check_totals(&empty, [700, 0, 700, 700, 0]);
    }

    #[test]
    fn line_ids_read_back_inline_or_not() {
        let check = |id: &str| {
            let state = order(
                None,
                vec![Line {
                    sku_id: Some(id.to_owned().into()),
                    ..product_line(id, 100, 1)
                }],
            );
            let line = &state.lines()[0];
            assert_eq!(line.product_id(), Some(id));
            assert_eq!(line.sku_id(), Some(id));
        };
        for len in [0, 1, 22, 23, 24, 256] {
            check(&"p".repeat(len));
        }
        check("żółć-ß-𝄞");
        assert_eq!(LineId::new("abc"), LineId::new("abc"));
        assert_ne!(LineId::new("abc"), LineId::new("abd"));
        assert_ne!(LineId::new(&"a".repeat(24)), LineId::new(&"a".repeat(23)));
    }

    #[test]
    fn unit_matches_by_sku_first() {
        let mut state = order(
            None,
            vec![
                Line {
                    sku_id: Some("s2".into()),
                    ..product_line("p1", 300, 1)
                },
                Line {
                    sku_id: Some("s1".into()),
                    ..product_line("p1", 500, 1)
                },
            ],
        );
        let by_sku = DiscountValue::Unit {
            unit_off: 1,
            product: UnitProduct::new(Some("p1".into()), Some("s1".into())).unwrap(),
            price: None,
        };
        let discount = Discount::new(by_sku, Effect::AddMissingItems).unwrap();
        check(&mut state, &discount, None, &[0, 500], 0);
        // By product id alone, the first line of the product.
        check(
            &mut state,
            &unit(1, "p1", None, Effect::AddMissingItems),
            None,
            &[300, 0],
            0,
        );
    }

    #[test]
    fn stacking_applies_on_the_running_total() {
        // The reference's example (§2.9), without lines and with two.
        for order_lines in [vec![], vec![line(120_000, 1), line(80_000, 1)]] {
            let mut state = order(Some(200_000), order_lines);
            let has_lines = !state.lines().is_empty();
            let credits = state.apply_credits(100).unwrap();
            state.commit(&credits).unwrap();
            check_totals(&state, [200_000, 100, 0, 100, 199_900]);
            let coupon = apply(&percent("20", None, Effect::ApplyToOrder), &state, None).unwrap();
            assert_eq!(coupon.discount_minor(), 39_980);
            state.commit(&coupon).unwrap();
            check_totals(&state, [200_000, 40_080, 0, 40_080, 159_920]);
            let promo = apply(&amount(8000, Effect::ApplyToOrder), &state, None).unwrap();
            state.commit(&promo).unwrap();
            check_totals(&state, [200_000, 48_080, 0, 48_080, 151_920]);
            if has_lines {
                // Each step splits 60:40 over what remains of the lines.
                assert_eq!(credits.lines(), &[60, 40]);
                assert_eq!(coupon.lines(), &[23_988, 15_992]);
                assert_eq!(promo.lines(), &[4800, 3200]);
            }
        }
    }

    #[test]
    fn item_discounts_apply_on_what_remains_of_the_line() {
        let mut state = lines(&[(10_000, 1)]);
        check(
            &mut state,
            &amount(3000, Effect::ApplyToOrder),
            None,
            &[3000],
            0,
        );
        check(
            &mut state,
            &percent("10", None, Effect::ApplyToItems),
            None,
            &[700],
            0,
        );
        check_totals(&state, [10_000, 3000, 700, 3700, 6300]);
        // The wire's item discount is item-level only.
        assert_eq!(state.lines()[0].discount_amount_minor(), 700);
        assert_eq!(state.lines()[0].subtotal_amount_minor(), 9300);
        assert_eq!(state.lines()[0].remaining_minor(), 6300);
    }

    #[test]
    fn item_discounts_stop_at_an_order_amount_below_the_lines() {
        let mut state = order(Some(1000), vec![line(3000, 1), line(1000, 1)]);
        // 2000 + 1000 > 1000 left: scaled 2:1 to 667 + 333.
        check(
            &mut state,
            &amount(2000, Effect::ApplyToItems),
            None,
            &[667, 333],
            0,
        );
        check_totals(&state, [1000, 0, 1000, 1000, 0]);
        check(
            &mut state,
            &amount(2000, Effect::ApplyToItems),
            None,
            &[0, 0],
            0,
        );
    }

    #[test]
    fn credits_are_capped_at_the_remaining_total() {
        let mut state = lines(&[(1000, 1)]);
        let credits = state.apply_credits(5000).unwrap();
        assert_eq!(
            (credits.level(), credits.discount_minor()),
            (DiscountLevel::Order, 1000)
        );
        state.commit(&credits).unwrap();
        check_totals(&state, [1000, 1000, 0, 1000, 0]);
        assert_eq!(state.apply_credits(-1), Err(DiscountError::NegativeValue));
        assert_eq!(state.apply_credits(0).unwrap().discount_minor(), 0);
    }

    #[test]
    fn missing_amount_and_items_are_typed_errors() {
        let empty = order(None, vec![]);
        let check_error =
            |state: &OrderState, discount: &Discount, expected: DiscountError, key: &str| {
                let error = apply(discount, state, None).unwrap_err();
                assert_eq!(error, expected);
                assert_eq!(error.key(), Some(key));
            };
        check_error(
            &empty,
            &amount(100, Effect::ApplyToOrder),
            DiscountError::MissingAmount,
            "missing_amount",
        );
        check_error(
            &empty,
            &percent("5", None, Effect::ApplyToOrder),
            DiscountError::MissingAmount,
            "missing_amount",
        );
        check_error(
            &empty,
            &fixed(100, Effect::ApplyToOrder),
            DiscountError::MissingAmount,
            "missing_amount",
        );
        check_error(
            &empty,
            &amount(100, Effect::ApplyToItems),
            DiscountError::MissingOrderItems,
            "missing_order_items",
        );
        let amount_only = order(Some(5000), vec![]);
        check_error(
            &amount_only,
            &amount(100, Effect::ApplyToItemsProportionally),
            DiscountError::MissingOrderItems,
            "missing_order_items",
        );
        assert_eq!(empty.apply_credits(100), Err(DiscountError::MissingAmount));
    }

    #[test]
    fn zero_amounts_give_zero_discounts() {
        let state = || order(Some(0), vec![line(0, 1), line(0, 2)]);
        check(
            &mut state(),
            &amount(500, Effect::ApplyToOrder),
            None,
            &[0, 0],
            0,
        );
        check(
            &mut state(),
            &percent("50", None, Effect::ApplyToItems),
            None,
            &[0, 0],
            0,
        );
        check(
            &mut state(),
            &amount(500, Effect::ApplyToItemsProportionally),
            None,
            &[0, 0],
            0,
        );
        check(
            &mut state(),
            &amount(500, Effect::ApplyToItemsProportionallyByQuantity),
            None,
            &[0, 0],
            0,
        );
        check(
            &mut state(),
            &amount(0, Effect::ApplyToItems),
            None,
            &[0, 0],
            0,
        );
        check(
            &mut lines(&[(500, 1)]),
            &amount(0, Effect::ApplyToOrder),
            None,
            &[0],
            0,
        );
        check(
            &mut lines(&[(500, 1)]),
            &fixed(0, Effect::ApplyToOrder),
            None,
            &[500],
            0,
        );
    }

    #[test]
    fn bad_targets_are_typed_errors() {
        let state = lines(&[(1000, 1), (1000, 1)]);
        let discount = amount(100, Effect::ApplyToItems);
        let check_error = |targets: &[LineTarget], expected: DiscountError| {
            assert_eq!(apply(&discount, &state, Some(targets)), Err(expected));
        };
        check_error(
            &[target(2, None, None)],
            DiscountError::TargetOutOfRange { line: 2 },
        );
        check_error(
            &[target(0, None, None), target(0, None, None)],
            DiscountError::DuplicateTarget { line: 0 },
        );
        check_error(
            &[target(1, None, Some(-1))],
            DiscountError::NegativeTargetLimit { line: 1 },
        );
        let dollars = Discount::new(
            DiscountValue::Amount {
                amount_off: Money::from_minor(100, Currency::USD).unwrap(),
            },
            Effect::ApplyToOrder,
        )
        .unwrap();
        assert_eq!(
            apply(&dollars, &state, None),
            Err(DiscountError::CurrencyMismatch {
                expected: Currency::EUR,
                found: Currency::USD
            })
        );
    }

    #[test]
    fn commit_refuses_a_stale_applied_and_changes_nothing() {
        let mut state = lines(&[(1000, 1)]);
        let first = apply(&amount(100, Effect::ApplyToOrder), &state, None).unwrap();
        let second = apply(&amount(200, Effect::ApplyToItems), &state, None).unwrap();
        state.commit(&first).unwrap();
        let before = state.clone();
        assert_eq!(state.commit(&second), Err(DiscountError::StaleApplied));
        assert_eq!(state.commit(&first), Err(DiscountError::StaleApplied));
        assert_eq!(state, before);
        let other = lines(&[(5000, 1), (1, 1)]);
        let foreign = apply(&amount(100, Effect::ApplyToOrder), &other, None).unwrap();
        assert_eq!(state.commit(&foreign), Err(DiscountError::StaleApplied));
    }

    #[test]
    fn constructor_refuses_bad_combinations() {
        let check_error = |value: DiscountValue, effect: Effect, expected: DiscountError| {
            assert_eq!(Discount::new(value, effect), Err(expected));
        };
        let pct = |p: &str| DiscountValue::Percent {
            percent_off: p.parse().unwrap(),
            amount_limit: None,
        };
        check_error(
            pct("100.01"),
            Effect::ApplyToOrder,
            DiscountError::PercentOutOfRange,
        );
        check_error(
            pct("-1"),
            Effect::ApplyToOrder,
            DiscountError::PercentOutOfRange,
        );
        check_error(
            pct("10"),
            Effect::ApplyToItemsProportionally,
            DiscountError::EffectNotAllowed {
                kind: DiscountKind::Percent,
                effect: Effect::ApplyToItemsProportionally,
            },
        );
        check_error(
            DiscountValue::Percent {
                percent_off: Decimal::TEN,
                amount_limit: Some(eur(-1)),
            },
            Effect::ApplyToOrder,
            DiscountError::NegativeValue,
        );
        check_error(
            DiscountValue::Amount {
                amount_off: eur(-1),
            },
            Effect::ApplyToOrder,
            DiscountError::NegativeValue,
        );
        check_error(
            DiscountValue::Amount {
                amount_off: Money::unrounded(Decimal::new(1005, 3), Currency::EUR).unwrap(),
            },
            Effect::ApplyToOrder,
            DiscountError::InvalidAmount(MoneyError::TooPrecise {
                currency: Currency::EUR,
            }),
        );
        check_error(
            DiscountValue::Fixed {
                fixed_amount: eur(1),
            },
            Effect::AddNewItems,
            DiscountError::EffectNotAllowed {
                kind: DiscountKind::Fixed,
                effect: Effect::AddNewItems,
            },
        );
        let p1 = UnitProduct::new(Some("p1".into()), None).unwrap();
        let unit_value = |unit_off: u64| DiscountValue::Unit {
            unit_off,
            product: p1.clone(),
            price: None,
        };
        check_error(
            unit_value(0),
            Effect::AddNewItems,
            DiscountError::InvalidUnitOff,
        );
        check_error(
            unit_value(ITEM_QUANTITY_MAX + 1),
            Effect::AddNewItems,
            DiscountError::InvalidUnitOff,
        );
        check_error(
            unit_value(1),
            Effect::ApplyToOrder,
            DiscountError::EffectNotAllowed {
                kind: DiscountKind::Unit,
                effect: Effect::ApplyToOrder,
            },
        );
        assert_eq!(
            UnitProduct::new(None, None),
            Err(DiscountError::MissingUnitProduct)
        );
        assert_eq!(
            UnitProduct::new(Some("x".repeat(ID_LEN_MAX + 1)), None),
            Err(DiscountError::IdTooLong)
        );
        // Every allowed pair builds.
        let values = [
            DiscountValue::Amount { amount_off: eur(1) },
            pct("1"),
            DiscountValue::Fixed {
                fixed_amount: eur(1),
            },
            unit_value(1),
        ];
        for value in values {
            for effect in Effect::ALL {
                let allowed = value.kind().effects().contains(&effect);
                assert_eq!(
                    Discount::new(value.clone(), effect).is_ok(),
                    allowed,
                    "{value:?} {effect}"
                );
            }
        }
    }

    #[test]
    fn default_effects_follow_the_reference() {
        let check = |value: DiscountValue, targets: ItemTargets, expected: Effect| {
            assert_eq!(default_effect(&value, targets), expected, "{value:?}");
            assert_eq!(
                Discount::with_default_effect(value, targets)
                    .unwrap()
                    .effect(),
                expected
            );
        };
        let amount = || DiscountValue::Amount { amount_off: eur(1) };
        let pct = || DiscountValue::Percent {
            percent_off: Decimal::ONE,
            amount_limit: None,
        };
        let fixed = || DiscountValue::Fixed {
            fixed_amount: eur(1),
        };
        let unit = || DiscountValue::Unit {
            unit_off: 1,
            product: UnitProduct::new(None, Some("s".into())).unwrap(),
            price: None,
        };
        check(amount(), ItemTargets::Undefined, Effect::ApplyToOrder);
        check(amount(), ItemTargets::Defined, Effect::ApplyToItems);
        check(pct(), ItemTargets::Undefined, Effect::ApplyToOrder);
        check(pct(), ItemTargets::Defined, Effect::ApplyToItems);
        check(fixed(), ItemTargets::Undefined, Effect::ApplyToOrder);
        check(fixed(), ItemTargets::Defined, Effect::ApplyToOrder);
        check(unit(), ItemTargets::Undefined, Effect::AddMissingItems);
        check(unit(), ItemTargets::Defined, Effect::AddMissingItems);
    }

    #[test]
    fn effects_have_their_wire_names() {
        for effect in Effect::ALL {
            let json = serde_json::to_string(&effect).unwrap();
            assert_eq!(json, format!("\"{}\"", effect.wire_name()));
            assert_eq!(serde_json::from_str::<Effect>(&json).unwrap(), effect);
        }
        assert_eq!(
            Effect::ApplyToItemsProportionallyByQuantity.to_string(),
            "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY"
        );
        assert_eq!(
            serde_json::to_string(&DiscountKind::Percent).unwrap(),
            "\"PERCENT\""
        );
        let discount = percent("12.5", Some(300), Effect::ApplyToItems);
        let json = serde_json::to_string(&discount).unwrap();
        assert_eq!(serde_json::from_str::<Discount>(&json).unwrap(), discount);
        let bad = json.replace("APPLY_TO_ITEMS", "ADD_NEW_ITEMS");
        assert!(serde_json::from_str::<Discount>(&bad).is_err());
    }

    #[test]
    fn running_order_lines_are_bounded() {
        let mut state = order(None, vec![line(1, 1); ITEMS_PER_ORDER_MAX]);
        for i in 0..(RUNNING_ORDER_LINES_MAX - ITEMS_PER_ORDER_MAX) {
            let applied = apply(
                &unit(1, &format!("new{i}"), Some(1), Effect::AddNewItems),
                &state,
                None,
            )
            .unwrap();
            state.commit(&applied).unwrap();
        }
        assert_eq!(state.lines().len(), RUNNING_ORDER_LINES_MAX);
        assert_eq!(
            apply(
                &unit(1, "one-more", Some(1), Effect::AddNewItems),
                &state,
                None
            ),
            Err(DiscountError::TooManyLines)
        );
        let too_many = CheckedOrder {
            currency: Currency::EUR,
            amount_minor: None,
            lines: vec![line(1, 1); ITEMS_PER_ORDER_MAX + 1],
        };
        assert_eq!(
            OrderState::new(too_many),
            Err(OrderError::TooManyItems.into())
        );
    }

    #[test]
    fn order_state_rechecks_the_order() {
        let check_error = |amount: Option<i64>, lines: Vec<Line<'_>>, expected: OrderError| {
            let order = CheckedOrder {
                currency: Currency::EUR,
                amount_minor: amount,
                lines,
            };
            assert_eq!(
                OrderState::new(order),
                Err(DiscountError::InvalidOrder(expected))
            );
        };
        check_error(Some(-1), vec![], OrderError::NegativeAmount);
        check_error(None, vec![line(-5, 1)], OrderError::NegativeAmount);
        check_error(
            None,
            vec![line(5, 0)],
            OrderError::InvalidQuantity { line: 0 },
        );
        check_error(
            None,
            vec![line(i64::MAX / 2, 1)],
            OrderError::InvalidAmount(MoneyError::Overflow),
        );
        assert_eq!(lines(&[(300, 1), (200, 2)]).amount_minor(), Some(500));
        assert_eq!(order(None, vec![]).amount_minor(), None);
    }

    #[test]
    fn mul_div_rounds_as_named() {
        let check =
            |value: i64, numerator: u64, denominator: u64, rounding: Rounding, expected: i64| {
                assert_eq!(
                    mul_div(value, numerator, denominator, rounding).unwrap(),
                    expected
                );
            };
        check(1000, 1, 3, Rounding::Down, 333);
        check(1000, 2, 3, Rounding::Down, 666);
        check(1000, 2, 3, Rounding::HalfAwayFromZero, 667);
        check(5, 1, 2, Rounding::HalfAwayFromZero, 3);
        check(5, 1, 2, Rounding::HalfEven, 2);
        check(7, 1, 2, Rounding::HalfEven, 4);
        check(
            i64::MAX,
            ITEM_QUANTITY_MAX,
            ITEM_QUANTITY_MAX,
            Rounding::Down,
            i64::MAX,
        );
        assert_eq!(
            mul_div(1, 1, 0, Rounding::Down),
            Err(DiscountError::Overflow)
        );
    }

    /// Targets as drawn: line (modulo the line count), quantity limit,
    /// amount limit.
    type RawTargets = Option<Vec<(usize, Option<u64>, Option<i64>)>>;

    /// One step of a random stacking sequence.
    #[derive(Debug, Clone)]
    enum Step {
        Discount(Discount, RawTargets),
        Credits(i64),
    }

    fn arb_discount() -> impl Strategy<Value = Discount> {
        let pick = |effects: &'static [Effect]| prop::sample::select(effects);
        prop_oneof![
            (0_i64..60_000, pick(DiscountKind::Amount.effects()))
                .prop_map(|(off, effect)| amount(off, effect)),
            (
                0_i64..=10_000,
                prop::option::of(0_i64..20_000),
                pick(DiscountKind::Percent.effects())
            )
                .prop_map(|(basis_points, limit, effect)| {
                    let value = DiscountValue::Percent {
                        percent_off: Decimal::new(basis_points, 2),
                        amount_limit: limit.map(eur),
                    };
                    Discount::new(value, effect).unwrap()
                }),
            (0_i64..30_000, pick(DiscountKind::Fixed.effects()))
                .prop_map(|(amount, effect)| fixed(amount, effect)),
            (
                1_u64..4,
                0_usize..4,
                prop::option::of(0_i64..5000),
                pick(DiscountKind::Unit.effects())
            )
                .prop_map(|(units, product, price, effect)| unit(
                    units,
                    &format!("p{product}"),
                    price,
                    effect
                )),
        ]
    }

    fn arb_step() -> impl Strategy<Value = Step> {
        prop_oneof![
            4 => (
                arb_discount(),
                prop::option::of(prop::collection::vec(
                    (0_usize..8, prop::option::of(0_u64..5), prop::option::of(0_i64..20_000)),
                    0..6
                ))
            )
                .prop_map(|(discount, targets)| Step::Discount(discount, targets)),
            1 => (0_i64..30_000).prop_map(Step::Credits),
        ]
    }

    fn arb_order() -> impl Strategy<Value = OrderState> {
        let arb_line = (
            0_i64..20_000,
            1_u64..5,
            0_usize..3,
            any::<bool>(),
            0_i64..50_000,
        )
            .prop_map(|(price, quantity, product, priced, amount)| {
                if priced {
                    product_line(&format!("p{product}"), price, quantity)
                } else {
                    Line {
                        product_id: Some(format!("p{product}").into()),
                        ..line(amount, quantity)
                    }
                }
            });
        (
            prop::collection::vec(arb_line, 0..6),
            0_u8..3,
            0_i64..5000,
            0_i64..=100,
        )
            .prop_map(|(lines, mode, extra, percent)| {
                let sum: i64 = lines.iter().map(|l| l.amount_minor).sum();
                let amount = match mode {
                    0 => None,
                    1 => Some(sum + extra),
                    _ => Some(sum * percent / 100),
                };
                order(amount, lines)
            })
    }

    fn targets_for(state: &OrderState, raw: &RawTargets) -> Option<Vec<LineTarget>> {
        let n = state.lines().len();
        raw.as_ref().map(|raw| {
            let mut seen = vec![false; n];
            raw.iter()
                .filter(|_| n > 0)
                .map(|(line, q, a)| target(line % n.max(1), *q, *a))
                .filter(|t| !std::mem::replace(&mut seen[t.line], true))
                .collect()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        #[test]
        fn stacking_keeps_the_books_exact(
            mut state in arb_order(),
            steps in prop::collection::vec(arb_step(), 1..7),
        ) {
            let initial_amount = state.amount_minor().unwrap_or(0);
            let mut added_amount = 0_i64;
            let mut applied_sum = 0_i64;
            for step in &steps {
                let result = match step {
                    Step::Discount(discount, raw) => {
                        let targets = targets_for(&state, raw);
                        let result = apply(discount, &state, targets.as_deref());
                        prop_assert_eq!(&result, &apply(discount, &state, targets.as_deref()), "deterministic");
                        result
                    }
                    Step::Credits(credits) => {
                        let result = state.apply_credits(*credits);
                        // Credits are an order-level amount off.
                        if let Ok(by_amount) = apply(&amount(*credits, Effect::ApplyToOrder), &state, None) {
                            prop_assert_eq!(result.as_ref().ok(), Some(&by_amount));
                        }
                        result
                    }
                };
                let applied = match result {
                    Ok(applied) => applied,
                    Err(DiscountError::MissingAmount | DiscountError::MissingOrderItems | DiscountError::MissingUnitPrice) => continue,
                    Err(other) => return Err(TestCaseError::fail(format!("unexpected {other:?}"))),
                };
                // The split sums exactly to the discount.
                prop_assert!(applied.discount_minor() >= 0);
                prop_assert!(applied.unallocated_minor() >= 0);
                prop_assert_eq!(applied.lines().iter().sum::<i64>() + applied.unallocated_minor(), applied.discount_minor());
                if applied.level() == DiscountLevel::Items {
                    prop_assert_eq!(applied.unallocated_minor(), 0);
                }
                // No line gets more than what remains of it.
                let added = applied.added().copied();
                let added_to = |i: usize| added.filter(|a| a.line == i).map_or(0, |a| a.price_minor * i64::try_from(a.units).unwrap());
                for (i, share) in applied.lines().iter().enumerate() {
                    let remaining = state.lines().get(i).map_or(0, LineState::remaining_minor) + added_to(i);
                    prop_assert!(*share >= 0 && *share <= remaining, "line {} share {} remaining {}", i, share, remaining);
                }
                let remaining_before = state.remaining_minor().unwrap_or(0);
                prop_assert!(applied.discount_minor() <= remaining_before + added.map_or(0, |a| added_to(a.line)));
                added_amount += added.map_or(0, |a| added_to(a.line));
                applied_sum += applied.discount_minor();
                state.commit(&applied).unwrap();

                let t = state.totals();
                prop_assert_eq!(t, applied.totals());
                prop_assert_eq!(t.amount_minor, initial_amount + added_amount);
                prop_assert_eq!(t.total_discount_amount_minor, t.discount_amount_minor + t.items_discount_amount_minor);
                prop_assert_eq!(t.total_amount_minor, t.amount_minor - t.total_discount_amount_minor);
                prop_assert_eq!(t.total_discount_amount_minor, applied_sum);
                prop_assert_eq!(
                    t.items_discount_amount_minor,
                    state.lines().iter().map(LineState::discount_amount_minor).sum::<i64>()
                );
                prop_assert!(t.discount_amount_minor >= 0 && t.items_discount_amount_minor >= 0);
                prop_assert!(t.total_amount_minor >= 0, "never more than the order amount");
                for line in state.lines() {
                    prop_assert!(line.remaining_minor() >= 0);
                    prop_assert!(line.subtotal_amount_minor() >= 0);
                    prop_assert!(line.subtotal_amount_minor() <= line.amount_minor());
                }
            }
        }
    }
}
