//! The raw form of a rule set: plain serde structs in the wire shape of a
//! Voucherify validation rule (section 2.7 of the wire reference), not yet
//! checked. [`RuleSet::parse`](super::RuleSet::parse) turns one into a
//! checked rule set or a typed error.
//!
//! The shape: `{"rules": {"1": {"name", "property", "conditions": {"$is":
//! [...]}, "rules": {...nested...}, "error": {"message"}}, "logic": "1 and
//! 2"}, "error": {"message"}, "applicable_to": {"included": [...],
//! "excluded": [...], "included_all": false}}`. Unknown fields are ignored,
//! `null` stands for absent everywhere. Money in conditions and targets is
//! in MAJOR units here (`100.5`); converting the wire's integers (value
//! times 100) is the HTTP adapter's business.
//!
//! Condition values are read with a visitor of their own (values are written
//! with [`Value`]'s own serde), because a condition may hold objects:
//! numbers become [`Value::Number`], strings stay [`Value::Text`] (numeric
//! conditions read numeric text too). Voucherify writes product conditions
//! as objects,
//! `{"$is": [{"id": "prod_1", "source_id": "sku-1", "object": "product"}]}`:
//! such an object stands for its `id` and `source_id` texts, each a value of
//! its own (`$is` matches any of them).

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

use crate::value::Value;

/// A rule set as it arrives: rules, a message, and the items it targets.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawRuleSet {
    /// The numbered rules and their `logic`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub rules: RawRules,
    /// The message shown when a rule without a message of its own fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RawMessage>,
    /// Which order items a discount may touch.
    #[serde(default, deserialize_with = "null_as_default")]
    pub applicable_to: RawApplicableTo,
}

/// One level of rules: `{"1": {...}, "2": {...}, "logic": "1 or 2"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawRules {
    /// The expression over rule numbers; absent or empty means all rules
    /// `and`ed.
    pub logic: Option<String>,
    /// The rules by their key (`"1"`, `"2"`, ...).
    pub rules: BTreeMap<String, RawRule>,
}

/// One rule: a property, conditions on it, nested rules, a message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawRule {
    /// The property the rule tests, such as `order.amount` (Voucherify calls
    /// it the rule's name).
    pub name: String,
    /// The metadata key, for `customer.metadata` and `order.metadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// Conditions by name (`"$is"`), each with its list of values; all of
    /// them must hold.
    #[serde(
        default,
        deserialize_with = "deserialize_conditions",
        serialize_with = "serialize_conditions"
    )]
    pub conditions: BTreeMap<String, Vec<Value>>,
    /// Nested rules, with a `logic` of their own.
    #[serde(default, deserialize_with = "null_as_default")]
    pub rules: RawRules,
    /// The message shown when this rule fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<RawMessage>,
}

/// `{"message": "..."}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawMessage {
    /// The text to show the customer.
    #[serde(default)]
    pub message: Option<String>,
}

/// `{"included": [...], "excluded": [...], "included_all": bool}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawApplicableTo {
    /// Items the discount is restricted to (unless `included_all`).
    #[serde(default, deserialize_with = "null_as_default")]
    pub included: Vec<RawTarget>,
    /// Items the discount never touches; wins over `included`.
    #[serde(default, deserialize_with = "null_as_default")]
    pub excluded: Vec<RawTarget>,
    /// Every item is included (`included` then only sets limits).
    #[serde(default, deserialize_with = "null_as_default")]
    pub included_all: bool,
}

/// One entry of `included` or `excluded`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RawTarget {
    /// `product`, `sku`, `category` or `products_collection`.
    pub object: String,
    /// The product's, SKU's or category's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// The shop's own id; a line matches on `id` or `source_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// `APPLY_TO_EVERY` (the default), `APPLY_TO_CHEAPEST` or
    /// `APPLY_TO_MOST_EXPENSIVE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<String>,
    /// Most units discounted per line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_limit: Option<u64>,
    /// Most units discounted over all lines this entry matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aggregated_quantity_limit: Option<u64>,
    /// Most discount per line, in major units.
    #[serde(
        default,
        deserialize_with = "deserialize_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub amount_limit: Option<Decimal>,
    /// Most discount over all lines this entry matches, in major units.
    #[serde(
        default,
        deserialize_with = "deserialize_decimal",
        skip_serializing_if = "Option::is_none"
    )]
    pub aggregated_amount_limit: Option<Decimal>,
}

/// Reads `null` as the default value.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

