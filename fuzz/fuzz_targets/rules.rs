//! The validation-rule parser and evaluator (`voucher_core::rules`).
//!
//! The input is one JSON document:
//! `{"rules": <rule set in the wire shape>, "logic": "<expression>",
//!   "order": {...}, "customer": {...}, "counters": [c, n, given]}`
//! (every field optional; amounts in minor units). A rule set that parses
//! is evaluated on the order (when `Order::check` accepts it) and the
//! customer; the checks:
//! - evaluation is deterministic, and a violation names a rule that exists
//!   at the top level, with its path starting there;
//! - the rule set's raw form, through JSON and back, parses to a set that
//!   evaluates the same way;
//! - `applicable_to` targets point at lines of the order, once each;
//! - a `logic` expression that parses prints as one that parses to the same
//!   truth table on the rules it mentions, and `blame` names a false rule
//!   it mentions whenever it is false.
#![no_main]

use std::collections::BTreeSet;

use libfuzzer_sys::fuzz_target;
use serde::Deserialize;
use voucher_core::limits::RULES_PER_SET_MAX;
use voucher_core::money::{Currency, Money};
use voucher_core::order::{Customer, Order, OrderItem};
use voucher_core::rules::{Logic, RawRuleSet, RuleFacts, RuleSet};
use voucher_core::value::Metadata;

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Input {
    rules: Option<RawRuleSet>,
    logic: Option<String>,
    order: InputOrder,
    customer: InputCustomer,
    counters: (u64, u64, i64),
    /// `EUR` unless given (`JPY`, `KWD` change the minor unit).
    currency: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InputOrder {
    id: Option<String>,
    amount: Option<i64>,
    items: Vec<InputItem>,
    metadata: Metadata,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InputCustomer {
    id: Option<String>,
    source_id: Option<String>,
    metadata: Metadata,
    segments: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct InputItem {
    product_id: Option<String>,
    sku_id: Option<String>,
    quantity: Option<u64>,
    price: Option<i64>,
    amount: Option<i64>,
    categories: Vec<String>,
    metadata: Metadata,
}

fn money(minor: Option<i64>, currency: Currency) -> Option<Option<Money>> {
    match minor {
        None => Some(None),
        Some(minor) => Money::from_minor(minor, currency).ok().map(Some),
    }
}

fn order_of(input: &InputOrder, currency: Currency) -> Option<Order> {
    let mut items = Vec::with_capacity(input.items.len());
    for item in &input.items {
        items.push(OrderItem {
            product_id: item.product_id.clone(),
            sku_id: item.sku_id.clone(),
            quantity: item.quantity,
            price: money(item.price, currency)?,
            amount: money(item.amount, currency)?,
            categories: item.categories.clone(),
            metadata: item.metadata.clone(),
        });
    }
    Some(Order {
        id: input.id.clone(),
        amount: money(input.amount, currency)?,
        items,
        metadata: input.metadata.clone(),
    })
}

fn check_logic(text: &str) {
    let Ok(logic) = Logic::parse(text) else {
        return;
    };
    let printed = logic.to_string();
    let again = Logic::parse(&printed)
        .unwrap_or_else(|e| panic!("{text:?} printed as {printed:?}, which fails: {e}"));
    let mentioned = logic.mentioned();
    assert_eq!(again.mentioned(), mentioned, "{text:?} / {printed:?}");
    // A few truth assignments over the mentioned rules.
    let masks = [
        0,
        u64::MAX,
        0x5555_5555_5555_5555,
        0xAAAA_AAAA_AAAA_AAAA,
        mentioned & 0x0F0F_0F0F_0F0F_0F0F,
        mentioned.wrapping_mul(0x9E37_79B9_7F4A_7C15),
    ];
    for truth in masks {
        let value = logic.eval_mask(truth);
        assert_eq!(again.eval_mask(truth), value, "{text:?} / {printed:?}");
        let mut via_closure = |n: voucher_core::rules::RuleNumber| truth >> (n.get() - 1) & 1 == 1;
        assert_eq!(logic.eval(&mut via_closure), value);
        match logic.blame(truth) {
            Some(rule) => {
                assert!(!value, "{text:?} blames {rule} though it holds");
                let bit = 1u64 << (rule.get() - 1);
                assert!(mentioned & bit != 0, "{text:?} blames {rule}, unmentioned");
                assert!(truth & bit == 0, "{text:?} blames {rule}, which holds");
            }
            None => assert!(value, "{text:?} is false and blames no rule"),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(input) = serde_json::from_slice::<Input>(data) else {
        return;
    };
    if let Some(text) = &input.logic {
        check_logic(text);
    }
    let Some(raw) = &input.rules else {
        return;
    };
    let Ok(set) = RuleSet::parse(raw) else {
        return;
    };
    assert!(set.rule_count() <= RULES_PER_SET_MAX);
    if let Some(logic) = set.logic() {
        check_logic(&logic.to_string());
    }

    // The raw form through JSON parses to an equivalent set.
    let json = serde_json::to_string(set.raw()).expect("a raw rule set serialises");
    let raw_again: RawRuleSet = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("the raw form {json} does not read back: {e}"));
    let set_again = RuleSet::parse(&raw_again)
        .unwrap_or_else(|e| panic!("the raw form {json} no longer parses: {e}"));
    assert_eq!(set_again.rule_count(), set.rule_count());
    assert_eq!(set_again.needs_customer(), set.needs_customer());

    let currency = match input.currency.as_deref() {
        None => Currency::EUR,
        Some(code) => match Currency::parse(code) {
            Ok(currency) => currency,
            Err(_) => return,
        },
    };
    let Some(order) = order_of(&input.order, currency) else {
        return;
    };
    let Ok(checked) = order.check(currency) else {
        return;
    };
    let customer = Customer {
        id: input.customer.id,
        source_id: input.customer.source_id,
        metadata: input.customer.metadata,
        segments: input.customer.segments,
    };
    if customer.check().is_err() {
        return;
    }
    let (customer_redemptions, campaign_redemptions, campaign_given_minor) = input.counters;
    let facts = RuleFacts {
        order: &checked,
        order_metadata: &order.metadata,
        customer: &customer,
        customer_redemptions,
        campaign_redemptions,
        campaign_given_minor,
    };
    let result = set.evaluate(&facts);
    assert_eq!(
        set.evaluate(&facts),
        result,
        "evaluation is not deterministic"
    );
    assert_eq!(
        set_again.evaluate(&facts),
        result,
        "the JSON round trip {json} changed the evaluation"
    );
    if let Err(violation) = &result {
        let path = violation.path.numbers();
        assert_eq!(path.first(), Some(&violation.rule), "{violation:?}");
        let top = set
            .logic()
            .expect("a violation needs rules, and rules have a logic");
        assert!(
            top.mentioned() >> (violation.rule.get() - 1) & 1 == 1,
            "{violation:?} blames a rule the logic does not mention"
        );
    }

    if let Some(targets) = set.targets(&checked) {
        let mut lines = BTreeSet::new();
        for target in &targets {
            assert!(target.line < checked.lines.len(), "{target:?}");
            assert!(lines.insert(target.line), "line {} twice", target.line);
            if let Some(limit) = target.amount_limit_minor {
                assert!(limit >= 0, "{target:?}");
            }
        }
    }
});
