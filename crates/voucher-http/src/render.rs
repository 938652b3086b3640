//! The wire objects several resources share, both ways: the discount
//! object, the gift object, the validity fields (`start_date`,
//! `expiration_date`, `validity_timeframe`, `validity_day_of_week`,
//! `validity_hours`) and the voucher object (`object: "voucher"`).
//!
//! Amounts on the wire are integers, the value times 100 whatever the
//! currency (reference §0.8); the core holds [`Money`] or minor units, and
//! [`crate::wire`] converts. Every integer the Python SDK's models declare
//! `StrictInt` (reference §4.3) is written as a JSON integer here.
//!
//! Every resource relies on these functions: a change to one is a change to
//! all their callers. The list parameters are in
//! [`crate::routes::list_params`].

use std::str::FromStr;

use rust_decimal::Decimal;
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};
use voucher_core::discount::{
    default_effect, Discount, DiscountValue, Effect, ItemTargets, UnitProduct,
};
use voucher_core::money::{Currency, Money};
use voucher_core::port::{AssignmentRecord, BenefitSpec, ProjectId, VoucherRecord};
use voucher_core::validity::{
    DaySet, HoursWindow, IsoDuration, Moment, TimeOfDay, Timeframe, Validity,
};
use voucher_core::voucher::RedemptionQuantity;

use crate::asset_token::AssetLinks;
use crate::error::ApiError;
use crate::state::AppState;
use crate::wire;

// ---------------------------------------------------------------------------
// Small readers of wire JSON

/// A JSON number that must be a whole number (the wire's integers; a float
/// with no fraction such as `1000.0` is accepted). `None` for anything else.
pub fn json_integer(value: &Json) -> Option<i64> {
    match value {
        // `1000.0`: through its decimal text, exactly.
        Json::Number(n) => n.as_i64().or_else(|| {
            json_decimal(value)
                .filter(|d| d.fract().is_zero())
                .and_then(|d| i64::try_from(d).ok())
        }),
        _ => None,
    }
}

/// A JSON number (or a numeric string) as a decimal, exactly as written.
pub fn json_decimal(value: &Json) -> Option<Decimal> {
    let text = match value {
        Json::Number(n) => n.to_string(),
        Json::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    Decimal::from_str(&text)
        .or_else(|_| Decimal::from_scientific(&text))
        .ok()
}

fn field<'a>(object: &'a Map<String, Json>, name: &str) -> Option<&'a Json> {
    object.get(name).filter(|v| !v.is_null())
}

/// A required or optional wire amount field of `object` as money:
/// `invalid_payload` when it is not a whole number, `invalid_amount` when
/// the currency cannot hold it.
fn amount_field(
    object: &Map<String, Json>,
    name: &str,
    currency: Currency,
) -> Result<Option<Money>, ApiError> {
    match field(object, name) {
        None => Ok(None),
        Some(value) => {
            let wire_amount = json_integer(value).ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_amount",
                    format!("{name} must be an integer amount (the value times 100)"),
                )
            })?;
            if wire_amount < 0 {
                return Err(ApiError::bad_request(
                    "invalid_amount",
                    format!("{name} must not be negative"),
                ));
            }
            wire::money(wire_amount, currency).map(Some)
        }
    }
}

fn required<T>(value: Option<T>, name: &str, kind: &str) -> Result<T, ApiError> {
    value.ok_or_else(|| {
        ApiError::invalid_payload(format!("a {kind} discount needs the property {name}"))
    })
}

/// A money amount as the wire's integer (the value times 100).
pub fn money_json(money: &Money) -> Json {
    money.to_wire().map(Json::from).unwrap_or(Json::Null)
}

/// A decimal as a JSON number: an integer when whole, else a float.
pub fn decimal_json(value: Decimal) -> Json {
    if value.fract().is_zero() {
        if let Ok(n) = i64::try_from(value.trunc()) {
            return json!(n);
        }
    }
    serde_json::Number::from_str(&value.normalize().to_string())
        .map(Json::Number)
        .unwrap_or(Json::Null)
}

// ---------------------------------------------------------------------------
// Discount

