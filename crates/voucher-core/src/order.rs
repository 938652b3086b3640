//! Orders, their line items and the customer who places them: the input of
//! every validation and redemption.
//!
//! An [`Order`] arrives as the caller built it; [`Order::check`] turns it into
//! a [`CheckedOrder`] (amounts non-negative, in the project's currency, within
//! the limits, every line's amount known) or a typed [`OrderError`]. The
//! engine only computes on checked orders, in integer minor units.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::limits::{
    ID_LEN_MAX, ITEMS_PER_ORDER_MAX, ITEM_QUANTITY_MAX, METADATA_KEYS_MAX,
    SEGMENTS_PER_CUSTOMER_MAX,
};
use crate::money::{minor_max, Currency, Money, MoneyError};
use crate::value::Metadata;

/// One line of an order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    /// The product's id, if known.
    pub product_id: Option<String>,
    /// The SKU's id, if known.
    pub sku_id: Option<String>,
    /// Units on the line; `None` means 1.
    pub quantity: Option<u64>,
    /// Price of one unit.
    pub price: Option<Money>,
    /// The line's amount; when absent, `price * quantity`.
    pub amount: Option<Money>,
    /// Categories of the product (until a catalogue exists they come from
    /// the item's `metadata.categories`).
    pub categories: Vec<String>,
    /// Free-form attributes of the line.
    pub metadata: Metadata,
}

/// An order as the caller describes it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// The order's id or source id, if any.
    pub id: Option<String>,
    /// The order amount before discounts; when absent, the sum of the lines.
    pub amount: Option<Money>,
    /// Line items.
    pub items: Vec<OrderItem>,
    /// Free-form attributes of the order.
    pub metadata: Metadata,
}

/// Who places the order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The engine's id of the customer, if known.
    pub id: Option<String>,
    /// The shop's own id of the customer.
    pub source_id: Option<String>,
    /// Free-form attributes.
    pub metadata: Metadata,
    /// Segments the customer belongs to (given in the request until the
    /// engine computes segments itself).
    pub segments: Vec<String>,
}

impl Customer {
    /// True when the request identified a customer at all.
    pub fn is_identified(&self) -> bool {
        self.id.is_some() || self.source_id.is_some()
    }

    /// Errors when the customer breaks a limit.
    pub fn check(&self) -> Result<(), OrderError> {
        check_id(self.id.as_deref())?;
        check_id(self.source_id.as_deref())?;
        if self.metadata.len() > METADATA_KEYS_MAX {
            return Err(OrderError::TooManyMetadataKeys);
        }
        if self.segments.len() > SEGMENTS_PER_CUSTOMER_MAX {
            return Err(OrderError::TooManySegments);
        }
        Ok(())
    }
}

/// Why an order is not acceptable input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    /// An amount or price is below zero.
    #[error("negative amount")]
    NegativeAmount,
    /// An amount is out of range, or too precise for the currency.
    #[error("invalid amount: {0}")]
    InvalidAmount(MoneyError),
    /// An amount is in another currency than the project's.
    #[error("order currency {found} differs from the project currency {expected}")]
    CurrencyMismatch {
        /// The project's currency.
        expected: Currency,
        /// The currency of the order.
        found: Currency,
    },
    /// A line has a quantity of zero or above the limit.
    #[error("line {line}: invalid quantity")]
    InvalidQuantity {
        /// Index of the line.
        line: usize,
    },
    /// More lines than [`ITEMS_PER_ORDER_MAX`].
    #[error("too many order items")]
    TooManyItems,
    /// More metadata keys than [`METADATA_KEYS_MAX`].
    #[error("too many metadata keys")]
    TooManyMetadataKeys,
    /// More segments than [`SEGMENTS_PER_CUSTOMER_MAX`].
    #[error("too many customer segments")]
    TooManySegments,
    /// An identifier longer than [`ID_LEN_MAX`].
    #[error("identifier too long")]
    IdTooLong,
    /// Neither the order nor its lines give an amount.
    #[error("order amount missing")]
    MissingAmount,
    /// A line has neither an amount nor a price.
    #[error("line {line}: amount missing")]
    MissingItemAmount {
        /// Index of the line.
        line: usize,
    },
}

