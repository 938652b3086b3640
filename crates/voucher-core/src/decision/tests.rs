//! Tests of the decisions: every reason and its precedence (each check
//! broken alone, then every pair of them broken at once), the discount types
//! and gift cards through `validate` and `redeem`, rollbacks, and properties
//! of a voucher redeemed and rolled back at random in an in-memory store.

use chrono::{DateTime, Utc, Weekday};
use proptest::prelude::*;
use rust_decimal::Decimal;
use serde_json::json;

use super::*;
use crate::code_pattern::Code;
use crate::discount::{DiscountValue, Effect, Totals, UnitProduct};
use crate::ledger::Ledger;
use crate::limits::{ID_LEN_MAX, ITEM_QUANTITY_MAX, SEGMENTS_PER_CUSTOMER_MAX};
use crate::order::OrderItem;
use crate::validity::{DaySet, HoursWindow, IsoDuration, Moment, TimeOfDay, Validity};
use crate::voucher::{Activity, CampaignKind, CampaignLimits, CampaignType, RedemptionQuantity};

// ---------------------------------------------------------------------------
// Builders

const EUR: Currency = Currency::EUR;

fn eur(text: &str) -> Money {
    Money::parse(text, EUR).unwrap()
}

fn minor(amount_minor: i64) -> Money {
    Money::from_minor(amount_minor, EUR).unwrap()
}

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

/// The moment of every case: Wednesday 12 June 2024, noon UTC.
fn now() -> DateTime<Utc> {
    at("2024-06-12T12:00:00Z")
}

fn amount_off(text: &str, effect: Effect) -> Discount {
    Discount::new(
        DiscountValue::Amount {
            amount_off: eur(text),
        },
        effect,
    )
    .unwrap()
}

fn percent_off(percent: &str, cap: Option<&str>, effect: Effect) -> Discount {
    let value = DiscountValue::Percent {
        percent_off: Decimal::from_str_exact(percent).unwrap(),
        amount_limit: cap.map(eur),
    };
    Discount::new(value, effect).unwrap()
}

fn fixed(text: &str, effect: Effect) -> Discount {
    Discount::new(
        DiscountValue::Fixed {
            fixed_amount: eur(text),
        },
        effect,
    )
    .unwrap()
}

fn unit(units: u64, product: &str, price: Option<&str>, effect: Effect) -> Discount {
    let value = DiscountValue::Unit {
        unit_off: units,
        product: UnitProduct::new(Some(product.to_owned()), None).unwrap(),
        price: price.map(eur),
    };
    Discount::new(value, effect).unwrap()
}

fn voucher(benefit: Benefit) -> Voucher {
    Voucher {
        code: Code::parse("SUMMER-10").unwrap(),
        benefit,
        activity: Activity::Enabled,
        validity: Validity::default(),
        quantity: RedemptionQuantity::Limited(5),
        redeemed_quantity: 0,
        holder_id: None,
        published_at: None,
        active_after_publishing: None,
        rules: Vec::new(),
    }
}

fn discount_voucher(discount: Discount) -> Voucher {
    voucher(Benefit::Discount(discount))
}

/// A new card's ledger: one addition of its initial amount (none for an
/// empty card), and the entries written.
fn new_card_ledger(balance_minor: i64) -> (Ledger, Vec<Entry>) {
    let mut ledger = Ledger::new(EUR);
    let mut written = Vec::new();
    if balance_minor > 0 {
        written.push(ledger.append(EntryKind::Addition, balance_minor).unwrap());
    }
    (ledger, written)
}

fn card(balance_minor: i64) -> Voucher {
    let mut card = voucher(Benefit::Gift(new_card_ledger(balance_minor).0));
    card.quantity = RedemptionQuantity::Unlimited;
    card
}

fn campaign() -> Campaign {
    Campaign {
        name: "Summer".to_owned(),
        campaign_type: CampaignType::DiscountCoupons,
        kind: CampaignKind::Static,
        activity: Activity::Enabled,
        validity: Validity::default(),
        time_zone: None,
        rules: Vec::new(),
        limits: CampaignLimits::default(),
        categories: Vec::new(),
    }
}

fn order(amount: Option<&str>, items: Vec<OrderItem>) -> Order {
    Order {
        amount: amount.map(eur),
        items,
        ..Order::default()
    }
}

fn order_of(amount: &str) -> Order {
    order(Some(amount), Vec::new())
}

/// A line with an amount and no price.
fn line(product: &str, amount: &str) -> OrderItem {
    OrderItem {
        product_id: Some(product.to_owned()),
        amount: Some(eur(amount)),
        ..OrderItem::default()
    }
}

/// A line with a unit price and a quantity.
fn priced(product: &str, price: &str, quantity: u64) -> OrderItem {
    OrderItem {
        product_id: Some(product.to_owned()),
        price: Some(eur(price)),
        quantity: Some(quantity),
        ..OrderItem::default()
    }
}

fn customer(id: &str) -> Customer {
    Customer {
        source_id: Some(id.to_owned()),
        ..Customer::default()
    }
}

fn rule_set(set: serde_json::Value) -> RuleSet {
    serde_json::from_value(set).unwrap()
}

/// A rule set of one rule.
fn one_rule(name: &str, conditions: serde_json::Value) -> RuleSet {
    rule_set(json!({"rules": {"1": {"name": name, "conditions": conditions}}}))
}

/// One decision's inputs, owned, so that a test can change any of them.
#[derive(Debug, Clone)]
struct Case {
    project: Project,
    voucher: Voucher,
    campaign: Option<Campaign>,
    counters: Counters,
    order: Order,
    customer: Customer,
    now: DateTime<Utc>,
    credits: Credits,
}

impl Case {
    /// `voucher` in an open campaign, on an order of 100.00 (one line of
    /// p1), by customer c1, now.
    fn new(voucher: Voucher) -> Case {
        Case {
            project: Project::new(EUR),
            voucher,
            campaign: Some(campaign()),
            counters: Counters::default(),
            order: order(Some("100.00"), vec![line("p1", "100.00")]),
            customer: customer("c1"),
            now: now(),
            credits: Credits::WhatIsOwed,
        }
    }

    fn with_order(mut self, order: Order) -> Case {
        self.order = order;
        self
    }

    fn with_credits(mut self, credits: Credits) -> Case {
        self.credits = credits;
        self
    }

    fn candidate(&self) -> Candidate<'_> {
        Candidate {
            voucher: &self.voucher,
            campaign: self.campaign.as_ref(),
            counters: self.counters,
        }
    }

    fn checkout(&self) -> Checkout<'_> {
        Checkout {
            order: &self.order,
            customer: &self.customer,
            now: self.now,
        }
    }

    fn validate(&self) -> Result<Validation, Refusal> {
        validate(
            &self.project,
            &self.candidate(),
            &self.checkout(),
            self.credits,
        )
    }

    fn redeem(&self) -> Result<Redemption, Refusal> {
        redeem(
            &self.project,
            &self.candidate(),
            &self.checkout(),
            self.credits,
        )
    }

    fn campaign_mut(&mut self) -> &mut Campaign {
        self.campaign.get_or_insert_with(campaign)
    }

    fn limits_mut(&mut self) -> &mut CampaignLimits {
        &mut self.campaign_mut().limits
    }

    /// Applies a redemption's transition as a store would: the count, the
    /// gift ledger (by appending the entry, which must agree), the
    /// counters. Returns the entry written.
    fn apply(&mut self, transition: &Transition) -> Option<Entry> {
        self.voucher.redeemed_quantity = transition.redeemed_quantity_after;
        self.counters.customer_redemptions += 1;
        self.counters.campaign_redemptions += 1;
        self.counters.campaign_given_minor += transition.given_minor;
        self.append(transition.ledger_entry)
    }

    /// Applies a rollback's transition as a store would.
    fn apply_rollback(&mut self, transition: &RollbackTransition) -> Option<Entry> {
        self.voucher.redeemed_quantity = transition.redeemed_quantity_after;
        self.counters.customer_redemptions -= 1;
        self.counters.campaign_redemptions -= 1;
        self.counters.campaign_given_minor -= transition.returned_minor;
        self.append(transition.ledger_entry)
    }

    fn append(&mut self, entry: Option<Entry>) -> Option<Entry> {
        let entry = entry?;
        let Benefit::Gift(ledger) = &mut self.voucher.benefit else {
            panic!("a ledger entry for a voucher without a ledger");
        };
        let written = ledger.append(entry.kind, entry.amount_minor).unwrap();
        assert_eq!(written, entry, "the store's ledger agrees with the entry");
        Some(written)
    }

    fn balance_minor(&self) -> i64 {
        match &self.voucher.benefit {
            Benefit::Gift(ledger) => ledger.balance_minor(),
            Benefit::Discount(_) => panic!("not a gift card"),
        }
    }
}

