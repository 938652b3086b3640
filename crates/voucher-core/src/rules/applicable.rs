//! `applicable_to`: which lines of an order a discount may touch, and how
//! much of each, as [`LineTarget`]s for the discount computation.
//!
//! A line is matched by an entry when its product id (`object: product`),
//! SKU id (`sku`) or one of its categories (`category`) equals the entry's
//! `id` or `source_id`; `products_collection` matches every line, since the
//! engine has no catalogue of collections yet (Voucherify's usual collection
//! is "all products"). The rules, in order:
//! 1. A line matched by any `excluded` entry is never touched: excluded wins.
//! 2. With `included` entries and `included_all` false, only lines matched
//!    by an included entry are touched; otherwise every line not excluded.
//! 3. The first included entry that matches a line governs it: its limits
//!    and its effect apply to the line (first match, as in a firewall).
//! 4. Effect `APPLY_TO_CHEAPEST` (`APPLY_TO_MOST_EXPENSIVE`) keeps, among
//!    the lines an entry governs, only the one with the lowest (highest)
//!    unit price; ties go to the earlier line.
//! 5. `quantity_limit` and `amount_limit` bound each line. The aggregated
//!    limits bound all lines an entry governs together and are handed out
//!    greedily in line order: a line gets what remains, at most its own
//!    limit; a line left with nothing is dropped. For the amount, a line uses
//!    up at most what it could take (its amount, for the units it may have),
//!    so the per-line limits never sum above the aggregate; a line that ends
//!    up taking less than its share does not pass the rest on (the discount
//!    computation happens later).
//!
//! Amount limits are decimals in MAJOR units (the HTTP adapter converts the
//! wire's integers), cut toward zero to the currency's minor unit when an
//! order comes. A limit of `0` means no limit, as Voucherify's examples write
//! `"quantity_limit": 0` on entries that have none. `price`, `target` and the
//! other entry fields are not modelled.

use std::cmp::Ordering;
use std::fmt;

use rust_decimal::Decimal;

use super::raw::{RawApplicableTo, RawTarget};
use super::RuleError;
use crate::limits::{AMOUNT_MAJOR_MAX, APPLICABLE_TARGETS_MAX, ID_LEN_MAX};
use crate::money::Currency;
use crate::order::{CheckedOrder, Line, LineTarget};

/// What an entry of `applicable_to` refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetObject {
    /// `product`: lines with this product id.
    Product,
    /// `sku`: lines with this SKU id.
    Sku,
    /// `category`: lines in this category.
    Category,
    /// `products_collection`: every line (no catalogue of collections yet).
    ProductsCollection,
}

impl TargetObject {
    fn parse(name: &str) -> Option<TargetObject> {
        match name {
            "product" => Some(TargetObject::Product),
            "sku" => Some(TargetObject::Sku),
            "category" => Some(TargetObject::Category),
            "products_collection" => Some(TargetObject::ProductsCollection),
            _ => None,
        }
    }
}

/// Which of the lines an entry governs it applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TargetEffect {
    /// `APPLY_TO_EVERY`: all of them (the default).
    Every,
    /// `APPLY_TO_CHEAPEST`: the one with the lowest unit price.
    Cheapest,
    /// `APPLY_TO_MOST_EXPENSIVE`: the one with the highest unit price.
    MostExpensive,
}

impl TargetEffect {
    fn parse(name: &str) -> Option<TargetEffect> {
        match name {
            "APPLY_TO_EVERY" => Some(TargetEffect::Every),
            "APPLY_TO_CHEAPEST" => Some(TargetEffect::Cheapest),
            "APPLY_TO_MOST_EXPENSIVE" => Some(TargetEffect::MostExpensive),
            _ => None,
        }
    }
}

/// The list an entry sits in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetList {
    /// `applicable_to.included`.
    Included,
    /// `applicable_to.excluded`.
    Excluded,
}

impl fmt::Display for TargetList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetList::Included => "included",
            TargetList::Excluded => "excluded",
        })
    }
}