impl From<MoneyError> for OrderError {
    fn from(e: MoneyError) -> OrderError {
        match e {
            MoneyError::CurrencyMismatch { expected, found } => {
                OrderError::CurrencyMismatch { expected, found }
            }
            other => OrderError::InvalidAmount(other),
        }
    }
}

/// A line of a [`CheckedOrder`], in integer minor units. Its strings borrow
/// from the caller's [`Order`] (`Cow::Borrowed`): checking an order copies
/// no string, which was a quarter of a decision's cost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line<'a> {
    /// The product's id, if known.
    pub product_id: Option<Cow<'a, str>>,
    /// The SKU's id, if known.
    pub sku_id: Option<Cow<'a, str>>,
    /// Units on the line (at least 1).
    pub quantity: u64,
    /// Price of one unit in minor units, if given.
    pub price_minor: Option<i64>,
    /// The line's amount in minor units.
    pub amount_minor: i64,
    /// Categories of the product.
    pub categories: Cow<'a, [String]>,
    /// Index of the line in the caller's order; lines added by a discount
    /// (free units) have `None`.
    pub source_index: Option<usize>,
}

/// A line that a discount may touch, with the limits its `applicable_to`
/// entry puts on it. Produced by the rules (from `applicable_to` and
/// `excluded`), consumed by the discount computation. No targets at all
/// (`None` where a `&[LineTarget]` is optional) means every line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LineTarget {
    /// Index into [`CheckedOrder::lines`].
    pub line: usize,
    /// Most units of the line the discount may touch.
    pub quantity_limit: Option<u64>,
    /// Most discount the line may receive, in minor units.
    pub amount_limit_minor: Option<i64>,
}

/// An order that passed [`Order::check`]: every amount in minor units of the
/// project's currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedOrder<'a> {
    /// The project's currency.
    pub currency: Currency,
    /// The order amount before discounts, in minor units, if known (given or
    /// the sum of the lines).
    pub amount_minor: Option<i64>,
    /// The lines, in the caller's order.
    pub lines: Vec<Line<'a>>,
}

fn check_id(id: Option<&str>) -> Result<(), OrderError> {
    match id {
        Some(id) if id.len() > ID_LEN_MAX => Err(OrderError::IdTooLong),
        _ => Ok(()),
    }
}

fn checked_minor(money: Money, currency: Currency) -> Result<i64, OrderError> {
    if money.currency() != currency {
        return Err(OrderError::CurrencyMismatch {
            expected: currency,
            found: money.currency(),
        });
    }
    if money.is_negative() {
        return Err(OrderError::NegativeAmount);
    }
    Ok(money.to_minor()?)
}

/// Errors as `Money::from_minor(minor, currency)` would, by one integer
/// comparison (this runs for every line of every order).
fn in_range(minor: i64, currency: Currency) -> Result<(), MoneyError> {
    if minor.unsigned_abs() > minor_max(currency) {
        return Err(MoneyError::Overflow);
    }
    Ok(())
}