/// Validates and redeems `case`; both must refuse with `expected`.
fn check_refusal(case: &Case, expected: Reason) -> Refusal {
    let refusal = match case.validate() {
        Ok(validation) => panic!("expected {expected}, validated {validation:?}"),
        Err(refusal) => refusal,
    };
    assert_eq!(refusal.reason, expected, "{refusal}");
    assert_eq!(case.redeem().map(|r| r.transition), Err(refusal.clone()));
    refusal
}

fn totals(amount: i64, discount: i64, items_discount: i64, total: i64) -> Totals {
    Totals {
        amount_minor: amount,
        discount_amount_minor: discount,
        items_discount_amount_minor: items_discount,
        total_discount_amount_minor: discount + items_discount,
        total_amount_minor: total,
    }
}

// ---------------------------------------------------------------------------
// Reasons and their precedence

/// The shapes of voucher a check can be broken on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Base {
    /// AMOUNT 10.00 off the order.
    OrderDiscount,
    /// AMOUNT 5.00 off each line.
    ItemDiscount,
    /// One free unit of p2 at 3.00, added as missing.
    FreeUnit,
    /// A gift card of 50.00.
    Gift,
}

const BASES: [Base; 4] = [
    Base::OrderDiscount,
    Base::ItemDiscount,
    Base::FreeUnit,
    Base::Gift,
];

impl Base {
    fn case(self) -> Case {
        let voucher = match self {
            Base::OrderDiscount => discount_voucher(amount_off("10.00", Effect::ApplyToOrder)),
            Base::ItemDiscount => discount_voucher(amount_off("5.00", Effect::ApplyToItems)),
            Base::FreeUnit => {
                discount_voucher(unit(1, "p2", Some("3.00"), Effect::AddMissingItems))
            }
            Base::Gift => card(5000),
        };
        Case::new(voucher)
    }
}

/// One check broken on purpose: `apply` makes exactly this check fail, and
/// leaves every other one as it was.
struct Breaker {
    name: &'static str,
    reason: Reason,
    bases: &'static [Base],
    apply: fn(&mut Case),
}

/// Every breaker, in the order of precedence of their reasons.
fn breakers() -> Vec<Breaker> {
    use Base::*;
    const ALL: &[Base] = &BASES;
    vec![
        Breaker {
            name: "order id too long",
            reason: Reason::InvalidOrder,
            bases: ALL,
            apply: |c| c.order.id = Some("o".repeat(ID_LEN_MAX + 1)),
        },
        Breaker {
            name: "customer in too many segments",
            reason: Reason::InvalidOrder,
            bases: ALL,
            apply: |c| {
                c.customer.segments = (0..=SEGMENTS_PER_CUSTOMER_MAX)
                    .map(|i| format!("s{i}"))
                    .collect();
            },
        },
        Breaker {
            name: "zero credits asked",
            reason: Reason::InvalidAmount,
            bases: ALL,
            apply: |c| c.credits = Credits::Exactly(eur("0")),
        },
        Breaker {
            name: "no order amount",
            reason: Reason::MissingAmount,
            bases: &[OrderDiscount, Gift],
            apply: |c| {
                c.order.amount = None;
                c.order.items.clear();
            },
        },
        Breaker {
            name: "no order items",
            reason: Reason::MissingOrderItems,
            bases: &[ItemDiscount],
            apply: |c| c.order.items.clear(),
        },
        Breaker {
            name: "free unit without a price",
            reason: Reason::MissingOrderItemsAmount,
            bases: &[FreeUnit],
            apply: |c| {
                c.voucher.benefit = Benefit::Discount(unit(1, "p2", None, Effect::AddMissingItems));
            },
        },
        Breaker {
            name: "anonymous customer, per-customer limit",
            reason: Reason::MissingCustomer,
            bases: ALL,
            apply: |c| {
                c.limits_mut().per_customer_max.get_or_insert(10);
                c.customer.id = None;
                c.customer.source_id = None;
            },
        },
        Breaker {
            name: "voucher disabled",
            reason: Reason::VoucherDisabled,
            bases: ALL,
            apply: |c| c.voucher.activity = Activity::Disabled,
        },
        Breaker {
            name: "campaign disabled",
            reason: Reason::VoucherDisabled,
            bases: ALL,
            apply: |c| c.campaign_mut().activity = Activity::Disabled,
        },
        Breaker {
            name: "voucher starts tomorrow",
            reason: Reason::VoucherNotActive,
            bases: ALL,
            apply: |c| c.voucher.validity.start = Some(Moment::parse("2024-06-13").unwrap()),
        },
        Breaker {
            name: "campaign starts in a second",
            reason: Reason::VoucherNotActive,
            bases: ALL,
            apply: |c| {
                c.campaign_mut().validity.start =
                    Some(Moment::parse("2024-06-12T12:00:01Z").unwrap());
            },
        },
        Breaker {
            name: "voucher expired yesterday",
            reason: Reason::VoucherExpired,
            bases: ALL,
            apply: |c| {
                c.voucher.validity.expiration = Some(Moment::parse("2024-06-11").unwrap());
            },
        },
        Breaker {
            name: "campaign expired a second ago",
            reason: Reason::VoucherExpired,
            bases: ALL,
            apply: |c| {
                c.campaign_mut().validity.expiration =
                    Some(Moment::parse("2024-06-12T11:59:59Z").unwrap());
            },
        },
        Breaker {
            name: "expired a day after its publication",
            reason: Reason::VoucherExpired,
            bases: ALL,
            apply: |c| {
                c.voucher.published_at = Some(at("2024-06-10T12:00:00Z"));
                c.voucher.active_after_publishing = Some(IsoDuration::parse("P1D").unwrap());
            },
        },
        Breaker {
            name: "voucher valid on sundays",
            reason: Reason::VoucherNotActiveNow,
            bases: ALL,
            apply: |c| c.voucher.validity.days_of_week = Some(DaySet::of(&[Weekday::Sun])),
        },
        Breaker {
            name: "campaign valid 18:00-22:00",
            reason: Reason::VoucherNotActiveNow,
            bases: ALL,
            apply: |c| {
                c.campaign_mut().validity.daily_hours = vec![HoursWindow {
                    start_time: TimeOfDay::parse("18:00").unwrap(),
                    expiration_time: TimeOfDay::parse("22:00").unwrap(),
                    days_of_week: None,
                }];
            },
        },
        Breaker {
            name: "quantity used up",
            reason: Reason::QuantityExceeded,
            bases: ALL,
            apply: |c| {
                c.voucher.quantity = RedemptionQuantity::Limited(3);
                c.voucher.redeemed_quantity = 3;
            },
        },
        Breaker {
            name: "empty gift card",
            reason: Reason::GiftAmountExceeded,
            bases: &[Gift],
            apply: |c| c.voucher.benefit = card(0).benefit,
        },
        Breaker {
            name: "customer rule: vip segment",
            reason: Reason::CustomerRulesViolated,
            bases: ALL,
            apply: |c| {
                c.voucher
                    .rules
                    .push(one_rule("customer.segment", json!({"$in": ["vip"]})));
            },
        },
        Breaker {
            name: "order rule: amount over 1000",
            reason: Reason::OrderRulesViolated,
            bases: ALL,
            apply: |c| {
                // On the campaign, which is evaluated before the voucher's
                // own sets: the customer rule must still win.
                c.campaign_mut()
                    .rules
                    .push(one_rule("order.amount", json!({"$more_than": [1000]})));
            },
        },
        Breaker {
            name: "redemption rule: once per customer",
            reason: Reason::RedemptionRulesViolated,
            bases: ALL,
            apply: |c| {
                c.voucher.rules.push(one_rule(
                    "redemption.count.per_customer",
                    json!({"$less_than_or_equal": [1]}),
                ));
                c.counters.customer_redemptions = c.counters.customer_redemptions.max(1);
            },
        },
        Breaker {
            name: "per-customer limit reached",
            reason: Reason::RedemptionRulesViolated,
            bases: ALL,
            apply: |c| {
                c.limits_mut().per_customer_max = Some(2);
                c.counters.customer_redemptions = c.counters.customer_redemptions.max(2);
            },
        },
        Breaker {
            name: "campaign redemption limit reached",
            reason: Reason::RedemptionRulesViolated,
            bases: ALL,
            apply: |c| {
                c.limits_mut().redemptions_max = Some(7);
                c.counters.campaign_redemptions = 7;
            },
        },
        Breaker {
            name: "campaign budget spent",
            reason: Reason::RedemptionRulesViolated,
            bases: ALL,
            apply: |c| {
                c.limits_mut().budget_max_minor = Some(10_000);
                c.counters.campaign_given_minor = 10_000;
            },
        },
    ]
}