/// Why an entry of `applicable_to` is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetProblem {
    /// `object` is none of `product`, `sku`, `category`,
    /// `products_collection`.
    #[error("unknown object {0:?}")]
    UnknownObject(String),
    /// `effect` is none of `APPLY_TO_EVERY`, `APPLY_TO_CHEAPEST`,
    /// `APPLY_TO_MOST_EXPENSIVE`.
    #[error("unknown effect {0:?}")]
    UnknownEffect(String),
    /// Neither `id` nor `source_id` (required but for collections).
    #[error("missing id")]
    MissingId,
    /// An id longer than [`ID_LEN_MAX`].
    #[error("id longer than {ID_LEN_MAX} bytes")]
    IdTooLong,
    /// An amount limit below zero or above [`AMOUNT_MAJOR_MAX`].
    #[error("amount limit out of range")]
    AmountLimitOutOfRange,
}

/// One checked entry of `included` or `excluded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    object: TargetObject,
    id: Option<String>,
    source_id: Option<String>,
    effect: TargetEffect,
    quantity_limit: Option<u64>,
    aggregated_quantity_limit: Option<u64>,
    amount_limit: Option<Decimal>,
    aggregated_amount_limit: Option<Decimal>,
}

/// Text cut to a length fit for an error message.
fn cut(text: &str) -> String {
    text.chars().take(32).collect()
}

impl Target {
    fn parse(raw: &RawTarget) -> Result<Target, TargetProblem> {
        let object = TargetObject::parse(&raw.object)
            .ok_or_else(|| TargetProblem::UnknownObject(cut(&raw.object)))?;
        let effect = match raw.effect.as_deref() {
            None => TargetEffect::Every,
            Some(name) => {
                TargetEffect::parse(name).ok_or_else(|| TargetProblem::UnknownEffect(cut(name)))?
            }
        };
        let id = raw.id.clone().filter(|id| !id.is_empty());
        let source_id = raw.source_id.clone().filter(|id| !id.is_empty());
        if object != TargetObject::ProductsCollection && id.is_none() && source_id.is_none() {
            return Err(TargetProblem::MissingId);
        }
        let too_long = |id: &Option<String>| id.as_ref().is_some_and(|id| id.len() > ID_LEN_MAX);
        if too_long(&id) || too_long(&source_id) {
            return Err(TargetProblem::IdTooLong);
        }
        let amount = |limit: Option<Decimal>| match limit {
            Some(a) if a.is_sign_negative() && !a.is_zero() => {
                Err(TargetProblem::AmountLimitOutOfRange)
            }
            Some(a) if a > Decimal::from(AMOUNT_MAJOR_MAX) => {
                Err(TargetProblem::AmountLimitOutOfRange)
            }
            Some(a) if a.is_zero() => Ok(None),
            other => Ok(other),
        };
        Ok(Target {
            object,
            id,
            source_id,
            effect,
            quantity_limit: raw.quantity_limit.filter(|q| *q > 0),
            aggregated_quantity_limit: raw.aggregated_quantity_limit.filter(|q| *q > 0),
            amount_limit: amount(raw.amount_limit)?,
            aggregated_amount_limit: amount(raw.aggregated_amount_limit)?,
        })
    }

    /// What the entry refers to.
    pub fn object(&self) -> TargetObject {
        self.object
    }

    /// The id it matches, if given.
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref()
    }

    /// The source id it matches too, if given.
    pub fn source_id(&self) -> Option<&str> {
        self.source_id.as_deref()
    }

    /// Which of its lines the entry applies to.
    pub fn effect(&self) -> TargetEffect {
        self.effect
    }

    /// Most units discounted per line.
    pub fn quantity_limit(&self) -> Option<u64> {
        self.quantity_limit
    }

    /// Most units discounted over all lines the entry governs.
    pub fn aggregated_quantity_limit(&self) -> Option<u64> {
        self.aggregated_quantity_limit
    }

    /// Most discount per line, in major units.
    pub fn amount_limit(&self) -> Option<Decimal> {
        self.amount_limit
    }

    /// Most discount over all lines the entry governs, in major units.
    pub fn aggregated_amount_limit(&self) -> Option<Decimal> {
        self.aggregated_amount_limit
    }

    /// True when the entry refers to the line.
    pub fn matches(&self, line: &Line<'_>) -> bool {
        let is_ours = |candidate: &str| {
            self.id.as_deref() == Some(candidate) || self.source_id.as_deref() == Some(candidate)
        };
        match self.object {
            TargetObject::Product => line.product_id.as_deref().is_some_and(is_ours),
            TargetObject::Sku => line.sku_id.as_deref().is_some_and(is_ours),
            TargetObject::Category => line.categories.iter().any(|c| is_ours(c)),
            TargetObject::ProductsCollection => true,
        }
    }
}

