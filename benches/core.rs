//! Decision speed: how many validations (and redemptions) of one code with
//! three validation rules the engine makes per second on a 10-line order
//! (`cargo bench --bench core`). The parts of a decision are measured in the
//! same run, so that ratios against them can be quoted: `Order::check` alone
//! (the trivial baseline), the three rule evaluations, and the discount
//! computation on an already checked order. A variant of the order without
//! SKU ids and categories shows what copying the order's strings costs.

use std::collections::BTreeMap;
use std::hint::black_box;

use chrono::{DateTime, Utc};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use voucher_core::code_pattern::Code;
use voucher_core::decision::{self, Candidate, Checkout, Credits, Project};
use voucher_core::discount::{self, Discount, DiscountValue, Effect, OrderState};
use voucher_core::money::{Currency, Money};
use voucher_core::order::{Customer, Order, OrderItem};
use voucher_core::rules::{RawRule, RawRuleSet, RawRules, RuleFacts, RuleSet};
use voucher_core::validity::{parse_time_zone, Moment, Validity};
use voucher_core::value::{Metadata, Value};
use voucher_core::voucher::{
    Activity, Benefit, Campaign, CampaignKind, CampaignLimits, CampaignType, Counters,
    RedemptionQuantity, Voucher,
};

const LINES: usize = 10;

/// A rule on `name` with one condition.
fn rule(name: &str, condition: &str, values: Vec<Value>) -> RawRule {
    RawRule {
        name: name.to_owned(),
        conditions: BTreeMap::from([(condition.to_owned(), values)]),
        ..RawRule::default()
    }
}

/// A rule set of one numbered rule.
fn rule_set(rule: RawRule) -> RuleSet {
    let raw = RawRuleSet {
        rules: RawRules {
            logic: Some("1".to_owned()),
            rules: BTreeMap::from([("1".to_owned(), rule)]),
        },
        ..RawRuleSet::default()
    };
    RuleSet::parse(&raw).expect("a valid rule set")
}

/// The three rule sets: the order amount is above 50.00; some line of
/// product `p7` has at least two units; the customer is in segment `vip`.
fn rule_sets() -> Vec<RuleSet> {
    let mut item_rule = rule("product.id", "$is", vec![Value::from("p7")]);
    item_rule.rules = RawRules {
        logic: Some("1".to_owned()),
        rules: BTreeMap::from([(
            "1".to_owned(),
            rule(
                "product.quantity",
                "$more_than_or_equal",
                vec![Value::from(2)],
            ),
        )]),
    };
    vec![
        rule_set(rule("order.amount", "$more_than", vec![Value::from(50)])),
        rule_set(item_rule),
        rule_set(rule(
            "customer.segment",
            "$in",
            vec![Value::from("vip"), Value::from("staff")],
        )),
    ]
}

/// Ten lines of 1 to 3 units at 3.99 to 39.99; line 7 (`p7`) has 2 units.
fn order() -> Order {
    let items = (0..LINES)
        .map(|i| OrderItem {
            product_id: Some(format!("p{i}")),
            sku_id: Some(format!("sku-{i}")),
            quantity: Some(1 + (i as u64) % 3),
            price: Some(
                Money::parse(&format!("{}.99", 3 + 4 * i), Currency::EUR).expect("a price"),
            ),
            categories: vec!["coffee".to_owned()],
            ..OrderItem::default()
        })
        .collect();
    Order {
        id: Some("order-1".to_owned()),
        items,
        ..Order::default()
    }
}

