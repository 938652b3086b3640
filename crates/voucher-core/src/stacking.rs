//! Stacking: several codes on one order (up to 30), applied in sequence on
//! the running total, under the project's stacking rules (reference §2.9).
//!
//! The redeemables apply in the order of the sorting rule (as requested, or
//! by category hierarchy with codes without a category last). Each is first
//! decided on its own against the order as the codes before it left it
//! ([`crate::decision`]), with its campaign's counters raised by the codes of
//! the same campaign applied earlier in the request; an applicable one may
//! still be skipped by a stacking rule, checked in this order:
//! 1. `applicable_exclusive_redeemables_limit` (default 1) and
//!    `applicable_exclusive_redeemables_per_category_limit`, for a code in
//!    an exclusive category;
//! 2. exclusivity (`exclusion_rules_not_met`): a code in an exclusive
//!    category is the only one applied "unless the other campaigns are
//!    exclusive or joint". So an exclusive code is skipped if a plain code
//!    (in neither an exclusive nor a joint category) was applied before it,
//!    and once an exclusive code is applied every later plain code is
//!    skipped; exclusive codes combine with each other (within the
//!    exclusive limits), and codes in a joint category always combine;
//! 3. `applicable_redeemables_limit` (default 5);
//! 4. the per-category limits (default 1 per category, unless the category
//!    has its own limit);
//! 5. under `redeemables_no_effect_rule` `SKIP`, a code that changes
//!    nothing (`no_effect`).
//!
//! In `ALL` mode (the default) one inapplicable redeemable fails the whole
//! request: the codes after it are skipped with `preceding_validation_failed`
//! and the order stays as given. A skipped redeemable does not fail it. In
//! `PARTIAL` mode the applicable codes apply and the others are reported.
//! Either way a request is valid only if at least one code applies.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::decision::{
    self, Candidate, Checkout, CountLimits, Credits, Outcome, Project, Refusal, Transition,
};
use crate::discount::OrderState;
use crate::limits::{
    APPLICABLE_REDEEMABLES_MAX, EXCLUSIVE_REDEEMABLES_MAX, REDEEMABLES_PER_REQUEST_MAX,
};

/// Whether one inapplicable redeemable fails the whole request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApplicationMode {
    /// One inapplicable redeemable fails them all (the default).
    #[default]
    All,
    /// The applicable ones apply; the others are reported.
    Partial,
}

/// In which order redeemables apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SortingRule {
    /// As requested (the default).
    #[default]
    RequestedOrder,
    /// By the lowest `hierarchy` of the campaign's categories, then as
    /// requested; codes without a category come last.
    CategoryHierarchy,
}

/// What to do with a code that changes nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NoEffectRule {
    /// Redeem it anyway (the default).
    #[default]
    RedeemAnyway,
    /// Skip it with `no_effect`.
    Skip,
}

/// The project's stacking rules, with the reference's defaults.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackingRules {
    /// Most redeemables in one request (at most 30).
    pub redeemables_limit: u32,
    /// Most applicable redeemables (at most 30).
    pub applicable_redeemables_limit: u32,
    /// Most applicable redeemables per category, unless a category has its
    /// own limit.
    pub applicable_redeemables_per_category_limit: Option<u32>,
    /// Per-category limits by category name.
    pub applicable_redeemables_category_limits: BTreeMap<String, u32>,
    /// Most applicable redeemables of exclusive categories (at most 5).
    pub applicable_exclusive_redeemables_limit: u32,
    /// Most applicable redeemables per exclusive category.
    pub applicable_exclusive_redeemables_per_category_limit: Option<u32>,
    /// Categories whose codes apply alone (besides joint ones).
    pub exclusive_categories: Vec<String>,
    /// Categories whose codes always combine.
    pub joint_categories: Vec<String>,
    /// `ALL` or `PARTIAL`.
    pub application_mode: ApplicationMode,
    /// `REQUESTED_ORDER` or `CATEGORY_HIERARCHY`.
    pub sorting_rule: SortingRule,
    /// `REDEEM_ANYWAY` or `SKIP`.
    pub no_effect_rule: NoEffectRule,
}

