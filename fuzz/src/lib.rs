//! What the request fuzz targets (`validate_request`, `redeem_request`)
//! share: how an input is split into the endpoint, path code, query and
//! body; a fixed catalogue of vouchers (every discount type and effect, a
//! rule, a gift card) to decide the decoded request on, in memory, as the
//! store would; and the checks on a decoded request and on a decided order.

use chrono::{DateTime, Utc};
use voucher_core::code_pattern::Code;
use voucher_core::decision::{Candidate, Checkout, Credits, Project};
use voucher_core::discount::{Discount, DiscountValue, Effect, OrderState, UnitProduct};
use voucher_core::ledger::{EntryKind, Ledger};
use voucher_core::money::{Currency, Money};
use voucher_core::order::Customer;
use voucher_core::port::{CheckoutMode, CheckoutRequest, CustomerSpec};
use voucher_core::rules::{RawRuleSet, RuleSet};
use voucher_core::stacking::StackEntry;
use voucher_core::validity::Validity;
use voucher_core::value::{Metadata, Value};
use voucher_core::voucher::{Activity, Benefit, Counters, RedemptionQuantity, Voucher};

/// The currencies an input may pick: two, zero and three decimals.
pub const CURRENCIES: [Currency; 4] = [Currency::EUR, Currency::JPY, Currency::KWD, Currency::USD];

/// One request as the fuzzer gives it: `flags`, then (for the legacy
/// endpoint) the path code up to the first newline, (for the redemption)
/// the query string up to the next newline, then the body.
#[derive(Debug)]
pub struct RequestInput<'a> {
    /// The project's currency.
    pub currency: Currency,
    /// `Some(code)` for the legacy endpoint of one code, `None` for the
    /// stacked one.
    pub code: Option<String>,
    /// The query string of a legacy redemption.
    pub query: String,
    /// The JSON body.
    pub body: &'a [u8],
}

/// The text before the first `\n` (lossily as UTF-8, as a path or query
/// would be decoded), and what follows it.
fn line(data: &[u8]) -> (String, &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => (
            String::from_utf8_lossy(&data[..at]).into_owned(),
            &data[at + 1..],
        ),
        None => (String::from_utf8_lossy(data).into_owned(), &[]),
    }
}

impl RequestInput<'_> {
    /// Splits `data`: byte 0 bit 0 picks the legacy endpoint, bits 1-2 the
    /// currency; `with_query` reads a query line after the code.
    pub fn split(data: &[u8], with_query: bool) -> Option<RequestInput<'_>> {
        let (&flags, rest) = data.split_first()?;
        let currency = CURRENCIES[usize::from(flags >> 1 & 3)];
        let legacy = flags & 1 == 1;
        let (code, rest) = match legacy {
            true => {
                let (code, rest) = line(rest);
                (Some(code), rest)
            }
            false => (None, rest),
        };
        let (query, body) = match legacy && with_query {
            true => line(rest),
            false => (String::new(), rest),
        };
        Some(RequestInput {
            currency,
            code,
            query,
            body,
        })
    }
}

/// The moment every decision is made at.
pub fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_750_000_000, 0).unwrap_or_default()
}

/// Checks what the decoder promises of a request it accepted.
pub fn check_request(request: &CheckoutRequest, input: &RequestInput<'_>) {
    match &input.code {
        Some(code) => {
            assert_eq!(request.mode, CheckoutMode::Legacy);
            assert_eq!(request.redeemables.len(), 1);
            assert_eq!(&request.redeemables[0].code, code);
        }
        None => assert_eq!(request.mode, CheckoutMode::Stacked),
    }
    assert_eq!(request.now, now());
    for redeemable in &request.redeemables {
        if let Some(credits) = redeemable.credits {
            assert_eq!(credits.currency(), input.currency, "credits {credits:?}");
        }
    }
    let order = &request.order;
    let amounts = order
        .items
        .iter()
        .flat_map(|item| [item.price, item.amount])
        .chain([order.amount])
        .flatten();
    for amount in amounts {
        assert_eq!(amount.currency(), input.currency, "amount {amount:?}");
    }
    check_metadata_round_trip(&request.metadata);
    check_metadata_round_trip(&order.metadata);
    for item in &order.items {
        check_metadata_round_trip(&item.metadata);
    }
    if let Some(customer) = &request.customer {
        check_metadata_round_trip(&customer.metadata);
    }
}

/// True when `stored`, metadata read back from its JSON, is `given`: the
/// same values, but for a number that JSON cannot carry exactly, which
/// comes back as its decimal text (the rules read both as numbers).
pub fn same_metadata_value(given: &Value, stored: &Value) -> bool {
    match (given, stored) {
        (Value::Number(n), Value::Text(t)) => t.parse::<rust_decimal::Decimal>().ok() == Some(*n),
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_metadata_value(a, b))
        }
        (Value::Map(a), Value::Map(b)) => {
            a.len() == b.len()
                && a.iter()
                    .zip(b)
                    .all(|((ka, a), (kb, b))| ka == kb && same_metadata_value(a, b))
        }
        (a, b) => a == b,
    }
}