fn rank(reason: Reason) -> usize {
    Reason::ALL
        .iter()
        .position(|r| *r == reason)
        .unwrap_or(usize::MAX)
}

#[test]
fn the_breakers_are_in_order_of_precedence() {
    let breakers = breakers();
    for pair in breakers.windows(2) {
        assert!(
            rank(pair[0].reason) <= rank(pair[1].reason),
            "{} before {}",
            pair[0].name,
            pair[1].name
        );
    }
}

#[test]
fn every_base_redeems_when_nothing_is_broken() {
    for base in BASES {
        let case = base.case();
        let redemption = case
            .redeem()
            .unwrap_or_else(|refusal| panic!("{base:?}: {refusal}"));
        assert_eq!(redemption.transition.redeemed_quantity_after, 1, "{base:?}");
    }
}

#[test]
fn each_broken_check_gives_its_reason() {
    for breaker in breakers() {
        for &base in breaker.bases {
            let mut case = base.case();
            (breaker.apply)(&mut case);
            let refusal = case.validate().expect_err(breaker.name);
            assert_eq!(
                refusal.reason, breaker.reason,
                "{} on {base:?}: {refusal}",
                breaker.name
            );
        }
    }
}

#[test]
fn of_two_broken_checks_the_earlier_wins() {
    let breakers = breakers();
    let mut pairs = 0;
    for (i, first) in breakers.iter().enumerate() {
        for second in breakers.iter().skip(i + 1) {
            for base in BASES {
                if !first.bases.contains(&base) || !second.bases.contains(&base) {
                    continue;
                }
                // Both orders of breaking, so that no breaker undoes the
                // other unnoticed.
                for (a, b) in [(first, second), (second, first)] {
                    let mut case = base.case();
                    (a.apply)(&mut case);
                    (b.apply)(&mut case);
                    let refusal = case.validate().expect_err(first.name);
                    assert_eq!(
                        refusal.reason, first.reason,
                        "{} and {} on {base:?}: {refusal}",
                        first.name, second.name
                    );
                    assert_eq!(case.redeem().map(|r| r.transition), Err(refusal));
                    pairs += 1;
                }
            }
        }
    }
    assert!(pairs > 1500, "{pairs} pairs");
}

/// Every pair of adjacent reasons is broken together on some base, except
/// the two pairs that no order can fail at once for one voucher: a discount
/// needs either an amount (order level) or lines (item level), not both, and
/// an order with a line that lacks its amount has lines.
#[test]
fn every_adjacent_pair_of_reasons_is_tested_together() {
    let impossible = [
        (Reason::MissingAmount, Reason::MissingOrderItems),
        (Reason::MissingOrderItems, Reason::MissingOrderItemsAmount),
    ];
    let breakers = breakers();
    let together = |a: Reason, b: Reason| {
        BASES.iter().any(|base| {
            let on = |reason: Reason| {
                breakers
                    .iter()
                    .any(|x| x.reason == reason && x.bases.contains(base))
            };
            on(a) && on(b)
        })
    };
    for pair in Reason::ALL.windows(2).skip(1) {
        let (a, b) = (pair[0], pair[1]);
        if impossible.contains(&(a, b)) {
            assert!(!together(a, b));
            continue;
        }
        assert!(together(a, b), "{a} and {b} are never broken together");
    }
}