impl Default for StackingRules {
    fn default() -> StackingRules {
        StackingRules {
            redeemables_limit: 30,
            applicable_redeemables_limit: 5,
            applicable_redeemables_per_category_limit: Some(1),
            applicable_redeemables_category_limits: BTreeMap::new(),
            applicable_exclusive_redeemables_limit: 1,
            applicable_exclusive_redeemables_per_category_limit: None,
            exclusive_categories: Vec::new(),
            joint_categories: Vec::new(),
            application_mode: ApplicationMode::All,
            sorting_rule: SortingRule::RequestedOrder,
            no_effect_rule: NoEffectRule::RedeemAnyway,
        }
    }
}

/// Stacking rules that break the reference's ranges.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid stacking rules: {0}")]
pub struct StackingRulesError(&'static str);

fn redeemables_max() -> u32 {
    u32::try_from(REDEEMABLES_PER_REQUEST_MAX).unwrap_or(u32::MAX)
}

impl StackingRules {
    /// Checks the ranges: limits 1..=30, exclusive limits 1..=5.
    pub fn check(&self) -> Result<(), StackingRulesError> {
        let in_range = |v: u32, max: u32| (1..=max).contains(&v);
        if !in_range(self.redeemables_limit, redeemables_max()) {
            return Err(StackingRulesError("redeemables_limit must be 1..=30"));
        }
        if !in_range(
            self.applicable_redeemables_limit,
            APPLICABLE_REDEEMABLES_MAX,
        ) {
            return Err(StackingRulesError(
                "applicable_redeemables_limit must be 1..=30",
            ));
        }
        let per_category = self
            .applicable_redeemables_per_category_limit
            .into_iter()
            .chain(
                self.applicable_redeemables_category_limits
                    .values()
                    .copied(),
            );
        if per_category
            .into_iter()
            .any(|v| !in_range(v, APPLICABLE_REDEEMABLES_MAX))
        {
            return Err(StackingRulesError("per-category limits must be 1..=30"));
        }
        let exclusive = std::iter::once(self.applicable_exclusive_redeemables_limit)
            .chain(self.applicable_exclusive_redeemables_per_category_limit);
        if exclusive
            .into_iter()
            .any(|v| !in_range(v, EXCLUSIVE_REDEEMABLES_MAX))
        {
            return Err(StackingRulesError("exclusive limits must be 1..=5"));
        }
        Ok(())
    }

    fn category_limit(&self, category: &str) -> Option<u32> {
        self.applicable_redeemables_category_limits
            .get(category)
            .copied()
            .or(self.applicable_redeemables_per_category_limit)
    }
}

/// Why an applicable redeemable was skipped. The wire's `details.key`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Past `applicable_redeemables_limit`.
    ApplicableRedeemablesLimitExceeded,
    /// Past a per-category limit.
    ApplicableRedeemablesPerCategoryLimitExceeded,
    /// Past `applicable_exclusive_redeemables_limit`.
    ApplicableExclusiveRedeemablesLimitExceeded,
    /// Past `applicable_exclusive_redeemables_per_category_limit`.
    ApplicableExclusiveRedeemablesPerCategoryLimitExceeded,
    /// An exclusive code and another code would combine.
    ExclusionRulesNotMet,
    /// An earlier redeemable failed in `ALL` mode.
    PrecedingValidationFailed,
    /// The code changes nothing and the rule is `SKIP`.
    NoEffect,
}

impl SkipReason {
    /// The stable key.
    pub fn key(self) -> &'static str {
        match self {
            SkipReason::ApplicableRedeemablesLimitExceeded => {
                "applicable_redeemables_limit_exceeded"
            }
            SkipReason::ApplicableRedeemablesPerCategoryLimitExceeded => {
                "applicable_redeemables_per_category_limit_exceeded"
            }
            SkipReason::ApplicableExclusiveRedeemablesLimitExceeded => {
                "applicable_exclusive_redeemables_limit_exceeded"
            }
            SkipReason::ApplicableExclusiveRedeemablesPerCategoryLimitExceeded => {
                "applicable_exclusive_redeemables_per_category_limit_exceeded"
            }
            SkipReason::ExclusionRulesNotMet => "exclusion_rules_not_met",
            SkipReason::PrecedingValidationFailed => "preceding_validation_failed",
            SkipReason::NoEffect => "no_effect",
        }
    }
}

/// One redeemable of a stacked request.
#[derive(Debug, Clone, Copy)]
pub struct StackEntry<'a> {
    /// The voucher, its campaign and counters.
    pub candidate: Candidate<'a>,
    /// What a gift card should spend (ignored for discounts).
    pub credits: Credits,
}

