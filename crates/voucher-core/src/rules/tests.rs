//! Tests of rule sets: every condition on every kind of property, nesting,
//! blame and messages, parse errors, and properties of the whole.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::money::Currency;
use crate::value::Value;

/// The facts of the tests, owned.
struct World {
    order: CheckedOrder<'static>,
    order_metadata: Metadata,
    customer: Customer,
    customer_redemptions: u64,
    campaign_redemptions: u64,
    campaign_given_minor: i64,
}

impl World {
    fn facts(&self) -> RuleFacts<'_> {
        RuleFacts {
            order: &self.order,
            order_metadata: &self.order_metadata,
            customer: &self.customer,
            customer_redemptions: self.customer_redemptions,
            campaign_redemptions: self.campaign_redemptions,
            campaign_given_minor: self.campaign_given_minor,
        }
    }
}

fn line(
    product: Option<&str>,
    sku: Option<&str>,
    quantity: u64,
    price_minor: Option<i64>,
    amount_minor: i64,
    categories: &[&str],
) -> Line<'static> {
    Line {
        product_id: product.map(|p| p.to_owned().into()),
        sku_id: sku.map(|s| s.to_owned().into()),
        quantity,
        price_minor,
        amount_minor,
        categories: categories
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .into(),
        source_index: None,
    }
}

fn value(json: &serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(*b),
        serde_json::Value::Number(n) => {
            Value::Number(rust_decimal::Decimal::from_str_exact(&n.to_string()).unwrap())
        }
        serde_json::Value::String(s) => Value::Text(s.clone()),
        serde_json::Value::Array(list) => Value::List(list.iter().map(value).collect()),
        serde_json::Value::Object(_) => panic!("no objects in metadata"),
    }
}

fn metadata(json: serde_json::Value) -> Metadata {
    json.as_object()
        .unwrap()
        .iter()
        .map(|(key, v)| (key.clone(), value(v)))
        .collect()
}

/// The order of most tests (EUR, 65.50):
/// 0: p1/s1, 3 x 10.00 = 30.00, shoes + sale
/// 1: p2/s2, 1 x 25.50 = 25.50, hats
/// 2: p3, no SKU, 2 units, no price, 10.00, no category
fn world() -> World {
    let mut lines = vec![
        line(
            Some("p1"),
            Some("s1"),
            3,
            Some(1000),
            3000,
            &["shoes", "sale"],
        ),
        line(Some("p2"), Some("s2"), 1, Some(2550), 2550, &["hats"]),
        line(Some("p3"), None, 2, None, 1000, &[]),
    ];
    for (index, line) in lines.iter_mut().enumerate() {
        line.source_index = Some(index);
    }
    World {
        order: CheckedOrder {
            currency: Currency::EUR,
            amount_minor: Some(6550),
            lines,
        },
        order_metadata: metadata(json!({
            "location": "Santorini", "floor": 3, "tags": ["a", "b", "c"], "vip": true,
            "code": "AB-123", "ratio": "2.5",
        })),
        customer: Customer {
            id: Some("cust_1".into()),
            source_id: None,
            metadata: metadata(json!({"tier": "gold", "age": 42, "langs": ["en", "pl"]})),
            segments: vec!["vip".into(), "new".into()],
        },
        customer_redemptions: 0,
        campaign_redemptions: 9,
        campaign_given_minor: 12_345,
    }
}

fn raw(set: serde_json::Value) -> RawRuleSet {
    serde_json::from_value(set).unwrap()
}

fn parse(set: serde_json::Value) -> RuleSet {
    let raw = raw(set.clone());
    RuleSet::parse(&raw).unwrap_or_else(|e| panic!("{set}: {e}"))
}

/// A one-rule set; `name` may carry a metadata key as `order.metadata:key`.
fn one_rule(name: &str, conditions: serde_json::Value) -> serde_json::Value {
    let (name, key) = match name.split_once(':') {
        Some((name, key)) => (name, Some(key)),
        None => (name, None),
    };
    json!({"rules": {"1": {"name": name, "property": key, "conditions": conditions}}})
}

/// Checks one rule on the default world.
fn check_rule(name: &str, conditions: serde_json::Value, expected: bool) {
    let set = parse(one_rule(name, conditions.clone()));
    assert_eq!(
        set.evaluate(&world().facts()).is_ok(),
        expected,
        "{name} {conditions}"
    );
}

fn path(numbers: &[u32]) -> RulePath {
    RulePath(
        numbers
            .iter()
            .map(|n| RuleNumber::new(*n).unwrap())
            .collect(),
    )
}

/// Checks a whole rule set on a world: `Ok`, or the category, blame path
/// and message of the violation.
fn check(
    set: serde_json::Value,
    world: &World,
    expected: Result<(), (RuleCategory, &[u32], Option<&str>)>,
) {
    let result = parse(set.clone()).evaluate(&world.facts());
    let expected = expected.map_err(|(category, numbers, message)| RuleViolation {
        category,
        rule: RuleNumber::new(numbers[0]).unwrap(),
        path: path(numbers),
        message: message.map(str::to_owned),
    });
    assert_eq!(result, expected, "{set}");
}

fn check_error(set: serde_json::Value, expected: RuleError) {
    assert_eq!(RuleSet::parse(&raw(set.clone())), Err(expected), "{set}");
}