/// The single cases the breakers do not cover, each with its reason.
#[test]
fn single_refusals() {
    let order_discount = || Case::new(discount_voucher(amount_off("10.00", Effect::ApplyToOrder)));
    let items_discount = || Case::new(discount_voucher(amount_off("5.00", Effect::ApplyToItems)));
    let usd = |text: &str| Money::parse(text, Currency::USD).unwrap();
    let too_precise = Money::unrounded(Decimal::from_str_exact("10.005").unwrap(), EUR).unwrap();
    let mut cases: Vec<(&str, Case, Reason)> = vec![
        (
            "order amount in another currency",
            order_discount().with_order(Order {
                amount: Some(usd("100.00")),
                ..Order::default()
            }),
            Reason::InvalidOrder,
        ),
        (
            "line in another currency",
            order_discount().with_order(Order {
                items: vec![OrderItem {
                    amount: Some(usd("1.00")),
                    ..OrderItem::default()
                }],
                ..order_of("100.00")
            }),
            Reason::InvalidOrder,
        ),
        (
            "credits in another currency",
            Case::new(card(5000)).with_credits(Credits::Exactly(usd("10.00"))),
            Reason::InvalidOrder,
        ),
        (
            "line of zero units",
            order_discount().with_order(order(None, vec![priced("p1", "10.00", 0)])),
            Reason::InvalidOrder,
        ),
        (
            "line of too many units",
            order_discount().with_order(order(
                None,
                vec![priced("p1", "10.00", ITEM_QUANTITY_MAX + 1)],
            )),
            Reason::InvalidOrder,
        ),
        (
            "negative order amount",
            order_discount().with_order(order_of("-0.01")),
            Reason::InvalidAmount,
        ),
        (
            "negative line price",
            order_discount().with_order(order(None, vec![priced("p1", "-1.00", 2)])),
            Reason::InvalidAmount,
        ),
        (
            "order amount too precise",
            order_discount().with_order(Order {
                amount: Some(too_precise),
                ..Order::default()
            }),
            Reason::InvalidAmount,
        ),
        (
            "credits too precise",
            Case::new(card(5000)).with_credits(Credits::Exactly(too_precise)),
            Reason::InvalidAmount,
        ),
        (
            "negative credits",
            Case::new(card(5000)).with_credits(Credits::Exactly(eur("-1.00"))),
            Reason::InvalidAmount,
        ),
        (
            "lines summing past the limit",
            order_discount().with_order(order(
                None,
                vec![
                    priced("p1", "9000000000000.00", 1),
                    priced("p2", "9000000000000.00", 1),
                ],
            )),
            Reason::InvalidAmount,
        ),
        (
            "no order amount for an order discount",
            order_discount().with_order(Order::default()),
            Reason::MissingAmount,
        ),
        (
            "no order amount for a gift card",
            Case::new(card(5000)).with_order(Order::default()),
            Reason::MissingAmount,
        ),
        (
            "no lines for an item discount",
            items_discount().with_order(order_of("100.00")),
            Reason::MissingOrderItems,
        ),
        (
            "a line without amount or price, and no order amount",
            order_discount()
                .with_order(order(None, vec![line("p1", "10.00"), OrderItem::default()])),
            Reason::MissingOrderItemsAmount,
        ),
        (
            "credits above the balance",
            Case::new(card(5000)).with_credits(Credits::Exactly(eur("50.01"))),
            Reason::GiftAmountExceeded,
        ),
    ];

    let mut anonymous = order_discount();
    anonymous.customer = Customer::default();
    anonymous.voucher.rules = vec![rule_set(json!({"rules": {"1": {
        "name": "customer.metadata", "property": "tier", "conditions": {"$is": ["gold"]}
    }}}))];
    cases.push((
        "anonymous customer, customer rule",
        anonymous,
        Reason::MissingCustomer,
    ));

    let mut published = order_discount();
    published.voucher.published_at = Some(at("2024-06-11T12:00:00Z"));
    published.voucher.active_after_publishing = Some(IsoDuration::parse("P1D").unwrap());
    published.now = at("2024-06-12T12:00:00.001Z");
    cases.push((
        "a millisecond past a day after publication",
        published,
        Reason::VoucherExpired,
    ));

    // In Auckland it is already 13 June, past the bare-date expiry.
    let mut zoned = order_discount();
    zoned.voucher.validity.expiration = Some(Moment::parse("2024-06-12").unwrap());
    zoned.campaign_mut().time_zone = Some(chrono_tz::Pacific::Auckland);
    cases.push((
        "expired in the campaign's zone",
        zoned,
        Reason::VoucherExpired,
    ));
    let mut project_zoned = order_discount();
    project_zoned.voucher.validity.expiration = Some(Moment::parse("2024-06-12").unwrap());
    project_zoned.project.time_zone = chrono_tz::Pacific::Auckland;
    cases.push((
        "expired in the project's zone",
        project_zoned,
        Reason::VoucherExpired,
    ));

    let mut no_campaign = order_discount();
    no_campaign.campaign = None;
    no_campaign.voucher.activity = Activity::Disabled;
    cases.push((
        "disabled voucher without a campaign",
        no_campaign,
        Reason::VoucherDisabled,
    ));

    let mut mixed = order_discount();
    mixed.voucher.quantity = RedemptionQuantity::Limited(0);
    cases.push(("a quantity of zero", mixed, Reason::QuantityExceeded));

    let mut budget = order_discount();
    budget.limits_mut().budget_max_minor = Some(10_000);
    budget.counters.campaign_given_minor = 9_001;
    cases.push((
        "a discount of 10.00 with 9.99 of budget left",
        budget,
        Reason::RedemptionRulesViolated,
    ));

    let mut spent_rule = order_discount();
    spent_rule.campaign_mut().rules.push(one_rule(
        "campaign.orders.amount_discounted",
        json!({"$less_than": [500]}),
    ));
    spent_rule.counters.campaign_given_minor = 50_000;
    cases.push((
        "rule on the discount given so far",
        spent_rule,
        Reason::RedemptionRulesViolated,
    ));

    for (name, case, expected) in &cases {
        let refusal = case.validate().expect_err(name);
        assert_eq!(refusal.reason, *expected, "{name}: {refusal}");
        assert_eq!(case.redeem().map(|r| r.transition), Err(refusal), "{name}");
    }

    // Every reason the engine decides is produced by some case.
    let mut produced: Vec<Reason> = breakers().iter().map(|b| b.reason).collect();
    produced.extend(cases.iter().map(|(_, _, reason)| *reason));
    for reason in Reason::ALL {
        assert_eq!(
            produced.contains(&reason),
            reason != Reason::ResourceNotFound,
            "{reason}"
        );
    }
}

#[test]
fn just_inside_the_limits_is_accepted() {
    let base = || Case::new(discount_voucher(amount_off("10.00", Effect::ApplyToOrder)));
    let mut cases: Vec<(&str, Case)> = Vec::new();

    let mut last_use = base();
    last_use.voucher.quantity = RedemptionQuantity::Limited(3);
    last_use.voucher.redeemed_quantity = 2;
    cases.push(("the last use", last_use));

    let mut budget = base();
    budget.limits_mut().budget_max_minor = Some(10_000);
    budget.counters.campaign_given_minor = 9_000;
    cases.push(("a discount that spends the budget exactly", budget));

    let mut per_customer = base();
    per_customer.limits_mut().per_customer_max = Some(2);
    per_customer.counters.customer_redemptions = 1;
    cases.push(("the customer's last use", per_customer));

    let mut campaign_count = base();
    campaign_count.limits_mut().redemptions_max = Some(7);
    campaign_count.counters.campaign_redemptions = 6;
    cases.push(("the campaign's last use", campaign_count));

    let mut once = base();
    once.voucher.rules.push(one_rule(
        "redemption.count.per_customer",
        json!({"$less_than_or_equal": [1]}),
    ));
    cases.push(("the first use of a once-per-customer code", once));

    let mut published = base();
    published.voucher.published_at = Some(at("2024-06-11T12:00:00Z"));
    published.voucher.active_after_publishing = Some(IsoDuration::parse("P1D").unwrap());
    cases.push((
        "exactly a day after publication (an instant expiry is inclusive)",
        published,
    ));

    let mut expiring = base();
    expiring.voucher.validity.expiration = Some(Moment::parse("2024-06-12").unwrap());
    expiring.campaign_mut().validity.expiration =
        Some(Moment::parse("2024-06-12T12:00:00Z").unwrap());
    cases.push(("the last day, and the campaign's last instant", expiring));

    let mut starting = base();
    starting.voucher.validity.start = Some(Moment::parse("2024-06-12").unwrap());
    starting.campaign_mut().validity.start = Some(Moment::parse("2024-06-12T12:00:00Z").unwrap());
    starting.voucher.validity.days_of_week = Some(DaySet::of(&[Weekday::Wed]));
    cases.push(("the first day, on the right weekday", starting));

    let mut anonymous = base();
    anonymous.customer = Customer::default();
    anonymous
        .voucher
        .rules
        .push(one_rule("order.amount", json!({"$more_than": [50]})));
    cases.push(("an anonymous customer when no rule needs one", anonymous));

    for (name, case) in cases {
        let redemption = case
            .redeem()
            .unwrap_or_else(|refusal| panic!("{name}: {refusal}"));
        assert_eq!(redemption.validation.outcome.given_minor(), 1000, "{name}");
    }
}