/// What became of one redeemable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryStatus {
    /// It applies, with this outcome on the running order.
    Applicable(Box<Outcome>),
    /// It was refused on its own.
    Inapplicable(Refusal),
    /// It would apply, but a stacking rule skipped it.
    Skipped(SkipReason),
}

/// One redeemable's result, in request order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryResult {
    /// What became of it.
    pub status: EntryStatus,
    /// The running order after it (unchanged when not applicable).
    pub order_after: OrderState,
}

/// The result of a stacked validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackValidation {
    /// True when the request as a whole may be redeemed.
    pub valid: bool,
    /// One result per redeemable, in request order.
    pub entries: Vec<EntryResult>,
    /// Indices of the redeemables in the order they were applied.
    pub application_order: Vec<usize>,
    /// The order with every applicable code applied (the order as given
    /// when the request is not valid).
    pub order: OrderState,
}

impl StackValidation {
    /// The first refusal, in application order, if any.
    pub fn first_refusal(&self) -> Option<&Refusal> {
        self.first_refused().map(|(_, refusal)| refusal)
    }

    /// The first refused redeemable in application order: its index in the
    /// request and its refusal.
    fn first_refused(&self) -> Option<(usize, &Refusal)> {
        self.application_order
            .iter()
            .find_map(|&i| match self.entries.get(i).map(|e| &e.status) {
                Some(EntryStatus::Inapplicable(refusal)) => Some((i, refusal)),
                _ => None,
            })
    }
}

/// Why a stacked request was refused as a whole, before any code was
/// looked at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StackError {
    /// No redeemables (wire key `invalid_payload`).
    #[error("no redeemables")]
    Empty,
    /// More redeemables than the stacking rules allow (wire key
    /// `invalid_payload`).
    #[error("at most {limit} redeemables per request")]
    TooMany {
        /// The limit in force.
        limit: u32,
    },
    /// One code appears twice (wire key `duplicated_redeemables`).
    #[error("redeemable {code} appears more than once")]
    Duplicated {
        /// The repeated code.
        code: String,
    },
    /// The order or customer is bad input.
    #[error("{0}")]
    Input(Refusal),
    /// In `ALL` mode, a redeemable was refused: the whole redemption is.
    #[error("redeemable {index} refused: {refusal}")]
    Refused {
        /// Index of the refused redeemable in the request.
        index: usize,
        /// Its refusal.
        refusal: Refusal,
        /// The whole validation, for the failure log.
        validation: Box<StackValidation>,
    },
}

/// Validates a stack of redeemables: never changes anything.
pub fn validate_stack(
    project: &Project,
    entries: &[StackEntry<'_>],
    checkout: &Checkout<'_>,
) -> Result<StackValidation, StackError> {
    let rules = &project.stacking;
    if entries.is_empty() {
        return Err(StackError::Empty);
    }
    let limit = rules.redeemables_limit.min(redeemables_max());
    if entries.len() > limit as usize {
        return Err(StackError::TooMany { limit });
    }
    for (i, entry) in entries.iter().enumerate() {
        let code = entry.candidate.voucher.code.as_str();
        if entries[..i]
            .iter()
            .any(|e| e.candidate.voucher.code.as_str() == code)
        {
            return Err(StackError::Duplicated {
                code: code.to_owned(),
            });
        }
    }
    let checked = decision::check_input(project, checkout).map_err(StackError::Input)?;
    let initial = OrderState::of(&checked).map_err(|e| StackError::Input(e.into()))?;
    let application_order = sort(rules, entries);

    let mut state = initial.clone();
    let mut results: Vec<Option<EntryResult>> = vec![None; entries.len()];
    let mut tally = Tally::default();
    let mut failed = false;
    for &index in &application_order {
        let entry = &entries[index];
        let status = if failed {
            EntryStatus::Skipped(SkipReason::PrecedingValidationFailed)
        } else {
            let candidate = tally.adjust(&entry.candidate);
            match decision::decide(
                project,
                &candidate,
                checkout,
                &checked,
                &state,
                entry.credits,
                CountLimits::Enforce,
            ) {
                Err(refusal) => {
                    failed = rules.application_mode == ApplicationMode::All;
                    EntryStatus::Inapplicable(refusal)
                }
                Ok(outcome) => match tally.skip_reason(rules, &entry.candidate, &outcome) {
                    Some(reason) => EntryStatus::Skipped(reason),
                    None => {
                        tally.record(rules, &entry.candidate, &outcome);
                        // Computed on this very state just above, so it
                        // cannot be stale.
                        state
                            .commit(outcome.applied())
                            .map_err(|e| StackError::Input(e.into()))?;
                        EntryStatus::Applicable(Box::new(outcome))
                    }
                },
            }
        };
        results[index] = Some(EntryResult {
            status,
            order_after: state.clone(),
        });
    }
    let entries: Vec<EntryResult> = results.into_iter().flatten().collect();
    let valid = !failed
        && entries
            .iter()
            .any(|e| matches!(e.status, EntryStatus::Applicable(_)))
        && (rules.application_mode == ApplicationMode::Partial
            || !entries
                .iter()
                .any(|e| matches!(e.status, EntryStatus::Inapplicable(_))));
    let order = if valid { state } else { initial };
    Ok(StackValidation {
        valid,
        entries,
        application_order,
        order,
    })
}

/// A successful stacked redemption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRedemption {
    /// The validation it rests on.
    pub validation: StackValidation,
    /// One transition per applied redeemable: (index in the request,
    /// transition), in application order.
    pub transitions: Vec<(usize, Transition)>,
}