#[test]
fn numbers_of_the_order() {
    check_rule("order.amount", json!({"$is": [65.5]}), true);
    check_rule("order.amount", json!({"$is": [65.50, 1]}), true);
    check_rule("order.amount", json!({"$is": [65]}), false);
    check_rule("order.amount", json!({"$is_not": [65.5]}), false);
    check_rule("order.amount", json!({"$is_not": [65]}), true);
    check_rule("order.amount", json!({"$in": [1, 65.5]}), true);
    check_rule("order.amount", json!({"$not_in": [1, 2]}), true);
    check_rule("order.amount", json!({"$not_in": [65.5]}), false);
    check_rule("order.amount", json!({"$less_than": [65.5]}), false);
    check_rule("order.amount", json!({"$less_than": [65.51]}), true);
    check_rule("order.amount", json!({"$less_than_or_equal": [65.5]}), true);
    check_rule(
        "order.amount",
        json!({"$less_than_or_equal": [65.49]}),
        false,
    );
    check_rule("order.amount", json!({"$more_than": [65.49]}), true);
    check_rule("order.amount", json!({"$more_than": [65.5]}), false);
    check_rule("order.amount", json!({"$more_than_or_equal": [65.5]}), true);
    check_rule(
        "order.amount",
        json!({"$more_than_or_equal": [65.51]}),
        false,
    );
    check_rule("order.amount", json!({"$more_than": ["60"]}), true);
    // All conditions of a rule must hold.
    check_rule(
        "order.amount",
        json!({"$more_than": [60], "$less_than": [70]}),
        true,
    );
    check_rule(
        "order.amount",
        json!({"$more_than": [60], "$less_than": [65]}),
        false,
    );
    check_rule("order.items.count", json!({"$is": [3]}), true);
    check_rule("order.items.count", json!({"$more_than": [2]}), true);
    check_rule("order.items.count", json!({"$less_than": [3]}), false);
    check_rule("order.items.quantity", json!({"$is": [6]}), true);
    check_rule(
        "order.items.quantity",
        json!({"$more_than_or_equal": [7]}),
        false,
    );
    check_rule(
        "order.items.quantity",
        json!({"$less_than_or_equal": [6]}),
        true,
    );
}

#[test]
fn money_compares_in_major_units_of_the_currency() {
    let mut yen = world();
    yen.order.currency = Currency::JPY;
    yen.order.amount_minor = Some(1500);
    let set = |conditions| parse(one_rule("order.amount", conditions));
    assert!(set(json!({"$is": [1500]})).evaluate(&yen.facts()).is_ok());
    let mut dinar = world();
    dinar.order.currency = Currency::KWD;
    dinar.order.amount_minor = Some(1500);
    assert!(set(json!({"$is": [1.5]})).evaluate(&dinar.facts()).is_ok());
    // An order without an amount fails every condition but the negative ones.
    let mut unknown = world();
    unknown.order.amount_minor = None;
    assert!(set(json!({"$less_than": [1000]}))
        .evaluate(&unknown.facts())
        .is_err());
    assert!(set(json!({"$is_not": [1]}))
        .evaluate(&unknown.facts())
        .is_ok());
}

#[test]
fn order_metadata() {
    let m = |key: &str| format!("order.metadata:{key}");
    check_rule(&m("location"), json!({"$is": ["Santorini"]}), true);
    check_rule(&m("location"), json!({"$is": ["santorini"]}), false);
    check_rule(&m("location"), json!({"$is_not": ["Mykonos"]}), true);
    check_rule(
        &m("location"),
        json!({"$in": ["Mykonos", "Santorini"]}),
        true,
    );
    check_rule(&m("location"), json!({"$not_in": ["Santorini"]}), false);
    check_rule(&m("location"), json!({"$starts_with": ["San"]}), true);
    check_rule(
        &m("location"),
        json!({"$starts_with": ["Mar", "Sant"]}),
        true,
    );
    check_rule(&m("location"), json!({"$ends_with": ["ini"]}), true);
    check_rule(&m("location"), json!({"$ends_with": ["San"]}), false);
    check_rule(&m("location"), json!({"$contains": ["tor"]}), true);
    check_rule(&m("location"), json!({"$contains": ["x"]}), false);
    check_rule(&m("location"), json!({"$count": [1]}), true);
    check_rule(&m("location"), json!({"$more_than": [1]}), false);
    check_rule(&m("floor"), json!({"$is": [3]}), true);
    check_rule(&m("floor"), json!({"$is": ["3"]}), true);
    check_rule(&m("floor"), json!({"$is": ["3.0"]}), true);
    check_rule(&m("floor"), json!({"$is": [4]}), false);
    check_rule(&m("floor"), json!({"$more_than": [2]}), true);
    check_rule(&m("floor"), json!({"$less_than": [3]}), false);
    check_rule(&m("floor"), json!({"$less_than_or_equal": [3]}), true);
    check_rule(&m("floor"), json!({"$more_than_or_equal": [3.5]}), false);
    check_rule(&m("floor"), json!({"$starts_with": ["3"]}), false);
    check_rule(&m("ratio"), json!({"$more_than": [2]}), true);
    check_rule(&m("ratio"), json!({"$is": [2.5]}), true);
    check_rule(
        &m("code"),
        json!({"$starts_with": ["AB-"], "$ends_with": ["123"]}),
        true,
    );
    check_rule(&m("tags"), json!({"$is": ["b"]}), true);
    check_rule(&m("tags"), json!({"$is": ["x"]}), false);
    check_rule(&m("tags"), json!({"$is_not": ["b"]}), false);
    check_rule(&m("tags"), json!({"$not_in": ["x", "y"]}), true);
    check_rule(&m("tags"), json!({"$contains": ["c"]}), true);
    check_rule(&m("tags"), json!({"$count": [3]}), true);
    check_rule(&m("tags"), json!({"$count": [2]}), false);
    check_rule(&m("tags"), json!({"$count_more": [2]}), true);
    check_rule(&m("tags"), json!({"$count_more": [3]}), false);
    check_rule(&m("tags"), json!({"$count_less": [3]}), false);
    check_rule(&m("tags"), json!({"$count_less": [4]}), true);
    check_rule(&m("vip"), json!({"$is": [true]}), true);
    check_rule(&m("vip"), json!({"$is": [false]}), false);
    check_rule(&m("vip"), json!({"$is": ["true"]}), false);
    check_rule(&m("vip"), json!({"$is_not": [false]}), true);
    // A missing key.
    check_rule(&m("missing"), json!({"$is": ["x"]}), false);
    check_rule(&m("missing"), json!({"$is_not": ["x"]}), true);
    check_rule(&m("missing"), json!({"$not_in": ["x"]}), true);
    check_rule(&m("missing"), json!({"$more_than": [0]}), false);
    check_rule(&m("missing"), json!({"$less_than": [0]}), false);
    check_rule(&m("missing"), json!({"$starts_with": [""]}), false);
    check_rule(&m("missing"), json!({"$count": [0]}), true);
    check_rule(&m("missing"), json!({"$count_less": [1]}), true);
}

