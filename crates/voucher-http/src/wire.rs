//! What every endpoint shares on the wire: JSON bodies where `null` means
//! absent and an empty body means `{}`, bracket-notation query strings,
//! integer amounts (the value times 100), timestamps with milliseconds,
//! metadata, and the two list envelopes.
//!
//! Resource shapes live in the modules of `routes/`, each next to its
//! handlers; this module holds only what several of them need.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::de::DeserializeOwned;
use serde_json::{json, Map, Value as Json};
use voucher_core::money::{Currency, Money};
use voucher_core::value::{Metadata, Value};

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON body. An empty body is `{}` (the Python SDK sends enable, disable
/// and add-vouchers with no body and no Content-Type); `null` fields are
/// absent (serde's `Option`); a body over the limit is 413; malformed JSON
/// or wrong types are 400 `invalid_payload`.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let limit = state.config.json_body_max;
        let bytes = read_body(request, limit).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Reads a body up to `limit` bytes: over it is 413 with the error body.
pub async fn read_body(request: Request, limit: usize) -> Result<Bytes, ApiError> {
    axum::body::to_bytes(request.into_body(), limit)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "Request body too large",
            )
            .with_details(format!("the body is limited to {limit} bytes"))
        })
}

/// Parses JSON bytes (empty: `{}`) into `T`.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| ApiError::invalid_payload(e.to_string()))
}

/// A query string in `qs` bracket notation (`created_at[before]=...`,
/// `filters[active][conditions][$active]=true`), parsed leniently; errors are
/// 400 `invalid_query_params`.
#[derive(Debug, Clone)]
pub struct WireQuery<T>(pub T);

impl<T: DeserializeOwned + Send> FromRequestParts<AppState> for WireQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &AppState) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or("")).map(WireQuery)
    }
}

/// Parses a query string (without the `?`) as [`WireQuery`] does.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let config = serde_qs::Config::new().max_depth(5).use_form_encoding(true);
    config
        .deserialize_str::<T>(query)
        .map_err(|e| ApiError::bad_request("invalid_query_params", e.to_string()))
}

/// A wire amount (the value times 100, whatever the currency) as money of
/// the project's currency; 400 `invalid_amount` if the currency cannot
/// express it or it is out of range.
pub fn money(wire: i64, currency: Currency) -> Result<Money, ApiError> {
    Money::from_wire(wire, currency)
        .map_err(|e| ApiError::bad_request("invalid_amount", e.to_string()))
}

/// Minor units of the currency (cents) as the wire's integer.
pub fn to_wire(minor: i64, currency: Currency) -> i64 {
    Money::from_minor(minor, currency)
        .ok()
        .and_then(|m| m.to_wire().ok())
        .unwrap_or(minor)
}

/// A wire integer as minor units of the currency.
pub fn to_minor(wire: i64, currency: Currency) -> Result<i64, ApiError> {
    money(wire, currency)?
        .to_minor()
        .map_err(|e| ApiError::bad_request("invalid_amount", e.to_string()))
}

/// An instant as the wire writes it: `2022-12-31T23:59:59.000Z`.
pub fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The `created_at` and `updated_at` of a wire object, as [`timestamp`]s.
pub fn insert_timestamps(
    object: &mut serde_json::Map<String, Json>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
) {
    object.insert("created_at".into(), Json::String(timestamp(created_at)));
    object.insert("updated_at".into(), Json::String(timestamp(updated_at)));
}

/// JSON metadata (an object) as the core's metadata; anything else is 400.
pub fn metadata(json: Option<Json>) -> Result<Metadata, ApiError> {
    match json {
        None | Some(Json::Null) => Ok(Metadata::new()),
        Some(Json::Object(map)) => serde_json::from_value(Json::Object(map))
            .map_err(|e| ApiError::invalid_payload(format!("metadata: {e}"))),
        Some(_) => Err(ApiError::invalid_payload("metadata must be an object")),
    }
}

/// The core's metadata as a JSON object.
pub fn metadata_json(metadata: &Metadata) -> Json {
    serde_json::to_value(metadata).unwrap_or_else(|_| Json::Object(Map::new()))
}

/// One metadata value as JSON.
pub fn value_json(value: &Value) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

/// The old list envelope: `{object:"list", data_ref, <data_ref>: [...], total}`.
pub fn old_list(data_ref: &str, items: Vec<Json>, total: u64) -> Json {
    let mut map = Map::new();
    map.insert("object".into(), json!("list"));
    map.insert("data_ref".into(), json!(data_ref));
    map.insert(data_ref.into(), Json::Array(items));
    map.insert("total".into(), json!(total));
    Json::Object(map)
}

/// The new list envelope: `{object:"list", data_ref:"data", data, total,
/// has_more, more_starting_after}`.
pub fn new_list(items: Vec<Json>, total: u64, has_more: bool, next: Option<String>) -> Json {
    let mut map = Map::new();
    map.insert("object".into(), json!("list"));
    map.insert("data_ref".into(), json!("data"));
    map.insert("data".into(), Json::Array(items));
    map.insert("total".into(), json!(total));
    map.insert("has_more".into(), json!(has_more));
    if let Some(next) = next {
        map.insert("more_starting_after".into(), json!(next));
    }
    Json::Object(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_bodies_are_empty_objects_and_nulls_absent() {
        #[derive(Debug, serde::Deserialize)]
        struct Body {
            code: Option<String>,
        }
        assert_eq!(parse_json::<Body>(b"").unwrap().code, None);
        assert_eq!(parse_json::<Body>(b"  ").unwrap().code, None);
        assert_eq!(parse_json::<Body>(br#"{"code":null}"#).unwrap().code, None);
        let err = parse_json::<Body>(b"{").unwrap_err();
        assert_eq!(
            (err.status.as_u16(), err.key.as_str()),
            (400, "invalid_payload")
        );
    }

    #[test]
    fn wire_amounts_are_the_value_times_one_hundred() {
        assert_eq!(to_minor(10_000, Currency::EUR).unwrap(), 10_000);
        assert_eq!(to_minor(10_000, Currency::JPY).unwrap(), 100);
        assert_eq!(to_wire(100, Currency::JPY), 10_000);
        assert_eq!(
            to_minor(150, Currency::JPY).unwrap_err().key,
            "invalid_amount"
        );
    }

    #[test]
    fn timestamps_carry_milliseconds() {
        use chrono::TimeZone;
        let t = Utc.with_ymd_and_hms(2022, 12, 31, 23, 59, 59).unwrap();
        assert_eq!(timestamp(t), "2022-12-31T23:59:59.000Z");
    }
}
