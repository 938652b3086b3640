//! Tests of qualifications: who is shown which code, which checks apply
//! (all but the redemption-count limits), the sortings, `best`, the limit
//! and the request-level errors, and properties of random candidate lists.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::code_pattern::Code;
use crate::decision::Reason;
use crate::discount::{Discount, DiscountValue, Effect};
use crate::ledger::Ledger;
use crate::money::{Currency, Money};
use crate::order::{Order, OrderItem};
use crate::validity::{Moment, Validity};
use crate::voucher::{
    Activity, Campaign, CampaignKind, CampaignLimits, CampaignType, Counters, RedemptionQuantity,
    Voucher,
};

// ---------------------------------------------------------------------------
// Fixtures

fn eur(minor: i64) -> Money {
    Money::from_minor(minor, Currency::EUR).unwrap()
}

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 12, 0, 0).unwrap()
}

/// One candidate as a test writes it: owns what a [`Candidate`] borrows.
#[derive(Debug, Clone)]
struct Spec {
    voucher: Voucher,
    campaign: Option<Campaign>,
    counters: Counters,
}

fn voucher(code: &str, benefit: Benefit) -> Voucher {
    Voucher {
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
    }
}

fn campaign(kind: CampaignKind, campaign_type: CampaignType) -> Campaign {
    Campaign {
        name: format!("{kind:?}-{campaign_type:?}"),
        campaign_type,
        kind,
        activity: Activity::Enabled,
        validity: Validity::default(),
        time_zone: None,
        rules: Vec::new(),
        limits: CampaignLimits::default(),
        categories: Vec::new(),
    }
}

fn amount_off(off: i64) -> Benefit {
    let value = DiscountValue::Amount {
        amount_off: eur(off),
    };
    Benefit::Discount(Discount::new(value, Effect::ApplyToOrder).unwrap())
}

fn percent_off(percent: i64) -> Benefit {
    let value = DiscountValue::Percent {
        percent_off: Decimal::from(percent),
        amount_limit: None,
    };
    Benefit::Discount(Discount::new(value, Effect::ApplyToOrder).unwrap())
}

fn gift_card(balance: i64) -> Benefit {
    Benefit::Gift(Ledger::from_balance(Currency::EUR, balance).unwrap())
}

/// The public code of a `STANDALONE` discount campaign, worth `off`.
fn public(code: &str, off: i64) -> Spec {
    Spec {
        voucher: voucher(code, amount_off(off)),
        campaign: Some(campaign(
            CampaignKind::Standalone,
            CampaignType::DiscountCoupons,
        )),
        counters: Counters::default(),
    }
}

/// A code of a campaign of `kind` (or of none), published to `holder`.
fn published(
    code: &str,
    benefit: Benefit,
    kind: Option<CampaignKind>,
    holder: Option<&str>,
) -> Spec {
    let campaign_type = match benefit {
        Benefit::Discount(_) => CampaignType::DiscountCoupons,
        Benefit::Gift(_) => CampaignType::GiftVouchers,
    };
    Spec {
        voucher: Voucher {
            holder_id: holder.map(str::to_owned),
            ..voucher(code, benefit)
        },
        campaign: kind.map(|kind| campaign(kind, campaign_type)),
        counters: Counters::default(),
    }
}

impl Spec {
    fn limits(mut self, limits: CampaignLimits, counters: Counters) -> Spec {
        self.campaign
            .as_mut()
            .expect("limits need a campaign")
            .limits = limits;
        self.counters = counters;
        self
    }

    fn changed(mut self, change: impl FnOnce(&mut Voucher, &mut Campaign)) -> Spec {
        let campaign = self.campaign.as_mut().expect("a campaign");
        change(&mut self.voucher, campaign);
        self
    }

    fn candidate(&self) -> Candidate<'_> {
        Candidate {
            voucher: &self.voucher,
            campaign: self.campaign.as_ref(),
            counters: self.counters,
        }
    }
}

fn candidates(specs: &[Spec]) -> Vec<Candidate<'_>> {
    specs.iter().map(Spec::candidate).collect()
}

fn order(amount: i64) -> Order {
    Order {
        amount: Some(eur(amount)),
        ..Order::default()
    }
}

fn cust_1() -> Customer {
    Customer {
        id: Some("cust_1".to_owned()),
        source_id: Some("shop-1".to_owned()),
        ..Customer::default()
    }
}

