//! Tests of stacking: the reference's sequential example, `ALL` and
//! `PARTIAL` modes, every stacking limit and skip reason, the sorting rules,
//! request-level errors, counters across codes of one campaign, the ranges
//! of the rules, and properties of random stacks.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::code_pattern::Code;
use crate::decision::{Reason, Transition};
use crate::discount::{Discount, DiscountValue, Effect};
use crate::ledger::{Entry, EntryKind, Ledger};
use crate::money::{Currency, Money};
use crate::order::{Customer, Order, OrderItem};
use crate::validity::{Moment, Validity};
use crate::voucher::{
    Activity, Benefit, Campaign, CampaignKind, CampaignLimits, CampaignType, Category, Counters,
    RedemptionQuantity, Voucher,
};

// ---------------------------------------------------------------------------
// Fixtures

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
}

/// One redeemable as a test writes it: owns what a [`StackEntry`] borrows.
#[derive(Debug, Clone)]
struct Spec {
    voucher: Voucher,
    campaign: Option<Campaign>,
    counters: Counters,
    credits: Credits,
}

fn spec(code: &str, benefit: Benefit, credits: Credits) -> Spec {
    Spec {
        voucher: Voucher {
            code: Code::parse(code).unwrap(),
            benefit,
            activity: Activity::Enabled,
            validity: Validity::default(),
            quantity: RedemptionQuantity::Unlimited,
            redeemed_quantity: 0,
            holder_id: None,
            published_at: None,
            active_after_publishing: None,
            rules: Vec::new(),
        },
        campaign: None,
        counters: Counters::default(),
        credits,
    }
}

fn discount(code: &str, value: DiscountValue, effect: Effect) -> Spec {
    let discount = Discount::new(value, effect).unwrap();
    spec(code, Benefit::Discount(discount), Credits::WhatIsOwed)
}

/// `amount_off` minor units off the order.
fn amount(code: &str, off: i64) -> Spec {
    let value = DiscountValue::Amount {
        amount_off: eur(off),
    };
    discount(code, value, Effect::ApplyToOrder)
}

/// `percent_off` percent off the order.
fn percent(code: &str, percent_off: i64) -> Spec {
    let value = DiscountValue::Percent {
        percent_off: Decimal::from(percent_off),
        amount_limit: None,
    };
    discount(code, value, Effect::ApplyToOrder)
}

/// A gift card with `balance` minor units.
fn gift(code: &str, balance: i64, credits: Credits) -> Spec {
    let ledger = Ledger::from_balance(Currency::EUR, balance).unwrap();
    spec(code, Benefit::Gift(ledger), credits)
}

fn campaign(name: &str, categories: &[(&str, u32)]) -> Campaign {
    Campaign {
        name: name.to_owned(),
        campaign_type: CampaignType::DiscountCoupons,
        kind: CampaignKind::Static,
        activity: Activity::Enabled,
        validity: Validity::default(),
        time_zone: None,
        rules: Vec::new(),
        limits: CampaignLimits::default(),
        categories: categories
            .iter()
            .map(|(name, hierarchy)| Category {
                name: (*name).to_owned(),
                hierarchy: *hierarchy,
            })
            .collect(),
    }
}

impl Spec {
    /// In campaign `name`, of these (category, hierarchy) pairs.
    fn of(mut self, name: &str, categories: &[(&str, u32)]) -> Spec {
        self.campaign = Some(campaign(name, categories));
        self
    }

    /// In a campaign of the same name as `category`, of that one category.
    fn cat(self, category: &str) -> Spec {
        self.of(category, &[(category, 1)])
    }

    fn limits(mut self, limits: CampaignLimits) -> Spec {
        let campaign = self.campaign.as_mut().expect("limits need a campaign");
        campaign.limits = limits;
        self
    }

    fn counters(mut self, counters: Counters) -> Spec {
        self.counters = counters;
        self
    }

    /// Expired yesterday.
    fn expired(mut self) -> Spec {
        self.voucher.validity.expiration = Some(Moment::Instant(now() - Duration::days(1)));
        self
    }

    fn redeemed(mut self, times: u64) -> Spec {
        self.voucher.redeemed_quantity = times;
        self
    }
}

fn entries(specs: &[Spec]) -> Vec<StackEntry<'_>> {
    specs
        .iter()
        .map(|s| StackEntry {
            candidate: Candidate {
                voucher: &s.voucher,
                campaign: s.campaign.as_ref(),
                counters: s.counters,
            },
            credits: s.credits,
        })
        .collect()
}

fn order(amount: i64) -> Order {
    Order {
        amount: Some(eur(amount)),
        ..Order::default()
    }
}

fn project(rules: &StackingRules) -> Project {
    Project {
        stacking: rules.clone(),
        ..Project::new(Currency::EUR)
    }
}

fn customer() -> Customer {
    Customer {
        id: Some("cust_1".to_owned()),
        ..Customer::default()
    }
}

fn validate(
    rules: &StackingRules,
    specs: &[Spec],
    order: &Order,
) -> Result<StackValidation, StackError> {
    let customer = customer();
    let checkout = Checkout {
        order,
        customer: &customer,
        now: now(),
    };
    validate_stack(&project(rules), &entries(specs), &checkout)
}

fn redeem(
    rules: &StackingRules,
    specs: &[Spec],
    order: &Order,
) -> Result<StackRedemption, StackError> {
    let customer = customer();
    let checkout = Checkout {
        order,
        customer: &customer,
        now: now(),
    };
    redeem_stack(&project(rules), &entries(specs), &checkout)
}

/// What became of one redeemable, in short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Got {
    /// Applicable, with this reduction of the order.
    Applies(i64),
    /// Inapplicable for this reason.
    Refused(Reason),
    /// Skipped for this reason.
    Skipped(SkipReason),
}

use Got::{Applies, Refused, Skipped};

fn got(validation: &StackValidation) -> Vec<Got> {
    validation
        .entries
        .iter()
        .map(|e| match &e.status {
            EntryStatus::Applicable(outcome) => Applies(outcome.applied().discount_minor()),
            EntryStatus::Inapplicable(refusal) => Refused(refusal.reason),
            EntryStatus::Skipped(reason) => Skipped(*reason),
        })
        .collect()
}