/// Whether `included_all` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inclusion {
    /// Only the lines the `included` entries match (when there are any).
    Listed,
    /// Every line; `included` entries only set limits and effects.
    All,
}

/// The checked `applicable_to` of a rule set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplicableTo {
    included: Vec<Target>,
    excluded: Vec<Target>,
    inclusion: Inclusion,
}

impl ApplicableTo {
    pub(crate) fn parse(raw: &RawApplicableTo) -> Result<ApplicableTo, RuleError> {
        let list = |entries: &[RawTarget], list: TargetList| {
            if entries.len() > APPLICABLE_TARGETS_MAX {
                return Err(RuleError::TooManyTargets { list });
            }
            entries
                .iter()
                .enumerate()
                .map(|(index, raw)| {
                    Target::parse(raw).map_err(|problem| RuleError::InvalidTarget {
                        list,
                        index,
                        problem,
                    })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(ApplicableTo {
            included: list(&raw.included, TargetList::Included)?,
            excluded: list(&raw.excluded, TargetList::Excluded)?,
            inclusion: if raw.included_all {
                Inclusion::All
            } else {
                Inclusion::Listed
            },
        })
    }

    /// The `included` entries.
    pub fn included(&self) -> &[Target] {
        &self.included
    }

    /// The `excluded` entries.
    pub fn excluded(&self) -> &[Target] {
        &self.excluded
    }

    /// Whether `included_all` is set.
    pub fn inclusion(&self) -> Inclusion {
        self.inclusion
    }

    /// True when entries name items to include or exclude: Voucherify then
    /// defaults an AMOUNT or PERCENT discount to `APPLY_TO_ITEMS`.
    pub fn has_item_targets(&self) -> bool {
        !self.included.is_empty() || !self.excluded.is_empty()
    }

    /// The lines a discount may touch, in line order: `None` when nothing
    /// restricts it (every line, no limits), `Some(vec![])` when no line is
    /// applicable. See the module documentation for the rules.
    pub fn targets(&self, order: &CheckedOrder<'_>) -> Option<Vec<LineTarget>> {
        if !self.has_item_targets() {
            return None;
        }
        let listed_only = self.inclusion == Inclusion::Listed && !self.included.is_empty();
        // Each applicable line with the index of the entry governing it.
        let mut chosen: Vec<(usize, Option<usize>)> = Vec::with_capacity(order.lines.len());
        for (index, line) in order.lines.iter().enumerate() {
            if self.excluded.iter().any(|t| t.matches(line)) {
                continue;
            }
            let governing = self.included.iter().position(|t| t.matches(line));
            if governing.is_none() && listed_only {
                continue;
            }
            chosen.push((index, governing));
        }
        for (entry, target) in self.included.iter().enumerate() {
            let prefer = match target.effect {
                TargetEffect::Every => continue,
                TargetEffect::Cheapest => Ordering::Less,
                TargetEffect::MostExpensive => Ordering::Greater,
            };
            let mut best: Option<usize> = None;
            for (index, governing) in &chosen {
                if *governing != Some(entry) {
                    continue;
                }
                let better = match best.and_then(|b| order.lines.get(b)) {
                    None => true,
                    Some(best_line) => order
                        .lines
                        .get(*index)
                        .is_some_and(|line| compare_unit_price(line, best_line) == prefer),
                };
                if better {
                    best = Some(*index);
                }
            }
            chosen.retain(|(index, governing)| *governing != Some(entry) || Some(*index) == best);
        }
        let currency = order.currency;
        let mut quantity_left: Vec<Option<u64>> = self
            .included
            .iter()
            .map(|t| t.aggregated_quantity_limit)
            .collect();
        let mut amount_left: Vec<Option<i64>> = self
            .included
            .iter()
            .map(|t| t.aggregated_amount_limit.map(|a| to_minor(a, currency)))
            .collect();
        let mut targets = Vec::with_capacity(chosen.len());
        for (index, governing) in chosen {
            let (Some(line), Some(entry)) = (order.lines.get(index), governing) else {
                targets.push(LineTarget {
                    line: index,
                    quantity_limit: None,
                    amount_limit_minor: None,
                });
                continue;
            };
            let Some(target) = self.included.get(entry) else {
                continue;
            };
            let mut quantity_limit = target.quantity_limit.map(|q| q.min(line.quantity));
            if let Some(Some(left)) = quantity_left.get_mut(entry) {
                let units = quantity_limit.unwrap_or(line.quantity).min(*left);
                if units == 0 {
                    continue;
                }
                *left -= units;
                quantity_limit = Some(units);
            }
            let mut amount_limit_minor = target.amount_limit.map(|a| to_minor(a, currency));
            if let Some(Some(left)) = amount_left.get_mut(entry) {
                let limit = amount_limit_minor.map_or(*left, |a| a.min(*left));
                if limit <= 0 {
                    continue;
                }
                let units = quantity_limit.unwrap_or(line.quantity);
                *left -= limit.min(capacity(line, units));
                amount_limit_minor = Some(limit);
            }
            targets.push(LineTarget {
                line: index,
                quantity_limit,
                amount_limit_minor,
            });
        }
        Some(targets)
    }
}

/// Orders two lines by unit price (the price, else amount over quantity).
fn compare_unit_price(a: &Line<'_>, b: &Line<'_>) -> Ordering {
    let unit = |line: &Line<'_>| match line.price_minor {
        Some(price) => (i128::from(price), 1i128),
        None => (
            i128::from(line.amount_minor),
            i128::from(line.quantity.max(1)),
        ),
    };
    let ((a_amount, a_units), (b_amount, b_units)) = (unit(a), unit(b));
    (a_amount * b_units).cmp(&(b_amount * a_units))
}

/// The most discount `units` units of the line can take: its amount, or
/// that share of it, rounded up so that the line is never short.
fn capacity(line: &Line<'_>, units: u64) -> i64 {
    let amount = line.amount_minor.max(0);
    if units >= line.quantity {
        return amount;
    }
    let share = match line.price_minor {
        Some(price) => i128::from(price) * i128::from(units),
        None => {
            let numerator = i128::from(amount) * i128::from(units);
            let quantity = i128::from(line.quantity.max(1));
            (numerator + quantity - 1) / quantity
        }
    };
    i64::try_from(share.min(i128::from(amount))).unwrap_or(amount)
}

/// A major-unit limit in minor units, cut toward zero. Parsing bounds the
/// limit to [`AMOUNT_MAJOR_MAX`], so it fits; were it not to, the limit
/// would be 0 (nothing discounted) rather than none.
fn to_minor(major: Decimal, currency: Currency) -> i64 {
    Decimal::from(10_i64.pow(currency.minor_unit()))
        .checked_mul(major)
        .map(|minor| minor.trunc())
        .and_then(|minor| i64::try_from(minor).ok())
        .unwrap_or(0)
}

/// Intersects the targets of several rule sets (a voucher may carry
/// several): a line is applicable when every set allows it, with the
/// tighter of the limits. `None` inputs restrict nothing; the result is
/// `None` only when every input is. Lines come out in line order.
pub fn combine_targets(
    targets: impl IntoIterator<Item = Option<Vec<LineTarget>>>,
) -> Option<Vec<LineTarget>> {
    let mut acc: Option<Vec<LineTarget>> = None;
    for next in targets {
        let Some(next) = next else { continue };
        let next = normalise(next);
        acc = Some(match acc {
            None => next,
            Some(acc) => merge(acc, next),
        });
    }
    acc
}

/// Sorted by line, one target per line (duplicates keep the tighter limits).
fn normalise(mut targets: Vec<LineTarget>) -> Vec<LineTarget> {
    targets.sort_by_key(|t| t.line);
    let mut out: Vec<LineTarget> = Vec::with_capacity(targets.len());
    for target in targets {
        match out.last_mut() {
            Some(last) if last.line == target.line => *last = tighter(*last, target),
            _ => out.push(target),
        }
    }
    out
}

fn merge(a: Vec<LineTarget>, b: Vec<LineTarget>) -> Vec<LineTarget> {
    let mut out = Vec::with_capacity(a.len().min(b.len()));
    let mut b = b.into_iter().peekable();
    for x in a {
        while b.next_if(|y| y.line < x.line).is_some() {}
        if let Some(y) = b.next_if(|y| y.line == x.line) {
            out.push(tighter(x, y));
        }
    }
    out
}

fn tighter(a: LineTarget, b: LineTarget) -> LineTarget {
    fn min<T: Ord>(a: Option<T>, b: Option<T>) -> Option<T> {
        match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, None) => a,
            (None, b) => b,
        }
    }
    LineTarget {
        line: a.line,
        quantity_limit: min(a.quantity_limit, b.quantity_limit),
        amount_limit_minor: min(a.amount_limit_minor, b.amount_limit_minor),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn line(
        product: &str,
        sku: &str,
        quantity: u64,
        price: Option<i64>,
        amount: i64,
    ) -> Line<'static> {
        Line {
            product_id: Some(product.to_owned().into()),
            sku_id: Some(sku.to_owned().into()),
            quantity,
            price_minor: price,
            amount_minor: amount,
            categories: Vec::new().into(),
            source_index: None,
        }
    }