#[test]
fn rule_messages_travel_with_the_refusal() {
    let rule =
        |name: &str, property: Option<&str>, conditions: serde_json::Value, message: &str| {
            json!({"name": name, "property": property, "conditions": conditions,
               "error": {"message": message}})
        };
    let small = rule(
        "order.amount",
        None,
        json!({"$more_than": [1000]}),
        "spend over 1000",
    );
    let vip = rule(
        "customer.segment",
        None,
        json!({"$in": ["vip"]}),
        "for vips only",
    );
    let gold = rule(
        "customer.metadata",
        Some("tier"),
        json!({"$is": ["gold"]}),
        "for gold members",
    );
    let big = json!({"name": "order.amount", "conditions": {"$more_than": [50]}});

    // (name, campaign sets, voucher sets, reason, message)
    type Row<'a> = (
        &'a str,
        Vec<serde_json::Value>,
        Vec<serde_json::Value>,
        Reason,
        Option<&'a str>,
    );
    let rows: Vec<Row<'_>> = vec![
        (
            "a rule's own message",
            vec![],
            vec![json!({"rules": {"1": small}})],
            Reason::OrderRulesViolated,
            Some("spend over 1000"),
        ),
        (
            "the set's message when the rule has none",
            vec![json!({"rules": {"1": {"name": "order.amount",
                "conditions": {"$more_than": [1000]}}}, "error": {"message": "not this order"}})],
            vec![],
            Reason::OrderRulesViolated,
            Some("not this order"),
        ),
        (
            "no message at all",
            vec![json!({"rules": {"1": {"name": "order.amount",
                "conditions": {"$more_than": [1000]}}}})],
            vec![],
            Reason::OrderRulesViolated,
            None,
        ),
        (
            "mixed set, the lower-numbered order rule fails first",
            vec![],
            vec![json!({"rules": {"1": small, "2": vip}})],
            Reason::OrderRulesViolated,
            Some("spend over 1000"),
        ),
        (
            "mixed set, the lower-numbered customer rule fails first",
            vec![],
            vec![json!({"rules": {"1": vip, "2": small}})],
            Reason::CustomerRulesViolated,
            Some("for vips only"),
        ),
        (
            "mixed set, only the higher-numbered customer rule fails",
            vec![],
            vec![json!({"rules": {"1": big, "2": gold}})],
            Reason::CustomerRulesViolated,
            Some("for gold members"),
        ),
        (
            "customer rule in a later set beats an order rule in an earlier one",
            vec![json!({"rules": {"1": small}})],
            vec![json!({"rules": {"1": vip}})],
            Reason::CustomerRulesViolated,
            Some("for vips only"),
        ),
        (
            "of two failing order sets, the first decides",
            vec![json!({"rules": {"1": small}})],
            vec![json!({"rules": {"1": {"name": "order.amount",
                "conditions": {"$less_than": [10]}}}, "error": {"message": "second"}})],
            Reason::OrderRulesViolated,
            Some("spend over 1000"),
        ),
        (
            "logic: 1 or 2 with both failing blames rule 1",
            vec![],
            vec![json!({"rules": {"1": vip, "2": small, "logic": "1 or 2"}})],
            Reason::CustomerRulesViolated,
            Some("for vips only"),
        ),
    ];
    for (name, campaign_sets, voucher_sets, reason, message) in rows {
        let mut case = Case::new(discount_voucher(amount_off("10.00", Effect::ApplyToOrder)));
        case.campaign_mut().rules = campaign_sets.into_iter().map(rule_set).collect();
        case.voucher.rules = voucher_sets.into_iter().map(rule_set).collect();
        let refusal = check_refusal(&case, reason);
        assert_eq!(refusal.rule_message.as_deref(), message, "{name}");
        assert!(refusal.details.is_some(), "{name}");
    }

    // Rules that hold refuse nothing.
    let mut case = Case::new(discount_voucher(amount_off("10.00", Effect::ApplyToOrder)));
    case.customer.segments = vec!["vip".to_owned()];
    case.voucher.rules = vec![rule_set(json!({"rules": {"1": big, "2": vip}}))];
    assert!(case.validate().is_ok());
}

#[test]
fn reasons_have_stable_keys() {
    let expected = [
        "resource_not_found",
        "invalid_order",
        "invalid_amount",
        "missing_amount",
        "missing_order_items",
        "missing_order_items_amount",
        "missing_customer",
        "voucher_disabled",
        "voucher_not_active",
        "voucher_expired",
        "voucher_not_active_now",
        "quantity_exceeded",
        "gift_amount_exceeded",
        "customer_rules_violated",
        "order_rules_violated",
        "redemption_rules_violated",
    ];
    let keys: Vec<&str> = Reason::ALL.iter().map(|r| r.key()).collect();
    assert_eq!(keys, expected);
    for reason in Reason::ALL {
        assert_eq!(Reason::from_key(reason.key()), Some(reason));
        assert_eq!(reason.to_string(), reason.key());
        assert_eq!(
            serde_json::to_value(reason).unwrap(),
            json!(reason.key()),
            "serde and key agree"
        );
        assert!(!reason.message().is_empty());
    }
    assert_eq!(Reason::from_key("Voucher_Expired"), None);
    // ALL is sorted, so the derived order is the order of precedence.
    assert!(Reason::ALL.windows(2).all(|w| w[0] < w[1]));
    let refusal = Refusal {
        reason: Reason::InvalidAmount,
        rule_message: None,
        details: Some("credits must be positive".to_owned()),
    };
    assert_eq!(
        refusal.to_string(),
        "invalid_amount: credits must be positive"
    );
    assert_eq!(
        Refusal::new(Reason::VoucherExpired).to_string(),
        "voucher_expired"
    );
}

// ---------------------------------------------------------------------------
// Discounts

/// Validates then redeems `discount` on `order`; both must give `expected`
/// totals and `given` charged to the budget.
fn check_discount(discount: Discount, order: Order, expected: Totals, given: i64) {
    let mut case = Case::new(discount_voucher(discount.clone())).with_order(order);
    case.voucher.redeemed_quantity = 2;
    case.limits_mut().budget_max_minor = Some(1_000_000);
    case.counters.campaign_given_minor = 1_000;
    let before = case.clone();

    let validation = case
        .validate()
        .unwrap_or_else(|refusal| panic!("{discount:?}: {refusal}"));
    assert_eq!(validation.order.totals(), expected, "{discount:?}");
    assert_eq!(
        validation.outcome.applied().totals(),
        expected,
        "{discount:?}"
    );
    assert_eq!(validation.outcome.given_minor(), given, "{discount:?}");
    assert!(matches!(validation.outcome, Outcome::Discount(_)));

    let redemption = case.redeem().unwrap();
    assert_eq!(
        redemption.validation, validation,
        "validate and redeem agree"
    );
    assert_eq!(
        redemption.transition,
        Transition {
            redeemed_quantity_after: 3,
            ledger_entry: None,
            given_minor: given,
        }
    );
    // Neither changed the inputs.
    assert_eq!(case.voucher, before.voucher);
    assert_eq!(case.campaign, before.campaign);
    assert_eq!(case.counters, before.counters);
    assert_eq!(case.order, before.order);
}