/// Redeems a stack: the same decision as [`validate_stack`], plus one
/// transition per applied code. In `ALL` mode any refusal refuses the
/// whole; with nothing applicable it is refused too.
pub fn redeem_stack(
    project: &Project,
    entries: &[StackEntry<'_>],
    checkout: &Checkout<'_>,
) -> Result<StackRedemption, StackError> {
    let validation = validate_stack(project, entries, checkout)?;
    if !validation.valid {
        let (index, refusal) = match validation.first_refused() {
            Some((index, refusal)) => (index, refusal.clone()),
            // Nothing refused, nothing applied: every code was skipped
            // (`no_effect`); name the first in application order.
            None => (
                validation.application_order.first().copied().unwrap_or(0),
                Refusal {
                    details: Some("every redeemable was skipped".to_owned()),
                    ..Refusal::new(crate::decision::Reason::RedemptionRulesViolated)
                },
            ),
        };
        return Err(StackError::Refused {
            index,
            refusal,
            validation: Box::new(validation),
        });
    }
    let mut transitions = Vec::new();
    for &index in &validation.application_order {
        if let EntryStatus::Applicable(outcome) = &validation.entries[index].status {
            let voucher = entries[index].candidate.voucher;
            let transition =
                decision::transition(voucher, outcome).map_err(|refusal| StackError::Refused {
                    index,
                    refusal,
                    validation: Box::new(validation.clone()),
                })?;
            transitions.push((index, transition));
        }
    }
    Ok(StackRedemption {
        validation,
        transitions,
    })
}

fn categories<'a>(candidate: &Candidate<'a>) -> impl Iterator<Item = &'a str> {
    candidate
        .campaign
        .into_iter()
        .flat_map(|c| c.categories.iter().map(|k| k.name.as_str()))
}

/// How a code combines with others, from its campaign's categories.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Combining {
    /// In neither an exclusive nor a joint category: with anything but an
    /// exclusive code.
    Plain,
    /// In an exclusive category: only with exclusive and joint codes.
    Exclusive,
    /// In a joint category: with anything.
    Joint,
    /// In both (a campaign may be): with anything, and it counts as
    /// exclusive for the exclusive limits and for later plain codes.
    ExclusiveJoint,
}

impl Combining {
    fn of(rules: &StackingRules, candidate: &Candidate<'_>) -> Combining {
        let in_list = |list: &[String]| categories(candidate).any(|c| list.iter().any(|l| l == c));
        match (
            in_list(&rules.exclusive_categories),
            in_list(&rules.joint_categories),
        ) {
            (false, false) => Combining::Plain,
            (true, false) => Combining::Exclusive,
            (false, true) => Combining::Joint,
            (true, true) => Combining::ExclusiveJoint,
        }
    }

    fn is_exclusive(self) -> bool {
        matches!(self, Combining::Exclusive | Combining::ExclusiveJoint)
    }
}