fn run(
    specs: &[Spec],
    order: &Order,
    customer: &Customer,
    sorting: Sorting,
    limit: usize,
) -> Result<Qualifications, QualifyError> {
    let checkout = Checkout {
        order,
        customer,
        now: now(),
    };
    qualify(
        &Project::new(Currency::EUR),
        &candidates(specs),
        &checkout,
        sorting,
        limit,
    )
}

/// Qualifies `specs` for customer `cust_1` on an order of `amount` and
/// checks the (index, reduction) pairs returned, in order, and the total.
fn check(
    specs: &[Spec],
    amount: i64,
    sorting: Sorting,
    limit: usize,
    expected: &[(usize, i64)],
    total: usize,
) {
    let q = run(specs, &order(amount), &cust_1(), sorting, limit).unwrap();
    let got: Vec<(usize, i64)> = q
        .qualified
        .iter()
        .map(|q| (q.index, q.outcome.given_minor()))
        .collect();
    assert_eq!(got, expected);
    assert_eq!(q.total, total);
    for qualified in &q.qualified {
        // The order with the code applied, alone, on the order as given.
        let totals = qualified.order.totals();
        assert_eq!(totals.amount_minor, amount);
        assert_eq!(
            totals.total_amount_minor,
            amount - qualified.outcome.given_minor()
        );
    }
}

// ---------------------------------------------------------------------------
// Visibility

#[test]
fn only_codes_the_customer_may_know_are_shown() {
    use CampaignKind::{AutoUpdate, Standalone, Static};
    // (candidate, shown to cust_1, shown to an anonymous customer)
    let cases: Vec<(&str, Spec, bool, bool)> = vec![
        (
            "a unique code published to this customer",
            published("MINE", amount_off(100), Some(Static), Some("cust_1")),
            true,
            false,
        ),
        (
            "an auto-update code published to this customer",
            published("AUTO", amount_off(100), Some(AutoUpdate), Some("cust_1")),
            true,
            false,
        ),
        (
            "a unique code published to someone else",
            published("THEIRS", amount_off(100), Some(Static), Some("cust_2")),
            false,
            false,
        ),
        (
            "a unique code published to nobody",
            published("NOBODYS", amount_off(100), Some(Static), None),
            false,
            false,
        ),
        (
            "the public code of a standalone discount campaign",
            public("PUBLIC", 100),
            true,
            true,
        ),
        (
            "a public code is public whoever holds it",
            published("PUBLIC2", amount_off(100), Some(Standalone), Some("cust_2")),
            true,
            true,
        ),
        (
            "the customer's gift card",
            published("CARD", gift_card(1000), Some(Static), Some("cust_1")),
            true,
            false,
        ),
        (
            "someone else's gift card",
            published("CARD2", gift_card(1000), Some(Static), Some("cust_2")),
            false,
            false,
        ),
        (
            "a gift card in a standalone campaign is never public",
            published("CARD3", gift_card(1000), Some(Standalone), None),
            false,
            false,
        ),
        (
            "a code without campaign, published to nobody",
            published("LONE", amount_off(100), None, None),
            false,
            false,
        ),
        (
            "a code without campaign, published to this customer",
            published("LONE2", amount_off(100), None, Some("cust_1")),
            true,
            false,
        ),
        (
            "the holder is never compared with the shop's own id",
            published("SHOP", amount_off(100), Some(Static), Some("shop-1")),
            false,
            false,
        ),
    ];
    let anonymous = Customer::default();
    for (what, spec, to_customer, to_anonymous) in &cases {
        assert_eq!(
            is_visible_to(&spec.candidate(), &cust_1()),
            *to_customer,
            "{what}"
        );
        assert_eq!(
            is_visible_to(&spec.candidate(), &anonymous),
            *to_anonymous,
            "{what} (anonymous)"
        );
    }
    // A request that names the customer only by a source id equal to the
    // holder's engine id sees nothing of theirs.
    let impostor = Customer {
        source_id: Some("cust_1".to_owned()),
        ..Customer::default()
    };
    assert!(!is_visible_to(&cases[0].1.candidate(), &impostor));

    // Through `qualify`: the visible ones, in candidate order.
    let specs: Vec<Spec> = cases.iter().map(|(_, spec, _, _)| spec.clone()).collect();
    check(
        &specs,
        10_000,
        Sorting::Default,
        50,
        &[(0, 100), (1, 100), (4, 100), (5, 100), (6, 1000), (10, 100)],
        6,
    );
    let q = run(&specs, &order(10_000), &anonymous, Sorting::Default, 50).unwrap();
    let shown: Vec<usize> = q.qualified.iter().map(|q| q.index).collect();
    assert_eq!(shown, [4, 5]);
}