const ALL_SKIP_REASONS: [SkipReason; 7] = [
    SkipReason::ApplicableRedeemablesLimitExceeded,
    SkipReason::ApplicableRedeemablesPerCategoryLimitExceeded,
    SkipReason::ApplicableExclusiveRedeemablesLimitExceeded,
    SkipReason::ApplicableExclusiveRedeemablesPerCategoryLimitExceeded,
    SkipReason::ExclusionRulesNotMet,
    SkipReason::PrecedingValidationFailed,
    SkipReason::NoEffect,
];

/// Validates `specs` on an order of `amount` minor units and checks what
/// became of each redeemable and whether the request is valid; then that
/// the final order holds exactly the applied reductions (or none when not
/// valid) and that `redeem_stack` agrees.
fn check(rules: &StackingRules, specs: &[Spec], amount: i64, expected: &[Got], valid: bool) {
    let order = order(amount);
    let validation = validate(rules, specs, &order).unwrap();
    assert_eq!(got(&validation), expected);
    assert_eq!(validation.valid, valid);
    let applied: i64 = expected
        .iter()
        .map(|g| match g {
            Applies(minor) => *minor,
            _ => 0,
        })
        .sum();
    let totals = validation.order.totals();
    assert_eq!(totals.amount_minor, amount);
    let expected_discount = if valid { applied } else { 0 };
    assert_eq!(totals.total_discount_amount_minor, expected_discount);
    assert_eq!(totals.total_amount_minor, amount - expected_discount);
    match redeem(rules, specs, &order) {
        Ok(redemption) => {
            assert!(valid, "redeemed an invalid stack");
            assert_eq!(redemption.validation, validation);
            let applied_count = expected.iter().filter(|g| matches!(g, Applies(_))).count();
            assert_eq!(redemption.transitions.len(), applied_count);
        }
        Err(StackError::Refused {
            validation: seen, ..
        }) => {
            assert!(!valid, "refused a valid stack");
            assert_eq!(*seen, validation);
        }
        Err(other) => panic!("unexpected {other:?}"),
    }
}

fn with(change: impl FnOnce(&mut StackingRules)) -> StackingRules {
    let mut rules = StackingRules::default();
    change(&mut rules);
    rules
}

// ---------------------------------------------------------------------------
// The reference's example (§2.9)

#[test]
fn reference_example_applies_in_sequence_on_the_running_total() {
    // Order 2000.00 EUR; gift credits 1.00, then 20%, then 80.00 off.
    let specs = [
        gift("GIFT", 10_000, Credits::Exactly(eur(100))),
        percent("TWENTY", 20).redeemed(4),
        amount("PROMO", 8000),
    ];
    let order = order(200_000);
    let validation = validate(&StackingRules::default(), &specs, &order).unwrap();
    assert!(validation.valid);
    assert_eq!(validation.application_order, [0, 1, 2]);
    assert_eq!(validation.first_refusal(), None);

    // (applied, discount_amount, total_amount) after each redeemable.
    let expected = [
        (100, 100, 199_900),
        (39_980, 40_080, 159_920),
        (8000, 48_080, 151_920),
    ];
    assert_eq!(validation.entries.len(), 3);
    for (entry, (applied, discount, total)) in validation.entries.iter().zip(expected) {
        let EntryStatus::Applicable(outcome) = &entry.status else {
            panic!("not applicable: {entry:?}");
        };
        assert_eq!(outcome.applied().discount_minor(), applied);
        let t = entry.order_after.totals();
        assert_eq!(
            (
                t.amount_minor,
                t.discount_amount_minor,
                t.items_discount_amount_minor,
                t.total_discount_amount_minor,
                t.total_amount_minor
            ),
            (200_000, discount, 0, discount, total)
        );
    }
    let EntryStatus::Applicable(first) = &validation.entries[0].status else {
        panic!("gift not applicable");
    };
    assert!(matches!(
        **first,
        Outcome::Gift {
            credits_minor: 100,
            balance_after_minor: 9900,
            ..
        }
    ));
    assert_eq!(validation.order, validation.entries[2].order_after);
    let totals = validation.order.totals();
    assert_eq!(totals.discount_amount_minor, 48_080);
    assert_eq!(totals.total_amount_minor, 151_920);

    let redemption = redeem(&StackingRules::default(), &specs, &order).unwrap();
    assert_eq!(redemption.validation, validation);
    assert_eq!(
        redemption.transitions,
        vec![
            (
                0,
                Transition {
                    redeemed_quantity_after: 1,
                    ledger_entry: Some(Entry {
                        kind: EntryKind::Redemption,
                        amount_minor: 100,
                        balance_after_minor: 9900,
                    }),
                    given_minor: 100,
                }
            ),
            (
                1,
                Transition {
                    redeemed_quantity_after: 5,
                    ledger_entry: None,
                    given_minor: 39_980,
                }
            ),
            (
                2,
                Transition {
                    redeemed_quantity_after: 1,
                    ledger_entry: None,
                    given_minor: 8000,
                }
            ),
        ]
    );
}

#[test]
fn the_order_of_application_changes_the_totals() {
    // On 100.00: 10% (10.00) then 10.00 off; 10.00 off then 10% of 90.00.
    check(
        &StackingRules::default(),
        &[percent("P", 10), amount("A", 1000)],
        10_000,
        &[Applies(1000), Applies(1000)],
        true,
    );
    check(
        &StackingRules::default(),
        &[amount("A", 1000), percent("P", 10)],
        10_000,
        &[Applies(1000), Applies(900)],
        true,
    );
}

// ---------------------------------------------------------------------------
// ALL and PARTIAL