fn parse_effect(value: &Json) -> Result<Effect, ApiError> {
    serde_json::from_value::<Effect>(value.clone()).map_err(|_| {
        ApiError::invalid_payload(format!("discount.effect {value} is not a known effect"))
    })
}

/// The product a UNIT discount names: `sku.id` (or `sku.source_id`) decides
/// alone, else `product.id` (or `product.source_id`), else `unit_type`, a
/// SKU when it starts with `sku_`, a product otherwise.
fn unit_product(object: &Map<String, Json>) -> Result<UnitProduct, ApiError> {
    let id_of = |name: &str| {
        field(object, name)
            .and_then(Json::as_object)
            .and_then(|o| field(o, "id").or_else(|| field(o, "source_id")))
            .and_then(Json::as_str)
            .map(str::to_owned)
    };
    let mut sku = id_of("sku");
    let mut product = id_of("product");
    if sku.is_none() && product.is_none() {
        match field(object, "unit_type").and_then(Json::as_str) {
            Some(id) if id.starts_with("sku_") => sku = Some(id.to_owned()),
            Some(id) => product = Some(id.to_owned()),
            None => {}
        }
    }
    UnitProduct::new(product, sku)
        .map_err(|e| ApiError::invalid_payload(format!("a UNIT discount needs unit_type: {e}")))
}

/// The unit price of a UNIT discount's product, if given (`sku.price`, else
/// `product.price`, wire integers).
fn unit_price(object: &Map<String, Json>, currency: Currency) -> Result<Option<Money>, ApiError> {
    for name in ["sku", "product"] {
        if let Some(inner) = field(object, name).and_then(Json::as_object) {
            if let Some(price) = amount_field(inner, "price", currency)? {
                return Ok(Some(price));
            }
        }
    }
    Ok(None)
}

/// Parses the wire's discount object into a checked core discount:
/// `{type: AMOUNT, amount_off, effect?}`, `{type: PERCENT, percent_off,
/// amount_limit?, effect?}`, `{type: FIXED, fixed_amount, effect?}`,
/// `{type: UNIT, unit_off, unit_type | product{id} | sku{id}, effect?}`.
/// Amounts are the wire's integers (the value times 100) in `currency`;
/// `percent_off` may be a float. A missing effect takes the type's default
/// for a code without product rules ([`default_effect`]). Formulas,
/// `aggregated_amount_limit` and `is_dynamic` are not supported and ignored.
///
/// Errors: 400 `invalid_payload` for a missing or unknown type, a missing
/// value, an effect that does not suit the type (`ADD_MANY_ITEMS` among
/// them); 400 `invalid_amount` for an amount that is not a non-negative
/// integer the currency can hold.
pub fn parse_discount(value: &Json, currency: Currency) -> Result<Discount, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::invalid_payload("discount must be an object"))?;
    let kind = field(object, "type")
        .and_then(Json::as_str)
        .ok_or_else(|| ApiError::invalid_payload("discount.type is required"))?;
    let discount_value = match kind {
        "AMOUNT" => DiscountValue::Amount {
            amount_off: required(
                amount_field(object, "amount_off", currency)?,
                "amount_off",
                kind,
            )?,
        },
        "PERCENT" => {
            let percent_off = match field(object, "percent_off") {
                None => return Err(required::<()>(None, "percent_off", kind).unwrap_err()),
                Some(v) => json_decimal(v).ok_or_else(|| {
                    ApiError::invalid_payload("discount.percent_off must be a number")
                })?,
            };
            DiscountValue::Percent {
                percent_off,
                amount_limit: amount_field(object, "amount_limit", currency)?,
            }
        }
        "FIXED" => DiscountValue::Fixed {
            fixed_amount: required(
                amount_field(object, "fixed_amount", currency)?,
                "fixed_amount",
                kind,
            )?,
        },
        "UNIT" => {
            if field(object, "effect").and_then(Json::as_str) == Some("ADD_MANY_ITEMS") {
                return Err(ApiError::invalid_payload(
                    "UNIT discounts with effect ADD_MANY_ITEMS are not supported",
                ));
            }
            let unit_off = match field(object, "unit_off") {
                None => 1,
                Some(v) => json_integer(v)
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| {
                        ApiError::invalid_payload("discount.unit_off must be a positive integer")
                    })?,
            };
            DiscountValue::Unit {
                unit_off,
                product: unit_product(object)?,
                price: unit_price(object, currency)?,
            }
        }
        other => {
            return Err(ApiError::invalid_payload(format!(
                "discount.type {other:?} is not one of AMOUNT, PERCENT, FIXED, UNIT"
            )))
        }
    };
    let effect = match field(object, "effect") {
        Some(v) => parse_effect(v)?,
        None => default_effect(&discount_value, ItemTargets::Undefined),
    };
    Discount::new(discount_value, effect).map_err(|e| {
        let key = e.key().unwrap_or("invalid_payload");
        ApiError::bad_request(key, format!("discount: {e}"))
    })
}