// ---------------------------------------------------------------------------
// Checks

#[test]
fn count_limits_are_ignored_every_other_check_applies() {
    let per_customer = public("ONCE", 100).limits(
        CampaignLimits {
            per_customer_max: Some(1),
            ..CampaignLimits::default()
        },
        Counters {
            customer_redemptions: 1,
            ..Counters::default()
        },
    );
    let campaign_full = public("FULL", 200).limits(
        CampaignLimits {
            redemptions_max: Some(10),
            ..CampaignLimits::default()
        },
        Counters {
            campaign_redemptions: 10,
            ..Counters::default()
        },
    );
    let budget_spent = public("BUDGET", 150).limits(
        CampaignLimits {
            budget_max_minor: Some(1_000),
            ..CampaignLimits::default()
        },
        Counters {
            campaign_given_minor: 1_000,
            ..Counters::default()
        },
    );
    // A validation refuses all three.
    let checkout_order = order(10_000);
    let customer = cust_1();
    let checkout = Checkout {
        order: &checkout_order,
        customer: &customer,
        now: now(),
    };
    for spec in [&per_customer, &campaign_full, &budget_spent] {
        let refusal = decision::validate(
            &Project::new(Currency::EUR),
            &spec.candidate(),
            &checkout,
            Credits::WhatIsOwed,
        )
        .unwrap_err();
        assert_eq!(refusal.reason, Reason::RedemptionRulesViolated);
    }

    let yesterday = now() - Duration::days(1);
    let tomorrow = now() + Duration::days(1);
    let specs = [
        per_customer,
        campaign_full,
        public("EXPIRED", 300).changed(|v, _| {
            v.validity.expiration = Some(Moment::Instant(yesterday));
        }),
        public("CAMPAIGN_EXPIRED", 300).changed(|_, c| {
            c.validity.expiration = Some(Moment::Instant(yesterday));
        }),
        public("NOT_YET", 300).changed(|v, _| {
            v.validity.start = Some(Moment::Instant(tomorrow));
        }),
        public("DISABLED", 300).changed(|v, _| v.activity = Activity::Disabled),
        public("CAMPAIGN_DISABLED", 300).changed(|_, c| c.activity = Activity::Disabled),
        // The voucher's own quantity is not a campaign count limit.
        public("USED_UP", 300).changed(|v, _| {
            v.quantity = RedemptionQuantity::Limited(1);
            v.redeemed_quantity = 1;
        }),
        published(
            "EMPTY_CARD",
            gift_card(0),
            Some(CampaignKind::Static),
            Some("cust_1"),
        ),
        public("STILL_GOOD", 400),
        budget_spent,
    ];
    check(
        &specs,
        10_000,
        Sorting::Default,
        50,
        &[(0, 100), (1, 200), (9, 400), (10, 150)],
        4,
    );
}

#[test]
fn codes_qualify_alone_on_the_order_as_given() {
    // Each is worth 80.00 of 100.00: not stacked, each gives its full value.
    let specs = [
        public("A", 8000),
        public("B", 8000),
        published(
            "CARD",
            gift_card(50_000),
            Some(CampaignKind::Static),
            Some("cust_1"),
        ),
    ];
    check(
        &specs,
        10_000,
        Sorting::Default,
        5,
        &[(0, 8000), (1, 8000), (2, 10_000)],
        3,
    );
    // An item-level code on an order without items does not qualify.
    let items_only = Spec {
        voucher: voucher(
            "ITEMS",
            Benefit::Discount(
                Discount::new(
                    DiscountValue::Percent {
                        percent_off: Decimal::from(10),
                        amount_limit: None,
                    },
                    Effect::ApplyToItems,
                )
                .unwrap(),
            ),
        ),
        ..public("ITEMS", 0)
    };
    check(
        std::slice::from_ref(&items_only),
        10_000,
        Sorting::Default,
        5,
        &[],
        0,
    );
    let with_items = Order {
        items: vec![OrderItem {
            amount: Some(eur(10_000)),
            ..OrderItem::default()
        }],
        ..Order::default()
    };
    let q = run(&[items_only], &with_items, &cust_1(), Sorting::Default, 5).unwrap();
    assert_eq!(q.total, 1);
    assert_eq!(q.qualified[0].outcome.given_minor(), 1000);
}

