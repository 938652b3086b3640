//! What a rule tests: the [`Property`] (`order.amount`, `product.id`,
//! `customer.metadata` ...), the [`RuleCategory`] it refuses under, and the
//! conditions (`$is`, `$more_than`, `$count` ...) compiled once into a form
//! that evaluates without allocating.
//!
//! Semantics, by the kind of property:
//! - numbers (amounts, prices, quantities, counts): `$is`/`$in` equal any
//!   value, `$is_not`/`$not_in` equal none, `$less_than` ... compare with the
//!   one value. Money is compared in MAJOR units (`100.5`); the order is in
//!   minor units and is converted exactly. A missing number (an order
//!   without amount, a line without price) fails every condition except
//!   `$is_not`/`$not_in`.
//! - identifiers (`product.id`, `sku.id`): equality as above, and
//!   `$starts_with`/`$ends_with`/`$contains` with any of the values
//!   (case-sensitive).
//! - sets of texts (`customer.segment`, `product.category`): `$is`/`$in`
//!   hold when any element equals any value, `$is_not`/`$not_in` when none
//!   does, the text conditions when any element matches.
//! - metadata (`customer.metadata`, `order.metadata`): all conditions. Two
//!   scalars are equal when their texts are equal, or both read as numbers
//!   and are equal (`"3.0"` is `3`), or both are the same boolean. A list
//!   value holds a condition when any of its elements does (`$is_not`: when
//!   none equals). A missing key or `null` fails every condition except
//!   `$is_not`/`$not_in` and counts 0.
//! - `$count`/`$count_more`/`$count_less` take one whole number and compare
//!   a count: the elements of a list (a metadata list; a metadata scalar
//!   counts 1), the customer's segments, or, for an item property at the
//!   order level, the lines that match the rest of the rule (see
//!   [`super`]).

use std::fmt;

use rust_decimal::Decimal;

use super::{RuleFacts, Scope};
use crate::limits::{RULE_METADATA_KEY_LEN_MAX, RULE_VALUES_MAX, RULE_VALUE_TEXT_LEN_MAX};
use crate::money::Currency;
use crate::order::Line;
use crate::value::Value;

/// The refusal reason a failing rule gives, by the property it tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleCategory {
    /// `customer.*`: refused with `customer_rules_violated`.
    Customer,
    /// `order.*`, `product.*`, `sku.*`: refused with `order_rules_violated`.
    Order,
    /// Redemption counters and the campaign budget: refused with
    /// `redemption_rules_violated`.
    Redemption,
}

impl RuleCategory {
    /// The wire's error key for a refusal in this category.
    pub fn key(self) -> &'static str {
        match self {
            RuleCategory::Customer => "customer_rules_violated",
            RuleCategory::Order => "order_rules_violated",
            RuleCategory::Redemption => "redemption_rules_violated",
        }
    }
}

impl fmt::Display for RuleCategory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// A property a rule can test, named as Voucherify names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Property {
    /// `customer.segment`: the customer's segments.
    CustomerSegment,
    /// `customer.metadata` with its `property` key.
    CustomerMetadata(String),
    /// `order.amount`: the order amount before discounts (money).
    OrderAmount,
    /// `order.items.count`: the number of lines.
    OrderItemsCount,
    /// `order.items.quantity`: the number of units, all lines together.
    OrderItemsQuantity,
    /// `order.metadata` with its `property` key.
    OrderMetadata(String),
    /// `product.id`: a line's product id (item property).
    ProductId,
    /// `product.price`: a line's unit price (money, item property).
    ProductPrice,
    /// `product.quantity`: a line's units (item property).
    ProductQuantity,
    /// `product.amount`: a line's amount (money, item property).
    ProductAmount,
    /// `product.category`: a line's categories (item property).
    ProductCategory,
    /// `sku.id`: a line's SKU id (item property).
    SkuId,
    /// `sku.price`: a line's unit price (money, item property).
    SkuPrice,
    /// `sku.quantity`: a line's units (item property).
    SkuQuantity,
    /// `sku.amount`: a line's amount (money, item property).
    SkuAmount,
    /// `redemption.count.per_customer`: this customer's redemptions of the
    /// voucher, counting the one being validated (so `$less_than_or_equal
    /// [1]` means once per customer, as in Voucherify).
    RedemptionCountPerCustomer,
    /// `campaign.redemptions.count`: the campaign's redemptions, counting
    /// the one being validated.
    CampaignRedemptionsCount,
    /// `campaign.orders.amount_discounted`: the discount the campaign has
    /// given so far, before this redemption (money).
    CampaignOrdersAmountDiscounted,
}