/// The wire's discount object of a core discount (amounts as the wire's
/// integers, `percent_off` a number, `unit_off` an integer).
pub fn discount_json(discount: &Discount) -> Json {
    let mut object = Map::new();
    object.insert("type".into(), json!(discount.value().kind().wire_name()));
    match discount.value() {
        DiscountValue::Amount { amount_off } => {
            object.insert("amount_off".into(), money_json(amount_off));
        }
        DiscountValue::Percent {
            percent_off,
            amount_limit,
        } => {
            object.insert("percent_off".into(), decimal_json(*percent_off));
            if let Some(limit) = amount_limit {
                object.insert("amount_limit".into(), money_json(limit));
            }
        }
        DiscountValue::Fixed { fixed_amount } => {
            object.insert("fixed_amount".into(), money_json(fixed_amount));
        }
        DiscountValue::Unit {
            unit_off,
            product,
            price,
        } => {
            object.insert("unit_off".into(), json!(unit_off));
            let unit_type = product.sku_id().or(product.product_id()).unwrap_or("");
            object.insert("unit_type".into(), json!(unit_type));
            let with_price = |id: &str| {
                let mut inner = Map::new();
                inner.insert("id".into(), json!(id));
                if let Some(price) = price {
                    inner.insert("price".into(), money_json(price));
                }
                Json::Object(inner)
            };
            if let Some(id) = product.product_id() {
                object.insert("product".into(), with_price(id));
            }
            if let Some(id) = product.sku_id() {
                object.insert("sku".into(), with_price(id));
            }
        }
    }
    object.insert("effect".into(), json!(discount.effect().wire_name()));
    Json::Object(object)
}

// ---------------------------------------------------------------------------
// Gift

/// Parses the wire's gift object `{amount, effect?}` into the initial amount
/// in minor units of `currency`. `balance` (server-managed) is ignored;
/// `effect` may be absent or `APPLY_TO_ORDER` (gift credits always reduce
/// the order's total).
///
/// Errors: 400 `invalid_payload` for a non-object or another effect; 400
/// `invalid_amount` for a missing, negative, fractional or unholdable
/// amount.
pub fn parse_gift(value: &Json, currency: Currency) -> Result<i64, ApiError> {
    let object = value
        .as_object()
        .ok_or_else(|| ApiError::invalid_payload("gift must be an object"))?;
    match field(object, "effect").map(|e| e.as_str()) {
        None | Some(Some("APPLY_TO_ORDER")) => {}
        Some(_) => {
            return Err(ApiError::invalid_payload(
                "gift.effect must be APPLY_TO_ORDER",
            ))
        }
    }
    let amount = amount_field(object, "amount", currency)?
        .ok_or_else(|| ApiError::bad_request("invalid_amount", "gift.amount is required"))?;
    amount
        .to_minor()
        .map_err(|e| ApiError::bad_request("invalid_amount", e.to_string()))
}

/// The wire's gift object `{amount, balance, effect}`: integers (the value
/// times 100), effect `APPLY_TO_ORDER`.
pub fn gift_json(amount_minor: i64, balance_minor: i64, currency: Currency) -> Json {
    json!({
        "amount": wire::to_wire(amount_minor, currency),
        "balance": wire::to_wire(balance_minor, currency),
        "effect": "APPLY_TO_ORDER",
    })
}

// ---------------------------------------------------------------------------
// Validity