// ---------------------------------------------------------------------------
// Sorting, best, limit

fn deals() -> Vec<Spec> {
    vec![
        public("D0", 300),
        public("D1", 500),
        public("D2", 300),
        public("D3", 100),
        public("D4", 500),
        published(
            "CARD",
            gift_card(400),
            Some(CampaignKind::Static),
            Some("cust_1"),
        ),
    ]
}

#[test]
fn sortings_are_stable() {
    let specs = deals();
    check(
        &specs,
        10_000,
        Sorting::Default,
        50,
        &[(0, 300), (1, 500), (2, 300), (3, 100), (4, 500), (5, 400)],
        6,
    );
    check(
        &specs,
        10_000,
        Sorting::BestDeal,
        50,
        &[(1, 500), (4, 500), (5, 400), (0, 300), (2, 300), (3, 100)],
        6,
    );
    check(
        &specs,
        10_000,
        Sorting::LeastDeal,
        50,
        &[(3, 100), (0, 300), (2, 300), (5, 400), (1, 500), (4, 500)],
        6,
    );
}

#[test]
fn best_is_the_largest_reduction_earliest_on_ties_whatever_the_limit() {
    let specs = deals();
    for sorting in [Sorting::Default, Sorting::BestDeal, Sorting::LeastDeal] {
        for limit in [0, 1, 2, 50] {
            let q = run(&specs, &order(10_000), &cust_1(), sorting, limit).unwrap();
            let best = q.best().map(|b| (b.index, b.outcome.given_minor()));
            assert_eq!(best, Some((1, 500)), "{sorting:?}, limit {limit}");
            assert_eq!(q.total, 6);
        }
    }
    // A percent code beats them on a large order, and only there.
    let mut specs = deals();
    specs.push(public("TEN", 0).changed(|v, _| v.benefit = percent_off(10)));
    let best = |amount: i64| {
        run(&specs, &order(amount), &cust_1(), Sorting::Default, 1)
            .unwrap()
            .best()
            .map(|b| (b.index, b.outcome.given_minor()))
    };
    assert_eq!(best(10_000), Some((6, 1000)));
    assert_eq!(best(4000), Some((1, 500)));
    // Capped by the order: on 4.00 the 5.00 codes and the card all give
    // 4.00; the earliest wins.
    assert_eq!(best(400), Some((1, 400)));
    // Nothing qualifies, nothing is best.
    let none = run(&[], &order(10_000), &cust_1(), Sorting::BestDeal, 5).unwrap();
    assert_eq!(
        (none.best(), none.total, none.qualified.len()),
        (None, 0, 0)
    );
}

#[test]
fn the_limit_cuts_the_list_not_the_total() {
    let specs = deals();
    check(
        &specs,
        10_000,
        Sorting::BestDeal,
        2,
        &[(1, 500), (4, 500)],
        6,
    );
    check(&specs, 10_000, Sorting::LeastDeal, 1, &[(3, 100)], 6);
    check(&specs, 10_000, Sorting::Default, 0, &[], 6);
    // Never more than QUALIFICATION_RESULTS_MAX (50).
    let many: Vec<Spec> = (0..60).map(|i| public(&format!("M{i}"), 100 + i)).collect();
    let q = run(&many, &order(100_000), &cust_1(), Sorting::BestDeal, 1000).unwrap();
    assert_eq!((q.qualified.len(), q.total), (50, 60));
    assert_eq!(q.qualified[0].index, 59);
    assert_eq!(q.qualified[49].index, 10);
}

// ---------------------------------------------------------------------------
// Request-level errors