#[test]
fn all_mode_one_refusal_fails_the_request() {
    let rules = StackingRules::default();
    let specs = [
        amount("A", 1000),
        amount("B", 500).expired(),
        amount("C", 300),
    ];
    check(
        &rules,
        &specs,
        10_000,
        &[
            Applies(1000),
            Refused(Reason::VoucherExpired),
            Skipped(SkipReason::PrecedingValidationFailed),
        ],
        false,
    );
    let order = order(10_000);
    let validation = validate(&rules, &specs, &order).unwrap();
    // The running order of the first code is reported, the request's order
    // is the one given.
    assert_eq!(
        validation.entries[0]
            .order_after
            .totals()
            .total_amount_minor,
        9000
    );
    assert_eq!(validation.order.totals().total_amount_minor, 10_000);
    assert_eq!(
        validation.first_refusal().map(|r| r.reason),
        Some(Reason::VoucherExpired)
    );
    match redeem(&rules, &specs, &order) {
        Err(StackError::Refused { index, refusal, .. }) => {
            assert_eq!(index, 1);
            assert_eq!(refusal.reason, Reason::VoucherExpired);
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn all_mode_a_first_refusal_skips_every_later_code() {
    check(
        &StackingRules::default(),
        &[
            amount("A", 1000).expired(),
            amount("B", 500).redeemed(1).limited(1),
            amount("C", 300),
        ],
        10_000,
        &[
            Refused(Reason::VoucherExpired),
            Skipped(SkipReason::PrecedingValidationFailed),
            Skipped(SkipReason::PrecedingValidationFailed),
        ],
        false,
    );
    // The first refusal wins, not a later one.
    let order = order(10_000);
    let specs = [
        amount("A", 1000),
        amount("B", 500).redeemed(1).limited(1),
        amount("C", 300).expired(),
    ];
    match redeem(&StackingRules::default(), &specs, &order) {
        Err(StackError::Refused { index, refusal, .. }) => {
            assert_eq!((index, refusal.reason), (1, Reason::QuantityExceeded));
        }
        other => panic!("unexpected {other:?}"),
    }
}

impl Spec {
    fn limited(mut self, quantity: u64) -> Spec {
        self.voucher.quantity = RedemptionQuantity::Limited(quantity);
        self
    }
}

#[test]
fn a_skipped_code_does_not_fail_the_request() {
    let rules = with(|r| r.applicable_redeemables_limit = 1);
    check(
        &rules,
        &[amount("A", 1000), amount("B", 500), amount("C", 300)],
        10_000,
        &[
            Applies(1000),
            Skipped(SkipReason::ApplicableRedeemablesLimitExceeded),
            Skipped(SkipReason::ApplicableRedeemablesLimitExceeded),
        ],
        true,
    );
}

#[test]
fn partial_mode_applies_the_applicable_and_reports_the_rest() {
    let rules = with(|r| r.application_mode = ApplicationMode::Partial);
    let specs = [
        amount("A", 1000),
        amount("B", 500).expired(),
        amount("C", 300),
    ];
    check(
        &rules,
        &specs,
        10_000,
        &[Applies(1000), Refused(Reason::VoucherExpired), Applies(300)],
        true,
    );
    let redemption = redeem(&rules, &specs, &order(10_000)).unwrap();
    let indices: Vec<usize> = redemption.transitions.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [0, 2]);
    assert_eq!(
        redemption.validation.first_refusal().map(|r| r.reason),
        Some(Reason::VoucherExpired)
    );

    // Nothing applicable: not valid, refused with the first refusal.
    let specs = [amount("A", 1000).expired(), amount("B", 500).limited(0)];
    check(
        &rules,
        &specs,
        10_000,
        &[
            Refused(Reason::VoucherExpired),
            Refused(Reason::QuantityExceeded),
        ],
        false,
    );
    match redeem(&rules, &specs, &order(10_000)) {
        Err(StackError::Refused { index, refusal, .. }) => {
            assert_eq!((index, refusal.reason), (0, Reason::VoucherExpired));
        }
        other => panic!("unexpected {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Limits

#[test]
fn applicable_redeemables_limit_defaults_to_five() {
    let specs: Vec<Spec> = (0..7).map(|i| amount(&format!("A{i}"), 100)).collect();
    let over = Skipped(SkipReason::ApplicableRedeemablesLimitExceeded);
    check(
        &StackingRules::default(),
        &specs,
        10_000,
        &[
            Applies(100),
            Applies(100),
            Applies(100),
            Applies(100),
            Applies(100),
            over,
            over,
        ],
        true,
    );
    check(
        &with(|r| r.applicable_redeemables_limit = 2),
        &specs[..3],
        10_000,
        &[Applies(100), Applies(100), over],
        true,
    );
}

#[test]
fn per_category_limit_defaults_to_one() {
    let over = Skipped(SkipReason::ApplicableRedeemablesPerCategoryLimitExceeded);
    let a1 = amount("A1", 100).of("C1", &[("a", 1)]);
    let a2 = amount("A2", 200).of("C2", &[("a", 1)]);
    let a3 = amount("A3", 300).of("C1", &[("a", 1)]);
    let b1 = amount("B1", 400).of("C3", &[("b", 1)]);
    let b2 = amount("B2", 500).of("C4", &[("b", 2)]);
    let plain = amount("P", 50);
    // Codes of other campaigns, or of the same one, in category a.
    check(
        &StackingRules::default(),
        &[
            a1.clone(),
            a2.clone(),
            b1.clone(),
            a3.clone(),
            plain.clone(),
        ],
        10_000,
        &[Applies(100), over, Applies(400), over, Applies(50)],
        true,
    );
    // A campaign in two categories is skipped when either is full.
    let ab = amount("AB", 600).of("C5", &[("a", 1), ("b", 1)]);
    check(
        &StackingRules::default(),
        &[b1.clone(), ab.clone()],
        10_000,
        &[Applies(400), over],
        true,
    );
    // A category's own limit overrides the default; the others keep it.
    let rules = with(|r| {
        r.applicable_redeemables_category_limits
            .insert("a".to_owned(), 2);
    });
    check(
        &rules,
        &[a1.clone(), a2.clone(), a3.clone(), b1.clone(), b2.clone()],
        10_000,
        &[Applies(100), Applies(200), over, Applies(400), over],
        true,
    );
    // No default: only the categories with their own limit are limited.
    let rules = with(|r| {
        r.applicable_redeemables_per_category_limit = None;
        r.applicable_redeemables_category_limits
            .insert("b".to_owned(), 1);
    });
    check(
        &rules,
        &[a1, a2, a3, b1, b2],
        10_000,
        &[Applies(100), Applies(200), Applies(300), Applies(400), over],
        true,
    );
}

fn exclusive_rules() -> StackingRules {
    with(|r| {
        r.exclusive_categories = vec!["x".to_owned(), "y".to_owned(), "z".to_owned()];
        r.joint_categories = vec!["j".to_owned(), "k".to_owned()];
    })
}

#[test]
fn an_exclusive_code_applies_alone() {
    let rules = exclusive_rules();
    let excluded = Skipped(SkipReason::ExclusionRulesNotMet);
    let x = amount("X", 1000).cat("x");
    let p = amount("P", 500);
    let q = amount("Q", 300).cat("q");
    // Later plain codes (with or without a category) are skipped.
    check(
        &rules,
        &[x.clone(), p.clone(), q.clone()],
        10_000,
        &[Applies(1000), excluded, excluded],
        true,
    );
    // An exclusive code after a plain one is skipped.
    check(
        &rules,
        &[p.clone(), x.clone(), q.clone()],
        10_000,
        &[Applies(500), excluded, Applies(300)],
        true,
    );
    // Exclusivity is decided before the applicable limit.
    let rules = with(|r| {
        *r = exclusive_rules();
        r.applicable_redeemables_limit = 1;
    });
    check(&rules, &[x, p], 10_000, &[Applies(1000), excluded], true);
}

#[test]
fn joint_codes_always_combine() {
    let rules = exclusive_rules();
    let excluded = Skipped(SkipReason::ExclusionRulesNotMet);
    let x = amount("X", 1000).cat("x");
    let j = amount("J", 200).cat("j");
    let k = amount("K", 100).cat("k");
    let p = amount("P", 500);
    check(
        &rules,
        &[x.clone(), j.clone(), p.clone(), k.clone()],
        10_000,
        &[Applies(1000), Applies(200), excluded, Applies(100)],
        true,
    );
    check(
        &rules,
        &[j.clone(), x.clone(), k.clone()],
        10_000,
        &[Applies(200), Applies(1000), Applies(100)],
        true,
    );
    check(
        &rules,
        &[p, j, x, k],
        10_000,
        &[Applies(500), Applies(200), excluded, Applies(100)],
        true,
    );
    // A campaign both exclusive and joint is never excluded itself, but
    // still excludes later plain codes.
    let xj = amount("XJ", 700).of("XJ", &[("x", 1), ("j", 1)]);
    check(
        &rules,
        &[amount("P", 500), xj.clone(), amount("P2", 50)],
        10_000,
        &[Applies(500), Applies(700), excluded],
        true,
    );
}

#[test]
fn exclusive_codes_combine_within_the_exclusive_limits() {
    let x = amount("X", 1000).cat("x");
    let y = amount("Y", 500).cat("y");
    let z = amount("Z", 300).cat("z");
    let over = Skipped(SkipReason::ApplicableExclusiveRedeemablesLimitExceeded);
    // Default: one exclusive code.
    check(
        &exclusive_rules(),
        &[x.clone(), y.clone()],
        10_000,
        &[Applies(1000), over],
        true,
    );
    // Two allowed: the third is skipped; plain codes are still excluded.
    let rules = with(|r| {
        *r = exclusive_rules();
        r.applicable_exclusive_redeemables_limit = 2;
    });
    check(
        &rules,
        &[x.clone(), y.clone(), z, amount("P", 10)],
        10_000,
        &[
            Applies(1000),
            Applies(500),
            over,
            Skipped(SkipReason::ExclusionRulesNotMet),
        ],
        true,
    );
    // Per exclusive category.
    let rules = with(|r| {
        *r = exclusive_rules();
        r.applicable_exclusive_redeemables_limit = 3;
        r.applicable_exclusive_redeemables_per_category_limit = Some(1);
        r.applicable_redeemables_per_category_limit = None;
    });
    let x2 = amount("X2", 200).of("OtherX", &[("x", 2)]);
    check(
        &rules,
        &[x, x2, y],
        10_000,
        &[
            Applies(1000),
            Skipped(SkipReason::ApplicableExclusiveRedeemablesPerCategoryLimitExceeded),
            Applies(500),
        ],
        true,
    );
}

#[test]
fn no_effect_skip_or_redeem_anyway() {
    let skip = with(|r| r.no_effect_rule = NoEffectRule::Skip);
    let no_effect = Skipped(SkipReason::NoEffect);
    let paid = [
        amount("A", 1000),
        amount("B", 500),
        gift("G", 5000, Credits::WhatIsOwed),
    ];
    check(
        &skip,
        &paid,
        1000,
        &[Applies(1000), no_effect, no_effect],
        true,
    );
    check(
        &StackingRules::default(),
        &paid,
        1000,
        &[Applies(1000), Applies(0), Applies(0)],
        true,
    );
    // Redeemed anyway: a use is counted, no credits move.
    let redemption = redeem(&StackingRules::default(), &paid, &order(1000)).unwrap();
    let zero = |redeemed| Transition {
        redeemed_quantity_after: redeemed,
        ledger_entry: None,
        given_minor: 0,
    };
    assert_eq!(redemption.transitions[1], (1, zero(1)));
    assert_eq!(redemption.transitions[2], (2, zero(1)));

    // A skipped code takes no place under the applicable limit.
    let rules = with(|r| {
        r.no_effect_rule = NoEffectRule::Skip;
        r.applicable_redeemables_limit = 2;
    });
    check(
        &rules,
        &[percent("ZERO", 0), amount("A", 300), amount("B", 200)],
        1000,
        &[no_effect, Applies(300), Applies(200)],
        true,
    );

    // Every code skipped: nothing to redeem.
    let specs = [percent("ZERO", 0), amount("A", 300)];
    check(&skip, &specs, 0, &[no_effect, no_effect], false);
    match redeem(&skip, &specs, &order(0)) {
        Err(StackError::Refused { index, refusal, .. }) => {
            assert_eq!(
                (index, refusal.reason),
                (0, Reason::RedemptionRulesViolated)
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Sorting

fn hierarchy_specs() -> Vec<Spec> {
    vec![
        amount("N", 1000),
        percent("C3", 10).of("C3", &[("c", 3)]),
        amount("A1", 500).of("A1", &[("a", 1)]),
        percent("B1", 50).of("B1", &[("b", 1)]),
        amount("M", 100).of("M", &[("m", 7), ("n", 2)]),
    ]
}

#[test]
fn requested_order_is_the_default() {
    let specs = hierarchy_specs();
    // 10000: -1000 = 9000; -10% = 8100; -500 = 7600; -50% = 3800; -100.
    check(
        &StackingRules::default(),
        &specs,
        10_000,
        &[
            Applies(1000),
            Applies(900),
            Applies(500),
            Applies(3800),
            Applies(100),
        ],
        true,
    );
    let validation = validate(&StackingRules::default(), &specs, &order(10_000)).unwrap();
    assert_eq!(validation.application_order, [0, 1, 2, 3, 4]);
}

#[test]
fn category_hierarchy_sorts_by_lowest_hierarchy_stable_no_category_last() {
    let rules = with(|r| r.sorting_rule = SortingRule::CategoryHierarchy);
    let specs = hierarchy_specs();
    let order = order(10_000);
    let validation = validate(&rules, &specs, &order).unwrap();
    // A1 and B1 (1) in requested order, M (its lowest is 2), C3, N.
    assert_eq!(validation.application_order, [2, 3, 4, 1, 0]);
    // 10000: -500 = 9500; -50% = 4750; -100 = 4650; -10% = 4185; -1000.
    check(
        &rules,
        &specs,
        10_000,
        &[
            Applies(1000),
            Applies(465),
            Applies(500),
            Applies(4750),
            Applies(100),
        ],
        true,
    );
    // Each entry's running order is the one after it in application order.
    let totals: Vec<i64> = validation
        .entries
        .iter()
        .map(|e| e.order_after.totals().total_amount_minor)
        .collect();
    assert_eq!(totals, [3185, 4185, 9500, 4750, 4650]);
    let redemption = redeem(&rules, &specs, &order).unwrap();
    let indices: Vec<usize> = redemption.transitions.iter().map(|(i, _)| *i).collect();
    assert_eq!(indices, [2, 3, 4, 1, 0]);

    // No category (no campaign, or a campaign without categories) comes
    // after the highest possible hierarchy.
    let specs = [
        amount("N", 100),
        amount("E", 100).of("Empty", &[]),
        amount("MAX", 100).of("Max", &[("max", u32::MAX)]),
        amount("ZERO", 100).of("Zero", &[("zero", 0)]),
    ];
    let validation = validate(&rules, &specs, &order).unwrap();
    assert_eq!(validation.application_order, [3, 2, 0, 1]);
}

#[test]
fn limits_and_failures_follow_the_application_order() {
    let rules = with(|r| {
        r.sorting_rule = SortingRule::CategoryHierarchy;
        r.applicable_redeemables_limit = 1;
    });
    let a1 = amount("A1", 500).of("A1", &[("a", 1)]);
    check(
        &rules,
        &[amount("N", 1000), a1.clone()],
        10_000,
        &[
            Skipped(SkipReason::ApplicableRedeemablesLimitExceeded),
            Applies(500),
        ],
        true,
    );
    let rules = with(|r| r.sorting_rule = SortingRule::CategoryHierarchy);
    check(
        &rules,
        &[amount("N", 1000), a1.expired()],
        10_000,
        &[
            Skipped(SkipReason::PrecedingValidationFailed),
            Refused(Reason::VoucherExpired),
        ],
        false,
    );
}

// ---------------------------------------------------------------------------
// Request-level errors

#[test]
fn request_level_errors() {
    let rules = StackingRules::default();
    let ok = order(10_000);
    let thirty_one: Vec<Spec> = (0..31).map(|i| amount(&format!("A{i}"), 1)).collect();
    let cases: Vec<(StackingRules, Vec<Spec>, Order, StackError)> = vec![
        (rules.clone(), vec![], ok.clone(), StackError::Empty),
        (
            rules.clone(),
            thirty_one.clone(),
            ok.clone(),
            StackError::TooMany { limit: 30 },
        ),
        // The project's limit, but never above 30.
        (
            with(|r| r.redeemables_limit = 3),
            thirty_one[..4].to_vec(),
            ok.clone(),
            StackError::TooMany { limit: 3 },
        ),
        (
            with(|r| r.redeemables_limit = 100),
            thirty_one.clone(),
            ok.clone(),
            StackError::TooMany { limit: 30 },
        ),
        (
            rules.clone(),
            vec![amount("A", 1), amount("B", 1), amount("A", 2)],
            ok.clone(),
            StackError::Duplicated {
                code: "A".to_owned(),
            },
        ),
        // Duplicates are found before the order is looked at.
        (
            rules.clone(),
            vec![amount("A", 1), amount("A", 1)],
            Order {
                amount: Some(Money::from_minor(100, Currency::USD).unwrap()),
                ..Order::default()
            },
            StackError::Duplicated {
                code: "A".to_owned(),
            },
        ),
    ];
    for (rules, specs, order, expected) in cases {
        assert_eq!(validate(&rules, &specs, &order), Err(expected.clone()));
        assert_eq!(redeem(&rules, &specs, &order).err(), Some(expected));
    }

    // Thirty distinct codes are accepted (the applicable limit skips most).
    let validation = validate(&rules, &thirty_one[..30], &ok).unwrap();
    assert!(validation.valid);
    assert_eq!(
        got(&validation)
            .iter()
            .filter(|g| matches!(g, Applies(_)))
            .count(),
        5
    );
    // Codes are case-sensitive.
    check(
        &rules,
        &[amount("a", 1), amount("A", 2)],
        100,
        &[Applies(1), Applies(2)],
        true,
    );
}

#[test]
fn bad_orders_are_input_errors() {
    let specs = [amount("A", 100)];
    let cases = [
        (
            Order {
                amount: Some(Money::from_minor(100, Currency::USD).unwrap()),
                ..Order::default()
            },
            Reason::InvalidOrder,
        ),
        (
            Order {
                amount: Some(eur(-100)),
                ..Order::default()
            },
            Reason::InvalidAmount,
        ),
        (
            Order {
                items: vec![OrderItem {
                    quantity: Some(0),
                    amount: Some(eur(100)),
                    ..OrderItem::default()
                }],
                ..Order::default()
            },
            Reason::InvalidOrder,
        ),
    ];
    for (order, reason) in cases {
        for result in [
            validate(&StackingRules::default(), &specs, &order).err(),
            redeem(&StackingRules::default(), &specs, &order).err(),
        ] {
            match result {
                Some(StackError::Input(refusal)) => assert_eq!(refusal.reason, reason),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Counters across codes of one campaign

#[test]
fn codes_of_one_campaign_share_its_counters() {
    let partial = with(|r| r.application_mode = ApplicationMode::Partial);
    let once = |code: &str, off: i64| {
        amount(code, off).of("ONCE", &[]).limits(CampaignLimits {
            per_customer_max: Some(1),
            ..CampaignLimits::default()
        })
    };
    let specs = [once("V1", 1000), once("V2", 500)];
    // Each alone applies.
    check(
        &StackingRules::default(),
        &specs[1..],
        10_000,
        &[Applies(500)],
        true,
    );
    // Together the second is refused: the first used the customer's one.
    let refused = Refused(Reason::RedemptionRulesViolated);
    check(
        &StackingRules::default(),
        &specs,
        10_000,
        &[Applies(1000), refused],
        false,
    );
    check(&partial, &specs, 10_000, &[Applies(1000), refused], true);
    let validation = validate(&partial, &specs, &order(10_000)).unwrap();
    assert_eq!(
        validation
            .first_refusal()
            .and_then(|r| r.details.as_deref()),
        Some("redemption limit per customer reached")
    );
    // A refused code uses nothing.
    check(
        &partial,
        &[once("V1", 1000).expired(), once("V2", 500)],
        10_000,
        &[Refused(Reason::VoucherExpired), Applies(500)],
        true,
    );
    // Other campaigns keep their own counters.
    let other = amount("W", 200).of("OTHER", &[]).limits(CampaignLimits {
        per_customer_max: Some(1),
        ..CampaignLimits::default()
    });
    check(
        &StackingRules::default(),
        &[once("V1", 1000), other],
        10_000,
        &[Applies(1000), Applies(200)],
        true,
    );

    // Counters at their ceiling from the store saturate rather than wrap.
    let huge = |code: &str| {
        amount(code, 100).of("HUGE", &[]).counters(Counters {
            customer_redemptions: u64::MAX,
            campaign_redemptions: u64::MAX,
            campaign_given_minor: i64::MAX,
        })
    };
    check(
        &StackingRules::default(),
        &[huge("H1"), huge("H2")],
        10_000,
        &[Applies(100), Applies(100)],
        true,
    );

    // The campaign's redemption count, on top of the store's.
    let counted = |code: &str| {
        amount(code, 100)
            .of("COUNTED", &[])
            .limits(CampaignLimits {
                redemptions_max: Some(3),
                ..CampaignLimits::default()
            })
            .counters(Counters {
                campaign_redemptions: 1,
                ..Counters::default()
            })
    };
    check(
        &partial,
        &[counted("C1"), counted("C2"), counted("C3")],
        10_000,
        &[Applies(100), Applies(100), refused],
        true,
    );

    // The campaign's budget, on top of what the store counted as given.
    let budget = |code: &str, off: i64| {
        amount(code, off)
            .of("BUDGET", &[])
            .limits(CampaignLimits {
                budget_max_minor: Some(2000),
                ..CampaignLimits::default()
            })
            .counters(Counters {
                campaign_given_minor: 500,
                ..Counters::default()
            })
    };
    check(
        &partial,
        &[budget("B1", 1000), budget("B2", 501), budget("B3", 500)],
        10_000,
        &[Applies(1000), refused, Applies(500)],
        true,
    );
}

// ---------------------------------------------------------------------------
// The rules' ranges, keys and wire names

#[test]
fn stacking_rules_check_ranges() {
    type Change = fn(&mut StackingRules);
    let cases: &[(Change, Option<&str>)] = &[
        (|_| {}, None),
        (
            |r| r.redeemables_limit = 0,
            Some("redeemables_limit must be 1..=30"),
        ),
        (|r| r.redeemables_limit = 1, None),
        (|r| r.redeemables_limit = 30, None),
        (
            |r| r.redeemables_limit = 31,
            Some("redeemables_limit must be 1..=30"),
        ),
        (
            |r| r.applicable_redeemables_limit = 0,
            Some("applicable_redeemables_limit must be 1..=30"),
        ),
        (|r| r.applicable_redeemables_limit = 30, None),
        (
            |r| r.applicable_redeemables_limit = 31,
            Some("applicable_redeemables_limit must be 1..=30"),
        ),
        (|r| r.applicable_redeemables_per_category_limit = None, None),
        (
            |r| r.applicable_redeemables_per_category_limit = Some(30),
            None,
        ),
        (
            |r| r.applicable_redeemables_per_category_limit = Some(0),
            Some("per-category limits must be 1..=30"),
        ),
        (
            |r| r.applicable_redeemables_per_category_limit = Some(31),
            Some("per-category limits must be 1..=30"),
        ),
        (
            |r| {
                r.applicable_redeemables_category_limits
                    .insert("a".to_owned(), 30);
            },
            None,
        ),
        (
            |r| {
                r.applicable_redeemables_category_limits
                    .insert("a".to_owned(), 0);
            },
            Some("per-category limits must be 1..=30"),
        ),
        (
            |r| {
                r.applicable_redeemables_category_limits
                    .insert("a".to_owned(), 31);
            },
            Some("per-category limits must be 1..=30"),
        ),
        (|r| r.applicable_exclusive_redeemables_limit = 5, None),
        (
            |r| r.applicable_exclusive_redeemables_limit = 0,
            Some("exclusive limits must be 1..=5"),
        ),
        (
            |r| r.applicable_exclusive_redeemables_limit = 6,
            Some("exclusive limits must be 1..=5"),
        ),
        (
            |r| r.applicable_exclusive_redeemables_per_category_limit = Some(5),
            None,
        ),
        (
            |r| r.applicable_exclusive_redeemables_per_category_limit = Some(0),
            Some("exclusive limits must be 1..=5"),
        ),
        (
            |r| r.applicable_exclusive_redeemables_per_category_limit = Some(6),
            Some("exclusive limits must be 1..=5"),
        ),
    ];
    for (change, expected) in cases {
        let rules = with(change);
        let message = rules.check().err().map(|e| e.to_string());
        let expected = expected.map(|m| format!("invalid stacking rules: {m}"));
        assert_eq!(message, expected, "{rules:?}");
    }
}

#[test]
fn defaults_keys_and_wire_names() {
    let rules = StackingRules::default();
    assert_eq!(
        (
            rules.redeemables_limit,
            rules.applicable_redeemables_limit,
            rules.applicable_redeemables_per_category_limit,
            rules.applicable_exclusive_redeemables_limit,
            rules.applicable_exclusive_redeemables_per_category_limit,
            rules.application_mode,
            rules.sorting_rule,
            rules.no_effect_rule,
        ),
        (
            30,
            5,
            Some(1),
            1,
            None,
            ApplicationMode::All,
            SortingRule::RequestedOrder,
            NoEffectRule::RedeemAnyway,
        )
    );
    let keys: Vec<&str> = ALL_SKIP_REASONS.iter().map(|r| r.key()).collect();
    assert_eq!(
        keys,
        [
            "applicable_redeemables_limit_exceeded",
            "applicable_redeemables_per_category_limit_exceeded",
            "applicable_exclusive_redeemables_limit_exceeded",
            "applicable_exclusive_redeemables_per_category_limit_exceeded",
            "exclusion_rules_not_met",
            "preceding_validation_failed",
            "no_effect",
        ]
    );
    for reason in ALL_SKIP_REASONS {
        let json = serde_json::to_string(&reason).unwrap();
        assert_eq!(json, format!("\"{}\"", reason.key()));
    }
    let wire = |json: String| json.trim_matches('"').to_owned();
    let names = [
        wire(serde_json::to_string(&ApplicationMode::All).unwrap()),
        wire(serde_json::to_string(&ApplicationMode::Partial).unwrap()),
        wire(serde_json::to_string(&SortingRule::RequestedOrder).unwrap()),
        wire(serde_json::to_string(&SortingRule::CategoryHierarchy).unwrap()),
        wire(serde_json::to_string(&NoEffectRule::RedeemAnyway).unwrap()),
        wire(serde_json::to_string(&NoEffectRule::Skip).unwrap()),
    ];
    assert_eq!(
        names,
        [
            "ALL",
            "PARTIAL",
            "REQUESTED_ORDER",
            "CATEGORY_HIERARCHY",
            "REDEEM_ANYWAY",
            "SKIP"
        ]
    );
}

// ---------------------------------------------------------------------------
// Properties

/// A random redeemable, before it gets its code.
#[derive(Debug, Clone)]
enum Kind {
    AmountOrder(i64),
    PercentOrder(i64),
    AmountItems(i64),
    PercentItems(i64),
    Proportional(i64),
    FixedOrder(i64),
    Gift { balance: i64, credits: Option<i64> },
}

const CATEGORIES: [&str; 5] = ["a", "b", "x", "j", "k"];

fn arb_kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        (0i64..30_000).prop_map(Kind::AmountOrder),
        (0i64..=100).prop_map(Kind::PercentOrder),
        (0i64..10_000).prop_map(Kind::AmountItems),
        (0i64..=100).prop_map(Kind::PercentItems),
        (0i64..30_000).prop_map(Kind::Proportional),
        (0i64..100_000).prop_map(Kind::FixedOrder),
        (0i64..50_000, prop::option::of(1i64..60_000))
            .prop_map(|(balance, credits)| Kind::Gift { balance, credits }),
    ]
}

/// A redeemable: its kind, maybe a category (its campaign is named after
/// it, so codes of one category share a campaign and its counters), whether
/// it expired.
fn arb_spec() -> impl Strategy<Value = (Kind, Option<(usize, u32)>, bool)> {
    (
        arb_kind(),
        prop::option::of((0..CATEGORIES.len(), 0u32..3)),
        prop::bool::weighted(0.1),
    )
}

fn build(index: usize, (kind, category, expired): &(Kind, Option<(usize, u32)>, bool)) -> Spec {
    let code = format!("CODE{index}");
    let item = |value: DiscountValue, effect| discount(&code, value, effect);
    let mut spec = match *kind {
        Kind::AmountOrder(off) => amount(&code, off),
        Kind::PercentOrder(p) => percent(&code, p),
        Kind::AmountItems(off) => item(
            DiscountValue::Amount {
                amount_off: eur(off),
            },
            Effect::ApplyToItems,
        ),
        Kind::PercentItems(p) => item(
            DiscountValue::Percent {
                percent_off: Decimal::from(p),
                amount_limit: None,
            },
            Effect::ApplyToItems,
        ),
        Kind::Proportional(off) => item(
            DiscountValue::Amount {
                amount_off: eur(off),
            },
            Effect::ApplyToItemsProportionally,
        ),
        Kind::FixedOrder(price) => item(
            DiscountValue::Fixed {
                fixed_amount: eur(price),
            },
            Effect::ApplyToOrder,
        ),
        Kind::Gift { balance, credits } => gift(
            &code,
            balance,
            credits.map_or(Credits::WhatIsOwed, |c| Credits::Exactly(eur(c))),
        ),
    };
    if let Some((c, hierarchy)) = *category {
        let name = CATEGORIES[c];
        spec = spec.of(name, &[(name, hierarchy)]);
        // A fixed limit per campaign, so that codes sharing it agree.
        let limits = match name {
            "a" => CampaignLimits {
                per_customer_max: Some(2),
                ..CampaignLimits::default()
            },
            "b" => CampaignLimits {
                budget_max_minor: Some(20_000),
                ..CampaignLimits::default()
            },
            _ => CampaignLimits::default(),
        };
        spec = spec.limits(limits);
    }
    if *expired {
        spec = spec.expired();
    }
    spec
}

fn arb_specs() -> impl Strategy<Value = Vec<Spec>> {
    prop::collection::vec(arb_spec(), 1..=8)
        .prop_map(|raw| raw.iter().enumerate().map(|(i, r)| build(i, r)).collect())
}

fn arb_rules() -> impl Strategy<Value = StackingRules> {
    (
        any::<bool>(),
        1u32..=6,
        prop::option::of(1u32..=3),
        1u32..=3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(partial, applicable, per_category, exclusive, hierarchy, skip, categories)| {
                StackingRules {
                    applicable_redeemables_limit: applicable,
                    applicable_redeemables_per_category_limit: per_category,
                    applicable_exclusive_redeemables_limit: exclusive,
                    exclusive_categories: if categories {
                        vec!["x".to_owned()]
                    } else {
                        Vec::new()
                    },
                    joint_categories: if categories {
                        vec!["j".to_owned()]
                    } else {
                        Vec::new()
                    },
                    application_mode: if partial {
                        ApplicationMode::Partial
                    } else {
                        ApplicationMode::All
                    },
                    sorting_rule: if hierarchy {
                        SortingRule::CategoryHierarchy
                    } else {
                        SortingRule::RequestedOrder
                    },
                    no_effect_rule: if skip {
                        NoEffectRule::Skip
                    } else {
                        NoEffectRule::RedeemAnyway
                    },
                    ..StackingRules::default()
                }
            },
        )
}

/// An order of 0 to 4 lines, with or without an amount of its own.
fn arb_order() -> impl Strategy<Value = Order> {
    (
        prop::collection::vec((0i64..50_000, 1u64..4), 0..4),
        prop::option::of(0i64..200_000),
    )
        .prop_map(|(lines, amount)| Order {
            amount: amount.map(eur),
            items: lines
                .into_iter()
                .map(|(amount, quantity)| OrderItem {
                    quantity: Some(quantity),
                    amount: Some(eur(amount)),
                    ..OrderItem::default()
                })
                .collect(),
            ..Order::default()
        })
}

fn is_in(spec: &Spec, list: &[String]) -> bool {
    spec.campaign
        .iter()
        .flat_map(|c| &c.categories)
        .any(|k| list.contains(&k.name))
}

/// Every invariant of one validation that holds whatever the input.
fn check_invariants(rules: &StackingRules, specs: &[Spec], v: &StackValidation) {
    let mut sorted = v.application_order.clone();
    sorted.sort_unstable();
    assert_eq!(sorted, (0..specs.len()).collect::<Vec<_>>());
    assert_eq!(v.entries.len(), specs.len());

    // No total ever goes below zero or above the amount.
    for order in v.entries.iter().map(|e| &e.order_after).chain([&v.order]) {
        let t = order.totals();
        assert!(t.total_discount_amount_minor >= 0);
        assert!(t.total_discount_amount_minor <= t.amount_minor);
        assert!(t.total_amount_minor >= 0);
    }

    // In application order, the running order only changes by what each
    // applicable code applies.
    let mut previous: Option<i64> = None;
    let mut applied_sum = 0i64;
    let mut failed = false;
    for &i in &v.application_order {
        let entry = &v.entries[i];
        let discount = entry.order_after.totals().total_discount_amount_minor;
        let before = previous.unwrap_or(0);
        match &entry.status {
            EntryStatus::Applicable(outcome) => {
                assert!(!failed);
                let applied = outcome.applied().discount_minor();
                assert!(applied >= 0);
                assert_eq!(discount, before + applied);
                assert_eq!(outcome.given_minor(), applied);
                applied_sum += applied;
            }
            EntryStatus::Inapplicable(_) => {
                assert!(!failed);
                assert_eq!(discount, before);
                failed = rules.application_mode == ApplicationMode::All;
            }
            EntryStatus::Skipped(reason) => {
                assert_eq!(discount, before);
                assert_eq!(failed, *reason == SkipReason::PrecedingValidationFailed);
                if *reason == SkipReason::NoEffect {
                    assert_eq!(rules.no_effect_rule, NoEffectRule::Skip);
                }
            }
        }
        previous = Some(discount);
    }

    let applicable: Vec<usize> = (0..specs.len())
        .filter(|&i| matches!(v.entries[i].status, EntryStatus::Applicable(_)))
        .collect();
    assert!(applicable.len() <= rules.applicable_redeemables_limit as usize);
    let refused = v
        .entries
        .iter()
        .any(|e| matches!(e.status, EntryStatus::Inapplicable(_)));
    let expected_valid =
        !applicable.is_empty() && (rules.application_mode == ApplicationMode::Partial || !refused);
    assert_eq!(v.valid, expected_valid);
    if v.valid {
        assert_eq!(v.order.totals().total_discount_amount_minor, applied_sum);
    } else {
        assert_eq!(v.order.totals().total_discount_amount_minor, 0);
    }

    // Exclusivity: an applied exclusive code never shares the order with an
    // applied plain one.
    let exclusive = applicable
        .iter()
        .filter(|&&i| is_in(&specs[i], &rules.exclusive_categories))
        .count();
    let plain = applicable.iter().any(|&i| {
        !is_in(&specs[i], &rules.exclusive_categories) && !is_in(&specs[i], &rules.joint_categories)
    });
    assert!(exclusive <= rules.applicable_exclusive_redeemables_limit as usize);
    assert!(exclusive == 0 || !plain);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1500))]

    #[test]
    fn random_stacks_keep_the_invariants(
        rules in arb_rules(),
        specs in arb_specs(),
        order in arb_order(),
    ) {
        match validate(&rules, &specs, &order) {
            Ok(validation) => check_invariants(&rules, &specs, &validation),
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }

    #[test]
    fn stacking_is_deterministic(
        rules in arb_rules(),
        specs in arb_specs(),
        order in arb_order(),
    ) {
        prop_assert_eq!(validate(&rules, &specs, &order), validate(&rules, &specs, &order));
        prop_assert_eq!(redeem(&rules, &specs, &order), redeem(&rules, &specs, &order));
    }

    #[test]
    fn validate_agrees_with_redeem(
        rules in arb_rules(),
        specs in arb_specs(),
        order in arb_order(),
    ) {
        let validation = validate(&rules, &specs, &order).unwrap();
        match redeem(&rules, &specs, &order) {
            Ok(redemption) => {
                prop_assert!(validation.valid);
                let applied: Vec<usize> = validation
                    .application_order
                    .iter()
                    .copied()
                    .filter(|&i| matches!(validation.entries[i].status, EntryStatus::Applicable(_)))
                    .collect();
                let indices: Vec<usize> = redemption.transitions.iter().map(|(i, _)| *i).collect();
                prop_assert_eq!(indices, applied);
                for (i, transition) in &redemption.transitions {
                    let EntryStatus::Applicable(outcome) = &validation.entries[*i].status else {
                        unreachable!();
                    };
                    let voucher = &specs[*i].voucher;
                    prop_assert_eq!(transition.given_minor, outcome.given_minor());
                    prop_assert_eq!(transition.redeemed_quantity_after, voucher.redeemed_quantity + 1);
                    let credits = match **outcome {
                        Outcome::Gift { credits_minor, .. } => credits_minor,
                        Outcome::Discount(_) => 0,
                    };
                    prop_assert_eq!(
                        transition.ledger_entry.map(|e| e.amount_minor).unwrap_or(0),
                        credits
                    );
                }
                prop_assert_eq!(redemption.validation, validation);
            }
            Err(StackError::Refused { index, refusal, validation: seen }) => {
                prop_assert!(!validation.valid);
                if let Some(first) = validation.first_refusal() {
                    prop_assert_eq!(&refusal, first);
                    prop_assert!(matches!(
                        validation.entries[index].status,
                        EntryStatus::Inapplicable(_)
                    ));
                }
                prop_assert_eq!(*seen, validation);
            }
            Err(other) => prop_assert!(false, "unexpected {:?}", other),
        }
    }
}
