//! Validation rules (wire section 2.7): whether a voucher may be used by this
//! customer on this order, and which lines its discount may touch.
//!
//! A rule set arrives as a [`RawRuleSet`] (serde structs in the wire shape)
//! and is checked once by [`RuleSet::parse`] into a [`RuleSet`], or refused
//! with a typed [`RuleError`]. The checked set is then evaluated on every
//! validation with [`RuleSet::evaluate`] against [`RuleFacts`]: the checked
//! order, its metadata, the customer, and counters the store supplies. The
//! evaluation allocates nothing unless a rule fails.
//!
//! Rules are numbered within their level (`"1"` .. `"64"`, gaps allowed) and
//! combined by the level's `logic` (see [`Logic`]); no `logic`, or an empty
//! one, `and`s all rules of the level. Rules the `logic` does not mention are
//! checked but do not count (Voucherify's own examples leave some out). Each
//! rule holds when all of its conditions hold and its nested rules hold.
//!
//! Item properties (`product.*`, `sku.*`) nest the Voucherify way. At the
//! order level (the top, or inside rules on other properties), an item rule
//! is a statement about the lines, and its nested rules are tested on the
//! same line as its own conditions:
//! - with only positive conditions, some line satisfies the conditions and
//!   the nested rules: `product.id $is ["p1"]` with nested `product.quantity
//!   $more_than [2]` means some line of p1 has more than 2 units;
//! - with `$is_not`/`$not_in`, no line that satisfies the other conditions
//!   and the nested rules fails the negative ones: `product.id $is_not
//!   ["p1"]` means the cart holds no p1;
//! - with `$count`/`$count_more`/`$count_less`, the number of lines that
//!   have the property and satisfy everything else is compared:
//!   `product.category {"$is": ["shoes"], "$count_more": [1]}` means at least
//!   two lines of shoes.
//!
//! Inside an item rule, item properties test the line at hand and `$count`
//! is refused on them.
//!
//! When the rule set fails, [`RuleViolation`] names the rule to blame: at
//! each level, the lowest-numbered false rule among those that made the
//! `logic` false (see [`Logic::blame`]). When the blamed rule's own
//! conditions hold and it fails through its nested rules (and it is not an
//! item rule over the lines, where each line may fail differently), the
//! blame descends into the nested level. The message shown is that of the
//! deepest rule on this path that has one, else the rule set's, else none;
//! the category is that of the deepest rule.

mod applicable;
mod condition;
mod logic;
mod raw;
#[cfg(test)]
mod tests;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use applicable::{
    combine_targets, ApplicableTo, Inclusion, Target, TargetEffect, TargetList, TargetObject,
    TargetProblem,
};
pub use condition::{ConditionKind, ConditionProblem, Property, RuleCategory};
pub use logic::{Logic, LogicError, RuleNumber};
pub use raw::{RawApplicableTo, RawMessage, RawRule, RawRuleSet, RawRules, RawTarget};

use crate::limits::{
    RULES_PER_SET_MAX, RULE_DEPTH_MAX, RULE_LOGIC_LEN_MAX, RULE_MESSAGE_LEN_MAX,
    RULE_VALUES_PER_SET_MAX,
};
use crate::order::{CheckedOrder, Customer, Line, LineTarget};
use crate::value::Metadata;
use condition::{Condition, Counting, PropertyProblem};

/// What the rules are evaluated against. The counters come from the store,
/// as they stand before the redemption being validated.
#[derive(Debug, Clone, Copy)]
pub struct RuleFacts<'a> {
    /// The order.
    pub order: &'a CheckedOrder<'a>,
    /// The order's metadata.
    pub order_metadata: &'a Metadata,
    /// The customer (an empty one when the request names none).
    pub customer: &'a Customer,
    /// Redemptions of this voucher (of its campaign, for campaign rules) by
    /// this customer so far.
    pub customer_redemptions: u64,
    /// Redemptions of the campaign so far.
    pub campaign_redemptions: u64,
    /// Discount the campaign has given so far, in minor units.
    pub campaign_given_minor: i64,
}