#[test]
fn request_level_errors() {
    let spec = public("P", 100);
    let too_many = vec![spec.clone(); QUALIFICATION_CANDIDATES_MAX + 1];
    assert_eq!(
        run(&too_many, &order(1000), &cust_1(), Sorting::Default, 5),
        Err(QualifyError::TooManyCandidates)
    );
    let at_limit = &too_many[..QUALIFICATION_CANDIDATES_MAX];
    let q = run(at_limit, &order(1000), &cust_1(), Sorting::Default, 5).unwrap();
    assert_eq!(
        (q.qualified.len(), q.total),
        (5, QUALIFICATION_CANDIDATES_MAX)
    );

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
                amount: Some(eur(-1)),
                ..Order::default()
            },
            Reason::InvalidAmount,
        ),
    ];
    for (order, reason) in cases {
        match run(
            std::slice::from_ref(&spec),
            &order,
            &cust_1(),
            Sorting::Default,
            5,
        ) {
            Err(QualifyError::Input(refusal)) => assert_eq!(refusal.reason, reason),
            other => panic!("unexpected {other:?}"),
        }
    }
    let bad_customer = Customer {
        id: Some("x".repeat(crate::limits::ID_LEN_MAX + 1)),
        ..Customer::default()
    };
    match run(&[spec], &order(1000), &bad_customer, Sorting::Default, 5) {
        Err(QualifyError::Input(refusal)) => assert_eq!(refusal.reason, Reason::InvalidOrder),
        other => panic!("unexpected {other:?}"),
    }
}

// ---------------------------------------------------------------------------
// Properties

/// A random candidate: its worth, who holds it, whether it is a gift card,
/// a public code, or expired.
fn arb_spec() -> impl Strategy<Value = (i64, u8, u8, bool)> {
    (0i64..20_000, 0u8..3, 0u8..4, prop::bool::weighted(0.15))
}

fn build(index: usize, &(worth, holder, shape, expired): &(i64, u8, u8, bool)) -> Spec {
    let code = format!("Q{index}");
    let holder = match holder {
        0 => None,
        1 => Some("cust_1"),
        _ => Some("cust_2"),
    };
    let mut spec = match shape {
        0 => public(&code, worth),
        1 => published(&code, gift_card(worth), Some(CampaignKind::Static), holder),
        2 => published(&code, amount_off(worth), Some(CampaignKind::Static), holder),
        _ => published(&code, amount_off(worth), None, holder),
    };
    if expired {
        spec.voucher.validity.expiration = Some(Moment::Instant(now() - Duration::days(1)));
    }
    spec
}

fn arb_sorting() -> impl Strategy<Value = Sorting> {
    prop_oneof![
        Just(Sorting::Default),
        Just(Sorting::BestDeal),
        Just(Sorting::LeastDeal)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn qualifications_are_the_visible_valid_codes_sorted_and_cut(
        raw in prop::collection::vec(arb_spec(), 0..12),
        amount in 0i64..30_000,
        sorting in arb_sorting(),
        limit in 0usize..8,
    ) {
        let specs: Vec<Spec> = raw.iter().enumerate().map(|(i, r)| build(i, r)).collect();
        let customer = cust_1();
        let q = run(&specs, &order(amount), &customer, sorting, limit).unwrap();
        prop_assert_eq!(&q, &run(&specs, &order(amount), &customer, sorting, limit).unwrap());

        // The same answer, one candidate at a time.
        let expected: Vec<(usize, i64)> = specs
            .iter()
            .enumerate()
            .filter(|(_, s)| is_visible_to(&s.candidate(), &customer))
            .filter(|(_, s)| s.voucher.validity.expiration.is_none())
            .filter(|(_, s)| !matches!(&s.voucher.benefit, Benefit::Gift(l) if l.balance_minor() == 0))
            .map(|(i, s)| {
                let worth = match &s.voucher.benefit {
                    Benefit::Gift(l) => l.balance_minor(),
                    Benefit::Discount(d) => match d.value() {
                        DiscountValue::Amount { amount_off } => amount_off.to_minor().unwrap(),
                        _ => unreachable!(),
                    },
                };
                (i, worth.min(amount))
            })
            .collect();
        prop_assert_eq!(q.total, expected.len());
        let mut sorted = expected.clone();
        match sorting {
            Sorting::Default => {}
            Sorting::BestDeal => sorted.sort_by_key(|&(_, worth)| std::cmp::Reverse(worth)),
            Sorting::LeastDeal => sorted.sort_by_key(|&(_, worth)| worth),
        }
        sorted.truncate(limit);
        let got: Vec<(usize, i64)> = q
            .qualified
            .iter()
            .map(|q| (q.index, q.outcome.given_minor()))
            .collect();
        prop_assert_eq!(got, sorted);

        let best = expected
            .iter()
            .copied()
            .reduce(|best, next| if next.1 > best.1 { next } else { best });
        prop_assert_eq!(q.best().map(|b| (b.index, b.outcome.given_minor())), best);
    }
}