/// The wire's `validity_timeframe`.
#[derive(Debug, Clone, Deserialize)]
pub struct TimeframeWire {
    /// How often a period begins (`P2D`).
    pub interval: Option<String>,
    /// How long each lasts (`PT1H`).
    pub duration: Option<String>,
}

/// One window of the wire's `validity_hours.daily`.
#[derive(Debug, Clone, Deserialize)]
pub struct HoursWindowWire {
    /// `HH:MM`.
    pub start_time: Option<String>,
    /// `HH:MM` (exclusive).
    pub expiration_time: Option<String>,
    /// Days the window opens on (0 = Sunday); absent or empty: every day.
    pub days_of_week: Option<Vec<u8>>,
}

/// The wire's `validity_hours`.
#[derive(Debug, Clone, Deserialize)]
pub struct HoursWire {
    /// Daily windows.
    pub daily: Option<Vec<HoursWindowWire>>,
}

/// The validity fields of a voucher, campaign or template request, as sent
/// (flatten it into a request body: `#[serde(flatten)] validity:
/// ValidityWire`). `null` is absent.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ValidityWire {
    /// `start_date`: a date or an ISO 8601 instant.
    pub start_date: Option<String>,
    /// `expiration_date`: a date or an ISO 8601 instant.
    pub expiration_date: Option<String>,
    /// `validity_timeframe`.
    pub validity_timeframe: Option<TimeframeWire>,
    /// `validity_day_of_week` (0 = Sunday … 6); empty: every day.
    pub validity_day_of_week: Option<Vec<u8>>,
    /// `validity_hours`.
    pub validity_hours: Option<HoursWire>,
}

impl ValidityWire {
    /// True when no validity field was given.
    pub fn is_empty(&self) -> bool {
        self.start_date.is_none()
            && self.expiration_date.is_none()
            && self.validity_timeframe.is_none()
            && self.validity_day_of_week.is_none()
            && self.validity_hours.is_none()
    }
}

fn invalid_validity(name: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::invalid_payload(format!("{name}: {e}"))
}

/// Parses a start or expiry: a date, an RFC 3339 instant, or an instant
/// without an offset (Python's naive `isoformat()`), read as UTC.
pub fn parse_moment(text: &str, name: &str) -> Result<Moment, ApiError> {
    Moment::parse(text)
        .or_else(|e| {
            let looks_naive = text.len() >= 16
                && text.as_bytes().get(10) == Some(&b'T')
                && !text.ends_with('Z')
                && !text[10..].contains(['+', '-']);
            if looks_naive {
                Moment::parse(&format!("{text}Z")).map_err(|_| e)
            } else {
                Err(e)
            }
        })
        .map_err(|e| invalid_validity(name, e))
}

fn parse_days(days: &[u8], name: &str) -> Result<Option<DaySet>, ApiError> {
    if days.is_empty() {
        return Ok(None);
    }
    DaySet::from_wire(days)
        .map(Some)
        .map_err(|e| invalid_validity(name, e))
}

/// Applies the validity fields given in `wire` over `base`: each given
/// field replaces its part, absent ones keep it (PUT semantics; pass
/// `Validity::default()` to create). An empty `validity_day_of_week` or
/// `validity_hours.daily` clears that part. The result is not checked
/// against a time zone here (the store does, with the project's zone).
///
/// Errors: 400 `invalid_payload` naming the field.
pub fn apply_validity(base: &Validity, wire: &ValidityWire) -> Result<Validity, ApiError> {
    let mut validity = base.clone();
    if let Some(text) = &wire.start_date {
        validity.start = Some(parse_moment(text, "start_date")?);
    }
    if let Some(text) = &wire.expiration_date {
        validity.expiration = Some(parse_moment(text, "expiration_date")?);
    }
    if let Some(timeframe) = &wire.validity_timeframe {
        let duration = |text: &Option<String>, name: &str| {
            let text = text.as_deref().ok_or_else(|| {
                ApiError::invalid_payload(format!("validity_timeframe.{name} is required"))
            })?;
            IsoDuration::parse(text).map_err(|e| invalid_validity("validity_timeframe", e))
        };
        validity.timeframe = Some(Timeframe {
            interval: duration(&timeframe.interval, "interval")?,
            duration: duration(&timeframe.duration, "duration")?,
        });
    }
    if let Some(days) = &wire.validity_day_of_week {
        validity.days_of_week = parse_days(days, "validity_day_of_week")?;
    }
    if let Some(hours) = &wire.validity_hours {
        let mut windows = Vec::new();
        for window in hours.daily.iter().flatten() {
            let time = |text: &Option<String>, name: &str| {
                let text = text.as_deref().ok_or_else(|| {
                    ApiError::invalid_payload(format!("validity_hours.daily[].{name} is required"))
                })?;
                TimeOfDay::parse(text).map_err(|e| invalid_validity("validity_hours", e))
            };
            windows.push(HoursWindow {
                start_time: time(&window.start_time, "start_time")?,
                expiration_time: time(&window.expiration_time, "expiration_time")?,
                days_of_week: parse_days(
                    window.days_of_week.as_deref().unwrap_or(&[]),
                    "validity_hours",
                )?,
            });
        }
        validity.daily_hours = windows;
    }
    Ok(validity)
}