/// Where a rule sits: its number and those of the rules it is nested in,
/// outermost first. Empty for the rule set itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RulePath(Vec<RuleNumber>);

impl RulePath {
    /// The numbers, outermost first.
    pub fn numbers(&self) -> &[RuleNumber] {
        &self.0
    }

    fn child(&self, number: RuleNumber) -> RulePath {
        let mut numbers = self.0.clone();
        numbers.push(number);
        RulePath(numbers)
    }
}

/// `rule 2.1`, or `rule set` for the empty path.
impl fmt::Display for RulePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("rule set");
        }
        f.write_str("rule ")?;
        for (i, number) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{number}")?;
        }
        Ok(())
    }
}

/// Why a rule set is refused. Adapters answer 400 with the key
/// `invalid_validation_rules` on the validation-rules endpoints (as
/// Voucherify does) and `invalid_payload` where a rule set comes inside
/// another object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    /// A key of a rules map is neither `logic` nor a rule number.
    #[error("{parent}: invalid rule number {key:?}")]
    InvalidRuleNumber {
        /// The rule (or set) whose rules map holds the key.
        parent: RulePath,
        /// The key, cut to 32 characters.
        key: String,
    },
    /// The rule's property (its `name`) is unknown.
    #[error("{rule}: unknown property {name:?}")]
    UnknownProperty {
        /// The rule.
        rule: RulePath,
        /// The name, cut to 32 characters.
        name: String,
    },
    /// A metadata property without its key in `property`.
    #[error("{rule}: {name} needs a metadata key in `property`")]
    MissingMetadataKey {
        /// The rule.
        rule: RulePath,
        /// The property's name.
        name: &'static str,
    },
    /// A metadata key longer than [`crate::limits::RULE_METADATA_KEY_LEN_MAX`].
    #[error("{rule}: metadata key too long")]
    MetadataKeyTooLong {
        /// The rule.
        rule: RulePath,
    },
    /// A rule without conditions.
    #[error("{rule}: no conditions")]
    NoConditions {
        /// The rule.
        rule: RulePath,
    },
    /// A condition name that is unknown (`$timeframe` and the date
    /// conditions are not supported).
    #[error("{rule}: unknown condition {name:?}")]
    UnknownCondition {
        /// The rule.
        rule: RulePath,
        /// The name, cut to 32 characters.
        name: String,
    },
    /// A condition whose values do not fit it or its property.
    #[error("{rule}: condition {condition} {problem}")]
    InvalidCondition {
        /// The rule.
        rule: RulePath,
        /// The condition.
        condition: ConditionKind,
        /// What is wrong.
        problem: ConditionProblem,
    },
    /// A `logic` that does not parse.
    #[error("{rule}: invalid logic: {error}")]
    InvalidLogic {
        /// The rule whose nested `logic` it is, or the set.
        rule: RulePath,
        /// The parse error.
        error: LogicError,
    },
    /// A `logic` that names a rule its level does not have.
    #[error("{rule}: logic refers to missing rule {number}")]
    MissingRule {
        /// The rule whose nested `logic` it is, or the set.
        rule: RulePath,
        /// The lowest missing number.
        number: RuleNumber,
    },
    /// More than [`RULES_PER_SET_MAX`] rules, nested ones included.
    #[error("more than {RULES_PER_SET_MAX} rules")]
    TooManyRules,
    /// Rules nested deeper than [`RULE_DEPTH_MAX`] levels.
    #[error("{rule}: rules nested deeper than {RULE_DEPTH_MAX} levels")]
    TooDeep {
        /// The rule whose nested rules are too deep.
        rule: RulePath,
    },
    /// More than [`RULE_VALUES_PER_SET_MAX`] condition values in the set.
    #[error("more than {RULE_VALUES_PER_SET_MAX} condition values")]
    TooManyValues,
    /// An error message longer than [`RULE_MESSAGE_LEN_MAX`] bytes.
    #[error("{rule}: error message longer than {RULE_MESSAGE_LEN_MAX} bytes")]
    MessageTooLong {
        /// The rule, or the set.
        rule: RulePath,
    },
    /// More than [`crate::limits::APPLICABLE_TARGETS_MAX`] entries.
    #[error("applicable_to.{list}: too many entries")]
    TooManyTargets {
        /// The list.
        list: TargetList,
    },
    /// An entry of `applicable_to` that is refused.
    #[error("applicable_to.{list}[{index}]: {problem}")]
    InvalidTarget {
        /// The list.
        list: TargetList,
        /// Position of the entry.
        index: usize,
        /// What is wrong.
        problem: TargetProblem,
    },
}