/// The shape of a property's value, which decides its conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Number,
    Identifier,
    TextSet,
    Metadata,
}

/// Why a property could not be named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PropertyProblem {
    Unknown,
    MissingKey(&'static str),
    KeyTooLong,
}

impl Property {
    /// The property called `name`, with `key` the rule's `property` field
    /// (needed by the metadata properties, ignored by the others).
    pub(crate) fn parse(name: &str, key: Option<&str>) -> Result<Property, PropertyProblem> {
        let metadata_key = |name: &'static str| match key {
            None | Some("") => Err(PropertyProblem::MissingKey(name)),
            Some(key) if key.len() > RULE_METADATA_KEY_LEN_MAX => Err(PropertyProblem::KeyTooLong),
            Some(key) => Ok(key.to_owned()),
        };
        Ok(match name {
            "customer.segment" => Property::CustomerSegment,
            "customer.metadata" => Property::CustomerMetadata(metadata_key("customer.metadata")?),
            "order.amount" => Property::OrderAmount,
            "order.items.count" => Property::OrderItemsCount,
            "order.items.quantity" => Property::OrderItemsQuantity,
            "order.metadata" => Property::OrderMetadata(metadata_key("order.metadata")?),
            "product.id" => Property::ProductId,
            "product.price" => Property::ProductPrice,
            "product.quantity" => Property::ProductQuantity,
            "product.amount" => Property::ProductAmount,
            "product.category" => Property::ProductCategory,
            "sku.id" => Property::SkuId,
            "sku.price" => Property::SkuPrice,
            "sku.quantity" => Property::SkuQuantity,
            "sku.amount" => Property::SkuAmount,
            "redemption.count.per_customer" => Property::RedemptionCountPerCustomer,
            "campaign.redemptions.count" => Property::CampaignRedemptionsCount,
            "campaign.orders.amount_discounted" => Property::CampaignOrdersAmountDiscounted,
            _ => return Err(PropertyProblem::Unknown),
        })
    }

    /// The wire name, such as `order.amount`.
    pub fn name(&self) -> &'static str {
        match self {
            Property::CustomerSegment => "customer.segment",
            Property::CustomerMetadata(_) => "customer.metadata",
            Property::OrderAmount => "order.amount",
            Property::OrderItemsCount => "order.items.count",
            Property::OrderItemsQuantity => "order.items.quantity",
            Property::OrderMetadata(_) => "order.metadata",
            Property::ProductId => "product.id",
            Property::ProductPrice => "product.price",
            Property::ProductQuantity => "product.quantity",
            Property::ProductAmount => "product.amount",
            Property::ProductCategory => "product.category",
            Property::SkuId => "sku.id",
            Property::SkuPrice => "sku.price",
            Property::SkuQuantity => "sku.quantity",
            Property::SkuAmount => "sku.amount",
            Property::RedemptionCountPerCustomer => "redemption.count.per_customer",
            Property::CampaignRedemptionsCount => "campaign.redemptions.count",
            Property::CampaignOrdersAmountDiscounted => "campaign.orders.amount_discounted",
        }
    }

    /// The metadata key of `customer.metadata` and `order.metadata`.
    pub fn metadata_key(&self) -> Option<&str> {
        match self {
            Property::CustomerMetadata(key) | Property::OrderMetadata(key) => Some(key),
            _ => None,
        }
    }

    /// The refusal category of a rule on this property.
    pub fn category(&self) -> RuleCategory {
        match self {
            Property::CustomerSegment | Property::CustomerMetadata(_) => RuleCategory::Customer,
            Property::RedemptionCountPerCustomer
            | Property::CampaignRedemptionsCount
            | Property::CampaignOrdersAmountDiscounted => RuleCategory::Redemption,
            _ => RuleCategory::Order,
        }
    }

    /// True for the properties of one line (`product.*`, `sku.*`).
    pub fn is_item(&self) -> bool {
        matches!(
            self,
            Property::ProductId
                | Property::ProductPrice
                | Property::ProductQuantity
                | Property::ProductAmount
                | Property::ProductCategory
                | Property::SkuId
                | Property::SkuPrice
                | Property::SkuQuantity
                | Property::SkuAmount
        )
    }

    /// True for the properties compared as money (in major units):
    /// `order.amount`, `product.price|amount`, `sku.price|amount`,
    /// `campaign.orders.amount_discounted`.
    pub fn is_money(&self) -> bool {
        matches!(
            self,
            Property::OrderAmount
                | Property::ProductPrice
                | Property::ProductAmount
                | Property::SkuPrice
                | Property::SkuAmount
                | Property::CampaignOrdersAmountDiscounted
        )
    }

    /// True when a rule named `name` compares money: the HTTP adapter
    /// divides the wire's integers (value times 100) by 100 in the
    /// conditions of such rules before building a [`super::RawRuleSet`].
    pub fn is_money_name(name: &str) -> bool {
        Property::parse(name, Some("key")).is_ok_and(|p| p.is_money())
    }

    pub(crate) fn kind(&self) -> Kind {
        match self {
            Property::CustomerMetadata(_) | Property::OrderMetadata(_) => Kind::Metadata,
            Property::CustomerSegment | Property::ProductCategory => Kind::TextSet,
            Property::ProductId | Property::SkuId => Kind::Identifier,
            _ => Kind::Number,
        }
    }

    /// The value a condition tests, for the order (`line` is `None`) or
    /// one line. Item properties without a line have no value; the rule
    /// evaluates them over the lines instead.
    pub(crate) fn subject<'a>(
        &'a self,
        facts: &RuleFacts<'a>,
        line: Option<&'a Line<'_>>,
    ) -> Subject<'a> {
        let currency = facts.order.currency;
        match self {
            Property::CustomerSegment => Subject::Texts(&facts.customer.segments),
            Property::CustomerMetadata(key) => Subject::Value(facts.customer.metadata.get(key)),
            Property::OrderAmount => {
                Subject::Number(facts.order.amount_minor.and_then(|m| major(m, currency)))
            }
            Property::OrderItemsCount => {
                Subject::Number(Some(Decimal::from(facts.order.lines.len())))
            }
            Property::OrderItemsQuantity => {
                let units = facts
                    .order
                    .lines
                    .iter()
                    .fold(0u64, |sum, line| sum.saturating_add(line.quantity));
                Subject::Number(Some(Decimal::from(units)))
            }
            Property::OrderMetadata(key) => Subject::Value(facts.order_metadata.get(key)),
            Property::RedemptionCountPerCustomer => Subject::Number(Some(Decimal::from(
                facts.customer_redemptions.saturating_add(1),
            ))),
            Property::CampaignRedemptionsCount => Subject::Number(Some(Decimal::from(
                facts.campaign_redemptions.saturating_add(1),
            ))),
            Property::CampaignOrdersAmountDiscounted => {
                Subject::Number(major(facts.campaign_given_minor, currency))
            }
            item => match line {
                Some(line) => item.line_subject(line, currency),
                None => Subject::Number(None),
            },
        }
    }

    fn line_subject<'a>(&self, line: &'a Line<'_>, currency: Currency) -> Subject<'a> {
        match self {
            Property::ProductId => Subject::Text(line.product_id.as_deref()),
            Property::SkuId => Subject::Text(line.sku_id.as_deref()),
            Property::ProductPrice | Property::SkuPrice => {
                Subject::Number(line.price_minor.and_then(|m| major(m, currency)))
            }
            Property::ProductQuantity | Property::SkuQuantity => {
                Subject::Number(Some(Decimal::from(line.quantity)))
            }
            Property::ProductAmount | Property::SkuAmount => {
                Subject::Number(major(line.amount_minor, currency))
            }
            Property::ProductCategory => Subject::Texts(&line.categories),
            _ => Subject::Number(None),
        }
    }

    /// True when the line has a value for this item property: the lines an
    /// item rule made only of `$count` conditions counts.
    pub(crate) fn present_on(&self, line: &Line<'_>) -> bool {
        match self {
            Property::ProductId => line.product_id.is_some(),
            Property::SkuId => line.sku_id.is_some(),
            Property::ProductPrice | Property::SkuPrice => line.price_minor.is_some(),
            Property::ProductCategory => !line.categories.is_empty(),
            _ => true,
        }
    }
}