fn sort(rules: &StackingRules, entries: &[StackEntry<'_>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..entries.len()).collect();
    if rules.sorting_rule == SortingRule::CategoryHierarchy {
        // `None` (no category) sorts after every hierarchy, even u32::MAX.
        let key = |i: &usize| {
            let lowest = entries
                .get(*i)
                .and_then(|e| e.candidate.campaign)
                .and_then(|c| c.categories.iter().map(|k| k.hierarchy).min());
            (lowest.is_none(), lowest)
        };
        // Stable: equal hierarchies keep the requested order.
        order.sort_by_key(key);
    }
    order
}

/// What was applied so far, for the stacking limits and the counters of
/// later codes of the same campaign.
#[derive(Debug, Default)]
struct Tally {
    applicable: u32,
    exclusive: u32,
    /// A code in neither an exclusive nor a joint category was applied.
    plain_applied: bool,
    /// A code in an exclusive category was applied.
    exclusive_applied: bool,
    per_category: BTreeMap<String, u32>,
    exclusive_per_category: BTreeMap<String, u32>,
    per_campaign: BTreeMap<String, (u64, i64)>,
}

impl Tally {
    /// The candidate with its campaign's counters raised by the codes of
    /// the same campaign applied earlier in this request.
    fn adjust<'a>(&self, candidate: &Candidate<'a>) -> Candidate<'a> {
        let mut adjusted = *candidate;
        if let Some((uses, given)) = candidate
            .campaign
            .and_then(|c| self.per_campaign.get(&c.name))
        {
            // Saturating: the counters come from the store, not from us.
            adjusted.counters.customer_redemptions =
                adjusted.counters.customer_redemptions.saturating_add(*uses);
            adjusted.counters.campaign_redemptions =
                adjusted.counters.campaign_redemptions.saturating_add(*uses);
            adjusted.counters.campaign_given_minor = adjusted
                .counters
                .campaign_given_minor
                .saturating_add(*given);
        }
        adjusted
    }

    fn skip_reason(
        &self,
        rules: &StackingRules,
        candidate: &Candidate<'_>,
        outcome: &Outcome,
    ) -> Option<SkipReason> {
        let combining = Combining::of(rules, candidate);
        if combining.is_exclusive() {
            if self.exclusive >= rules.applicable_exclusive_redeemables_limit {
                return Some(SkipReason::ApplicableExclusiveRedeemablesLimitExceeded);
            }
            if let Some(limit) = rules.applicable_exclusive_redeemables_per_category_limit {
                let full = categories(candidate)
                    .any(|c| self.exclusive_per_category.get(c).copied().unwrap_or(0) >= limit);
                if full {
                    return Some(
                        SkipReason::ApplicableExclusiveRedeemablesPerCategoryLimitExceeded,
                    );
                }
            }
        }
        let excluded = match combining {
            Combining::Joint | Combining::ExclusiveJoint => false,
            Combining::Exclusive => self.plain_applied,
            Combining::Plain => self.exclusive_applied,
        };
        if excluded {
            return Some(SkipReason::ExclusionRulesNotMet);
        }
        if self.applicable >= rules.applicable_redeemables_limit {
            return Some(SkipReason::ApplicableRedeemablesLimitExceeded);
        }
        let category_full = categories(candidate).any(|c| {
            rules
                .category_limit(c)
                .is_some_and(|limit| self.per_category.get(c).copied().unwrap_or(0) >= limit)
        });
        if category_full {
            return Some(SkipReason::ApplicableRedeemablesPerCategoryLimitExceeded);
        }
        if rules.no_effect_rule == NoEffectRule::Skip && outcome.given_minor() == 0 {
            return Some(SkipReason::NoEffect);
        }
        None
    }

    fn record(&mut self, rules: &StackingRules, candidate: &Candidate<'_>, outcome: &Outcome) {
        let combining = Combining::of(rules, candidate);
        self.applicable += 1;
        if combining.is_exclusive() {
            self.exclusive += 1;
            self.exclusive_applied = true;
            for c in categories(candidate) {
                *self.exclusive_per_category.entry(c.to_owned()).or_default() += 1;
            }
        }
        if combining == Combining::Plain {
            self.plain_applied = true;
        }
        for c in categories(candidate) {
            *self.per_category.entry(c.to_owned()).or_default() += 1;
        }
        if let Some(campaign) = candidate.campaign {
            let slot = self.per_campaign.entry(campaign.name.clone()).or_default();
            slot.0 += 1;
            slot.1 = slot.1.saturating_add(outcome.given_minor());
        }
    }
}

#[cfg(test)]
mod tests;