/// Why the rules refuse: the category (for the error key), the rule to
/// blame and the message to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{category}: {path} failed")]
pub struct RuleViolation {
    /// The category of the deepest blamed rule.
    pub category: RuleCategory,
    /// The blamed top-level rule.
    pub rule: RuleNumber,
    /// The blamed rule and the nested rules the blame descended into.
    pub path: RulePath,
    /// The deepest message on the path, else the rule set's, else none.
    pub message: Option<String>,
}

/// A checked rule set: parse once, evaluate many times.
///
/// It serializes as the raw form it was parsed from, and deserializing
/// parses again, so a stored rule set is checked when it is loaded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawRuleSet", into = "RawRuleSet")]
pub struct RuleSet {
    raw: RawRuleSet,
    rules: Level,
    message: Option<String>,
    applicable_to: ApplicableTo,
    rule_count: usize,
}

/// Whether rules are evaluated for the order or for one line (inside an
/// item rule); decided when parsing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    Order,
    Line,
}

/// One level of rules and its logic (`None`: no rules, holds).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Level {
    /// Sorted by number.
    rules: Vec<Rule>,
    logic: Option<Logic>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rule {
    number: RuleNumber,
    property: Property,
    /// The conditions tested on the property's value (every condition but
    /// the line counts).
    conditions: Vec<Condition>,
    /// For an item rule at the order level: how it speaks of the lines.
    over_lines: Option<Quantifier>,
    nested: Level,
    message: Option<String>,
}

/// How an item rule at the order level speaks of the lines.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Quantifier {
    /// Some line matches.
    Some,
    /// No line that matches the positive conditions fails the negative ones.
    Every,
    /// The number of matching lines satisfies these count conditions.
    Count(Vec<Condition>),
}

/// Running totals of the limits that span the whole set.
struct Budget {
    rules: usize,
    values: usize,
}

fn cut(text: &str) -> String {
    text.chars().take(32).collect()
}

fn message(raw: Option<&RawMessage>, rule: &RulePath) -> Result<Option<String>, RuleError> {
    match raw.and_then(|m| m.message.as_deref()) {
        None | Some("") => Ok(None),
        Some(text) if text.len() > RULE_MESSAGE_LEN_MAX => {
            Err(RuleError::MessageTooLong { rule: rule.clone() })
        }
        Some(text) => Ok(Some(text.to_owned())),
    }
}

impl RuleSet {
    /// Checks a raw rule set. Never panics; every problem is a
    /// [`RuleError`].
    pub fn parse(raw: &RawRuleSet) -> Result<RuleSet, RuleError> {
        let top = RulePath::default();
        let mut budget = Budget {
            rules: 0,
            values: 0,
        };
        let rules = Level::parse(&raw.rules, &top, 1, Scope::Order, &mut budget)?;
        Ok(RuleSet {
            raw: raw.clone(),
            rules,
            message: message(raw.error.as_ref(), &top)?,
            applicable_to: ApplicableTo::parse(&raw.applicable_to)?,
            rule_count: budget.rules,
        })
    }