/// Minor units as a major-unit decimal, exactly.
fn major(minor: i64, currency: Currency) -> Option<Decimal> {
    Decimal::try_new(minor, currency.minor_unit()).ok()
}

/// `customer.metadata[key]` and `order.metadata[key]` show their key.
impl fmt::Display for Property {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.metadata_key() {
            Some(key) => write!(f, "{}[{key:?}]", self.name()),
            None => f.write_str(self.name()),
        }
    }
}

/// A condition's name on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ConditionKind {
    /// `$is`: equals any of the values.
    Is,
    /// `$is_not`: equals none of the values.
    IsNot,
    /// `$in`: equals any of the values.
    In,
    /// `$not_in`: equals none of the values.
    NotIn,
    /// `$less_than`: below the one value.
    LessThan,
    /// `$less_than_or_equal`: at most the one value.
    LessThanOrEqual,
    /// `$more_than`: above the one value.
    MoreThan,
    /// `$more_than_or_equal`: at least the one value.
    MoreThanOrEqual,
    /// `$starts_with`: text starting with any of the values.
    StartsWith,
    /// `$ends_with`: text ending with any of the values.
    EndsWith,
    /// `$contains`: text containing any of the values.
    Contains,
    /// `$count`: exactly the one count.
    Count,
    /// `$count_more`: more than the one count.
    CountMore,
    /// `$count_less`: fewer than the one count.
    CountLess,
}