/// Parses the validity fields of a new object (see [`apply_validity`]).
pub fn parse_validity(wire: &ValidityWire) -> Result<Validity, ApiError> {
    apply_validity(&Validity::default(), wire)
}

/// The five validity fields as the wire writes them, `null` when unset:
/// `start_date`, `expiration_date` (a date or an instant with
/// milliseconds), `validity_timeframe {interval, duration}`,
/// `validity_day_of_week [0..6]`, `validity_hours {daily: [{start_time,
/// expiration_time, days_of_week}]}`.
pub fn validity_fields(validity: &Validity) -> Map<String, Json> {
    let mut object = Map::new();
    let moment = |m: &Option<Moment>| m.map_or(Json::Null, |m| json!(m.to_string()));
    object.insert("start_date".into(), moment(&validity.start));
    object.insert("expiration_date".into(), moment(&validity.expiration));
    object.insert(
        "validity_timeframe".into(),
        validity.timeframe.map_or(
            Json::Null,
            |t| json!({"interval": t.interval.to_string(), "duration": t.duration.to_string()}),
        ),
    );
    object.insert(
        "validity_day_of_week".into(),
        validity
            .days_of_week
            .map_or(Json::Null, |d| json!(d.to_wire())),
    );
    let hours = if validity.daily_hours.is_empty() {
        Json::Null
    } else {
        let daily: Vec<Json> = validity
            .daily_hours
            .iter()
            .map(|w| {
                json!({
                    "start_time": w.start_time.to_string(),
                    "expiration_time": w.expiration_time.to_string(),
                    "days_of_week": w.days_of_week.unwrap_or(DaySet::EVERY_DAY).to_wire(),
                })
            })
            .collect();
        json!({ "daily": daily })
    };
    object.insert("validity_hours".into(), hours);
    object
}

// ---------------------------------------------------------------------------
// Voucher

/// A rule assignment as the wire writes it
/// (`object: "validation_rules_assignment"`).
pub fn assignment_json(assignment: &AssignmentRecord) -> Json {
    json!({
        "id": assignment.id,
        "rule_id": assignment.rule_id,
        "related_object_id": assignment.related_id,
        "related_object_type": assignment.related_type,
        "created_at": wire::timestamp(assignment.created_at),
        "object": "validation_rules_assignment",
    })
}

/// A path segment percent-encoded as `encodeURIComponent` does.
pub fn encode_segment(text: &str) -> String {
    const COMPONENT: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'!')
        .remove(b'~')
        .remove(b'*')
        .remove(b'\'')
        .remove(b'(')
        .remove(b')');
    percent_encoding::utf8_percent_encode(text, COMPONENT).to_string()
}

/// The wire's `redemption.quantity`: an integer, `null` for unlimited.
pub fn quantity_json(quantity: RedemptionQuantity) -> Json {
    match quantity {
        RedemptionQuantity::Limited(n) => json!(n),
        RedemptionQuantity::Unlimited => Json::Null,
    }
}