    /// Evaluates the rules. `Ok` when the voucher may be used; otherwise the
    /// violation to report. Deterministic, and free of allocation unless a
    /// rule fails.
    pub fn evaluate(&self, facts: &RuleFacts<'_>) -> Result<(), RuleViolation> {
        if self.rules.holds(facts, None) {
            return Ok(());
        }
        if let Some(violation) = self.violation(facts) {
            return Err(violation);
        }
        // Both paths evaluate the same deterministic rules, so the slow one
        // always finds a rule to blame. Were it not to, refuse anyway (fail
        // closed), blaming the first rule.
        debug_assert!(false, "the rules failed but no rule is to blame");
        match self.rules.rules.first() {
            Some(rule) => Err(RuleViolation {
                category: rule.property.category(),
                rule: rule.number,
                path: RulePath(vec![rule.number]),
                message: rule.message.clone().or_else(|| self.message.clone()),
            }),
            None => Ok(()),
        }
    }

    /// The slow path: evaluates every rule of each level on the blame path.
    fn violation(&self, facts: &RuleFacts<'_>) -> Option<RuleViolation> {
        let mut level = &self.rules;
        let mut path = Vec::new();
        let mut blamed: Option<&Rule> = None;
        let mut message = self.message.as_deref();
        // Bounded by the depth of the rules.
        while let Some(logic) = &level.logic {
            let Some(rule) = logic
                .blame(level.truth(facts, None))
                .and_then(|n| level.rule(n))
            else {
                break;
            };
            path.push(rule.number);
            blamed = Some(rule);
            message = rule.message.as_deref().or(message);
            let fails_by_nested =
                rule.over_lines.is_none() && rule.own_conditions_hold(facts, None);
            if !fails_by_nested {
                break;
            }
            level = &rule.nested;
        }
        let blamed = blamed?;
        Some(RuleViolation {
            category: blamed.property.category(),
            rule: *path.first()?,
            path: RulePath(path),
            message: message.map(str::to_owned),
        })
    }

    /// The lines a discount may touch (see [`ApplicableTo::targets`]).
    pub fn targets(&self, order: &CheckedOrder<'_>) -> Option<Vec<LineTarget>> {
        self.applicable_to.targets(order)
    }

    /// True when `applicable_to` names items to include or exclude, so that
    /// an AMOUNT or PERCENT discount defaults to `APPLY_TO_ITEMS`.
    pub fn has_item_targets(&self) -> bool {
        self.applicable_to.has_item_targets()
    }

    /// The checked `applicable_to`.
    pub fn applicable_to(&self) -> &ApplicableTo {
        &self.applicable_to
    }

    /// The rule set's own error message.
    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The top-level logic, `None` when there are no rules. A missing logic
    /// comes back as all rules `and`ed.
    pub fn logic(&self) -> Option<&Logic> {
        self.rules.logic.as_ref()
    }

    /// The raw form the set was parsed from.
    pub fn raw(&self) -> &RawRuleSet {
        &self.raw
    }

    /// The number of rules, nested ones included.
    pub fn rule_count(&self) -> usize {
        self.rule_count
    }

    /// True when some rule, at any depth, tests the customer
    /// (`customer.*`) or their redemptions
    /// (`redemption.count.per_customer`): the request must then identify a
    /// customer.
    pub fn needs_customer(&self) -> bool {
        self.rules.any_rule(&|rule: &Rule| {
            rule.property.category() == RuleCategory::Customer
                || rule.property == Property::RedemptionCountPerCustomer
        })
    }
}

impl TryFrom<RawRuleSet> for RuleSet {
    type Error = RuleError;

    fn try_from(raw: RawRuleSet) -> Result<RuleSet, RuleError> {
        RuleSet::parse(&raw)
    }
}

impl From<RuleSet> for RawRuleSet {
    fn from(set: RuleSet) -> RawRuleSet {
        set.raw
    }
}

