//! The wire shapes the checkout endpoints share (validations, redemptions,
//! qualifications, and their client-side twins): the request's order,
//! items, customer, redeemables and metadata turned into a core
//! [`CheckoutRequest`], and the order, discount and gift objects of the
//! answers. Amounts on the wire are integers (the value times 100); the
//! SDKs and docs also send quantities and amounts as numeric strings, which
//! are accepted.

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{json, Map, Value as Json};
use voucher_core::discount::{Applied, DiscountLevel, OrderState};
use voucher_core::money::{Currency, Money};
use voucher_core::order::{Order, OrderItem};
use voucher_core::port::{
    BenefitSpec, ChannelType, CheckoutMode, CheckoutRequest, OrderSnapshot, ProjectId,
    ProjectRecord, RedeemableRequest, VoucherRecord,
};
use voucher_core::stacking::{ApplicationMode, NoEffectRule, SortingRule, StackingRules};
use voucher_core::value::{Metadata, Value};

use crate::error::ApiError;
use crate::render;
use crate::routes::customers::CustomerBody;
use crate::state::AppState;
use crate::wire;

/// An integer as the wire sends it: a JSON integer, an integral number, or
/// a string of digits (`"quantity":"1"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WireInt(pub i64);

impl<'de> Deserialize<'de> for WireInt {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<WireInt, D::Error> {
        struct IntVisitor;
        impl Visitor<'_> for IntVisitor {
            type Value = WireInt;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an integer")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<WireInt, E> {
                Ok(WireInt(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<WireInt, E> {
                i64::try_from(v)
                    .map(WireInt)
                    .map_err(|_| E::custom("integer out of range"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<WireInt, E> {
                // `i64::MAX as f64` rounds up to 2^63, so the bound is exclusive.
                if v.fract() == 0.0 && v.abs() < 9.0e18 {
                    #[allow(clippy::cast_possible_truncation)]
                    Ok(WireInt(v as i64))
                } else {
                    Err(E::custom("expected an integer"))
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<WireInt, E> {
                v.trim()
                    .parse::<i64>()
                    .map(WireInt)
                    .map_err(|_| E::custom(format!("expected an integer, got {v:?}")))
            }
        }
        deserializer.deserialize_any(IntVisitor)
    }
}

/// A product or SKU as an order item may describe it.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WireProduct {
    id: Option<String>,
    source_id: Option<String>,
    name: Option<String>,
    price: Option<WireInt>,
    metadata: Option<Json>,
}

/// One line of an order on the wire.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WireItem {
    product_id: Option<String>,
    sku_id: Option<String>,
    related_object: Option<String>,
    source_id: Option<String>,
    quantity: Option<WireInt>,
    price: Option<WireInt>,
    amount: Option<WireInt>,
    product: Option<WireProduct>,
    sku: Option<WireProduct>,
    metadata: Option<Json>,
}

/// An order on the wire.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WireOrder {
    id: Option<String>,
    source_id: Option<String>,
    status: Option<String>,
    amount: Option<WireInt>,
    items: Option<Vec<WireItem>>,
    metadata: Option<Json>,
}

/// Gift credits to spend (`gift:{credits}`).
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WireGift {
    credits: Option<WireInt>,
}

/// One redeemable of a stacked request.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct WireRedeemable {
    object: Option<String>,
    id: Option<String>,
    gift: Option<WireGift>,
}

/// The body of every validation and redemption, legacy or stacked.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct CheckoutBody {
    pub(crate) redeemables: Option<Vec<WireRedeemable>>,
    pub(crate) order: Option<WireOrder>,
    pub(crate) customer: Option<CustomerBody>,
    pub(crate) metadata: Option<Json>,
    pub(crate) tracking_id: Option<String>,
    pub(crate) gift: Option<WireGift>,
}

/// The order statuses the wire knows.
const ORDER_STATUSES: [&str; 4] = ["CREATED", "PAID", "CANCELED", "FULFILLED"];

fn invalid_order(details: impl Into<String>) -> ApiError {
    ApiError::bad_request("invalid_order", details)
}

fn money(wire_int: Option<WireInt>, currency: Currency) -> Result<Option<Money>, ApiError> {
    wire_int.map(|v| wire::money(v.0, currency)).transpose()
}

/// Item categories come from the line's `metadata.categories` (a string or
/// a list of strings) until a product catalogue exists.
fn categories(metadata: &Metadata) -> Vec<String> {
    match metadata.get("categories") {
        Some(Value::Text(one)) => vec![one.clone()],
        Some(Value::List(many)) => many
            .iter()
            .filter_map(|v| match v {
                Value::Text(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

impl WireItem {
    fn product_id(&self) -> Option<String> {
        let product = self.product.as_ref();
        self.product_id
            .clone()
            .or_else(|| product.and_then(|p| p.id.clone()))
            .or_else(|| {
                (self.related_object.as_deref() == Some("product"))
                    .then(|| self.source_id.clone())
                    .flatten()
            })
            .or_else(|| product.and_then(|p| p.source_id.clone()))
    }

    fn sku_id(&self) -> Option<String> {
        let sku = self.sku.as_ref();
        self.sku_id
            .clone()
            .or_else(|| sku.and_then(|p| p.id.clone()))
            .or_else(|| {
                (self.related_object.as_deref() == Some("sku"))
                    .then(|| self.source_id.clone())
                    .flatten()
            })
            .or_else(|| sku.and_then(|p| p.source_id.clone()))
    }

    fn to_core(&self, index: usize, currency: Currency) -> Result<OrderItem, ApiError> {
        let quantity = match self.quantity {
            None => None,
            Some(WireInt(q)) => Some(u64::try_from(q).map_err(|_| {
                invalid_order(format!(
                    "order.items[{index}].quantity must not be negative"
                ))
            })?),
        };
        let price = self
            .price
            .or_else(|| self.sku.as_ref().and_then(|s| s.price))
            .or_else(|| self.product.as_ref().and_then(|p| p.price));
        let metadata = wire::metadata(self.metadata.clone())?;
        Ok(OrderItem {
            product_id: self.product_id(),
            sku_id: self.sku_id(),
            quantity,
            price: money(price, currency)?,
            amount: money(self.amount, currency)?,
            categories: categories(&metadata),
            metadata,
        })
    }
}

impl WireOrder {
    /// The order's id or source id (an engine id wins).
    fn reference(&self) -> Option<String> {
        self.id.clone().or_else(|| self.source_id.clone())
    }

    fn status(&self) -> Result<Option<String>, ApiError> {
        match self.status.as_deref() {
            None => Ok(None),
            Some(s) if ORDER_STATUSES.contains(&s) => Ok(Some(s.to_owned())),
            Some(s) => Err(invalid_order(format!(
                "order.status {s:?} is not one of CREATED, PAID, CANCELED, FULFILLED"
            ))),
        }
    }

    fn to_core(&self, currency: Currency) -> Result<Order, ApiError> {
        let items = self
            .items
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, item)| item.to_core(i, currency))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Order {
            id: self.reference(),
            amount: money(self.amount, currency)?,
            items,
            metadata: wire::metadata(self.metadata.clone())?,
        })
    }
}

/// The key's project: its currency reads every wire amount, its stacking
/// rules are echoed.
pub(crate) async fn project(
    state: &AppState,
    project: ProjectId,
) -> Result<ProjectRecord, ApiError> {
    state.store_now(|store| store.project(project))
}

/// The project's stacking rules as the wire shows them.
pub(crate) fn stacking_rules_json(rules: &StackingRules) -> Json {
    let mode = |m: ApplicationMode| match m {
        ApplicationMode::All => "ALL",
        ApplicationMode::Partial => "PARTIAL",
    };
    let mut v = json!({
        "redeemables_limit": rules.redeemables_limit,
        "applicable_redeemables_limit": rules.applicable_redeemables_limit,
        "applicable_redeemables_category_limits": rules.applicable_redeemables_category_limits,
        "applicable_exclusive_redeemables_limit": rules.applicable_exclusive_redeemables_limit,
        "exclusive_categories": rules.exclusive_categories,
        "joint_categories": rules.joint_categories,
        "redeemables_application_mode": mode(rules.application_mode),
        "redeemables_sorting_rule": match rules.sorting_rule {
            SortingRule::RequestedOrder => "REQUESTED_ORDER",
            SortingRule::CategoryHierarchy => "CATEGORY_HIERARCHY",
        },
        "redeemables_no_effect_rule": match rules.no_effect_rule {
            NoEffectRule::RedeemAnyway => "REDEEM_ANYWAY",
            NoEffectRule::Skip => "SKIP",
        },
        "redeemables_products_application_mode": "STACK",
        "redeemables_rollback_order_mode": "WITH_ORDER",
    });
    if let Some(limit) = rules.applicable_redeemables_per_category_limit {
        v["applicable_redeemables_per_category_limit"] = json!(limit);
    }
    if let Some(limit) = rules.applicable_exclusive_redeemables_per_category_limit {
        v["applicable_exclusive_redeemables_per_category_limit"] = json!(limit);
    }
    v
}

/// The codes of a stacked request's `redeemables`.
fn redeemables(
    wire_items: Option<&[WireRedeemable]>,
    currency: Currency,
) -> Result<Vec<RedeemableRequest>, ApiError> {
    let Some(items) = wire_items else {
        return Err(ApiError::invalid_payload(
            "should have required property 'redeemables'",
        ));
    };
    items
        .iter()
        .enumerate()
        .map(|(i, r)| {
            match r.object.as_deref() {
                None | Some("voucher") => {}
                Some(other) => {
                    return Err(ApiError::bad_request(
                        "invalid_redeemables",
                        format!(
                            "redeemables[{i}]: object {other:?} is not supported, only \"voucher\""
                        ),
                    ))
                }
            }
            let Some(code) = r.id.clone() else {
                return Err(ApiError::invalid_payload(format!(
                    "Property .redeemables[{i}] should have required property 'id'"
                )));
            };
            Ok(RedeemableRequest {
                code,
                credits: money(r.gift.as_ref().and_then(|g| g.credits), currency)?,
            })
        })
        .collect()
}

/// The legacy endpoints' one code, with the body's `gift.credits`.
fn legacy_redeemable(
    code: String,
    body: &CheckoutBody,
    currency: Currency,
) -> Result<Vec<RedeemableRequest>, ApiError> {
    Ok(vec![RedeemableRequest {
        code,
        credits: money(body.gift.as_ref().and_then(|g| g.credits), currency)?,
    }])
}

/// The core's checkout request for a body.
pub(crate) fn request(
    body: &CheckoutBody,
    mode: CheckoutMode,
    redeemables: Vec<RedeemableRequest>,
    currency: Currency,
    channel: ChannelType,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<CheckoutRequest, ApiError> {
    let order = body.order.clone().unwrap_or_default();
    let customer = match &body.customer {
        Some(c) if !c.is_empty() => Some(c.to_spec()?),
        _ => None,
    };
    Ok(CheckoutRequest {
        mode,
        redeemables,
        order: order.to_core(currency)?,
        order_status: order.status()?,
        customer,
        metadata: wire::metadata(body.metadata.clone())?,
        channel,
        tracking_id: body.tracking_id.clone(),
        now,
    })
}

/// The core's checkout request of a validation or redemption in the
/// key's `project`: of the legacy endpoints' one `code` (with the body's
/// `gift.credits`) when given, else of the body's stacked `redeemables`.
pub(crate) fn prepare(
    state: &AppState,
    project: &ProjectRecord,
    body: &CheckoutBody,
    code: Option<&str>,
    channel: ChannelType,
) -> Result<CheckoutRequest, ApiError> {
    build(project, body, code, channel, state.now())
}

/// The request of [`prepare`] for the project `record`.
fn build(
    record: &ProjectRecord,
    body: &CheckoutBody,
    code: Option<&str>,
    channel: ChannelType,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<CheckoutRequest, ApiError> {
    checkout_request(body, code, record.spec.currency, channel, now)
}

/// The core's checkout request of a body in `currency`: of the legacy
/// endpoints' one `code` (with the body's `gift.credits`) when given, else
/// of the body's stacked `redeemables`. Pure: what [`prepare`] does once it
/// knows the project.
pub(crate) fn checkout_request(
    body: &CheckoutBody,
    code: Option<&str>,
    currency: Currency,
    channel: ChannelType,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<CheckoutRequest, ApiError> {
    let (mode, redeemables) = match code {
        Some(code) => (
            CheckoutMode::Legacy,
            legacy_redeemable(code.to_owned(), body, currency)?,
        ),
        None => (
            CheckoutMode::Stacked,
            redeemables(body.redeemables.as_deref(), currency)?,
        ),
    };
    request(body, mode, redeemables, currency, channel, now)
}

// --- answers ---------------------------------------------------------------

/// What the request said about its order, echoed in the answers.
#[derive(Debug, Clone, Default)]
pub(crate) struct OrderEcho {
    id: Option<String>,
    source_id: Option<String>,
    status: Option<String>,
    metadata: Option<Json>,
    items: Vec<WireItem>,
}

impl OrderEcho {
    /// The echo of a request body's order.
    pub(crate) fn of(body: &CheckoutBody) -> OrderEcho {
        let Some(order) = &body.order else {
            return OrderEcho::default();
        };
        OrderEcho {
            id: order.id.clone().filter(|id| id.starts_with("ord_")),
            source_id: order
                .source_id
                .clone()
                .or_else(|| order.id.clone().filter(|id| !id.starts_with("ord_"))),
            status: order.status.clone(),
            metadata: order.metadata.clone().filter(Json::is_object),
            items: order.items.clone().unwrap_or_default(),
        }
    }
}

fn product_json(p: &WireProduct) -> Json {
    let mut map = Map::new();
    for (k, v) in [
        ("id", &p.id),
        ("source_id", &p.source_id),
        ("name", &p.name),
    ] {
        if let Some(v) = v {
            map.insert(k.into(), json!(v));
        }
    }
    if let Some(WireInt(price)) = p.price {
        map.insert("price".into(), json!(price));
    }
    if let Some(m) = p.metadata.clone().filter(Json::is_object) {
        map.insert("metadata".into(), m);
    }
    Json::Object(map)
}

/// One line of an order answer.
struct LineView {
    product_id: Option<String>,
    sku_id: Option<String>,
    source_index: Option<usize>,
    quantity: u64,
    initial_quantity: u64,
    price_minor: Option<i64>,
    amount_minor: i64,
    discount_minor: i64,
    applied_minor: i64,
    subtotal_minor: i64,
}

/// Totals of an order answer.
#[derive(Default)]
struct TotalsView {
    amount_minor: Option<i64>,
    discount_minor: i64,
    items_discount_minor: i64,
    total_discount_minor: i64,
    total_minor: Option<i64>,
    applied_minor: i64,
    items_applied_minor: i64,
}

fn render_order(
    echo: &OrderEcho,
    id: Option<&str>,
    status: Option<&str>,
    totals: &TotalsView,
    lines: &[LineView],
    currency: Currency,
) -> Json {
    let w = |minor: i64| json!(wire::to_wire(minor, currency));
    let mut map = Map::new();
    if let Some(id) = id.or(echo.id.as_deref()) {
        map.insert("id".into(), json!(id));
    }
    if let Some(source_id) = &echo.source_id {
        map.insert("source_id".into(), json!(source_id));
    }
    if let Some(status) = status
        .or(echo.status.as_deref())
        .filter(|s| ORDER_STATUSES.contains(s))
    {
        map.insert("status".into(), json!(status));
    }
    if let Some(amount) = totals.amount_minor {
        map.insert("amount".into(), w(amount));
        map.insert("initial_amount".into(), w(amount));
    }
    map.insert("discount_amount".into(), w(totals.discount_minor));
    map.insert(
        "items_discount_amount".into(),
        w(totals.items_discount_minor),
    );
    map.insert(
        "total_discount_amount".into(),
        w(totals.total_discount_minor),
    );
    if let Some(total) = totals.total_minor {
        map.insert("total_amount".into(), w(total));
    }
    map.insert("applied_discount_amount".into(), w(totals.applied_minor));
    map.insert(
        "items_applied_discount_amount".into(),
        w(totals.items_applied_minor),
    );
    map.insert(
        "total_applied_discount_amount".into(),
        w(totals
            .applied_minor
            .saturating_add(totals.items_applied_minor)),
    );
    let items: Vec<Json> = lines
        .iter()
        .map(|line| {
            let given = line.source_index.and_then(|i| echo.items.get(i));
            let mut item = Map::new();
            item.insert("object".into(), json!("order_item"));
            if let Some(given) = given {
                if let Some(s) = &given.source_id {
                    item.insert("source_id".into(), json!(s));
                }
                if let Some(r) = given
                    .related_object
                    .as_deref()
                    .filter(|r| matches!(*r, "product" | "sku"))
                {
                    item.insert("related_object".into(), json!(r));
                }
            }
            if let Some(p) = &line.product_id {
                item.insert("product_id".into(), json!(p));
            }
            if let Some(s) = &line.sku_id {
                item.insert("sku_id".into(), json!(s));
            }
            item.insert("quantity".into(), json!(line.quantity));
            item.insert("initial_quantity".into(), json!(line.initial_quantity));
            if line.quantity > line.initial_quantity {
                item.insert(
                    "discount_quantity".into(),
                    json!(line.quantity - line.initial_quantity),
                );
            }
            item.insert("amount".into(), w(line.amount_minor));
            if let Some(price) = line.price_minor {
                item.insert("price".into(), w(price));
            }
            item.insert("discount_amount".into(), w(line.discount_minor));
            item.insert("applied_discount_amount".into(), w(line.applied_minor));
            item.insert("subtotal_amount".into(), w(line.subtotal_minor));
            if let Some(given) = given {
                if let Some(p) = &given.product {
                    item.insert("product".into(), product_json(p));
                }
                if let Some(s) = &given.sku {
                    item.insert("sku".into(), product_json(s));
                }
                if let Some(m) = given.metadata.clone().filter(Json::is_object) {
                    item.insert("metadata".into(), m);
                }
            }
            Json::Object(item)
        })
        .collect();
    map.insert("items".into(), Json::Array(items));
    map.insert(
        "metadata".into(),
        echo.metadata.clone().unwrap_or_else(|| json!({})),
    );
    map.insert("object".into(), json!("order"));
    Json::Object(map)
}

/// An order being validated, with what one code (`applied`) did to it.
pub(crate) fn order_state_json(
    echo: &OrderEcho,
    state: &OrderState,
    applied: Option<&Applied>,
    currency: Currency,
) -> Json {
    let t = state.totals();
    let (applied_minor, items_applied_minor) = match applied {
        Some(a) if a.level() == DiscountLevel::Order => (a.discount_minor(), 0),
        Some(a) => (0, a.discount_minor()),
        None => (0, 0),
    };
    let item_applied = |i: usize| match applied {
        Some(a) if a.level() == DiscountLevel::Items => a.lines().get(i).copied().unwrap_or(0),
        _ => 0,
    };
    let lines: Vec<LineView> = state
        .lines()
        .iter()
        .enumerate()
        .map(|(i, l)| LineView {
            product_id: l.product_id().map(str::to_owned),
            sku_id: l.sku_id().map(str::to_owned),
            source_index: l.source_index(),
            quantity: l.quantity(),
            initial_quantity: l.initial_quantity(),
            price_minor: l.price_minor(),
            amount_minor: l.amount_minor(),
            discount_minor: l.discount_amount_minor(),
            applied_minor: item_applied(i),
            subtotal_minor: l.subtotal_amount_minor(),
        })
        .collect();
    let totals = TotalsView {
        amount_minor: state.amount_minor(),
        discount_minor: t.discount_amount_minor,
        items_discount_minor: t.items_discount_amount_minor,
        total_discount_minor: t.total_discount_amount_minor,
        total_minor: state.remaining_minor(),
        applied_minor,
        items_applied_minor,
    };
    render_order(echo, None, None, &totals, &lines, currency)
}

/// An order as a redemption stored it.
pub(crate) fn order_snapshot_json(snapshot: &OrderSnapshot, currency: Currency) -> Json {
    let echo = OrderEcho {
        id: snapshot.id.clone(),
        source_id: snapshot.source_id.clone(),
        status: snapshot.status.clone(),
        metadata: Some(wire::metadata_json(&snapshot.metadata)),
        items: Vec::new(),
    };
    let lines: Vec<LineView> = snapshot
        .items
        .iter()
        .map(|l| LineView {
            product_id: l.product_id.clone(),
            sku_id: l.sku_id.clone(),
            source_index: None,
            quantity: l.quantity,
            initial_quantity: l.initial_quantity,
            price_minor: l.price_minor,
            amount_minor: l.amount_minor,
            discount_minor: l.discount_amount_minor,
            applied_minor: 0,
            subtotal_minor: l.subtotal_amount_minor,
        })
        .collect();
    let totals = TotalsView {
        amount_minor: snapshot.amount_minor,
        discount_minor: snapshot.discount_amount_minor,
        items_discount_minor: snapshot.items_discount_amount_minor,
        total_discount_minor: snapshot.total_discount_amount_minor,
        total_minor: snapshot.total_amount_minor,
        applied_minor: snapshot.applied_discount_amount_minor,
        items_applied_minor: snapshot.items_applied_discount_amount_minor,
    };
    render_order(
        &echo,
        snapshot.id.as_deref(),
        snapshot.status.as_deref(),
        &totals,
        &lines,
        currency,
    )
}

/// The discount object of a voucher's benefit (`None` for a gift card).
pub(crate) fn discount_json(benefit: &BenefitSpec) -> Option<Json> {
    match benefit {
        BenefitSpec::Discount(discount) => Some(render::discount_json(discount)),
        BenefitSpec::Gift { .. } => None,
    }
}

/// The empty `applicable_to` / `inapplicable_to` list.
pub(crate) fn empty_targets() -> Json {
    json!({"object": "list", "data_ref": "data", "data": [], "total": 0})
}

/// The gift object of a gift card (`{amount, balance, effect}`), or `None`
/// for a discount voucher.
pub(crate) fn gift_json(voucher: &VoucherRecord, currency: Currency) -> Option<Json> {
    let BenefitSpec::Gift { amount_minor } = voucher.benefit else {
        return None;
    };
    let balance = voucher.gift_balance_minor.unwrap_or(amount_minor);
    Some(render::gift_json(amount_minor, balance, currency))
}

/// A new id: `prefix` and 24 random hex digits (a counter when the OS has
/// no randomness: ids only need to differ).
pub(crate) fn new_id(prefix: &str) -> String {
    static FALLBACK: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let mut bytes = [0u8; 12];
    if getrandom::fill(&mut bytes).is_err() {
        let n = FALLBACK.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        bytes[..8].copy_from_slice(&n.to_le_bytes());
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}{hex}")
}