#[test]
fn customer_metadata_and_segments() {
    check_rule("customer.metadata:tier", json!({"$is": ["gold"]}), true);
    check_rule(
        "customer.metadata:tier",
        json!({"$in": ["silver", "bronze"]}),
        false,
    );
    check_rule(
        "customer.metadata:age",
        json!({"$more_than_or_equal": [18]}),
        true,
    );
    check_rule("customer.metadata:age", json!({"$less_than": [18]}), false);
    check_rule("customer.metadata:langs", json!({"$in": ["pl"]}), true);
    check_rule("customer.metadata:langs", json!({"$count": [2]}), true);
    check_rule("customer.segment", json!({"$is": ["vip"]}), true);
    check_rule("customer.segment", json!({"$is": ["gold"]}), false);
    check_rule("customer.segment", json!({"$is_not": ["banned"]}), true);
    check_rule("customer.segment", json!({"$is_not": ["vip"]}), false);
    check_rule("customer.segment", json!({"$in": ["x", "new"]}), true);
    check_rule("customer.segment", json!({"$not_in": ["vip"]}), false);
    check_rule("customer.segment", json!({"$not_in": ["x", "y"]}), true);
    check_rule("customer.segment", json!({"$starts_with": ["ne"]}), true);
    check_rule("customer.segment", json!({"$ends_with": ["ip"]}), true);
    check_rule("customer.segment", json!({"$ends_with": ["x"]}), false);
    check_rule("customer.segment", json!({"$contains": ["i"]}), true);
    check_rule("customer.segment", json!({"$count": [2]}), true);
    check_rule("customer.segment", json!({"$count_more": [2]}), false);
    check_rule("customer.segment", json!({"$count_less": [3]}), true);
    let mut anonymous = world();
    anonymous.customer = Customer::default();
    let set = parse(one_rule("customer.segment", json!({"$is": ["vip"]})));
    assert!(set.evaluate(&anonymous.facts()).is_err());
    let set = parse(one_rule("customer.segment", json!({"$count": [0]})));
    assert!(set.evaluate(&anonymous.facts()).is_ok());
}

#[test]
fn item_identifiers_speak_of_the_lines() {
    check_rule("product.id", json!({"$is": ["p1"]}), true);
    check_rule("product.id", json!({"$is": ["p9"]}), false);
    check_rule("product.id", json!({"$in": ["p9", "p2"]}), true);
    check_rule("product.id", json!({"$is_not": ["p9"]}), true);
    check_rule("product.id", json!({"$is_not": ["p1"]}), false);
    check_rule("product.id", json!({"$not_in": ["p8", "p2"]}), false);
    check_rule("product.id", json!({"$not_in": ["p8"]}), true);
    check_rule("product.id", json!({"$starts_with": ["p"]}), true);
    check_rule("product.id", json!({"$ends_with": ["3"]}), true);
    check_rule("product.id", json!({"$contains": ["9"]}), false);
    check_rule("product.id", json!({"$count": [3]}), true);
    check_rule("product.id", json!({"$count_less": [1]}), false);
    check_rule(
        "product.id",
        json!({"$in": ["p1", "p2"], "$count": [2]}),
        true,
    );
    check_rule(
        "product.id",
        json!({"$starts_with": ["p"], "$count_more": [2]}),
        true,
    );
    check_rule("product.id", json!({"$is": ["p9"], "$count": [0]}), true);
    // Every line that starts with "p" is not p1: false, line 0 is p1.
    check_rule(
        "product.id",
        json!({"$starts_with": ["p"], "$is_not": ["p1"]}),
        false,
    );
    check_rule(
        "product.id",
        json!({"$starts_with": ["x"], "$is_not": ["p1"]}),
        true,
    );
    check_rule("sku.id", json!({"$is": ["s2"]}), true);
    check_rule("sku.id", json!({"$is": ["s3"]}), false);
    check_rule("sku.id", json!({"$in": ["s3", "s1"]}), true);
    check_rule("sku.id", json!({"$is_not": ["s1"]}), false);
    check_rule("sku.id", json!({"$not_in": ["s3"]}), true);
    check_rule("sku.id", json!({"$starts_with": ["s"]}), true);
    check_rule("sku.id", json!({"$ends_with": ["2"]}), true);
    check_rule("sku.id", json!({"$contains": ["3"]}), false);
    // Line 2 has no SKU.
    check_rule("sku.id", json!({"$count": [2]}), true);
}

#[test]
fn item_numbers_speak_of_the_lines() {
    check_rule("product.price", json!({"$is": [25.5]}), true);
    check_rule("product.price", json!({"$in": [1, 2]}), false);
    check_rule("product.price", json!({"$is_not": [10]}), false);
    check_rule("product.price", json!({"$not_in": [11, 12]}), true);
    check_rule("product.price", json!({"$less_than": [10]}), false);
    check_rule("product.price", json!({"$less_than_or_equal": [10]}), true);
    check_rule("product.price", json!({"$more_than": [25.5]}), false);
    check_rule(
        "product.price",
        json!({"$more_than_or_equal": [25.5]}),
        true,
    );
    check_rule("product.price", json!({"$count": [2]}), true);
    check_rule("sku.price", json!({"$more_than": [20]}), true);
    check_rule("sku.price", json!({"$less_than": [5]}), false);
    check_rule("sku.price", json!({"$more_than": [5], "$count": [2]}), true);
    check_rule("product.quantity", json!({"$is": [2]}), true);
    check_rule("product.quantity", json!({"$more_than": [3]}), false);
    check_rule(
        "product.quantity",
        json!({"$more_than_or_equal": [3]}),
        true,
    );
    check_rule(
        "product.quantity",
        json!({"$more_than": [1], "$count": [2]}),
        true,
    );
    check_rule("product.quantity", json!({"$not_in": [5]}), true);
    check_rule("product.quantity", json!({"$not_in": [1, 2, 3]}), false);
    check_rule("sku.quantity", json!({"$less_than": [2]}), true);
    check_rule("sku.quantity", json!({"$less_than_or_equal": [0]}), false);
    check_rule("product.amount", json!({"$is": [10]}), true);
    check_rule("product.amount", json!({"$more_than": [29.99]}), true);
    check_rule("product.amount", json!({"$less_than": [10]}), false);
    check_rule("sku.amount", json!({"$more_than_or_equal": [30]}), true);
    check_rule("sku.amount", json!({"$more_than": [30]}), false);
    check_rule("product.category", json!({"$is": ["hats"]}), true);
    check_rule("product.category", json!({"$is": ["socks"]}), false);
    check_rule("product.category", json!({"$in": ["socks", "sale"]}), true);
    check_rule("product.category", json!({"$is_not": ["socks"]}), true);
    check_rule("product.category", json!({"$is_not": ["hats"]}), false);
    check_rule("product.category", json!({"$not_in": ["sale", "x"]}), false);
    check_rule("product.category", json!({"$starts_with": ["sh"]}), true);
    check_rule("product.category", json!({"$ends_with": ["ts"]}), true);
    check_rule("product.category", json!({"$contains": ["al"]}), true);
    check_rule("product.category", json!({"$contains": ["zz"]}), false);
    check_rule("product.category", json!({"$count": [2]}), true);
    check_rule(
        "product.category",
        json!({"$is": ["shoes"], "$count_more": [1]}),
        false,
    );
    check_rule(
        "product.category",
        json!({"$is": ["shoes"], "$count": [1]}),
        true,
    );
}