impl ConditionKind {
    /// Every condition, in wire order.
    pub const ALL: [ConditionKind; 14] = [
        ConditionKind::Is,
        ConditionKind::IsNot,
        ConditionKind::In,
        ConditionKind::NotIn,
        ConditionKind::LessThan,
        ConditionKind::LessThanOrEqual,
        ConditionKind::MoreThan,
        ConditionKind::MoreThanOrEqual,
        ConditionKind::StartsWith,
        ConditionKind::EndsWith,
        ConditionKind::Contains,
        ConditionKind::Count,
        ConditionKind::CountMore,
        ConditionKind::CountLess,
    ];

    /// The condition named `name` (`"$is"`).
    pub fn parse(name: &str) -> Option<ConditionKind> {
        ConditionKind::ALL
            .into_iter()
            .find(|kind| kind.name() == name)
    }

    /// The wire name, such as `$is`.
    pub fn name(self) -> &'static str {
        match self {
            ConditionKind::Is => "$is",
            ConditionKind::IsNot => "$is_not",
            ConditionKind::In => "$in",
            ConditionKind::NotIn => "$not_in",
            ConditionKind::LessThan => "$less_than",
            ConditionKind::LessThanOrEqual => "$less_than_or_equal",
            ConditionKind::MoreThan => "$more_than",
            ConditionKind::MoreThanOrEqual => "$more_than_or_equal",
            ConditionKind::StartsWith => "$starts_with",
            ConditionKind::EndsWith => "$ends_with",
            ConditionKind::Contains => "$contains",
            ConditionKind::Count => "$count",
            ConditionKind::CountMore => "$count_more",
            ConditionKind::CountLess => "$count_less",
        }
    }

    /// True for `$is_not` and `$not_in`.
    pub fn is_negative(self) -> bool {
        matches!(self, ConditionKind::IsNot | ConditionKind::NotIn)
    }

    /// True for `$count`, `$count_more` and `$count_less`.
    pub fn is_count(self) -> bool {
        matches!(
            self,
            ConditionKind::Count | ConditionKind::CountMore | ConditionKind::CountLess
        )
    }
}