impl Level {
    fn parse(
        raw: &RawRules,
        parent: &RulePath,
        depth: usize,
        scope: Scope,
        budget: &mut Budget,
    ) -> Result<Level, RuleError> {
        if !raw.rules.is_empty() && depth > RULE_DEPTH_MAX {
            return Err(RuleError::TooDeep {
                rule: parent.clone(),
            });
        }
        let mut rules = Vec::with_capacity(raw.rules.len().min(RULES_PER_SET_MAX));
        for (key, raw_rule) in &raw.rules {
            budget.rules += 1;
            if budget.rules > RULES_PER_SET_MAX {
                return Err(RuleError::TooManyRules);
            }
            let number = RuleNumber::parse(key).ok_or_else(|| RuleError::InvalidRuleNumber {
                parent: parent.clone(),
                key: cut(key),
            })?;
            let path = parent.child(number);
            rules.push(Rule::parse(number, raw_rule, &path, depth, scope, budget)?);
        }
        // Keys are canonical, so distinct keys are distinct numbers.
        rules.sort_by_key(|rule| rule.number);
        let numbers: Vec<RuleNumber> = rules.iter().map(|rule| rule.number).collect();
        let logic = match raw.logic.as_deref() {
            Some(text) if text.len() > RULE_LOGIC_LEN_MAX => {
                return Err(RuleError::InvalidLogic {
                    rule: parent.clone(),
                    error: LogicError::TooLong,
                })
            }
            Some(text) if !text.trim().is_empty() => {
                Some(Logic::parse(text).map_err(|error| RuleError::InvalidLogic {
                    rule: parent.clone(),
                    error,
                })?)
            }
            _ => Logic::all_of(&numbers),
        };
        if let Some(logic) = &logic {
            let defined = numbers.iter().fold(0u64, |mask, n| mask | n.bit());
            let missing = logic.mentioned() & !defined;
            if missing != 0 {
                let lowest = RuleNumber::new(missing.trailing_zeros() + 1);
                if let Some(number) = lowest {
                    return Err(RuleError::MissingRule {
                        rule: parent.clone(),
                        number,
                    });
                }
            }
        }
        Ok(Level { rules, logic })
    }

    /// True when `test` holds for a rule at this level or below; bounded by
    /// the depth limit.
    fn any_rule(&self, test: &impl Fn(&Rule) -> bool) -> bool {
        self.rules
            .iter()
            .any(|rule| test(rule) || rule.nested.any_rule(test))
    }

    fn rule(&self, number: RuleNumber) -> Option<&Rule> {
        self.rules
            .binary_search_by_key(&number, |rule| rule.number)
            .ok()
            .and_then(|index| self.rules.get(index))
    }

    /// The fast path: lazy, short-circuiting, each rule evaluated at most
    /// once.
    fn holds(&self, facts: &RuleFacts<'_>, line: Option<&Line<'_>>) -> bool {
        let Some(logic) = &self.logic else {
            return true;
        };
        let (mut known, mut truth) = (0u64, 0u64);
        logic.eval(&mut |number| {
            let bit = number.bit();
            if known & bit == 0 {
                known |= bit;
                if self.rule(number).is_some_and(|r| r.holds(facts, line)) {
                    truth |= bit;
                }
            }
            truth & bit != 0
        })
    }

    /// Every rule's result, as a mask.
    fn truth(&self, facts: &RuleFacts<'_>, line: Option<&Line<'_>>) -> u64 {
        self.rules
            .iter()
            .filter(|rule| rule.holds(facts, line))
            .fold(0, |mask, rule| mask | rule.number.bit())
    }
}