#[test]
fn discount_types_through_validate_and_redeem() {
    use Effect::*;
    let hundred = || {
        order(
            Some("100.00"),
            vec![line("p1", "60.00"), line("p2", "40.00")],
        )
    };
    // AMOUNT.
    check_discount(
        amount_off("10.00", ApplyToOrder),
        hundred(),
        totals(10_000, 1_000, 0, 9_000),
        1_000,
    );
    check_discount(
        amount_off("150.00", ApplyToOrder),
        hundred(),
        totals(10_000, 10_000, 0, 0),
        10_000,
    );
    check_discount(
        amount_off("10.00", ApplyToOrder),
        order_of("0.00"),
        totals(0, 0, 0, 0),
        0,
    );
    check_discount(
        amount_off("5.00", ApplyToItems),
        hundred(),
        totals(10_000, 0, 1_000, 9_000),
        1_000,
    );
    check_discount(
        amount_off("1.00", ApplyToItemsByQuantity),
        order(None, vec![priced("p1", "4.00", 3), priced("p2", "0.50", 2)]),
        totals(1_300, 0, 400, 900),
        400,
    );
    check_discount(
        amount_off("10.00", ApplyToItemsProportionally),
        hundred(),
        totals(10_000, 0, 1_000, 9_000),
        1_000,
    );
    // PERCENT, capped and not, and its rounding (33.33% of 10.01 is
    // 3.336333, half away from zero 3.34).
    check_discount(
        percent_off("20", Some("15.00"), ApplyToOrder),
        hundred(),
        totals(10_000, 1_500, 0, 8_500),
        1_500,
    );
    check_discount(
        percent_off("10", Some("15.00"), ApplyToOrder),
        hundred(),
        totals(10_000, 1_000, 0, 9_000),
        1_000,
    );
    check_discount(
        percent_off("33.33", None, ApplyToOrder),
        order_of("10.01"),
        totals(1_001, 334, 0, 667),
        334,
    );
    check_discount(
        percent_off("50", Some("25.00"), ApplyToItems),
        hundred(),
        totals(10_000, 0, 2_500, 7_500),
        2_500,
    );
    check_discount(
        percent_off("100", None, ApplyToOrder),
        hundred(),
        totals(10_000, 10_000, 0, 0),
        10_000,
    );
    // FIXED: a new price for the order, or for each unit.
    check_discount(
        fixed("70.00", ApplyToOrder),
        hundred(),
        totals(10_000, 3_000, 0, 7_000),
        3_000,
    );
    check_discount(
        fixed("120.00", ApplyToOrder),
        hundred(),
        totals(10_000, 0, 0, 10_000),
        0,
    );
    check_discount(
        fixed("20.00", ApplyToItems),
        order(
            None,
            vec![priced("p1", "30.00", 2), priced("p2", "15.00", 1)],
        ),
        totals(7_500, 0, 2_000, 5_500),
        2_000,
    );
    // UNIT: free units added to the order and discounted, so the customer
    // pays the same.
    check_discount(
        unit(1, "p3", Some("3.00"), AddMissingItems),
        hundred(),
        totals(10_300, 0, 300, 10_000),
        300,
    );
    check_discount(
        unit(2, "p1", None, AddNewItems),
        order(None, vec![priced("p1", "25.00", 4)]),
        totals(15_000, 0, 5_000, 10_000),
        5_000,
    );
    check_discount(
        unit(3, "p1", None, AddMissingItems),
        order(None, vec![priced("p1", "25.00", 2)]),
        totals(7_500, 0, 7_500, 0),
        7_500,
    );
}

#[test]
fn unit_discount_places_its_units() {
    let case = Case::new(discount_voucher(unit(
        1,
        "p3",
        Some("3.00"),
        Effect::AddMissingItems,
    )));
    let validation = case.validate().unwrap();
    let lines: Vec<(Option<&str>, u64, i64, i64)> = validation
        .order
        .lines()
        .iter()
        .map(|l| {
            (
                l.product_id(),
                l.quantity(),
                l.amount_minor(),
                l.discount_amount_minor(),
            )
        })
        .collect();
    assert_eq!(
        lines,
        vec![(Some("p1"), 1, 10_000, 0), (Some("p3"), 1, 300, 300)]
    );
}

#[test]
fn rule_targets_narrow_an_item_discount() {
    let mut case = Case::new(discount_voucher(percent_off(
        "50",
        None,
        Effect::ApplyToItems,
    )))
    .with_order(order(None, vec![line("p1", "60.00"), line("p2", "40.00")]));
    case.voucher.rules = vec![rule_set(json!({"applicable_to": {
        "included": [{"object": "product", "id": "p2"}]
    }}))];
    let validation = case.validate().unwrap();
    assert_eq!(validation.order.totals(), totals(10_000, 0, 2_000, 8_000));
    assert_eq!(validation.outcome.applied().lines(), &[0, 2_000]);
}

// ---------------------------------------------------------------------------
// Gift cards

#[test]
fn gift_card_spent_over_three_orders() {
    let (ledger, mut written) = new_card_ledger(5_000);
    let mut case = Case::new(voucher(Benefit::Gift(ledger)));
    case.voucher.quantity = RedemptionQuantity::Unlimited;
    // (order, credits spent, balance after, total left to pay)
    let expected = [
        ("20.00", 2_000, 3_000, 0),
        ("20.00", 2_000, 1_000, 0),
        ("20.00", 1_000, 0, 1_000),
    ];
    for (round, (amount, spent, balance, to_pay)) in expected.into_iter().enumerate() {
        case.order = order_of(amount);
        let validation = case.validate().unwrap();
        let redemption = case.redeem().unwrap();
        assert_eq!(redemption.validation, validation);
        let Outcome::Gift {
            credits_minor,
            balance_after_minor,
            ref applied,
        } = validation.outcome
        else {
            panic!("not a gift outcome");
        };
        assert_eq!(
            (credits_minor, balance_after_minor, applied.discount_minor()),
            (spent, balance, spent),
            "round {round}"
        );
        assert_eq!(
            validation.order.totals(),
            totals(2_000, spent, 0, to_pay),
            "round {round}"
        );
        assert_eq!(
            redemption.transition,
            Transition {
                redeemed_quantity_after: round as u64 + 1,
                ledger_entry: Some(Entry {
                    kind: EntryKind::Redemption,
                    amount_minor: spent,
                    balance_after_minor: balance,
                }),
                given_minor: spent,
            }
        );
        written.extend(case.apply(&redemption.transition));
        assert_eq!(case.balance_minor(), balance);
    }
    case.order = order_of("20.00");
    let refusal = check_refusal(&case, Reason::GiftAmountExceeded);
    assert_eq!(refusal.details.as_deref(), Some("balance is zero"));
    let refusal = check_refusal(
        &case.clone().with_credits(Credits::Exactly(eur("0.01"))),
        Reason::GiftAmountExceeded,
    );
    assert_eq!(
        refusal.details.as_deref(),
        Some("balance 0, requested 1 (minor units)")
    );

    let entry = |kind, amount_minor, balance_after_minor| Entry {
        kind,
        amount_minor,
        balance_after_minor,
    };
    assert_eq!(
        written,
        vec![
            entry(EntryKind::Addition, 5_000, 5_000),
            entry(EntryKind::Redemption, 2_000, 3_000),
            entry(EntryKind::Redemption, 2_000, 1_000),
            entry(EntryKind::Redemption, 1_000, 0),
        ]
    );
    assert_eq!(
        Ledger::from_entries(EUR, &written).unwrap().balance_minor(),
        0
    );
    assert_eq!(case.voucher.redeemed_quantity, 3);
    assert_eq!(case.counters.campaign_given_minor, 5_000);
}