impl fmt::Display for ConditionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a condition's values do not fit it. Indices count from 0.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionProblem {
    /// The condition makes no sense for the property (`$less_than` on
    /// `product.id`, `$count` on `order.amount` or on an item property
    /// inside an item rule).
    #[error("does not apply to {property}")]
    NotApplicable {
        /// The property's wire name.
        property: &'static str,
    },
    /// No values.
    #[error("needs at least one value")]
    NoValues,
    /// Not exactly one value for a comparison or a count.
    #[error("takes exactly one value, found {found}")]
    NotOneValue {
        /// The number of values given.
        found: usize,
    },
    /// More than [`RULE_VALUES_MAX`] values.
    #[error("more than {RULE_VALUES_MAX} values")]
    TooManyValues,
    /// A value that should be a number.
    #[error("value {index} is not a number")]
    NotANumber {
        /// Position of the value.
        index: usize,
    },
    /// A value that should be a text.
    #[error("value {index} is not a text")]
    NotAText {
        /// Position of the value.
        index: usize,
    },
    /// A count that is no whole number from 0.
    #[error("value {index} is not a whole number")]
    NotACount {
        /// Position of the value.
        index: usize,
    },
    /// `null` or a list where a single value is needed.
    #[error("value {index} is null or a list")]
    NotAScalar {
        /// Position of the value.
        index: usize,
    },
    /// A text longer than [`RULE_VALUE_TEXT_LEN_MAX`] bytes.
    #[error("value {index} is longer than {RULE_VALUE_TEXT_LEN_MAX} bytes")]
    TextTooLong {
        /// Position of the value.
        index: usize,
    },
}

/// What a `$count` condition counts on a property, decided when parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Counting {
    /// Elements of the value (segments, metadata lists).
    Elements,
    /// Lines of the order (an item property at the order level).
    Lines,
    /// `$count` is refused.
    Refused,
}