fn bench_core(c: &mut Criterion) {
    let mut project = Project::new(Currency::EUR);
    project.time_zone = parse_time_zone("Europe/Warsaw").expect("a zone");
    let campaign = Campaign {
        name: "spring".to_owned(),
        campaign_type: CampaignType::DiscountCoupons,
        kind: CampaignKind::Static,
        activity: Activity::Enabled,
        validity: Validity {
            start: Some(Moment::parse("2025-03-01").expect("a date")),
            expiration: Some(Moment::parse("2025-03-31").expect("a date")),
            ..Validity::default()
        },
        time_zone: None,
        rules: rule_sets(),
        limits: CampaignLimits {
            redemptions_max: Some(1_000_000),
            per_customer_max: Some(5),
            budget_max_minor: Some(100_000_000),
        },
        categories: Vec::new(),
    };
    // 10% off the order, at most 20.00, shared out over the ten lines.
    let discount = Discount::new(
        DiscountValue::Percent {
            percent_off: 10.into(),
            amount_limit: Some(Money::parse("20.00", Currency::EUR).expect("money")),
        },
        Effect::ApplyToOrder,
    )
    .expect("a discount");
    let voucher = Voucher {
        code: Code::parse("SPRING-7K3M-Q9XD").expect("a code"),
        benefit: Benefit::Discount(discount.clone()),
        activity: Activity::Enabled,
        validity: Validity::default(),
        quantity: RedemptionQuantity::Limited(1),
        redeemed_quantity: 0,
        holder_id: None,
        published_at: None,
        active_after_publishing: None,
        rules: Vec::new(),
    };
    let candidate = Candidate {
        voucher: &voucher,
        campaign: Some(&campaign),
        counters: Counters::default(),
    };
    let customer = Customer {
        source_id: Some("alice@example.com".to_owned()),
        segments: vec!["newsletter".to_owned(), "vip".to_owned()],
        ..Customer::default()
    };
    let order = order();
    let now: DateTime<Utc> = "2025-03-14T11:00:00Z".parse().expect("an instant");
    let checkout = Checkout {
        order: &order,
        customer: &customer,
        now,
    };

    // The decision must succeed, or the bench measures a refusal.
    let validation = decision::validate(&project, &candidate, &checkout, Credits::WhatIsOwed)
        .expect("the code is valid on the order");
    assert!(validation.outcome.given_minor() > 0, "a discount is given");

    let checked = order.check(Currency::EUR).expect("a valid order");
    let metadata = Metadata::new();
    let facts = RuleFacts {
        order: &checked,
        order_metadata: &metadata,
        customer: &customer,
        customer_redemptions: 0,
        campaign_redemptions: 0,
        campaign_given_minor: 0,
    };
    let state = OrderState::new(checked.clone()).expect("an order state");

    // The same order without SKU ids and categories: a third of the strings
    // to copy, to show what copying the order costs.
    let mut lean = order.clone();
    for item in &mut lean.items {
        item.sku_id = None;
        item.categories.clear();
    }
    let lean_checkout = Checkout {
        order: &lean,
        ..checkout
    };

    let mut group = c.benchmark_group("core");
    group.throughput(Throughput::Elements(1));
    group.bench_function("validate+apply, 3 rules, 10 lines", |b| {
        b.iter(|| {
            decision::validate(
                black_box(&project),
                black_box(&candidate),
                black_box(&checkout),
                Credits::WhatIsOwed,
            )
        })
    });
    group.bench_function("redeem, 3 rules, 10 lines", |b| {
        b.iter(|| {
            decision::redeem(
                black_box(&project),
                black_box(&candidate),
                black_box(&checkout),
                Credits::WhatIsOwed,
            )
        })
    });
    group.bench_function("validate+apply, 10 lines of product ids only", |b| {
        b.iter(|| {
            decision::validate(
                black_box(&project),
                black_box(&candidate),
                black_box(&lean_checkout),
                Credits::WhatIsOwed,
            )
        })
    });
    group.bench_function("baseline: Order::check, 10 lines", |b| {
        b.iter(|| black_box(&order).check(Currency::EUR))
    });
    group.bench_function("part: evaluate the 3 rule sets", |b| {
        b.iter(|| {
            campaign
                .rules
                .iter()
                .all(|set| set.evaluate(black_box(&facts)).is_ok())
        })
    });
    group.bench_function("part: OrderState::new + discount::apply", |b| {
        b.iter(|| {
            let state = OrderState::new(black_box(&checked).clone()).expect("an order state");
            discount::apply(black_box(&discount), &state, None)
        })
    });
    group.bench_function("part: discount::apply on a ready state", |b| {
        b.iter(|| discount::apply(black_box(&discount), black_box(&state), None))
    });
    group.finish();
}

criterion_group!(benches, bench_core);
criterion_main!(benches);
