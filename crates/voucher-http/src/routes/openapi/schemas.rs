//! The wire objects of the document (`components/schemas`), as this server
//! writes them (`render.rs` and the handlers of `routes/`) and reads them.
//! Answers are closed (`additionalProperties: false`) where the test
//! validates real answers against them, so that a field added to an answer
//! without its schema fails the test.

use serde_json::{json, Map, Value};

use super::schema_ref as r;

fn string() -> Value {
    json!({"type": "string"})
}

fn string_or_null() -> Value {
    json!({"type": ["string", "null"]})
}

fn integer() -> Value {
    json!({"type": "integer"})
}

fn integer_or_null() -> Value {
    json!({"type": ["integer", "null"]})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn timestamp() -> Value {
    json!({"type": "string", "format": "date-time"})
}

fn timestamp_or_null() -> Value {
    json!({"type": ["string", "null"], "format": "date-time"})
}

/// An amount: the value times 100, an integer.
fn amount() -> Value {
    json!({"type": "integer", "description": "The value times 100."})
}

fn constant(value: &str) -> Value {
    json!({"type": "string", "const": value})
}

fn one_of(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

fn metadata() -> Value {
    json!({"type": "object", "description": "Free-form attributes."})
}

fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn nullable(schema: Value) -> Value {
    json!({"oneOf": [schema, {"type": "null"}]})
}

/// A voucher image: its token and URL.
fn asset_link() -> Value {
    closed(
        "An image of the code.",
        &[("id", string()), ("url", string())],
        &[],
    )
}

/// A closed object: `required` fields are always there, `optional` ones
/// sometimes, no other.
fn closed(description: &str, required: &[(&str, Value)], optional: &[(&str, Value)]) -> Value {
    let mut properties = Map::new();
    for (name, schema) in required.iter().chain(optional) {
        properties.insert((*name).to_owned(), schema.clone());
    }
    let names: Vec<&str> = required.iter().map(|(n, _)| *n).collect();
    json!({
        "type": "object",
        "description": description,
        "properties": properties,
        "required": names,
        "additionalProperties": false,
    })
}

/// An open object: the fields a request may give (all optional unless
/// `required`); others are ignored.
fn input(description: &str, required: &[&str], fields: &[(&str, Value)]) -> Value {
    let mut properties = Map::new();
    for (name, schema) in fields {
        properties.insert((*name).to_owned(), schema.clone());
    }
    let mut schema = json!({
        "type": "object",
        "description": description,
        "properties": properties,
    });
    if !required.is_empty() {
        schema["required"] = json!(required);
    }
    schema
}

/// `{object:"list", data_ref:"data", data, total}`.
fn data_list(description: &str, item: Value, cursor: bool) -> Value {
    let mut required = vec![
        ("object", constant("list")),
        ("data_ref", constant("data")),
        ("data", array(item)),
        ("total", integer()),
    ];
    let mut optional = Vec::new();
    if cursor {
        required.push(("has_more", boolean()));
        optional.push(("more_starting_after", string()));
    }
    closed(description, &required, &optional)
}

/// `{object:"list", data_ref:<name>, <name>: [...], total}`.
fn named_list(description: &str, name: &str, item: Value, extra: &[(&str, Value)]) -> Value {
    let mut required = vec![
        ("object", constant("list")),
        ("data_ref", constant(name)),
        (name, array(item)),
        ("total", integer()),
    ];
    required.extend(extra.iter().cloned());
    closed(description, &required, &[("more_starting_after", string())])
}

/// The validity fields of vouchers and campaigns, as answers write them.
fn validity_fields() -> Vec<(&'static str, Value)> {
    vec![
        ("start_date", timestamp_or_null()),
        ("expiration_date", timestamp_or_null()),
        ("validity_timeframe", nullable(r("ValidityTimeframe"))),
        ("validity_day_of_week", nullable(array(r("DayOfWeek")))),
        ("validity_hours", nullable(r("ValidityHours"))),
    ]
}

/// The validity fields as requests give them.
fn validity_input() -> Vec<(&'static str, Value)> {
    vec![
        ("start_date", timestamp()),
        ("expiration_date", timestamp()),
        ("validity_timeframe", r("ValidityTimeframe")),
        ("validity_day_of_week", array(r("DayOfWeek"))),
        ("validity_hours", r("ValidityHours")),
    ]
}

fn empty_targets() -> Value {
    closed(
        "Always empty: targets are not reported per code.",
        &[
            ("object", constant("list")),
            ("data_ref", constant("data")),
            ("data", json!({"type": "array", "maxItems": 0})),
            ("total", integer()),
        ],
        &[],
    )
}

/// Every schema of `components/schemas`.
pub(super) fn schemas() -> Map<String, Value> {
    let mut s = Map::new();
    let mut add = |name: &str, schema: Value| {
        s.insert(name.to_owned(), schema);
    };

    // --- Shared -----------------------------------------------------------
    add(
        "Error",
        closed(
            "The one error body of the API.",
            &[
                ("code", integer()),
                ("key", string()),
                ("message", string()),
            ],
            &[
                ("details", string()),
                ("request_id", string()),
                ("resource_id", string()),
                ("resource_type", string()),
                (
                    "error",
                    closed(
                        "A validation rule's own error message.",
                        &[("message", string())],
                        &[],
                    ),
                ),
            ],
        ),
    );
    add(
        "Health",
        closed("The server is up.", &[("status", constant("ok"))], &[]),
    );
    add(
        "EmptyObject",
        json!({"type": "object", "maxProperties": 0, "description": "`{}`."}),
    );
    add(
        "DayOfWeek",
        json!({"type": "integer", "minimum": 0, "maximum": 6, "description": "0 is Sunday."}),
    );
    add(
        "ValidityTimeframe",
        closed(
            "Recurring windows: valid for `duration` every `interval` from `start_date` (ISO 8601 durations).",
            &[("interval", string()), ("duration", string())],
            &[],
        ),
    );
    add(
        "ValidityHours",
        closed(
            "Daily hours, in the project's time zone.",
            &[(
                "daily",
                array(closed(
                    "One daily window.",
                    &[
                        (
                            "start_time",
                            json!({"type": "string", "description": "HH:MM"}),
                        ),
                        (
                            "expiration_time",
                            json!({"type": "string", "description": "HH:MM"}),
                        ),
                    ],
                    &[("days_of_week", array(r("DayOfWeek")))],
                )),
            )],
            &[],
        ),
    );
    let product_ref = closed(
        "A product or SKU of a UNIT discount.",
        &[("id", string())],
        &[("price", amount())],
    );
    add(
        "Discount",
        closed(
            "A discount: AMOUNT (`amount_off`), PERCENT (`percent_off`, `amount_limit`), FIXED (`fixed_amount`: the order's new total) or UNIT (`unit_off` units of `unit_type`).",
            &[
                ("type", one_of(&["AMOUNT", "PERCENT", "FIXED", "UNIT"])),
                (
                    "effect",
                    one_of(&[
                        "APPLY_TO_ORDER",
                        "APPLY_TO_ITEMS",
                        "APPLY_TO_ITEMS_PROPORTIONALLY",
                        "APPLY_TO_ITEMS_PROPORTIONALLY_BY_QUANTITY",
                        "APPLY_TO_ITEMS_BY_QUANTITY",
                        "ADD_MISSING_ITEMS",
                        "ADD_NEW_ITEMS",
                    ]),
                ),
            ],
            &[
                ("amount_off", amount()),
                ("percent_off", json!({"type": "number", "minimum": 0, "maximum": 100})),
                ("amount_limit", amount()),
                ("fixed_amount", amount()),
                ("unit_off", json!({"type": "integer", "minimum": 0})),
                ("unit_type", string()),
                ("product", product_ref.clone()),
                ("sku", product_ref),
            ],
        ),
    );
    add(
        "DiscountInput",
        input(
            "A discount as requests give it; `effect` defaults to the type's usual one (APPLY_TO_ORDER, or ADD_MISSING_ITEMS for UNIT).",
            &["type"],
            &[
                ("type", one_of(&["AMOUNT", "PERCENT", "FIXED", "UNIT"])),
                ("effect", string()),
                ("amount_off", amount()),
                ("percent_off", json!({"type": ["number", "string"]})),
                ("amount_limit", amount()),
                ("fixed_amount", amount()),
                ("unit_off", json!({"type": "integer", "minimum": 0})),
                ("unit_type", string()),
                ("product", json!({"type": "object"})),
                ("sku", json!({"type": "object"})),
            ],
        ),
    );
    add(
        "Gift",
        closed(
            "A gift card's credits: its initial `amount` and its `balance`.",
            &[
                ("amount", amount()),
                ("balance", amount()),
                ("effect", constant("APPLY_TO_ORDER")),
            ],
            &[],
        ),
    );
    add(
        "GiftInput",
        input(
            "A gift card's initial credits.",
            &["amount"],
            &[("amount", amount()), ("effect", constant("APPLY_TO_ORDER"))],
        ),
    );
    add(
        "Assignment",
        closed(
            "Where a validation rule applies.",
            &[
                ("id", string()),
                ("rule_id", string()),
                ("related_object_id", string()),
                ("related_object_type", string()),
                ("created_at", timestamp()),
                ("object", constant("validation_rules_assignment")),
            ],
            &[],
        ),
    );
    add(
        "AssignmentList",
        data_list("Validation rule assignments.", r("Assignment"), false),
    );

    // --- Vouchers ---------------------------------------------------------
    let mut voucher = vec![
        ("id", string()),
        ("code", string()),
        ("campaign", string_or_null()),
        ("campaign_id", string_or_null()),
        ("category", string_or_null()),
        ("category_id", json!({"type": "null"})),
        ("categories", json!({"type": "array", "maxItems": 0})),
        ("type", one_of(&["DISCOUNT_VOUCHER", "GIFT_VOUCHER"])),
        ("discount", nullable(r("Discount"))),
        ("gift", nullable(r("Gift"))),
        ("loyalty_card", json!({"type": "null"})),
    ];
    voucher.extend(validity_fields());
    voucher.extend([
        ("active", boolean()),
        ("additional_info", string_or_null()),
        ("metadata", metadata()),
        (
            "assets",
            closed(
                "The code's images, without a key: `id` is a signed token that does not show the code, `url` the image (`?format=png`, the default, or `svg`).",
                &[("qr", asset_link()), ("barcode", asset_link())],
                &[],
            ),
        ),
        ("is_referral_code", boolean()),
        ("created_at", timestamp()),
        ("updated_at", timestamp()),
        ("holder_id", string_or_null()),
        ("referrer_id", json!({"type": "null"})),
        (
            "redemption",
            closed(
                "How often the code may be and was used.",
                &[
                    ("quantity", integer_or_null()),
                    ("redeemed_quantity", integer()),
                    ("redeemed_amount", amount()),
                    ("object", constant("list")),
                    ("url", string()),
                ],
                &[],
            ),
        ),
        (
            "publish",
            closed(
                "How often the code was published.",
                &[
                    ("object", constant("list")),
                    ("count", integer()),
                    ("url", string()),
                ],
                &[],
            ),
        ),
        ("validation_rules_assignments", r("AssignmentList")),
        ("object", constant("voucher")),
    ]);
    add(
        "Voucher",
        closed(
            "A code and what it is worth (`quantity: null` is unlimited).",
            &voucher,
            &[],
        ),
    );
    let mut voucher_input = vec![
        ("code", string()),
        ("campaign", string()),
        ("campaign_id", string()),
        ("category", string()),
        ("type", one_of(&["DISCOUNT_VOUCHER", "GIFT_VOUCHER"])),
        ("discount", r("DiscountInput")),
        ("gift", r("GiftInput")),
        ("active", boolean()),
        ("additional_info", string()),
        ("metadata", metadata()),
        (
            "redemption",
            input(
                "Uses allowed.",
                &[],
                &[("quantity", json!({"type": ["integer", "string", "null"]}))],
            ),
        ),
        ("code_config", r("CodeConfig")),
    ];
    voucher_input.extend(validity_input());
    add(
        "VoucherInput",
        input(
            "A voucher as requests give it; server-managed fields are ignored. Without `code`, one is generated from `code_config`.",
            &[],
            &voucher_input,
        ),
    );
    add("VoucherImport", array(r("VoucherInput")));
    add(
        "CodeConfig",
        input(
            "How codes are generated: `pattern` (`#` is a character of `charset`), or `length`, `prefix`, `postfix`.",
            &[],
            &[
                ("length", integer()),
                ("charset", string()),
                ("prefix", string()),
                ("postfix", string()),
                ("pattern", string()),
            ],
        ),
    );
    add(
        "VoucherList",
        named_list(
            "Vouchers, newest first by default.",
            "vouchers",
            r("Voucher"),
            &[],
        ),
    );
    add(
        "Balance",
        closed(
            "A gift card's balance after a manual change.",
            &[
                ("amount", amount()),
                ("total", amount()),
                ("balance", amount()),
                ("type", constant("gift_voucher")),
                ("operation_type", constant("MANUAL")),
                ("object", constant("balance")),
                (
                    "related_object",
                    closed(
                        "The voucher.",
                        &[("type", constant("voucher")), ("id", string())],
                        &[],
                    ),
                ),
            ],
            &[],
        ),
    );
    add(
        "BalanceInput",
        input(
            "Credits to add (positive) or remove (negative).",
            &["amount"],
            &[
                ("amount", amount()),
                ("source_id", string()),
                ("reason", string()),
            ],
        ),
    );
    add(
        "Transaction",
        json!({
            "type": "object",
            "description": "A gift-card ledger entry.",
            "required": ["id", "voucher_id", "type", "details", "created_at"],
            "properties": {
                "id": string(), "source_id": string_or_null(), "voucher_id": string(),
                "campaign_id": string_or_null(), "source": string_or_null(),
                "reason": string_or_null(),
                "type": one_of(&["CREDITS_ADDITION", "CREDITS_REMOVAL", "CREDITS_REDEMPTION", "CREDITS_REFUND"]),
                "details": {"type": "object"},
                "related_transaction_id": {"type": "null"},
                "related_id": string_or_null(), "created_at": timestamp(),
            },
        }),
    );
    add(
        "TransactionList",
        data_list(
            "A gift card's ledger, newest first.",
            r("Transaction"),
            true,
        ),
    );

    // --- Campaigns --------------------------------------------------------
    let mut campaign = vec![
        ("id", string()),
        ("name", string()),
        ("description", string_or_null()),
        (
            "campaign_type",
            one_of(&["DISCOUNT_COUPONS", "GIFT_VOUCHERS"]),
        ),
        ("type", one_of(&["STATIC", "AUTO_UPDATE", "STANDALONE"])),
        (
            "voucher",
            json!({"type": "object", "description": "The template of the campaign's codes: type, discount or gift, redemption, code_config."}),
        ),
        ("auto_join", boolean()),
        ("join_once", boolean()),
        ("use_voucher_metadata_schema", boolean()),
        ("vouchers_count", integer()),
        ("active", boolean()),
        ("activity_duration_after_publishing", string_or_null()),
        ("category", string_or_null()),
        ("category_id", json!({"type": "null"})),
        ("categories", json!({"type": "array"})),
        ("metadata", metadata()),
        ("created_at", timestamp()),
        ("updated_at", timestamp()),
        (
            "creation_status",
            one_of(&["DONE", "IN_PROGRESS", "FAILED"]),
        ),
        (
            "vouchers_generation_status",
            one_of(&["DONE", "IN_PROGRESS", "FAILED"]),
        ),
        ("protected", boolean()),
        ("validation_rules_assignments", r("AssignmentList")),
        ("object", constant("campaign")),
    ];
    campaign.extend(validity_fields());
    add(
        "Campaign",
        closed("Settings shared by many vouchers.", &campaign, &[]),
    );
    let mut campaign_input = vec![
        ("name", string()),
        ("description", string()),
        (
            "campaign_type",
            one_of(&["DISCOUNT_COUPONS", "GIFT_VOUCHERS"]),
        ),
        ("type", one_of(&["STATIC", "AUTO_UPDATE", "STANDALONE"])),
        ("vouchers_count", json!({"type": ["integer", "string"]})),
        ("active", boolean()),
        ("activity_duration_after_publishing", string()),
        ("category", string()),
        ("metadata", metadata()),
        ("validation_rules", array(string())),
        (
            "voucher",
            input(
                "The template of the campaign's codes.",
                &[],
                &[
                    ("type", one_of(&["DISCOUNT_VOUCHER", "GIFT_VOUCHER"])),
                    ("discount", r("DiscountInput")),
                    ("gift", r("GiftInput")),
                    (
                        "redemption",
                        json!({"type": "object", "properties": {"quantity": {"type": ["integer", "string", "null"]}}}),
                    ),
                    ("code_config", r("CodeConfig")),
                ],
            ),
        ),
    ];
    campaign_input.extend(validity_input());
    add(
        "CampaignInput",
        input(
            "A campaign as requests give it. A STATIC campaign's `vouchers_count` codes are generated in the background (`vouchers_generation_status`).",
            &[],
            &campaign_input,
        ),
    );
    add(
        "CampaignList",
        named_list("Campaigns.", "campaigns", r("Campaign"), &[]),
    );
    let counts = [
        "vouchers_created",
        "publications",
        "publications_succeeded",
        "publications_failed",
        "redemptions",
        "redemptions_succeeded",
        "redemptions_failed",
        "rollbacks",
        "rollbacks_succeeded",
        "rollbacks_failed",
    ];
    let amounts = [
        "orders_amount",
        "discounted_amount",
        "orders_rolledback_amount",
        "rolledback_discounted_amount",
    ];
    let mut summary: Vec<(&str, Value)> = vec![
        ("object", constant("campaign_summary")),
        ("campaign", r("Campaign")),
    ];
    summary.extend(counts.iter().map(|n| (*n, integer())));
    summary.extend(amounts.iter().map(|n| (*n, amount())));
    add(
        "CampaignSummary",
        closed("A campaign's counts and amounts.", &summary, &[]),
    );

    // --- Customers --------------------------------------------------------
    let address = json!({"type": "object", "additionalProperties": {"type": ["string", "null"]},
        "description": "`city`, `state`, `line_1`, `line_2`, `country`, `postal_code`."});
    add(
        "Customer",
        closed(
            "A customer of the shop, with counts of its orders and redemptions.",
            &[
                ("id", string()),
                ("metadata", metadata()),
                ("system_metadata", json!({"type": "object"})),
                (
                    "summary",
                    json!({"type": "object", "required": ["redemptions", "orders"],
                        "description": "Redemption counts and gift amounts; order count, total and average."}),
                ),
                ("loyalty", json!({"type": "object"})),
                ("referrals", json!({"type": "object"})),
                ("created_at", timestamp()),
                ("updated_at", timestamp()),
                ("object", constant("customer")),
            ],
            &[
                ("source_id", string()),
                ("name", string()),
                ("description", string()),
                ("email", string()),
                ("phone", string()),
                ("birthdate", json!({"type": "string", "format": "date"})),
                ("address", address.clone()),
            ],
        ),
    );
    add(
        "CustomerInput",
        input(
            "A customer as requests give it; `source_id` is the shop's own id.",
            &[],
            &[
                ("id", string()),
                ("source_id", string()),
                ("name", string()),
                ("description", string()),
                ("email", string()),
                ("phone", string()),
                ("birthday", string()),
                ("birthdate", json!({"type": "string", "format": "date"})),
                ("address", address),
                ("metadata", metadata()),
            ],
        ),
    );
    add(
        "CustomerRef",
        closed(
            "A customer by its ids.",
            &[
                ("id", string()),
                ("source_id", string_or_null()),
                ("object", constant("customer")),
            ],
            &[],
        ),
    );
    add(
        "CustomerList",
        named_list(
            "Customers.",
            "customers",
            r("Customer"),
            &[("has_more", boolean())],
        ),
    );

    // --- Orders and checkout ---------------------------------------------
    let product = input(
        "A product or SKU as an order item describes it.",
        &[],
        &[
            ("id", string()),
            ("source_id", string()),
            ("name", string()),
            ("price", amount()),
            ("metadata", metadata()),
        ],
    );
    add(
        "OrderItemInput",
        input(
            "An order line: a product or SKU, a quantity and a price or amount.",
            &[],
            &[
                ("product_id", string()),
                ("sku_id", string()),
                ("related_object", one_of(&["product", "sku"])),
                ("source_id", string()),
                ("quantity", json!({"type": ["integer", "string"]})),
                ("price", json!({"type": ["integer", "string"]})),
                ("amount", json!({"type": ["integer", "string"]})),
                ("product", product.clone()),
                ("sku", product.clone()),
                ("metadata", metadata()),
            ],
        ),
    );
    add(
        "OrderInput",
        input(
            "The order being validated or redeemed.",
            &[],
            &[
                ("id", string()),
                ("source_id", string()),
                (
                    "status",
                    one_of(&["CREATED", "PAID", "CANCELED", "FULFILLED"]),
                ),
                ("amount", json!({"type": ["integer", "string"]})),
                ("items", array(r("OrderItemInput"))),
                ("metadata", metadata()),
            ],
        ),
    );
    let order_amounts = [
        "discount_amount",
        "items_discount_amount",
        "total_discount_amount",
        "applied_discount_amount",
        "items_applied_discount_amount",
        "total_applied_discount_amount",
    ];
    let mut order_required: Vec<(&str, Value)> = vec![
        ("items", array(r("OrderItem"))),
        ("metadata", metadata()),
        ("object", constant("order")),
    ];
    order_required.extend(order_amounts.iter().map(|n| (*n, amount())));
    add(
        "Order",
        closed(
            "An order with the discounts applied (`discount_amount`: of all the codes; `applied_discount_amount`: of this one).",
            &order_required,
            &[
                ("id", string()),
                ("source_id", string()),
                ("status", one_of(&["CREATED", "PAID", "CANCELED", "FULFILLED"])),
                ("amount", amount()),
                ("initial_amount", amount()),
                ("total_amount", amount()),
                (
                    "redemptions",
                    json!({"type": "object", "description": "The stacked redemption by its parent id."}),
                ),
            ],
        ),
    );
    add(
        "OrderItem",
        closed(
            "An order line with its discounts.",
            &[
                ("object", constant("order_item")),
                ("quantity", integer()),
                ("initial_quantity", integer()),
                ("amount", amount()),
                ("discount_amount", amount()),
                ("applied_discount_amount", amount()),
                ("subtotal_amount", amount()),
            ],
            &[
                ("source_id", string()),
                ("related_object", one_of(&["product", "sku"])),
                ("product_id", string()),
                ("sku_id", string()),
                ("discount_quantity", integer()),
                ("price", amount()),
                ("product", product.clone()),
                ("sku", product),
                ("metadata", metadata()),
            ],
        ),
    );
    let gift_credits = input(
        "Gift-card credits to spend.",
        &[],
        &[("credits", json!({"type": ["integer", "string"]}))],
    );
    add(
        "Redeemable",
        input(
            "A code of a stacked request.",
            &["id"],
            &[
                ("object", constant("voucher")),
                ("id", string()),
                ("gift", gift_credits.clone()),
            ],
        ),
    );
    add(
        "CheckoutRequest",
        input(
            "A validation or redemption: the codes (`redeemables`; the legacy per-code endpoints take the code from the path), the order, the customer.",
            &[],
            &[
                ("redeemables", array(r("Redeemable"))),
                ("order", r("OrderInput")),
                ("customer", r("CustomerInput")),
                ("metadata", metadata()),
                ("tracking_id", string()),
                ("gift", gift_credits),
            ],
        ),
    );
    add(
        "QualificationRequest",
        json!({
            "allOf": [r("CheckoutRequest")],
            "type": "object",
            "description": "A cart to find codes for; `scenario` is accepted and ignored.",
            "properties": {
                "options": {"type": "object", "properties": {
                    "limit": {"type": ["integer", "string"], "minimum": 1, "maximum": 50, "default": 5},
                    "sorting_rule": one_of(&["BEST_DEAL", "LEAST_DEAL", "DEFAULT"]),
                }},
            },
        }),
    );
    add(
        "StackingRules",
        json!({"type": "object", "description": "The project's stacking rules (Voucherify's names)."}),
    );
    add(
        "ValidationError",
        closed(
            "Why a code does not apply: the error body, as a 400 would carry it (404 `resource_not_found` for an unknown code).",
            &[("code", integer()), ("key", string()), ("message", string())],
            &[
                ("details", string()),
                ("request_id", string()),
                ("resource_id", string()),
                ("resource_type", string()),
                (
                    "error",
                    closed("A rule's own message.", &[("message", string())], &[]),
                ),
            ],
        ),
    );
    add(
        "GiftResult",
        closed(
            "A gift card's part in a validation: its credits and what the order spends.",
            &[
                ("amount", amount()),
                ("balance", amount()),
                ("effect", constant("APPLY_TO_ORDER")),
                ("credits", amount()),
            ],
            &[],
        ),
    );
    let benefit_result = closed(
        "What the code does: its discount, or the gift credits it spends.",
        &[],
        &[("discount", r("Discount")), ("gift", r("GiftResult"))],
    );
    add(
        "LegacyValidation",
        json!({
            "type": "object",
            "description": "Whether one code applies: `valid` with its discount (or gift) and the order, or not `valid` with `reason` and `error`.",
            "required": ["valid", "code", "tracking_id", "metadata"],
            "properties": {
                "valid": boolean(), "code": string(), "tracking_id": string_or_null(),
                "metadata": metadata(), "discount": r("Discount"), "gift": r("GiftResult"),
                "order": r("Order"), "campaign": string_or_null(), "campaign_id": string_or_null(),
                "applicable_to": empty_targets(), "inapplicable_to": empty_targets(),
                "reason": string(), "error": r("ValidationError"),
            },
            "additionalProperties": false,
        }),
    );
    add(
        "ValidatedRedeemable",
        closed(
            "One code of a stacked validation or redemption: APPLICABLE with its `result.discount` or `result.gift`, INAPPLICABLE with `result.error`, or SKIPPED with `result.details`.",
            &[
                ("status", one_of(&["APPLICABLE", "INAPPLICABLE", "SKIPPED"])),
                ("id", string()),
                ("object", constant("voucher")),
                (
                    "result",
                    closed(
                        "The code's result.",
                        &[],
                        &[
                            ("discount", r("Discount")),
                            ("gift", r("GiftResult")),
                            ("error", r("ValidationError")),
                            (
                                "details",
                                closed(
                                    "Why the code was skipped.",
                                    &[("key", string()), ("message", string())],
                                    &[],
                                ),
                            ),
                        ],
                    ),
                ),
                ("metadata", metadata()),
                ("categories", json!({"type": "array", "maxItems": 0})),
            ],
            &[
                ("applicable_to", empty_targets()),
                ("inapplicable_to", empty_targets()),
                ("campaign_id", string()),
                ("campaign_name", string()),
            ],
        ),
    );
    add(
        "QualifiedRedeemable",
        closed(
            "A code that applies to the cart, with the order as it would make it.",
            &[
                ("id", string()),
                ("object", constant("voucher")),
                ("created_at", timestamp()),
                ("result", benefit_result),
                ("order", r("Order")),
                ("applicable_to", empty_targets()),
                ("inapplicable_to", empty_targets()),
                ("metadata", metadata()),
                ("categories", json!({"type": "array", "maxItems": 0})),
            ],
            &[("campaign_id", string()), ("campaign_name", string())],
        ),
    );
    add(
        "StackedValidation",
        closed(
            "Whether the codes apply together, and the order with all their discounts.",
            &[
                ("valid", boolean()),
                ("id", string()),
                ("redeemables", array(r("ValidatedRedeemable"))),
                ("inapplicable_redeemables", array(r("ValidatedRedeemable"))),
                ("skipped_redeemables", array(r("ValidatedRedeemable"))),
                ("order", r("Order")),
                ("tracking_id", string_or_null()),
                ("stacking_rules", r("StackingRules")),
            ],
            &[],
        ),
    );
    add(
        "Qualification",
        closed(
            "The codes that apply to the cart, best first.",
            &[
                (
                    "redeemables",
                    closed(
                        "Applicable codes.",
                        &[
                            ("object", constant("list")),
                            ("data_ref", constant("data")),
                            ("data", array(r("QualifiedRedeemable"))),
                            ("total", integer()),
                            ("has_more", boolean()),
                        ],
                        &[],
                    ),
                ),
                ("order", r("Order")),
                ("tracking_id", string_or_null()),
                ("stacking_rules", r("StackingRules")),
            ],
            &[],
        ),
    );

    // --- Redemptions ------------------------------------------------------
    let redemption_common = |object: &str| {
        vec![
            ("id", string()),
            ("object", constant(object)),
            ("date", timestamp()),
            ("customer_id", string_or_null()),
            ("tracking_id", string_or_null()),
            ("metadata", metadata()),
            ("amount", amount()),
            ("result", one_of(&["SUCCESS", "FAILURE"])),
            ("status", one_of(&["SUCCEEDED", "FAILED", "ROLLED_BACK"])),
            ("order", r("Order")),
            (
                "channel",
                closed(
                    "Who redeemed.",
                    &[("channel_type", one_of(&["API", "USER"]))],
                    &[],
                ),
            ),
            ("customer", nullable(r("CustomerRef"))),
            ("related_object_type", one_of(&["voucher", "redemption"])),
        ]
    };
    add(
        "Redemption",
        closed(
            "A use of a code (`related_object_type: voucher`), or the parent of a stacked redemption (`related_object_type: redemption`). A refused one has `result: FAILURE` and `failure_code`.",
            &redemption_common("redemption"),
            &[
                ("related_object_id", string()),
                ("redemption", json!({"type": "string", "description": "The parent's id, in a stack."})),
                ("failure_code", string()),
                ("failure_message", string()),
                ("voucher", r("Voucher")),
                ("gift", closed("Credits spent.", &[("amount", amount())], &[])),
                ("rollback_id", string()),
                (
                    "related_redemptions",
                    json!({"type": "object", "properties": {"redemptions": {"type": "array"}, "rollbacks": {"type": "array"}}}),
                ),
            ],
        ),
    );
    let mut rollback = redemption_common("redemption_rollback");
    rollback.extend([("redemption", string()), ("reason", string_or_null())]);
    add(
        "RedemptionRollback",
        closed(
            "The undoing of a redemption: its use and credits return (`amount` is negative for credits).",
            &rollback,
            &[
                ("related_object_id", string()),
                ("voucher", r("Voucher")),
                ("gift", closed("Credits returned.", &[("amount", amount())], &[])),
            ],
        ),
    );
    add(
        "RedemptionOrRollback",
        json!({"oneOf": [r("Redemption"), r("RedemptionRollback")]}),
    );
    add(
        "StackedRedemption",
        closed(
            "The redemptions of a stack, under one parent.",
            &[
                ("redemptions", array(r("Redemption"))),
                ("parent_redemption", r("Redemption")),
                ("order", r("Order")),
                ("inapplicable_redeemables", array(r("ValidatedRedeemable"))),
                ("skipped_redeemables", array(r("ValidatedRedeemable"))),
            ],
            &[],
        ),
    );
    add(
        "StackedRollback",
        closed(
            "The rollbacks of a stack, under one parent rollback.",
            &[
                ("rollbacks", array(r("RedemptionRollback"))),
                ("parent_rollback", r("RedemptionRollback")),
                ("order", r("Order")),
            ],
            &[],
        ),
    );
    add(
        "RollbackInput",
        input(
            "Why (also accepted as `?reason=`).",
            &[],
            &[
                ("reason", string()),
                ("tracking_id", string()),
                ("customer", r("CustomerInput")),
                ("metadata", metadata()),
            ],
        ),
    );
    add(
        "RedemptionList",
        named_list(
            "Redemptions and rollbacks, newest first by default.",
            "redemptions",
            r("RedemptionOrRollback"),
            &[("has_more", boolean())],
        ),
    );
    add(
        "VoucherRedemptionList",
        named_list(
            "A voucher's redemptions.",
            "redemption_entries",
            r("RedemptionOrRollback"),
            &[
                ("quantity", integer_or_null()),
                ("redeemed_quantity", integer()),
                ("url", string()),
            ],
        ),
    );

    // --- Publications -----------------------------------------------------
    add(
        "PublicationInput",
        input(
            "Give a code to a customer: a `voucher` code, or one from a `campaign` (its name or id, or `{name, count}`).",
            &[],
            &[
                ("voucher", string()),
                (
                    "campaign",
                    json!({"oneOf": [string(), {"type": "object", "properties": {"name": string(), "count": {"type": "integer", "minimum": 1}}}]}),
                ),
                (
                    "customer",
                    json!({"oneOf": [string(), r("CustomerInput")]}),
                ),
                ("source_id", string()),
                ("metadata", metadata()),
                ("join_once", boolean()),
            ],
        ),
    );
    add(
        "PublishedVoucher",
        closed(
            "A published code as the publication list shows it.",
            &[
                ("code", string()),
                ("object", constant("voucher")),
                ("campaign", string_or_null()),
                ("is_referral_code", boolean()),
            ],
            &[("discount", r("Discount")), ("gift", r("Gift"))],
        ),
    );
    add(
        "Publication",
        closed(
            "Codes given to a customer: `voucher` when one code was asked, `vouchers` (their codes) when several; `vouchers_id` either way.",
            &[
                ("id", string()),
                ("object", constant("publication")),
                ("created_at", timestamp()),
                ("customer_id", string()),
                ("metadata", metadata()),
                ("channel", constant("API")),
                ("source_id", string_or_null()),
                ("result", constant("SUCCESS")),
                (
                    "customer",
                    json!({"anyOf": [r("Customer"), r("CustomerRef")]}),
                ),
                ("vouchers_id", array(string())),
            ],
            &[
                ("tracking_id", string_or_null()),
                (
                    "voucher",
                    json!({"anyOf": [r("Voucher"), r("PublishedVoucher")]}),
                ),
                ("vouchers", array(string())),
            ],
        ),
    );
    add(
        "PublicationList",
        named_list(
            "Publications, newest first.",
            "publications",
            r("Publication"),
            &[],
        ),
    );

    // --- Validation rules -------------------------------------------------
    add(
        "ValidationRuleInput",
        input(
            "A rule set: numbered `rules` (a `name`, `conditions`, nested `rules`) combined by `logic`.",
            &[],
            &[
                ("name", string()),
                ("rules", json!({"type": "object"})),
                ("error", json!({"type": "object", "properties": {"message": string()}})),
                ("applicable_to", json!({"type": "object"})),
            ],
        ),
    );
    add(
        "ValidationRule",
        closed(
            "A rule set.",
            &[
                ("id", string()),
                ("name", string()),
                ("rules", json!({"type": "object"})),
                ("applicable_to", json!({"type": "object"})),
                ("type", constant("advanced")),
                ("context_type", string()),
                ("assignments_count", integer()),
                ("created_at", timestamp()),
                ("updated_at", timestamp()),
                ("object", constant("validation_rules")),
            ],
            &[("error", json!({"type": "object"}))],
        ),
    );
    add(
        "ValidationRuleList",
        data_list("Validation rules.", r("ValidationRule"), false),
    );
    add(
        "AssignmentInput",
        input(
            "Where the rule applies: a `voucher` code or a `campaign`, or `related_object_type` and `related_object_id`.",
            &[],
            &[
                ("voucher", string()),
                ("campaign", string()),
                ("promotion_tier", string()),
                ("related_object_type", one_of(&["voucher", "campaign"])),
                ("related_object_id", string()),
            ],
        ),
    );

    // --- Async actions and exports -----------------------------------------
    add(
        "AsyncActionAccepted",
        closed(
            "The job was accepted: follow it at `/v1/async-actions/{async_action_id}`.",
            &[("async_action_id", string())],
            &[],
        ),
    );
    add(
        "AsyncAction",
        json!({
            "type": "object",
            "description": "A bulk job and, when DONE, its result (`done_count`, `failed_count`, `failed`).",
            "required": ["id", "object", "type", "status", "created_at"],
            "properties": {
                "id": string(), "object": constant("async_action"), "type": string(),
                "status": one_of(&["ENQUEUED", "IN_PROGRESS", "DONE", "FAILED"]),
                "operation_status": string(), "result": {"type": ["object", "null"]},
                "progress": integer(), "processing_time": integer(),
                "created_at": timestamp(), "updated_at": timestamp(),
            },
        }),
    );
    add(
        "ExportInput",
        input(
            "What to export.",
            &["exported_object"],
            &[
                ("exported_object", one_of(&["voucher", "redemption"])),
                (
                    "parameters",
                    json!({"type": "object", "description": "`fields`, `order` and `filters`."}),
                ),
            ],
        ),
    );
    add(
        "Export",
        closed(
            "An export; when DONE, `result.url` downloads its CSV.",
            &[
                ("id", string()),
                ("object", constant("export")),
                ("created_at", timestamp()),
                (
                    "status",
                    one_of(&["SCHEDULED", "IN_PROGRESS", "DONE", "ERROR"]),
                ),
                ("channel", constant("API")),
                ("exported_object", one_of(&["voucher", "redemption"])),
                ("parameters", json!({"type": "object"})),
                (
                    "result",
                    nullable(closed("The download.", &[("url", string())], &[])),
                ),
                ("user_id", json!({"type": "null"})),
            ],
            &[],
        ),
    );
    s
}