/// The wire's voucher object (`object: "voucher"`) of a stored voucher:
/// `id`, `code`, `campaign` (name), `campaign_id`, `category`, `type`
/// (`DISCOUNT_VOUCHER` | `GIFT_VOUCHER`), `discount`, `gift`,
/// `loyalty_card: null`, the validity fields, `active`, `additional_info`,
/// `metadata`, `assets` (`{qr: {id, url}, barcode: {id, url}}`, signed by
/// `assets`), `is_referral_code: false`, `created_at`,
/// `updated_at`, `holder_id`, `redemption {quantity, redeemed_quantity,
/// redeemed_amount, object: "list", url}`, `publish {object: "list", count,
/// url}`, `validation_rules_assignments`, `object: "voucher"`. Amounts are
/// integers in the wire's unit for `currency` (the project's).
pub fn voucher_json(voucher: &VoucherRecord, currency: Currency, assets: &AssetLinks) -> Json {
    let code = voucher.code.as_str();
    let encoded = encode_segment(code);
    let (kind, discount, gift) = match &voucher.benefit {
        BenefitSpec::Discount(discount) => {
            ("DISCOUNT_VOUCHER", discount_json(discount), Json::Null)
        }
        BenefitSpec::Gift { amount_minor } => (
            "GIFT_VOUCHER",
            Json::Null,
            gift_json(
                *amount_minor,
                voucher.gift_balance_minor.unwrap_or(*amount_minor),
                currency,
            ),
        ),
    };
    let (campaign_id, campaign_name) = match &voucher.campaign {
        Some((id, name)) => (json!(id), json!(name)),
        None => (Json::Null, Json::Null),
    };
    let mut object = Map::new();
    object.insert("id".into(), json!(voucher.id));
    object.insert("code".into(), json!(code));
    object.insert("campaign".into(), campaign_name);
    object.insert("campaign_id".into(), campaign_id);
    object.insert("category".into(), json!(voucher.category));
    object.insert("category_id".into(), Json::Null);
    object.insert("categories".into(), json!([]));
    object.insert("type".into(), json!(kind));
    object.insert("discount".into(), discount);
    object.insert("gift".into(), gift);
    object.insert("loyalty_card".into(), Json::Null);
    object.extend(validity_fields(&voucher.validity));
    object.insert("active".into(), json!(voucher.activity.is_enabled()));
    object.insert("additional_info".into(), json!(voucher.additional_info));
    object.insert("metadata".into(), wire::metadata_json(&voucher.metadata));
    object.insert("assets".into(), assets.voucher_assets(&voucher.id));
    object.insert("is_referral_code".into(), json!(false));
    wire::insert_timestamps(&mut object, voucher.created_at, voucher.updated_at);
    object.insert("holder_id".into(), json!(voucher.holder_id));
    object.insert("referrer_id".into(), Json::Null);
    object.insert(
        "redemption".into(),
        json!({
            "quantity": quantity_json(voucher.quantity),
            "redeemed_quantity": voucher.redeemed_quantity,
            "redeemed_amount": wire::to_wire(voucher.redeemed_amount_minor, currency),
            "object": "list",
            "url": format!("/v1/vouchers/{encoded}/redemption?page=1&limit=10"),
        }),
    );
    object.insert(
        "publish".into(),
        json!({
            "object": "list",
            "count": voucher.publish_count,
            "url": format!("/v1/vouchers/{encoded}/publications?page=1&limit=10"),
        }),
    );
    let assignments: Vec<Json> = voucher.assignments.iter().map(assignment_json).collect();
    let total = assignments.len();
    object.insert(
        "validation_rules_assignments".into(),
        json!({"object": "list", "data_ref": "data", "data": assignments, "total": total}),
    );
    object.insert("object".into(), json!("voucher"));
    Json::Object(object)
}