    fn in_category(mut line: Line<'static>, categories: &[&str]) -> Line<'static> {
        line.categories = categories
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .into();
        line
    }

    fn order(currency: Currency, lines: Vec<Line<'static>>) -> CheckedOrder<'static> {
        CheckedOrder {
            currency,
            amount_minor: Some(lines.iter().map(|l| l.amount_minor).sum()),
            lines,
        }
    }

    /// 0: p1/s1 3 x 10.00, shoes + sale; 1: p2/s2 1 x 25.50, hats;
    /// 2: p3/s3 2 units, 10.00, no price, no category.
    fn shop() -> CheckedOrder<'static> {
        order(
            Currency::EUR,
            vec![
                in_category(line("p1", "s1", 3, Some(1000), 3000), &["shoes", "sale"]),
                in_category(line("p2", "s2", 1, Some(2550), 2550), &["hats"]),
                line("p3", "s3", 2, None, 1000),
            ],
        )
    }

    /// Tea: three lines of category tea, 10.00 a unit: 3, 2 and 4 units.
    fn tea() -> CheckedOrder<'static> {
        order(
            Currency::EUR,
            vec![
                in_category(line("t1", "t1", 3, Some(1000), 3000), &["tea"]),
                in_category(line("t2", "t2", 2, Some(1000), 2000), &["tea"]),
                in_category(line("t3", "t3", 4, Some(1000), 4000), &["tea"]),
            ],
        )
    }