impl Serialize for RawRules {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, rule) in &self.rules {
            map.serialize_entry(key, rule)?;
        }
        if let Some(logic) = &self.logic {
            map.serialize_entry("logic", logic)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for RawRules {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<RawRules, D::Error> {
        struct RulesVisitor;

        impl<'de> Visitor<'de> for RulesVisitor {
            type Value = RawRules;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a map of numbered rules and a `logic`")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawRules, A::Error> {
                let mut rules = RawRules::default();
                while let Some(key) = map.next_key::<String>()? {
                    if key == "logic" {
                        rules.logic = map.next_value()?;
                    } else {
                        let rule = map.next_value()?;
                        rules.rules.insert(key, rule);
                    }
                }
                Ok(rules)
            }
        }

        deserializer.deserialize_map(RulesVisitor)
    }
}

fn deserialize_conditions<'de, D>(deserializer: D) -> Result<BTreeMap<String, Vec<Value>>, D::Error>
where
    D: Deserializer<'de>,
{
    let conditions = Option::<BTreeMap<String, ConditionValues>>::deserialize(deserializer)?;
    Ok(conditions
        .unwrap_or_default()
        .into_iter()
        .map(|(name, values)| (name, values.0))
        .collect())
}

fn serialize_conditions<S>(
    conditions: &BTreeMap<String, Vec<Value>>,
    serializer: S,
) -> Result<S::Ok, S::Error>
where
    S: Serializer,
{
    let mut map = serializer.serialize_map(Some(conditions.len()))?;
    for (name, values) in conditions {
        map.serialize_entry(name, values)?;
    }
    map.end()
}

/// The values of one condition, as read from the wire.
struct ConditionValues(Vec<Value>);

impl<'de> Deserialize<'de> for ConditionValues {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<ConditionValues, D::Error> {
        struct ListVisitor;

        impl<'de> Visitor<'de> for ListVisitor {
            type Value = ConditionValues;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of condition values")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ConditionValues, A::Error> {
                let mut values = Vec::new();
                while let Some(element) = seq.next_element::<Element>()? {
                    match element {
                        Element::Value(value) => values.push(value),
                        Element::Reference(ids) => values.extend(ids.into_iter().map(Value::Text)),
                    }
                }
                Ok(ConditionValues(values))
            }
        }

        deserializer.deserialize_seq(ListVisitor)
    }
}

/// One element of a condition's list: a value, or an object reference
/// `{"id", "source_id", ...}` standing for its ids.
enum Element {
    Value(Value),
    Reference(Vec<String>),
}

impl<'de> Deserialize<'de> for Element {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Element, D::Error> {
        deserializer.deserialize_any(ValueVisitor {
            objects: Objects::AsReference,
        })
    }
}

/// A value nested in a list: objects are refused there.
struct NestedValue(Value);

impl<'de> Deserialize<'de> for NestedValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<NestedValue, D::Error> {
        match deserializer.deserialize_any(ValueVisitor {
            objects: Objects::Refused,
        })? {
            Element::Value(value) => Ok(NestedValue(value)),
            Element::Reference(_) => Err(de::Error::custom("unexpected object")),
        }
    }
}

#[derive(Clone, Copy)]
enum Objects {
    AsReference,
    Refused,
}