#[test]
fn counters_count_the_redemption_being_validated() {
    check_rule(
        "redemption.count.per_customer",
        json!({"$less_than_or_equal": [1]}),
        true,
    );
    check_rule(
        "redemption.count.per_customer",
        json!({"$less_than": [1]}),
        false,
    );
    check_rule("redemption.count.per_customer", json!({"$is": [1]}), true);
    check_rule(
        "campaign.redemptions.count",
        json!({"$less_than_or_equal": [10]}),
        true,
    );
    check_rule(
        "campaign.redemptions.count",
        json!({"$less_than_or_equal": [9]}),
        false,
    );
    check_rule(
        "campaign.redemptions.count",
        json!({"$not_in": [10]}),
        false,
    );
    check_rule(
        "campaign.orders.amount_discounted",
        json!({"$less_than": [123.46]}),
        true,
    );
    check_rule(
        "campaign.orders.amount_discounted",
        json!({"$less_than": [123.45]}),
        false,
    );
    check_rule(
        "campaign.orders.amount_discounted",
        json!({"$is": [123.45]}),
        true,
    );
    check_rule(
        "campaign.orders.amount_discounted",
        json!({"$more_than": [100]}),
        true,
    );
    let mut again = world();
    again.customer_redemptions = 1;
    let once = parse(one_rule(
        "redemption.count.per_customer",
        json!({"$less_than_or_equal": [1]}),
    ));
    assert_eq!(
        once.evaluate(&again.facts()).map_err(|v| v.category),
        Err(RuleCategory::Redemption)
    );
}

#[test]
fn nested_item_rules_test_the_same_line() {
    let w = world();
    let product_with = |id: &str, nested: serde_json::Value| {
        json!({"rules": {"1": {"name": "product.id", "conditions": {"$is": [id]},
                               "rules": nested}}})
    };
    let quantity_more_than =
        |n: u32| json!({"1": {"name": "product.quantity", "conditions": {"$more_than": [n]}}});
    let order = |numbers: &'static [u32]| Err((RuleCategory::Order, numbers, None));
    check(product_with("p1", quantity_more_than(2)), &w, Ok(()));
    check(product_with("p1", quantity_more_than(3)), &w, order(&[1]));
    // p1 has 3 units, but p2 has 1: the rule is about the p2 line.
    check(product_with("p2", quantity_more_than(2)), &w, order(&[1]));
    check(
        product_with(
            "p1",
            json!({"1": {"name": "sku.id", "conditions": {"$is": ["s1"]}},
                   "2": {"name": "product.category", "conditions": {"$is": ["sale"]}}}),
        ),
        &w,
        Ok(()),
    );
    check(
        product_with(
            "p2",
            json!({"1": {"name": "product.price", "conditions": {"$more_than": [20]}},
                   "2": {"name": "product.quantity", "conditions": {"$more_than": [2]}},
                   "logic": "1 or 2"}),
        ),
        &w,
        Ok(()),
    );
    // The negative form: no p1 line with more than 5 units; then 2.
    let negative = |n: u32| {
        json!({"rules": {"1": {"name": "product.id", "conditions": {"$is_not": ["p1"]},
                               "rules": quantity_more_than(n)}}})
    };
    check(negative(5), &w, Ok(()));
    check(negative(2), &w, order(&[1]));
    // Counting lines that satisfy nested rules: p1 (3 units) and p3 (2).
    let counted = |n: u32| {
        json!({"rules": {"1": {"name": "product.id", "conditions": {"$count": [n]},
                               "rules": quantity_more_than(1)}}})
    };
    check(counted(2), &w, Ok(()));
    check(counted(3), &w, order(&[1]));
    // Deeper: category shoes, whose line is p1 whose SKU is s1.
    check(
        json!({"rules": {"1": {"name": "product.category", "conditions": {"$is": ["shoes"]},
            "rules": {"1": {"name": "product.id", "conditions": {"$is": ["p1"]},
                "rules": {"1": {"name": "sku.id", "conditions": {"$is": ["s1"]}}}}}}}}),
        &w,
        Ok(()),
    );
    // An order-level rule with a nested item rule: the nested rule speaks
    // of the lines.
    check(
        json!({"rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [50]},
            "rules": {"1": {"name": "product.id", "conditions": {"$is": ["p2"]}}}}}}),
        &w,
        Ok(()),
    );
    // Order-level properties inside an item rule read the order.
    check(
        product_with(
            "p3",
            json!({"1": {"name": "order.items.count", "conditions": {"$is": [3]}},
                   "2": {"name": "customer.segment", "conditions": {"$is": ["vip"]}}}),
        ),
        &w,
        Ok(()),
    );
}