    fn applicable(json: serde_json::Value) -> ApplicableTo {
        let raw: RawApplicableTo = serde_json::from_value(json).unwrap();
        ApplicableTo::parse(&raw).unwrap()
    }

    /// A target: line, quantity limit, amount limit in minor units.
    fn t(line: usize, quantity: Option<u64>, amount: Option<i64>) -> LineTarget {
        LineTarget {
            line,
            quantity_limit: quantity,
            amount_limit_minor: amount,
        }
    }

    fn check(json: serde_json::Value, order: &CheckedOrder<'_>, expected: Option<Vec<LineTarget>>) {
        assert_eq!(applicable(json.clone()).targets(order), expected, "{json}");
    }

    #[test]
    fn no_entries_restrict_nothing() {
        check(json!({}), &shop(), None);
        check(
            json!({"included": [], "excluded": [], "included_all": true}),
            &shop(),
            None,
        );
        assert!(!applicable(json!({"included_all": true})).has_item_targets());
        assert!(applicable(json!({"excluded": [{"object": "sku", "id": "s"}]})).has_item_targets());
        assert!(applicable(json!({"included": [{"object": "sku", "id": "s"}]})).has_item_targets());
    }

    #[test]
    fn included_entries_restrict_to_their_lines() {
        let shop = shop();
        check(
            json!({"included": [{"object": "product", "id": "p1"}]}),
            &shop,
            Some(vec![t(0, None, None)]),
        );
        check(
            json!({"included": [{"object": "sku", "id": "s2"}]}),
            &shop,
            Some(vec![t(1, None, None)]),
        );
        check(
            json!({"included": [{"object": "category", "id": "shoes"}]}),
            &shop,
            Some(vec![t(0, None, None)]),
        );
        check(
            json!({"included": [{"object": "product", "id": "prod_x", "source_id": "p3"}]}),
            &shop,
            Some(vec![t(2, None, None)]),
        );
        check(
            json!({"included": [{"object": "product", "id": "p2"}, {"object": "category", "id": "sale"}]}),
            &shop,
            Some(vec![t(0, None, None), t(1, None, None)]),
        );
        check(
            json!({"included": [{"object": "product", "id": "p9"}]}),
            &shop,
            Some(vec![]),
        );
        // A sku entry does not match on the product id.
        check(
            json!({"included": [{"object": "sku", "id": "p1"}]}),
            &shop,
            Some(vec![]),
        );
        check(
            json!({"included": [{"object": "products_collection", "id": "pc_all"}]}),
            &shop,
            Some(vec![t(0, None, None), t(1, None, None), t(2, None, None)]),
        );
    }