/// Metadata as the store keeps it: written as JSON, read back. Reading
/// back must never fail (the store would call the row corrupt) and must
/// give the same values.
pub fn check_metadata_round_trip(metadata: &Metadata) {
    let json = serde_json::to_string(metadata).expect("metadata serialises");
    let stored: Metadata = serde_json::from_str(&json)
        .unwrap_or_else(|e| panic!("stored metadata {json} does not read back: {e}"));
    let given = Value::Map(metadata.clone());
    let stored = Value::Map(stored);
    assert!(
        same_metadata_value(&given, &stored),
        "metadata changed in store: {given:?} became {stored:?}"
    );
}

/// The customer as the store gives it to the rules: ids, metadata, and the
/// segments in `metadata.segments`.
pub fn customer_of(spec: Option<&CustomerSpec>) -> Customer {
    let Some(spec) = spec else {
        return Customer::default();
    };
    let segments = match spec.metadata.get("segments") {
        Some(Value::List(items)) => items
            .iter()
            .filter_map(|v| v.as_text().map(str::to_owned))
            .collect(),
        Some(Value::Text(one)) => vec![one.clone()],
        _ => Vec::new(),
    };
    Customer {
        id: spec.id.clone(),
        source_id: spec.source_id.clone(),
        metadata: spec.metadata.clone(),
        segments,
    }
}

/// The project of a decision.
pub fn project(currency: Currency) -> Project {
    Project::new(currency)
}

fn money(minor: i64, currency: Currency) -> Money {
    Money::from_minor(minor, currency).expect("catalogue amounts are in range")
}

fn voucher(code: &str, benefit: Benefit, rules: Vec<RuleSet>) -> Voucher {
    Voucher {
        code: Code::parse(code).expect("catalogue codes parse"),
        benefit,
        activity: Activity::Enabled,
        validity: Validity::default(),
        quantity: RedemptionQuantity::Limited(1_000),
        redeemed_quantity: 7,
        holder_id: None,
        published_at: None,
        active_after_publishing: None,
        rules,
    }
}

fn discount(value: DiscountValue, effect: Effect) -> Benefit {
    Benefit::Discount(Discount::new(value, effect).expect("catalogue discounts are valid"))
}

fn rules(json: &str) -> RuleSet {
    let raw: RawRuleSet = serde_json::from_str(json).expect("catalogue rules are JSON");
    RuleSet::parse(&raw).expect("catalogue rules parse")
}

/// The vouchers a request may name, in `currency`; any other code is
/// unknown (the store answers `resource_not_found` before deciding).
pub fn catalogue(currency: Currency) -> Vec<Voucher> {
    let m = |minor| money(minor, currency);
    let mut gift = Ledger::new(currency);
    gift.append(EntryKind::Addition, 10_000)
        .expect("a new card takes its value");
    let p1 = r#"{"applicable_to": {"included": [{"object": "product", "id": "p1"}]}}"#;
    let cheapest = r#"{"applicable_to": {"included": [
        {"object": "product", "id": "p1", "effect": "APPLY_TO_CHEAPEST", "quantity_limit": 2},
        {"object": "sku", "id": "s2", "amount_limit": 3}]}}"#;
    let rule = r#"{"rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [50]}},
        "2": {"name": "customer.segment", "conditions": {"$in": ["vip"]}},
        "3": {"name": "product.id", "conditions": {"$is": ["p1"]},
              "rules": {"1": {"name": "product.quantity", "conditions": {"$more_than": [1]}}}},
        "logic": "1 and (2 or 3)"}}"#;
    vec![
        voucher(
            "AMOUNT",
            discount(
                DiscountValue::Amount {
                    amount_off: m(1_000),
                },
                Effect::ApplyToOrder,
            ),
            Vec::new(),
        ),
        voucher(
            "PERCENT",
            discount(
                DiscountValue::Percent {
                    percent_off: 25.into(),
                    amount_limit: Some(m(2_000)),
                },
                Effect::ApplyToOrder,
            ),
            Vec::new(),
        ),
        voucher(
            "ITEMS",
            discount(
                DiscountValue::Percent {
                    percent_off: 15.into(),
                    amount_limit: None,
                },
                Effect::ApplyToItems,
            ),
            vec![rules(p1)],
        ),
        voucher(
            "CHEAPEST",
            discount(
                DiscountValue::Amount { amount_off: m(250) },
                Effect::ApplyToItems,
            ),
            vec![rules(cheapest)],
        ),
        voucher(
            "PROPORTIONAL",
            discount(
                DiscountValue::Amount { amount_off: m(500) },
                Effect::ApplyToItemsProportionally,
            ),
            Vec::new(),
        ),
        voucher(
            "BY-QUANTITY",
            discount(
                DiscountValue::Amount { amount_off: m(100) },
                Effect::ApplyToItemsProportionallyByQuantity,
            ),
            Vec::new(),
        ),
        voucher(
            "PER-UNIT",
            discount(
                DiscountValue::Amount { amount_off: m(30) },
                Effect::ApplyToItemsByQuantity,
            ),
            vec![rules(p1)],
        ),
        voucher(
            "FIXED",
            discount(
                DiscountValue::Fixed {
                    fixed_amount: m(3_000),
                },
                Effect::ApplyToOrder,
            ),
            Vec::new(),
        ),
        voucher(
            "FIXED-ITEMS",
            discount(
                DiscountValue::Fixed {
                    fixed_amount: m(150),
                },
                Effect::ApplyToItems,
            ),
            vec![rules(p1)],
        ),
        voucher(
            "UNIT",
            discount(
                DiscountValue::Unit {
                    unit_off: 2,
                    product: UnitProduct::new(Some("p1".to_owned()), None).expect("a unit product"),
                    price: Some(m(300)),
                },
                Effect::AddMissingItems,
            ),
            Vec::new(),
        ),
        voucher(
            "UNIT-NEW",
            discount(
                DiscountValue::Unit {
                    unit_off: 1,
                    product: UnitProduct::new(None, Some("s9".to_owned())).expect("a unit product"),
                    price: Some(m(999)),
                },
                Effect::AddNewItems,
            ),
            Vec::new(),
        ),
        voucher(
            "RULES",
            discount(
                DiscountValue::Amount { amount_off: m(500) },
                Effect::ApplyToOrder,
            ),
            vec![rules(rule)],
        ),
        voucher("GIFT", Benefit::Gift(gift), Vec::new()),
    ]
}