#[test]
fn logic_combines_rules() {
    let w = world();
    let holds = json!({"name": "order.items.count", "conditions": {"$is": [3]}});
    let fails = json!({"name": "order.items.count", "conditions": {"$is": [4]}});
    let order = |numbers: &'static [u32]| Err((RuleCategory::Order, numbers, None));
    let set = |logic: Option<&str>, rules: &[&serde_json::Value]| {
        let mut map = serde_json::Map::new();
        for (i, rule) in rules.iter().enumerate() {
            map.insert((i + 1).to_string(), (*rule).clone());
        }
        if let Some(logic) = logic {
            map.insert("logic".into(), json!(logic));
        }
        json!({"rules": map})
    };
    // No logic, or an empty one: all rules `and`ed.
    check(set(None, &[&holds, &fails]), &w, order(&[2]));
    check(set(Some(""), &[&holds, &fails]), &w, order(&[2]));
    check(set(Some("  "), &[&holds, &holds]), &w, Ok(()));
    check(set(Some("1 or 2"), &[&fails, &holds]), &w, Ok(()));
    check(set(Some("1 OR 2"), &[&fails, &fails]), &w, order(&[1]));
    check(set(Some("1 and 2"), &[&holds, &fails]), &w, order(&[2]));
    check(set(Some("1 and 2"), &[&fails, &fails]), &w, order(&[1]));
    check(
        set(Some("1 and 2 or 3"), &[&fails, &holds, &holds]),
        &w,
        Ok(()),
    );
    check(
        set(Some("1 and (2 or 3)"), &[&holds, &fails, &fails]),
        &w,
        order(&[2]),
    );
    check(
        set(Some("(3 or 1) and 2"), &[&fails, &holds, &fails]),
        &w,
        order(&[1]),
    );
    // A rule the logic does not mention does not count.
    check(set(Some("1"), &[&holds, &fails]), &w, Ok(()));
    // No rules at all: nothing to refuse.
    check(json!({}), &w, Ok(()));
    check(json!({"rules": {"logic": ""}}), &w, Ok(()));
    // Rule numbers sort numerically, not as text.
    let mut many = serde_json::Map::new();
    for n in 1..=11 {
        many.insert(n.to_string(), holds.clone());
    }
    many.insert("10".into(), fails.clone());
    check(json!({"rules": many}), &w, order(&[10]));
}

#[test]
fn messages_and_categories_of_the_blamed_rule() {
    let w = world();
    let customer = json!({"name": "customer.segment", "conditions": {"$is": ["gold"]},
                          "error": {"message": "Gold members only"}});
    let plain_customer = json!({"name": "customer.segment", "conditions": {"$is": ["gold"]}});
    let budget = json!({"name": "campaign.orders.amount_discounted",
                        "conditions": {"$less_than": [100]}});
    // The rule's own message, else the set's, else none.
    check(
        json!({"rules": {"1": customer}, "error": {"message": "Check the rules"}}),
        &w,
        Err((RuleCategory::Customer, &[1], Some("Gold members only"))),
    );
    check(
        json!({"rules": {"1": plain_customer}, "error": {"message": "Check the rules"}}),
        &w,
        Err((RuleCategory::Customer, &[1], Some("Check the rules"))),
    );
    check(
        json!({"rules": {"1": plain_customer}, "error": {"message": ""}}),
        &w,
        Err((RuleCategory::Customer, &[1], None)),
    );
    check(
        json!({"rules": {"1": budget, "2": customer}, "logic": "1 or 2"}),
        &w,
        Err((RuleCategory::Redemption, &[1], None)),
    );
    // An order-level rule whose conditions hold fails through its nested
    // rules: the blame descends, and the deepest message wins.
    let nested = |outer_message: Option<&str>, inner_message: Option<&str>| {
        json!({"rules": {"1": {
            "name": "customer.segment", "conditions": {"$is": ["vip"]},
            "error": outer_message.map(|m| json!({"message": m})),
            "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [10]}},
                      "2": {"name": "order.amount", "conditions": {"$more_than": [100]},
                            "error": inner_message.map(|m| json!({"message": m}))}}}},
            "error": {"message": "set"}})
    };
    check(
        nested(Some("outer"), Some("Spend more than 100")),
        &w,
        Err((RuleCategory::Order, &[1, 2], Some("Spend more than 100"))),
    );
    check(
        nested(Some("outer"), None),
        &w,
        Err((RuleCategory::Order, &[1, 2], Some("outer"))),
    );
    check(
        nested(None, None),
        &w,
        Err((RuleCategory::Order, &[1, 2], Some("set"))),
    );
    // An item rule over the lines is blamed as a whole.
    check(
        json!({"rules": {"1": {
            "name": "product.id", "conditions": {"$is": ["p1"]},
            "error": {"message": "Add three p1"},
            "rules": {"1": {"name": "product.quantity", "conditions": {"$more_than": [5]},
                            "error": {"message": "inner"}}}}}}),
        &w,
        Err((RuleCategory::Order, &[1], Some("Add three p1"))),
    );
    // A rule failing on its own conditions is not descended into.
    check(
        json!({"rules": {"1": {
            "name": "customer.segment", "conditions": {"$is": ["gold"]},
            "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [100]},
                            "error": {"message": "inner"}}}}}}),
        &w,
        Err((RuleCategory::Customer, &[1], None)),
    );
    let violation = parse(json!({"rules": {"1": budget}}))
        .evaluate(&w.facts())
        .unwrap_err();
    assert_eq!(
        violation.to_string(),
        "redemption_rules_violated: rule 1 failed"
    );
}

fn condition_error(rule: &[u32], condition: ConditionKind, problem: ConditionProblem) -> RuleError {
    RuleError::InvalidCondition {
        rule: path(rule),
        condition,
        problem,
    }
}