impl Order {
    /// Checks the order against the project's currency and the limits and
    /// converts it to minor units. A missing order amount is the sum of the
    /// lines; a missing line amount is `price * quantity`. A line with neither
    /// amount nor price is [`OrderError::MissingItemAmount`] only when the
    /// order amount is missing too (the lines are then needed to know it).
    pub fn check(&self, currency: Currency) -> Result<CheckedOrder<'_>, OrderError> {
        check_id(self.id.as_deref())?;
        if self.items.len() > ITEMS_PER_ORDER_MAX {
            return Err(OrderError::TooManyItems);
        }
        if self.metadata.len() > METADATA_KEYS_MAX {
            return Err(OrderError::TooManyMetadataKeys);
        }
        let mut lines = Vec::with_capacity(self.items.len());
        let mut lines_total: Option<i64> = Some(0);
        for (index, item) in self.items.iter().enumerate() {
            check_id(item.product_id.as_deref())?;
            check_id(item.sku_id.as_deref())?;
            if item.metadata.len() > METADATA_KEYS_MAX {
                return Err(OrderError::TooManyMetadataKeys);
            }
            let quantity = item.quantity.unwrap_or(1);
            if quantity == 0 || quantity > ITEM_QUANTITY_MAX {
                return Err(OrderError::InvalidQuantity { line: index });
            }
            let price_minor = item.price.map(|p| checked_minor(p, currency)).transpose()?;
            let amount_minor = match (item.amount, price_minor) {
                (Some(amount), _) => Some(checked_minor(amount, currency)?),
                (None, Some(price)) => {
                    let q = i64::try_from(quantity).map_err(|_| MoneyError::Overflow)?;
                    let amount = price.checked_mul(q).ok_or(MoneyError::Overflow)?;
                    // The range of `Money::from_minor`, without a Decimal.
                    in_range(amount, currency)?;
                    Some(amount)
                }
                (None, None) => None,
            };
            lines_total = match (lines_total, amount_minor) {
                (Some(total), Some(amount)) => {
                    Some(total.checked_add(amount).ok_or(MoneyError::Overflow)?)
                }
                _ => None,
            };
            lines.push(Line {
                product_id: item.product_id.as_deref().map(Cow::Borrowed),
                sku_id: item.sku_id.as_deref().map(Cow::Borrowed),
                quantity,
                price_minor,
                amount_minor: amount_minor.unwrap_or(0),
                categories: Cow::Borrowed(&item.categories),
                source_index: Some(index),
            });
            if amount_minor.is_none() && self.amount.is_none() {
                return Err(OrderError::MissingItemAmount { line: index });
            }
        }
        let amount_minor = match self.amount {
            Some(amount) => Some(checked_minor(amount, currency)?),
            None if self.items.is_empty() => None,
            None => lines_total,
        };
        if let Some(total) = lines_total {
            // The range of the sum.
            in_range(total, currency)?;
        }
        Ok(CheckedOrder {
            currency,
            amount_minor,
            lines,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur(text: &str) -> Money {
        Money::parse(text, Currency::EUR).unwrap()
    }

    #[test]
    fn order_amount_defaults_to_the_sum_of_lines() {
        let order = Order {
            items: vec![
                OrderItem {
                    price: Some(eur("2.50")),
                    quantity: Some(4),
                    ..Default::default()
                },
                OrderItem {
                    amount: Some(eur("5")),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let checked = order.check(Currency::EUR).unwrap();
        assert_eq!(checked.amount_minor, Some(1500));
        assert_eq!(checked.lines[0].amount_minor, 1000);
        assert_eq!(checked.lines[1].quantity, 1);
    }

    #[test]
    fn refuses_bad_orders_with_typed_errors() {
        let negative = Order {
            amount: Some(eur("-1")),
            ..Default::default()
        };
        assert_eq!(
            negative.check(Currency::EUR),
            Err(OrderError::NegativeAmount)
        );
        let usd = Order {
            amount: Some(Money::parse("1", Currency::USD).unwrap()),
            ..Default::default()
        };
        assert!(matches!(
            usd.check(Currency::EUR),
            Err(OrderError::CurrencyMismatch { .. })
        ));
        let zero_quantity = Order {
            items: vec![OrderItem {
                quantity: Some(0),
                amount: Some(eur("1")),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert_eq!(
            zero_quantity.check(Currency::EUR),
            Err(OrderError::InvalidQuantity { line: 0 })
        );
        let no_amount = Order {
            items: vec![OrderItem::default()],
            ..Default::default()
        };
        assert_eq!(
            no_amount.check(Currency::EUR),
            Err(OrderError::MissingItemAmount { line: 0 })
        );
        let overflow = Order {
            items: vec![OrderItem {
                price: Some(eur("10000000000000")),
                quantity: Some(1000),
                ..Default::default()
            }],
            ..Default::default()
        };
        assert!(matches!(
            overflow.check(Currency::EUR),
            Err(OrderError::InvalidAmount(_))
        ));
        let too_many = Order {
            items: vec![
                OrderItem {
                    amount: Some(eur("1")),
                    ..Default::default()
                };
                ITEMS_PER_ORDER_MAX + 1
            ],
            ..Default::default()
        };
        assert_eq!(too_many.check(Currency::EUR), Err(OrderError::TooManyItems));
    }

    #[test]
    fn empty_order_has_no_amount() {
        assert_eq!(
            Order::default().check(Currency::EUR).unwrap().amount_minor,
            None
        );
    }
}