/// What the store would decide on: each requested code's voucher (unknown
/// codes left out, as the store refuses them before the engine), with the
/// request's credits.
pub fn entries<'a>(
    request: &CheckoutRequest,
    vouchers: &'a [Voucher],
) -> Vec<(StackEntry<'a>, Option<Money>)> {
    request
        .redeemables
        .iter()
        .filter_map(|r| {
            let voucher = vouchers.iter().find(|v| v.code.as_str() == r.code)?;
            let credits = match r.credits {
                Some(money) => Credits::Exactly(money),
                None => Credits::WhatIsOwed,
            };
            Some((
                StackEntry {
                    candidate: Candidate {
                        voucher,
                        campaign: None,
                        counters: Counters::default(),
                    },
                    credits,
                },
                r.credits,
            ))
        })
        .collect()
}

/// The checkout of a request.
pub fn checkout<'a>(request: &'a CheckoutRequest, customer: &'a Customer) -> Checkout<'a> {
    Checkout {
        order: &request.order,
        customer,
        now: request.now,
    }
}

/// The invariants of a running order: no line and no order discounted
/// below zero, the totals adding up, free units only on top.
pub fn check_order(state: &OrderState) {
    let totals = state.totals();
    assert!(totals.discount_amount_minor >= 0, "{totals:?}");
    assert!(totals.items_discount_amount_minor >= 0, "{totals:?}");
    assert_eq!(
        totals.total_discount_amount_minor,
        totals.discount_amount_minor + totals.items_discount_amount_minor
    );
    if let Some(amount) = state.amount_minor() {
        assert!(amount >= 0, "{totals:?}");
        assert!(
            totals.total_amount_minor >= 0,
            "discounted below zero: {totals:?}"
        );
        assert_eq!(
            totals.total_amount_minor,
            amount - totals.total_discount_amount_minor
        );
        assert_eq!(state.remaining_minor(), Some(totals.total_amount_minor));
    }
    let mut items_discount = 0i64;
    for line in state.lines() {
        assert!(line.amount_minor() >= 0, "{line:?}");
        assert!(line.discount_amount_minor() >= 0, "{line:?}");
        assert!(line.order_discount_share_minor() >= 0, "{line:?}");
        assert!(
            line.remaining_minor() >= 0,
            "line discounted below zero: {line:?}"
        );
        assert!(line.quantity() >= line.initial_quantity(), "{line:?}");
        items_discount += line.discount_amount_minor();
    }
    assert_eq!(
        items_discount, totals.items_discount_amount_minor,
        "{state:?}"
    );
    let shares: i64 = state
        .lines()
        .iter()
        .map(|line| line.order_discount_share_minor())
        .sum();
    assert!(state.unallocated_minor() >= 0, "{state:?}");
    assert_eq!(
        shares + state.unallocated_minor(),
        totals.discount_amount_minor,
        "order-level discount not accounted for: {state:?}"
    );
}