#[test]
fn refuses_bad_rules_with_typed_errors() {
    use ConditionKind as C;
    use ConditionProblem as P;
    let not_applicable = |property| P::NotApplicable { property };
    check_error(
        one_rule("order.colour", json!({"$is": ["red"]})),
        RuleError::UnknownProperty {
            rule: path(&[1]),
            name: "order.colour".into(),
        },
    );
    check_error(
        one_rule("order.metadata", json!({"$is": ["x"]})),
        RuleError::MissingMetadataKey {
            rule: path(&[1]),
            name: "order.metadata",
        },
    );
    check_error(
        one_rule(
            &format!("customer.metadata:{}", "k".repeat(300)),
            json!({"$is": ["x"]}),
        ),
        RuleError::MetadataKeyTooLong { rule: path(&[1]) },
    );
    check_error(
        one_rule("order.amount", json!({"$timeframe": ["x"]})),
        RuleError::UnknownCondition {
            rule: path(&[1]),
            name: "$timeframe".into(),
        },
    );
    check_error(
        one_rule("order.amount", json!({})),
        RuleError::NoConditions { rule: path(&[1]) },
    );
    let cases = [
        (
            "product.id",
            json!({"$less_than": [1]}),
            C::LessThan,
            not_applicable("product.id"),
        ),
        (
            "customer.segment",
            json!({"$more_than": [1]}),
            C::MoreThan,
            not_applicable("customer.segment"),
        ),
        (
            "order.amount",
            json!({"$starts_with": ["1"]}),
            C::StartsWith,
            not_applicable("order.amount"),
        ),
        (
            "order.amount",
            json!({"$count": [1]}),
            C::Count,
            not_applicable("order.amount"),
        ),
        (
            "sku.id",
            json!({"$count_more": ["x"]}),
            C::CountMore,
            P::NotACount { index: 0 },
        ),
        (
            "order.amount",
            json!({"$less_than": [1, 2]}),
            C::LessThan,
            P::NotOneValue { found: 2 },
        ),
        (
            "order.amount",
            json!({"$less_than": []}),
            C::LessThan,
            P::NotOneValue { found: 0 },
        ),
        ("order.amount", json!({"$is": []}), C::Is, P::NoValues),
        (
            "product.id",
            json!({"$contains": []}),
            C::Contains,
            P::NoValues,
        ),
        (
            "order.amount",
            json!({"$is": [1, "abc"]}),
            C::Is,
            P::NotANumber { index: 1 },
        ),
        (
            "order.amount",
            json!({"$more_than": [true]}),
            C::MoreThan,
            P::NotANumber { index: 0 },
        ),
        (
            "product.id",
            json!({"$is": [5]}),
            C::Is,
            P::NotAText { index: 0 },
        ),
        (
            "customer.segment",
            json!({"$ends_with": [null]}),
            C::EndsWith,
            P::NotAText { index: 0 },
        ),
        (
            "customer.segment",
            json!({"$count": [1.5]}),
            C::Count,
            P::NotACount { index: 0 },
        ),
        (
            "customer.segment",
            json!({"$count": [-1]}),
            C::Count,
            P::NotACount { index: 0 },
        ),
        (
            "order.metadata:k",
            json!({"$is": [null]}),
            C::Is,
            P::NotAScalar { index: 0 },
        ),
        (
            "order.metadata:k",
            json!({"$in": ["a", [1]]}),
            C::In,
            P::NotAScalar { index: 1 },
        ),
        (
            "order.metadata:k",
            json!({"$is": ["x".repeat(1025)]}),
            C::Is,
            P::TextTooLong { index: 0 },
        ),
        (
            "order.amount",
            json!({"$in": vec![1; 1001]}),
            C::In,
            P::TooManyValues,
        ),
    ];
    for (name, conditions, kind, problem) in cases {
        check_error(
            one_rule(name, conditions),
            condition_error(&[1], kind, problem),
        );
    }
    // `$count` inside an item rule.
    check_error(
        json!({"rules": {"1": {"name": "product.id", "conditions": {"$is": ["p1"]},
            "rules": {"2": {"name": "product.quantity", "conditions": {"$count": [1]}}}}}}),
        condition_error(&[1, 2], C::Count, not_applicable("product.quantity")),
    );
}

#[test]
fn refuses_bad_structure_with_typed_errors() {
    let rule = json!({"name": "order.amount", "conditions": {"$more_than": [1]}});
    for key in ["0", "01", "x", "65", "-1", ""] {
        check_error(
            json!({"rules": {key: rule}}),
            RuleError::InvalidRuleNumber {
                parent: RulePath::default(),
                key: key.into(),
            },
        );
    }
    check_error(
        json!({"rules": {"1": rule, "2": rule, "logic": "1 and 3"}}),
        RuleError::MissingRule {
            rule: RulePath::default(),
            number: RuleNumber::new(3).unwrap(),
        },
    );
    check_error(
        json!({"rules": {"1": rule, "logic": "1 and"}}),
        RuleError::InvalidLogic {
            rule: RulePath::default(),
            error: LogicError::ExpectedOperand { at: 5 },
        },
    );
    check_error(
        json!({"rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [1]},
            "rules": {"1": rule, "logic": "(1"}}}}),
        RuleError::InvalidLogic {
            rule: path(&[1]),
            error: LogicError::UnclosedParenthesis { at: 0 },
        },
    );
    check_error(
        json!({"rules": {"1": rule, "logic": format!("1{}", " ".repeat(2000))}}),
        RuleError::InvalidLogic {
            rule: RulePath::default(),
            error: LogicError::TooLong,
        },
    );
    // 64 rules at the top and one nested: 65.
    let mut many = serde_json::Map::new();
    for n in 1..=64 {
        many.insert(n.to_string(), rule.clone());
    }
    assert!(RuleSet::parse(&raw(json!({"rules": many.clone()}))).is_ok());
    many.insert(
        "1".into(),
        json!({"name": "order.amount", "conditions": {"$more_than": [1]}, "rules": {"1": rule}}),
    );
    check_error(json!({"rules": many}), RuleError::TooManyRules);
    // Depth: four levels pass, five fail.
    let nest = |levels: usize| {
        let mut rules = json!({"1": rule});
        for _ in 1..levels {
            rules = json!({"1": {"name": "order.amount", "conditions": {"$more_than": [1]},
                                 "rules": rules}});
        }
        json!({"rules": rules})
    };
    assert!(RuleSet::parse(&raw(nest(RULE_DEPTH_MAX))).is_ok());
    check_error(
        nest(RULE_DEPTH_MAX + 1),
        RuleError::TooDeep {
            rule: path(&[1, 1, 1, 1]),
        },
    );
    // Values over the whole set.
    let mut heavy = serde_json::Map::new();
    for n in 1..=11 {
        heavy.insert(
            n.to_string(),
            json!({"name": "order.amount", "conditions": {"$in": vec![1; 1000]}}),
        );
    }
    check_error(json!({"rules": heavy}), RuleError::TooManyValues);
    check_error(
        json!({"rules": {"1": rule}, "error": {"message": "m".repeat(1025)}}),
        RuleError::MessageTooLong {
            rule: RulePath::default(),
        },
    );
    check_error(
        json!({"rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [1]},
                               "error": {"message": "m".repeat(1025)}}}}),
        RuleError::MessageTooLong { rule: path(&[1]) },
    );
    // Rules the logic leaves out are still checked.
    check_error(
        json!({"rules": {"1": rule, "2": {"name": "nope", "conditions": {"$is": [1]}},
                         "logic": "1"}}),
        RuleError::UnknownProperty {
            rule: path(&[2]),
            name: "nope".into(),
        },
    );
    let error = RuleSet::parse(&raw(
        json!({"rules": {"3": {"name": "x", "conditions": {"$is": [1]}}}}),
    ))
    .unwrap_err();
    assert_eq!(error.to_string(), "rule 3: unknown property \"x\"");
}