    #[test]
    fn excluded_wins() {
        let shop = shop();
        check(
            json!({"excluded": [{"object": "product", "id": "p1"}]}),
            &shop,
            Some(vec![t(1, None, None), t(2, None, None)]),
        );
        check(
            json!({"included": [{"object": "product", "id": "p1"}, {"object": "product", "id": "p2"}],
                   "excluded": [{"object": "category", "id": "sale"}]}),
            &shop,
            Some(vec![t(1, None, None)]),
        );
        check(
            json!({"included": [{"object": "products_collection"}],
                   "excluded": [{"object": "category", "id": "hats"}], "included_all": false}),
            &shop,
            Some(vec![t(0, None, None), t(2, None, None)]),
        );
    }

    #[test]
    fn included_all_keeps_every_line_and_the_limits_of_entries() {
        check(
            json!({"included_all": true, "included": [{"object": "product", "id": "p1", "quantity_limit": 2}],
                   "excluded": [{"object": "sku", "id": "s3"}]}),
            &shop(),
            Some(vec![t(0, Some(2), None), t(1, None, None)]),
        );
    }

    #[test]
    fn per_line_limits() {
        let shop = shop();
        let p1 = |extra: serde_json::Value| {
            let mut entry = json!({"object": "product", "id": "p1"});
            entry
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json!({"included": [entry]})
        };
        check(
            p1(json!({"quantity_limit": 2})),
            &shop,
            Some(vec![t(0, Some(2), None)]),
        );
        // Capped at the line's units.
        check(
            p1(json!({"quantity_limit": 5})),
            &shop,
            Some(vec![t(0, Some(3), None)]),
        );
        // Zero means no limit.
        check(
            p1(json!({"quantity_limit": 0, "amount_limit": 0})),
            &shop,
            Some(vec![t(0, None, None)]),
        );
        check(
            p1(json!({"amount_limit": 5})),
            &shop,
            Some(vec![t(0, None, Some(500))]),
        );
        // Cut toward zero to the minor unit.
        check(
            p1(json!({"amount_limit": 5.009})),
            &shop,
            Some(vec![t(0, None, Some(500))]),
        );
        let mut yen = shop.clone();
        yen.currency = Currency::JPY;
        check(
            p1(json!({"amount_limit": 5.5})),
            &yen,
            Some(vec![t(0, None, Some(5))]),
        );
        let mut dinar = shop.clone();
        dinar.currency = Currency::KWD;
        check(
            p1(json!({"amount_limit": "5.5"})),
            &dinar,
            Some(vec![t(0, None, Some(5500))]),
        );
    }

    #[test]
    fn aggregated_quantity_is_handed_out_in_line_order() {
        let tea = tea();
        let entry = |extra: serde_json::Value| {
            let mut entry = json!({"object": "category", "id": "tea"});
            entry
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json!({"included": [entry]})
        };
        check(
            entry(json!({"aggregated_quantity_limit": 4})),
            &tea,
            Some(vec![t(0, Some(3), None), t(1, Some(1), None)]),
        );
        check(
            entry(json!({"aggregated_quantity_limit": 5, "quantity_limit": 2})),
            &tea,
            Some(vec![
                t(0, Some(2), None),
                t(1, Some(2), None),
                t(2, Some(1), None),
            ]),
        );
        check(
            entry(json!({"aggregated_quantity_limit": 100})),
            &tea,
            Some(vec![
                t(0, Some(3), None),
                t(1, Some(2), None),
                t(2, Some(4), None),
            ]),
        );
    }

    #[test]
    fn aggregated_amount_is_handed_out_in_line_order() {
        let tea = tea();
        let entry = |extra: serde_json::Value| {
            let mut entry = json!({"object": "category", "id": "tea"});
            entry
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            json!({"included": [entry]})
        };
        // Line 0 may take all 45.00 but can use 30.00 at most; 15.00 remain.
        check(
            entry(json!({"aggregated_amount_limit": 45})),
            &tea,
            Some(vec![t(0, None, Some(4500)), t(1, None, Some(1500))]),
        );
        check(
            entry(json!({"aggregated_amount_limit": 45, "amount_limit": 10})),
            &tea,
            Some(vec![
                t(0, None, Some(1000)),
                t(1, None, Some(1000)),
                t(2, None, Some(1000)),
            ]),
        );
        // With one unit a line, each line can use 10.00 at most.
        check(
            entry(json!({"aggregated_amount_limit": 25, "quantity_limit": 1})),
            &tea,
            Some(vec![
                t(0, Some(1), Some(2500)),
                t(1, Some(1), Some(1500)),
                t(2, Some(1), Some(500)),
            ]),
        );
    }