impl Rule {
    fn parse(
        number: RuleNumber,
        raw: &RawRule,
        path: &RulePath,
        depth: usize,
        scope: Scope,
        budget: &mut Budget,
    ) -> Result<Rule, RuleError> {
        let property =
            Property::parse(&raw.name, raw.property.as_deref()).map_err(
                |problem| match problem {
                    PropertyProblem::Unknown => RuleError::UnknownProperty {
                        rule: path.clone(),
                        name: cut(&raw.name),
                    },
                    PropertyProblem::MissingKey(name) => RuleError::MissingMetadataKey {
                        rule: path.clone(),
                        name,
                    },
                    PropertyProblem::KeyTooLong => {
                        RuleError::MetadataKeyTooLong { rule: path.clone() }
                    }
                },
            )?;
        if raw.conditions.is_empty() {
            return Err(RuleError::NoConditions { rule: path.clone() });
        }
        let counting = Counting::for_property(&property, scope);
        let mut conditions = Vec::with_capacity(raw.conditions.len());
        let mut line_counts = Vec::new();
        for (name, values) in &raw.conditions {
            let kind = ConditionKind::parse(name).ok_or_else(|| RuleError::UnknownCondition {
                rule: path.clone(),
                name: cut(name),
            })?;
            budget.values = budget.values.saturating_add(values.len());
            if budget.values > RULE_VALUES_PER_SET_MAX {
                return Err(RuleError::TooManyValues);
            }
            let condition =
                Condition::compile(kind, values, &property, counting).map_err(|problem| {
                    RuleError::InvalidCondition {
                        rule: path.clone(),
                        condition: kind,
                        problem,
                    }
                })?;
            if kind.is_count() && counting == Counting::Lines {
                line_counts.push(condition);
            } else {
                conditions.push(condition);
            }
        }
        let over_lines = (property.is_item() && scope == Scope::Order).then(|| {
            if !line_counts.is_empty() {
                Quantifier::Count(line_counts)
            } else if conditions.iter().any(|c| c.kind().is_negative()) {
                Quantifier::Every
            } else {
                Quantifier::Some
            }
        });
        let nested_scope = if property.is_item() {
            Scope::Line
        } else {
            scope
        };
        let nested = Level::parse(&raw.rules, path, depth + 1, nested_scope, budget)?;
        Ok(Rule {
            number,
            property,
            conditions,
            over_lines,
            nested,
            message: message(raw.error.as_ref(), path)?,
        })
    }

    fn holds(&self, facts: &RuleFacts<'_>, line: Option<&Line<'_>>) -> bool {
        match &self.over_lines {
            Some(quantifier) => self.holds_over_lines(quantifier, facts),
            None => self.own_conditions_hold(facts, line) && self.nested.holds(facts, line),
        }
    }

    fn own_conditions_hold(&self, facts: &RuleFacts<'_>, line: Option<&Line<'_>>) -> bool {
        let subject = self.property.subject(facts, line);
        self.conditions.iter().all(|c| c.holds(&subject))
    }

    /// An item rule at the order level; loops over the order's lines,
    /// which [`crate::order::Order::check`] bounds.
    fn holds_over_lines(&self, quantifier: &Quantifier, facts: &RuleFacts<'_>) -> bool {
        let lines = &facts.order.lines;
        match quantifier {
            Quantifier::Some => lines.iter().any(|line| {
                self.own_conditions_hold(facts, Some(line)) && self.nested.holds(facts, Some(line))
            }),
            Quantifier::Every => lines.iter().all(|line| {
                let subject = self.property.subject(facts, Some(line));
                let selected = self
                    .conditions
                    .iter()
                    .filter(|c| !c.kind().is_negative())
                    .all(|c| c.holds(&subject));
                let allowed = self
                    .conditions
                    .iter()
                    .filter(|c| c.kind().is_negative())
                    .all(|c| c.holds(&subject));
                !selected || allowed || !self.nested.holds(facts, Some(line))
            }),
            Quantifier::Count(counts) => {
                let matching = lines
                    .iter()
                    .filter(|line| {
                        self.property.present_on(line)
                            && self.own_conditions_hold(facts, Some(line))
                            && self.nested.holds(facts, Some(line))
                    })
                    .count();
                let matching = u64::try_from(matching).unwrap_or(u64::MAX);
                counts.iter().all(|c| c.holds_for_count(matching))
            }
        }
    }
}