#[test]
fn refuses_bad_targets_with_typed_errors() {
    let check_target = |target: serde_json::Value, list: TargetList, problem: TargetProblem| {
        let key = match list {
            TargetList::Included => "included",
            TargetList::Excluded => "excluded",
        };
        check_error(
            json!({"applicable_to": {key: [{"object": "product", "id": "p"}, target]}}),
            RuleError::InvalidTarget {
                list,
                index: 1,
                problem,
            },
        );
    };
    check_target(
        json!({"object": "brand", "id": "b"}),
        TargetList::Included,
        TargetProblem::UnknownObject("brand".into()),
    );
    check_target(
        json!({"object": "product", "id": "p", "effect": "APPLY_TO_SOME"}),
        TargetList::Included,
        TargetProblem::UnknownEffect("APPLY_TO_SOME".into()),
    );
    check_target(
        json!({"object": "sku", "id": ""}),
        TargetList::Excluded,
        TargetProblem::MissingId,
    );
    check_target(
        json!({"object": "sku", "id": "s".repeat(257)}),
        TargetList::Excluded,
        TargetProblem::IdTooLong,
    );
    check_target(
        json!({"object": "sku", "id": "s", "amount_limit": -1}),
        TargetList::Included,
        TargetProblem::AmountLimitOutOfRange,
    );
    check_target(
        json!({"object": "sku", "id": "s", "aggregated_amount_limit": 1e14}),
        TargetList::Included,
        TargetProblem::AmountLimitOutOfRange,
    );
    let many = vec![json!({"object": "sku", "id": "s"}); 1001];
    check_error(
        json!({"applicable_to": {"excluded": many}}),
        RuleError::TooManyTargets {
            list: TargetList::Excluded,
        },
    );
}

#[test]
fn rule_sets_expose_targets_and_their_default_effect() {
    let w = world();
    let set = parse(
        json!({"applicable_to": {"included": [{"object": "product", "id": "p2"}],
                                             "excluded": [], "included_all": false}}),
    );
    assert!(set.has_item_targets());
    assert_eq!(
        set.targets(&w.order),
        Some(vec![LineTarget {
            line: 1,
            quantity_limit: None,
            amount_limit_minor: None
        }])
    );
    let plain = parse(json!({"applicable_to": {"included": [], "excluded": [],
                                               "included_all": false}}));
    assert!(!plain.has_item_targets());
    assert_eq!(plain.targets(&w.order), None);
    let not_hats = parse(json!({"applicable_to": {"excluded": [{"object": "category",
                                                                "id": "hats"}]}}));
    let lines = |targets: Option<Vec<LineTarget>>| {
        targets.map(|t| t.into_iter().map(|t| t.line).collect::<Vec<_>>())
    };
    assert_eq!(lines(not_hats.targets(&w.order)), Some(vec![0, 2]));
    let combined = |sets: &[&RuleSet]| combine_targets(sets.iter().map(|s| s.targets(&w.order)));
    assert_eq!(lines(combined(&[&set, &not_hats, &plain])), Some(vec![]));
    assert_eq!(lines(combined(&[&not_hats, &plain])), Some(vec![0, 2]));
    assert_eq!(combined(&[&plain]), None);
}