    #[test]
    fn cheapest_and_most_expensive_lines() {
        let mixed = order(
            Currency::EUR,
            vec![
                in_category(line("a", "a", 2, Some(500), 1000), &["tea"]),
                in_category(line("b", "b", 1, None, 300), &["tea"]),
                in_category(line("c", "c", 3, None, 900), &["tea"]),
                in_category(line("d", "d", 1, Some(900), 900), &["tea"]),
                in_category(line("e", "e", 1, Some(100), 100), &["coffee"]),
            ],
        );
        let effect = |effect: &str| {
            json!({"included": [{"object": "category", "id": "tea", "effect": effect,
                                 "quantity_limit": 1},
                                {"object": "category", "id": "coffee"}]})
        };
        // b and c both cost 3.00 a unit: the earlier line wins.
        check(
            effect("APPLY_TO_CHEAPEST"),
            &mixed,
            Some(vec![t(1, Some(1), None), t(4, None, None)]),
        );
        check(
            effect("APPLY_TO_MOST_EXPENSIVE"),
            &mixed,
            Some(vec![t(3, Some(1), None), t(4, None, None)]),
        );
        check(
            effect("APPLY_TO_EVERY"),
            &mixed,
            Some(vec![
                t(0, Some(1), None),
                t(1, Some(1), None),
                t(2, Some(1), None),
                t(3, Some(1), None),
                t(4, None, None),
            ]),
        );
    }

    #[test]
    fn the_first_matching_entry_governs_a_line() {
        check(
            json!({"included": [{"object": "category", "id": "sale", "quantity_limit": 1},
                                {"object": "product", "id": "p1", "quantity_limit": 2}]}),
            &shop(),
            Some(vec![t(0, Some(1), None)]),
        );
    }

    #[test]
    fn intersection_keeps_common_lines_with_the_tighter_limits() {
        let check_intersection =
            |inputs: Vec<Option<Vec<LineTarget>>>, expected: Option<Vec<LineTarget>>| {
                assert_eq!(combine_targets(inputs.clone()), expected, "{inputs:?}");
            };
        check_intersection(vec![], None);
        check_intersection(vec![None, None], None);
        check_intersection(
            vec![None, Some(vec![t(1, None, None), t(0, None, None)])],
            Some(vec![t(0, None, None), t(1, None, None)]),
        );
        check_intersection(
            vec![
                Some(vec![t(0, Some(5), None), t(1, None, None)]),
                None,
                Some(vec![t(1, None, Some(100)), t(2, None, None)]),
            ],
            Some(vec![t(1, None, Some(100))]),
        );
        check_intersection(
            vec![
                Some(vec![t(0, Some(5), Some(300))]),
                Some(vec![t(0, Some(3), Some(400))]),
            ],
            Some(vec![t(0, Some(3), Some(300))]),
        );
        check_intersection(
            vec![Some(vec![]), Some(vec![t(0, None, None)])],
            Some(vec![]),
        );
        check_intersection(
            vec![Some(vec![t(2, Some(4), None), t(2, Some(1), None)])],
            Some(vec![t(2, Some(1), None)]),
        );
    }

