//! Metadata values: what customers, orders and items carry as free-form
//! attributes, and what rule conditions compare them with. Ordered maps only,
//! so that every decision is deterministic.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::Decimal;
use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};

/// A metadata value. Numbers are exact decimals.
///
/// Serde reads JSON numbers as [`Value::Number`] (through their shortest
/// text, so `0.1` is exactly 0.1) and writes a number as a JSON number when
/// a float carries it exactly, else as text. Objects are [`Value::Map`]s,
/// ordered by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Absent or JSON `null`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An exact number.
    Number(Decimal),
    /// A string.
    Text(String),
    /// A list of values.
    List(Vec<Value>),
    /// Nested attributes, ordered by key.
    Map(BTreeMap<String, Value>),
}

impl Value {
    /// The number, if this is one (a numeric string counts too).
    pub fn as_number(&self) -> Option<Decimal> {
        match self {
            Value::Number(n) => Some(*n),
            Value::Text(t) => Decimal::from_str_exact(t.trim()).ok(),
            _ => None,
        }
    }

    /// The text, if this is a string.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(t) => Some(t),
            _ => None,
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Text(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Text(s)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Value {
        Value::Number(Decimal::from(n))
    }
}

impl From<Decimal> for Value {
    fn from(n: Decimal) -> Value {
        Value::Number(n)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Text(t) => serializer.serialize_str(t),
            Value::List(list) => {
                let mut seq = serializer.serialize_seq(Some(list.len()))?;
                for value in list {
                    seq.serialize_element(value)?;
                }
                seq.end()
            }
            Value::Map(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    out.serialize_entry(key, value)?;
                }
                out.end()
            }
            Value::Number(n) => {
                if n.fract().is_zero() {
                    if let Ok(i) = i64::try_from(*n) {
                        return serializer.serialize_i64(i);
                    }
                }
                let float: Option<f64> = n.to_string().parse().ok();
                match float {
                    Some(f) if Decimal::from_str_exact(&format!("{f}")).ok() == Some(*n) => {
                        serializer.serialize_f64(f)
                    }
                    _ => serializer.serialize_str(&n.to_string()),
                }
            }
        }
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("null, a boolean, a number, a string, a list or an object")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Value, E> {
        Ok(Value::Bool(b))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Value, E> {
        Ok(Value::Number(Decimal::from(n)))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Value, E> {
        Ok(Value::Number(Decimal::from(n)))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Value, E> {
        // The shortest text that reads back as the same float.
        Decimal::from_str_exact(&format!("{n}"))
            .map(Value::Number)
            .map_err(|_| E::custom("number out of range"))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Value, E> {
        Ok(Value::Text(s.to_owned()))
    }

    fn visit_string<E: de::Error>(self, s: String) -> Result<Value, E> {
        Ok(Value::Text(s))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut list = Vec::new();
        while let Some(value) = seq.next_element()? {
            list.push(value);
        }
        Ok(Value::List(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = BTreeMap::new();
        while let Some((key, value)) = access.next_entry::<String, Value>()? {
            map.insert(key, value);
        }
        Ok(Value::Map(map))
    }
}

/// Free-form attributes, ordered by key.
pub type Metadata = BTreeMap<String, Value>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trips() {
        let check = |json: &str, expected: Value| {
            let value: Value = serde_json::from_str(json).unwrap();
            assert_eq!(value, expected, "{json}");
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
        };
        check("10", Value::Number(Decimal::from(10)));
        check("0.1", Value::Number(Decimal::new(1, 1)));
        check("-2.5", Value::Number(Decimal::new(-25, 1)));
        check("\"gold\"", Value::Text("gold".into()));
        check(
            "[true,null,\"a\",3]",
            Value::List(vec![true.into(), Value::Null, "a".into(), 3.into()]),
        );
        let mut nested = BTreeMap::new();
        nested.insert("a".to_owned(), Value::from(1));
        check("{\"a\":1}", Value::Map(nested));
    }
}