/// The currency of `project` (one store read), for rendering amounts.
pub async fn project_currency(state: &AppState, project: ProjectId) -> Result<Currency, ApiError> {
    state
        .store(move |store| store.project(project))
        .await
        .map(|p| p.spec.currency)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::EUR
    }

    #[test]
    fn discounts_round_trip_through_the_wire() {
        for wire_discount in [
            json!({"type": "AMOUNT", "amount_off": 1000, "effect": "APPLY_TO_ORDER"}),
            json!({"type": "PERCENT", "percent_off": 10, "amount_limit": 500, "effect": "APPLY_TO_ITEMS"}),
            json!({"type": "PERCENT", "percent_off": 12.5, "effect": "APPLY_TO_ORDER"}),
            json!({"type": "FIXED", "fixed_amount": 2000, "effect": "APPLY_TO_ITEMS"}),
            json!({"type": "UNIT", "unit_off": 2, "unit_type": "prod_1", "product": {"id": "prod_1"}, "effect": "ADD_MISSING_ITEMS"}),
        ] {
            let discount = parse_discount(&wire_discount, eur()).unwrap();
            assert_eq!(discount_json(&discount), wire_discount);
        }
    }

    #[test]
    fn discount_defaults_and_refusals() {
        let d = parse_discount(&json!({"type": "AMOUNT", "amount_off": 1000.0}), eur()).unwrap();
        assert_eq!(discount_json(&d)["effect"], "APPLY_TO_ORDER");
        let d = parse_discount(&json!({"type": "UNIT", "unit_type": "sku_1"}), eur()).unwrap();
        assert_eq!(discount_json(&d)["sku"]["id"], "sku_1");
        assert_eq!(discount_json(&d)["effect"], "ADD_MISSING_ITEMS");
        for (bad, key) in [
            (json!({"type": "AMOUNT"}), "invalid_payload"),
            (
                json!({"type": "AMOUNT", "amount_off": -1}),
                "invalid_amount",
            ),
            (
                json!({"type": "AMOUNT", "amount_off": "x"}),
                "invalid_amount",
            ),
            (
                json!({"type": "PERCENT", "percent_off": 101}),
                "invalid_payload",
            ),
            (json!({"type": "NOPE"}), "invalid_payload"),
            (
                json!({"type": "FIXED", "fixed_amount": 1, "effect": "ADD_NEW_ITEMS"}),
                "invalid_payload",
            ),
            (json!([]), "invalid_payload"),
        ] {
            let err = parse_discount(&bad, eur()).unwrap_err();
            assert_eq!(err.status.as_u16(), 400, "{bad}");
            assert_eq!(err.key, key, "{bad}");
        }
    }

    #[test]
    fn gifts_are_integers() {
        assert_eq!(parse_gift(&json!({"amount": 10000}), eur()).unwrap(), 10000);
        assert_eq!(
            parse_gift(&json!({"amount": -1}), eur()).unwrap_err().key,
            "invalid_amount"
        );
        assert_eq!(
            gift_json(10000, 2500, eur()),
            json!({"amount": 10000, "balance": 2500, "effect": "APPLY_TO_ORDER"})
        );
    }

    #[test]
    fn validity_round_trips() {
        let wire_validity = json!({
            "start_date": "2026-01-01T00:00:00.000Z",
            "expiration_date": "2026-12-31",
            "validity_timeframe": {"interval": "P2D", "duration": "PT1H"},
            "validity_day_of_week": [1, 2],
            "validity_hours": {"daily": [{"start_time": "12:00", "expiration_time": "14:00", "days_of_week": [1, 2]}]},
        });
        let parsed: ValidityWire = serde_json::from_value(wire_validity.clone()).unwrap();
        let validity = parse_validity(&parsed).unwrap();
        assert_eq!(Json::Object(validity_fields(&validity)), wire_validity);
        let naive: ValidityWire =
            serde_json::from_value(json!({"start_date": "2026-01-01T10:00:00"})).unwrap();
        assert!(parse_validity(&naive).is_ok());
        let python: ValidityWire =
            serde_json::from_value(json!({"start_date": "2026-01-01T10:00:00+00:00"})).unwrap();
        assert!(parse_validity(&python).is_ok());
        let bad: ValidityWire =
            serde_json::from_value(json!({"validity_day_of_week": [7]})).unwrap();
        assert_eq!(parse_validity(&bad).unwrap_err().key, "invalid_payload");
    }

    #[test]
    fn codes_are_encoded_like_encode_uri_component() {
        assert_eq!(encode_segment("AB C/1"), "AB%20C%2F1");
        assert_eq!(encode_segment("a-b_c.d~"), "a-b_c.d~");
    }
}