    fn arbitrary_order() -> impl Strategy<Value = CheckedOrder<'static>> {
        let line = (
            0u8..4,
            0u8..4,
            1u64..6,
            prop::option::of(0i64..2000),
            prop::sample::subsequence(vec!["a", "b", "c"], 0..3),
        )
            .prop_map(|(product, sku, quantity, price, categories)| {
                let amount = price.map_or(quantity as i64 * 700, |p| p * quantity as i64);
                in_category(
                    line(
                        &format!("p{product}"),
                        &format!("s{sku}"),
                        quantity,
                        price,
                        amount,
                    ),
                    &categories,
                )
            });
        prop::collection::vec(line, 0..12).prop_map(|lines| order(Currency::EUR, lines))
    }

    fn arbitrary_entry() -> impl Strategy<Value = serde_json::Value> {
        (
            prop::sample::select(vec!["product", "sku", "category", "products_collection"]),
            0u8..4,
            prop::sample::select(vec![
                "APPLY_TO_EVERY",
                "APPLY_TO_CHEAPEST",
                "APPLY_TO_MOST_EXPENSIVE",
            ]),
            prop::option::of(0u64..5),
            prop::option::of(0u64..10),
            prop::option::of(0u32..5000),
            prop::option::of(0u32..10000),
        )
            .prop_map(|(object, id, effect, q, aq, a, aa)| {
                let id = match object {
                    "product" => format!("p{id}"),
                    "sku" => format!("s{id}"),
                    _ => ["a", "b", "c", "d"][usize::from(id)].to_owned(),
                };
                json!({"object": object, "id": id, "effect": effect, "quantity_limit": q,
                       "aggregated_quantity_limit": aq,
                       "amount_limit": a.map(|a| f64::from(a) / 100.0),
                       "aggregated_amount_limit": aa.map(|a| f64::from(a) / 100.0)})
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn targets_respect_exclusions_and_limits(
            order in arbitrary_order(),
            included in prop::collection::vec(arbitrary_entry(), 0..4),
            excluded in prop::collection::vec(arbitrary_entry(), 0..3),
            included_all in any::<bool>(),
        ) {
            let applicable = applicable(json!({"included": included, "excluded": excluded,
                                               "included_all": included_all}));
            let Some(targets) = applicable.targets(&order) else {
                prop_assert!(!applicable.has_item_targets());
                return Ok(());
            };
            prop_assert!(targets.windows(2).all(|w| w[0].line < w[1].line));
            for target in &targets {
                let line = &order.lines[target.line];
                prop_assert!(!applicable.excluded().iter().any(|e| e.matches(line)));
                prop_assert!(target.quantity_limit.is_none_or(|q| q >= 1 && q <= line.quantity));
                prop_assert!(target.amount_limit_minor.is_none_or(|a| a >= 1));
            }
            // Aggregated limits hold over the lines each entry governs.
            for (entry, target) in applicable.included().iter().enumerate() {
                let governed: Vec<&LineTarget> = targets
                    .iter()
                    .filter(|t| applicable.included().iter().position(|e| e.matches(&order.lines[t.line])) == Some(entry))
                    .collect();
                if let Some(limit) = target.aggregated_quantity_limit() {
                    let units: u64 = governed.iter().map(|t| t.quantity_limit.unwrap_or(u64::MAX)).sum();
                    prop_assert!(units <= limit);
                }
                if let Some(limit) = target.aggregated_amount_limit() {
                    let limit = to_minor(limit, Currency::EUR);
                    // What each line can use: its limit, at most its capacity.
                    let used: i64 = governed
                        .iter()
                        .map(|t| {
                            let line = &order.lines[t.line];
                            let cap = capacity(line, t.quantity_limit.unwrap_or(line.quantity));
                            t.amount_limit_minor.unwrap_or(i64::MAX).min(cap)
                        })
                        .sum();
                    prop_assert!(used <= limit, "{} > {}", used, limit);
                }
                if target.effect() != TargetEffect::Every {
                    prop_assert!(governed.len() <= 1);
                }
            }
            // Intersecting with itself changes nothing; with None neither.
            prop_assert_eq!(combine_targets([Some(targets.clone()), Some(targets.clone())]), Some(targets.clone()));
            prop_assert_eq!(combine_targets([None, Some(targets.clone())]), Some(targets));
        }

        #[test]
        fn intersection_is_commutative_and_shrinks(
            a in prop::collection::vec((0usize..8, prop::option::of(1u64..5), prop::option::of(1i64..500)), 0..8),
            b in prop::collection::vec((0usize..8, prop::option::of(1u64..5), prop::option::of(1i64..500)), 0..8),
        ) {
            let targets = |v: &Vec<(usize, Option<u64>, Option<i64>)>| v.iter().map(|(l, q, a)| t(*l, *q, *a)).collect::<Vec<_>>();
            let (a, b) = (targets(&a), targets(&b));
            let ab = combine_targets([Some(a.clone()), Some(b.clone())]).unwrap();
            let ba = combine_targets([Some(b.clone()), Some(a.clone())]).unwrap();
            prop_assert_eq!(&ab, &ba);
            for target in &ab {
                prop_assert!(a.iter().any(|x| x.line == target.line));
                prop_assert!(b.iter().any(|x| x.line == target.line));
            }
            let common = (0..8).filter(|l| a.iter().any(|x| x.line == *l) && b.iter().any(|x| x.line == *l)).count();
            prop_assert_eq!(ab.len(), common);
        }
    }
}