#[test]
fn exposes_what_it_parsed() {
    let set = parse(json!({
        "rules": {"1": {"name": "customer.metadata", "property": "tier",
                        "conditions": {"$is": ["gold"]},
                        "rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [1]}}}},
                  "2": {"name": "order.amount", "conditions": {"$more_than": [1]}}},
        "error": {"message": "m"}}));
    assert_eq!(set.rule_count(), 3);
    assert_eq!(set.message(), Some("m"));
    assert_eq!(
        set.logic().map(ToString::to_string).as_deref(),
        Some("1 and 2")
    );
    let property = Property::CustomerMetadata("tier".into());
    assert_eq!(property.to_string(), "customer.metadata[\"tier\"]");
    assert_eq!(property.category(), RuleCategory::Customer);
    assert_eq!(Property::SkuAmount.category(), RuleCategory::Order);
    assert!(Property::ProductCategory.is_item() && !Property::OrderAmount.is_item());
    let money: Vec<&str> = [
        "order.amount",
        "order.items.count",
        "order.metadata",
        "product.price",
        "product.amount",
        "product.quantity",
        "sku.price",
        "sku.amount",
        "sku.quantity",
        "customer.segment",
        "campaign.orders.amount_discounted",
        "campaign.redemptions.count",
        "nope",
    ]
    .into_iter()
    .filter(|name| Property::is_money_name(name))
    .collect();
    assert_eq!(
        money,
        [
            "order.amount",
            "product.price",
            "product.amount",
            "sku.price",
            "sku.amount",
            "campaign.orders.amount_discounted"
        ]
    );
    for kind in ConditionKind::ALL {
        assert_eq!(ConditionKind::parse(kind.name()), Some(kind));
    }
    assert_eq!(path(&[2, 1]).to_string(), "rule 2.1");
    // The customer metadata rule needs a customer; order rules do not.
    assert!(set.needs_customer());
    let order_only =
        json!({"rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [1]}}}});
    assert!(!parse(order_only).needs_customer());
    let deep = json!({"rules": {"1": {"name": "order.amount", "conditions": {"$more_than": [1]},
        "rules": {"1": {"name": "redemption.count.per_customer",
                        "conditions": {"$less_than_or_equal": [1]}}}}}});
    assert!(parse(deep).needs_customer());
    assert!(!parse(json!({})).needs_customer());
}

#[test]
fn serializes_as_its_raw_form_and_checks_on_load() {
    let json = json!({"rules": {"1": {"name": "customer.segment", "conditions": {"$is": ["vip"]}},
                                "logic": "1"},
                      "error": {"message": "VIPs only"},
                      "applicable_to": {"excluded": [{"object": "sku", "id": "s1"}]}});
    let set = parse(json.clone());
    assert_eq!(set.raw(), &raw(json));
    let text = serde_json::to_string(&set).unwrap();
    let again: RuleSet = serde_json::from_str(&text).unwrap();
    assert_eq!(again, set);
    let bad = serde_json::from_str::<RuleSet>(
        r#"{"rules": {"1": {"name": "order.amount", "conditions": {"$is": []}}}}"#,
    )
    .unwrap_err();
    assert!(
        bad.to_string()
            .starts_with("rule 1: condition $is needs at least one value"),
        "{bad}"
    );
}

#[test]
fn evaluation_is_repeatable_and_leaves_the_facts_alone() {
    let w = world();
    let set = parse(json!({"rules": {
        "1": {"name": "product.id", "conditions": {"$in": ["p1", "p9"]},
              "rules": {"1": {"name": "product.quantity", "conditions": {"$more_than": [1]}}}},
        "2": {"name": "customer.segment", "conditions": {"$is": ["vip"]}},
        "3": {"name": "order.amount", "conditions": {"$more_than": [50]}},
        "logic": "(1 and 2) or 3"}}));
    let first = set.evaluate(&w.facts());
    for _ in 0..10 {
        assert_eq!(set.evaluate(&w.facts()), first);
    }
    assert_eq!(first, Ok(()));
}

/// Well-formed logic over rules 1..=6, with its value under `truth`.
fn logic_text() -> impl Strategy<Value = String> {
    let leaf = (1u32..=6).prop_map(|n| n.to_string());
    leaf.prop_recursive(5, 32, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a}) and ({b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} AND {b}")),
            (inner.clone(), inner).prop_map(|(a, b)| format!("{a} or {b}")),
        ]
    })
}

fn arbitrary_value() -> impl Strategy<Value = serde_json::Value> {
    let scalar = prop_oneof![
        Just(json!(null)),
        any::<bool>().prop_map(|b| json!(b)),
        (-1000i64..1000).prop_map(|n| json!(n)),
        (-1000.0f64..1000.0).prop_map(|n| json!(n)),
        "[a-z0-9]{0,4}".prop_map(|s| json!(s)),
    ];
    scalar.prop_recursive(2, 8, 3, |inner| {
        prop::collection::vec(inner, 0..3).prop_map(serde_json::Value::Array)
    })
}

fn arbitrary_rules(depth: u32) -> BoxedStrategy<serde_json::Value> {
    let names = prop::sample::select(vec![
        "order.amount",
        "order.items.count",
        "order.items.quantity",
        "order.metadata",
        "customer.metadata",
        "customer.segment",
        "product.id",
        "product.price",
        "product.quantity",
        "product.amount",
        "product.category",
        "sku.id",
        "sku.price",
        "sku.quantity",
        "sku.amount",
        "redemption.count.per_customer",
        "campaign.redemptions.count",
        "campaign.orders.amount_discounted",
        "nope",
    ]);
    let conditions = prop::collection::btree_map(
        prop::sample::select(
            ConditionKind::ALL
                .iter()
                .map(|k| k.name())
                .chain(["$dow"])
                .collect::<Vec<_>>(),
        ),
        prop::collection::vec(arbitrary_value(), 0..3),
        0..3,
    );
    let nested = if depth == 0 {
        Just(json!({})).boxed()
    } else {
        arbitrary_rules(depth - 1)
    };
    let rule = (names, prop::option::of("[a-z]{1,3}"), conditions, nested).prop_map(
        |(name, key, conditions, nested)| {
            json!({"name": name, "property": key, "conditions": conditions, "rules": nested})
        },
    );
    (
        prop::collection::btree_map(
            prop::sample::select(vec!["1", "2", "3", "4", "0"]),
            rule,
            0..4,
        ),
        prop::option::of(prop_oneof![logic_text(), "[()1-4 andor]{0,12}".boxed(),]),
    )
        .prop_map(|(rules, logic)| {
            let mut map: serde_json::Map<String, serde_json::Value> =
                rules.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            if let Some(logic) = logic {
                map.insert("logic".into(), json!(logic));
            }
            serde_json::Value::Object(map)
        })
        .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The rule set agrees with the logic evaluated on each rule's result,
    /// and blames the rule the logic blames.
    #[test]
    fn rule_sets_follow_their_logic(logic in logic_text(), truth in 0u64..64) {
        let mut rules = serde_json::Map::new();
        let mut world = world();
        for n in 1..=6u32 {
            let key = format!("r{n}");
            rules.insert(n.to_string(), json!({"name": "order.metadata", "property": key,
                                                "conditions": {"$is": [true]}}));
            world.order_metadata.insert(key, Value::Bool(truth & (1 << (n - 1)) != 0));
        }
        rules.insert("logic".into(), json!(logic));
        let set = parse(json!({"rules": rules}));
        let logic = Logic::parse(&logic).unwrap();
        let result = set.evaluate(&world.facts());
        prop_assert_eq!(result.is_ok(), logic.eval_mask(truth));
        if let Err(violation) = result {
            prop_assert_eq!(Some(violation.rule), logic.blame(truth));
            prop_assert_eq!(violation.path.numbers().len(), 1);
        }
    }

    /// Parsing never panics, and whatever parses evaluates without panic.
    #[test]
    fn parse_and_evaluate_never_panic(rules in arbitrary_rules(3)) {
        let set = json!({"rules": rules});
        if let Ok(raw) = serde_json::from_value::<RawRuleSet>(set) {
            if let Ok(set) = RuleSet::parse(&raw) {
                let world = world();
                let first = set.evaluate(&world.facts());
                prop_assert_eq!(set.evaluate(&world.facts()), first);
                let _ = set.targets(&world.order);
            }
        }
    }
}