#[test]
fn gift_credits_asked_exactly() {
    // (balance, order, credits asked, Ok((spent, balance after, total)) or
    // the refusal)
    type Row = (i64, &'static str, Credits, Result<(i64, i64, i64), Reason>);
    let rows: Vec<Row> = vec![
        (
            5_000,
            "100.00",
            Credits::Exactly(eur("30.00")),
            Ok((3_000, 2_000, 7_000)),
        ),
        (
            5_000,
            "100.00",
            Credits::Exactly(eur("50.00")),
            Ok((5_000, 0, 5_000)),
        ),
        // Capped at what the order owes.
        (
            5_000,
            "20.00",
            Credits::Exactly(eur("30.00")),
            Ok((2_000, 3_000, 0)),
        ),
        (
            5_000,
            "0.00",
            Credits::Exactly(eur("30.00")),
            Ok((0, 5_000, 0)),
        ),
        (5_000, "0.00", Credits::WhatIsOwed, Ok((0, 5_000, 0))),
        (5_000, "100.00", Credits::WhatIsOwed, Ok((5_000, 0, 5_000))),
        (
            5_000,
            "100.00",
            Credits::Exactly(eur("50.01")),
            Err(Reason::GiftAmountExceeded),
        ),
        (
            5_000,
            "10.00",
            Credits::Exactly(eur("60.00")),
            Err(Reason::GiftAmountExceeded),
        ),
        (
            0,
            "10.00",
            Credits::WhatIsOwed,
            Err(Reason::GiftAmountExceeded),
        ),
        (
            0,
            "10.00",
            Credits::Exactly(eur("1.00")),
            Err(Reason::GiftAmountExceeded),
        ),
        (
            0,
            "0.00",
            Credits::WhatIsOwed,
            Err(Reason::GiftAmountExceeded),
        ),
    ];
    for (balance, amount, credits, expected) in rows {
        let case = Case::new(card(balance))
            .with_order(order_of(amount))
            .with_credits(credits);
        let got = case.redeem().map(|r| {
            let Outcome::Gift {
                credits_minor,
                balance_after_minor,
                ..
            } = r.validation.outcome
            else {
                panic!("not a gift outcome");
            };
            assert_eq!(
                r.transition.ledger_entry.map(|e| e.balance_after_minor),
                (credits_minor > 0).then_some(balance_after_minor)
            );
            assert_eq!(r.transition.given_minor, credits_minor);
            (
                credits_minor,
                balance_after_minor,
                r.validation.order.totals().total_amount_minor,
            )
        });
        assert_eq!(
            got.map_err(|refusal| refusal.reason),
            expected,
            "{balance} {amount} {credits:?}"
        );
        if let Err(reason) = expected {
            check_refusal(&case, reason);
        }
    }
}

#[test]
fn gift_card_in_another_currency_is_refused() {
    let mut ledger = Ledger::new(Currency::JPY);
    ledger.append(EntryKind::Addition, 5_000).unwrap();
    let mut case = Case::new(voucher(Benefit::Gift(ledger)));
    case.voucher.quantity = RedemptionQuantity::Unlimited;
    check_refusal(&case, Reason::InvalidOrder);
}

// ---------------------------------------------------------------------------
// Rollbacks

#[test]
fn rollback_returns_the_use_and_the_credits_once() {
    let (ledger, mut written) = new_card_ledger(5_000);
    let mut case = Case::new(voucher(Benefit::Gift(ledger))).with_order(order_of("20.00"));
    case.voucher.quantity = RedemptionQuantity::Limited(1);
    let redemption = case.redeem().unwrap();
    written.extend(case.apply(&redemption.transition));
    assert_eq!(case.balance_minor(), 3_000);
    check_refusal(&case, Reason::QuantityExceeded);

    let back = rollback(&case.voucher, RedemptionStatus::Succeeded, 2_000, 2_000).unwrap();
    assert_eq!(
        back,
        RollbackTransition {
            redeemed_quantity_after: 0,
            ledger_entry: Some(Entry {
                kind: EntryKind::Refund,
                amount_minor: 2_000,
                balance_after_minor: 5_000,
            }),
            returned_minor: 2_000,
        }
    );
    written.extend(case.apply_rollback(&back));
    assert_eq!(case.balance_minor(), 5_000);
    assert_eq!(case.counters, Counters::default());
    assert_eq!(
        Ledger::from_entries(EUR, &written).unwrap().balance_minor(),
        5_000
    );
    // The use is back.
    assert!(case.redeem().is_ok());

    // Exactly once: the store marked it rolled back.
    assert_eq!(
        rollback(&case.voucher, RedemptionStatus::RolledBack, 2_000, 2_000),
        Err(RollbackError::AlreadyRolledBack)
    );
    assert_eq!(
        rollback(&case.voucher, RedemptionStatus::Failed, 0, 0),
        Err(RollbackError::NotSucceeded)
    );
}

#[test]
fn rollback_of_a_discount_returns_the_use_and_the_budget() {
    let mut case = Case::new(discount_voucher(amount_off("10.00", Effect::ApplyToOrder)));
    case.limits_mut().budget_max_minor = Some(1_000);
    let redemption = case.redeem().unwrap();
    case.apply(&redemption.transition);
    check_refusal(&case, Reason::RedemptionRulesViolated);
    let back = rollback(&case.voucher, RedemptionStatus::Succeeded, 0, 1_000).unwrap();
    assert_eq!(
        back,
        RollbackTransition {
            redeemed_quantity_after: 0,
            ledger_entry: None,
            returned_minor: 1_000,
        }
    );
    case.apply_rollback(&back);
    assert!(case.redeem().is_ok());
}

#[test]
fn rollback_refuses_stored_state_that_does_not_add_up() {
    let gift = card(5_000);
    let discount = discount_voucher(amount_off("10.00", Effect::ApplyToOrder));
    let mut used_gift = gift.clone();
    used_gift.redeemed_quantity = 1;
    let mut used_discount = discount.clone();
    used_discount.redeemed_quantity = 1;
    let inconsistent = |result: Result<RollbackTransition, RollbackError>| {
        matches!(result, Err(RollbackError::Inconsistent(_)))
    };
    // Nothing was redeemed.
    assert!(inconsistent(rollback(
        &gift,
        RedemptionStatus::Succeeded,
        0,
        0
    )));
    // Negative amounts.
    assert!(inconsistent(rollback(
        &used_gift,
        RedemptionStatus::Succeeded,
        -1,
        0
    )));
    assert!(inconsistent(rollback(
        &used_gift,
        RedemptionStatus::Succeeded,
        0,
        -1
    )));
    // Credits on a voucher without a ledger.
    assert!(inconsistent(rollback(
        &used_discount,
        RedemptionStatus::Succeeded,
        100,
        100
    )));
    // A refund past the engine's limit.
    assert!(inconsistent(rollback(
        &used_gift,
        RedemptionStatus::Succeeded,
        i64::MAX,
        0
    )));
    // The status decides before the state.
    assert_eq!(
        rollback(&gift, RedemptionStatus::RolledBack, -1, -1),
        Err(RollbackError::AlreadyRolledBack)
    );
}

// ---------------------------------------------------------------------------
// Properties

#[derive(Debug, Clone)]
enum Op {
    /// Redeem on an order of this amount, asking these exact credits (or
    /// what is owed).
    Redeem {
        amount_minor: i64,
        credits_minor: Option<i64>,
    },
    /// Roll back the stored redemption picked by this index (modulo).
    Rollback { pick: usize },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0i64..6_000, prop::option::of(1i64..4_000)).prop_map(|(amount_minor, credits_minor)| {
            Op::Redeem { amount_minor, credits_minor }
        }),
        2 => any::<usize>().prop_map(|pick| Op::Rollback { pick }),
    ]
}