struct ValueVisitor {
    objects: Objects,
}

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Element;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a condition value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Element, E> {
        Ok(Element::Value(Value::Null))
    }

    fn visit_none<E: de::Error>(self) -> Result<Element, E> {
        Ok(Element::Value(Value::Null))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Element, E> {
        Ok(Element::Value(Value::Bool(b)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Element, E> {
        Ok(Element::Value(Value::Number(Decimal::from(n))))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Element, E> {
        Ok(Element::Value(Value::Number(Decimal::from(n))))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Element, E> {
        // The shortest text that reads back as the same float: `0.1` is
        // 0.1, not the binary value 0.1000000000000000055...
        let text = format!("{n}");
        Decimal::from_str_exact(&text)
            .map_err(|_| E::custom("number out of range"))
            .map(|d| Element::Value(Value::Number(d)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Element, E> {
        Ok(Element::Value(Value::Text(s.to_owned())))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Element, E> {
        Ok(Element::Value(Value::Text(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Element, A::Error> {
        let mut list = Vec::new();
        while let Some(NestedValue(value)) = seq.next_element()? {
            list.push(value);
        }
        Ok(Element::Value(Value::List(list)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Element, A::Error> {
        if let Objects::Refused = self.objects {
            return Err(de::Error::custom("unexpected object in a list value"));
        }
        let mut ids = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if key == "id" || key == "source_id" {
                if let Some(id) = map.next_value::<Option<String>>()? {
                    ids.push(id);
                }
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        if ids.is_empty() {
            return Err(de::Error::custom(
                "object value without `id` or `source_id`",
            ));
        }
        Ok(Element::Reference(ids))
    }
}

/// Reads an optional decimal from a number or a numeric string.
fn deserialize_decimal<'de, D>(deserializer: D) -> Result<Option<Decimal>, D::Error>
where
    D: Deserializer<'de>,
{
    match deserializer.deserialize_any(ValueVisitor {
        objects: Objects::Refused,
    })? {
        Element::Value(Value::Null) => Ok(None),
        Element::Value(value) => value
            .as_number()
            .map(Some)
            .ok_or_else(|| de::Error::custom("expected a number")),
        Element::Reference(_) => Err(de::Error::custom("expected a number")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_wire_shape() {
        let raw: RawRuleSet = serde_json::from_str(
            r#"{
                "name": "ignored", "type": "advanced",
                "error": {"message": "Check the rules"},
                "rules": {
                    "1": {"name": "order.amount", "property": null, "rules": {},
                          "conditions": {"$more_than": [100.5]}},
                    "2": {"name": "product.id", "error": {"message": "Add p1"},
                          "conditions": {"$is": [{"id": "prod_1", "source_id": "p1"}, "p2"]},
                          "rules": {"1": {"name": "product.quantity",
                                          "conditions": {"$more_than_or_equal": [2]}},
                                    "logic": "1"}},
                    "logic": "1 and 2"
                },
                "applicable_to": {"included": [{"object": "product", "id": "p1",
                                                "quantity_limit": 1, "amount_limit": 2.5}],
                                  "excluded": null, "included_all": false}
            }"#,
        )
        .unwrap();
        assert_eq!(raw.rules.logic.as_deref(), Some("1 and 2"));
        assert_eq!(
            raw.error.as_ref().unwrap().message.as_deref(),
            Some("Check the rules")
        );
        let one = &raw.rules.rules["1"];
        assert_eq!(
            one.conditions["$more_than"],
            vec![Value::Number(Decimal::new(1005, 1))]
        );
        let two = &raw.rules.rules["2"];
        assert_eq!(
            two.conditions["$is"],
            vec![Value::from("prod_1"), Value::from("p1"), Value::from("p2")]
        );
        assert_eq!(two.rules.logic.as_deref(), Some("1"));
        assert_eq!(
            two.rules.rules["1"].conditions["$more_than_or_equal"],
            vec![Value::from(2)]
        );
        let target = &raw.applicable_to.included[0];
        assert_eq!(target.amount_limit, Some(Decimal::new(25, 1)));
        assert_eq!(target.quantity_limit, Some(1));
        assert!(raw.applicable_to.excluded.is_empty());
    }

    #[test]
    fn nulls_stand_for_absent() {
        let raw: RawRuleSet = serde_json::from_str(
            r#"{"rules": {"1": {"name": "customer.segment", "rules": null, "conditions": null,
                                "error": null}, "logic": null},
                "applicable_to": null, "error": null}"#,
        )
        .unwrap();
        let rule = &raw.rules.rules["1"];
        assert!(rule.conditions.is_empty() && rule.rules.rules.is_empty());
        assert_eq!(raw.rules.logic, None);
        let empty: RawRuleSet = serde_json::from_str(r#"{"rules": null}"#).unwrap();
        assert_eq!(empty, RawRuleSet::default());
    }

    #[test]
    fn refuses_objects_without_ids_and_nested_objects() {
        let check_bad = |json: &str| {
            let result = serde_json::from_str::<RawRule>(json);
            assert!(result.is_err(), "{json}");
        };
        check_bad(r#"{"name": "product.id", "conditions": {"$is": [{"object": "product"}]}}"#);
        check_bad(r#"{"name": "product.id", "conditions": {"$is": [[{"id": "p"}]]}}"#);
        check_bad(r#"{"name": "product.id", "conditions": {"$is": "p1"}}"#);
        check_bad(r#"{"name": "order.amount", "conditions": {"$is": [1e300]}}"#);
    }

    #[test]
    fn round_trips_through_json() {
        let json = r#"{"rules": {"1": {"name": "order.metadata", "property": "tags",
            "conditions": {"$in": [1, 2.25, "x", true, null, [1, "y"], 0.1,
                                   "123456789.123456789123456789"]}},
            "logic": "1"},
            "applicable_to": {"included": [{"object": "sku", "id": "s",
                                            "aggregated_amount_limit": "10.01"}]}}"#;
        let raw: RawRuleSet = serde_json::from_str(json).unwrap();
        let again: RawRuleSet =
            serde_json::from_str(&serde_json::to_string(&raw).unwrap()).unwrap();
        assert_eq!(again, raw);
        assert_eq!(
            raw.applicable_to.included[0].aggregated_amount_limit,
            Some(Decimal::new(1001, 2))
        );
    }
}