impl Counting {
    pub(crate) fn for_property(property: &Property, scope: Scope) -> Counting {
        match property.kind() {
            _ if property.is_item() => match scope {
                Scope::Order => Counting::Lines,
                Scope::Line => Counting::Refused,
            },
            Kind::Metadata | Kind::TextSet => Counting::Elements,
            Kind::Number | Kind::Identifier => Counting::Refused,
        }
    }
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Condition {
    kind: ConditionKind,
    test: Test,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Test {
    /// Equality with any value of the set; `Negation::Negated` for
    /// `$is_not`/`$not_in`.
    Equal(Negation, ValueSet),
    Compare(Comparison, Decimal),
    Text(TextMatch, Vec<String>),
    Count(Comparison, u64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Negation {
    Plain,
    Negated,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Less,
    LessOrEqual,
    Equal,
    MoreOrEqual,
    More,
}

impl Comparison {
    fn holds<T: Ord>(self, left: T, right: T) -> bool {
        match self {
            Comparison::Less => left < right,
            Comparison::LessOrEqual => left <= right,
            Comparison::Equal => left == right,
            Comparison::MoreOrEqual => left >= right,
            Comparison::More => left > right,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TextMatch {
    StartsWith,
    EndsWith,
    Contains,
}

impl TextMatch {
    fn holds(self, text: &str, patterns: &[String]) -> bool {
        patterns.iter().any(|p| match self {
            TextMatch::StartsWith => text.starts_with(p.as_str()),
            TextMatch::EndsWith => text.ends_with(p.as_str()),
            TextMatch::Contains => text.contains(p.as_str()),
        })
    }
}

/// The values of an equality, sorted for binary search.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ValueSet {
    Numbers(Vec<Decimal>),
    Texts(Vec<String>),
    /// Metadata: texts, the numbers among values and texts, and booleans.
    Loose {
        numbers: Vec<Decimal>,
        texts: Vec<String>,
        bools: [bool; 2],
    },
}

impl ValueSet {
    fn has_number(numbers: &[Decimal], n: &Decimal) -> bool {
        numbers.binary_search(n).is_ok()
    }

    fn has_text(texts: &[String], t: &str) -> bool {
        texts.binary_search_by(|x| x.as_str().cmp(t)).is_ok()
    }

    fn contains(&self, subject: &Subject<'_>) -> bool {
        match (self, subject) {
            (ValueSet::Numbers(set), Subject::Number(Some(n))) => ValueSet::has_number(set, n),
            (ValueSet::Texts(set), Subject::Text(Some(t))) => ValueSet::has_text(set, t),
            (ValueSet::Texts(set), Subject::Texts(list)) => {
                list.iter().any(|t| ValueSet::has_text(set, t))
            }
            (ValueSet::Loose { .. }, Subject::Value(Some(Value::List(list)))) => {
                list.iter().any(|v| self.loose_contains(v))
            }
            (ValueSet::Loose { .. }, Subject::Value(Some(v))) => self.loose_contains(v),
            _ => false,
        }
    }

    fn loose_contains(&self, value: &Value) -> bool {
        let ValueSet::Loose {
            numbers,
            texts,
            bools,
        } = self
        else {
            return false;
        };
        match value {
            Value::Bool(b) => bools[usize::from(*b)],
            Value::Number(n) => ValueSet::has_number(numbers, n),
            Value::Text(t) => {
                ValueSet::has_text(texts, t)
                    || value
                        .as_number()
                        .is_some_and(|n| ValueSet::has_number(numbers, &n))
            }
            Value::Null | Value::List(_) | Value::Map(_) => false,
        }
    }
}

/// The value a condition is tested on.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Subject<'a> {
    Number(Option<Decimal>),
    Text(Option<&'a str>),
    Texts(&'a [String]),
    Value(Option<&'a Value>),
}

impl Subject<'_> {
    fn any_number(&self, test: impl Fn(Decimal) -> bool) -> bool {
        match self {
            Subject::Number(Some(n)) => test(*n),
            Subject::Value(Some(Value::List(list))) => {
                list.iter().filter_map(Value::as_number).any(test)
            }
            Subject::Value(Some(v)) => v.as_number().is_some_and(test),
            _ => false,
        }
    }

    fn any_text(&self, test: impl Fn(&str) -> bool) -> bool {
        match self {
            Subject::Text(Some(t)) => test(t),
            Subject::Texts(list) => list.iter().any(|t| test(t)),
            Subject::Value(Some(Value::List(list))) => {
                list.iter().filter_map(Value::as_text).any(test)
            }
            Subject::Value(Some(Value::Text(t))) => test(t),
            _ => false,
        }
    }

    fn count(&self) -> u64 {
        let count = match self {
            Subject::Texts(list) => list.len(),
            Subject::Value(None | Some(Value::Null)) => 0,
            Subject::Value(Some(Value::List(list))) => list.len(),
            Subject::Value(Some(_)) => 1,
            Subject::Number(n) => usize::from(n.is_some()),
            Subject::Text(t) => usize::from(t.is_some()),
        };
        u64::try_from(count).unwrap_or(u64::MAX)
    }
}

impl Condition {
    /// Compiles `values` for a condition of `kind` on a property of
    /// `property_kind`.
    pub(crate) fn compile(
        kind: ConditionKind,
        values: &[Value],
        property: &Property,
        counting: Counting,
    ) -> Result<Condition, ConditionProblem> {
        let not_applicable = ConditionProblem::NotApplicable {
            property: property.name(),
        };
        if values.len() > RULE_VALUES_MAX {
            return Err(ConditionProblem::TooManyValues);
        }
        let property_kind = property.kind();
        let test = match kind {
            ConditionKind::Is | ConditionKind::In | ConditionKind::IsNot | ConditionKind::NotIn => {
                let negation = if kind.is_negative() {
                    Negation::Negated
                } else {
                    Negation::Plain
                };
                Test::Equal(negation, value_set(values, property_kind)?)
            }
            ConditionKind::LessThan
            | ConditionKind::LessThanOrEqual
            | ConditionKind::MoreThan
            | ConditionKind::MoreThanOrEqual => {
                if !matches!(property_kind, Kind::Number | Kind::Metadata) {
                    return Err(not_applicable);
                }
                let comparison = match kind {
                    ConditionKind::LessThan => Comparison::Less,
                    ConditionKind::LessThanOrEqual => Comparison::LessOrEqual,
                    ConditionKind::MoreThan => Comparison::More,
                    _ => Comparison::MoreOrEqual,
                };
                let value = one_value(values)?;
                let threshold = value
                    .as_number()
                    .ok_or(ConditionProblem::NotANumber { index: 0 })?;
                Test::Compare(comparison, threshold)
            }
            ConditionKind::StartsWith | ConditionKind::EndsWith | ConditionKind::Contains => {
                if property_kind == Kind::Number {
                    return Err(not_applicable);
                }
                let text_match = match kind {
                    ConditionKind::StartsWith => TextMatch::StartsWith,
                    ConditionKind::EndsWith => TextMatch::EndsWith,
                    _ => TextMatch::Contains,
                };
                if values.is_empty() {
                    return Err(ConditionProblem::NoValues);
                }
                let patterns = values
                    .iter()
                    .enumerate()
                    .map(|(index, v)| text(v, index))
                    .collect::<Result<Vec<_>, _>>()?;
                Test::Text(text_match, patterns)
            }
            ConditionKind::Count | ConditionKind::CountMore | ConditionKind::CountLess => {
                if counting == Counting::Refused {
                    return Err(not_applicable);
                }
                let comparison = match kind {
                    ConditionKind::Count => Comparison::Equal,
                    ConditionKind::CountMore => Comparison::More,
                    _ => Comparison::Less,
                };
                let value = one_value(values)?;
                let count = value
                    .as_number()
                    .filter(|n| n.fract().is_zero() && !n.is_sign_negative())
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or(ConditionProblem::NotACount { index: 0 })?;
                Test::Count(comparison, count)
            }
        };
        Ok(Condition { kind, test })
    }

    /// The condition's wire name.
    pub(crate) fn kind(&self) -> ConditionKind {
        self.kind
    }

    /// Tests the condition on one value. A count condition here counts the
    /// subject's elements.
    pub(crate) fn holds(&self, subject: &Subject<'_>) -> bool {
        match &self.test {
            Test::Equal(Negation::Plain, set) => set.contains(subject),
            Test::Equal(Negation::Negated, set) => !set.contains(subject),
            Test::Compare(comparison, threshold) => {
                subject.any_number(|n| comparison.holds(n, *threshold))
            }
            Test::Text(text_match, patterns) => subject.any_text(|t| text_match.holds(t, patterns)),
            Test::Count(comparison, count) => comparison.holds(subject.count(), *count),
        }
    }

    /// Tests a count condition on a count of lines; other conditions hold.
    pub(crate) fn holds_for_count(&self, lines: u64) -> bool {
        match &self.test {
            Test::Count(comparison, count) => comparison.holds(lines, *count),
            _ => true,
        }
    }
}

fn one_value(values: &[Value]) -> Result<&Value, ConditionProblem> {
    match values {
        [one] => Ok(one),
        _ => Err(ConditionProblem::NotOneValue {
            found: values.len(),
        }),
    }
}

fn text(value: &Value, index: usize) -> Result<String, ConditionProblem> {
    let text = value
        .as_text()
        .ok_or(ConditionProblem::NotAText { index })?;
    if text.len() > RULE_VALUE_TEXT_LEN_MAX {
        return Err(ConditionProblem::TextTooLong { index });
    }
    Ok(text.to_owned())
}

fn value_set(values: &[Value], kind: Kind) -> Result<ValueSet, ConditionProblem> {
    if values.is_empty() {
        return Err(ConditionProblem::NoValues);
    }
    let set = match kind {
        Kind::Number => {
            let mut numbers = values
                .iter()
                .enumerate()
                .map(|(index, v)| v.as_number().ok_or(ConditionProblem::NotANumber { index }))
                .collect::<Result<Vec<_>, _>>()?;
            numbers.sort_unstable();
            numbers.dedup();
            ValueSet::Numbers(numbers)
        }
        Kind::Identifier | Kind::TextSet => {
            let mut texts = values
                .iter()
                .enumerate()
                .map(|(index, v)| text(v, index))
                .collect::<Result<Vec<_>, _>>()?;
            texts.sort_unstable();
            texts.dedup();
            ValueSet::Texts(texts)
        }
        Kind::Metadata => {
            let mut numbers = Vec::new();
            let mut texts = Vec::new();
            let mut bools = [false; 2];
            for (index, value) in values.iter().enumerate() {
                match value {
                    Value::Bool(b) => bools[usize::from(*b)] = true,
                    Value::Number(n) => numbers.push(*n),
                    Value::Text(_) => {
                        texts.push(text(value, index)?);
                        if let Some(n) = value.as_number() {
                            numbers.push(n);
                        }
                    }
                    Value::Null | Value::List(_) | Value::Map(_) => {
                        return Err(ConditionProblem::NotAScalar { index })
                    }
                }
            }
            numbers.sort_unstable();
            numbers.dedup();
            texts.sort_unstable();
            texts.dedup();
            ValueSet::Loose {
                numbers,
                texts,
                bools,
            }
        }
    };
    Ok(set)
}