/// A redemption as the store keeps it.
#[derive(Debug, Clone, Copy)]
struct Stored {
    status: RedemptionStatus,
    credits_minor: i64,
    given_minor: i64,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Any sequence of redemptions and rollbacks, each transition applied to
    /// an in-memory store, keeps the books: never more uses than the
    /// quantity or the campaign allows, never over budget, never a negative
    /// balance, the balance equal to the fold of the entries written, and
    /// the uses equal to the successful redemptions not rolled back.
    #[test]
    fn redemptions_and_rollbacks_keep_the_books(
        is_gift in any::<bool>(),
        initial_minor in 0i64..10_000,
        quantity in prop::option::of(0u64..6),
        budget in prop::option::of(0i64..20_000),
        redemptions_max in prop::option::of(0u64..8),
        ops in prop::collection::vec(op(), 0..40),
    ) {
        let (ledger, mut written) = new_card_ledger(initial_minor);
        if !is_gift {
            written.clear();
        }
        let mut case = Case::new(if is_gift {
            voucher(Benefit::Gift(ledger))
        } else {
            discount_voucher(amount_off("10.00", Effect::ApplyToOrder))
        });
        case.voucher.quantity = quantity.map_or(RedemptionQuantity::Unlimited, RedemptionQuantity::Limited);
        case.limits_mut().budget_max_minor = budget;
        case.limits_mut().redemptions_max = redemptions_max;
        let mut stored: Vec<Stored> = Vec::new();

        for op in ops {
            match op {
                Op::Redeem { amount_minor, credits_minor } => {
                    case.order = Order { amount: Some(minor(amount_minor)), ..Order::default() };
                    case.credits = credits_minor.map_or(Credits::WhatIsOwed, |c| Credits::Exactly(minor(c)));
                    let validated = case.validate();
                    let redeemed = case.redeem();
                    // Validate and redeem agree; same inputs, same outputs.
                    prop_assert_eq!(&validated, &redeemed.clone().map(|r| r.validation));
                    prop_assert_eq!(&redeemed, &case.redeem());
                    match redeemed {
                        Ok(redemption) => {
                            let t = &redemption.transition;
                            prop_assert_eq!(t.redeemed_quantity_after, case.voucher.redeemed_quantity + 1);
                            let credits = match redemption.validation.outcome {
                                Outcome::Gift { credits_minor, balance_after_minor, .. } => {
                                    prop_assert_eq!(balance_after_minor, case.balance_minor() - credits_minor);
                                    credits_minor
                                }
                                Outcome::Discount(_) => 0,
                            };
                            prop_assert_eq!(t.given_minor, redemption.validation.outcome.given_minor());
                            written.extend(case.apply(t));
                            stored.push(Stored { status: RedemptionStatus::Succeeded, credits_minor: credits, given_minor: t.given_minor });
                        }
                        Err(_) => stored.push(Stored { status: RedemptionStatus::Failed, credits_minor: 0, given_minor: 0 }),
                    }
                }
                Op::Rollback { pick } => {
                    if stored.is_empty() {
                        continue;
                    }
                    let index = pick % stored.len();
                    let s = stored[index];
                    let result = rollback(&case.voucher, s.status, s.credits_minor, s.given_minor);
                    match s.status {
                        RedemptionStatus::Succeeded => {
                            let back = result.unwrap();
                            prop_assert_eq!(back.returned_minor, s.given_minor);
                            written.extend(case.apply_rollback(&back));
                            stored[index].status = RedemptionStatus::RolledBack;
                        }
                        RedemptionStatus::RolledBack => prop_assert_eq!(result, Err(RollbackError::AlreadyRolledBack)),
                        RedemptionStatus::Failed => prop_assert_eq!(result, Err(RollbackError::NotSucceeded)),
                    }
                }
            }

            let live: Vec<&Stored> = stored.iter().filter(|s| s.status == RedemptionStatus::Succeeded).collect();
            let rolled_back = stored.iter().filter(|s| s.status == RedemptionStatus::RolledBack).count();
            let succeeded = live.len() + rolled_back;
            prop_assert_eq!(case.voucher.redeemed_quantity, (succeeded - rolled_back) as u64);
            if let Some(q) = quantity {
                prop_assert!(case.voucher.redeemed_quantity <= q);
            }
            if let Some(max) = redemptions_max {
                prop_assert!(case.counters.campaign_redemptions <= max);
            }
            let given: i64 = live.iter().map(|s| s.given_minor).sum();
            prop_assert_eq!(case.counters.campaign_given_minor, given);
            if let Some(budget) = budget {
                prop_assert!(given <= budget);
            }
            if is_gift {
                let balance = case.balance_minor();
                prop_assert!(balance >= 0);
                let fold = Ledger::from_entries(EUR, &written).unwrap().balance_minor();
                prop_assert_eq!(fold, balance);
                let spent: i64 = live.iter().map(|s| s.credits_minor).sum();
                prop_assert_eq!(balance, initial_minor - spent);
            } else {
                prop_assert!(written.is_empty());
            }
        }
    }
}

/// An amount in one of four currencies (mostly EUR), sometimes negative,
/// too precise for the currency, or at the engine's limit.
fn any_money() -> impl Strategy<Value = Money> {
    let currency = prop_oneof![
        30 => Just(EUR),
        1 => Just(Currency::USD),
        1 => Just(Currency::JPY),
        1 => Just(Currency::KWD),
    ];
    let mantissa = prop_oneof![
        16 => 0i64..100_000,
        1 => -100_000i64..0,
        1 => any::<i64>(),
    ];
    let scale = prop_oneof![16 => Just(2u32), 1 => 0u32..8];
    (currency, mantissa, scale).prop_map(|(currency, mantissa, scale)| {
        Money::unrounded(Decimal::new(mantissa, scale), currency).unwrap_or_else(|_| {
            // Past the limit: the largest amount there is.
            let max = Decimal::from(crate::limits::AMOUNT_MAJOR_MAX);
            Money::unrounded(if mantissa < 0 { -max } else { max }, currency).unwrap()
        })
    })
}

fn any_item() -> impl Strategy<Value = OrderItem> {
    let quantity = prop_oneof![
        8 => Just(None),
        1 => Just(Some(0)),
        8 => (1u64..5).prop_map(Some),
        1 => Just(Some(ITEM_QUANTITY_MAX)),
        1 => Just(Some(ITEM_QUANTITY_MAX + 1)),
        1 => any::<u64>().prop_map(Some),
    ];
    (
        prop::sample::select(vec!["p1", "p2", "p3"]),
        quantity,
        prop::option::of(any_money()),
        prop::option::of(any_money()),
    )
        .prop_map(|(product, quantity, price, amount)| OrderItem {
            product_id: Some(product.to_owned()),
            quantity,
            price,
            amount,
            ..OrderItem::default()
        })
}

fn any_order() -> impl Strategy<Value = Order> {
    (
        prop::option::of(any_money()),
        prop::collection::vec(any_item(), 0..4),
    )
        .prop_map(|(amount, items)| Order {
            amount,
            items,
            ..Order::default()
        })
}

fn any_credits() -> impl Strategy<Value = Credits> {
    prop_oneof![
        3 => Just(Credits::WhatIsOwed),
        1 => any_money().prop_map(Credits::Exactly),
    ]
}

/// Vouchers of every shape the random orders are tried on.
fn shapes() -> Vec<Voucher> {
    use Effect::*;
    vec![
        discount_voucher(amount_off("10.00", ApplyToOrder)),
        discount_voucher(amount_off("1.00", ApplyToItemsByQuantity)),
        discount_voucher(amount_off("10.00", ApplyToItemsProportionallyByQuantity)),
        discount_voucher(percent_off("12.5", Some("7.00"), ApplyToItems)),
        discount_voucher(fixed("3.00", ApplyToItems)),
        discount_voucher(unit(2, "p2", None, AddMissingItems)),
        discount_voucher(unit(
            ITEM_QUANTITY_MAX,
            "p9",
            Some("9999999.99"),
            AddNewItems,
        )),
        card(5_000),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// Random orders and credits never panic: a malformed order is refused
    /// with the reason of its own error, and an accepted one has totals that
    /// add up. Validate and redeem agree, and say the same twice.
    #[test]
    fn bad_input_is_refused_never_a_panic(order in any_order(), credits in any_credits()) {
        let problem = order.check(EUR).err().map(|e| Refusal::from(e).reason);
        for voucher in shapes() {
            let case = Case::new(voucher).with_order(order.clone()).with_credits(credits);
            let validated = case.validate();
            let redeemed = case.redeem();
            prop_assert_eq!(&validated, &redeemed.clone().map(|r| r.validation));
            prop_assert_eq!(&validated, &case.validate());
            match validated {
                Err(refusal) => {
                    if let Some(reason) = problem {
                        prop_assert_eq!(refusal.reason, reason);
                    }
                }
                Ok(validation) => {
                    prop_assert!(problem.is_none());
                    let t = validation.order.totals();
                    prop_assert!(t.total_amount_minor >= 0);
                    prop_assert!(t.total_discount_amount_minor >= 0);
                    prop_assert_eq!(t.total_amount_minor, t.amount_minor - t.total_discount_amount_minor);
                    prop_assert_eq!(validation.outcome.applied().totals(), t);
                }
            }
        }
    }
}
